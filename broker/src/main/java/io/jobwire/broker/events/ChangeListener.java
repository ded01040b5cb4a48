package io.jobwire.broker.events;

import io.jobwire.broker.store.JobChange;
import java.util.List;

/** Something that reacts to committed job changes. Must return quickly: it runs on the publisher's thread. */
public interface ChangeListener {
    void onChanges(List<JobChange> changes);

    /**
     * Notifications may have been missed (the listening connection was lost and is back): re-read
     * whatever depends on them.
     */
    default void onResync() {
    }

    /**
     * Another broker committed queued jobs that no lease holds (new, released or retried): they are due
     * now, if {@code now}, and at each of {@code later}. Only the dispatcher needs this; the jobs
     * themselves come as changes only while this broker has watchers.
     */
    default void onDue(boolean now, List<java.time.Instant> later) {
    }
}
