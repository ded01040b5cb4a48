// Loads the Jobwire contract straight from the .proto files: no code generation step.
// Connection settings come from the environment:
//   JOBWIRE_TARGET       host:port of the broker (default localhost:7070)
//   JOBWIRE_TOKEN        sent as "authorization: Bearer <token>" on every call
//   JOBWIRE_CA_FILE      PEM file of the CA that signed the broker's certificate: use TLS (plaintext without it)
//   JOBWIRE_CLIENT_CERT  with JOBWIRE_CLIENT_KEY: this client's PEM certificate and key, for mutual TLS
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.join(__dirname, '..', '..', 'proto', 'src', 'main', 'proto');

const definition = protoLoader.loadSync(
  ['jobwire/v1/job_service.proto', 'jobwire/v1/worker_service.proto'],
  { includeDirs: [PROTO_DIR], keepCase: false, longs: String, enums: String, defaults: true, oneofs: true },
);
const v1 = grpc.loadPackageDefinition(definition).jobwire.v1;

const target = process.env.JOBWIRE_TARGET || 'localhost:7070';
const token = process.env.JOBWIRE_TOKEN;

// Prints one line on stderr and exits, e.g. "UNAUTHENTICATED: the bearer token is not valid".
function fail(err) {
  const code = typeof err.code === 'number' ? `${grpc.status[err.code]}: ` : '';
  console.error(`${code}${err.details || err.message}`.replace(/\s+/g, ' ').trim());
  process.exit(1);
}

// TLS when JOBWIRE_CA_FILE is set (and mutual TLS with a client certificate), plaintext otherwise.
function channelCredentials() {
  const { JOBWIRE_CA_FILE: ca, JOBWIRE_CLIENT_CERT: cert, JOBWIRE_CLIENT_KEY: key } = process.env;
  if (!ca && !cert && !key) return grpc.credentials.createInsecure();
  if (!ca || Boolean(cert) !== Boolean(key)) {
    fail(new Error('mutual TLS needs JOBWIRE_CA_FILE, JOBWIRE_CLIENT_CERT and JOBWIRE_CLIENT_KEY together'));
  }
  try {
    const read = (file) => (file ? fs.readFileSync(file) : null);
    return grpc.credentials.createSsl(read(ca), read(key), read(cert));
  } catch (err) {
    fail(new Error(`cannot use the TLS files: ${err.message}`));
  }
}

// Adds the bearer token to the metadata of every call (unary and streams, over TLS or plaintext).
function withToken(options, nextCall) {
  return new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set('authorization', `Bearer ${token}`);
      next(metadata, listener);
    },
  });
}

function client(Service) {
  return new Service(target, channelCredentials(), { interceptors: token ? [withToken] : [] });
}

const jobService = () => client(v1.JobService);
const workerService = () => client(v1.WorkerService);

// Unary calls as promises: await call(client, 'submit', {...}).
function call(service, method, request) {
  return new Promise((resolve, reject) =>
    service[method](request, (err, response) => (err ? reject(err) : resolve(response))));
}

module.exports = { grpc, jobService, workerService, call, fail, target };
