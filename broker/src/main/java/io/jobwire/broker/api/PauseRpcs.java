package io.jobwire.broker.api;

import io.jobwire.api.v1.ListPausedResponse;
import io.jobwire.api.v1.PauseRequest;
import io.jobwire.api.v1.Paused;
import io.jobwire.api.v1.ResumeRequest;
import io.jobwire.api.v1.ResumeResponse;
import io.jobwire.broker.auth.Principal;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.broker.store.PauseStore;

/**
 * Pausing queues and job types. The pause is a row the claim statement reads, so it holds on every
 * broker from its commit on; a resume wakes every broker's dispatcher so the jobs start at once.
 */
final class PauseRpcs {
    static final int MAX_REASON = 1024;

    private final PauseStore store;
    private final Runnable wakeDispatchers;

    /** @param wakeDispatchers tells the dispatchers of this broker and the others that jobs may be due now */
    PauseRpcs(PauseStore store, Runnable wakeDispatchers) {
        this.store = store;
        this.wakeDispatchers = wakeDispatchers;
    }

    Paused pause(PauseRequest request, Principal admin) {
        PauseStore.Kind kind = switch (request.getTargetCase()) {
            case QUEUE -> PauseStore.Kind.QUEUE;
            case TYPE -> PauseStore.Kind.TYPE;
            case TARGET_NOT_SET -> throw InvalidArgument.of("target", "give a queue or a type to pause");
        };
        String name = Names.check(kind == PauseStore.Kind.QUEUE ? "queue" : "type",
                kind == PauseStore.Kind.QUEUE ? request.getQueue() : request.getType());
        String reason = Texts.check("reason", request.getReason(), MAX_REASON);
        return toProto(store.pause(kind, name, reason, admin.name()));
    }

    ResumeResponse resume(ResumeRequest request) {
        PauseStore.Kind kind = switch (request.getTargetCase()) {
            case QUEUE -> PauseStore.Kind.QUEUE;
            case TYPE -> PauseStore.Kind.TYPE;
            case TARGET_NOT_SET -> throw InvalidArgument.of("target", "give a queue or a type to resume");
        };
        String name = Names.check(kind == PauseStore.Kind.QUEUE ? "queue" : "type",
                kind == PauseStore.Kind.QUEUE ? request.getQueue() : request.getType());
        boolean wasPaused = store.resume(kind, name).isPresent();
        if (wasPaused) {
            wakeDispatchers.run();
        }
        return ResumeResponse.newBuilder().setWasPaused(wasPaused).build();
    }

    ListPausedResponse list() {
        ListPausedResponse.Builder response = ListPausedResponse.newBuilder();
        store.list().forEach(row -> response.addPaused(toProto(row)));
        return response.build();
    }

    static Paused toProto(PauseStore.Row row) {
        Paused.Builder paused = Paused.newBuilder()
                .setReason(row.reason())
                .setPausedBy(row.pausedBy())
                .setPausedAt(ProtoJobs.timestamp(row.pausedAt()));
        return switch (row.kind()) {
            case QUEUE -> paused.setQueue(row.name()).build();
            case TYPE -> paused.setType(row.name()).build();
        };
    }
}
