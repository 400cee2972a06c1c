// The page's truths after an incident, in headless Chromium against the real binary serving
// tests/browser/incident.toml (started by run.sh): waits until the incident resolves, then
// fails when
// - the resolved incident's page does not name every model it affected, or shows an impact
//   other than the worst of its updates (it once kept one of two models and "minor");
// - the front page shows a never-impaired model at anything but 100.00% uptime, or the
//   impaired one at 100.00% (uptime once came from probe counts);
// - the impaired model's page has no link to the incident, or a chart's value axis tops
//   below the highest value it plots.
import { chromium } from 'playwright-core';

const base = process.argv[2];
if (!base) {
  console.error('usage: node incident.mjs BASE_URL');
  process.exit(2);
}
const failures = [];
const fail = (msg) => { failures.push(msg); console.error(`FAIL ${msg}`); };
const getJson = async (path) => (await fetch(base + path)).json();

// Wait (up to three minutes) for the incident to open and resolve.
let incident;
for (let i = 0; i < 360; i++) {
  const { incidents } = await getJson('/api/v1/incidents');
  incident = incidents.find((x) => x.provider === 'acme');
  if (incident?.status === 'resolved') break;
  await new Promise((r) => setTimeout(r, 500));
}
if (incident?.status !== 'resolved') {
  console.error(`the incident did not resolve in time: ${JSON.stringify(incident)}`);
  process.exit(1);
}
const rank = ['none', 'minor', 'major', 'critical'];
const peak = incident.updates.map((u) => u.impact).reduce((a, b) => (rank.indexOf(b) > rank.indexOf(a) ? b : a), 'none');
const last = incident.updates.filter((u) => u.impact !== 'none')[0]?.impact;
if (rank.indexOf(last) >= rank.indexOf(peak)) {
  fail(`the scenario needs an update less severe than the peak (${peak}); the last was ${last}`);
}
if (incident.impact !== peak) fail(`the API says impact ${incident.impact}, the worst update was ${peak}`);
const affected = [...incident.affected].sort().join(',');
if (affected !== 'acme/big,acme/mid') fail(`the resolved incident lists ${affected}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}/incidents/${incident.id}`, { waitUntil: 'load' });
  const text = await page.locator('main').innerText();
  const label = { minor: 'Minor impact', major: 'Major impact', critical: 'Critical impact' }[peak];
  if (!text.includes(label)) fail(`the incident page does not say "${label}": ${text}`);
  for (const id of ['big', 'mid']) {
    if ((await page.locator(`main a[href="/models/acme/${id}"]`).count()) === 0) {
      fail(`the incident page has no link to acme/${id}`);
    }
  }
  const title = await page.locator('h1').innerText();
  if (!(title.includes('Big') && title.includes('Mid'))) fail(`the title does not name both: ${title}`);
  // Acme's page acknowledged the fault after we opened the incident: the page says when, and
  // the lead agrees with /api/v1/official.
  const official = await getJson('/api/v1/official');
  const lead = official.ours.find((l) => l.incident_id === incident.id);
  if (!lead?.acknowledged_at || !(lead.lead_minutes > 0)) fail(`no positive lead in /api/v1/official: ${JSON.stringify(lead)}`);
  const ack = await page.locator('dd.official-acknowledgement').innerText();
  if (!ack.includes('after modelwatch')) fail(`the incident page's acknowledgement says "${ack}"`);

  await page.goto(`${base}/`, { waitUntil: 'load' });
  const uptimeOf = async (id) => page.locator(`li:has(a[href="/models/acme/${id}"]) .bars-legend span:nth-child(2)`).innerText();
  const steady = await uptimeOf('steady');
  if (steady !== '100.00% uptime') fail(`the never-impaired model shows "${steady}"`);
  const big = await uptimeOf('big');
  if (!/^\d+\.\d\d% uptime$/.test(big) || big === '100.00% uptime') fail(`the impaired model shows "${big}"`);

  await page.goto(`${base}/models/acme/big`, { waitUntil: 'load' });
  if ((await page.locator(`a[href="/incidents/${incident.id}"]`).count()) === 0) {
    fail('the impaired model page has no link to its incident');
  }
  // Every chart's value axis tops at or above the highest value it plots (its title says
  // "p50 up to …, p95 up to …").
  const toMs = (t) => (t.endsWith(' ms') ? parseFloat(t) : t.endsWith(' s') ? parseFloat(t) * 1000 : NaN);
  const charts = await page.$$eval('figure.chart svg', (svgs) => svgs.map((svg) => ({
    label: svg.getAttribute('aria-label'),
    ticks: [...svg.querySelectorAll('text.tick[dominant-baseline]')].map((t) => ({ y: +t.getAttribute('y'), text: t.textContent })),
  })));
  if (charts.length < 3) fail(`${charts.length} charts on the model page`);
  for (const c of charts) {
    const m = /p50 up to ([^,;]+), p95 up to ([^,;]+)/.exec(c.label ?? '');
    if (!m) continue;
    const highest = Math.max(...[m[1], m[2]].map(toMs).filter((v) => !isNaN(v)));
    const top = c.ticks.reduce((a, b) => (b.y < a.y ? b : a));
    if (!(toMs(top.text) >= highest)) fail(`chart "${c.label}" tops at ${top.text}`);
  }
} finally {
  await browser.close();
}
if (failures.length > 0) {
  console.error(`${failures.length} incident check(s) failed`);
  process.exit(1);
}
console.log(`incident checks passed: #${incident.id} "${incident.title}", ${peak} at worst, ${affected}`);
