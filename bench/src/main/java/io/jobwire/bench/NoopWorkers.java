package io.jobwire.bench;

import io.jobwire.worker.JobContext;
import io.jobwire.worker.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/** Worker processes of the benchmark (in this JVM, over loopback gRPC), running a handler that does nothing. */
final class NoopWorkers implements AutoCloseable {
    private final List<Worker> workers = new ArrayList<>();
    private final AtomicLong handled = new AtomicLong();

    NoopWorkers(String target, String type, int count, int concurrency, Consumer<JobContext> onJob) {
        this(target, List.of(type), count, concurrency, onJob);
    }

    /** Workers that run every one of the types, sharing their slots. */
    NoopWorkers(String target, List<String> types, int count, int concurrency, Consumer<JobContext> onJob) {
        for (int i = 0; i < count; i++) {
            Worker.Builder builder = Worker.builder()
                    .target(target)
                    .workerId("bench-" + types.get(0) + "-" + i)
                    .concurrency(concurrency);
            for (String type : types) {
                builder.handle(type, job -> {
                    onJob.accept(job);
                    handled.incrementAndGet();
                    return null;
                });
            }
            workers.add(builder.start());
        }
    }

    long handled() {
        return handled.get();
    }

    /** Waits until the handlers ran {@code n} jobs; false at the timeout. */
    boolean awaitHandled(long n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (handled.get() < n) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            TimeUnit.MILLISECONDS.sleep(1);
        }
        return true;
    }

    @Override
    public void close() {
        workers.parallelStream().forEach(worker -> worker.shutdown(Duration.ofSeconds(10)));
    }
}
