package io.jobwire.broker.cli;

import io.jobwire.broker.auth.Role;
import io.jobwire.broker.auth.TokenStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code jobwire token}: makes a bearer token and the line that admits it. */
@Command(name = "token", mixinStandardHelpOptions = true,
        description = {"Make a new bearer token. Prints the token (give it to the client; it is shown once) and "
                + "the line to add to the broker's --tokens-file, which holds only its SHA-256 hash.",
                "With --tokens-file, appends the line to that file and prints only the token, for scripts: "
                        + "TOKEN=$(jobwire token --principal shop --role submit --tokens-file tokens.txt)"})
final class TokenCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--principal", required = true, description = "Who the token belongs to; owner of the jobs it submits.")
    String principal;

    @Option(names = "--role", required = true, split = ",", description = "submit, work and/or admin; repeat or comma-separate.")
    List<String> roles = new ArrayList<>();

    @Option(names = "--types", split = ",", description = "Job types the token may use (a name or a prefix ending in *); default all.")
    List<String> types = new ArrayList<>();

    @Option(names = "--tokens-file", paramLabel = "FILE",
            description = "Append the tokens-file line to FILE (created if missing) and print only the token.")
    java.nio.file.Path tokensFile;

    @Override
    public Integer call() {
        List<Role> parsed = new ArrayList<>();
        for (String role : roles) {
            try {
                parsed.add(Role.valueOf(role.trim().toUpperCase(java.util.Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                spec.commandLine().getErr().println("jobwire token: unknown role '" + role + "' (use submit, work or admin)");
                return ExitCodes.USAGE;
            }
        }
        if (!principal.matches("[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}")) {
            spec.commandLine().getErr().println("jobwire token: --principal must be 1-128 characters of [A-Za-z0-9_.:-]");
            return ExitCodes.USAGE;
        }
        String token = TokenStore.newToken();
        String line = TokenStore.line(token, principal, parsed, types);
        if (tokensFile != null) {
            try {
                java.nio.file.Files.writeString(tokensFile, line + System.lineSeparator(),
                        java.nio.charset.StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
                        java.nio.file.StandardOpenOption.APPEND);
            } catch (java.io.IOException e) {
                spec.commandLine().getErr().println("jobwire token: --tokens-file " + tokensFile + ": cannot append to it ("
                        + e.getMessage() + ")");
                return ExitCodes.USAGE;
            }
            spec.commandLine().getOut().println(token);
        } else {
            spec.commandLine().getOut().println("token: " + token);
            spec.commandLine().getOut().println("tokens-file line: " + line);
        }
        spec.commandLine().getOut().flush();
        return ExitCodes.OK;
    }
}
