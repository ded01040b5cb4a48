package io.jobwire.broker.auth;

import io.grpc.Context;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Who is calling: a name (the owner of the jobs it submits), its roles, and the job types it may use
 * (empty: all). A type pattern is a name, or a prefix ending in {@code *}.
 */
public record Principal(String name, Set<Role> roles, List<String> typePatterns) {
    /** The caller of a broker that runs open (no tokens configured, loopback only): may do anything. */
    public static final Principal OPEN = new Principal("anonymous", EnumSet.allOf(Role.class), List.of());

    /** Where the interceptor leaves the caller for the services. */
    public static final Context.Key<Principal> CURRENT = Context.key("jobwire-principal");

    public Principal {
        roles = roles.isEmpty() ? EnumSet.noneOf(Role.class) : EnumSet.copyOf(roles);
        typePatterns = List.copyOf(typePatterns);
    }

    /** The caller of the current gRPC call ({@link #OPEN} when the broker does not authenticate). */
    public static Principal current() {
        Principal principal = CURRENT.get();
        return principal == null ? OPEN : principal;
    }

    public boolean isAdmin() {
        return roles.contains(Role.ADMIN);
    }

    /** True if the principal has {@code role}, or is an admin. */
    public boolean may(Role role) {
        return isAdmin() || roles.contains(role);
    }

    /** True if the principal may submit or run jobs of {@code type}. */
    public boolean mayUseType(String type) {
        if (typePatterns.isEmpty()) {
            return true;
        }
        for (String pattern : typePatterns) {
            if (pattern.endsWith("*") ? type.startsWith(pattern.substring(0, pattern.length() - 1)) : type.equals(pattern)) {
                return true;
            }
        }
        return false;
    }

    /** The owner whose jobs this principal may touch, or null for all owners (admins). */
    public String ownerScope() {
        return isAdmin() ? null : name;
    }
}
