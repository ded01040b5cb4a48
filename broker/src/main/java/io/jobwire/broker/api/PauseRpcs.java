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
    private final PauseStore store;
    private final Runnable wakeDispatchers;

    /** @param wakeDispatchers tells the dispatchers of this broker and the others that jobs may be due now */
    PauseRpcs(PauseStore store, Runnable wakeDispatchers) {
        this.store = store;
        this.wakeDispatchers = wakeDispatchers;
    }

    /** A request's queue or type, checked; {@code what} names the call in the refusal of neither. */
    private record Target(PauseStore.Kind kind, String name) {
        static Target of(boolean queue, boolean type, String queueName, String typeName, String what) {
            if (!queue && !type) {
                throw InvalidArgument.of("target", "give a queue or a type to " + what);
            }
            return queue ? new Target(PauseStore.Kind.QUEUE, Names.check("queue", queueName))
                    : new Target(PauseStore.Kind.TYPE, Names.check("type", typeName));
        }
    }

    Paused pause(PauseRequest request, Principal admin) {
        Target target = Target.of(request.hasQueue(), request.hasType(), request.getQueue(), request.getType(), "pause");
        String reason = Texts.check("reason", request.getReason(), Limits.MAX_REASON);
        return toProto(store.pause(target.kind(), target.name(), reason, admin.name()));
    }

    ResumeResponse resume(ResumeRequest request) {
        Target target = Target.of(request.hasQueue(), request.hasType(), request.getQueue(), request.getType(), "resume");
        boolean wasPaused = store.resume(target.kind(), target.name()).isPresent();
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
