// Browser checks: every page each role can reach, in headless Chromium.
//
// Starts the release binary on a throw-away embedded database, creates one account per
// role with the CLI, and crawls the site as each role (anonymous with and without
// PUBLIC_READ, viewer, staff, admin). On every page it
//   - runs axe-core (WCAG 2.0/2.1 A and AA rules, plus the landmark best-practice rules),
//   - checks the layout at 375 x 800: no horizontal page scroll (wide tables scroll
//     inside their .table-scroll container),
//   - checks the keyboard path: the first Tab reaches a visible skip link to <main>, and
//     every focused element in the first few Tab stops has a visible focus indicator,
//   - saves the served HTML,
// then runs the W3C Nu Html Checker (vnu.jar) once over all saved pages. It also submits
// a few forms to check error states (a failed sign-in, an invalid admin form, a
// conflicting save), and what a reader sees on /funding (no table cut at 1280 px, bar
// segments inside their bars, a scroll hint at 375 px), in print (no search box, the
// "how computed" list open, a print date) and /favicon.ico. Prints a summary and exits
// non-zero on any finding.
//
// Environment:
//   PT_BIN           the portfolio-tracker binary (default: $CARGO_TARGET_DIR or
//                    <repo>/target, then release/portfolio-tracker)
//   PT_CHROMIUM      Chromium executable (default /usr/bin/chromium)
//   PT_JAVA          java executable (default: java on PATH)
//   PT_MAX_PAGES     crawl cap per role (default 300)
//   PT_REPORT_DIR    where the saved pages and report.json go (default: a temp dir,
//                    removed when everything passes)

import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

const BIN =
  process.env.PT_BIN ||
  path.join(process.env.CARGO_TARGET_DIR || path.join(repo, 'target'), 'release', 'portfolio-tracker');
const CHROMIUM = process.env.PT_CHROMIUM || '/usr/bin/chromium';
const JAVA = process.env.PT_JAVA || 'java';
const MAX_PAGES = Number(process.env.PT_MAX_PAGES || 300);
const PASSWORD = 'a-long-password-123';
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
// Best-practice rules for landmarks and structure, checked on top of the WCAG tags.
const AXE_EXTRA_RULES = [
  'region',
  'landmark-one-main',
  'landmark-no-duplicate-main',
  'landmark-no-duplicate-banner',
  'landmark-no-duplicate-contentinfo',
  'landmark-unique',
  'page-has-heading-one',
];
const NARROW = { width: 375, height: 800 };
const WIDE = { width: 1280, height: 900 };
const TAB_STOPS = 4;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SKIP_PREFIXES = ['/logout', '/static', '/api'];
// Downloads, not pages: the crawl fetches each one (without navigating) and checks that it
// answers 200 with its own content type, not an HTML page.
const DOWNLOAD_SUFFIXES = ['.csv', '.xlsx', '.xml', '.json'];
const MAX_DOWNLOADS = 40;
// Filter and sort links make many addresses of one page: check a few of each, so the
// crawl reaches every page rather than every combination.
const MAX_VARIANTS_PER_PATH = Number(process.env.PT_MAX_VARIANTS || 4);

const started = Date.now();
const log = (...args) => console.log(...args);
const secs = () => ((Date.now() - started) / 1000).toFixed(1);

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-browser-'));
const dataDir = path.join(work, 'data');
const reportDir = process.env.PT_REPORT_DIR ? path.resolve(process.env.PT_REPORT_DIR) : path.join(work, 'report');
const htmlDir = path.join(reportDir, 'html');
fs.mkdirSync(htmlDir, { recursive: true });
fs.mkdirSync(dataDir, { recursive: true });

