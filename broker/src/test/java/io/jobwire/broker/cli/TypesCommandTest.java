package io.jobwire.broker.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.broker.cli.ClientCommandsTest.Run;
import io.jobwire.broker.testing.BrokerFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@code jobwire types}: register a type with its schema and docs, see it, and have bad payloads refused. */
class TypesCommandTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    @TempDir
    static Path dir;

    private static Run jobwire(String... args) {
        return ClientCommandsTest.jobwire(fixture, args);
    }

    @Test
    void registerShowListAndASubmitThatBreaksTheSchema() throws Exception {
        Path schema = Files.writeString(dir.resolve("invoice.schema.json"), """
                {"type": "object", "required": ["invoice"], "properties": {"invoice": {"type": "string"}}}""");
        Path doc = Files.writeString(dir.resolve("invoice.md"), "# invoice.render\nRenders one invoice as PDF.\n");
        Run registered = jobwire("types", "register", "--type", "cli.invoice", "--description", "Renders one invoice",
                "--schema", schema.toString(), "--doc", doc.toString(), "--uses", "s3:invoices,smtp",
                "--queue", "invoices", "--max-attempts", "4", "--lease", "2m", "--retry-initial", "10s",
                "--run-timeout", "15m", "--concurrency-key", "invoices", "--concurrency-limit", "3");
        assertThat(registered.exit()).as(registered.err()).isZero();
        assertThat(registered.out()).isEqualTo("registered cli.invoice (version 1)\n");

        Run shown = jobwire("types", "show", "cli.invoice");
        assertThat(shown.exit()).isZero();
        assertThat(shown.out()).contains("registered      version 1 by ")
                .contains("description     Renders one invoice")
                .contains("uses            s3:invoices, smtp")
                .contains("defaults        queue invoices, lease 2m, max attempts 4, run timeout 15m, concurrency key invoices, "
                        + "concurrency limit 3, retry initial 10s")
                .contains("payload schema  {\"type\":\"object\",\"required\":[\"invoice\"]")
                .contains("Renders one invoice as PDF.");

        Run listed = jobwire("types");
        assertThat(listed.out()).containsPattern("cli\\.invoice +v1 +0 +- +registered +Renders one invoice");

        Run bad = jobwire("submit", "--type", "cli.invoice", "--payload", "{\"invoice\": 7}");
        assertThat(bad.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(bad.err().strip()).isEqualTo("jobwire submit: INVALID_ARGUMENT: job.payload: does not match the "
                + "schema of type cli.invoice: /invoice: integer found, string expected")
                .doesNotContain("Exception");

        Run good = jobwire("submit", "--type", "cli.invoice", "--payload", "{\"invoice\": \"INV-7\"}");
        assertThat(good.exit()).isZero();
        assertThat(good.json().get("queue").asText()).as("the type's default queue").isEqualTo("invoices");
        assertThat(good.json().get("maxAttempts").asInt()).isEqualTo(4);

        Run notASchema = jobwire("types", "register", "--type", "cli.broken", "--schema", doc.toString());
        assertThat(notASchema.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(notASchema.err()).startsWith("jobwire types register: INVALID_ARGUMENT: registration.payload_schema: "
                + "is not valid JSON");

        Run removed = jobwire("types", "unregister", "cli.invoice");
        assertThat(removed.out()).isEqualTo("unregistered cli.invoice\n");
        Run gone = jobwire("types", "show", "cli.invoice");
        assertThat(gone.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(gone.err().strip()).isEqualTo("jobwire types show: NOT_FOUND: no job type cli.invoice is registered or announced");
    }
}
