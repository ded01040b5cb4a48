// The Jobwire benchmark's throughput scenario on pg-boss: N no-op jobs inserted in batches with boss.insert() while
// in-process workers (pg-boss's fastest settings: --concurrency workers via localConcurrency, each fetching and
// completing batches of 100, fetching again at once while batches come back full, woken by LISTEN/NOTIFY, polling at
// the 0.5 s minimum otherwise) work them off. Prints one JSON line; logs go to stderr.
//
//   node pgboss-bench.mjs --database-url postgres://... [--jobs 100000] [--batch 1000] [--concurrency 24] [--timeout 600]
import { PgBoss } from "pg-boss";
import { installedVersion, option, runOptions } from "./options.mjs";

const version = installedVersion("pg-boss");


const connectionString = option("database-url");
const { jobs, batch, concurrency, timeoutSeconds } = runOptions();
if (!connectionString) {
  console.error("usage: pgboss-bench.mjs --database-url postgres://... [--jobs N] [--batch N] [--concurrency N] [--timeout S]");
  process.exit(64);
}

const queue = "noop";
const workOptions = {
  localConcurrency: concurrency,
  batchSize: 100,
  burstWhenBatchFull: true,
  pollingIntervalSeconds: 0.5,
};

async function main() {
  // One pool connection per worker, plus the LISTEN connection, the inserts and pg-boss's own supervision.
  const boss = new PgBoss({ connectionString, max: concurrency + 4, useListenNotify: true });
  boss.on("error", (error) => console.error("pg-boss error:", error));
  boss.on("warning", (warning) => console.error("pg-boss warning:", warning.message ?? warning));
  await boss.start();
  if (await boss.getQueue(queue)) await boss.deleteQueue(queue);
  await boss.createQueue(queue, { notify: true });

  let done = 0;
  let finished;
  const allDone = new Promise((resolve) => (finished = resolve));
  await boss.work(queue, workOptions, async (batchOfJobs) => {
    done += batchOfJobs.length;
    if (done >= jobs) finished(process.hrtime.bigint());
  });
  const timer = setTimeout(() => {
    console.error(`timed out after ${timeoutSeconds} s with ${done} of ${jobs} jobs done`);
    process.exit(2);
  }, timeoutSeconds * 1000);

  const start = process.hrtime.bigint();
  for (let added = 0; added < jobs; added += batch) {
    const size = Math.min(batch, jobs - added);
    await boss.insert(queue, Array.from({ length: size }, () => ({ data: {} })));
  }
  const submitted = process.hrtime.bigint();
  const end = await allDone;
  clearTimeout(timer);
  await boss.offWork(queue);

  // Untimed check that every job was completed exactly once (a batch handled twice would reach the count early).
  const { rows } = await boss.getDb().executeSql(
    "SELECT count(*) FILTER (WHERE state = 'completed') AS completed, count(*) AS total FROM pgboss.job WHERE name = $1",
    [queue],
  );
  await boss.stop({ graceful: true });
  if (Number(rows[0].completed) !== jobs || Number(rows[0].total) !== jobs || done !== jobs) {
    throw new Error(`expected ${jobs} completed jobs, found ${rows[0].completed} of ${rows[0].total} (handled ${done})`);
  }

  const seconds = (t) => Number(t - start) / 1e9;
  const round = (x) => Math.round(x * 100) / 100;
  console.log(JSON.stringify({
    system: "pg-boss",
    version,
    node: process.version,
    jobs,
    batch,
    concurrency,
    localConcurrency: workOptions.localConcurrency,
    batchSize: workOptions.batchSize,
    burstWhenBatchFull: workOptions.burstWhenBatchFull,
    pollingIntervalSeconds: workOptions.pollingIntervalSeconds,
    useListenNotify: true,
    submitSeconds: round(seconds(submitted)),
    endToEndSeconds: round(seconds(end)),
    submittedPerSecond: round(jobs / seconds(submitted)),
    completedPerSecond: round(jobs / seconds(end)),
  }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
