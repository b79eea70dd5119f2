// Browser test of the web UI against a real `sparkplane server` (started by run.sh).
// Env: SPARKPLANE_URL, SPARKPLANE_USER, SPARKPLANE_PASSWORD, WORK_DIR, REPAIR_MARKER, CHROMIUM.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../../ui/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const BASE = process.env.SPARKPLANE_URL;
const USER = process.env.SPARKPLANE_USER;
const PASSWORD = process.env.SPARKPLANE_PASSWORD;
const WORK = process.env.WORK_DIR;
const MARKER = process.env.REPAIR_MARKER;
assert.ok(BASE && USER && PASSWORD && WORK && MARKER, 'run me through tests/browser/run.sh');
const SHOTS = path.join(WORK, 'screenshots');
fs.mkdirSync(SHOTS, { recursive: true });

const SUCCESS_RGB = [0x16, 0xa3, 0x4a]; // STATE_COLORS.success in ui/src/states.ts

let browser;
let page;
const pageErrors = [];

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** The RGB drawn at the centre of a grid cell (row = task index, col = run index). */
async function cellColor(row, col) {
  return page.getByTestId('grid-canvas').evaluate(
    (canvas, [row, col]) => {
      const cell = Number(canvas.dataset.cell);
      const header = Number(canvas.dataset.header);
      const label = Number(canvas.dataset.labelWidth);
      const scroller = canvas.closest('.grid-scroll');
      const dpr = canvas.width / canvas.clientWidth;
      const x = label + col * cell + cell / 2 - 2 - scroller.scrollLeft;
      const y = header + row * cell + cell / 2 - 2 - scroller.scrollTop;
      const d = canvas.getContext('2d').getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data;
      return [d[0], d[1], d[2]];
    },
    [row, col],
  );
}

const near = (a, b) => a.every((v, i) => Math.abs(v - b[i]) <= 6);

