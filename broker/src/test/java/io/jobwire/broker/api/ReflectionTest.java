package io.jobwire.broker.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.MethodDescriptorProto;
import com.google.protobuf.DescriptorProtos.ServiceDescriptorProto;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.stub.StreamObserver;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.jobwire.broker.auth.Role;
import io.jobwire.broker.auth.TokenStore;
import io.jobwire.broker.testing.BrokerFixture;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Server reflection, v1 and v1alpha (what grpcurl and most tools ask for), lists and describes the
 * broker's own services with their real descriptors, without a token even when tokens are required.
 */
class ReflectionTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass(config -> config.tokens(
                TokenStore.line(TokenStore.newToken(), "ops", List.of(Role.ADMIN), List.of())));

    @Test
    void reflectionV1ListsAndDescribesBothServices() throws Exception {
        ServerReflectionResponse listed = askV1(ServerReflectionRequest.newBuilder().setListServices("").build());
        assertThat(listed.getListServicesResponse().getServiceList()).extracting(ServiceResponse::getName)
                .contains("jobwire.v1.JobService", "jobwire.v1.WorkerService", "grpc.health.v1.Health");

        assertThat(methodsOf("jobwire.v1.JobService", askV1(symbol("jobwire.v1.JobService"))
                .getFileDescriptorResponse().getFileDescriptorProtoList()))
                .contains("Submit", "SubmitBatch", "Get", "List", "Cancel", "Watch", "Stats", "ListJobTypes");
        assertThat(methodsOf("jobwire.v1.WorkerService", askV1(symbol("jobwire.v1.WorkerService"))
                .getFileDescriptorResponse().getFileDescriptorProtoList()))
                .containsExactly("Connect");
    }

    @Test
    void reflectionV1AlphaListsAndDescribesBothServices() throws Exception {
        var listed = askV1Alpha(io.grpc.reflection.v1alpha.ServerReflectionRequest.newBuilder().setListServices("").build());
        assertThat(listed.getListServicesResponse().getServiceList())
                .extracting(io.grpc.reflection.v1alpha.ServiceResponse::getName)
                .contains("jobwire.v1.JobService", "jobwire.v1.WorkerService");
        var described = askV1Alpha(io.grpc.reflection.v1alpha.ServerReflectionRequest.newBuilder()
                .setFileContainingSymbol("jobwire.v1.WorkerService").build());
        assertThat(methodsOf("jobwire.v1.WorkerService", described.getFileDescriptorResponse().getFileDescriptorProtoList()))
                .containsExactly("Connect");
    }

    private static ServerReflectionRequest symbol(String name) {
        return ServerReflectionRequest.newBuilder().setFileContainingSymbol(name).build();
    }

    /** The methods of {@code service} in the returned files (the first is the file defining the symbol). */
    private static List<String> methodsOf(String service, List<com.google.protobuf.ByteString> files)
            throws InvalidProtocolBufferException {
        List<String> methods = new ArrayList<>();
        for (var bytes : files) {
            FileDescriptorProto file = FileDescriptorProto.parseFrom(bytes);
            for (ServiceDescriptorProto candidate : file.getServiceList()) {
                if ((file.getPackage() + "." + candidate.getName()).equals(service)) {
                    candidate.getMethodList().stream().map(MethodDescriptorProto::getName).forEach(methods::add);
                }
            }
        }
        return methods;
    }

    private static ServerReflectionResponse askV1(ServerReflectionRequest request) throws Exception {
        CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
        StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(fixture.channel())
                .serverReflectionInfo(observer(answer));
        requests.onNext(request);
        requests.onCompleted();
        return answer.get(30, TimeUnit.SECONDS);
    }

    private static io.grpc.reflection.v1alpha.ServerReflectionResponse askV1Alpha(
            io.grpc.reflection.v1alpha.ServerReflectionRequest request) throws Exception {
        CompletableFuture<io.grpc.reflection.v1alpha.ServerReflectionResponse> answer = new CompletableFuture<>();
        var requests = io.grpc.reflection.v1alpha.ServerReflectionGrpc.newStub(fixture.channel())
                .serverReflectionInfo(observer(answer));
        requests.onNext(request);
        requests.onCompleted();
        return answer.get(30, TimeUnit.SECONDS);
    }

    private static <T> StreamObserver<T> observer(CompletableFuture<T> answer) {
        return new StreamObserver<>() {
            @Override
            public void onNext(T value) {
                answer.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                answer.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                answer.completeExceptionally(new AssertionError("no answer"));
            }
        };
    }
}
