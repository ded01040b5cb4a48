package io.jobwire.broker.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.jdbi.v3.core.Jdbi;

/** Reads of jobs: by id, by filter, and the counts behind Stats. */
public final class JobQueries {
    private final Jdbi jdbi;
    private final ObjectMapper json;
    private final JobRowMapper jobs;

    public JobQueries(Jdbi jdbi, ObjectMapper json) {
        this.jdbi = jdbi;
        this.json = json;
        this.jobs = new JobRowMapper(json);
    }

    /** The job with its attempt history, if it exists and belongs to {@code owner} (null: any owner). */
    public Optional<JobRecord> get(long id, String owner) {
        return jdbi.inTransaction(handle -> handle.createQuery(Sql.load(JobQueries.class, "job_by_id"))
                .bind("id", id)
                .bind("owner", owner)
                .map(jobs)
                .findOne()
                .map(job -> job.withAttempts(handle.createQuery(Sql.load(JobQueries.class, "attempts_of_job"))
                        .bind("id", id)
                        .map((rs, ctx) -> new AttemptRecord(rs.getInt("attempt"), rs.getString("worker_id"),
                                JobRowMapper.instant(rs, "started_at"), JobRowMapper.instant(rs, "finished_at"),
                                rs.getString("outcome"), rs.getString("error")))
                        .list())));
    }

    /** Of these ids, those of jobs that exist and belong to {@code owner} (null: any owner). */
    public java.util.Set<Long> visible(java.util.Collection<Long> ids, String owner) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(JobQueries.class, "visible_jobs"))
                .bind("ids", ids.toArray(Long[]::new))
                .bind("owner", owner)
                .mapTo(Long.class)
                .collect(java.util.stream.Collectors.toSet()));
    }

    /** The attempt the job runs now, if it runs: one lookup by primary key. */
    public Optional<RunningAttemptRecord> runningAttempt(long id) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(JobQueries.class, "running_attempt"))
                .bind("id", id)
                .map((rs, ctx) -> new RunningAttemptRecord(
                        new LeaseRef(rs.getLong("id"), rs.getInt("attempt"), rs.getObject("lease_token", UUID.class)),
                        rs.getString("owner"), rs.getString("type"), rs.getBoolean("unexpired")))
                .findOne());
    }

    /** The jobs that exist among {@code ids}, without history, in no particular order. */
    public List<JobRecord> getMany(List<Long> ids) {
        if (ids.isEmpty()) {
            return List.of();
        }
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(JobQueries.class, "jobs_by_ids"))
                .bind("ids", ids.toArray(Long[]::new))
                .map(jobs)
                .list());
    }

    /** One page, newest first. */
    public List<JobRecord> list(JobFilter filter) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(JobQueries.class,
                        filter.oldestFirst() ? "list_jobs_oldest_first" : "list_jobs"))
                .bind("states", filter.states().stream().map(Enum::name).toArray(String[]::new))
                .bind("types", filter.types().toArray(String[]::new))
                .bind("queues", filter.queues().toArray(String[]::new))
                .bind("owner", filter.owner())
                .bind("labels", filter.labels().isEmpty() ? null : toJson(filter.labels()))
                .bind("payloadContains", filter.payloadContains())
                .bind("parentId", filter.parentId())
                .bind("pastId", filter.pastId())
                .bind("limit", filter.limit())
                .map(jobs)
                .list());
    }

    /** Counts per (type, queue), optionally for one type, queue and/or owner (null: all). */
    public List<QueueCounts> queueCounts(String type, String queue, String owner) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(JobQueries.class, "queue_stats"))
                .bind("type", type)
                .bind("queue", queue)
                .bind("owner", owner)
                .map((rs, ctx) -> new QueueCounts(rs.getString("type"), rs.getString("queue"),
                        rs.getLong("queued"), rs.getLong("scheduled"), rs.getLong("running"),
                        rs.getLong("succeeded"), rs.getLong("failed"), rs.getLong("cancelled"), rs.getLong("held"),
                        rs.getLong("waiting"),
                        rs.getLong("attempts"), rs.getLong("attempt_errors"),
                        Duration.ofMillis(rs.getLong("oldest_queued_ms"))))
                .list());
    }

    /** The database's clock now. */
    public Instant databaseNow() {
        return jdbi.withHandle(handle -> handle.createQuery("SELECT now()")
                .map((rs, ctx) -> JobRowMapper.instant(rs, "now"))
                .one());
    }

    private String toJson(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write filter as JSON", e);
        }
    }
}
