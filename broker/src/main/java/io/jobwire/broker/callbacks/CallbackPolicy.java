package io.jobwire.broker.callbacks;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Locale;

/**
 * Where callbacks may go. By default only {@code https}, and never to an address that is loopback,
 * private, link-local (where cloud metadata services live), shared (CGNAT), unique-local, multicast or
 * otherwise not on the public internet, so a submitter cannot make the broker call into the network it
 * runs in. The operator widens it with address ranges ({@code serve --callback-allow CIDR}) and plain
 * {@code http} ({@code --callback-allow-http}). A URL is checked at submit, and the addresses its host
 * resolves to are checked again before every attempt (all of them: one internal address refuses the URL).
 */
public final class CallbackPolicy {
    public static final int MAX_URL_LENGTH = 2048;
    private static final List<AddressRange> INTERNAL = List.of(
            AddressRange.parse("0.0.0.0/8"), AddressRange.parse("100.64.0.0/10"), AddressRange.parse("192.0.0.0/24"),
            AddressRange.parse("198.18.0.0/15"), AddressRange.parse("240.0.0.0/4"), AddressRange.parse("fc00::/7"),
            AddressRange.parse("64:ff9b::/96"), AddressRange.parse("::/128"));

    private final List<AddressRange> allowed;
    private final boolean allowHttp;

    public CallbackPolicy(List<AddressRange> allowed, boolean allowHttp) {
        this.allowed = List.copyOf(allowed);
        this.allowHttp = allowHttp;
    }

    /** The URL parsed, or IllegalArgumentException saying what is wrong with it (for INVALID_ARGUMENT). */
    public URI checkUrl(String url) {
        if (url.length() > MAX_URL_LENGTH) {
            throw new IllegalArgumentException("must be at most " + MAX_URL_LENGTH + " characters, got " + url.length());
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("is not a URL: " + e.getReason());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !(scheme.equals("http") && allowHttp)) {
            throw new IllegalArgumentException(scheme.equals("http")
                    ? "must be https (this broker does not allow plain http callbacks: serve --callback-allow-http)"
                    : "must be an https URL");
        }
        if (uri.getHost() == null || uri.getRawUserInfo() != null) {
            throw new IllegalArgumentException("must name a host, without user info");
        }
        String host = uri.getHost();
        if (isLiteral(host)) {
            try {
                String refused = refusal(InetAddress.getByName(unbracket(host)));
                if (refused != null) {
                    throw new IllegalArgumentException(refused);
                }
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("has an address that is not valid");
            }
        }
        return uri;
    }

    /** Why the broker may not call {@code address}, or null when it may. */
    public String refusal(InetAddress address) {
        for (AddressRange range : allowed) {
            if (range.contains(address)) {
                return null;
            }
        }
        String kind = address.isLoopbackAddress() ? "loopback"
                : address.isLinkLocalAddress() ? "link-local (where cloud metadata lives)"
                : address.isSiteLocalAddress() ? "private"
                : address.isAnyLocalAddress() ? "unspecified"
                : address.isMulticastAddress() ? "multicast"
                : INTERNAL.stream().anyMatch(range -> range.contains(address)) ? "internal" : null;
        return kind == null ? null : "goes to " + address.getHostAddress() + ", a " + kind + " address, which this "
                + "broker does not call (serve --callback-allow CIDR allows a range)";
    }

    /** Resolves the host and checks every address; throws {@link RefusedAddressException} for a refused one. */
    public InetAddress[] resolve(String host) throws UnknownHostException {
        InetAddress[] addresses = InetAddress.getAllByName(unbracket(host));
        for (InetAddress address : addresses) {
            String refused = refusal(address);
            if (refused != null) {
                throw new RefusedAddressException(host + " " + refused);
            }
        }
        return addresses;
    }

    private static boolean isLiteral(String host) {
        return host.startsWith("[") || host.matches("[0-9.]+");
    }

    private static String unbracket(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    /** A callback's host resolved to an address the policy refuses. */
    public static final class RefusedAddressException extends RuntimeException {
        public RefusedAddressException(String message) {
            super(message, null, false, false);
        }
    }
}
