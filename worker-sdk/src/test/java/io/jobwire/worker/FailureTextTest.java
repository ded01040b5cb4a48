package io.jobwire.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.UncheckedIOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class FailureTextTest {
    @Test
    void aHandlersOwnFailureIsStoredAsItsMessage() {
        assertThat(FailureText.of(new NonRetryableException("no name given"))).isEqualTo("no name given");
        assertThat(FailureText.of(new RetryLaterException("rate limited", Duration.ofSeconds(3)))).isEqualTo("rate limited");
        assertThat(FailureText.of(new RetryLaterException("exit 1: disk full"))).isEqualTo("exit 1: disk full");
    }

    @Test
    void anUnexpectedExceptionKeepsItsSimpleNameAndFirstFramesOnly() {
        IllegalStateException error = deep(40);
        String text = FailureText.of(error);
        assertThat(text).startsWith("IllegalStateException: boom\n    at ")
                .doesNotContain("java.lang.IllegalStateException");
        assertThat(text.lines().filter(line -> line.startsWith("    at "))).hasSize(FailureText.FRAMES);
    }

    @Test
    void theRootCauseFollowsOnALineOfItsOwn() {
        var error = new UncheckedIOException("could not fetch", new java.io.IOException("read failed",
                new SocketTimeoutException("Read timed out")));
        assertThat(FailureText.of(error)).startsWith("UncheckedIOException: could not fetch")
                .endsWith("\ncaused by: SocketTimeoutException: Read timed out");
        assertThat(FailureText.of(new NonRetryableException("bad input", new NumberFormatException("For input string: \"x\""))))
                .isEqualTo("bad input\ncaused by: NumberFormatException: For input string: \"x\"");
    }

    @Test
    void theTextIsBounded() {
        String text = FailureText.of(new NonRetryableException("x".repeat(100_000)));
        assertThat(text).hasSize(FailureText.MAX_CHARS).endsWith("…");
    }

    private static IllegalStateException deep(int depth) {
        return depth == 0 ? new IllegalStateException("boom") : deep(depth - 1);
    }
}