let server = null;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer({ publicRead }) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const logFile = path.join(work, `server-${publicRead ? 'public' : 'private'}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(BIN, ['serve'], {
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      LISTEN_ADDR: `127.0.0.1:${port}`,
      PUBLIC_READ: publicRead ? 'true' : 'false',
      RUST_LOG: process.env.RUST_LOG || 'warn',
    },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) {
      throw new Error(`the server exited during start-up (${JSON.stringify(exited)}):\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the server did not become ready in 120 s:\n${tail(logFile)}`);
    await sleep(200);
  }
  server = { child, base, logFile, exited: () => exited };
  return server;
}

async function stopServer() {
  if (!server) return;
  const { child, exited } = server;
  server = null;
  if (exited()) return;
  const done = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await done;
  clearTimeout(timer);
}

function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function addUser(email, role) {
  const r = spawnSync(BIN, ['user', 'add', '--email', email, '--role', role, '--password-stdin'], {
    env: { ...process.env, DATA_DIR: dataDir, RUST_LOG: 'warn' },
    input: `${PASSWORD}\n`,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`user add ${email} failed (${r.status}):\n${r.stdout}${r.stderr}`);
}

/// As root the embedded cluster lives outside DATA_DIR; its path is line 2 of
/// DATA_DIR/CLUSTER_LOCATION. Removed only if it is where the app puts clusters.
function removeData() {
  try {
    const loc = path.join(dataDir, 'CLUSTER_LOCATION');
    if (fs.existsSync(loc)) {
      const cluster = (fs.readFileSync(loc, 'utf8').split('\n')[1] || '').trim();
      if (cluster.startsWith('/var/lib/portfolio-tracker/') && !cluster.includes('..')) {
        fs.rmSync(cluster, { recursive: true, force: true });
      }
    }
  } catch (e) {
    console.error(`warning: could not remove the cluster: ${e.message}`);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}

let cleaningUp = false;
async function cleanup() {
  if (cleaningUp) return;
  cleaningUp = true;
  await stopServer().catch(() => {});
  removeData();
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await cleanup();
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------------------
// Checking one page
// ---------------------------------------------------------------------------------------

const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const pages = []; // { role, url, status, file, axe: [...], overflow, structure: [...], focus: [...] }
let fileCounter = 0;

function keyOf(u) {
  const url = new URL(u);
  return url.pathname + url.search;
}

function isDownload(url) {
  return DOWNLOAD_SUFFIXES.some((sfx) => url.pathname.endsWith(sfx));
}

/// Fetches each download link once, as the signed-in role, and records any that fails.
async function checkDownloads(page, role, urls) {
  let checked = 0;
  for (const target of [...urls].slice(0, MAX_DOWNLOADS)) {
    const k = keyOf(target);
    let problem = null;
    let status = 0;
    try {
      const response = await page.request.get(target, { timeout: 60_000 });
      status = response.status();
      const type = response.headers()['content-type'] || '';
      if (status !== 200) problem = `download answered ${status}`;
      else if (type.startsWith('text/html')) problem = `download answered an HTML page (${type})`;
      else if ((await response.body()).length === 0) problem = 'download is empty';
    } catch (e) {
      problem = `download failed: ${e.message}`;
    }
    checked++;
    log(`  ${status} ${k} [download]`);
    if (problem) {
      pages.push({ role, label: 'download', url: target, status, axe: [], structure: [problem], focus: [], overflow: null, vnu: [] });
    }
  }
  return checked;
}

function shouldFollow(u, origin) {
  let url;
  try {
    url = new URL(u);
  } catch {
    return false;
  }
  if (url.origin !== origin) return false;
  return !isDownload(url) && !isSkipped(url);
}

function isSkipped(url) {
  return SKIP_PREFIXES.some((p) => url.pathname === p || url.pathname.startsWith(`${p}/`));
}

/// Runs every check on the page as it is now; `response` is the navigation's response
/// (its body is what the server sent, which is what vnu checks).
async function checkPage(page, role, label, response) {
  const url = page.url();
  const status = response ? response.status() : 0;
  let html = '';
  try {
    html = response ? await response.text() : await page.content();
  } catch {
    html = await page.content();
  }
  const file = path.join(htmlDir, `${String(++fileCounter).padStart(4, '0')}.html`);
  fs.writeFileSync(file, html);

  // axe at desktop width.
  await page.setViewportSize(WIDE);
  await page.evaluate(axeSource);
  const axeResult = await page.evaluate(
    async ({ tags, extra }) => {
      const rules = Object.fromEntries(extra.map((id) => [id, { enabled: true }]));
      const result = await window.axe.run(document, {
        runOnly: { type: 'tag', values: tags },
        rules,
        resultTypes: ['violations', 'incomplete'],
      });
      const incomplete = result.incomplete.map((v) => ({ id: v.id, nodes: v.nodes.length }));
      const violations = result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        tags: v.tags,
        nodes: v.nodes.map((n) => ({
          target: n.target.join(' '),
          html: n.html.slice(0, 300),
          summary: n.failureSummary,
        })),
      }));
      return { violations, incomplete, passes: result.passes.length };
    },
    { tags: AXE_TAGS, extra: AXE_EXTRA_RULES },
  );
  const axe = axeResult.violations;
  if (axeResult.passes === 0) throw new Error(`axe-core ran no rule on ${url}`);

  // Structure: a skip link first, one <main>, the skip link's target.
  const structure = await page.evaluate(() => {
    const problems = [];
    const mains = document.querySelectorAll('main, [role=main]');
    if (mains.length !== 1) problems.push(`${mains.length} <main> landmarks (want 1)`);
    const first = document.querySelector('body a[href], body button, body input, body select, body textarea');
    const skip = document.querySelector('a.skip-link[href^="#"]');
    if (!skip) problems.push('no skip link (a.skip-link)');
    else {
      if (first !== skip) problems.push('the skip link is not the first focusable element');
      const target = document.getElementById(skip.getAttribute('href').slice(1));
      if (!target) problems.push(`the skip link's target ${skip.getAttribute('href')} does not exist`);
      else if (!target.matches('main, [role=main]')) problems.push('the skip link does not lead to <main>');
    }
    if (!document.querySelector('header, [role=banner]')) problems.push('no banner (<header>)');
    if (!document.querySelector('nav, [role=navigation]')) problems.push('no <nav>');
    return problems;
  });

  // Keyboard at 375 px: Tab from the top; the first stop is the skip link, visible in the
  // viewport; every stop shows a focus indicator.
  await page.setViewportSize(NARROW);
  await page.evaluate(() => {
    window.scrollTo(0, 0);
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  });
  const focus = [];
  for (let i = 0; i < TAB_STOPS; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate((vw) => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const cs = getComputedStyle(el);
      const r = el.getBoundingClientRect();
      const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 1;
      const shadow = cs.boxShadow && cs.boxShadow !== 'none';
      const desc = el.tagName.toLowerCase() + (el.className ? `.${String(el.className).split(' ').join('.')}` : '') +
        (el.getAttribute('href') ? `[href="${el.getAttribute('href')}"]` : '');
      return {
        desc,
        skip: el.classList.contains('skip-link'),
        indicator: outline || shadow,
        visible: r.width > 0 && r.height > 0 && r.right > 0 && r.left < vw && r.bottom > 0,
      };
    }, NARROW.width);
    if (!f) break;
    if (i === 0 && !f.skip) focus.push(`first Tab stop is ${f.desc}, not the skip link`);
    if (i === 0 && f.skip && !f.visible) focus.push('the skip link is not visible when focused');
    if (!f.indicator) focus.push(`no visible focus indicator on ${f.desc}`);
  }

  // Layout at 375 px: no horizontal page scroll. Wide tables scroll inside .table-scroll,
  // which does not widen the page; anything else that sticks out is listed.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  const overflow = await page.evaluate(() => {
    const doc = document.documentElement;
    const width = doc.clientWidth;
    if (doc.scrollWidth <= width) return null;
    const culprits = [];
    for (const el of document.body.querySelectorAll('*')) {
      // Inside a scroll container only what escapes it counts: absolutely positioned
      // boxes whose containing block lies outside the container.
      const inScroll = el.parentElement && el.parentElement.closest('.table-scroll');
      if (inScroll && !['absolute', 'fixed'].includes(getComputedStyle(el).position)) continue;
      const r = el.getBoundingClientRect();
      if (r.right > width + 1 && r.width > 0) {
        const parentOver = el.parentElement && el.parentElement.getBoundingClientRect().right > width + 1;
        if (!parentOver || culprits.length === 0) {
          let d = el.tagName.toLowerCase();
          if (el.id) d += `#${el.id}`;
          if (el.className && typeof el.className === 'string') d += `.${el.className.trim().split(/\s+/).join('.')}`;
          culprits.push(`${d} (right edge ${Math.round(r.right)} px)`);
        }
      }
      if (culprits.length >= 5) break;
    }
    return { scrollWidth: doc.scrollWidth, width, culprits };
  });

  const record = { role, label, url, status, file, axe, incomplete: axeResult.incomplete, structure, focus, overflow, vnu: [] };
  pages.push(record);
  const n = axe.reduce((s, v) => s + v.nodes.length, 0);
  const flags = [
    n ? `axe ${n}` : '',
    structure.length ? `structure ${structure.length}` : '',
    focus.length ? `focus ${focus.length}` : '',
    overflow ? `overflow ${overflow.scrollWidth}px` : '',
  ].filter(Boolean);
  log(`  ${String(status).padStart(3)} ${keyOf(url)}${label ? ` [${label}]` : ''}${flags.length ? `  !! ${flags.join(', ')}` : ''}`);
  return record;
}

