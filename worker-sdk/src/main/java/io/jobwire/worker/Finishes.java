package io.jobwire.worker;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Duration;
import io.jobwire.api.v1.Complete;
import io.jobwire.api.v1.Fail;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.api.v1.ReleaseJob;
import io.jobwire.api.v1.WorkerMessage;

/**
 * The messages that end an attempt, and how a handler's return or exception becomes one: a result is
 * completed (as JSON), {@link NonRetryableException} fails for good, {@link RetryLaterException} fails to
 * be retried after its delay, anything else fails to be retried by the job's policy.
 */
final class Finishes {
    private final ObjectMapper json;

    Finishes(ObjectMapper json) {
        this.json = json;
    }

    /** Runs the handler on the calling thread; what it returned or threw, as Complete or Fail. */
    WorkerMessage run(JobHandler handler, RunningJob job) {
        try {
            Object result = handler.handle(job);
            if (result instanceof Awaiting awaiting) {
                return WorkerMessage.newBuilder().setAwaitJobs(io.jobwire.api.v1.AwaitJobs.newBuilder().setLease(job.lease)
                        .addAllJobIds(awaiting.jobIds())).build();
            }
            return complete(job.lease, result);
        } catch (NonRetryableException e) {
            return fail(job.lease, FailureText.of(e), false, null);
        } catch (RetryLaterException e) {
            return fail(job.lease, FailureText.of(e), true, e.delay());
        } catch (Throwable e) {
            return fail(job.lease, FailureText.of(e), true, null);
        }
    }

    static WorkerMessage fail(LeaseRef lease, String error, boolean retryable, java.time.Duration delay) {
        Fail.Builder fail = Fail.newBuilder().setLease(lease).setError(error).setRetryable(retryable);
        if (delay != null) {
            fail.setRetryDelay(Duration.newBuilder().setSeconds(delay.getSeconds()).setNanos(delay.getNano()));
        }
        return WorkerMessage.newBuilder().setFail(fail).build();
    }

    /** Gives the job back unfinished, to run again elsewhere now (not after its lease). */
    static WorkerMessage release(LeaseRef lease, String reason) {
        return WorkerMessage.newBuilder().setRelease(ReleaseJob.newBuilder().setLease(lease).setReason(reason)).build();
    }

    private WorkerMessage complete(LeaseRef lease, Object result) throws JsonProcessingException {
        return WorkerMessage.newBuilder().setComplete(Complete.newBuilder().setLease(lease).setResult(toJson(result)))
                .build();
    }

    /** A result as JSON: null, a tree, a string that is JSON already (kept), any other string or object. */
    private String toJson(Object result) throws JsonProcessingException {
        if (result == null) {
            return "null";
        }
        if (result instanceof JsonNode node) {
            return json.writeValueAsString(node);
        }
        if (result instanceof String text) {
            try {
                json.readTree(text);
                return text;
            } catch (JsonProcessingException e) {
                return json.writeValueAsString(text);
            }
        }
        return json.writeValueAsString(result);
    }
}
