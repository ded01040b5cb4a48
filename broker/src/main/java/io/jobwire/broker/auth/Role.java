package io.jobwire.broker.auth;

import java.util.Locale;

/** What a token may do. */
public enum Role {
    /** Submit jobs and see, watch, cancel, retry, hold and release its own. */
    SUBMIT,
    /** Run a worker stream for the job types the token allows. */
    WORK,
    /** Everything, for every owner. */
    ADMIN;

    static Role parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown role '" + text + "' (use submit, work or admin)");
        }
    }
}