/// Visits `start` URLs and every same-origin link found on the way (GET only).
async function crawl(page, role, base, starts) {
  const origin = new URL(base).origin;
  const seen = new Set();
  const variants = new Map();
  const queue = starts.map((s) => new URL(s, base).href);
  const downloads = new Set();
  let count = 0;
  while (queue.length && count < MAX_PAGES) {
    const target = queue.shift();
    const k = keyOf(target);
    if (seen.has(k)) continue;
    seen.add(k);
    const pathOnly = new URL(target).pathname;
    const visited = variants.get(pathOnly) || 0;
    if (visited >= MAX_VARIANTS_PER_PATH) continue;
    variants.set(pathOnly, visited + 1);
    let response;
    try {
      response = await page.goto(target, { waitUntil: 'load', timeout: 30_000 });
    } catch (e) {
      pages.push({ role, label: 'navigation failed', url: target, status: 0, axe: [], structure: [`navigation failed: ${e.message}`], focus: [], overflow: null, vnu: [] });
      log(`  ERR ${k}: ${e.message}`);
      continue;
    }
    const finalKey = keyOf(page.url());
    if (finalKey !== k) {
      if (seen.has(finalKey)) continue; // redirected to a page already checked
      seen.add(finalKey);
    }
    count++;
    const entry = await checkPage(page, role, finalKey !== k ? `from ${k}` : '', response);
    // Every address the crawl reaches came from a link on the site: a 404 is a broken link.
    if (response && response.status() === 404 && entry && entry.structure) {
      entry.structure.push('broken link: a link on the site leads to a 404 page');
    }
    // getAttribute, not .href: an SVG <a> (the timeline's labels) has no string href.
    const links = await page.evaluate(() =>
      Array.from(document.querySelectorAll('a[href]'), (a) => new URL(a.getAttribute('href'), document.baseURI).href),
    );
    for (const href of links) {
      const link = new URL(href);
      if (link.origin === origin && isDownload(link) && !isSkipped(link)) downloads.add(link.href);
      if (!shouldFollow(href, origin)) continue;
      const u = new URL(href);
      u.hash = '';
      if (!seen.has(keyOf(u.href))) queue.push(u.href);
    }
  }
  if (queue.some((u) => !seen.has(keyOf(u)))) log(`  (stopped at the cap of ${MAX_PAGES} pages)`);
  await checkDownloads(page, role, downloads);
  return count;
}

