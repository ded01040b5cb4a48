package io.jobwire.client;

import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import io.jobwire.api.v1.WatchEvent;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A Watch stream read as a blocking iterator. The broker sends the next event only as you read (gRPC
 * flow control), so nothing piles up in memory. Close it to stop watching early.
 *
 * <pre>{@code
 * try (JobWatch watch = client.watch(WatchRequest.newBuilder().addIds(id).build())) {
 *     while (watch.hasNext()) {
 *         WatchEvent event = watch.next();
 *         if (event.hasJob()) System.out.println(event.getJob().getState());
 *     }
 * }
 * }</pre>
 */
public final class JobWatch implements Iterator<WatchEvent>, AutoCloseable {
    private final Context.CancellableContext context;
    private final Iterator<WatchEvent> events;

    JobWatch(Context.CancellableContext context, Iterator<WatchEvent> events) {
        this.context = context;
        this.events = events;
    }

    /** Blocks until the next event arrives or the watch ends. */
    @Override
    public boolean hasNext() {
        try {
            return events.hasNext();
        } catch (StatusRuntimeException e) {
            throw JobwireException.from(e);
        }
    }

    @Override
    public WatchEvent next() {
        if (!hasNext()) {
            throw new NoSuchElementException("the watch has ended");
        }
        try {
            return events.next();
        } catch (StatusRuntimeException e) {
            throw JobwireException.from(e);
        }
    }

    @Override
    public void close() {
        context.cancel(null);
    }
}
