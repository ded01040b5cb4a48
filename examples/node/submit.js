// Submits a job and prints it: node submit.js TYPE '{"json":"payload"}'
const { jobService, call, fail } = require('./jobwire');

async function main() {
  const [type, payload = '{}'] = process.argv.slice(2);
  if (!type) {
    console.error('usage: node submit.js TYPE [JSON_PAYLOAD]');
    process.exit(2);
  }
  const response = await call(jobService(), 'submit', { job: { type, payload } });
  console.log(JSON.stringify({ id: response.job.id, state: response.job.state, created: response.created }));
}

main().catch(fail);