async function visit(page, role, urlPath, label) {
  const response = await page.goto(new URL(urlPath, server.base).href, { waitUntil: 'load', timeout: 30_000 });
  return checkPage(page, role, label, response);
}

async function signIn(page, base, email) {
  await page.goto(`${base}/login`);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  const [response] = await Promise.all([page.waitForNavigation(), page.click('form[action="/login"] button[type=submit]')]);
  const cookies = await page.context().cookies();
  if (!cookies.some((c) => c.name.endsWith('pt_session'))) {
    throw new Error(`signing in as ${email} failed (status ${response && response.status()}, at ${page.url()})`);
  }
}

async function submitAndCheck(page, role, label, submitSelector, expectStatus) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(submitSelector)]);
  const record = await checkPage(page, role, label, response);
  if (expectStatus && record.status !== expectStatus) {
    record.structure.push(`${label}: expected status ${expectStatus}, got ${record.status}`);
  }
  return record;
}

// ---------------------------------------------------------------------------------------
// The roles
// ---------------------------------------------------------------------------------------

const ERROR_PAGES = [
  ['/no-such-page', '404'],
  ['/programmes/no-such-item', '404 item'],
  ['/?sort=bogus', '400'],
];

async function runRole(browser, role, { email, starts, forbidden = [], extra }) {
  log(`\n== ${role}`);
  const context = await browser.newContext({ viewport: WIDE, javaScriptEnabled: true });
  const page = await context.newPage();
  try {
    if (email) await signIn(page, server.base, email);
    const n = await crawl(page, role, server.base, starts);
    for (const [p, label] of [...ERROR_PAGES, ...forbidden]) await visit(page, role, p, label);
    if (extra) await extra(page);
    return n;
  } finally {
    await context.close();
  }
}

