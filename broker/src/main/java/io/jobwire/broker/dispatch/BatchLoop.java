package io.jobwire.broker.dispatch;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A daemon thread that works through what it is handed, in batches: an item waits once however often it
 * is added, batches of up to {@code perBatch} are taken in the order the items came, and a batch whose
 * work throws is logged and put back, to be tried again after a short pause. The admission of
 * concurrency keys and the resolution of dependencies run on one each.
 */
final class BatchLoop<T> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BatchLoop.class);
    private static final long RETRY_PAUSE_MS = 200;

    private final String what;
    private final int perBatch;
    private final Consumer<List<T>> work;
    private final Set<T> pending = new LinkedHashSet<>();
    private final Thread thread;
    private boolean closed;

    /** @param what what the work does, for the log ("admit the jobs of concurrency keys") */
    BatchLoop(String threadName, String what, int perBatch, Consumer<List<T>> work) {
        this.what = what;
        this.perBatch = perBatch;
        this.work = work;
        this.thread = new Thread(this::run, threadName);
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Hands these items to the thread (those already waiting wait once). */
    synchronized void addAll(Collection<T> items) {
        if (pending.addAll(items)) {
            notifyAll();
        }
    }

    /**
     * Calls {@code admit} with every key {@code waitingKeys} lists (after the last key of the page before,
     * a page of {@code perPage} at a time) and returns the sum of what it returned: the maintenance passes
     * that admit every key with jobs waiting.
     */
    static int forEachWaitingPage(BiFunction<String, Integer, List<String>> waitingKeys, int perPage,
                                  Function<List<String>, Integer> admit) {
        int admitted = 0;
        String after = "";
        while (true) {
            List<String> page = waitingKeys.apply(after, perPage);
            if (page.isEmpty()) {
                return admitted;
            }
            admitted += admit.apply(page);
            after = page.get(page.size() - 1);
        }
    }

    private void run() {
        while (true) {
            List<T> batch = new ArrayList<>();
            synchronized (this) {
                while (!closed && pending.isEmpty()) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) {
                    return;
                }
                var it = pending.iterator();
                while (it.hasNext() && batch.size() < perBatch) {
                    batch.add(it.next());
                    it.remove();
                }
            }
            try {
                work.accept(batch);
            } catch (RuntimeException e) {
                log.warn("could not {} ({} at once: {}); trying again", what, batch.size(), e.getMessage());
                addAll(batch);
                try {
                    Thread.sleep(RETRY_PAUSE_MS);
                } catch (InterruptedException interrupted) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        thread.interrupt();
    }
}
