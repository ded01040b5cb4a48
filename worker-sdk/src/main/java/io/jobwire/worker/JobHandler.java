package io.jobwire.worker;

/**
 * The code that runs one job type. Return the result (a JSON string, a Jackson {@code JsonNode}, any
 * object Jackson can write, or null), or throw: any exception is a retryable failure, a
 * {@link NonRetryableException} fails the job for good, a {@link RetryLaterException} retries after
 * its delay.
 *
 * <pre>{@code
 * JobHandler sendEmail = job -> {
 *     Email email = job.payload(Email.class);
 *     job.progress(50, "rendering");
 *     mailer.send(email);
 *     return Map.of("sent", true);
 * };
 * }</pre>
 */
@FunctionalInterface
public interface JobHandler {
    Object handle(JobContext job) throws Exception;
}
