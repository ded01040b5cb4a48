// The Jobwire benchmark's throughput scenario on BullMQ: N no-op jobs added with queue.addBulk in batches while an
// in-process Worker with --concurrency (completed jobs removed at once) works them off. The script starts its own
// redis-server on a free port with a fresh directory and the append-only file fsynced before every reply
// (--appendfsync always), so an acknowledged job is on disk as it is in PostgreSQL with fsync on; it stops that server
// and removes the directory at the end, on failure too. Prints one JSON line; logs go to stderr.
//
//   node bullmq-bench.mjs [--redis-server /usr/bin/redis-server] [--jobs 100000] [--batch 1000] [--concurrency 24] [--timeout 600]
import { Queue, Worker } from "bullmq";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installedVersion, option, runOptions } from "./options.mjs";

const version = installedVersion("bullmq");


const redisServer = option("redis-server", "/usr/bin/redis-server");
const { jobs, batch, concurrency, timeoutSeconds } = runOptions();
if (!redisServer || process.argv.includes("--help")) {
  console.error("usage: bullmq-bench.mjs [--redis-server PATH] [--jobs N] [--batch N] [--concurrency N] [--timeout S]");
  process.exit(64);
}

const appendfsync = "always";
const workerOptions = { concurrency, removeOnComplete: { count: 0 } };

// The redis-server child and its directory go on every way out, process.exit included.
let redis = null;
let redisDir = null;
let stopping = false;
process.on("exit", () => {
  if (redis && redis.exitCode === null && redis.signalCode === null) redis.kill("SIGKILL");
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(1));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const redisVersion = /v=(\S+)/.exec(execFileSync(redisServer, ["--version"], { encoding: "utf8" }))?.[1] ?? "unknown";
  const port = await freePort();
  redisDir = mkdtempSync(join(tmpdir(), "bullmq-bench-"));
  redis = spawn(redisServer, [
    "--port", String(port), "--bind", "127.0.0.1", "--dir", redisDir, "--daemonize", "no",
    "--appendonly", "yes", "--appendfsync", appendfsync, "--save", "", "--maxmemory-policy", "noeviction",
  ], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((resolve) => redis.once("exit", resolve));
  await new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`redis-server not ready after 30 s:\n${output}`)), 30000);
    redis.once("error", reject);
    redis.once("exit", (code, signal) => reject(new Error(`redis-server exited (${code ?? signal}):\n${output}`)));
    redis.stdout.setEncoding("utf8");
    redis.stdout.on("data", (chunk) => {
      // Once it is up, redis-server's warnings (marked "#") go on to stderr, bar its shutdown lines.
      if (output === null && !stopping) {
        for (const line of chunk.split("\n")) if (/^\d+:\w \S+ \S+ \S+ \S+ # /.test(line)) console.error(`redis-server: ${line}`);
      } else if (output !== null) {
        output += chunk;
        if (output.includes("Ready to accept connections")) {
          output = null;
          clearTimeout(timer);
          resolve();
        }
      }
    });
  });
  return { port, redisVersion, exited };
}

async function main() {
  const { port, redisVersion, exited } = await startRedis();
  const connection = { host: "127.0.0.1", port };
  const queue = new Queue("noop", { connection });
  queue.on("error", (error) => console.error("bullmq queue error:", error));
  await queue.waitUntilReady();

  let done = 0;
  let finished;
  const allDone = new Promise((resolve) => (finished = resolve));
  const worker = new Worker("noop", async () => {}, { connection, ...workerOptions });
  worker.on("error", (error) => console.error("bullmq worker error:", error));
  worker.on("failed", (job, error) => console.error(`bullmq job ${job?.id} failed:`, error));
  // Counted once BullMQ has moved the job to completed in Redis.
  worker.on("completed", () => {
    done += 1;
    if (done === jobs) finished(process.hrtime.bigint());
  });
  await worker.waitUntilReady();
  const timer = setTimeout(() => {
    console.error(`timed out after ${timeoutSeconds} s with ${done} of ${jobs} jobs done`);
    process.exit(2);
  }, timeoutSeconds * 1000);

  const start = process.hrtime.bigint();
  for (let added = 0; added < jobs; added += batch) {
    const size = Math.min(batch, jobs - added);
    await queue.addBulk(Array.from({ length: size }, () => ({ name: "noop", data: {} })));
  }
  const submitted = process.hrtime.bigint();
  // A redis-server that dies must fail the run rather than wait for the timeout.
  const end = await Promise.race([
    allDone,
    exited.then((code) => {
      if (!stopping) throw new Error(`redis-server exited (${code}) with ${done} of ${jobs} jobs done`);
    }),
  ]);
  clearTimeout(timer);
  await worker.close();
  // Untimed check that nothing is left over and nothing failed.
  const counts = await queue.getJobCounts("waiting", "active", "delayed", "failed", "completed");
  await queue.close();
  if (Object.values(counts).some((count) => count !== 0)) throw new Error(`jobs left in Redis: ${JSON.stringify(counts)}`);

  stopping = true;
  redis.kill("SIGTERM");
  await exited;
  rmSync(redisDir, { recursive: true, force: true });
  redisDir = null;

  const seconds = (t) => Number(t - start) / 1e9;
  const round = (x) => Math.round(x * 100) / 100;
  console.log(JSON.stringify({
    system: "bullmq",
    version,
    redis: redisVersion,
    node: process.version,
    jobs,
    batch,
    concurrency,
    removeOnComplete: true,
    appendonly: "yes",
    appendfsync,
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
