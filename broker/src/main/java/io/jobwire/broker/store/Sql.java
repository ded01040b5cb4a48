package io.jobwire.broker.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Loads the statements kept as {@code .sql} resources next to the classes that run them. */
final class Sql {
    private static final Map<String, String> CACHE = new ConcurrentHashMap<>();

    private Sql() {
    }

    /** The text of {@code <package of owner>/<name>.sql}. */
    static String load(Class<?> owner, String name) {
        String path = owner.getPackageName().replace('.', '/') + "/" + name + ".sql";
        return CACHE.computeIfAbsent(path, Sql::read);
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
