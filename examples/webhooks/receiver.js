// Receives Jobwire callbacks and checks each with the Standard Webhooks library (not Jobwire's code):
//
//   JOBWIRE_WEBHOOK_SECRET=$(jobwire callbacks secret) PORT=8088 node receiver.js
//
// A delivery whose signature verifies is answered 204 and printed as one line:
//   verified <webhook-id> <event> job <id> <state>
// any other is answered 401 and printed as "refused <why>". Jobwire retries what is not answered 2xx.
'use strict';
const http = require('node:http');
const { Webhook } = require('standardwebhooks');

const secret = process.env.JOBWIRE_WEBHOOK_SECRET;
if (!secret) {
  console.error('set JOBWIRE_WEBHOOK_SECRET to the output of `jobwire callbacks secret`');
  process.exit(64);
}
const webhook = new Webhook(secret);
const port = Number(process.env.PORT || 8088);

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    try {
      const event = webhook.verify(body, request.headers);
      console.log(`verified ${request.headers['webhook-id']} ${event.type} job ${event.data.id} ${event.data.state}`);
      response.writeHead(204).end();
    } catch (error) {
      console.log(`refused ${error.message}`);
      response.writeHead(401, { 'content-type': 'text/plain' }).end('signature does not verify\n');
    }
  });
});
server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
