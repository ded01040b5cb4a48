package io.jobwire.broker.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.broker.cli.ClientCommandsTest.Run;
import io.jobwire.broker.testing.BrokerFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code jobwire quota}: set a limit, see its usage, and a submit past it refused in one line. */
class QuotaCommandTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    private static Run jobwire(String... args) {
        return ClientCommandsTest.jobwire(fixture, args);
    }

    @Test
    void setListAndASubmitPastTheLimit() {
        Run set = jobwire("quota", "set", "--owner", "shop", "--type", "email.*", "--max-waiting", "2", "--per-minute", "10");
        assertThat(set.exit()).as(set.err()).isZero();
        assertThat(set.out()).isEqualTo("quota set for shop, types email.*\n");
        assertThat(jobwire("submit", "--type", "email.send", "--owner", "shop", "-q").exit()).isZero();
        assertThat(jobwire("submit", "--type", "email.send", "--owner", "shop", "-q").exit()).isZero();

        Run refused = jobwire("submit", "--type", "email.send", "--owner", "shop");
        assertThat(refused.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(refused.err().strip()).isEqualTo("jobwire submit: RESOURCE_EXHAUSTED: quota max-waiting of owner "
                + "shop for types email.*: at most 2 jobs waiting or running at once; 2 are and this submit has 1; "
                + "room again as they finish");

        Run listed = jobwire("quota");
        assertThat(listed.exit()).isZero();
        assertThat(listed.out()).as("the limit reached is max-waiting: room comes as jobs finish, not when a window moves")
                .containsPattern("shop +email\\.\\* +2/2 +2/10 +2 +2 +as jobs finish\n");
        // A full window: room comes when its oldest submit leaves it. A quota with room left says "now".
        assertThat(jobwire("quota", "set", "--owner", "mail", "--type", "*", "--per-minute", "2").exit()).isZero();
        assertThat(jobwire("quota", "set", "--owner", "idle", "--type", "*", "--per-minute", "2").exit()).isZero();
        assertThat(jobwire("submit", "--type", "email.send", "--owner", "mail", "-q").exit()).isZero();
        assertThat(jobwire("submit", "--type", "email.send", "--owner", "mail", "-q").exit()).isZero();
        assertThat(jobwire("submit", "--type", "email.send", "--owner", "idle", "-q").exit()).isZero();
        String windows = jobwire("quota").out();
        assertThat(windows).containsPattern("mail +\\* +2 +2/2 +2 +2 +20\\d\\d-\\d\\d-\\d\\dT[0-9:]+Z\n");
        assertThat(windows).containsPattern("idle +\\* +1 +1/2 +1 +1 +now\n");

        Run notANumber = jobwire("quota", "set", "--owner", "shop", "--max-waiting", "-1");
        assertThat(notANumber.err().strip()).isEqualTo("jobwire quota set: INVALID_ARGUMENT: quota.max_waiting: must be "
                + "between 0 (no limit) and 1000000000, got -1");

        assertThat(jobwire("quota", "delete", "--owner", "shop", "--type", "email.*").out())
                .isEqualTo("quota deleted for shop, types email.*\n");
        assertThat(jobwire("submit", "--type", "email.send", "--owner", "shop", "-q").exit()).isZero();
    }
}
