package io.jobwire.broker.testing;

import io.jobwire.broker.auth.Role;
import io.jobwire.broker.auth.TokenStore;
import io.jobwire.client.JobwireClient;
import java.util.List;

/**
 * A broker with tokens on an existing database, and a client for each of two principals: {@code ops}, an
 * admin, and {@code shop}, who may only submit (and see its own jobs). For tests of what only an admin
 * may do, and of what one owner may see of another's.
 */
public record OpsAndShop(BrokerFixture broker, JobwireClient asOps, JobwireClient asShop) implements AutoCloseable {

    public static OpsAndShop start(String jdbcUrl) {
        String admin = TokenStore.newToken();
        String shop = TokenStore.newToken();
        BrokerFixture broker = BrokerFixture.start(jdbcUrl, c -> c.tokens(String.join("\n",
                TokenStore.line(admin, "ops", List.of(Role.ADMIN), List.of()),
                TokenStore.line(shop, "shop", List.of(Role.SUBMIT), List.of()))));
        String target = "127.0.0.1:" + broker.broker().port();
        return new OpsAndShop(broker, JobwireClient.builder().target(target).token(admin).build(),
                JobwireClient.builder().target(target).token(shop).build());
    }

    @Override
    public void close() {
        asShop.close();
        asOps.close();
        broker.close();
    }
}
