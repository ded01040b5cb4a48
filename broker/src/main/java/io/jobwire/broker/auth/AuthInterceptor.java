package io.jobwire.broker.auth;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Authenticates every call by its {@code authorization: Bearer <token>} header and leaves the
 * {@link Principal} in the call's context. Health checks and server reflection stay open, so load
 * balancers and tools work without a token. Job tokens ({@link JobTokens}) are checked against the
 * database, and accepted also by a broker that runs open, so that jobs submitted with one record their
 * parent there too.
 */
public final class AuthInterceptor implements ServerInterceptor {
    private static final Logger log = LoggerFactory.getLogger(AuthInterceptor.class);
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final Set<String> OPEN_SERVICES = Set.of("grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection");

    private final TokenStore tokens;
    private final JobTokens jobTokens;

    /**
     * @param tokens    the broker's tokens; none: the broker runs open (loopback only) and a call without a
     *                  job token acts as {@link Principal#OPEN}
     * @param jobTokens checks the job tokens of running attempts, accepted in both modes
     */
    public AuthInterceptor(TokenStore tokens, JobTokens jobTokens) {
        this.tokens = tokens;
        this.jobTokens = jobTokens;
    }

    /** The bearer token of a call's headers, or null. */
    public static String bearer(Metadata headers) {
        String header = headers.get(AUTHORIZATION);
        return header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) ? null : header.substring(7).strip();
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        if (OPEN_SERVICES.contains(call.getMethodDescriptor().getServiceName())) {
            return next.startCall(call, headers);
        }
        String token = bearer(headers);
        Optional<Principal> principal;
        if (token != null && JobTokens.isJobToken(token)) {
            try {
                principal = jobTokens.authenticate(token);
            } catch (RuntimeException e) {
                log.warn("could not check a job token: {}", e.toString());
                call.close(Status.UNAVAILABLE.withDescription("the database could not be reached to check the job "
                        + "token; try again"), new Metadata());
                return new ServerCall.Listener<>() { };
            }
            if (principal.isEmpty()) {
                return refuse(call, "the job token is not valid: it works only while its job's attempt runs");
            }
        } else if (tokens.isEmpty()) {
            return next.startCall(call, headers); // open: every caller is Principal.OPEN
        } else if (token == null) {
            return refuse(call, "send a bearer token: metadata 'authorization: Bearer <token>'");
        } else {
            principal = tokens.authenticate(token);
            if (principal.isEmpty()) {
                return refuse(call, "the bearer token is not valid");
            }
        }
        Context context = Context.current().withValue(Principal.CURRENT, principal.get());
        return Contexts.interceptCall(context, call, headers, next);
    }

    private static <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, String why) {
        call.close(Status.UNAUTHENTICATED.withDescription(why), new Metadata());
        return new ServerCall.Listener<>() { };
    }
}