async function adminForms(page) {
  const role = 'admin';
  // An invalid new organisation: empty name and slug.
  await page.goto(`${server.base}/admin/organisations/new`);
  const csrf = await page.inputValue('form.stacked input[name=_csrf]');
  if (!csrf) throw new Error('the organisation form has no _csrf token');
  await page.fill('#name', '');
  await page.fill('#slug', '');
  await submitAndCheck(page, role, 'POST invalid organisation', 'form.stacked button[type=submit]', 422);

  // A conflicting save: the edit form of the first organisation, sent at a stale version.
  await page.goto(`${server.base}/admin/organisations`);
  const edit = await page.evaluate(() => {
    const a = document.querySelector('a[href^="/admin/organisations/"][href$="/edit"]');
    return a && a.getAttribute('href');
  });
  if (edit) {
    await page.goto(new URL(edit, server.base).href);
    await page.evaluate(() => {
      const v = document.querySelector('form.stacked input[name=version]');
      v.value = String(Number(v.value) - 1);
    });
    await page.fill('#acronym', 'CHANGED');
    await submitAndCheck(page, role, 'POST stale organisation', 'form.stacked button[type=submit]', 409);
  } else {
    log('  (no organisation edit link found; skipped the conflict check)');
  }
}

async function anonymousForms(page) {
  await page.goto(`${server.base}/login`);
  await page.fill('#email', 'nobody@example.org');
  await page.fill('#password', 'not-the-password-000');
  await submitAndCheck(page, 'anonymous', 'POST failed sign-in', 'form[action="/login"] button[type=submit]');
}

