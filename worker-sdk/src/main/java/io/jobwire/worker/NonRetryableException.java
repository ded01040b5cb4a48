package io.jobwire.worker;

/**
 * Thrown by a handler to fail the job for good, without further attempts.
 *
 * <pre>{@code
 * if (!address.contains("@")) throw new NonRetryableException("not an email address: " + address);
 * }</pre>
 */
public class NonRetryableException extends Exception {
    private static final long serialVersionUID = 1L;

    public NonRetryableException(String message) {
        super(message);
    }

    public NonRetryableException(String message, Throwable cause) {
        super(message, cause);
    }
}
