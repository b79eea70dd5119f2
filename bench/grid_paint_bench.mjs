// Grid first paint in headless Chromium (issue 11 target: <= 300 ms with 1,000 runs x 50 tasks).
// Started by bench/grid_paint_bench.sh, which prepares the server. Measures, for REPEAT fresh
// page loads of #/dags/big/grid (logged in), the time from navigation start until the canvas
// shows the first cell drawn, as performance.now() in the page; prints min/median/max.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../ui/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const [base, user, password] = [process.env.SPARKPLANE_URL, process.env.SPARKPLANE_USER, process.env.SPARKPLANE_PASSWORD];
const repeat = Number(process.env.REPEAT || 5);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const login = await context.request.post(`${base}/api/v1/auth/login`, {
  data: { username: user, password },
  headers: { Origin: base },
});
if (!login.ok()) throw new Error(`login failed: ${login.status()}`);
const times = [];
for (let i = 0; i < repeat; i++) {
  const page = await context.newPage();
  await page.goto(`${base}/#/dags/big/grid`, { waitUntil: 'commit' });
  const ms = await page.waitForFunction(() => {
    const canvas = document.querySelector('[data-testid="grid-canvas"]');
    if (!canvas || !canvas.width) return null;
    const cell = Number(canvas.dataset.cell), header = Number(canvas.dataset.header), label = Number(canvas.dataset.labelWidth);
    if (!cell) return null;
    const dpr = canvas.width / canvas.clientWidth;
    const d = canvas.getContext('2d').getImageData(Math.round((label + cell / 2) * dpr), Math.round((header + cell / 2) * dpr), 1, 1).data;
    return d[3] > 0 && !(d[0] > 240 && d[1] > 240 && d[2] > 240) ? performance.now() : null;
  }, null, { polling: 'raf', timeout: 30000 });
  times.push(await ms.jsonValue());
  if (i === repeat - 1) {
    // Where the time went: each request's start and end, from navigation start.
    const entries = await page.evaluate(() =>
      performance.getEntriesByType('resource').map((e) => `${e.name.replace(/^https?:\/\/[^/]+/, '')} ${Math.round(e.startTime)}-${Math.round(e.responseEnd)}`));
    console.error(`last load: ${entries.join(', ')}`);
  }
  await page.close();
}
await browser.close();
times.sort((a, b) => a - b);
const med = times[Math.floor(times.length / 2)];
console.log(JSON.stringify({ min: times[0], median: med, max: times[times.length - 1], runs: repeat }));
