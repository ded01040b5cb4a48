package io.jobwire.broker.store;

/**
 * The result of an operator transition (cancel, retry, hold, release). {@code job} is null when no
 * job has the id; otherwise it is the job after the transition, or as found when it was refused.
 */
public record Transition(JobRecord job, boolean applied) {

    public boolean found() {
        return job != null;
    }
}
