#!/usr/bin/env bash
# Makes the dashboard screenshots in this directory: a broker with its embedded database, a worker, five
# minutes of jobs (some failing, some slow with progress), then headless Chromium through puppeteer-core.
# Run from the repository root after `mvn -B -DskipTests install`. Needs Debian's chromium and npm.
set -euo pipefail
cd "$(dirname "$0")/../.."
J="java -jar ${JOBWIRE_JAR:-broker/target/jobwire.jar}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
$J serve --data-dir "$work/data" --port 7171 > "$work/broker.log" 2>&1 &
until grep -q "listening on" "$work/broker.log"; do sleep 1; done
export JOBWIRE_TARGET=127.0.0.1:7171
cat > "$work/render.sh" <<'SH'
#!/bin/sh
payload=$(cat)
case "$payload" in *broken*) echo "renderer crashed: template 'invoice-v2' not found" >&2; exit 1;; esac
for p in 10 30 50 70 90; do echo "PROGRESS $p rendering page $((p / 10)) of 9" >&2; echo "PROGRESS-JSON {\"page\": $((p / 10)), \"of\": 9}" >&2; sleep 0.4; done
echo '{"pages": 9, "bytes": 48213}'
SH
chmod +x "$work/render.sh"
$J work --type report.render --exec "$work/render.sh" --concurrency 4 --worker-id render-1 > "$work/w1.log" 2>&1 &
$J work --type email.send --exec 'cat > /dev/null; echo "{\"sent\": true}"' --concurrency 8 --worker-id mailer-1 > "$work/w2.log" 2>&1 &
$J schedules create --name nightly-invoices --cron "0 3 * * *" --zone Europe/Berlin --type invoice.pdf \
  --payload '{"batch": "nightly"}' > /dev/null
$J schedules create --name mail-digest --every 30s --type email.send --payload '{"to": "team@example.com"}' > /dev/null
for i in $(seq 1 100); do
  $J submit --type email.send --payload "{\"to\": \"user$i@example.com\"}" --label campaign=december -q > /dev/null
  if [ $((i % 3)) = 0 ]; then $J submit --type report.render --payload "{\"report\": \"weekly-$i\"}" --label tenant=acme -q > /dev/null; fi
  if [ $((i % 25)) = 0 ]; then $J submit --type report.render --payload "{\"report\": \"broken-$i\"}" --max-attempts 1 -q > /dev/null; fi
  if [ $((i % 40)) = 0 ]; then $J submit --type invoice.pdf --payload "{\"invoice\": $i}" -q > /dev/null; fi
  sleep 0.5
done
RUNNING=$($J submit --type report.render --payload '{"report": "annual-2026", "customer": "c-42"}' -q)
sleep 1.2
cat > "$work/shoot.js" <<JS
const puppeteer = require('puppeteer-core');
(async () => {
  const browser = await puppeteer.launch({executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless=new', '--disable-dev-shm-usage']});
  const page = await browser.newPage();
  await page.setViewport({width: 1360, height: 900});
  const base = 'http://127.0.0.1:7181';
  for (const [name, path] of [['overview', '/'], ['jobs', '/jobs'], ['job', '/jobs/$RUNNING'],
                              ['workers', '/workers'], ['types', '/types'], ['schedules', '/schedules']]) {
    await page.goto(base + path, {waitUntil: 'networkidle2'}).catch(() => {});
    await page.screenshot({path: 'docs/dashboard/' + name + '.png'});
  }
  await browser.close();
})();
JS
npm install --silent --prefix "$work" puppeteer-core > /dev/null
NODE_PATH="$work/node_modules" node "$work/shoot.js"
