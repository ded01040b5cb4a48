// Follows jobs until they finish: node watch.js ID [ID...]
const { jobService, fail } = require('./jobwire');

const ids = process.argv.slice(2);
if (ids.length === 0) {
  console.error('usage: node watch.js ID [ID...]');
  process.exit(2);
}
const stream = jobService().watch({ ids });
stream.on('data', (event) => {
  if (event.caughtUp) return;
  const job = event.job;
  const progress = job.progress ? ` ${job.progress.percent}% ${job.progress.message}` : '';
  console.log(`${job.id} ${job.state}${progress}${job.result ? ` result=${job.result}` : ''}`);
});
stream.on('error', fail);
stream.on('end', () => process.exit(0));
