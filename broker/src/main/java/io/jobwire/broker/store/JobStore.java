package io.jobwire.broker.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jobwire.broker.store.WorkerWrites.Completion;
import io.jobwire.broker.store.WorkerWrites.Failure;
import io.jobwire.broker.store.WorkerWrites.ProgressReport;
import io.jobwire.broker.store.WorkerWrites.Release;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BiConsumer;
import java.util.function.DoubleSupplier;
import java.util.function.Function;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.HandleCallback;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.Query;
import org.jdbi.v3.core.statement.StatementContext;

/**
 * Every write to jobs and their attempts. Each method takes and returns a batch and runs it as one
 * statement and one commit, so callers can gather concurrent requests and pay for one commit. Worker
 * writes are fenced: the UPDATE itself checks (attempt, lease token, RUNNING, lease not expired), so a
 * stale worker changes nothing. Committed changes go to the {@link ChangeSink} after the commit: the
 * broker's own listeners, and the announcer that tells other brokers.
 *
 * <p>No method holds a connection beyond its own transaction.
 */
public final class JobStore {
    /**
     * The insert's variants, each without the lines a batch does not need: index bit 0 set for a batch
     * with an idempotency key (lines @keyed), bit 1 for one with dependents (@deps), bit 2 for one with
     * jobs of a fair type (@fair; else the lines @unfair).
     */
    private static final String[] INSERTS = new String[8];

    static {
        String all = Sql.load(JobStore.class, "insert_jobs");
        for (int variant = 0; variant < INSERTS.length; variant++) {
            String sql = (variant & 1) == 0 ? Sql.without(all, "keyed") : all;
            sql = (variant & 2) == 0 ? Sql.without(sql, "deps") : sql;
            INSERTS[variant] = Sql.without(sql, (variant & 4) == 0 ? "fair" : "unfair");
        }
    }

    private static final String CLAIM = Sql.load(JobStore.class, "claim_jobs");
    /** The claim that follows an insert in the same statement text: its parameters renamed apart. */
    private static final String CLAIM_AFTER_INSERT_PREFIX = "claim_";
    private static final String CLAIM_AFTER_INSERT = Sql.withParametersPrefixed(CLAIM, CLAIM_AFTER_INSERT_PREFIX);

    private final Transactions transactions;
    private final ObjectMapper json;
    private final FairClock fairClock;
    private final JobRowMapper jobs;
    private final ChangeSink sink;
    private final RetryDefaults retryDefaults;
    private final DoubleSupplier jitter;

    /**
     * @param jdbi   the general pool
     * @param keyed  the pool for the hot statements ({@link io.jobwire.broker.db.Database#keyedJdbi})
     * @param jitter supplies the backoff factor for each retry, in [0.5, 1.0]; tests pass a constant
     */
    public JobStore(Jdbi jdbi, Jdbi keyed, ObjectMapper json, ChangeSink sink,
                    RetryDefaults retryDefaults, DoubleSupplier jitter) {
        this.transactions = new Transactions(jdbi, keyed);
        this.json = json;
        this.jobs = new JobRowMapper(json);
        this.sink = sink;
        this.retryDefaults = retryDefaults;
        this.jitter = jitter;
        this.fairClock = new FairClock(jdbi);
    }

    /** Where the claims of each fair type are, as this broker knows it (published by a maintenance pass). */
    public FairClock fairClock() {
        return fairClock;
    }

    // ---------------------------------------------------------------- submit

    /**
     * Inserts the jobs, in order, in one statement. A job whose (owner, idempotency key) already exists,
     * in the table or earlier in this batch, is not inserted: the existing job is returned instead.
     */
    public List<SubmitOutcome> insert(List<NewJob> batch) {
        if (batch.isEmpty()) {
            return List.of();
        }
        return insertAndClaim(batch, null).outcomes();
    }

    /** What {@link #insertAndClaim} did: an outcome per job submitted, and the jobs claimed. */
    public record Submitted(List<SubmitOutcome> outcomes, List<JobRecord> claimed) {
    }

    /**
     * Inserts the jobs like {@link #insert}, then claims like {@link #claim} (when {@code request} is not
     * null), in one round trip and one commit: the two statements run in one implicit transaction, so
     * both or neither happen. The claim is the ordinary one, run after the insert: it takes the
     * stream's due jobs in their order, new or not, so a job submitted behind a backlog still waits
     * its turn. It saves a job that a worker is ready for a second commit and a second round trip.
     */
    public Submitted insertAndClaim(List<NewJob> batch, ClaimRequest request) {
        boolean claiming = request != null && !request.asksForNothing();
        Submitted submitted = transactions.keyed(false, handle -> insertOn(handle, batch, claiming ? request : null));
        List<JobChange> changes = createdChanges(submitted.outcomes());
        submitted.claimed().forEach(job -> changes.add(job.change().fromHolder()));
        sink.publish(changes);
        return submitted;
    }

