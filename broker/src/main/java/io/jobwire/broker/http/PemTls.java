package io.jobwire.broker.http;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/** The HTTP port's TLS, from the same PEM files as the gRPC port's ({@code --tls-cert}, {@code --tls-key}). */
public final class PemTls {
    private static final Pattern KEY = Pattern.compile("-----BEGIN PRIVATE KEY-----([^-]+)-----END PRIVATE KEY-----");

    private PemTls() {
    }

    public static SslContextFactory.Server of(Path certificateChain, Path privateKey) {
        try {
            Certificate[] chain;
            try (InputStream in = Files.newInputStream(certificateChain)) {
                chain = CertificateFactory.getInstance("X.509").generateCertificates(in).toArray(Certificate[]::new);
            }
            if (chain.length == 0) {
                throw new IllegalArgumentException("--tls-cert " + certificateChain + " holds no certificate");
            }
            Matcher pem = KEY.matcher(Files.readString(privateKey));
            if (!pem.find()) {
                throw new IllegalArgumentException("--tls-key " + privateKey + " is not a PKCS#8 key (-----BEGIN "
                        + "PRIVATE KEY-----); convert it with: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8");
            }
            PrivateKey key = key(Base64.getMimeDecoder().decode(pem.group(1)), chain[0].getPublicKey().getAlgorithm());
            char[] password = new char[24];
            SecureRandom random = new SecureRandom();
            for (int i = 0; i < password.length; i++) {
                password[i] = (char) ('a' + random.nextInt(26));
            }
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry("jobwire", key, password, chain);
            SslContextFactory.Server tls = new SslContextFactory.Server();
            tls.setKeyStore(store);
            tls.setKeyStorePassword(new String(password));
            tls.setSniRequired(false);
            return tls;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot read the TLS files for the HTTP port (--tls-cert, --tls-key): "
                    + e.getMessage(), e);
        }
    }

    private static PrivateKey key(byte[] pkcs8, String certificateAlgorithm) throws GeneralSecurityException {
        GeneralSecurityException last = null;
        for (String algorithm : List.of(certificateAlgorithm, "RSA", "EC", "Ed25519", "Ed448")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            } catch (GeneralSecurityException e) {
                last = e;
            }
        }
        throw last;
    }
}
