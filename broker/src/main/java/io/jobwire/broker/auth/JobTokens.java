package io.jobwire.broker.auth;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Job tokens: the bearer token each assignment carries, with which the handler acts as the job's owner
 * while its attempt runs.
 *
 * <p>A token is {@code jwj_<job id>_<attempt>_<mac>}, the mac an HMAC-SHA256 keyed with the attempt's lease
 * token (the random secret the claim drew, which only the database and the worker holding the lease know)
 * over the job id and attempt. Nothing is stored for it and no broker keeps a key: any broker checks a
 * token by reading the job's row, so the token works exactly while that row says the attempt runs with
 * that lease token and the lease has not run out, and stops on every broker the moment the attempt ends
 * (finish, release, cancel, lease lost). The token does not reveal the lease token, so holding it does not
 * let anyone finish the job.
 */
public final class JobTokens {
    /** How every job token begins; other bearer tokens never do ({@link TokenStore#newToken()}: {@code jw_}). */
    public static final String PREFIX = "jwj_";
    private static final Pattern FORM = Pattern.compile("jwj_([0-9]{1,19})_([0-9]{1,10})_([A-Za-z0-9_-]{43})");
    private static final byte[] CONTEXT = "jobwire job token v1".getBytes(StandardCharsets.US_ASCII);
    private static final ThreadLocal<Mac> MACS = ThreadLocal.withInitial(() -> {
        try {
            return Mac.getInstance("HmacSHA256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    });

    /** What the database says of a job that runs now, with the types its registration lets it submit. */
    public record RunningAttempt(long jobId, int attempt, UUID leaseToken, String owner, boolean leaseUnexpired,
                                 List<String> uses) {
    }

    /** Reads the job's running attempt, if it runs (one primary-key lookup). */
    @FunctionalInterface
    public interface Lookup {
        Optional<RunningAttempt> running(long jobId);
    }

    private final Lookup lookup;
    private final TokenStore tokens;

    /**
     * @param lookup reads the attempt a token names
     * @param tokens the broker's tokens: a job token acts within the submit rights of the job's owner
     */
    public JobTokens(Lookup lookup, TokenStore tokens) {
        this.lookup = lookup;
        this.tokens = tokens;
    }

    /** Whether a bearer token is a job token (by its form; it may still be invalid). */
    public static boolean isJobToken(String token) {
        return token.startsWith(PREFIX);
    }

    /** The job token of one attempt. */
    public static String issue(long jobId, int attempt, UUID leaseToken) {
        return PREFIX + jobId + "_" + attempt + "_"
                + Base64.getUrlEncoder().withoutPadding().encodeToString(mac(jobId, attempt, leaseToken));
    }

    /**
     * The principal a job token acts as while its attempt runs: the job's owner, allowed to submit and to read
     * and manage its own jobs, for the types the job's registration lists in {@code uses} within the owner's
     * rights. Empty when the token is malformed or forged, or its attempt is no longer running.
     *
     * @throws RuntimeException when the database cannot be read (the caller answers UNAVAILABLE)
     */
    public Optional<Principal> authenticate(String token) {
        Matcher form = FORM.matcher(token);
        if (!form.matches()) {
            return Optional.empty();
        }
        long jobId;
        int attempt;
        try {
            jobId = Long.parseLong(form.group(1));
            attempt = Integer.parseInt(form.group(2));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        byte[] presented = Base64.getUrlDecoder().decode(form.group(3));
        Optional<RunningAttempt> running = lookup.running(jobId);
        if (running.isEmpty()) {
            return Optional.empty();
        }
        RunningAttempt now = running.get();
        if (now.attempt() != attempt || !now.leaseUnexpired()
                || !MessageDigest.isEqual(presented, mac(jobId, attempt, now.leaseToken()))) {
            return Optional.empty();
        }
        Optional<List<String>> rights = tokens.submitRights(now.owner());
        Principal.JobScope scope = new Principal.JobScope(jobId, attempt, now.uses());
        return Optional.of(rights
                .map(types -> new Principal(now.owner(), EnumSet.of(Role.SUBMIT), types, scope))
                // The owner may no longer submit: the token is known, but may do nothing.
                .orElseGet(() -> new Principal(now.owner(), EnumSet.noneOf(Role.class), List.of(), scope)));
    }

    private static byte[] mac(long jobId, int attempt, UUID leaseToken) {
        Mac mac = MACS.get();
        ByteBuffer key = ByteBuffer.allocate(16)
                .putLong(leaseToken.getMostSignificantBits())
                .putLong(leaseToken.getLeastSignificantBits());
        try {
            mac.init(new SecretKeySpec(key.array(), "HmacSHA256"));
        } catch (InvalidKeyException e) {
            throw new IllegalStateException("a 16-byte HMAC key is valid", e);
        }
        mac.update(CONTEXT);
        return mac.doFinal(ByteBuffer.allocate(12).putLong(jobId).putInt(attempt).array());
    }
}
