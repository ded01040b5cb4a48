package io.jobwire.broker.store;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;

/**
 * Gathers concurrent requests of one kind and applies them together: one statement, one commit, then
 * each caller gets its own slice of the answer. Nothing waits for a batch to fill: a request starts a
 * flush at once when fewer than {@code maxInFlight} flushes are running; requests that arrive while
 * flushes run are taken together by the next one. So a lone request costs one commit, and under load
 * the batch grows with the time a commit takes.
 *
 * <p>If a gathered batch fails for a reason that is not shared by all (anything but the database being
 * unreachable), each request is applied again on its own, so one bad request cannot fail the others.
 */
public final class GroupCommit<I, O> implements AutoCloseable {
    private record Request<I, O>(List<I> items, CompletableFuture<List<O>> answer, long weight) {
    }

    /** The broker is stopping and takes no more writes. */
    public static final class ClosedException extends RuntimeException {
        ClosedException(String message) {
            super(message);
        }
    }

    /**
     * Refused because the requests already waiting weigh more than the bound: the database is behind. The
     * caller is told to retry later rather than the broker holding every request of a burst in memory.
     */
    public static final class BackloggedException extends RuntimeException {
        BackloggedException(String message) {
            super(message);
        }
    }

    /**
     * How much may wait for the next flush: each item's weight (a submit: its payload's size), and the
     * most all waiting items may weigh together. A request that finds nothing waiting is always taken.
     */
    public record Bound<I>(ToLongFunction<I> weight, long maxWaiting) {
        /** Counts items: at most {@code maxItems} waiting. */
        public static <I> Bound<I> items(long maxItems) {
            return new Bound<>(item -> 1, maxItems);
        }

        /** No bound here: for requests whose callers are bounded already (say so where it is used). */
        public static <I> Bound<I> none() {
            return new Bound<>(item -> 0, Long.MAX_VALUE);
        }
    }

    private final String name;
    private final Function<List<I>, List<O>> apply;
    private final Predicate<Throwable> sharedFailure;
    private final int maxItems;
    private final int maxInFlight;
    private final Executor executor;
    private final ArrayDeque<Request<I, O>> pending = new ArrayDeque<>();
    private final Bound<I> bound;
    /** The weight of the items in {@link #pending} (guarded by this). */
    private long waiting;
    private volatile Observer observer = (name, items, nanos) -> { };
    private final LongAdder batches = new LongAdder();
    private final LongAdder items = new LongAdder();
    private int inFlight;
    private boolean closed;

    /**
     * @param apply         applies a batch in one transaction; returns one answer per item, in order
     * @param sharedFailure true for an error every request of the batch would have met alone
     * @param maxItems      the most items in one batch (a larger single request still goes alone)
     * @param maxInFlight   the most batches applied at once
     * @param executor      runs the flushes; needs up to {@code maxInFlight} threads
     * @param bound         how much may wait for a flush before requests are refused
     */
    public GroupCommit(String name, Function<List<I>, List<O>> apply, Predicate<Throwable> sharedFailure,
                       int maxItems, int maxInFlight, Executor executor, Bound<I> bound) {
        if (maxItems < 1 || maxInFlight < 1) {
            throw new IllegalArgumentException("maxItems and maxInFlight must be positive");
        }
        this.name = name;
        this.apply = apply;
        this.sharedFailure = sharedFailure;
        this.maxItems = maxItems;
        this.maxInFlight = maxInFlight;
        this.executor = executor;
        this.bound = bound;
    }

    /** Queues the items; the future completes after their batch committed (or failed). */
    public CompletableFuture<List<O>> submit(List<I> requestItems) {
        CompletableFuture<List<O>> answer = new CompletableFuture<>();
        if (requestItems.isEmpty()) {
            answer.complete(List.of());
            return answer;
        }
        boolean startFlush;
        synchronized (this) {
            if (closed) {
                answer.completeExceptionally(new ClosedException(name + " is closed: the broker is stopping"));
                return answer;
            }
            long weight = 0;
            for (I item : requestItems) {
                weight += bound.weight().applyAsLong(item);
            }
            if (!pending.isEmpty() && waiting + weight > bound.maxWaiting()) {
                answer.completeExceptionally(new BackloggedException(name + ": " + pending.size()
                        + " requests are waiting for the database; retry with backoff"));
                return answer;
            }
            waiting += weight;
            pending.add(new Request<>(List.copyOf(requestItems), answer, weight));
            startFlush = inFlight < maxInFlight;
            if (startFlush) {
                inFlight++;
            }
        }
        if (startFlush) {
            try {
                executor.execute(this::flushWhilePending);
            } catch (RejectedExecutionException e) {
                flushWhilePending();
            }
        }
        return answer;
    }

    /** Applies the items now and waits for the answer: for callers that must block anyway. */
    public List<O> apply(List<I> requestItems) {
        try {
            return submit(requestItems).join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw e;
        }
    }

    private void flushWhilePending() {
        while (true) {
            List<Request<I, O>> batch = new ArrayList<>();
            synchronized (this) {
                int count = 0;
                while (!pending.isEmpty()
                        && (batch.isEmpty() || count + pending.peek().items().size() <= maxItems)) {
                    Request<I, O> next = pending.poll();
                    waiting -= next.weight();
                    batch.add(next);
                    count += next.items().size();
                }
                if (batch.isEmpty()) {
                    inFlight--;
                    notifyAll();
                    return;
                }
            }
            run(batch);
        }
    }

    /** Told of each batch applied: for metrics. */
    @FunctionalInterface
    public interface Observer {
        void flushed(String name, int items, long nanos);
    }

    /** Tells {@code watcher} of every batch applied from now on (one at a time; must not block). */
    public void observe(Observer watcher) {
        this.observer = watcher;
    }

    private void run(List<Request<I, O>> batch) {
        List<I> all = new ArrayList<>();
        batch.forEach(request -> all.addAll(request.items()));
        List<O> results;
        long started = System.nanoTime();
        try {
            results = apply.apply(all);
            if (results.size() != all.size()) {
                throw new IllegalStateException(name + ": " + results.size() + " answers for " + all.size() + " items");
            }
        } catch (RuntimeException | Error e) {
            if (batch.size() > 1 && !sharedFailure.test(e)) {
                batch.forEach(request -> run(List.of(request)));
            } else {
                batch.forEach(request -> request.answer().completeExceptionally(e));
            }
            return;
        }
        batches.increment();
        items.add(all.size());
        observer.flushed(name, all.size(), System.nanoTime() - started);
        int from = 0;
        for (Request<I, O> request : batch) {
            int to = from + request.items().size();
            request.answer().complete(results.subList(from, to));
            from = to;
        }
    }

    /** Batches applied so far. */
    public long batches() {
        return batches.sum();
    }

    /** Items applied so far. */
    public long items() {
        return items.sum();
    }

    /** Refuses new requests and waits (up to the timeout) for the queued ones to be applied. */
    public void close(long timeout, TimeUnit unit) {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        synchronized (this) {
            closed = true;
            while (inFlight > 0 || !pending.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
    }

    @Override
    public void close() {
        close(30, TimeUnit.SECONDS);
    }
}
