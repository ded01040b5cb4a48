package io.jobwire.broker.cli;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.client.BrokerConnection;
import io.jobwire.client.JobwireException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * A command that calls the broker. Failures print the status and the broker's message, never a stack
 * trace, and exit with {@link ExitCodes#BROKER_ERROR}.
 */
abstract class ClientCommand implements Callable<Integer> {
    @Mixin
    ClientOptions client;

    @Spec
    CommandSpec spec;

    /** Runs the command over an open channel; returns the exit code. */
    abstract int run(ManagedChannel channel) throws Exception;

    JobServiceGrpc.JobServiceBlockingStub jobs(ManagedChannel channel) {
        return stub(channel).withDeadlineAfter(client.timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** A stub without a deadline (for watches), carrying the token if one was given. */
    JobServiceGrpc.JobServiceBlockingStub stub(ManagedChannel channel) {
        JobServiceGrpc.JobServiceBlockingStub stub = JobServiceGrpc.newBlockingStub(channel);
        return client.token() == null ? stub : stub.withCallCredentials(BrokerConnection.bearer(client.token()));
    }

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    /** Failures (a broker's refusal, a bad argument) go to {@code JobwireCommand}'s one exception handler. */
    @Override
    public Integer call() throws Exception {
        try (BrokerConnection connection = client.connect()) {
            return run(connection.channel(0));
        }
    }

    /** The broker's status as one line's text: its description, or why the broker could not be reached. */
    String describe(Status status) {
        String description = JobwireException.describe(status);
        if (status.getCode() == Status.Code.UNAVAILABLE && description != null
                && (description.startsWith("io exception") || description.startsWith("cannot connect"))) {
            return "cannot reach a broker at " + client.target;
        }
        return description;
    }
}
