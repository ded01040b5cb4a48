package io.jobwire.broker.api;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import io.grpc.Attributes;
import io.grpc.KnownLength;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A request that is not a valid protobuf message (truncated, garbled, a string field that is not UTF-8)
 * is the caller's mistake, but when gRPC fails to parse it the caller gets INTERNAL or UNKNOWN. Here the
 * transport hands over raw bytes and each method parses them itself: a request that does not parse
 * closes the call with INVALID_ARGUMENT, and the service sees a cancelled call (so a worker stream is
 * cleaned up like any other that went away).
 */
public final class StrictParsing {
    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                if (stream instanceof KnownLength) { // gRPC's own message streams: read exactly, no spare buffers
                    byte[] bytes = new byte[stream.available()];
                    if (stream.readNBytes(bytes, 0, bytes.length) == bytes.length && stream.read() == -1) {
                        return bytes;
                    }
                    throw new IOException("a message stream was not as long as it said");
                }
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    private StrictParsing() {
    }

    /** Parses straight from the array with the message's parser when it is a protobuf marshaller. */
    @SuppressWarnings("unchecked")
    private static <Q> Q parse(MethodDescriptor.Marshaller<Q> marshaller, byte[] bytes)
            throws InvalidProtocolBufferException {
        if (marshaller instanceof MethodDescriptor.PrototypeMarshaller<Q> prototyped
                && prototyped.getMessagePrototype() instanceof MessageLite prototype) {
            return (Q) prototype.getParserForType().parseFrom(bytes);
        }
        return marshaller.parse(new ByteArrayInputStream(bytes));
    }

    /**
     * The service with every method parsing its own requests. The service keeps its schema descriptor
     * (the .proto it was generated from), which server reflection serves: without it, reflection clients
     * such as grpcurl could not see the service at all.
     */
    public static ServerServiceDefinition wrap(ServerServiceDefinition service) {
        ServiceDescriptor original = service.getServiceDescriptor();
        List<ServerMethodDefinition<byte[], ?>> methods = new ArrayList<>();
        ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
                .setSchemaDescriptor(original.getSchemaDescriptor());
        for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
            ServerMethodDefinition<byte[], ?> raw = wrap(method);
            methods.add(raw);
            descriptor.addMethod(raw.getMethodDescriptor());
        }
        ServerServiceDefinition.Builder wrapped = ServerServiceDefinition.builder(descriptor.build());
        methods.forEach(wrapped::addMethod);
        return wrapped.build();
    }

    private static <Q, R> ServerMethodDefinition<byte[], R> wrap(ServerMethodDefinition<Q, R> method) {
        MethodDescriptor<Q, R> typed = method.getMethodDescriptor();
        MethodDescriptor<byte[], R> raw = typed.toBuilder(BYTES, typed.getResponseMarshaller()).build();
        return ServerMethodDefinition.create(raw, (call, headers) -> start(typed, method.getServerCallHandler(), call, headers));
    }

    private static <Q, R> ServerCall.Listener<byte[]> start(MethodDescriptor<Q, R> typed, ServerCallHandler<Q, R> handler,
                                                            ServerCall<byte[], R> call, Metadata headers) {
        ServerCall.Listener<Q> inner = handler.startCall(new TypedCall<>(call, typed), headers);
        return new ServerCall.Listener<>() {
            private boolean refused;

            @Override
            public void onMessage(byte[] bytes) {
                if (refused) {
                    return;
                }
                Q message;
                try {
                    message = parse(typed.getRequestMarshaller(), bytes);
                } catch (RuntimeException | InvalidProtocolBufferException e) {
                    refused = true;
                    call.close(Status.INVALID_ARGUMENT.withDescription("the request is not a valid "
                            + typed.getFullMethodName() + " message (invalid protobuf bytes, or a string field "
                            + "that is not UTF-8)"), new Metadata());
                    inner.onCancel();
                    return;
                }
                inner.onMessage(message);
            }

            @Override
            public void onHalfClose() {
                if (!refused) {
                    inner.onHalfClose();
                }
            }

            @Override
            public void onCancel() {
                if (!refused) {
                    inner.onCancel();
                }
            }

            @Override
            public void onComplete() {
                if (!refused) {
                    inner.onComplete();
                }
            }

            @Override
            public void onReady() {
                if (!refused) {
                    inner.onReady();
                }
            }
        };
    }

    /** The call as the service sees it: typed requests, everything else passed through. */
    private static final class TypedCall<Q, R> extends ServerCall<Q, R> {
        private final ServerCall<byte[], R> call;
        private final MethodDescriptor<Q, R> method;

        TypedCall(ServerCall<byte[], R> call, MethodDescriptor<Q, R> method) {
            this.call = call;
            this.method = method;
        }

        @Override
        public void request(int numMessages) {
            call.request(numMessages);
        }

        @Override
        public void sendHeaders(Metadata headers) {
            call.sendHeaders(headers);
        }

        @Override
        public void sendMessage(R message) {
            call.sendMessage(message);
        }

        @Override
        public boolean isReady() {
            return call.isReady();
        }

        @Override
        public void close(Status status, Metadata trailers) {
            call.close(status, trailers);
        }

        @Override
        public boolean isCancelled() {
            return call.isCancelled();
        }

        @Override
        public void setMessageCompression(boolean enabled) {
            call.setMessageCompression(enabled);
        }

        @Override
        public void setCompression(String compressor) {
            call.setCompression(compressor);
        }

        @Override
        public void setOnReadyThreshold(int numBytes) {
            call.setOnReadyThreshold(numBytes);
        }

        @Override
        public Attributes getAttributes() {
            return call.getAttributes();
        }

        @Override
        public String getAuthority() {
            return call.getAuthority();
        }

        @Override
        public SecurityLevel getSecurityLevel() {
            return call.getSecurityLevel();
        }

        @Override
        public MethodDescriptor<Q, R> getMethodDescriptor() {
            return method;
        }
    }
}
