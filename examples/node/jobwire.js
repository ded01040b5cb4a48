// Loads the Jobwire contract straight from the .proto files: no code generation step.
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

function jobService() {
  return new v1.JobService(target, grpc.credentials.createInsecure());
}

function workerService() {
  return new v1.WorkerService(target, grpc.credentials.createInsecure());
}

// Unary calls as promises: await call(client, 'submit', {...}).
function call(client, method, request) {
  return new Promise((resolve, reject) =>
    client[method](request, (err, response) => (err ? reject(err) : resolve(response))));
}

module.exports = { grpc, jobService, workerService, call, target };
