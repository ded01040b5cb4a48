package io.jobwire.broker.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Loads the statements kept as {@code .sql} resources next to the classes that run them. A line
 * {@code -- @lease-fence} is replaced by {@code lease_fence.sql} of the same package: the WHERE clause
 * that fences every worker write, written once; a line {@code -- @include <name>} by {@code <name>.sql}
 * (a part several statements share), and {@code -- @include <name>(<rows>)} by the same with each
 * {@code {rows}} in it replaced by {@code <rows>} (the CTE whose rows the part works on); {@code /*@change_row*}{@code /} by the columns of a change row
 * ({@link #CHANGE_ROW}), and {@code /*@change_row j*}{@code /} by the same with the table alias {@code j.}.
 */
final class Sql {
    private static final Map<String, String> CACHE = new ConcurrentHashMap<>();

    private Sql() {
    }

    /** The text of {@code <package of owner>/<name>.sql}. */
    static String load(Class<?> owner, String name) {
        String folder = owner.getPackageName().replace('.', '/') + "/";
        return CACHE.computeIfAbsent(folder + name + ".sql", path -> {
            String text = read(path);
            text = text.contains(LEASE_FENCE) ? text.replace(LEASE_FENCE, read(folder + "lease_fence.sql")) : text;
            Matcher include = INCLUDE.matcher(text);
            text = include.replaceAll(line -> Matcher.quoteReplacement(line.group(2) == null
                    ? read(folder + line.group(1) + ".sql")
                    : read(folder + line.group(1) + ".sql").replace("{rows}", line.group(2))));
            text = CHANGE_ROW_MACRO.matcher(text).replaceAll(macro -> changeRow(macro.group(1)));
            return withoutComments(text);
        });
    }

    /**
     * What every write that changes jobs returns for each: the {@link JobChange} the bus and the
     * announcer carry, and the lease's end for the worker's Ack (read by {@code JobStore.AppliedRow}).
     */
    static final List<String> CHANGE_ROW = List.of("id", "version", "state", "attempt", "run_at", "type", "queue",
            "owner", "lease_expires_at", "concurrency_key", "rate_key");
    private static final Pattern CHANGE_ROW_MACRO = Pattern.compile("/\\*@change_row(?: (\\w+))?\\*/");

    private static String changeRow(String alias) {
        return CHANGE_ROW.stream().map(column -> alias == null ? column : alias + "." + column)
                .collect(Collectors.joining(", "));
    }

    private static final String LEASE_FENCE = "-- @lease-fence";
    /** A line {@code -- @include <name>[(<rows>)]}: replaced by {@code <name>.sql} of the same package. */
    private static final Pattern INCLUDE = Pattern.compile("(?m)^[ \\t]*-- @include (\\w+)(?:\\((\\w+)\\))?[ \\t]*$");

    /**
     * The statement without its lines that end in {@code -- @<tag>}: one file, two variants of a
     * statement. A statement without such a line is a mistake in the caller, so it fails loudly.
     */
    static String without(String sql, String tag) {
        String marker = "-- @" + tag;
        if (sql.lines().noneMatch(line -> line.stripTrailing().endsWith(marker))) {
            throw new IllegalStateException("no line tagged " + marker + " in " + sql);
        }
        return sql.lines().filter(line -> !line.stripTrailing().endsWith(marker)).collect(Collectors.joining("\n"));
    }

    private static final Pattern NAMED_PARAMETER = Pattern.compile("(?<![:\\w]):(?=[A-Za-z])");

    /**
     * The statement with each named parameter {@code :name} renamed {@code :<prefix>name} (casts such as
     * {@code ::text} stay), so two statements can share one text, and one round trip, without their
     * parameters meeting.
     */
    static String withParametersPrefixed(String sql, String prefix) {
        return NAMED_PARAMETER.matcher(sql).replaceAll(":" + prefix);
    }

    /**
     * Drops whole-line comments: PostgreSQL copies a statement's text on every execution (and the
     * driver sends it with every parse), and the comments are for the reader of the file.
     */
    private static String withoutComments(String sql) {
        return sql.lines().filter(line -> !line.stripLeading().startsWith("--")).collect(Collectors.joining("\n"));
    }

    private static String read(String path) {
        try (InputStream in = Sql.class.getClassLoader().getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("missing SQL resource " + path);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read SQL resource " + path, e);
        }
    }
}