/// Checks of what a reader sees (issue 9), on a public site: each finding goes into the
/// report as a structure finding of a page labelled "visual".
async function visualChecks(page) {
  const role = 'public';
  const record = (urlPath, label, problems) => {
    const url = new URL(urlPath, server.base).href;
    pages.push({ role, label, url, status: 200, axe: [], structure: problems, focus: [], overflow: null, vnu: [] });
    log(`  ${problems.length ? '!!' : 'ok'} ${urlPath} [${label}]${problems.length ? `: ${problems.join('; ')}` : ''}`);
  };

  // The funding page at 1280 px: no table is cut (each fits its scroll container), and
  // every bar's segments, the gap last, lie inside the bar's SVG.
  await page.setViewportSize(WIDE);
  await page.goto(`${server.base}/funding`, { waitUntil: 'load' });
  record('/funding', 'visual: tables fit at 1280 px', await page.evaluate(() =>
    [...document.querySelectorAll('.table-scroll')].flatMap((box) => {
      const table = box.querySelector('table');
      const heading = box.closest('section')?.querySelector('h2')?.textContent ?? 'a table';
      return table.scrollWidth > box.clientWidth
        ? [`${heading}: table ${table.scrollWidth} px wide in ${box.clientWidth} px`]
        : [];
    })));
  record('/funding', 'visual: bar segments inside their bars', await page.evaluate(() => {
    const problems = [];
    const bars = [...document.querySelectorAll('svg.stack')];
    if (!bars.length) problems.push('no bar on the page');
    for (const svg of bars) {
      const box = svg.getBoundingClientRect();
      for (const seg of svg.querySelectorAll('rect[class^="seg-"]')) {
        const r = seg.getBoundingClientRect();
        if (r.left < box.left - 0.5 || r.right > box.right + 0.5) {
          problems.push(`${seg.getAttribute('class')} of "${svg.getAttribute('aria-label')}" spans ${r.left.toFixed(1)}-${r.right.toFixed(1)}, its bar ${box.left.toFixed(1)}-${box.right.toFixed(1)}`);
        }
      }
    }
    // The seed's bienniums have a gap of at least USD 40,000,000: it must show.
    const biennium = document.querySelector('#bienniums-heading')?.closest('section');
    const gaps = biennium ? [...biennium.querySelectorAll('rect.seg-gap')] : [];
    if (!gaps.some((g) => g.getBoundingClientRect().width >= 1)) problems.push('no visible gap segment in the biennium bars');
    return problems;
  }));

  // At 375 px a table wider than the screen says so above itself; one that fits does not.
  // The hint follows a scroll-state container query, which the browser evaluates from a
  // snapshot taken after layout, a frame or two after the resize: give it up to 2 s to
  // settle, as a reader's eye would, before reading the result.
  await page.setViewportSize(NARROW);
  const cutWithoutHint = () =>
    [...document.querySelectorAll('.table-scroll')].flatMap((box) => {
      const hint = getComputedStyle(box, '::before');
      const shown = hint.display !== 'none' && hint.content.includes('Scroll sideways');
      const overflows = box.scrollWidth > box.clientWidth;
      const heading = box.closest('section')?.querySelector('h2')?.textContent ?? 'a table';
      return overflows && !shown ? [`${heading}: cut at 375 px with no scroll hint`] : [];
    });
  await page.waitForFunction(`(${cutWithoutHint})().length === 0`, null, { timeout: 2000, polling: 'raf' }).catch(() => {});
  record('/funding', 'visual: scroll hint at 375 px', await page.evaluate(cutWithoutHint));

  // Print: no search box or navigation, "How these figures are computed" spelt out, and
  // the date the copy was made.
  await page.setViewportSize(WIDE);
  await page.emulateMedia({ media: 'print' });
  for (const urlPath of ['/funding', '/programmes/guinea-bissau']) {
    await page.goto(`${server.base}${urlPath}`, { waitUntil: 'load' });
    record(urlPath, 'visual: print', await page.evaluate(() => {
      const problems = [];
      const visible = (el) => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
      if (visible(document.querySelector('.site-header .search'))) problems.push('the search box prints');
      if (visible(document.querySelector('.site-header nav'))) problems.push('the navigation prints');
      const howto = document.querySelector('.howto-print');
      if (!visible(howto) || !howto.textContent.includes('Coverage')) problems.push('"How these figures are computed" does not print expanded');
      const stamp = document.querySelector('.print-stamp');
      if (!visible(stamp) || !/Printed from Portfolio Tracker: page generated \d/.test(stamp.textContent)) problems.push('no print date');
      return problems;
    }));
  }
  await page.emulateMedia({ media: 'screen' });

  // Browsers ask for /favicon.ico on every page.
  const icon = await page.request.get(`${server.base}/favicon.ico`, { maxRedirects: 0 });
  const iconProblems = icon.status() === 404 || icon.status() >= 500 ? [`/favicon.ico answers ${icon.status()}`] : [];
  const linked = await page.evaluate(() => document.querySelector('link[rel="icon"]')?.getAttribute('href'));
  if (linked !== '/favicon.svg') iconProblems.push(`the layout links the icon ${linked}, not /favicon.svg`);
  else {
    const svg = await page.request.get(`${server.base}${linked}`);
    if (svg.status() !== 200 || !svg.headers()['content-type']?.startsWith('image/svg+xml')) iconProblems.push(`${linked} answers ${svg.status()} ${svg.headers()['content-type']}`);
  }
  record('/favicon.ico', 'visual: icon', iconProblems);
}

/// A page with known violations proves that axe-core runs and its findings are read.
async function selfTest(browser) {
  const page = await browser.newPage();
  try {
    await page.setContent('<!DOCTYPE html><html lang="en"><head><title>t</title></head><body><main><h1>t</h1><img src="data:,"><input type="text"></main></body></html>');
    await page.evaluate(axeSource);
    const ids = await page.evaluate(async (tags) => (await window.axe.run(document, { runOnly: { type: 'tag', values: tags } })).violations.map((v) => v.id), AXE_TAGS);
    if (!ids.includes('image-alt') || !ids.includes('label')) throw new Error(`axe-core self-test: expected image-alt and label, got ${JSON.stringify(ids)}`);
  } finally {
    await page.close();
  }
}

// ---------------------------------------------------------------------------------------
// vnu
// ---------------------------------------------------------------------------------------

