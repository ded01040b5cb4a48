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

/** The commands that act on one job by id and print it: get, cancel, retry, hold, release. */
final class JobCommands {
    private JobCommands() {
    }

    abstract static class OneJob extends ClientCommand {
        @Parameters(index = "0", paramLabel = "ID", description = "The job id.")
        String id;

        abstract Job apply(JobServiceGrpc.JobServiceBlockingStub jobs);

        @Override
        int run(ManagedChannel channel) {
            out().println(JobJson.pretty(apply(jobs(channel))));
            out().flush();
            return ExitCodes.OK;
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
    static final class Cancel extends OneJob {
        @Option(names = "--reason", description = "Why, kept with the job.")
        String reason = "";

        @Override
        Job apply(JobServiceGrpc.JobServiceBlockingStub jobs) {
            return jobs.cancel(CancelRequest.newBuilder().setId(id).setReason(reason).build());
        }
    }

    @Command(name = "retry", mixinStandardHelpOptions = true,
            description = "Queue a failed, cancelled or held job again, now, with a fresh budget of attempts.")
    static final class Retry extends OneJob {
        @Override
        Job apply(JobServiceGrpc.JobServiceBlockingStub jobs) {
            return jobs.retry(RetryRequest.newBuilder().setId(id).build());
        }
    }

    @Command(name = "hold", mixinStandardHelpOptions = true, description = "Park a queued job: it is kept but not run.")
    static final class Hold extends OneJob {
        @Override
        Job apply(JobServiceGrpc.JobServiceBlockingStub jobs) {
            return jobs.hold(HoldRequest.newBuilder().setId(id).build());
        }
    }

    @Command(name = "release", mixinStandardHelpOptions = true, description = "Queue a held job again.")
    static final class Release extends OneJob {
        @Override
        Job apply(JobServiceGrpc.JobServiceBlockingStub jobs) {
            return jobs.release(ReleaseRequest.newBuilder().setId(id).build());
        }
    }
}
