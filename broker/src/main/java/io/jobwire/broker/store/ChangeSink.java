package io.jobwire.broker.store;

import java.util.List;

/** Receives every job change the store commits, after the commit. */
@FunctionalInterface
public interface ChangeSink {
    void publish(List<JobChange> changes);

    ChangeSink NONE = changes -> { };
}