function runVnu() {
  const jar = path.join(path.dirname(require.resolve('vnu-jar/package.json')), 'build', 'dist', 'vnu.jar');
  // A page with known errors proves that vnu runs and that its report is read.
  const probe = path.join(reportDir, 'vnu-selftest.html');
  fs.writeFileSync(probe, '<!DOCTYPE html><html lang="en"><head><title>t</title></head><body><p id="a"></p><p id="a"></p></body></html>');
  const files = [probe, ...pages.filter((p) => p.file).map((p) => p.file)];
  const r = spawnSync(JAVA, ['-Xss1024k', '-jar', jar, '--errors-only', '--format', 'json', ...files], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new Error(`running vnu: ${r.error.message}`);
  // The JSON report goes to stderr; the JVM may print notes of its own before it.
  const out = `${r.stderr || ''}\n${r.stdout || ''}`;
  const json = out.split('\n').filter((l) => l.startsWith('{')).pop();
  let messages = [];
  try {
    messages = JSON.parse(json).messages;
  } catch {
    throw new Error(`vnu printed something that is not JSON (exit ${r.status}):\n${out.slice(0, 2000)}`);
  }
  const byFile = new Map(pages.filter((p) => p.file).map((p) => [path.resolve(p.file), p]));
  let probeErrors = 0;
  for (const m of messages) {
    if (m.type !== 'error' && !(m.type === 'non-document-error')) continue;
    const file = m.url ? path.resolve(fileURLToPath(m.url)) : null;
    if (file === path.resolve(probe)) {
      probeErrors++;
      continue;
    }
    const rec = file && byFile.get(file);
    const entry = { message: m.message, line: m.lastLine, extract: (m.extract || '').trim().slice(0, 200) };
    if (rec) rec.vnu.push(entry);
    else pages.push({ role: '?', url: m.url || '?', status: 0, axe: [], structure: [], focus: [], overflow: null, vnu: [entry] });
  }
  if (!probeErrors) throw new Error(`vnu found no error in its self-test page (exit ${r.status}):\n${out.slice(0, 2000)}`);
}

// ---------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------

function summarize(roleOrder) {
  const rows = roleOrder.map((role) => {
    const ps = pages.filter((p) => p.role === role);
    return {
      role,
      pages: ps.length,
      axe: ps.reduce((s, p) => s + p.axe.reduce((t, v) => t + v.nodes.length, 0), 0),
      vnu: ps.reduce((s, p) => s + p.vnu.length, 0),
      overflow: ps.filter((p) => p.overflow).length,
      structure: ps.reduce((s, p) => s + p.structure.length, 0),
      focus: ps.reduce((s, p) => s + p.focus.length, 0),
    };
  });
  const total = rows.reduce(
    (t, r) => {
      for (const k of ['pages', 'axe', 'vnu', 'overflow', 'structure', 'focus']) t[k] += r[k];
      return t;
    },
    { role: 'total', pages: 0, axe: 0, vnu: 0, overflow: 0, structure: 0, focus: 0 },
  );
  const head = ['role', 'pages', 'axe violations', 'vnu errors', 'overflow pages', 'structure', 'focus'];
  const all = [...rows, total].map((r) => [r.role, r.pages, r.axe, r.vnu, r.overflow, r.structure, r.focus].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...all.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  log('\n' + line(head));
  log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`);
  for (const r of all) log(line(r));
  return total;
}

/// axe's "needs review" results: not failures, listed so that a person can look.
function needsReview() {
  const byRule = new Map();
  for (const p of pages)
    for (const v of p.incomplete || []) {
      const e = byRule.get(v.id) || { nodes: 0, pages: 0 };
      e.nodes += v.nodes;
      e.pages += 1;
      byRule.set(v.id, e);
    }
  if (!byRule.size) return;
  log('\naxe "needs review" (not failures): ' + [...byRule].map(([id, e]) => `${id} ${e.nodes} elements on ${e.pages} pages`).join('; '));
}

function details() {
  // Group identical findings across pages and roles.
  const groups = new Map();
  const add = (kind, key, text, p) => {
    const k = `${kind}\u0000${key}`;
    if (!groups.has(k)) groups.set(k, { kind, text, pages: [] });
    groups.get(k).pages.push(`${p.role} ${keyOf(p.url)}${p.label ? ` [${p.label}]` : ''}`);
  };
  for (const p of pages) {
    for (const v of p.axe)
      for (const n of v.nodes)
        add('axe', `${v.id}|${n.target}|${n.html}`, `axe ${v.id} (${v.impact}): ${v.help}\n      element: ${n.target}\n      html: ${n.html}\n      ${(n.summary || '').replace(/\n/g, '\n      ')}`, p);
    for (const e of p.vnu) add('vnu', `${e.message}|${e.extract}`, `vnu: ${e.message}\n      extract: ${e.extract}`, p);
    for (const s of p.structure) add('structure', s, `structure: ${s}`, p);
    for (const s of p.focus) add('focus', s, `focus: ${s}`, p);
    if (p.overflow) add('overflow', p.overflow.culprits.join(', '), `overflow at 375 px: ${p.overflow.culprits.join(', ') || '(no single element found)'}`, p);
  }
  if (!groups.size) return;
  log('\nFindings (grouped; each with the pages it occurs on):');
  for (const g of groups.values()) {
    const shown = g.pages.slice(0, 6).join('; ');
    log(`\n  - ${g.text}\n      on ${g.pages.length} page(s): ${shown}${g.pages.length > 6 ? '; ...' : ''}`);
  }
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

async function main() {
  if (!fs.existsSync(BIN)) throw new Error(`no binary at ${BIN}: run cargo build --release (or set PT_BIN)`);
  log(`binary: ${BIN}\nchromium: ${CHROMIUM}\nwork dir: ${work}`);

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  log(`browser: Chromium ${browser.version()}`);
  await selfTest(browser);
  const roleOrder = ['anonymous', 'public', 'viewer', 'staff', 'admin'];
  try {
    // A private site: anonymous visitors reach only /login.
    await startServer({ publicRead: false });
    log(`server: ${server.base} (PUBLIC_READ=false), started at ${secs()} s`);
    for (const role of ['viewer', 'staff', 'admin']) addUser(`${role}@example.org`, role);

    await runRole(browser, 'anonymous', {
      starts: ['/', '/result-areas', '/admin', '/login'],
      extra: anonymousForms,
    });
    await runRole(browser, 'viewer', {
      email: 'viewer@example.org',
      starts: ['/', '/result-areas', '/admin'],
    });
    await runRole(browser, 'staff', {
      email: 'staff@example.org',
      starts: ['/', '/result-areas', '/admin'],
    });
    await runRole(browser, 'admin', {
      email: 'admin@example.org',
      starts: ['/', '/result-areas', '/admin'],
      extra: adminForms,
    });
    await stopServer();

    // A public transparency site: anonymous visitors read what a viewer reads.
    await startServer({ publicRead: true });
    log(`\nserver: ${server.base} (PUBLIC_READ=true)`);
    await runRole(browser, 'public', { starts: ['/', '/result-areas', '/admin'], extra: visualChecks });
    await stopServer();
  } finally {
    await browser.close().catch(() => {});
    await cleanup();
  }

  log(`\nrunning vnu over ${pages.filter((p) => p.file).length} saved pages ...`);
  const t = Date.now();
  runVnu();
  log(`vnu took ${((Date.now() - t) / 1000).toFixed(1)} s`);

  fs.writeFileSync(path.join(reportDir, 'report.json'), JSON.stringify(pages, null, 1));
  needsReview();
  details();
  const total = summarize(roleOrder);
  const statuses = {};
  for (const p of pages) statuses[p.status] = (statuses[p.status] || 0) + 1;
  log(`\nresponse statuses: ${Object.entries(statuses).map(([s, n]) => `${s}×${n}`).join(', ')}`);
  const failed = total.axe + total.vnu + total.overflow + total.structure + total.focus;
  log(`browser checks took ${secs()} s`);
  const bad = pages.filter((p) => p.axe.length || p.vnu.length || p.overflow || p.structure.length || p.focus.length).length;
  log(`\nbrowser: ${pages.length - bad} passed, ${bad} failed`);
  if (failed) {
    log(`\nbrowser checks: FAILED (${failed} findings). Saved pages and report.json: ${reportDir}`);
    process.exitCode = 1;
  } else {
    log('\nbrowser checks: passed');
    if (!process.env.PT_REPORT_DIR) fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch(async (e) => {
  console.error(`error: ${e.stack || e.message}`);
  await cleanup();
  process.exit(2);
});
