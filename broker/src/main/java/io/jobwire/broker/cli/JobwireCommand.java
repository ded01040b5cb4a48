package io.jobwire.broker.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code java -jar jobwire.jar <command>}: the broker and its command-line tools. */
@Command(name = "jobwire",
        mixinStandardHelpOptions = true,
        versionProvider = Version.class,
        description = "Jobwire: a durable job broker for services that speak gRPC.",
        subcommands = {ServeCommand.class, CommandLine.HelpCommand.class})
public final class JobwireCommand implements Runnable {
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line, shared by main and tests. */
    public static CommandLine commandLine() {
        return new CommandLine(new JobwireCommand())
                .registerConverter(java.time.Duration.class, new DurationConverter());
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