    /** What one submit under quotas came to: its jobs, or the quota limit that refused it whole. */
    public record QuotaSubmit(List<SubmitOutcome> outcomes, QuotaExceededException refused) {
    }

    /**
     * Submits under quotas, gathered from many callers, in one transaction and one commit: the quotas'
     * rows are locked (so the submits of one owner, on every broker, take turns a transaction at a
     * time), what is used of them read, then each submit in order is taken whole if its jobs fit every
     * limit that covers them, or refused whole; the ones taken are inserted in one statement and counted.
     * A job its idempotency key will answer with an existing job uses nothing.
     */
    public List<QuotaSubmit> insertUnderQuotas(List<List<NewJob>> submits, List<QuotaStore.Quota> quotas) {
        List<QuotaSubmit> answers = new ArrayList<>();
        List<SubmitOutcome> created = new ArrayList<>();
        transactions.keyed(true, handle -> {
            answers.clear();
            created.clear();
            QuotaStore.Ledger ledger = QuotaStore.open(handle, quotas);
            List<NewJob> keyed = submits.stream().flatMap(List::stream).filter(job -> job.idempotencyKey() != null)
                    .toList();
            java.util.Set<String> counted = new java.util.HashSet<>(keyed.isEmpty() ? java.util.Set.of()
                    : findByKeys(handle, keyed).keySet());
            List<NewJob> taken = new ArrayList<>();
            List<Integer> takenFrom = new ArrayList<>();
            for (int i = 0; i < submits.size(); i++) {
                List<NewJob> jobs = new ArrayList<>();
                java.util.Set<String> keys = new java.util.HashSet<>();
                for (NewJob job : submits.get(i)) {
                    // a key met before (stored, or taken earlier in this transaction) makes no new job
                    if (job.idempotencyKey() == null) {
                        jobs.add(job);
                    } else {
                        String key = keyOf(job.owner(), job.idempotencyKey());
                        if (!counted.contains(key) && keys.add(key)) {
                            jobs.add(job);
                        }
                    }
                }
                QuotaExceededException refused = ledger.take(jobs);
                answers.add(new QuotaSubmit(null, refused));
                if (refused == null) {
                    counted.addAll(keys);
                    taken.addAll(submits.get(i));
                    submits.get(i).forEach(job -> takenFrom.add(answers.size() - 1));
                }
            }
            if (!taken.isEmpty()) {
                List<SubmitOutcome> outcomes = insertOn(handle, taken, null).outcomes();
                List<List<SubmitOutcome>> each = new ArrayList<>();
                answers.forEach(answer -> each.add(new ArrayList<>()));
                for (int j = 0; j < outcomes.size(); j++) {
                    each.get(takenFrom.get(j)).add(outcomes.get(j));
                    if (outcomes.get(j).created()) {
                        created.add(outcomes.get(j));
                    }
                }
                for (int i = 0; i < answers.size(); i++) {
                    if (answers.get(i).refused() == null) {
                        answers.set(i, new QuotaSubmit(List.copyOf(each.get(i)), null));
                    }
                }
                ledger.charge();
            }
            return null;
        });
        sink.publish(createdChanges(created));
        return List.copyOf(answers);
    }

    /** The insert (and the claim after it, when {@code claim} is not null) on the handle given. */
    private Submitted insertOn(Handle handle, List<NewJob> batch, ClaimRequest claim) {
        boolean claiming = claim != null;
        SubmitOutcome[] results = new SubmitOutcome[batch.size()];
        List<Integer> duplicates = new ArrayList<>();
        List<JobRecord> claimed = insertQuery(handle, batch, claim).execute((statement, ctx) -> {
            PreparedStatement executed = statement.get();
            try (ResultSet inserted = executed.getResultSet()) {
                while (inserted.next()) {
                    int index = inserted.getInt("input_ord") - 1;
                    inserted.getLong("id");
                    if (inserted.wasNull()) {
                        duplicates.add(index);
                    } else {
                        results[index] = new SubmitOutcome(jobs.map(inserted, ctx), true);
                    }
                }
            }
            if (!claiming) {
                return List.of();
            }
            if (!executed.getMoreResults()) {
                throw new IllegalStateException("the claim after the insert returned no rows");
            }
            List<JobRecord> rows = new ArrayList<>();
            try (ResultSet claimedRows = executed.getResultSet()) {
                while (claimedRows.next()) {
                    rows.add(claimedRow(claimedRows, ctx));
                }
            }
            return rows;
        });
        if (!duplicates.isEmpty()) {
            Map<String, JobRecord> existing = findByKeys(handle, duplicates.stream().map(batch::get).toList());
            for (int index : duplicates) {
                NewJob job = batch.get(index);
                JobRecord found = existing.get(keyOf(job.owner(), job.idempotencyKey()));
                if (found == null) {
                    throw new IllegalStateException("idempotency conflict without a job for key "
                            + job.idempotencyKey());
                }
                results[index] = new SubmitOutcome(found, false);
            }
        }
        return new Submitted(List.of(results), claimed);
    }

