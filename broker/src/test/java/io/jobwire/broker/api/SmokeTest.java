package io.jobwire.broker.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobState;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void submittedJobIsRunAndCompleted() {
        try (BrokerFixture fixture = BrokerFixture.start()) {
            String id = fixture.submit("email.send", "{\"to\":\"a@b.c\"}");
            RawWorker worker = fixture.connectWorker("w1", 4, "email.send");
            AssignedJob job = worker.take(1).get(0);
            assertThat(job.getLease().getJobId()).isEqualTo(id);
            assertThat(job.getPayload()).contains("a@b.c");
            assertThat(worker.complete(job.getLease(), "{\"ok\":true}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            Job done = fixture.jobs().get(GetRequest.newBuilder().setId(id).build());
            assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(done.getResult()).isEqualTo("{\"ok\": true}");
            assertThat(done.getAttemptsList()).hasSize(1);
        }
    }
}
