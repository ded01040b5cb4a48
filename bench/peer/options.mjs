// The command line the peer scripts share: --name value pairs, the size of the run, and the version of
// the system under test as installed here.
import { readFileSync } from "node:fs";

export function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : fallback;
}

/** --jobs, --batch, --concurrency and --timeout (seconds), with the defaults every peer uses. */
export function runOptions() {
  return {
    jobs: Number(option("jobs", "100000")),
    batch: Number(option("batch", "1000")),
    concurrency: Number(option("concurrency", "24")),
    timeoutSeconds: Number(option("timeout", "600")),
  };
}

/** The version of an installed npm package, as its package.json says. */
export function installedVersion(name) {
  return JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;
}
