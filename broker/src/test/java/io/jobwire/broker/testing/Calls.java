package io.jobwire.broker.testing;

import io.grpc.Status;
import io.jobwire.client.JobwireException;

/** What a client or stub call answered, as a status code (OK when it returned). */
public final class Calls {
    private Calls() {
    }

    public static Status.Code codeOf(Runnable call) {
        try {
            call.run();
            return Status.Code.OK;
        } catch (JobwireException e) {
            return e.code();
        } catch (io.grpc.StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }

    /** The status description a call was refused with (null when it returned). */
    public static String messageOf(Runnable call) {
        try {
            call.run();
            return null;
        } catch (JobwireException e) {
            return e.getMessage();
        } catch (io.grpc.StatusRuntimeException e) {
            return e.getStatus().getDescription();
        }
    }
}
