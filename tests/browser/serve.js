// serve.js — cdx serve in a real headless Chromium (puppeteer-core):
// t_serve_browser.sh starts the server and a paused canary, then runs
// this with NODE_PATH at the installed puppeteer-core.  Checks, without a
// reload of the page: the runs page shows a run started after it loaded;
// the run page streams a job's log line while the job runs, and its Gantt
// grows when the job ends; the hostile corpus renders as text (no element
// from it, nothing it would run); a paused canary is promoted by clicking
// its button once logged in with the token, while the click without a
// session is refused.  Screenshots of the run and deployments pages go to
// SHOTS.
'use strict';
const puppeteer = require('puppeteer-core');
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const URL = process.env.URL, CDX = process.env.CDX, DIR = process.env.DIR;
const TOKEN = fs.readFileSync(process.env.TOKEN_FILE, 'utf8').trim();
const SHOTS = process.env.SHOTS;
const T = 60000;

function fail(msg) { console.error('FAIL: ' + msg); process.exit(1); }
function run(file) {
  const p = spawn(CDX, ['run', file], { cwd: DIR, stdio: ['ignore', 'ignore', 'ignore'] });
  p.done = new Promise((res) => p.on('exit', (code) => res(code)));
  return p;
}
async function until(what, fn) {
  const end = Date.now() + T;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) fail('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 50));
  }
}
async function json(p) { return (await fetch(URL + p)).json(); }
async function noInjected(page, where) {
  const bad = await page.evaluate(() => {
    const out = [];
    if (window.__xss) out.push('window.__xss set');
    document.querySelectorAll('img,iframe,object,embed,b[id=x]').forEach((e) => out.push(e.outerHTML));
    document.querySelectorAll('script').forEach((s) => { if (s.getAttribute('src') !== '/static/cdx.js') out.push(s.outerHTML); });
    document.querySelectorAll('*').forEach((e) => {
      for (const a of e.attributes) if (/^on/i.test(a.name)) out.push(e.tagName + ' ' + a.name);
    });
    return out;
  });
  if (bad.length) fail(where + ': markup from the hostile corpus: ' + bad.join(' | '));
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const errors = [];
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error' && !/403|409/.test(m.text())) errors.push(m.text()); });

    // ---- the runs page shows a run started after it loaded ---------------
    await page.goto(URL + '/', { waitUntil: 'load' });
    await page.waitForSelector('body[data-live="1"]', { timeout: T });
    await noInjected(page, '/');
    const before = await page.$$eval('tr[data-run]', (r) => r.length);
    await page.evaluate(() => { window.__same = 1; });
    const r1 = run('ci.yml');
    if ((await r1.done) !== 0) fail('cdx run ci.yml');
    const newest = (await json('/api/runs'))[0].id;
    await page.waitForFunction((id) => !!document.querySelector('tr[data-run="' + id + '"]'), { timeout: T }, newest);
    if (!(await page.evaluate(() => window.__same === 1))) fail('the runs page was reloaded');
    if ((await page.$$eval('tr[data-run]', (r) => r.length)) <= before) fail('no new row');
    console.log('runs page: the new run appeared without a reload');

    // ---- the run page streams a job's log while it runs -------------------
    const r2 = run('gate.yml');
    const grun = await until('the gated run', async () => {
      const runs = await json('/api/runs?pipeline=gated');
      const r = runs.find((x) => x.status === 'running');
      if (!r) return null;
      const log = path.join(DIR, '.cdx', 'logs', r.id, 'build', 'wait.1.log');
      return fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('first-line') ? r.id : null;
    });
    await page.goto(URL + '/runs/' + grun, { waitUntil: 'load' });
    await page.waitForSelector('body[data-live="1"]', { timeout: T });
    await page.evaluate(() => { window.__same = 1; });
    const logSel = 'pre[data-log="/events/log/' + grun + '/build/wait"]';
    await page.waitForFunction((s) => document.querySelector(s) && document.querySelector(s).textContent.includes('first-line-1234'),
      { timeout: T }, logSel);
    if (await page.$eval(logSel, (p) => p.textContent.includes('second-line'))) fail('second line before it was written');
    if (await page.$('rect[data-job="build/wait"]')) fail('a bar for a job that has not ended');
    fs.writeFileSync(path.join(DIR, 'go'), '');
    await page.waitForFunction((s) => document.querySelector(s).textContent.includes('second-line-5678'), { timeout: T }, logSel);
    console.log('run page: the log line appeared while the job ran');
    if ((await r2.done) !== 0) fail('cdx run gate.yml');
    await page.waitForSelector('rect[data-job="build/wait"]', { timeout: T });
    await page.waitForFunction(() => document.querySelector('#summary .badge').textContent === 'success', { timeout: T });
    if (!(await page.evaluate(() => window.__same === 1))) fail('the run page was reloaded');
    const text = await page.$eval(logSel, (p) => p.textContent);
    if (!text.includes('<img src=x onerror="window.__xss=1">')) fail('the hostile log line is not shown as text: ' + text);
    await noInjected(page, '/runs/RUN');
    console.log('run page: the Gantt grew when the job ended');
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'serve-run.png'), fullPage: true });
    // the hostile run's page too
    const hostile = (await json('/api/runs?pipeline=hostile'))[0].id;
    await page.goto(URL + '/runs/' + hostile, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelectorAll('pre[data-log]').length > 0 &&
      [...document.querySelectorAll('pre[data-log]')].some((p) => p.textContent.includes('onerror')), { timeout: T });
    await noInjected(page, '/runs/HOSTILE');
    for (const p of ['/pipelines/hostile', '/deployments', '/deployments/web/slow', '/alerts', '/workers']) {
      await page.goto(URL + p, { waitUntil: 'load' });
      await noInjected(page, p);
    }

    // ---- a paused canary promoted by its button ----------------------------
    page.on('dialog', (d) => d.accept());
    await page.goto(URL + '/deployments/web/slow', { waitUntil: 'load' });
    await page.waitForSelector('button[data-action="/api/deployments/web/slow/promote"]', { timeout: T });
    await page.click('button[data-action="/api/deployments/web/slow/promote"]');
    await page.waitForFunction(() => !document.getElementById('flash').hidden, { timeout: T });
    const refused = await page.$eval('#flash', (f) => f.textContent);
    if (!refused.includes('needs the token')) fail('a click without a session: ' + refused);
    const hist = await json('/api/deployments/web/slow');
    if (hist[hist.length - 1].state === 'succeeded' || (hist[hist.length - 1].controls || []).length)
      fail('the refused click changed the deployment');
    console.log('deployments: the click without a session was refused and changed nothing');
    await page.goto(URL + '/login', { waitUntil: 'load' });
    await page.type('input[name="token"]', TOKEN);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button[type="submit"]')]);
    await page.waitForSelector('meta[name="cdx-csrf"]', { timeout: T });
    await page.goto(URL + '/deployments/web/slow', { waitUntil: 'load' });
    await page.waitForSelector('body[data-live="1"]', { timeout: T });
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'serve-deployments.png'), fullPage: true });
    const weight = await page.$eval('.weight', (w) => w.textContent);
    if (weight !== '20%') fail('the canary weight shown is ' + weight);
    await page.click('button[data-action="/api/deployments/web/slow/promote"]');
    await page.waitForFunction(() => document.getElementById('flash').textContent.includes('promote web/slow'), { timeout: T });
    console.log('deployments: promoted by its button: ' + (await page.$eval('#flash', (f) => f.textContent)));
    // the page follows the deployment to its end
    await page.waitForFunction(() => document.querySelector('.serving') && document.querySelector('.serving').textContent === '1.1',
      { timeout: T });
    console.log('deployments: the page shows 1.1 serving');
    if (errors.length) fail('errors in the page: ' + errors.join(' | '));
  } finally {
    await browser.close();
  }
  console.log('browser: ok');
})().catch((e) => fail(e && e.stack ? e.stack : String(e)));
