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
                JobCommands.Release.class, StatsCommand.Stats.class, TypesCommand.class, QuotaCommand.class, CallbacksCommand.class, SchedulesCommand.class,
                PauseCommands.Pause.class, PauseCommands.Resume.class, PauseCommands.Listing.class, RateLimitCommand.class, PingCommand.class,
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
                .setErr(utf8(FileDescriptor.err))
                .setParameterExceptionHandler(JobwireCommand::wrongCommandLine)
                .setExecutionExceptionHandler(JobwireCommand::failed);
        setUsageExitCode(commandLine);
        return commandLine;
    }

    /** A wrong command line: one line naming the problem, not the whole usage text. */
    private static int wrongCommandLine(CommandLine.ParameterException e, String[] args) {
        CommandLine command = e.getCommandLine();
        command.getErr().println(command.getCommandSpec().qualifiedName() + ": " + e.getMessage()
                + " (see '" + command.getCommandSpec().qualifiedName() + " --help')");
        return ExitCodes.USAGE;
    }

    /**
     * The last line of defence for a command that threw: one line, never a stack trace (set
     * JOBWIRE_DEBUG=1 for one). A broker's refusal exits 3, a bad argument or unreadable file 64.
     */
    private static int failed(Exception e, CommandLine command, CommandLine.ParseResult parsed) {
        String name = command.getCommandSpec().qualifiedName();
        PrintWriter err = command.getErr();
        int exit;
        if (e instanceof io.grpc.StatusRuntimeException refused) {
            io.grpc.Status status = refused.getStatus();
            String description = command.getCommand() instanceof ClientCommand client ? client.describe(status)
                    : io.jobwire.client.JobwireException.describe(status);
            err.println(name + ": " + status.getCode() + (description == null ? "" : ": " + description));
            exit = ExitCodes.BROKER_ERROR;
        } else if (e instanceof IllegalArgumentException || e instanceof java.io.IOException
                || e instanceof java.io.UncheckedIOException) {
            err.println(name + ": " + e.getMessage());
            exit = ExitCodes.USAGE;
        } else {
            err.println(name + ": unexpected error: " + e.getClass().getSimpleName() + ": " + e.getMessage()
                    + " (JOBWIRE_DEBUG=1 shows where)");
            exit = ExitCodes.SOFTWARE;
        }
        if (System.getenv("JOBWIRE_DEBUG") != null) {
            e.printStackTrace(err);
        }
        err.flush();
        return exit;
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
