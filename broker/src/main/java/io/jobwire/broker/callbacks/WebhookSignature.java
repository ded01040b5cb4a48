package io.jobwire.broker.callbacks;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Signing per the Standard Webhooks spec (standardwebhooks.com): the signature is the base64 of
 * HMAC-SHA256, keyed with the secret's bytes (the base64 after {@code whsec_}), over
 * {@code webhook-id.webhook-timestamp.body}, sent as {@code v1,<signature>}; several, separated by spaces,
 * while a rotated secret still signs.
 */
public final class WebhookSignature {
    public static final String PREFIX = "whsec_";

    private WebhookSignature() {
    }

    /** A new secret: 32 random bytes. */
    public static String newSecret() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return PREFIX + Base64.getEncoder().encodeToString(key);
    }

    /** The {@code webhook-signature} header for the body, signed with each secret given (nulls skipped). */
    public static String header(String webhookId, long timestampSeconds, byte[] body, String... secrets) {
        List<String> signatures = new ArrayList<>();
        for (String secret : secrets) {
            if (secret != null) {
                signatures.add("v1," + sign(secret, webhookId, timestampSeconds, body));
            }
        }
        return String.join(" ", signatures);
    }

    static String sign(String secret, String webhookId, long timestampSeconds, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(Base64.getDecoder().decode(secret.substring(PREFIX.length())), "HmacSHA256"));
            mac.update((webhookId + "." + timestampSeconds + ".").getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(mac.doFinal(body));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }
}
