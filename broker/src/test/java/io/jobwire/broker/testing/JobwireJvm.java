package io.jobwire.broker.testing;

import io.jobwire.broker.cli.JobwireCommand;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line of a {@code jobwire} process for a test: the test's own java and class path, the
 * jobwire main class, and JVM options for a short life. A test's brokers and workers live seconds, so
 * the optimising compiler would mostly cost CPU the test's own work is waiting for (on two cores it
 * compiled through every broker's first seconds); the first tier and the serial collector start them
 * sooner and leave the machine to what is tested. Nothing the product does depends on them.
 */
public final class JobwireJvm {
    /** The options every test's jobwire process gets. */
    public static final List<String> OPTIONS = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");

    private JobwireJvm() {
    }

    /** The java running this test. */
    public static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    /** {@code jobwire args} with these more JVM options. */
    public static List<String> command(List<String> jvmOptions, List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(java());
        command.addAll(OPTIONS);
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), JobwireCommand.class.getName()));
        command.addAll(args);
        return command;
    }

    /** {@code jobwire args}. */
    public static List<String> command(List<String> args) {
        return command(List.of(), args);
    }

    /** The same for a shell script: {@code jobwire}, quoted, to which the script adds its arguments. */
    public static String shell() {
        StringBuilder line = new StringBuilder();
        for (String word : command(List.of())) {
            line.append(line.length() == 0 ? "" : " ").append('\'').append(word.replace("'", "'\\''")).append('\'');
        }
        return line.toString();
    }
}
