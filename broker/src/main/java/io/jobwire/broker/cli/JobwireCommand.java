package io.jobwire.broker.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code java -jar jobwire.jar <command>}: the broker and its command-line tools. */
@Command(name = "jobwire",
        mixinStandardHelpOptions = true,
        versionProvider = Version.class,
        description = "Jobwire: a durable job broker for services that speak gRPC.",
        subcommands = {ServeCommand.class, TokenCommand.class, WorkCommand.class, SubmitCommand.class, JobCommands.Get.class, ListCommand.class,
                WatchCommand.class, JobCommands.Cancel.class, JobCommands.Retry.class, JobCommands.Hold.class,
                JobCommands.Release.class, StatsCommand.Stats.class, StatsCommand.Types.class,
                CommandLine.HelpCommand.class})
public final class JobwireCommand implements Runnable {
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    /**
     * Netty's leak detector samples buffer allocations and records a stack trace for each sampled one:
     * 2% of the broker's CPU under load. Off unless asked for with
     * {@code -Dio.grpc.netty.shaded.io.netty.leakDetection.level=...} (set before any Netty class loads).
     */
    static final String NETTY_LEAK_DETECTION = "io.grpc.netty.shaded.io.netty.leakDetection.level";

    public static void main(String[] args) {
        if (System.getProperty(NETTY_LEAK_DETECTION) == null) {
            System.setProperty(NETTY_LEAK_DETECTION, "disabled");
        }
        System.exit(commandLine().execute(args));
    }

    /** The configured command line, shared by main and tests. */
    public static CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(new JobwireCommand())
                .registerConverter(java.time.Duration.class, new DurationConverter())
                .setExpandAtFiles(false)
                .setOut(utf8(FileDescriptor.out))
                .setErr(utf8(FileDescriptor.err));
        setUsageExitCode(commandLine);
        return commandLine;
    }

    private static void setUsageExitCode(CommandLine commandLine) {
        commandLine.getCommandSpec().exitCodeOnInvalidInput(ExitCodes.USAGE);
        commandLine.getSubcommands().values().forEach(JobwireCommand::setUsageExitCode);
    }

    /** Payloads and results are UTF-8 whatever the platform's default encoding. */
    private static PrintWriter utf8(FileDescriptor descriptor) {
        return new PrintWriter(new OutputStreamWriter(new FileOutputStream(descriptor), StandardCharsets.UTF_8), true);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
