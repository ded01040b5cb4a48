package io.jobwire.broker.auth;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The bearer tokens the broker accepts, stored as SHA-256 hashes so the file holds no secret. One token
 * a line:
 *
 * <pre>
 * # sha256:HASH  PRINCIPAL  ROLES           [TYPES]
 * sha256:3f1a...  shop       submit
 * sha256:9c2e...  mailer     work            email.*,sms.send
 * sha256:77b0...  ops        admin
 * </pre>
 *
 * {@code jobwire token} makes a token and prints its line. A presented token is hashed and compared
 * with every entry in constant time.
 */
public final class TokenStore {
    private record Entry(byte[] hash, Principal principal) {
    }

    private final List<Entry> entries;

    private TokenStore(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    public static TokenStore empty() {
        return new TokenStore(List.of());
    }

    /** Reads token lines from a file ({@code --tokens-file}). */
    public static TokenStore fromFile(Path file) {
        try {
            return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the tokens file " + file, e);
        }
    }

    /** Parses token lines; {@code source} names where they came from in error messages. */
    public static TokenStore parse(String text, String source) {
        List<Entry> entries = new ArrayList<>();
        String[] lines = text.split("[\\n;]");
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            try {
                entries.add(entry(line));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(source + ", entry " + (i + 1) + ": " + e.getMessage());
            }
        }
        return new TokenStore(entries);
    }

    private static Entry entry(String line) {
        String[] fields = line.split("\\s+");
        if (fields.length < 3 || fields.length > 4 || !fields[0].startsWith("sha256:")) {
            throw new IllegalArgumentException("expected 'sha256:HASH PRINCIPAL ROLES [TYPES]'");
        }
        byte[] hash;
        try {
            hash = HexFormat.of().parseHex(fields[0].substring("sha256:".length()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the hash is not hexadecimal");
        }
        if (hash.length != 32) {
            throw new IllegalArgumentException("the hash must be 64 hex digits (SHA-256)");
        }
        Set<Role> roles = EnumSet.noneOf(Role.class);
        Arrays.stream(fields[2].split(",")).map(Role::parse).forEach(roles::add);
        List<String> types = fields.length == 4 ? Arrays.asList(fields[3].split(",")) : List.of();
        return new Entry(hash, new Principal(fields[1], roles, types));
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }

    public int size() {
        return entries.size();
    }

    /** The principal a token belongs to; every entry is compared, each in constant time. */
    public Optional<Principal> authenticate(String token) {
        byte[] presented = sha256(token);
        Principal found = null;
        for (Entry entry : entries) {
            if (MessageDigest.isEqual(presented, entry.hash()) && found == null) {
                found = entry.principal();
            }
        }
        return Optional.ofNullable(found);
    }

    /**
     * The job types the principal {@code name} may submit, as type patterns (empty: all), or empty when
     * none of its tokens may submit. A broker without tokens (open) lets everyone submit everything. Job
     * tokens act within these rights of the job's owner: revoking the owner's tokens revokes its jobs' too.
     */
    public Optional<List<String>> submitRights(String name) {
        if (entries.isEmpty()) {
            return Optional.of(List.of());
        }
        List<String> patterns = new ArrayList<>();
        boolean any = false;
        for (Entry entry : entries) {
            Principal principal = entry.principal();
            if (!principal.name().equals(name) || !principal.may(Role.SUBMIT)) {
                continue;
            }
            if (principal.isAdmin() || principal.typePatterns().isEmpty()) {
                return Optional.of(List.of());
            }
            any = true;
            patterns.addAll(principal.typePatterns());
        }
        return any ? Optional.of(List.copyOf(patterns)) : Optional.empty();
    }

    /** A new random token (256 bits, URL-safe base64). */
    public static String newToken() {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return "jw_" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** The line that admits {@code token} for a principal with these roles and types. */
    public static String line(String token, String principal, List<Role> roles, List<String> types) {
        String roleList = String.join(",", roles.stream().map(r -> r.name().toLowerCase(java.util.Locale.ROOT)).toList());
        return "sha256:" + HexFormat.of().formatHex(sha256(token)) + " " + principal + " " + roleList
                + (types.isEmpty() ? "" : " " + String.join(",", types));
    }

    static byte[] sha256(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
