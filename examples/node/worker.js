// A worker in plain Node.js: node worker.js TYPE [CONCURRENCY]
// It speaks WorkerService.Connect directly: Hello, Credit, then for every assigned job it runs `handle`,
// heartbeats all held leases together a few times per lease, and answers Complete or Fail.
const os = require('os');
const { grpc, workerService, fail } = require('./jobwire');

const [type = 'demo.echo', concurrencyArg = '4'] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const service = workerService(); // one channel; each (re)connect opens a new stream on it

// The job's work. Return the result (any JSON value); throw to fail (retried with backoff).
async function handle(job, reportProgress) {
  const payload = JSON.parse(job.payload);
  for (let step = 1; step <= 3; step++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    reportProgress(step * 33, `step ${step} of 3`);
  }
  return { echoed: payload, by: `node-${process.pid}` };
}

// Across reconnects: the leases of running jobs, and finishes written while no stream was open.
const held = new Map(); // job id -> lease
let unsent = [];
let stream = null; // the open stream, once the broker has welcomed us
const send = (message) => (stream ? stream.write(message) : unsent.push(message));

function connect() {
  const current = service.connect();
  // Hello names the leases still held, so jobs that ran on through a broker's drain keep their leases.
  current.write({
    hello: {
      workerId: `${os.hostname()}:${process.pid}`,
      jobTypes: [{ name: type, description: 'Echoes its payload (Node example)' }],
      maxConcurrency: concurrency,
      held: [...held.values()],
    },
  });

  let heartbeats;
  current.on('data', (message) => {
    if (message.welcome) {
      console.log(`connected to broker ${message.welcome.brokerId}`);
      stream = current;
      const every = Number(message.welcome.heartbeatInterval.seconds) * 1000 || 10000;
      heartbeats = setInterval(() => {
        if (held.size > 0) send({ heartbeat: { leases: [...held.values()] } });
      }, every);
      const finishes = unsent.filter((m) => m.complete || m.fail);
      unsent = [];
      finishes.forEach(send);
      if (concurrency > held.size) send({ credit: { jobs: concurrency - held.size } });
    } else if (message.assign) {
      for (const job of message.assign.jobs) run(job);
    } else if (message.cancelJob) {
      console.log(`job ${message.cancelJob.jobId} was cancelled`);
      held.delete(message.cancelJob.jobId);
    } else if (message.ack && message.ack.status !== 'ACK_STATUS_ACCEPTED') {
      console.log(`job ${message.ack.jobId}: ${message.ack.status} ${message.ack.message}`);
      held.delete(message.ack.jobId);
    } else if (message.drain) {
      // Running jobs go on; their finishes go out on the next stream (to another broker, or this one back).
      console.log('broker is draining; reconnecting');
      stream = null;
      current.end();
    }
  });

  // A broker that refuses us (bad token, a type the token may not run) will not change its mind: stop.
  // Anything else (the broker drained, restarted or is unreachable): connect again, once.
  let closed = false;
  const reconnect = () => {
    if (closed) return;
    closed = true;
    if (stream === current) stream = null;
    clearInterval(heartbeats);
    setTimeout(connect, 1000);
  };
  current.on('error', (err) => {
    if (err.code === grpc.status.UNAUTHENTICATED || err.code === grpc.status.PERMISSION_DENIED) fail(err);
    console.error(`stream error: ${err.details || err.message}; reconnecting`);
    reconnect();
  });
  current.on('end', reconnect);
}

async function run(job) {
  const lease = job.lease;
  held.set(lease.jobId, lease);
  const progress = (percent, text) => stream && send({ progress: { lease, percent, message: text } });
  let outcome;
  try {
    const result = await handle(job, progress);
    outcome = { complete: { lease, result: JSON.stringify(result) } };
  } catch (err) {
    outcome = { fail: { lease, error: String((err && err.message) || err), retryable: true } };
  }
  if (held.has(lease.jobId)) send(outcome); // not when it was cancelled or its lease is gone
  held.delete(lease.jobId);
  if (stream) send({ credit: { jobs: 1 } });
}

connect();
