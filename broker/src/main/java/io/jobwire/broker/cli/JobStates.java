package io.jobwire.broker.cli;

import io.jobwire.api.v1.JobState;
import java.util.Locale;
import picocli.CommandLine;

/** Job states as people type and read them: {@code queued}, {@code RUNNING}, ... */
final class JobStates implements CommandLine.ITypeConverter<JobState> {
    @Override
    public JobState convert(String value) {
        String name = value.trim().toUpperCase(Locale.ROOT);
        try {
            JobState state = JobState.valueOf(name.startsWith("JOB_STATE_") ? name : "JOB_STATE_" + name);
            if (state != JobState.JOB_STATE_UNSPECIFIED && state != JobState.UNRECOGNIZED) {
                return state;
            }
        } catch (IllegalArgumentException e) {
            // fall through
        }
        throw new CommandLine.TypeConversionException("'" + value
                + "' is not a job state; use queued, running, succeeded, failed, cancelled, held or waiting");
    }

    static String name(JobState state) {
        return state.name().replace("JOB_STATE_", "");
    }
}
