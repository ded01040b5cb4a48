package io.jobwire.broker.api;

import io.grpc.Status;
import io.jobwire.api.v1.CallbackAttempt;
import io.jobwire.api.v1.CallbackDelivery;
import io.jobwire.api.v1.CallbackDeliveryState;
import io.jobwire.api.v1.CallbackSecret;
import io.jobwire.api.v1.GetCallbackSecretRequest;
import io.jobwire.api.v1.ListCallbacksRequest;
import io.jobwire.api.v1.ListCallbacksResponse;
import io.jobwire.api.v1.RedeliverCallbackRequest;
import io.jobwire.broker.auth.Principal;
import io.jobwire.broker.auth.Role;
import io.jobwire.broker.callbacks.CallbackDeliverer;
import io.jobwire.broker.callbacks.WebhookSignature;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.broker.store.CallbackStore;
import java.time.Duration;
import java.util.List;

/** The callback RPCs of the JobService: deliveries listed and redelivered, the owner's signing secret. */
final class CallbackRpcs {
    private static final PageTokens PAGES = new PageTokens("callbacks-before:", "ListCallbacks");

    private final CallbackStore store;
    private final CallbackDeliverer deliverer;
    private final Duration retryFor;

    CallbackRpcs(CallbackStore store, CallbackDeliverer deliverer, Duration retryFor) {
        this.store = store;
        this.deliverer = deliverer;
        this.retryFor = retryFor;
    }

    ListCallbacksResponse list(ListCallbacksRequest request) {
        Principal caller = JobServiceImpl.caller(Role.SUBMIT, "list callbacks");
        int pageSize = PageTokens.pageSize(request.getPageSize());
        String owner = JobServiceImpl.ownerFilter(caller, "owner", request.getOwner());
        Long jobId = request.getJobId().isEmpty() ? null : JobIds.parse("job_id", request.getJobId());
        List<CallbackStore.Delivery> found = store.list(owner, jobId, request.getFailing(),
                PAGES.decode(request.getPageToken()), pageSize + 1);
        ListCallbacksResponse.Builder page = ListCallbacksResponse.newBuilder();
        found.stream().limit(pageSize).forEach(delivery -> page.addDeliveries(toProto(delivery)));
        if (found.size() > pageSize) {
            page.setNextPageToken(PAGES.encode(found.get(pageSize - 1).id()));
        }
        return page.build();
    }

    CallbackDelivery redeliver(RedeliverCallbackRequest request) {
        Principal caller = JobServiceImpl.caller(Role.SUBMIT, "redeliver callbacks");
        long id = JobIds.parse("id", request.getId());
        CallbackStore.Delivery redelivered = store.redeliver(id, caller.ownerScope(), retryFor).orElseThrow(() -> {
            if (store.get(id, caller.ownerScope()).isPresent()) {
                return Status.FAILED_PRECONDITION.withDescription("callback delivery " + id + " is still pending: it is "
                        + "delivered or given up first").asRuntimeException();
            }
            return Status.NOT_FOUND.withDescription("no callback delivery has id " + id).asRuntimeException();
        });
        deliverer.wake();
        return toProto(redelivered);
    }

    CallbackSecret secret(GetCallbackSecretRequest request) {
        Principal caller = JobServiceImpl.caller(Role.SUBMIT, "read callback secrets");
        if (caller.job() != null) {
            throw Status.PERMISSION_DENIED.withDescription("a job token may not read or rotate callback secrets")
                    .asRuntimeException();
        }
        String owner = request.getOwner().isEmpty() ? caller.name() : Names.check("owner", request.getOwner());
        if (!caller.isAdmin() && !owner.equals(caller.name())) {
            throw Status.PERMISSION_DENIED.withDescription("owner: only an admin may read another owner's secret")
                    .asRuntimeException();
        }
        CallbackStore.Secret secret = store.secret(owner, WebhookSignature.newSecret(), request.getRotate());
        CallbackSecret.Builder proto = CallbackSecret.newBuilder().setOwner(secret.owner()).setSecret(secret.secret());
        if (secret.previousUntil() != null) {
            proto.setPreviousValidUntil(ProtoJobs.timestamp(secret.previousUntil()));
        }
        return proto.build();
    }

    /** The deliveries of one job, for Get. */
    List<CallbackDelivery> ofJob(long jobId) {
        return store.ofJobs(List.of(jobId)).getOrDefault(jobId, List.of()).stream().map(CallbackRpcs::toProto).toList();
    }

    static CallbackDelivery toProto(CallbackStore.Delivery delivery) {
        CallbackDelivery.Builder proto = CallbackDelivery.newBuilder()
                .setId(Long.toString(delivery.id()))
                .setJobId(Long.toString(delivery.jobId()))
                .setOwner(delivery.owner())
                .setUrl(delivery.url())
                .setEvent(delivery.event())
                .setWebhookId("msg_" + delivery.id())
                .setState(switch (delivery.state()) {
                    case "pending" -> CallbackDeliveryState.CALLBACK_DELIVERY_STATE_PENDING;
                    case "delivered" -> CallbackDeliveryState.CALLBACK_DELIVERY_STATE_DELIVERED;
                    default -> CallbackDeliveryState.CALLBACK_DELIVERY_STATE_FAILED;
                })
                .setCreatedAt(ProtoJobs.timestamp(delivery.createdAt()));
        if (delivery.state().equals("pending")) {
            proto.setNextAttemptAt(ProtoJobs.timestamp(delivery.nextAttemptAt()));
        }
        if (delivery.finishedAt() != null) {
            proto.setFinishedAt(ProtoJobs.timestamp(delivery.finishedAt()));
        }
        for (CallbackStore.Attempt attempt : delivery.attemptList()) {
            CallbackAttempt.Builder a = CallbackAttempt.newBuilder()
                    .setAttempt(attempt.attempt())
                    .setAt(ProtoJobs.timestamp(attempt.at()))
                    .setTook(ProtoJobs.duration(Duration.ofMillis(attempt.tookMs())));
            if (attempt.httpStatus() != null) {
                a.setHttpStatus(attempt.httpStatus());
            }
            if (attempt.response() != null) {
                a.setResponse(attempt.response());
            }
            if (attempt.error() != null) {
                a.setError(attempt.error());
            }
            proto.addAttempts(a);
        }
        return proto.build();
    }
}