async function waitFor(what, fn, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function triggerFromForm(dagId, fill) {
  await page.goto(`${BASE}/#/`);
  await page.getByTestId(`trigger-${dagId}`).click();
  await page.getByTestId('trigger-form').waitFor();
  if (fill) await fill();
  await page.getByTestId('trigger-submit').click();
  // The form goes to the DAG's grid with the new run selected.
  await page.waitForURL(new RegExp(`#/dags/${dagId}/grid\\?run=`));
  const run = new URL(page.url().replace('#/', '')).searchParams.get('run');
  assert.ok(run, 'the new run id is in the URL');
  return run;
}

describe('sparkplane web UI', () => {
  before(async () => {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.setDefaultTimeout(30000);
  });

  after(async () => {
    await browser?.close();
  });

  test('login', async () => {
    await page.goto(`${BASE}/`);
    await page.getByTestId('login-form').waitFor();
    await shot('01-login');
    await page.getByLabel('Username').fill(USER);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('error').waitFor();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('dag-table').waitFor();
    assert.match(await page.getByTestId('whoami').innerText(), new RegExp(USER));
    await page.getByTestId('dag-row-hello').waitFor();
    await page.getByTestId('dag-row-repairable').waitFor();
    await waitFor('the live event stream', async () => (await page.getByTestId('stream-status').innerText()).includes('live'));
    await shot('02-dags');
  });

  let helloRun;
  test('trigger hello from the trigger form; cells turn green live', async () => {
    helloRun = await triggerFromForm('hello', async () => {
      await page.getByLabel(/^name/).fill('browser');
    });
    await page.getByTestId('grid-canvas').waitFor();
    // No reload may happen from here on: the marker survives only in this document.
    await page.evaluate(() => (window.__noReload = true));
    const tasks = Number(await page.getByTestId('grid-canvas').getAttribute('data-tasks'));
    assert.equal(tasks, 2, 'hello has two tasks');
    await waitFor('every cell of the new run to be green', async () => {
      for (let row = 0; row < tasks; row++) if (!near(await cellColor(row, 0), SUCCESS_RGB)) return false;
      return true;
    });
    assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
    assert.ok((await page.evaluate(() => window.__sparkplaneEvents)) > 0, 'SSE events were applied');
    await shot('03-grid-green');
  });

  test('open a task log from the grid', async () => {
    // Keyboard: focus the grid, go to the first cell and open it.
    await page.getByTestId('grid-canvas').focus();
    await page.keyboard.press('Home');
    assert.match(await page.getByTestId('grid-focus').innerText(), /greet .* success/);
    await page.keyboard.press('Enter');
    await page.getByTestId('task-panel').waitFor();
    await waitFor('the greeting in the log', async () => /hello browser/.test(await page.getByTestId('log-text').innerText()));
    assert.match(await page.getByTestId('task-state').getAttribute('data-state'), /success/);
    await page.getByTestId('task-outputs').waitFor();
    await shot('04-task-log');
  });

  test('open the Gantt chart of the run', async () => {
    await page.getByTestId('open-gantt').click();
    await page.getByTestId('gantt').waitFor();
    for (const task of ['greet', 'reply']) {
      assert.equal(await page.getByTestId(`gantt-row-${task}`).locator('rect').count(), 1, `${task} has a bar`);
    }
    await shot('05-gantt');
    await page.getByTestId('tab-graph').click();
    await page.getByTestId('graph').waitFor();
    assert.equal(await page.getByTestId('graph-node-reply').getAttribute('data-state'), 'success');
    await shot('06-graph');
  });

  test('repair a failed run', async () => {
    fs.rmSync(MARKER, { force: true });
    const run = await triggerFromForm('repairable');
    // `prepare` takes 2 s: its cell is seen not green first, then green, with no reload.
    await page.getByTestId('grid-canvas').waitFor();
    await page.evaluate(() => (window.__noReload = 'repair'));
    assert.ok(!near(await cellColor(0, 0), SUCCESS_RGB), 'prepare has not succeeded yet');
    await waitFor('prepare to turn green live', async () => near(await cellColor(0, 0), SUCCESS_RGB));
    assert.equal(await page.evaluate(() => window.__noReload), 'repair', 'the page was not reloaded');
    await page.goto(`${BASE}/#/dags/repairable/runs/${encodeURIComponent(run)}`);
    await waitFor('the run to fail', async () => (await page.getByTestId('run-state').getAttribute('data-state')) === 'failed');
    assert.equal(await page.getByTestId('ti-state-check').getAttribute('data-state'), 'failed');
    assert.equal(await page.getByTestId('ti-state-publish').getAttribute('data-state'), 'upstream_failed');
    await shot('07-run-failed');
    fs.writeFileSync(MARKER, 'ok\n');
    await page.getByTestId('repair-run').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.getByRole('button', { name: 'Repair run' }).click();
    await waitFor('the dialog to close', async () => !(await dialog.isVisible()));
    assert.match(await page.getByTestId('notice').innerText(), /check/);
    await waitFor('the repaired run to succeed', async () => (await page.getByTestId('run-state').getAttribute('data-state')) === 'success');
    assert.equal(await page.getByTestId('ti-state-publish').getAttribute('data-state'), 'success');
    await shot('08-run-repaired');
  });

  test('Spark summary panel of a spark_submit task', async (t) => {
    const found = await page.evaluate(async () => {
      const runs = (await (await fetch('/api/v1/runs?limit=200')).json()).runs;
      for (const r of runs) {
        const u = `/api/v1/dags/${encodeURIComponent(r.dag_id)}/runs/${encodeURIComponent(r.run_id)}/tasks`;
        const tis = (await (await fetch(u)).json()).tasks;
        const ti = tis.find((x) => x.type === 'spark_submit' && x.spark_app_id);
        if (ti) return { dag: r.dag_id, run: r.run_id, task: ti.task_id };
      }
      return null;
    });
    if (!found) {
      t.skip('no task instance with a spark_app_id on this server: the browser test runs bash DAGs only');
      return;
    }
    await page.goto(`${BASE}/#/dags/${encodeURIComponent(found.dag)}/runs/${encodeURIComponent(found.run)}/tasks/${encodeURIComponent(found.task)}`);
    await page.getByTestId('spark-panel').waitFor();
    await page.getByTestId('spark-status').waitFor();
    await shot('09-spark');
  });

  test('create a user and an API token, then revoke the token', async () => {
    await page.goto(`${BASE}/#/access`);
    await page.getByTestId('users-table').waitFor();
    const user = page.getByRole('form', { name: 'New user' });
    await user.getByLabel('User').fill('ann');
    await user.getByLabel('Role').selectOption('operator');
    await user.getByLabel('Password').fill('ann-password-1');
    await user.getByRole('button', { name: 'Create user' }).click();
    await page.getByTestId('users-table').getByRole('cell', { name: 'ann', exact: true }).waitFor();

    const token = page.getByRole('form', { name: 'New API token' });
    await token.getByLabel('Name').fill('browser-test');
    await token.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.getByTestId('new-token').locator('code').textContent()) ?? '';
    assert.match(secret, /^spk_/);
    const api = (t) => fetch(`${BASE}/api/v1/dags`, { headers: { Authorization: `Bearer ${t}` } });
    assert.equal((await api(secret)).status, 200, 'the new token works');
    const row = page.getByTestId('tokens-table').getByRole('row', { name: /browser-test/ });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await waitFor('the token to be revoked', async () => (await api(secret)).status === 401);
    await shot('09-access');
  });

  test('delete an ad-hoc cluster from the Clusters view', async () => {
    const daemon = Number(process.env.CLUSTER_DAEMON);
    // Running, as /proc tells (a zombie has ended).
    const alive = () => {
      try {
        const stat = fs.readFileSync(`/proc/${daemon}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
      } catch {
        return false;
      }
    };
    assert.ok(alive(), 'the recorded daemon runs before the delete');
    await page.goto(`${BASE}/#/clusters`);
    await page.getByTestId('clusters-table').waitFor();
    await page.getByTestId('delete-cluster-ui-adhoc').click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete cluster' }).click();
    await page.getByTestId('notice').getByText("deleted Spark cluster 'ui-adhoc'").waitFor();
    await waitFor('the daemon to be stopped', async () => !alive());
    const row = page.getByTestId('clusters-table').getByRole('row', { name: /ui-adhoc/ });
    await row.getByRole('cell', { name: 'deleted', exact: true }).waitFor();
    await shot('10-clusters');
  });

  test('phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${BASE}/#/dags/hello/grid`);
    await page.getByTestId('grid-canvas').waitFor();
    await shot('10-phone-grid');
    await page.goto(`${BASE}/#/`);
    await page.getByTestId('dag-table').waitFor();
    await shot('11-phone-dags');
    assert.deepEqual(pageErrors, [], 'no uncaught page errors');
  });
});
