package io.jobwire.broker.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.broker.testing.TestClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The overview's hour of samples, on an injected clock: rates, levels, the window, and per-owner scopes. */
class TimelineTest {
    private final TestClock clock = new TestClock(Instant.parse("2026-12-01T10:00:00Z"));
    private final Map<String, long[]> succeeded = new HashMap<>(); // owner or "*" -> {succeeded, queued}
    private final List<String> reads = new ArrayList<>();
    private final Timeline timeline = new Timeline(owner -> {
        String scope = owner == null ? "*" : owner;
        reads.add(scope);
        long[] v = succeeded.getOrDefault(scope, new long[2]);
        return List.of(new Timeline.Counts("t", "default", v[1], 0, v[0], 0, 0, 0, Duration.ZERO));
    }, clock);

    private void set(String scope, long done, long queued) {
        succeeded.put(scope, new long[] {done, queued});
    }

    @Test
    void ratesArePerMinuteBetweenSamplesAndNeverNegative() {
        set("*", 0, 50);
        timeline.samples(null);
        clock.advance(Timeline.STEP);
        set("*", 20, 30);
        timeline.sample();
        clock.advance(Timeline.STEP);
        set("*", 5, 30); // retention removed finished jobs
        timeline.sample();

        List<Timeline.Sample> samples = timeline.samples(null);
        List<double[]> rate = Timeline.ratePerMinute(samples, null, Timeline.Counts::succeeded);
        assertThat(rate).hasSize(2);
        assertThat(rate.get(0)[1]).isEqualTo(120.0); // 20 in 10 s
        assertThat(rate.get(1)[1]).isEqualTo(0.0);
        assertThat(Timeline.level(samples, Timeline.Sample.key("t", "default"), Timeline.Counts::queued))
                .extracting(p -> p[1]).containsExactly(50.0, 30.0, 30.0);
        assertThat(Timeline.level(samples, Timeline.Sample.key("t", "other"), Timeline.Counts::queued))
                .extracting(p -> p[1]).containsExactly(0.0, 0.0, 0.0);
    }

    @Test
    void anHourIsKeptAndAScopeNobodyLooksAtIsForgotten() {
        timeline.samples("shop");
        timeline.samples(null);
        for (int i = 0; i < 400; i++) {
            clock.advance(Timeline.STEP);
            timeline.sample();
            if (i < 300) {
                timeline.samples(null); // someone keeps the admin overview open
            }
        }
        List<Timeline.Sample> kept = timeline.samples(null);
        assertThat(kept.get(kept.size() - 1).at()).isEqualTo(clock.instant());
        assertThat(Duration.between(kept.get(0).at(), clock.instant())).isLessThanOrEqualTo(Timeline.WINDOW);
        assertThat(kept.size()).isBetween(360, 361);

        reads.clear();
        clock.advance(Timeline.STEP);
        timeline.sample();
        assertThat(reads).containsExactly("*"); // "shop" was last looked at over an hour ago

        clock.advance(Timeline.WINDOW.plus(Timeline.STEP)); // nobody looked at all jobs for an hour either
        reads.clear();
        timeline.sample();
        assertThat(reads).isEmpty();
        timeline.sampleAllJobsAlways(); // as the dashboard does at start
        clock.advance(Timeline.WINDOW.plus(Timeline.STEP));
        timeline.sample();
        assertThat(reads).containsExactly("*");
        assertThat(timeline.samples("shop")).hasSize(1); // looking again starts afresh
    }

    @Test
    void chartsAreInertSvgWhateverTheNames() {
        String svg = Charts.chart("<b>t</b>", clock.instant(), 100, 50, List.of("<img src=x onerror=alert(1)>"),
                List.of(List.of(new double[] {clock.instant().toEpochMilli(), 3}))).toString();
        assertThat(svg).contains("&lt;img src=x onerror=alert(1)&gt;").doesNotContain("<img").doesNotContain("<b>");
        assertThat(svg).contains("points=\"100.0,18.0\"");
    }
}
