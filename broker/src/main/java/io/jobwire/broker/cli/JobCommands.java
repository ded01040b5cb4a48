package io.jobwire.broker.cli;

import io.grpc.ManagedChannel;
import io.jobwire.api.v1.CancelRequest;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.HoldRequest;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.api.v1.ReleaseRequest;
import io.jobwire.api.v1.RetryRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The commands that act on one job by id and print it: get, cancel, retry, hold, release; the four
 * actions also on every job a filter matches ({@code --filter}), with {@code --dry-run} to count first.
 */
final class JobCommands {
    private JobCommands() {
    }

    abstract static class OneJob extends ClientCommand {
        @Parameters(index = "0", paramLabel = "ID", description = "The job id.")
        String id;

        @Override
        int run(ManagedChannel channel) {
            out().println(JobJson.pretty(apply(jobs(channel))));
            out().flush();
            return ExitCodes.OK;
        }

        abstract Job apply(JobServiceGrpc.JobServiceBlockingStub jobs);
    }

    /** An action on one job by id, or with --filter on every job the filter matches (newest first). */
    abstract static class Action extends ClientCommand {
        static final int MAX = 10_000;

        @Parameters(index = "0", arity = "0..1", paramLabel = "ID", description = "The job id (or --filter).")
        String id;

        @Option(names = "--filter", description = "Act on every job matching --state, --type, --queue, --label, "
                + "--owner instead of one id (at most --limit, newest first).")
        boolean filter;

        @Option(names = "--state", converter = JobStates.class, description = "With --filter: jobs in this state; repeat for more.")
        java.util.List<io.jobwire.api.v1.JobState> states = new java.util.ArrayList<>();

        @Option(names = "--type", description = "With --filter: jobs of this type.")
        String type = "";

        @Option(names = "--queue", description = "With --filter: jobs in this queue.")
        String queue = "";

        @Option(names = "--owner", description = "With --filter: jobs of this owner (admin).")
        String owner = "";

        @Option(names = "--label", paramLabel = "KEY=VALUE", description = "With --filter: jobs with this label; repeat for more.")
        java.util.Map<String, String> labels = new java.util.LinkedHashMap<>();

        @Option(names = "--dry-run", description = "With --filter: print how many jobs match, change nothing.")
        boolean dryRun;

        @Option(names = "--limit", defaultValue = "10000", description = "With --filter: at most this many jobs (default and most: 10000).")
        int limit;

        abstract String verb();

        abstract Job apply(JobServiceGrpc.JobServiceBlockingStub jobs, String jobId);

        @Override
        int run(ManagedChannel channel) {
            JobServiceGrpc.JobServiceBlockingStub jobs = jobs(channel);
            if (!filter) {
                if (id == null) {
                    throw new IllegalArgumentException("give a job id, or --filter with --state/--type/--queue/--label");
                }
                if (dryRun || !states.isEmpty() || !type.isEmpty() || !queue.isEmpty() || !labels.isEmpty() || !owner.isEmpty()) {
                    throw new IllegalArgumentException("--state, --type, --queue, --label, --owner and --dry-run go with --filter");
                }
                out().println(JobJson.pretty(apply(jobs, id)));
                out().flush();
                return ExitCodes.OK;
            }
            if (id != null) {
                throw new IllegalArgumentException("--filter acts on the jobs it matches: give no id");
            }
            if (limit < 1 || limit > MAX) {
                throw new IllegalArgumentException("--limit must be between 1 and " + MAX + ", got " + limit);
            }
            java.util.List<String> ids = matching(jobs);
            boolean more = ids.size() > limit;
            if (more) {
                ids = ids.subList(0, limit);
            }
            String what = ids.size() + (ids.size() == 1 ? " job" : " jobs") + (more ? " (the newest; more match)" : "");
            if (dryRun) {
                out().println(what + " match; nothing changed (--dry-run)");
                out().flush();
                return ExitCodes.OK;
            }
            int done = 0;
            int skipped = 0;
            for (String jobId : ids) {
                try {
                    apply(jobs, jobId);
                    done++;
                } catch (io.grpc.StatusRuntimeException e) {
                    io.grpc.Status.Code code = e.getStatus().getCode();
                    if (code == io.grpc.Status.Code.FAILED_PRECONDITION || code == io.grpc.Status.Code.NOT_FOUND) {
                        skipped++; // it changed state since it was listed
                    } else {
                        throw e;
                    }
                }
            }
            out().println(verb() + " " + done + (done == 1 ? " job" : " jobs")
                    + (skipped > 0 ? "; " + skipped + " had changed state meanwhile and were left alone" : ""));
            out().flush();
            return ExitCodes.OK;
        }

        private java.util.List<String> matching(JobServiceGrpc.JobServiceBlockingStub jobs) {
            java.util.List<String> ids = new java.util.ArrayList<>();
            io.jobwire.api.v1.ListRequest.Builder request = io.jobwire.api.v1.ListRequest.newBuilder().addAllStates(states)
                    .setType(type).setQueue(queue).setOwner(owner).putAllLabels(labels).setPageSize(1000);
            while (ids.size() <= limit) {
                io.jobwire.api.v1.ListResponse page = jobs.list(request.build());
                page.getJobsList().forEach(job -> ids.add(job.getId()));
                if (page.getNextPageToken().isEmpty()) {
                    break;
                }
                request.setPageToken(page.getNextPageToken());
            }
            return ids;
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Print a job, with its attempt history, as JSON.")
    static final class Get extends OneJob {
        @Override
        Job apply(JobServiceGrpc.JobServiceBlockingStub jobs) {
            return jobs.get(GetRequest.newBuilder().setId(id).build());
        }
    }

    @Command(name = "cancel", mixinStandardHelpOptions = true,
            description = "Cancel a queued, held or running job (a running job's worker is told to stop).")
    static final class Cancel extends Action {
        @Option(names = "--reason", description = "Why, kept with the job.")
        String reason = "";

        @Override
        String verb() {
            return "cancelled";
        }

        @Override
        Job apply(JobServiceGrpc.JobServiceBlockingStub jobs, String jobId) {
            return jobs.cancel(CancelRequest.newBuilder().setId(jobId).setReason(reason).build());
        }
    }

    @Command(name = "retry", mixinStandardHelpOptions = true,
            description = "Queue a failed, cancelled or held job again, now, with a fresh budget of attempts.")
    static final class Retry extends Action {
        @Override
        String verb() {
            return "queued again";
        }

        @Override
        Job apply(JobServiceGrpc.JobServiceBlockingStub jobs, String jobId) {
            return jobs.retry(RetryRequest.newBuilder().setId(jobId).build());
        }
    }

    @Command(name = "hold", mixinStandardHelpOptions = true, description = "Park a queued job: it is kept but not run.")
    static final class Hold extends Action {
        @Override
        String verb() {
            return "held";
        }

        @Override
        Job apply(JobServiceGrpc.JobServiceBlockingStub jobs, String jobId) {
            return jobs.hold(HoldRequest.newBuilder().setId(jobId).build());
        }
    }

    @Command(name = "release", mixinStandardHelpOptions = true, description = "Queue a held job again.")
    static final class Release extends Action {
        @Override
        String verb() {
            return "released";
        }

        @Override
        Job apply(JobServiceGrpc.JobServiceBlockingStub jobs, String jobId) {
            return jobs.release(ReleaseRequest.newBuilder().setId(jobId).build());
        }
    }
}
