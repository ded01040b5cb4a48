package io.jobwire.broker.auth;

import io.grpc.Context;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Who is calling: a name (the owner of the jobs it submits), its roles, and the job types it may use
 * (empty: all). A type pattern is a name, or a prefix ending in {@code *}. A caller holding a job token
 * also has a {@link JobScope}: it acts as the job's owner, for the types the scope allows, while the
 * attempt runs.
 */
public record Principal(String name, Set<Role> roles, List<String> typePatterns, JobScope job) {
    /** The caller of a broker that runs open (no tokens configured, loopback only): may do anything. */
    public static final Principal OPEN = new Principal("anonymous", EnumSet.allOf(Role.class), List.of());

    /** Where the interceptor leaves the caller for the services. */
    public static final Context.Key<Principal> CURRENT = Context.key("jobwire-principal");

    /**
     * What a job token adds: the job and attempt it was issued for (the parent of every job submitted with
     * it), and the types it may submit: the {@code uses} of the job type's registration (names or prefixes
     * ending in {@code *}). Empty: none.
     */
    public record JobScope(long jobId, int attempt, List<String> submitTypes) {
        public JobScope {
            submitTypes = List.copyOf(submitTypes);
        }
    }

    public Principal {
        roles = roles.isEmpty() ? EnumSet.noneOf(Role.class) : EnumSet.copyOf(roles);
        typePatterns = List.copyOf(typePatterns);
    }

    public Principal(String name, Set<Role> roles, List<String> typePatterns) {
        this(name, roles, typePatterns, null);
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
        if (job != null && (job.submitTypes().isEmpty() || !matches(job.submitTypes(), type))) {
            return false;
        }
        return typePatterns.isEmpty() || matches(typePatterns, type);
    }

    /** The job this caller's job token belongs to, or null when it holds no job token. */
    public Long parentJob() {
        return job == null ? null : job.jobId();
    }

    /** The owner whose jobs this principal may touch, or null for all owners (admins). */
    public String ownerScope() {
        return isAdmin() ? null : name;
    }

    static boolean matches(List<String> patterns, String type) {
        for (String pattern : patterns) {
            if (pattern.endsWith("*") ? type.startsWith(pattern.substring(0, pattern.length() - 1)) : type.equals(pattern)) {
                return true;
            }
        }
        return false;
    }
}