    /** The insert, and when {@code claim} is not null the claim after it, as one statement text. */
    private Query insertQuery(Handle handle, List<NewJob> batch, ClaimRequest claim) {
        int n = batch.size();
        String[] types = new String[n];
        String[] queues = new String[n];
        String[] payloads = new String[n];
        Integer[] priorities = new Integer[n];
        String[] runAts = new String[n];
        Long[] delays = new Long[n];
        String[] keys = new String[n];
        Integer[] maxAttempts = new Integer[n];
        Long[] leaseMs = new Long[n];
        String[] labels = new String[n];
        Long[] retryInitial = new Long[n];
        Long[] retryMax = new Long[n];
        String[] owners = new String[n];
        Long[] parents = new Long[n];
        String[] callbackUrls = new String[n];
        Boolean[] callbackAll = new Boolean[n];
        String[] traceParents = new String[n];
        String[] traceStates = new String[n];
        Long[] runTimeouts = new Long[n];
        String[] concurrencyKeys = new String[n];
        Integer[] concurrencyLimits = new Integer[n];
        String[] concurrencyStrategies = new String[n];
        String[] rateKeys = new String[n];
        String[] dependsOn = new String[n];
        String[] onDependencyFailure = new String[n];
        Long[] fairSteps = new Long[n];
        Long[] fairClocks = new Long[n];
        boolean anyDependency = false;
        boolean anyKey = false;
        boolean anyFair = false;
        for (int i = 0; i < n; i++) {
            NewJob job = batch.get(i);
            types[i] = job.type();
            queues[i] = job.queue();
            payloads[i] = job.payloadJson();
            priorities[i] = job.priority();
            runAts[i] = job.runAt() == null ? null : job.runAt().toString();
            delays[i] = job.delayMs();
            keys[i] = job.idempotencyKey();
            anyKey |= keys[i] != null;
            maxAttempts[i] = job.maxAttempts();
            leaseMs[i] = job.leaseDurationMs();
            labels[i] = toJson(job.labels());
            retryInitial[i] = job.retryInitialMs();
            retryMax[i] = job.retryMaxMs();
            owners[i] = job.owner();
            parents[i] = job.parentId();
            callbackUrls[i] = job.callbackUrl();
            callbackAll[i] = job.callbackAll();
            traceParents[i] = job.traceParent();
            traceStates[i] = job.traceState();
            runTimeouts[i] = job.runTimeoutMs();
            concurrencyKeys[i] = job.concurrencyKey();
            concurrencyLimits[i] = job.concurrencyLimit();
            concurrencyStrategies[i] = job.concurrencyStrategy();
            rateKeys[i] = job.rateKey();
            fairSteps[i] = job.fairStep();
            if (fairSteps[i] != null) {
                anyFair = true;
                fairClocks[i] = fairClock.furthest(job.type());
            }
            if (job.dependsOn() != null) {
                anyDependency = true;
                dependsOn[i] = job.dependsOn().stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(","));
                onDependencyFailure[i] = job.onDependencyFailure();
            }
        }
        String insert = INSERTS[(anyKey ? 1 : 0) | (anyDependency ? 2 : 0) | (anyFair ? 4 : 0)];
        Query query = handle.createQuery(claim == null ? insert : insert + ";\n" + CLAIM_AFTER_INSERT);
        if (claim != null) {
            bindClaim(query, claim, CLAIM_AFTER_INSERT_PREFIX);
        }
        return query
                .bind("types", types)
                .bind("queues", queues)
                .bind("payloads", payloads)
                .bind("priorities", priorities)
                .bind("runAts", runAts)
                .bind("delays", delays)
                .bind("keys", keys)
                .bind("maxAttempts", maxAttempts)
                .bind("leaseMs", leaseMs)
                .bind("labels", labels)
                .bind("retryInitialMs", retryInitial)
                .bind("retryMaxMs", retryMax)
                .bind("owners", owners)
                .bind("parents", parents)
                .bind("traceParents", traceParents)
                .bind("traceStates", traceStates)
                .bind("runTimeoutMs", runTimeouts)
                .bind("concurrencyKeys", concurrencyKeys)
                .bind("concurrencyLimits", concurrencyLimits)
                .bind("concurrencyStrategies", concurrencyStrategies)
                .bind("rateKeys", rateKeys)
                .bind("dependsOn", dependsOn)
                .bind("onDependencyFailure", onDependencyFailure)
                .bind("fairSteps", fairSteps)
                .bind("fairClocks", fairClocks)
                .bind("callbackUrls", callbackUrls)
                .bind("callbackAll", callbackAll);
    }

    private Map<String, JobRecord> findByKeys(Handle handle, List<NewJob> duplicates) {
        String[] owners = duplicates.stream().map(NewJob::owner).toArray(String[]::new);
        String[] keys = duplicates.stream().map(NewJob::idempotencyKey).toArray(String[]::new);
        Map<String, JobRecord> found = new HashMap<>();
        handle.createQuery(Sql.load(JobStore.class, "find_by_idempotency_keys"))
                .bind("owners", owners)
                .bind("keys", keys)
                .map(jobs)
                .forEach(job -> found.put(keyOf(job.owner(), job.idempotencyKey()), job));
        return found;
    }

    private static String keyOf(String owner, String key) {
        return owner + '\u0000' + key;
    }

    private static List<JobChange> createdChanges(List<SubmitOutcome> outcomes) {
        List<JobChange> changes = new ArrayList<>(outcomes.size());
        for (SubmitOutcome outcome : outcomes) {
            if (outcome.created()) {
                changes.add(outcome.job().change());
            }
        }
        return changes;
    }

    // ---------------------------------------------------------------- claim

    /** Claims up to {@code request.limit()} due jobs; never more. */
    public List<JobRecord> claim(ClaimRequest request) {
        if (request.asksForNothing()) {
            return List.of();
        }
        List<JobRecord> claimed = transactions.keyed(false, handle -> bindClaim(handle.createQuery(CLAIM), request, "")
                .map(this::claimedRow)
                .list());
        sink.publish(claimed.stream().map(job -> job.change().fromHolder()).toList());
        return claimed;
    }

    /** A job a claim took; its turn (a fair type's) moves this broker's {@link FairClock}. */
    private JobRecord claimedRow(ResultSet row, StatementContext ctx) throws SQLException {
        JobRecord job = jobs.map(row, ctx);
        fairClock.claimed(job.type(), row.getLong("fair_seq"));
        return job;
    }

    private static Query bindClaim(Query query, ClaimRequest request, String prefix) {
        return query
                .bind(prefix + "types", request.types().stream().map(ClaimRequest.TypeQuota::type).toArray(String[]::new))
                .bind(prefix + "quotas", request.types().stream().map(q -> q.limit()).toArray(Integer[]::new))
                .bind(prefix + "queues", request.queues().toArray(String[]::new))
                .bind(prefix + "limit", request.limit())
                .bind(prefix + "workerId", request.workerId())
                .bind(prefix + "principal", request.principal());
    }

    // ---------------------------------------------------------------- fenced worker writes

    /**
     * Extends valid leases by their job's lease duration. Heartbeats are not job changes.
     *
     * <p>Every worker write takes the {@code principal} of the worker (null when the broker does not
     * authenticate): a job whose lease is another principal's is refused as if it did not exist. The {@code ...All}
     * forms take writes of several workers at once, each with its own principal, for group commit.
     */
    public List<WriteResult> heartbeatAll(List<Fenced<LeaseRef>> leases) {
        return fencedWrite(leases, Function.identity(), "heartbeat_leases", false, (query, writes) -> { },
                WriteKind.HEARTBEAT);
    }

    public List<WriteResult> progressAll(List<Fenced<ProgressReport>> reports) {
        return fencedWrite(reports, ProgressReport::lease, "report_progress", true, (query, writes) -> query
                .bind("percents", writes.stream().map(ProgressReport::percent).toArray(Float[]::new))
                .bind("messages", writes.stream().map(ProgressReport::message).toArray(String[]::new))
                .bind("details", writes.stream().map(ProgressReport::detailsJson).toArray(String[]::new)),
                WriteKind.PROGRESS);
    }

    public List<WriteResult> complete(String principal, List<Completion> completions) {
        return completeAll(Fenced.all(principal, completions));
    }

    public List<WriteResult> completeAll(List<Fenced<Completion>> completions) {
        return fencedWrite(completions, Completion::lease, "complete_jobs", true, (query, writes) -> query
                .bind("results", writes.stream().map(Completion::resultJson).toArray(String[]::new)),
                WriteKind.FINISH);
    }

    public List<WriteResult> fail(String principal, List<Failure> failures) {
        return failAll(Fenced.all(principal, failures));
    }

    public List<WriteResult> failAll(List<Fenced<Failure>> failures) {
        return fencedWrite(failures, Failure::lease, "fail_jobs", true, (query, writes) -> {
            Double[] jitters = new Double[writes.size()];
            for (int i = 0; i < jitters.length; i++) {
                jitters[i] = jitter.getAsDouble();
            }
            query.bind("errors", writes.stream().map(Failure::error).toArray(String[]::new))
                    .bind("retryable", writes.stream().map(Failure::retryable).toArray(Boolean[]::new))
                    .bind("delays", writes.stream().map(Failure::retryDelayMs).toArray(Long[]::new))
                    .bind("jitters", jitters)
                    .bind("defaultInitialMs", retryDefaults.initialDelay().toMillis())
                    .bind("defaultMaxMs", retryDefaults.maxDelay().toMillis());
        }, WriteKind.FINISH);
    }

    public List<WriteResult> release(String principal, List<Release> releases) {
        return releaseAll(Fenced.all(principal, releases));
    }

    public List<WriteResult> releaseAll(List<Fenced<Release>> releases) {
        return fencedWrite(releases, Release::lease, "release_jobs", true, (query, writes) -> query
                .bind("reasons", writes.stream().map(Release::reason).toArray(String[]::new)),
                WriteKind.FINISH);
    }

    public List<WriteResult> awaitAll(List<Fenced<WorkerWrites.Await>> awaits) {
        return fencedWrite(awaits, WorkerWrites.Await::lease, "await_jobs", true, (query, writes) -> query
                .bind("awaited", writes.stream().map(w -> w.jobIds().stream().map(String::valueOf)
                        .collect(java.util.stream.Collectors.joining(","))).toArray(String[]::new)),
                WriteKind.FINISH);
    }

    private enum WriteKind { HEARTBEAT, PROGRESS, FINISH }

    /**
     * Applies the writes in one statement. A job named more than once (two callers' writes gathered
     * into one batch) is written in rounds, one statement each in one transaction, in input order, so the
     * second write sees the first exactly as if they had come one after the other.
     */
    private <W> List<WriteResult> fencedWrite(List<Fenced<W>> writes, Function<W, LeaseRef> leaseOf, String statement,
                                              boolean isChange, BiConsumer<Query, List<W>> binder, WriteKind kind) {
        if (writes.isEmpty()) {
            return List.of();
        }
        List<List<Integer>> rounds = rounds(writes, leaseOf);
        List<JobChange> changes = new ArrayList<>();
        HandleCallback<List<WriteResult>, RuntimeException> work = handle -> {
            changes.clear();
            WriteResult[] answers = new WriteResult[writes.size()];
            for (List<Integer> round : rounds) {
                List<Fenced<W>> batch = round.stream().map(writes::get).toList();
                List<W> plain = batch.stream().map(Fenced::write).toList();
                List<LeaseRef> leases = plain.stream().map(leaseOf).toList();
                Query query = handle.createQuery(Sql.load(JobStore.class, statement));
                query
                        .bind("ids", leases.stream().map(LeaseRef::jobId).toArray(Long[]::new))
                        .bind("attempts", leases.stream().map(LeaseRef::attempt).toArray(Integer[]::new))
                        .bind("tokens", leases.stream().map(LeaseRef::token).toArray(UUID[]::new))
                        .bind("principals", batch.stream().map(Fenced::principal).toArray(String[]::new));
                binder.accept(query, plain);
                Map<Long, AppliedRow> applied = new HashMap<>();
                query.map((rs, ctx) -> AppliedRow.read(rs, true)).forEach(row -> applied.put(row.change().id(), row));
                List<WriteResult> roundAnswers = explain(handle, batch, leases, applied, kind);
                for (int i = 0; i < round.size(); i++) {
                    answers[round.get(i)] = roundAnswers.get(i);
                }
                if (isChange) {
                    applied.values().forEach(row -> changes.add(row.change()));
                }
            }
            return List.of(answers);
        };
        List<WriteResult> results = transactions.keyed(rounds.size() > 1, work);
        sink.publish(changes);
        return results;
    }

    /** Splits the writes into rounds in which every job appears at most once, keeping input order per job. */
    private static <W> List<List<Integer>> rounds(List<Fenced<W>> writes, Function<W, LeaseRef> leaseOf) {
        List<List<Integer>> rounds = new ArrayList<>();
        Map<Long, Integer> seen = new HashMap<>();
        for (int i = 0; i < writes.size(); i++) {
            long id = leaseOf.apply(writes.get(i).write()).jobId();
            int round = seen.merge(id, 0, (old, zero) -> old + 1);
            if (round == rounds.size()) {
                rounds.add(new ArrayList<>());
            }
            rounds.get(round).add(i);
        }
        return rounds;
    }

    /** One row returned by a fenced write. */
    private record AppliedRow(JobChange change, Instant leaseExpiresAt) {
        /** @param byHolder the write came from the lease holder's stream (not the reaper) */
        static AppliedRow read(ResultSet rs, boolean byHolder) throws SQLException {
            JobChange change = new JobChange(rs.getLong("id"), rs.getLong("version"),
                    JobStatus.valueOf(rs.getString("state")), rs.getInt("attempt"),
                    JobRowMapper.instant(rs, "run_at"), rs.getString("type"), rs.getString("queue"),
                    rs.getString("owner"), byHolder, false, rs.getString("concurrency_key"), rs.getString("rate_key"));
            return new AppliedRow(change, JobRowMapper.instant(rs, "lease_expires_at"));
        }
    }

    /** Answers each write in order: accepted, or why not (looked up in the same transaction). */
    private static <W> List<WriteResult> explain(Handle handle, List<Fenced<W>> writes, List<LeaseRef> leases,
                                                 Map<Long, AppliedRow> applied, WriteKind kind) {
        List<Long> refused = new ArrayList<>();
        for (LeaseRef lease : leases) {
            AppliedRow row = applied.get(lease.jobId());
            if (row == null || row.change().attempt() != lease.attempt()) {
                refused.add(lease.jobId());
            }
        }
        Map<Long, LeaseState> current = refused.isEmpty() ? Map.of() : leaseStates(handle, refused);
        List<WriteResult> results = new ArrayList<>(leases.size());
        for (int i = 0; i < leases.size(); i++) {
            LeaseRef lease = leases.get(i);
            AppliedRow row = applied.get(lease.jobId());
            if (row != null && row.change().attempt() == lease.attempt()) {
                Instant deadline = kind == WriteKind.FINISH ? null : row.leaseExpiresAt();
                results.add(new WriteResult(lease, WriteOutcome.ACCEPTED, row.change().state(), row.change().type(),
                        deadline, ""));
            } else {
                results.add(refusal(lease, writes.get(i).principal(), current.get(lease.jobId())));
            }
        }
        return results;
    }

    private record LeaseState(JobStatus state, int attempt, UUID token, String principal, Instant expiresAt,
                              boolean expired, Long runTimeoutMs, boolean timedOut) {
    }

    private static Map<Long, LeaseState> leaseStates(Handle handle, List<Long> ids) {
        Map<Long, LeaseState> states = new HashMap<>();
        handle.createQuery(Sql.load(JobStore.class, "lease_status"))
                .bind("ids", ids.toArray(Long[]::new))
                .map((rs, ctx) -> {
                    states.put(rs.getLong("id"), new LeaseState(JobStatus.valueOf(rs.getString("state")),
                            rs.getInt("attempt"), rs.getObject("lease_token", UUID.class), rs.getString("lease_principal"),
                            JobRowMapper.instant(rs, "lease_expires_at"), rs.getBoolean("expired"),
                            (Long) rs.getObject("run_timeout_ms"), rs.getBoolean("timed_out")));
                    return null;
                })
                .list();
        return states;
    }

    /**
     * Why a fenced write was refused, in words for the worker that sent it. A job whose latest lease is
     * not the caller's principal's is answered exactly like an id that does not exist: a worker learns
     * nothing about another principal's jobs, not even that they exist.
     */
    private static WriteResult refusal(LeaseRef lease, String principal, LeaseState found) {
        long id = lease.jobId();
        if (found == null || principal != null && !principal.equals(found.principal())) {
            return new WriteResult(lease, WriteOutcome.NOT_FOUND, null, null, null, "job " + id + " does not exist");
        }
        if (found.state() == JobStatus.CANCELLED && found.attempt() == lease.attempt()) {
            return new WriteResult(lease, WriteOutcome.CANCELLED, found.state(), null, null,
                    "job " + id + " was cancelled");
        }
        String why;
        if (found.attempt() == lease.attempt() && found.timedOut()
                && (found.state() != JobStatus.RUNNING || found.expired())) {
            why = "job " + id + " ran past its run timeout of " + java.time.Duration.ofMillis(found.runTimeoutMs())
                    .toString().substring(2).toLowerCase(java.util.Locale.ROOT) + " in attempt " + lease.attempt()
                    + ": stop it";
        } else if (found.attempt() != lease.attempt()) {
            why = found.attempt() < lease.attempt()
                    ? "job " + id + " has never had attempt " + lease.attempt() + " (it is at attempt "
                            + found.attempt() + ")"
                    : "job " + id + " was claimed again (now attempt " + found.attempt() + ")";
        } else if (found.state() != JobStatus.RUNNING) {
            why = "job " + id + " is " + found.state() + ", not running";
        } else if (!lease.token().equals(found.token())) {
            why = "the lease token does not match job " + id + "'s current lease";
        } else if (found.expired()) {
            why = "the lease on job " + id + " expired at " + found.expiresAt();
        } else {
            why = "job " + id + " changed while the write was applied; its lease is no longer valid";
        }
        return new WriteResult(lease, WriteOutcome.LEASE_LOST, found.state(), null, null, why);
    }

    // ---------------------------------------------------------------- reaper

    /**
     * One reaper batch: how many lease entries it settled, and the jobs it took back (a change marked
     * {@link JobChange#timedOut()} ran past its run timeout; the others' workers went silent); {@code more}
     * if more entries were due (the batch was full, or stopped at the end of a segment).
     */
    public record Reaped(int entries, List<JobChange> changes, boolean more) {
    }

    /**
     * Settles up to {@code limit} due lease entries: takes back the jobs whose lease has expired, writes a
     * new entry for attempts that still run, and drops the entries of attempts that ended. The choice and
     * the update are two statements in one transaction; {@code betweenChoiceAndUpdate} runs between them (a
     * test hook for the race with a completion), and the update checks expiry again so it never touches
     * a job that finished meanwhile.
     */
    public Reaped reapExpired(int limit, Runnable betweenChoiceAndUpdate) {
        // on the keyed pool: its generic plans meet a batch of thousands in hash joins and reach jobs by key
        Reaped reaped = transactions.keyed(true, handle -> {
            // The entries of one segment, the oldest with any due: so the delete looks in that partition only.
            int[] seg = {-1};
            boolean[] more = {false};
            List<String> entries = new ArrayList<>();
            List<Long> ids = new ArrayList<>();
            List<Integer> attempts = new ArrayList<>();
            handle.createQuery(Sql.load(JobStore.class, "expired_leases"))
                    .bind("limit", limit)
                    .map((rs, ctx) -> {
                        if (seg[0] < 0) {
                            seg[0] = rs.getInt("seg");
                        } else if (rs.getInt("seg") != seg[0]) {
                            more[0] = true;
                            return null;
                        }
                        entries.add(rs.getString("entry"));
                        ids.add(rs.getLong("job_id"));
                        attempts.add(rs.getInt("attempt"));
                        return null;
                    })
                    .list();
            if (ids.isEmpty()) {
                return new Reaped(0, List.of(), false);
            }
            betweenChoiceAndUpdate.run();
            Double[] jitters = new Double[ids.size()];
            for (int i = 0; i < jitters.length; i++) {
                jitters[i] = jitter.getAsDouble();
            }
            List<JobChange> changes = handle.createQuery(Sql.load(JobStore.class, "reap_leases"))
                    .bind("seg", (short) seg[0])
                    .bind("entries", entries.toArray(String[]::new))
                    .bind("ids", ids.toArray(Long[]::new))
                    .bind("attempts", attempts.toArray(Integer[]::new))
                    .bind("jitters", jitters)
                    .bind("defaultInitialMs", retryDefaults.initialDelay().toMillis())
                    .bind("defaultMaxMs", retryDefaults.maxDelay().toMillis())
                    .map((rs, ctx) -> {
                        JobChange change = AppliedRow.read(rs, false).change();
                        return rs.getBoolean("timed_out") ? change.asTimedOut() : change;
                    })
                    .list();
            return new Reaped(ids.size(), changes, more[0] || ids.size() == limit);
        });
        sink.publish(reaped.changes());
        return reaped;
    }

    // ---------------------------------------------------------------- dependencies

    /** A waiting job to cancel: a job it depends on ended {@code dependencyState} (GONE: no longer exists). */
    public record DependencyFailed(long jobId, long dependency, String dependencyState) {
    }

    /**
     * Resolves these WAITING jobs (other ids are passed over): those whose dependencies all succeeded are
     * QUEUED (their changes published), those a failed dependency cancels are returned for the caller to
     * cancel. One transaction: the jobs' rows locked, then resolve_waiting.sql in a statement of its own.
     */
    public List<DependencyFailed> resolveWaiting(java.util.Collection<Long> ids) {
        if (ids.isEmpty()) {
            return List.of();
        }
        Long[] sorted = ids.stream().distinct().sorted().toArray(Long[]::new);
        List<JobChange> queued = new ArrayList<>();
        List<DependencyFailed> failed = new ArrayList<>();
        transactions.run(handle -> {
            queued.clear();
            failed.clear();
            handle.createQuery(Sql.load(JobStore.class, "lock_waiting")).bind("ids", sorted).mapTo(Long.class).one();
            handle.createQuery(Sql.load(JobStore.class, "resolve_waiting"))
                    .bind("ids", sorted)
                    .map((rs, ctx) -> {
                        if (rs.getString("what").equals("queued")) {
                            queued.add(AppliedRow.read(rs, false).change());
                        } else {
                            failed.add(new DependencyFailed(rs.getLong("id"), rs.getLong("dependency"),
                                    rs.getString("dependency_state")));
                        }
                        return null;
                    })
                    .list();
            return null;
        });
        sink.publish(queued);
        return List.copyOf(failed);
    }

    /** Of these ids, those of jobs (live or finished) of the same owner as job {@code jobId}, while it is live. */
    public java.util.Set<Long> ofTheOwnerOf(long jobId, java.util.Collection<Long> ids) {
        return transactions.run(handle -> handle.createQuery(Sql.load(JobStore.class, "of_the_owner_of"))
                .bind("jobId", jobId)
                .bind("ids", ids.toArray(Long[]::new))
                .mapTo(Long.class)
                .collect(java.util.stream.Collectors.toSet()));
    }

    /** The jobs waiting for any of these. */
    public List<Long> dependentsOf(java.util.Collection<Long> finished) {
        return transactions.run(handle -> handle.createQuery(Sql.load(JobStore.class, "dependents_of"))
                .bind("ids", finished.toArray(Long[]::new))
                .mapTo(Long.class)
                .list());
    }

    /** Waiting jobs with a finished dependency and no resolution yet, {@code limit} at most. */
    public List<Long> strandedDependents(int limit) {
        return transactions.run(handle -> handle.createQuery(Sql.load(JobStore.class, "stranded_dependents"))
                .bind("limit", limit)
                .mapTo(Long.class)
                .list());
    }

    /** Whether any job waits for another. */
    public boolean dependenciesInUse() {
        return transactions.run(handle -> handle.createQuery(Sql.load(JobStore.class, "dependencies_in_use"))
                .mapTo(Boolean.class)
                .one());
    }

    // ---------------------------------------------------------------- operator transitions

    /** @param owner only a job of this owner (null: any) */
    public Transition cancel(long id, String owner, String reason) {
        return transition(id, owner, "cancel_job", Map.of("reason", reason));
    }

    public Transition retry(long id, String owner) {
        return transition(id, owner, "retry_job", Map.of("fairTurn", TypeRegistrations.FAIR_TURN));
    }

    public Transition hold(long id, String owner) {
        return transition(id, owner, "hold_job", Map.of());
    }

    /** HELD → QUEUED (the JobService's Release). */
    public Transition unhold(long id, String owner) {
        return transition(id, owner, "unhold_job", Map.of());
    }

    private Transition transition(long id, String owner, String statement, Map<String, Object> extra) {
        Transition transition = transactions.run(handle -> {
            Query query = handle.createQuery(Sql.load(JobStore.class, statement)).bind("id", id).bind("owner", owner);
            extra.forEach(query::bind);
            var changed = query.map(jobs).findOne();
            if (changed.isPresent()) {
                return new Transition(changed.get(), true);
            }
            return new Transition(handle.createQuery(Sql.load(JobStore.class, "job_by_id"))
                    .bind("id", id).bind("owner", owner).map(jobs).findOne().orElse(null), false);
        });
        if (transition.applied()) {
            sink.publish(List.of(transition.job().change()));
        }
        return transition;
    }

    private String toJson(Map<String, String> labels) {
        try {
            return json.writeValueAsString(new LinkedHashMap<>(labels));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("labels cannot be written as JSON", e);
        }
    }
}
