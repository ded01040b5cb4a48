package io.jobwire.broker.cli;

/** What {@code jobwire} exits with. */
final class ExitCodes {
    static final int OK = 0;
    /** {@code submit --wait}: the job ended FAILED. */
    static final int JOB_FAILED = 1;
    /** {@code submit --wait}: the job ended CANCELLED. */
    static final int JOB_CANCELLED = 2;
    /** The broker answered with an error, or could not be reached. */
    static final int BROKER_ERROR = 3;
    /** The command line itself was wrong (EX_USAGE). */
    static final int USAGE = 64;
    /** A bug in jobwire itself (sysexits' EX_SOFTWARE). */
    static final int SOFTWARE = 70;

    private ExitCodes() {
    }
}
