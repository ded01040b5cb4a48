// The Jobwire benchmark's throughput scenario on graphile-worker: N no-op jobs added in batches while
// an in-process runner (graphile-worker's fastest settings: local queue of 500, completions batched
// with no delay) works them off. Prints one JSON line; logs go to stderr.
//
//   node graphile-bench.mjs --database-url postgres://... [--jobs 100000] [--batch 1000] [--concurrency 24] [--timeout 600]
import { Logger, makeWorkerUtils, run, runMigrations } from "graphile-worker";
import { installedVersion, option, runOptions } from "./options.mjs";

const version = installedVersion("graphile-worker");


const connectionString = option("database-url");
const { jobs, batch, concurrency, timeoutSeconds } = runOptions();
if (!connectionString) {
  console.error("usage: graphile-bench.mjs --database-url postgres://... [--jobs N] [--batch N] [--concurrency N] [--timeout S]");
  process.exit(64);
}

const preset = {
  worker: {
    connectionString,
    concurrentJobs: concurrency,
    maxPoolSize: concurrency + 4,
    pollInterval: 100,
    localQueue: { size: 500 },
    completeJobBatchDelay: 0,
    failJobBatchDelay: 0,
  },
};

async function main() {
  await runMigrations({ connectionString, preset });
  const utils = await makeWorkerUtils({ connectionString, preset });
  await utils.withPgClient((client) => client.query("DELETE FROM graphile_worker._private_jobs"));

  let done = 0;
  let finished;
  const allDone = new Promise((resolve) => (finished = resolve));
  const runner = await run({
    connectionString,
    concurrency,
    noHandleSignals: true,
    // Per-job info/debug lines would cost graphile-worker time; warnings and errors go to stderr.
    logger: new Logger((scope) => (level, message) => {
      if (level === "error" || level === "warning") console.error(`graphile-worker ${level}: ${message}`);
    }),
    preset,
    taskList: {
      noop: async () => {
        done += 1;
        if (done === jobs) finished(process.hrtime.bigint());
      },
    },
  });
  const timer = setTimeout(() => {
    console.error(`timed out after ${timeoutSeconds} s with ${done} of ${jobs} jobs done`);
    process.exit(2);
  }, timeoutSeconds * 1000);

  const start = process.hrtime.bigint();
  for (let added = 0; added < jobs; added += batch) {
    const size = Math.min(batch, jobs - added);
    await utils.addJobs(Array.from({ length: size }, () => ({ identifier: "noop", payload: {} })));
  }
  const submitted = process.hrtime.bigint();
  // A crashed runner must fail the run rather than wait for the timeout.
  const end = await Promise.race([
    allDone,
    runner.promise.then(() => {
      throw new Error(`runner stopped with ${done} of ${jobs} jobs done`);
    }),
  ]);
  clearTimeout(timer);
  await runner.stop();
  await utils.release();

  const seconds = (t) => Number(t - start) / 1e9;
  const round = (x) => Math.round(x * 100) / 100;
  console.log(JSON.stringify({
    system: "graphile-worker",
    version,
    node: process.version,
    jobs,
    batch,
    concurrency,
    localQueueSize: 500,
    completeJobBatchDelay: 0,
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
