// Loads the status page served by the real modelwatch binary in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core), and fails when:
// - a page does not answer 200, or a configured model or its state is missing from it;
// - the browser reports a console error (a Content-Security-Policy violation included) or
//   an uncaught exception;
// - axe-core reports a serious or critical accessibility violation, in light or dark mode;
// - the page, /subscribe or /admin/login scrolls sideways on a 360-pixel-wide phone, or a
//   form's checkbox sits apart from its label;
// - a daily uptime bar of the front page has no tooltip (static/bars.js builds them);
// - a date shown in the reader's zone is ambiguous (no spelled-out month or no zone);
// - a model page's latency chart has an axis that stops below a value its tooltips list, or
//   draws the demo's first minutes as a sliver rather than across the chart, or its range
//   tabs do not switch the chart shown.
// It saves screenshots next to the build output (target/browser/).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const base = process.argv[2];
const outDir = process.argv[3] ?? 'target/browser';
if (!base) {
  console.error('usage: node check.mjs BASE_URL [OUT_DIR]');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });
const axeSource = fs.readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const failures = [];
const fail = (msg) => { failures.push(msg); console.error(`FAIL ${msg}`); };

const routing = await (await fetch(`${base}/api/v1/routing`)).json();
const models = routing.models.map((m) => m.id);
if (models.length === 0) fail('the routing table lists no models');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400) consoleErrors.push(`${r.status()} for ${r.url()}`); });

  // The model page's charts, once the demo has a few minutes of minute rollups (the line
  // spans more than half the chart as soon as its data covers most of the shortest axis).
  const modelRoute = `/models/${models[0]}`;
  const chartState = async () => {
    await page.goto(base + modelRoute, { waitUntil: 'load' });
    return page.$eval('#chart-24h figure.chart svg', (svg) => {
      const toMs = (t) => {
        const m = /^([\d.]+) (ms|s)$/.exec(t.trim());
        return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN;
      };
      const yLabels = [...svg.querySelectorAll('text.tick[dominant-baseline]')].map((t) => toMs(t.textContent));
      const titles = [...svg.querySelectorAll('rect.tip > title')].map((t) => t.textContent);
      const values = titles.flatMap((t) => [...t.matchAll(/([\d.]+) (ms|s)\b/g)].map((m) => toMs(`${m[1]} ${m[2]}`)));
      const axis = [...svg.querySelectorAll('line.axis')].find((l) => l.getAttribute('y1') === l.getAttribute('y2'));
      const xs = [...svg.querySelectorAll('polyline.line')].flatMap((l) => l.getAttribute('points').trim().split(/\s+/).map((p) => Number(p.split(',')[0])));
      return {
        top: Math.max(...yLabels),
        highest: values.length ? Math.max(...values) : null,
        titles: titles.length,
        plotWidth: axis ? Number(axis.getAttribute('x2')) - Number(axis.getAttribute('x1')) : 0,
        lineWidth: xs.length ? Math.max(...xs) - Math.min(...xs) : 0,
        visible: svg.getBoundingClientRect().width > 0,
      };
    });
  };
  let chart = await chartState();
  for (let waited = 0; chart.lineWidth <= chart.plotWidth / 2 && waited < 420; waited += 10) {
    await new Promise((r) => setTimeout(r, 10_000));
    chart = await chartState();
  }
  console.log(`model page chart: ${JSON.stringify(chart)}`);
  if (!chart.visible) fail(`${modelRoute}: the 24-hour chart is not shown by default`);
  if (chart.titles === 0 || chart.highest === null) fail(`${modelRoute}: the chart has no tooltips with figures`);
  else if (!(chart.top >= chart.highest)) fail(`${modelRoute}: the chart's axis stops at ${chart.top} ms below ${chart.highest} ms listed in its tooltips`);
  if (!(chart.lineWidth > chart.plotWidth / 2)) fail(`${modelRoute}: the line spans ${chart.lineWidth} of the chart's ${chart.plotWidth} units`);
  // The range tabs work without scripts: following "7 d" shows the week and hides the day.
  await page.click('#chart-24h .range-tabs a[href="#chart-7d"]');
  const shown = await page.evaluate(() => ['1h', '24h', '7d', '30d'].filter((id) => document.getElementById(`chart-${id}`).getBoundingClientRect().height > 0));
  if (shown.join() !== '7d') fail(`${modelRoute}#chart-7d shows the ranges ${shown.join()}`);
  await page.screenshot({ path: path.join(outDir, 'model-light.png'), fullPage: true });

  // axe-core is injected as an inline script, which the pages' Content-Security-Policy
  // forbids (as it should); it runs in a second context that bypasses the policy, while
  // the first loads every page under it, so a violation shows as a console error.
  const axeContext = await browser.newContext({ bypassCSP: true });
  const axePage = await axeContext.newPage();
  const pages = ['/', `/models/${models[0]}`, '/history', '/official', '/subscribe', '/admin/login'];
  for (const route of pages) {
    const response = await page.goto(base + route, { waitUntil: 'load' });
    if (!response || response.status() !== 200) fail(`${route} answered ${response?.status()}`);
    if (!response?.headers()['content-security-policy']) fail(`${route} has no Content-Security-Policy`);
    await axePage.goto(base + route, { waitUntil: 'load' });
    for (const scheme of ['light', 'dark']) {
      await axePage.emulateMedia({ colorScheme: scheme });
      await axePage.addScriptTag({ content: axeSource });
      const result = await axePage.evaluate(async () => await window.axe.run());
      for (const v of result.violations.filter((v) => ['serious', 'critical'].includes(v.impact))) {
        fail(`${route} (${scheme}): axe ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} nodes, e.g. ${v.nodes[0]?.target})`);
      }
    }
  }

  // The front page names every model, with a link to its page and a state in words.
  await page.goto(base + '/', { waitUntil: 'load' });
  await page.emulateMedia({ colorScheme: 'light' });
  const stateWords = ['Operational', 'Degraded performance', 'Partial outage', 'Major outage', 'Under maintenance', 'Unknown'];
  for (const id of models) {
    const row = page.locator(`a[href="/models/${id}"]`);
    if ((await row.count()) === 0) fail(`no link to /models/${id} on the front page`);
  }
  const text = await page.locator('main').innerText();
  const found = stateWords.filter((w) => text.includes(w));
  if (found.length === 0) fail('no state label (e.g. "Operational") on the front page');
  // Every daily bar gets its tooltip from /static/bars.js ("2025-03-01 · no data", or the
  // state, uptime, incidents and latency).
  const titles = await page.$$eval('.bars i', (bars) => bars.map((b) => b.title));
  if (titles.length !== models.length * 90) fail(`${titles.length} daily bars for ${models.length} models`);
  const bad = titles.filter((t) => !/^\d{4}-\d{2}-\d{2} · (no data|\S.* · (uptime[^·]*%|uptime: state not yet known) · (no incidents|\d+ incidents? \(#[^)]*\)) · TTFT p50 (—|\S+ m?s), p95 (—|\S+ m?s))$/.test(t));
  if (bad.length > 0) fail(`${bad.length} bars without a proper tooltip, e.g. "${bad[0]}"`);
  // Dates in the reader's zone are unambiguous: the month in letters, a 24-hour clock, the
  // zone named (never "12/04/2026, 04:37 AM").
  const times = await page.$$eval('time[datetime*="T"]', (ts) => ts.map((t) => t.textContent));
  if (times.length === 0) fail('no <time> on the front page');
  const vague = times.filter((t) => !/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{2}:\d{2} \S+/.test(t) && !/^\d{2}:\d{2} \S+/.test(t));
  if (vague.length > 0) fail(`dates without a spelled-out month or zone: ${vague.slice(0, 3).join(' | ')}`);
  await page.screenshot({ path: path.join(outDir, 'status-light.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(outDir, 'status-dark.png'), fullPage: true });

  // A phone: no sideways scrolling.
  await page.setViewportSize({ width: 360, height: 800 });
  await page.goto(base + '/', { waitUntil: 'load' });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 360) fail(`the front page is ${width}px wide on a 360px phone`);
  await page.screenshot({ path: path.join(outDir, 'status-phone.png'), fullPage: true });

  // The forms on a phone: no sideways scrolling, and every checkbox on the first line of its
  // label (they once sat apart from their labels).
  for (const route of ['/subscribe', '/admin/login']) {
    await page.goto(base + route, { waitUntil: 'load' });
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    if (w > 360) fail(`${route} is ${w}px wide on a 360px phone`);
    const apart = await page.$$eval('label.choice', (labels) => labels.filter((l) => {
      const box = l.querySelector('input')?.getBoundingClientRect();
      const text = l.getBoundingClientRect();
      return !box || box.top - text.top > 12 || box.left - text.left > 4;
    }).length);
    if (apart > 0) fail(`${route}: ${apart} checkboxes apart from their labels`);
    await page.screenshot({ path: path.join(outDir, `${route.replaceAll('/', '_').slice(1)}-phone.png`), fullPage: true });
  }

  for (const e of consoleErrors) fail(`browser console error: ${e}`);
} finally {
  await browser.close();
}
if (failures.length > 0) {
  console.error(`${failures.length} browser check(s) failed`);
  process.exit(1);
}
console.log(`browser checks passed for ${models.length} models; screenshots in ${outDir}`);
