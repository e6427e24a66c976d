#!/usr/bin/env node
// Browser tests of the contactlog web UI (web/), with Playwright driving
// Debian's Chromium (/usr/bin/chromium; `npx playwright install` is not
// used). Starts its own `contactlog serve` on free ports with a fresh demo
// data directory, walks through the scenarios of issue 6 as a user would,
// fails on console errors and Content-Security-Policy violations, and
// writes screenshots of every page (desktop 1280×800, narrow 390×844).
//
// Usage: node --test-reporter=./tap-reporter.mjs run.mjs CONTACTLOG_BINARY SCREENSHOT_DIR
//   (or CONTACTLOG_BIN and SCREENSHOT_DIR in the environment).
// Runs `npm ci` here first when node_modules is missing.
// Environment: CHROMIUM (default /usr/bin/chromium), CONTACTLOG_WEB_ROOT
// (default: the web/ folder of this source tree).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const sourceRoot = path.resolve(here, '..', '..');
const binary = path.resolve(process.argv[2] || process.env.CONTACTLOG_BIN || path.join(sourceRoot, 'build', 'contactlog'));
const shotDir = path.resolve(process.argv[3] || process.env.SCREENSHOT_DIR || path.join(sourceRoot, 'build', 'screenshots'));
const webRoot = process.env.CONTACTLOG_WEB_ROOT || path.join(sourceRoot, 'web');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

const DESKTOP = { width: 1280, height: 800 };
const NARROW = { width: 390, height: 844 };
const USERS = {
  lena: { email: 'lena.hoffmann@nordlicht-agentur.example', password: 'change-me-lena', name: 'Lena Hoffmann' },
  tobias: { email: 'tobias.brandt@nordlicht-agentur.example', password: 'change-me-tobias', name: 'Tobias Brandt' },
  mehmet: { email: 'mehmet.yilmaz@nordlicht-agentur.example', password: 'change-me-mehmet', name: 'Mehmet Yılmaz' },
  svenja: { email: 'svenja.koehler@nordlicht-agentur.example', password: 'change-me-svenja', name: 'Svenja Köhler' },
};

let chromium;
let browser;
let server;
let base;
let dataDir;
let serverLog;
let callPage; // the lead page with the recorded call and its attachment

/* ---- set-up ---------------------------------------------------------------------------- */

function ensureModules() {
  // Installed, and the version the lock file names: else `npm ci` (again).
  const installed = path.join(here, 'node_modules', 'playwright-core', 'package.json');
  const lock = JSON.parse(readFileSync(path.join(here, 'package-lock.json'), 'utf8'));
  const wanted = lock.packages['node_modules/playwright-core'].version;
  if (existsSync(installed) && JSON.parse(readFileSync(installed, 'utf8')).version === wanted) return;
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: here, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new Error(`npm ci in ${here} failed (exit ${r.status})`);
}

function startServer() {
  return new Promise((resolve, reject) => {
    // A German agency's server keeps German time (README, "Time zone"): "today" for the
    // follow-ups due is the browsers' day, also between 23:00 and 24:00 UTC.
    const env = { ...process.env, CONTACTLOG_WEB_ROOT: webRoot, TZ: 'Europe/Berlin' };
    const child = spawn(binary, ['serve', '--data-dir', dataDir, '--lmtp', '127.0.0.1:0', '--http', '127.0.0.1:0'], {
      env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`contactlog serve did not say where it listens:\n${out}`)), 20000);
    const onData = (chunk) => {
      serverLog.write(chunk);
      out += chunk.toString();
      const m = /listening: .*http ([\d.]+):(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: `http://${m[1]}:${m[2]}` });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => serverLog.write(c));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`contactlog serve exited (${code}) before listening:\n${out}`));
    });
  });
}

/**
 * A UTF-8 locale the machine has: de_DE.UTF-8 when it is generated, else
 * C.UTF-8. With a LANG that does not exist Chromium runs in the C locale,
 * cannot write a file name with "ä" and saves every such download as
 * "download".
 */
function utf8Locale() {
  const r = spawnSync('locale', ['-a'], { encoding: 'utf8' });
  const have = (r.stdout || '').split('\n').map((l) => l.trim().toLowerCase());
  return have.includes('de_de.utf8') ? 'de_DE.UTF-8' : 'C.UTF-8';
}

before(async () => {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) throw new Error(`Node ${process.versions.node}: the browser tests need Node 20 or newer (playwright-core)`);
  if (!existsSync(binary)) throw new Error(`no contactlog binary at ${binary}`);
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: install the Debian package chromium (scripts/install-deps)`);
  if (!existsSync(path.join(webRoot, 'index.html'))) throw new Error(`no web UI at ${webRoot}`);
  ensureModules();
  ({ chromium } = await import('playwright-core'));
  mkdirSync(shotDir, { recursive: true });
  dataDir = mkdtempSync(path.join(tmpdir(), 'contactlog-browser-'));
  serverLog = createWriteStream(path.join(shotDir, 'server.log'));
  const demo = spawnSync(binary, ['demo', '--data-dir', path.join(dataDir, 'data')],
    { encoding: 'utf8', env: { ...process.env, TZ: 'Europe/Berlin' } });
  if (demo.status !== 0) throw new Error(`contactlog demo failed (${demo.status}):\n${demo.stderr}`);
  dataDir = path.join(dataDir, 'data');
  const started = await startServer();
  server = started.child;
  base = started.url;
  // Playwright gives the browser a fresh temporary user-data-dir of its own.
  // A German Chromium, as the agencies have (chromium-l10n): the date and time
  // fields of the forms then show 03.12.2026 and 12:34 as they would for them.
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--lang=de-DE'],
    env: { ...process.env, LANGUAGE: 'de', LANG: utf8Locale() },
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) {
    server.removeAllListeners('exit');
    const done = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([done, new Promise((r) => setTimeout(r, 10000))]);
  }
  if (serverLog) serverLog.end();
  if (dataDir) rmSync(path.dirname(dataDir), { recursive: true, force: true });
});

/* ---- helpers --------------------------------------------------------------------------- */

/**
 * A new page in a fresh context (own cookies and storage) that records
 * console errors, page errors and CSP violations. `allow(text, url)`
 * returns true for an error that the scenario expects.
 */
async function openPage({ viewport = DESKTOP, locale = 'de-DE' } = {}) {
  const context = await browser.newContext({
    viewport,
    locale,
    timezoneId: 'Europe/Berlin',
    acceptDownloads: true,
    deviceScaleFactor: 1,
    // The UI switches its transitions off for this: screenshots need not wait for them.
    reducedMotion: 'reduce',
  });
  // Runs before the page's own scripts, outside its CSP: reports violations.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  const page = await context.newPage();
  const problems = [];
  const expected = [];
  // Every request to the API, as "GET /api/v1/me/inbox?limit=20", in order.
  const requests = [];
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (u.pathname.startsWith('/api/')) requests.push(`${req.method()} ${u.pathname}${u.search}`);
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'assert') return;
    const url = (msg.location() || {}).url || '';
    const text = msg.text();
    if (expected.some((fn) => fn(text, url))) return;
    problems.push(`console.${msg.type()}: ${text} ${url}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    const failure = req.failure();
    if (failure && /ERR_ABORTED/.test(failure.errorText)) return; // navigations away, downloads
    problems.push(`request failed: ${req.url()} ${failure ? failure.errorText : ''}`);
  });
  return {
    page,
    context,
    problems,
    requests,
    /** The API requests since mark (an index into requests) that match re. */
    calls(re, mark = 0) {
      return requests.slice(mark).filter((r) => re.test(r));
    },
    expect(fn) {
      expected.push(fn);
    },
    async close() {
      await context.close();
    },
    assertClean() {
      assert.deepEqual(problems, [], `console errors or CSP violations:\n${problems.join('\n')}`);
    },
  };
}

async function shot(page, name, { fullPage = false, top = false } = {}) {
  await page.waitForTimeout(50); // a frame or two: fonts and icons drawn (no transitions: reducedMotion)
  if (top) await page.evaluate(() => document.querySelectorAll('.dialog-body').forEach((b) => b.scrollTo(0, 0)));
  await page.screenshot({ path: path.join(shotDir, `${name}.png`), fullPage });
}

async function login(page, who) {
  const u = USERS[who];
  if (!page.url().startsWith(base)) await page.goto(`${base}/`);
  await page.getByLabel(/E-Mail-Adresse|E-mail address/).fill(u.email);
  await page.getByLabel(/Passwort|Password/).fill(u.password);
  await page.getByRole('button', { name: /^(Anmelden|Log in)$/ }).click();
  await page.locator('.shell main h1').waitFor();
}

async function logout(page) {
  await page.locator('#logout').click();
  await page.getByRole('heading', { name: /^(Anmelden|Log in)$/ }).waitFor();
}

async function waitIdle(page) {
  await page.waitForFunction(() => !document.querySelector('main[aria-busy="true"], [role="feed"][aria-busy="true"], .loading-row'));
}

/** Goes to a path of the UI and waits until its page is drawn. */
async function go(page, p) {
  await page.goto(base + p);
  await page.locator('.shell main h1').first().waitFor();
  await waitIdle(page);
}

/** A day counted from today in the pages' time zone (Europe/Berlin, as openPage sets it), not
 *  the test machine's: between 23:00 and 24:00 UTC, Berlin has the next day already. */
function ymd(offsetDays) {
  const today = new Intl.DateTimeFormat('en-CA', {
    timeZone: 'Europe/Berlin', year: 'numeric', month: '2-digit', day: '2-digit',
  }).format(new Date());
  const d = new Date(`${today}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + offsetDays);
  return d.toISOString().slice(0, 10);
}

/**
 * What every page must have: one h1, the landmarks, a label for every
 * field, a name for every button and link, alt on images, no inline style
 * attribute, no horizontal scrolling.
 */
async function checkPage(page, where) {
  const issues = await page.evaluate(() => {
    const out = [];
    const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
    const name = (el) => (el.getAttribute('aria-label') || '').trim()
      || (el.getAttribute('aria-labelledby') || '').split(/\s+/).map((id) => (document.getElementById(id) || {}).textContent || '').join('').trim()
      || (el.textContent || '').trim()
      || (el.getAttribute('title') || '').trim();
    const scope = document.querySelector('dialog[open]') || document;
    const h1s = [...document.querySelectorAll('h1')].filter(visible);
    if (h1s.length !== 1) out.push(`${h1s.length} visible h1`);
    if (!document.querySelector('main')) out.push('no main landmark');
    if (document.querySelector('.shell') && (!document.querySelector('header') || !document.querySelector('nav'))) out.push('no header or nav landmark');
    for (const el of scope.querySelectorAll('input, select, textarea')) {
      if (el.type === 'hidden' || !visible(el) && el.type !== 'radio' && el.type !== 'checkbox') continue;
      const labelled = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
      if (!labelled) out.push(`field without label: ${el.outerHTML.slice(0, 80)}`);
    }
    for (const el of scope.querySelectorAll('button, a[href]')) {
      if (!visible(el)) continue;
      if (!name(el)) out.push(`no accessible name: ${el.outerHTML.slice(0, 100)}`);
    }
    for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) out.push(`img without alt: ${img.src}`);
    for (const el of document.querySelectorAll('[style]:not([style=""])')) out.push(`inline style attribute: ${el.outerHTML.slice(0, 160)}`);
    const ids = new Set();
    for (const el of document.querySelectorAll('[id]')) {
      if (ids.has(el.id)) out.push(`duplicate id ${el.id}`);
      ids.add(el.id);
    }
    if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push(`horizontal scrolling: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
    return out;
  });
  assert.deepEqual(issues, [], `${where}: ${issues.join('; ')}`);
}

function card(page, subject) {
  return page.locator('article.review-card').filter({ has: page.getByRole('heading', { name: subject, exact: true }) });
}

function historyEntry(page, subject) {
  return page.locator('article.entry').filter({ has: page.getByRole('heading', { name: subject, exact: true }) });
}

async function toastSays(page, text) {
  await page.locator('.toast').filter({ hasText: text }).first().waitFor();
}

/* ---- scenarios ------------------------------------------------------------------------- */

test('the page is served with its strict Content-Security-Policy and all files load', async () => {
  const res = await fetch(`${base}/inbox`);
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /style-src 'self'/);
  const html = await res.text();
  assert.doesNotMatch(html, /<script>(?!<\/script>)|<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|<style/i, 'index.html has inline script or style');
  for (const f of ['/js/main.js', '/css/app.css', '/i18n/de.json', '/i18n/en.json', '/img/icons.svg', '/img/logo.svg', '/vendor/inter/inter-latin-wght-normal.woff2']) {
    const r = await fetch(base + f);
    assert.equal(r.status, 200, f);
  }
  const de = JSON.parse(readFileSync(path.join(webRoot, 'i18n', 'de.json'), 'utf8'));
  const en = JSON.parse(readFileSync(path.join(webRoot, 'i18n', 'en.json'), 'utf8'));
  assert.deepEqual(Object.keys(en).sort(), Object.keys(de).sort(), 'de.json and en.json have the same keys');
});

test('login: wrong password, throttling after repeated failures, then success', async () => {
  const s = await openPage();
  const { page } = s;
  // Wrong logins answer 401 and 429 on purpose: the browser logs them.
  s.expect((text, url) => /status of (401|429)/.test(text) && url.endsWith('/api/v1/session'));
  await page.goto(`${base}/`);
  await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
  // Logged out, the start asks GET /api/v1/session (never 401), not /me.
  assert.deepEqual(s.calls(/^GET /), ['GET /api/v1/session']);
  await checkPage(page, 'login');
  await shot(page, 'desktop-de-01-login');

  // An address that is nobody's: the same answer as a wrong password, and the same throttling.
  const nobody = 'niemand@nordlicht-agentur.example';
  await page.getByLabel('E-Mail-Adresse').fill(nobody);
  await page.getByLabel('Passwort').fill('falsch');
  await page.getByRole('button', { name: 'Anmelden' }).click();
  const alert = page.getByRole('alert');
  await alert.filter({ hasText: 'E-Mail-Adresse oder Passwort ist falsch.' }).waitFor();
  await shot(page, 'desktop-de-02-login-wrong-password');
  for (let i = 0; i < 4; i++) {
    await page.getByLabel('Passwort').fill(`falsch-${i}`);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByRole('button', { name: 'Anmelden' }).and(page.locator(':enabled')).waitFor();
  }
  await page.getByLabel('Passwort').fill('noch-einmal-falsch');
  await page.getByRole('button', { name: 'Anmelden' }).click();
  await alert.filter({ hasText: /Zu viele fehlgeschlagene Anmeldungen\. Bitte versuchen Sie es in \d+ (Sekunden|Minute|Minuten) erneut\./ }).waitFor();
  await shot(page, 'desktop-de-03-login-throttled');

  await page.getByLabel('E-Mail-Adresse').fill(USERS.lena.email);
  await page.getByLabel('Passwort').fill(USERS.lena.password);
  const mark = s.requests.length;
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/session') && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Anmelden' }).click(),
  ]);
  await page.getByRole('heading', { level: 1, name: 'Meine Kontakthistorie' }).waitFor();
  await waitIdle(page);
  // The badges come from the login's answer (counts), not from lists of the inbox and the follow-ups.
  const { counts } = await answer.json();
  assert.deepEqual(Object.keys(counts).sort(), ['followups_due', 'pending', 'unread_notifications']);
  assert.equal(await page.locator('[data-nav="inbox"] .nav-badge').textContent(), String(counts.pending));
  assert.equal(await page.locator('#bell .bell-badge').textContent(), String(counts.unread_notifications));
  assert.equal(await page.locator('[data-nav="followups"] .nav-badge').isHidden(), counts.followups_due === 0);
  assert.deepEqual(s.calls(/\/me\/(followups|notifications)|\/me\/inbox\?(?!limit=20$)/, mark), [], 'no list is loaded for the badges');
  assert.deepEqual(s.calls(/^GET \/api\/v1\/me(\?|$)/, mark), [], 'the login answered with the counters already');
  // The session survives a reload — told by the server (GET /api/v1/session), nothing kept in the browser.
  await page.evaluate(() => localStorage.clear());
  const reload = s.requests.length;
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Meine Kontakthistorie' }).waitFor();
  await waitIdle(page);
  assert.equal(s.calls(/^GET \/api\/v1\/session$/, reload).length, 1);
  assert.equal(await page.locator('[data-nav="inbox"] .nav-badge').textContent(), String(counts.pending));
  assert.deepEqual(s.calls(/^GET \/api\/v1\/me(\?|$)/, reload), [], 'GET /session brought the counters');
  s.assertClean();
  await s.close();

  const s2 = await openPage();
  await s2.page.goto(`${base}/companies`);
  await s2.page.getByRole('heading', { name: 'Anmelden' }).waitFor();
  assert.match(s2.page.url(), /\/login\?next=%2Fcompanies$/);
  await login(s2.page, 'lena');
  await s2.page.getByRole('heading', { level: 1, name: 'Unternehmen' }).waitFor();
  s2.assertClean();
  await s2.close();
});

test('review: a captured mail with its reasons, change its lead, save it, find it in the lead history', async () => {
  const s = await openPage();
  const { page } = s;
  await page.goto(`${base}/`);
  await login(page, 'lena');
  await waitIdle(page);
  await page.getByRole('heading', { level: 1, name: 'Meine Kontakthistorie' }).waitFor();
  await checkPage(page, 'inbox');
  await shot(page, 'desktop-de-04-inbox');
  await shot(page, 'desktop-de-04-inbox-full', { fullPage: true });

  // Von/An of every card come with the inbox: one GET /me/inbox, no GET of each entry.
  assert.equal(await page.locator('article.review-card').count(), 5);
  assert.equal(await page.locator('article.review-card .mail-head').count(), 5);
  assert.deepEqual(s.calls(/^GET \/api\/v1\/entries\//), [], 'no entry is fetched for its addresses');
  assert.deepEqual(s.calls(/^GET \/api\/v1\/me\/inbox/), ['GET /api/v1/me/inbox?limit=20']);
  const head = card(page, 'Rückfrage Texte (zu Lead 20417)').locator('.mail-head');
  assert.deepEqual(await head.locator('dt').allTextContents(), ['Von', 'An']);
  assert.deepEqual(await head.locator('dd').allTextContents(), ['Lena Hoffmann <lena.hoffmann@web.example>', 'p.sommer@baeckerei-sommer.example']);
  const cc = card(page, 'Social-Media-Kampagne: Redaktionsplan Dezember').locator('.mail-head');
  assert.deepEqual(await cc.locator('dt').allTextContents(), ['Von', 'An', 'Cc']);
  // The badges say what GET /api/v1/me counts.
  const me = await page.evaluate(() => fetch('/api/v1/me').then((r) => r.json()));
  assert.equal(me.counts.pending, 5);
  assert.equal(await page.locator('[data-nav="inbox"] .nav-badge').textContent(), String(me.counts.pending));
  assert.equal(await page.locator('[data-nav="notifications"] .nav-badge').textContent(), String(me.counts.unread_notifications));
  await page.getByText('5 E-Mails warten auf Ihre Prüfung').waitFor();

  // Each pending mail shows the suggestion and the reasons in plain words.
  const offer = card(page, 'Angebot Relaunch Website – Lead 20417');
  await offer.getByText('Lead 20417 (Relaunch Website) – Nummer im Betreff').waitFor();
  await offer.getByText('Unternehmen des Ansprechpartners Peter Sommer').waitFor();
  await offer.getByText('Ansprechpartner – Empfängeradresse p.sommer@baeckerei-sommer.example').waitFor();
  const forward = card(page, 'Brötchentüten-Design: zwei Größen');
  await forward.getByText(/Weitergeleitete E-Mail \(Outlook-Format\)/).waitFor();
  await forward.getByText(/Projekt „Brötchentüten-Design“ – Name im Betreff/).waitFor();

  // This one names the lead in a way that strict matching does not take: the reviewer sets it.
  const question = card(page, 'Rückfrage Texte (zu Lead 20417)');
  await question.locator('.assignment').getByText('Nicht erkannt').waitFor();
  await question.getByRole('button', { name: 'Zuordnung ändern' }).click();
  const dialog = page.getByRole('dialog', { name: 'Zuordnung ändern und bestätigen' });
  await dialog.waitFor();
  await dialog.getByLabel('Unternehmen').waitFor();
  assert.equal(await dialog.getByRole('checkbox', { name: /Peter Sommer/ }).isChecked(), true);
  await dialog.getByLabel('Lead oder Projekt').selectOption({ label: 'Lead 20417 · Relaunch Website' });
  await checkPage(page, 'change dialog');
  await shot(page, 'desktop-de-05-review-change-dialog', { top: true });
  await dialog.getByRole('button', { name: 'Bestätigen und speichern' }).click();
  await toastSays(page, 'Gespeichert in der Kontakthistorie: Lead 20417 · Relaunch Website');
  await question.waitFor({ state: 'detached' });

  // Confirm another one as suggested, discard a third.
  await offer.getByRole('button', { name: 'Bestätigen' }).click();
  await offer.waitFor({ state: 'detached' });
  await forward.getByRole('button', { name: 'Verwerfen' }).click();
  const ask = page.getByRole('dialog', { name: 'E-Mail verwerfen?' });
  await ask.getByText('„Brötchentüten-Design: zwei Größen“ wird nicht in die Kontakthistorie übernommen.').waitFor();
  await ask.getByRole('button', { name: 'Verwerfen' }).click();
  await forward.waitFor({ state: 'detached' });
  await page.getByText('2 E-Mails warten auf Ihre Prüfung').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-nav="inbox"] .nav-badge').textContent === '2');
  // The full text of a card: its one GET of the entry, without From/To again.
  const rest = card(page, 'Angebot Messestand – Nr. 4730');
  await rest.getByRole('button', { name: 'Volltext anzeigen' }).click();
  await rest.locator('.mail-text').waitFor();
  assert.equal(s.calls(/^GET \/api\/v1\/entries\/\d+$/).length, 1);
  assert.equal(await rest.locator('.entry-full .addresses').count(), 0);

  // The lead's history, reached through the list of leads.
  await page.getByRole('navigation', { name: 'Hauptnavigation' }).getByRole('link', { name: 'Leads' }).click();
  await page.getByRole('heading', { level: 1, name: 'Leads' }).waitFor();
  await waitIdle(page);
  await checkPage(page, 'leads');
  // The list says its total (GET /api/v1/leads: total).
  await page.getByText('10 Leads', { exact: true }).waitFor();
  await shot(page, 'desktop-de-06-leads');
  await page.getByLabel('Liste filtern').fill('20417');
  await page.locator('tbody tr').filter({ hasText: '20417' }).first().waitFor();
  await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1);
  await page.getByText('1 Lead', { exact: true }).waitFor();
  await page.getByRole('link', { name: 'Relaunch Website' }).click();
  await page.getByRole('heading', { level: 1, name: 'Relaunch Website' }).waitFor();
  await waitIdle(page);
  const feed = page.getByRole('feed');
  const subjects = await feed.locator('.entry-subject').allTextContents();
  assert.deepEqual(subjects, ['Rückfrage Texte (zu Lead 20417)', 'Angebot Relaunch Website – Lead 20417'], 'newest first');
  const saved = historyEntry(page, 'Rückfrage Texte (zu Lead 20417)');
  await saved.getByText('von Lena Hoffmann').waitFor();
  await saved.getByText('mit Peter Sommer').waitFor();
  await saved.getByRole('button', { name: 'Volltext anzeigen' }).click();
  await saved.locator('.mail-text').filter({ hasText: 'Öffnungszeiten aller Filialen' }).waitFor();
  assert.equal(await saved.getByRole('button', { name: 'Volltext ausblenden' }).getAttribute('aria-expanded'), 'true');
  await checkPage(page, 'lead page');

  // Keyboard: the tabs follow the arrow keys.
  await page.getByRole('tab', { name: 'Kontakthistorie' }).focus();
  await page.keyboard.press('ArrowRight');
  const contactsTab = page.getByRole('tab', { name: /Ansprechpartner/ });
  assert.equal(await contactsTab.getAttribute('aria-selected'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('role')), 'tab');
  await page.getByRole('tabpanel').getByText('Ulrike Große').waitFor();
  await page.keyboard.press('ArrowLeft');

  // The entry page tells what the review changed.
  await saved.getByRole('link', { name: 'Rückfrage Texte (zu Lead 20417)' }).click();
  await page.getByRole('heading', { level: 1, name: 'Eintrag' }).waitFor();
  await page.getByText('Hallo Herr Sommer, kurze Frage vom Wochenende').first().waitFor();
  s.assertClean();
  await s.close();
});

test('record a phone call with an attachment and a colleague to notify; the colleague sees the notification', async () => {
  const s = await openPage();
  const { page } = s;
  await page.goto(`${base}/`);
  await login(page, 'lena');
  await go(page, '/leads/2');
  await page.getByRole('heading', { level: 1, name: 'Relaunch Website' }).waitFor();

  await page.getByRole('button', { name: 'Neuen Kontakt vermerken' }).click();
  const dialog = page.getByRole('dialog', { name: 'Neuen Kontakt vermerken' });
  await dialog.waitFor();
  assert.equal(await dialog.getByRole('radio', { name: 'Telefon' }).isChecked(), true);
  await dialog.getByRole('radio', { name: 'Telefon' }).check();
  await dialog.getByRole('checkbox', { name: /Peter Sommer/ }).check();
  await dialog.getByLabel('Betreff').fill('Telefonat: Freigabe der Startseite');
  await dialog.getByLabel('Notiz').fill('Herr Sommer gibt die Startseite frei.\n<b>Keine</b> Änderungen an den Öffnungszeiten.');
  await dialog.getByLabel('Wiedervorlage', { exact: true }).fill(ymd(-1));
  await dialog.getByRole('checkbox', { name: 'Tobias Brandt' }).check();
  const note = 'Gesprächsnotiz vom Telefonat mit Herrn Sommer: Startseite freigegeben.\n';
  await dialog.getByLabel('Anhänge').setInputFiles({ name: 'Gesprächsnotiz Sommer.txt', mimeType: 'text/plain', buffer: Buffer.from(note, 'utf8') });
  await dialog.getByText('Gesprächsnotiz Sommer.txt').waitFor();
  await checkPage(page, 'new entry dialog');
  await shot(page, 'desktop-de-07-new-entry-dialog', { top: true });
  await dialog.getByRole('button', { name: 'Kontakt speichern' }).click();
  await toastSays(page, 'Der Kontakt wurde gespeichert.');
  await dialog.waitFor({ state: 'detached' });

  const entry = historyEntry(page, 'Telefonat: Freigabe der Startseite');
  await entry.waitFor();
  assert.equal(await page.getByRole('feed').locator('.entry-subject').first().textContent(), 'Telefonat: Freigabe der Startseite');
  await entry.getByText('Telefon', { exact: true }).waitFor();
  await entry.getByText('Informiert: Tobias Brandt').waitFor();
  await entry.getByText(/Wiedervorlage überfällig seit/).waitFor();
  await entry.getByRole('button', { name: 'Volltext anzeigen' }).click();
  // Text stays text: the tag is shown, not interpreted.
  await entry.locator('.mail-text').filter({ hasText: '<b>Keine</b> Änderungen an den Öffnungszeiten.' }).waitFor();
  assert.equal(await entry.locator('.mail-text b').count(), 0);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    entry.getByRole('link', { name: /Gesprächsnotiz Sommer\.txt/ }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'Gesprächsnotiz Sommer.txt');
  // The size in German: "Byte" for every count.
  assert.equal(await entry.locator('.attachment-size').textContent(), `${Buffer.byteLength(note)} Byte`);
  callPage = new URL(page.url()).pathname;
  const file = await download.path();
  assert.equal(readFileSync(file, 'utf8'), note);
  await checkPage(page, 'lead page with entry');
  await shot(page, 'desktop-de-08-lead-history');
  await shot(page, 'desktop-de-08-lead-history-full', { fullPage: true });
  await logout(page);

  // The colleague: the badge in the header, the notification, marked read on opening.
  await login(page, 'tobias');
  await waitIdle(page);
  const bell = page.locator('#bell');
  await page.waitForFunction(() => /ungelesen/.test(document.getElementById('bell').getAttribute('aria-label')));
  const before = Number(await bell.locator('.bell-badge').textContent());
  assert.ok(before >= 1, 'the header shows unread notifications');
  await bell.click();
  await page.getByRole('heading', { level: 1, name: 'Benachrichtigungen' }).waitFor();
  await waitIdle(page);
  const item = page.locator('li.notification').filter({ hasText: 'Lena Hoffmann möchte Sie über „Telefonat: Freigabe der Startseite“ informieren' });
  await item.waitFor();
  assert.match(await item.getAttribute('class'), /unread/);
  await checkPage(page, 'notifications');
  await shot(page, 'desktop-de-09-notifications');
  await item.getByRole('link').click();
  await page.getByRole('heading', { level: 1, name: 'Eintrag' }).waitFor();
  await page.getByText('Telefonat: Freigabe der Startseite').first().waitFor();
  await page.waitForFunction((n) => Number((document.querySelector('#bell .bell-badge') || {}).textContent || 0) === n - 1, before);
  await go(page, '/notifications');
  assert.doesNotMatch(await item.getAttribute('class'), /unread/);
  await page.getByRole('button', { name: 'Alle als gelesen markieren' }).click();
  await page.getByText('Alles gelesen').waitFor();
  assert.equal(await bell.locator('.bell-badge').isHidden(), true);
  s.assertClean();
  await s.close();
});

test('correct a saved entry (channel, subject, attachments) and delete it', async () => {
  const s = await openPage();
  const { page } = s;
  await page.goto(`${base}/`);
  await login(page, 'lena');
  await go(page, '/leads/2');
  await page.getByRole('button', { name: 'Neuen Kontakt vermerken' }).click();
  let dialog = page.getByRole('dialog', { name: 'Neuen Kontakt vermerken' });
  await dialog.getByRole('radio', { name: 'Termin' }).check();
  await dialog.getByLabel('Betreff').fill('Termin: Abstimmung Bildauswahl');
  await dialog.getByLabel('Notiz').fill('Bilder für die Startseite besprochen.');
  await dialog.getByLabel('Anhänge', { exact: true }).setInputFiles({ name: 'Bildauswahl.txt', mimeType: 'text/plain', buffer: Buffer.from('Motive 1, 4, 7\n') });
  await dialog.getByRole('button', { name: 'Kontakt speichern' }).click();
  await dialog.waitFor({ state: 'detached' });
  await historyEntry(page, 'Termin: Abstimmung Bildauswahl').getByRole('link', { name: 'Termin: Abstimmung Bildauswahl' }).click();
  await page.getByRole('heading', { level: 1, name: 'Eintrag' }).waitFor();

  // "Bearbeiten": the form as it was filled in, the attachment to remove, a file to add.
  await page.getByRole('button', { name: 'Bearbeiten' }).click();
  dialog = page.getByRole('dialog', { name: 'Kontakt bearbeiten' });
  await dialog.waitFor();
  assert.equal(await dialog.getByLabel('Betreff').inputValue(), 'Termin: Abstimmung Bildauswahl');
  assert.equal(await dialog.getByLabel('Notiz').inputValue(), 'Bilder für die Startseite besprochen.');
  assert.equal(await dialog.getByRole('radio', { name: 'Termin' }).isChecked(), true);
  await dialog.getByRole('radio', { name: 'Video' }).check();
  await dialog.getByLabel('Betreff').fill('Video-Termin: Bildauswahl abgestimmt');
  await dialog.getByLabel('Wiedervorlage', { exact: true }).fill(ymd(7));
  await dialog.getByRole('checkbox', { name: /Bildauswahl\.txt/ }).check();
  await dialog.getByLabel('Anhänge', { exact: true }).setInputFiles({ name: 'Protokoll Bildauswahl.txt', mimeType: 'text/plain', buffer: Buffer.from('Motive 1 und 7 freigegeben.\n') });
  await checkPage(page, 'edit entry dialog');
  await shot(page, 'desktop-de-27-edit-entry-dialog', { top: true });
  await dialog.getByRole('button', { name: 'Änderungen speichern' }).click();
  await toastSays(page, 'Die Änderungen wurden gespeichert.');
  await dialog.waitFor({ state: 'detached' });
  const entry = historyEntry(page, 'Video-Termin: Bildauswahl abgestimmt');
  await entry.waitFor();
  await entry.getByText('Video', { exact: true }).waitFor();
  await entry.getByRole('link', { name: /Protokoll Bildauswahl\.txt/ }).waitFor();
  assert.equal(await entry.getByRole('link', { name: /^Bildauswahl\.txt/ }).count(), 0, 'the removed attachment is gone');
  await entry.getByText(/Wiedervorlage/).first().waitFor();
  await shot(page, 'desktop-de-28-entry-after-edit');

  // "Löschen", after asking: the entry is gone from the lead's history.
  await page.getByRole('button', { name: 'Löschen' }).click();
  const ask = page.getByRole('dialog', { name: 'Eintrag löschen?' });
  await ask.getByText('„Video-Termin: Bildauswahl abgestimmt“ wird aus der Kontakthistorie gelöscht').waitFor();
  await ask.getByRole('button', { name: 'Löschen' }).click();
  await toastSays(page, 'Der Eintrag wurde gelöscht.');
  await page.getByRole('heading', { level: 1, name: 'Relaunch Website' }).waitFor();
  await waitIdle(page);
  assert.equal(await historyEntry(page, 'Video-Termin: Bildauswahl abgestimmt').count(), 0);
  s.assertClean();
  await s.close();
});

test('follow-ups: overdue ones highlighted, marked done', async () => {
  const s = await openPage();
  const { page } = s;
  await page.goto(`${base}/`);
  await login(page, 'lena');

  // A meeting at a company with a follow-up in two weeks, and a note in the own history due today.
  await go(page, '/companies');
  await page.getByRole('link', { name: 'Kranz Maschinenbau AG' }).click();
  await page.getByRole('heading', { level: 1, name: 'Kranz Maschinenbau AG' }).waitFor();
  await waitIdle(page);
  await page.getByRole('button', { name: 'Neuen Kontakt vermerken' }).click();
  let dialog = page.getByRole('dialog', { name: 'Neuen Kontakt vermerken' });
  await dialog.getByRole('radio', { name: 'Termin' }).check({ force: true });
  await dialog.getByLabel('Lead oder Projekt (optional)').selectOption({ label: 'P-2026-014 · Messestand Hannover 2027' });
  await dialog.getByRole('checkbox', { name: /Dörte König/ }).check();
  await dialog.getByLabel('Betreff').fill('Termin: Abnahme des Messestands');
  await dialog.getByLabel('Notiz').fill('Vor Ort in Hannover, Halle 5.');
  await dialog.getByRole('button', { name: 'In 2 Wochen' }).click();
  assert.equal(await dialog.getByLabel('Wiedervorlage', { exact: true }).inputValue(), ymd(14));
  await dialog.getByRole('button', { name: 'Kontakt speichern' }).click();
  await historyEntry(page, 'Termin: Abnahme des Messestands').waitFor();
  // A project is named with its number, as leads are.
  await historyEntry(page, 'Termin: Abnahme des Messestands').getByRole('link', { name: 'P-2026-014 · Messestand Hannover 2027' }).waitFor();
  await checkPage(page, 'company page');
  await shot(page, 'desktop-de-10-company-history');
  await page.getByRole('tab', { name: /Ansprechpartner/ }).click();
  await shot(page, 'desktop-de-11-company-contacts');
  await page.getByRole('tab', { name: /Leads & Projekte/ }).click();
  await shot(page, 'desktop-de-12-company-leads-projects');

  await go(page, '/inbox/own');
  await page.getByRole('button', { name: 'Eigenen Kontakt vermerken' }).click();
  dialog = page.getByRole('dialog', { name: 'Kontakt in eigener Kontakthistorie vermerken' });
  await dialog.getByRole('radio', { name: 'Sonstiges' }).check({ force: true });
  // The own history is the user's alone: no colleagues to notify, no contact persons.
  assert.equal(await dialog.getByRole('group', { name: 'Benutzer informieren' }).count(), 0);
  // Names and subjects are text, never markup.
  await dialog.getByLabel('Betreff').fill('Idee <img src=x onerror="window.__xss=1"> für den Newsletter');
  await dialog.getByLabel('Wiedervorlage', { exact: true }).fill(ymd(0));
  await dialog.getByRole('button', { name: 'Kontakt speichern' }).click();
  const own = historyEntry(page, 'Idee <img src=x onerror="window.__xss=1"> für den Newsletter');
  await own.waitFor();
  // And one that was due three days ago.
  await page.getByRole('button', { name: 'Eigenen Kontakt vermerken' }).click();
  dialog = page.getByRole('dialog', { name: 'Kontakt in eigener Kontakthistorie vermerken' });
  await dialog.getByRole('radio', { name: 'Telefon' }).check({ force: true });
  await dialog.getByLabel('Betreff').fill('Rückruf Steuerberater');
  await dialog.getByLabel('Wiedervorlage', { exact: true }).fill(ymd(-3));
  await dialog.getByRole('button', { name: 'Kontakt speichern' }).click();
  await historyEntry(page, 'Rückruf Steuerberater').waitFor();
  // The badge counts the three due follow-ups (counts.followups_due of GET /api/v1/me) before the page is opened.
  await page.waitForFunction(() => document.querySelector('[data-nav="followups"] .nav-badge').textContent === '3');
  assert.deepEqual(s.calls(/^GET \/api\/v1\/me\/followups/), []);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await own.locator('img').count(), 0);
  await checkPage(page, 'own history');
  await shot(page, 'desktop-de-13-own-history');

  await page.getByRole('navigation', { name: 'Hauptnavigation' }).getByRole('link', { name: /Wiedervorlagen/ }).click();
  await page.getByRole('heading', { level: 1, name: 'Wiedervorlagen' }).waitFor();
  await waitIdle(page);
  await page.getByText('3 Wiedervorlagen sind fällig').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-nav="followups"] .nav-badge').textContent === '3');
  const overdue = page.getByRole('region', { name: /Überfällig/ });
  const call = overdue.locator('li.followup').filter({ hasText: 'Telefonat: Freigabe der Startseite' });
  await call.waitFor();
  assert.match(await call.getAttribute('class'), /followup-overdue/);
  // German as it is said: "seit gestern überfällig", "seit 3 Tagen überfällig" (not "fällig seit vor 3 Tagen").
  assert.equal(await call.locator('.followup-rel').textContent(), 'seit gestern überfällig');
  const older = overdue.locator('li.followup').filter({ hasText: 'Rückruf Steuerberater' });
  assert.equal(await older.locator('.followup-rel').textContent(), 'seit 3 Tagen überfällig');
  assert.deepEqual(await page.locator('.followup-rel').evaluateAll((els) => els.filter((e) => /seit vor|fällig seit/.test(e.textContent)).map((e) => e.textContent)), []);
  await page.getByRole('region', { name: /Heute/ }).getByText(/Idee <img/).waitFor();
  await page.getByRole('region', { name: /Demnächst/ }).getByText('Termin: Abnahme des Messestands').waitFor();
  await checkPage(page, 'follow-ups');
  await shot(page, 'desktop-de-14-followups');
  await call.getByRole('button', { name: 'Erledigt' }).click();
  await toastSays(page, 'Die Wiedervorlage ist erledigt.');
  await call.waitFor({ state: 'detached' });
  await page.getByText('2 Wiedervorlagen sind fällig').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-nav="followups"] .nav-badge').textContent === '2');
  await page.getByLabel('Erledigte anzeigen').check();
  await page.getByRole('region', { name: /Erledigt/ }).getByText('Telefonat: Freigabe der Startseite').waitFor();
  s.assertClean();
  await s.close();
});

test('search: entries and the companies, contact persons, leads and projects of that name', async () => {
  const s = await openPage();
  const { page } = s;
  await page.goto(`${base}/`);
  await login(page, 'lena');
  await waitIdle(page);
  const box = page.locator('#global-search');
  await box.fill('Freigabe');
  await box.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Suche' }).waitFor();
  await waitIdle(page);
  await page.getByText('Ergebnisse für „Freigabe“').waitFor();
  await historyEntry(page, 'Telefonat: Freigabe der Startseite').waitFor();

  await box.fill('Sommer');
  await box.press('Enter');
  await page.getByText('Ergebnisse für „Sommer“').waitFor();
  await waitIdle(page);
  await page.getByRole('region', { name: 'Unternehmen', exact: true }).getByRole('link', { name: /Bäckerei Sommer GmbH & Co\. KG/ }).waitFor();
  await page.getByRole('region', { name: 'Ansprechpartner', exact: true }).getByRole('link', { name: /Peter Sommer/ }).waitFor();
  await checkPage(page, 'search');
  await shot(page, 'desktop-de-15-search');
  await page.getByRole('region', { name: 'Ansprechpartner', exact: true }).getByRole('link', { name: /Peter Sommer/ }).click();
  await page.getByRole('heading', { level: 1, name: 'Bäckerei Sommer GmbH & Co. KG' }).waitFor();

  await go(page, '/search?q=Kundenmagazin');
  await page.getByRole('region', { name: 'Leads', exact: true }).getByRole('link', { name: /Lead 20433 · Kundenmagazin/ }).waitFor();
  await page.getByRole('region', { name: 'Projekte', exact: true }).getByRole('link', { name: /Kundenmagazin Winterausgabe/ }).waitFor();

  await go(page, '/search?q=Zzyzx');
  await page.getByText('Nichts gefunden für „Zzyzx“').waitFor();
  s.assertClean();
  await s.close();
});

test('candidates and suggestions: take a candidate, create a contact person from an unknown address', async () => {
  const s = await openPage();
  const { page } = s;
  await page.goto(`${base}/`);
  await login(page, 'mehmet');
  await waitIdle(page);
  // Two numbers in the subject: nothing chosen, both offered, and said why.
  const two = card(page, 'Lead 20418 und Angebot 4711 - Abstimmung');
  await two.getByText(/Mehrere Leads oder Projekte passen zum Betreff \(2\)/).waitFor();
  // Two leads of the same name: the company of each candidate tells them apart.
  const same = card(page, 'Relaunch Website – Zeitplan für die Umsetzung');
  await same.getByRole('button', { name: /Lead 20417 · Relaunch Website\s*Bäckerei Sommer GmbH & Co\. KG/ }).waitFor();
  await same.getByRole('button', { name: /Lead 20440 · Relaunch Website\s*Stadtwerke Nordheide GmbH/ }).waitFor();
  // Of the entry's own company: not said again.
  assert.equal(await two.locator('.candidate-company').count(), 0);
  await checkPage(page, 'inbox with candidates');
  await shot(page, 'desktop-de-21-inbox-candidates', { fullPage: true });
  // A candidate brings its company: choosing it asks for nothing but the dialog's lists.
  const mark = s.requests.length;
  await same.getByRole('button', { name: /Lead 20440/ }).click();
  let dialog = page.getByRole('dialog', { name: 'Zuordnung ändern und bestätigen' });
  await page.waitForFunction(() => /20440/.test((document.querySelector('dialog select[name="record"]')?.selectedOptions[0] || {}).textContent || ''));
  assert.equal(await dialog.getByLabel('Unternehmen').locator('option:checked').textContent(), 'Stadtwerke Nordheide GmbH');
  assert.deepEqual(s.calls(/^GET \/api\/v1\/(leads|projects|contacts|companies)\/\d+/, mark), [], 'no GET of the chosen record');
  await dialog.getByRole('button', { name: 'Abbrechen' }).click();
  await dialog.waitFor({ state: 'detached' });
  await two.getByRole('button', { name: /Filialbeschilderung/ }).click();
  dialog = page.getByRole('dialog', { name: 'Zuordnung ändern und bestätigen' });
  await dialog.waitFor();
  await page.waitForFunction(() => {
    const sel = document.querySelector('dialog select[name="record"]');
    return sel && sel.selectedOptions[0] && /Filialbeschilderung/.test(sel.selectedOptions[0].textContent);
  });
  assert.match(await dialog.getByLabel('Lead oder Projekt').locator('option:checked').textContent(), /P-2026-011 · Filialbeschilderung — Vorschlag/);
  await dialog.getByRole('checkbox', { name: 'Svenja Köhler' }).check();
  await dialog.getByRole('button', { name: 'Bestätigen und speichern' }).click();
  // Projects are named with their number (entry.project.number).
  await toastSays(page, 'Gespeichert in der Kontakthistorie: P-2026-011 · Filialbeschilderung');
  await go(page, '/projects/1');
  await page.getByRole('heading', { level: 1, name: 'Filialbeschilderung' }).waitFor();
  const saved = historyEntry(page, 'Lead 20418 und Angebot 4711 - Abstimmung');
  await saved.getByText('Informiert: Svenja Köhler').waitFor();
  await logout(page);

  // An unknown address at the company's domain: create the contact person, then confirm.
  await login(page, 'svenja');
  await waitIdle(page);
  const fotos = card(page, 'AW: Fotos');
  await fotos.getByText(/Die Adresse redaktion@stadtwerke-nordheide\.example ist noch keinem Ansprechpartner zugeordnet/).waitFor();
  await fotos.getByText('Lead 20433 (Kundenmagazin) aus dem E-Mail-Verlauf übernommen (Antwort auf eine gespeicherte E-Mail)').waitFor();
  await fotos.getByText('Unternehmen – erkannt an der Domain stadtwerke-nordheide.example').waitFor();
  await shot(page, 'desktop-de-22-inbox-suggest-create');
  await fotos.getByRole('button', { name: 'Als Ansprechpartner anlegen' }).click();
  const create = page.getByRole('dialog', { name: 'Neuen Ansprechpartner anlegen' });
  assert.equal(await create.getByLabel('Name').inputValue(), 'Redaktion');
  assert.equal(await create.getByLabel('E-Mail-Adresse').inputValue(), 'redaktion@stadtwerke-nordheide.example');
  await create.getByLabel('Name').fill('Redaktion Kundenmagazin');
  await checkPage(page, 'create contact dialog');
  await create.getByRole('button', { name: 'Anlegen' }).click();
  await toastSays(page, 'Redaktion Kundenmagazin wurde als Ansprechpartner angelegt.');
  const change = page.getByRole('dialog', { name: 'Zuordnung ändern und bestätigen' });
  await change.getByRole('checkbox', { name: /Redaktion Kundenmagazin/ }).waitFor();
  assert.equal(await change.getByRole('checkbox', { name: /Redaktion Kundenmagazin/ }).isChecked(), true);
  await change.getByRole('button', { name: 'Bestätigen und speichern' }).click();
  await toastSays(page, 'Gespeichert in der Kontakthistorie: Lead 20433 · Kundenmagazin');
  await fotos.waitFor({ state: 'detached' });
  await go(page, '/leads/6');
  await page.getByRole('heading', { level: 1, name: 'Kundenmagazin' }).waitFor();
  await historyEntry(page, 'AW: Fotos').getByText('mit Redaktion Kundenmagazin').waitFor();

  // Everything reviewed (the rest through the API): the empty inbox says so, the badge is gone.
  await page.evaluate(async () => {
    const me = await fetch('/api/v1/me').then((r) => r.json());
    const inbox = await fetch('/api/v1/me/inbox').then((r) => r.json());
    for (const e of inbox.items) {
      const r = await fetch(`/api/v1/entries/${e.id}/confirm`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
        body: JSON.stringify({ version: e.version }),
      });
      if (!r.ok) throw new Error(`confirm ${e.id}: ${r.status}`);
    }
  });
  await go(page, '/inbox');
  await page.getByText('Alles erledigt').waitFor();
  await page.getByText('Keine E-Mails zu prüfen', { exact: true }).waitFor();
  assert.equal(await page.locator('[data-nav="inbox"] .nav-badge').isHidden(), true);
  await checkPage(page, 'empty inbox');
  await shot(page, 'desktop-de-23-inbox-empty');
  s.assertClean();
  await s.close();
});

/** Delivers a mail of Tobias Brandt to the running server's data (as an MTA's pipe would). */
function deliverMail(to, subject, id) {
  const mail = [
    'From: Tobias Brandt <tobias.brandt@nordlicht-agentur.example>',
    `To: ${to}`,
    'Cc: crm@contactlog.example',
    `Subject: ${subject}`,
    'Date: Thu, 03 Dec 2026 10:00:00 +0100',
    `Message-ID: <${id}@browser-test.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Guten Tag,',
    'anbei die Unterlagen.',
    '',
  ].join('\r\n');
  const r = spawnSync(binary, ['deliver', '--data-dir', dataDir, '--recipient', 'crm@contactlog.example'], { input: mail, encoding: 'utf8' });
  assert.equal(r.status, 0, `deliver ${subject}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('review: a lead of another company than the contact person, and badges that tell the truth', async () => {
  // DESIGN rules 4 and 6 both apply: the contact person is Bäckerei Sommer's, lead 20452 the
  // Autohaus Jürgens'. Capture keeps both and says so; the card must not offer a Bestätigen that fails.
  const res = deliverMail('p.sommer@baeckerei-sommer.example', 'Angebot für Lead 20452', 'conflict1');
  assert.deepEqual([res.company, res.lead], ['sommer', '20452']);
  assert.ok(res.reasons.some((r) => r.field === 'company' && r.rule === 'conflict'));
  deliverMail('p.sommer@baeckerei-sommer.example', 'Rückfrage zu Lead 20452', 'conflict2');
  deliverMail('p.sommer@baeckerei-sommer.example', 'Kurze Frage zum Liefertermin', 'nolead1');
  deliverMail('p.sommer@baeckerei-sommer.example', 'Lead 20417 Rückruf Startseite', 'clear1');
  deliverMail('einkauf@irgendwo.example', 'Lead 20391 Logo-Entwurf', 'nocontact1');

  const s = await openPage();
  const { page } = s;
  await page.goto(`${base}/`);
  await login(page, 'tobias');
  await waitIdle(page);
  const conflict = card(page, 'Angebot für Lead 20452');
  await conflict.waitFor();
  assert.equal(await conflict.locator('.review-sub .chip').last().textContent(), 'Bitte prüfen');
  // Said plainly, with the companies' names (not their keys).
  assert.equal(await conflict.locator('.review-conflict h3').textContent(), 'Betreff und Ansprechpartner gehören zu verschiedenen Unternehmen');
  assert.equal(await conflict.locator('.review-conflict p').textContent(),
    'Lead 20452 (Frühjahrsaktion) gehört zu Autohaus Jürgens GmbH, der Ansprechpartner Peter Sommer zu Bäckerei Sommer GmbH & Co. KG. '
    + 'So lässt sich die E-Mail nicht speichern – wählen Sie, wohin sie gehört:');
  await conflict.getByText('Widerspruch: Der Betreff nennt Lead 20452 (Frühjahrsaktion) von Autohaus Jürgens GmbH, der Ansprechpartner gehört zu Bäckerei Sommer GmbH & Co. KG. Bitte prüfen.').waitFor();
  assert.equal(await conflict.getByText(/von autohaus|zu sommer\b/).count(), 0, 'no company keys in the text');
  // The ways out instead of Bestätigen.
  assert.equal(await conflict.getByRole('button', { name: 'Bestätigen', exact: true }).count(), 0);
  const withLead = conflict.getByRole('button', { name: 'Mit Lead 20452 (Autohaus Jürgens GmbH) speichern' });
  await withLead.waitFor();
  await conflict.getByRole('button', { name: 'Ohne Lead speichern' }).waitFor();
  await conflict.getByRole('button', { name: 'Zuordnung ändern' }).waitFor();
  assert.deepEqual(await conflict.locator('.conflict-hints li').allTextContents(), [
    'Mit Lead 20452: Die E-Mail kommt zu Autohaus Jürgens GmbH, Peter Sommer wird dann nicht als Ansprechpartner gespeichert.',
    'Ohne Lead: Die E-Mail bleibt bei Bäckerei Sommer GmbH & Co. KG.']);
  await checkPage(page, 'inbox with a conflict');
  await conflict.scrollIntoViewIfNeeded();
  await shot(page, 'desktop-de-25-inbox-conflict');
  await shot(page, 'desktop-de-25-inbox-conflict-full', { fullPage: true });

  // The company follows the lead.
  await withLead.click();
  await toastSays(page, 'Gespeichert in der Kontakthistorie: Lead 20452 · Frühjahrsaktion');
  await conflict.waitFor({ state: 'detached' });
  const saved = await page.evaluate((id) => fetch(`/api/v1/entries/${id}`).then((r) => r.json()), res.entry);
  assert.deepEqual([saved.state, saved.company.key, saved.lead.number, saved.contacts.length], ['saved', 'autohaus', '20452', 0]);
  // Autohaus Jürgens' history is counted by the paging test: the entry goes again.
  const gone = await page.evaluate(async ({ id, version }) => {
    const me = await fetch('/api/v1/me').then((r) => r.json());
    return (await fetch(`/api/v1/entries/${id}?version=${version}`, { method: 'DELETE', headers: { 'X-CSRF-Token': me.csrf_token } })).status;
  }, { id: saved.id, version: saved.version });
  assert.equal(gone, 204);

  // Or it stays with the contact person's company, without the lead.
  const second = card(page, 'Rückfrage zu Lead 20452');
  await second.getByRole('button', { name: 'Ohne Lead speichern' }).click();
  await toastSays(page, 'Gespeichert in der Kontakthistorie: Bäckerei Sommer GmbH & Co. KG');
  await second.waitFor({ state: 'detached' });

  // The badge: "eindeutig" only when company, contact person and lead or project are clear.
  const chipOf = (subject) => card(page, subject).locator('.review-sub .chip').last().textContent();
  assert.equal(await chipOf('Lead 20417 Rückruf Startseite'), 'Zuordnung eindeutig');
  assert.equal(await chipOf('Kurze Frage zum Liefertermin'), 'Ohne Lead/Projekt');
  assert.equal(await chipOf('Lead 20391 Logo-Entwurf'), 'Bitte prüfen');
  await card(page, 'Lead 20391 Logo-Entwurf').getByText('Kein Ansprechpartner erkannt – bitte wählen Sie ihn unter „Zuordnung ändern“.').waitFor();
  assert.deepEqual(await page.locator('article.review-card').evaluateAll((cards) => cards
    .filter((c) => /Zuordnung eindeutig/.test(c.querySelector('.review-sub').textContent))
    .filter((c) => /Keine erkannt|Nicht erkannt/.test(c.querySelector('.assignment').textContent))
    .map((c) => c.querySelector('h2').textContent)), [], 'no card with a missing part says "Zuordnung eindeutig"');
  await checkPage(page, 'inbox badges');
  await shot(page, 'desktop-de-26-inbox-badges', { fullPage: true });

  // A 422 of the API is said in German, without the English detail.
  const text = await page.evaluate(async () => {
    const { errorText } = await import('/js/app.js');
    const { ApiError } = await import('/js/api.js');
    return [errorText(new ApiError(422, { code: 'invalid', detail: "lead 20452 belongs to company autohaus, not to the entry's company" })),
      errorText(new ApiError(422, { code: 'invalid', detail: 'something else entirely' }))];
  });
  assert.deepEqual(text, ['Lead oder Projekt gehört zu einem anderen Unternehmen als die E-Mail. Wählen Sie das Unternehmen des Leads oder speichern Sie ohne Lead/Projekt.',
    'Die Angaben passen nicht zusammen. Bitte prüfen Sie sie.']);
  s.assertClean();
  await s.close();
});

test('shown text: a bidirectional override in a subject does not turn the text around', async () => {
  // "Rechnung <U+202E>fdp.exe" would be shown as "Rechnung exe.pdf".
  const res = deliverMail('p.sommer@baeckerei-sommer.example', 'Rechnung \u202Efdp.exe', 'bidi1');
  const s = await openPage();
  const { page } = s;
  await page.goto(`${base}/`);
  await login(page, 'tobias');
  await waitIdle(page);
  const c = card(page, 'Rechnung fdp.exe');
  await c.waitFor();
  assert.equal(await c.locator('h2').textContent(), 'Rechnung fdp.exe');
  // The entry keeps the mail's own subject; only the page shows it without the override.
  const status = await page.evaluate(async (id) => {
    const entry = await fetch(`/api/v1/entries/${id}`).then((r) => r.json());
    if (entry.subject !== 'Rechnung \u202Efdp.exe') return 'subject: ' + JSON.stringify(entry.subject);
    const me = await fetch('/api/v1/me').then((r) => r.json());
    return (await fetch(`/api/v1/entries/${id}/discard`, { method: 'POST', headers: { 'X-CSRF-Token': me.csrf_token, 'Content-Type': 'application/json' },
      body: JSON.stringify({ version: entry.version }) })).status;
  }, res.entry);
  assert.equal(status, 200);
  s.assertClean();
  await s.close();
});

test('history paging: "Weitere laden" follows next_cursor', async () => {
  const s = await openPage();
  const { page } = s;
  await page.goto(`${base}/`);
  await login(page, 'lena');
  await waitIdle(page);
  // 23 calls for Autohaus Jürgens, through the API with the session's CSRF token.
  await page.evaluate(async () => {
    const me = await fetch('/api/v1/me').then((r) => r.json());
    for (let i = 1; i <= 23; i++) {
      const when = new Date(Date.UTC(2026, 9, i, 9, 0)).toISOString();
      const r = await fetch('/api/v1/entries', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
        body: JSON.stringify({ channel: i % 3 ? 'phone' : 'letter', subject: `Rückruf Autohaus Nr. ${i}`, text: `Gespräch ${i}`, company: 5, contact_time: when }),
      });
      if (r.status !== 201) throw new Error(`entry ${i}: ${r.status}`);
    }
  });
  await go(page, '/companies/5');
  await page.getByRole('heading', { level: 1, name: 'Autohaus Jürgens GmbH' }).waitFor();
  const feed = page.getByRole('feed');
  await page.waitForFunction(() => document.querySelectorAll('[role=feed] article.entry').length === 20);
  assert.equal(await feed.locator('.entry-subject').first().textContent(), 'Rückruf Autohaus Nr. 23');
  const more = page.getByRole('button', { name: 'Weitere laden' });
  await more.click();
  await page.waitForFunction(() => document.querySelectorAll('[role=feed] article.entry').length === 23);
  assert.equal(await feed.locator('.entry-subject').last().textContent(), 'Rückruf Autohaus Nr. 1');
  await more.waitFor({ state: 'hidden' });
  // Focus moves to the first entry that was loaded.
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Rückruf Autohaus Nr. 3');
  s.assertClean();
  await s.close();
});

test('language: switch to English and back, remembered for the user and before login', async () => {
  const s = await openPage();
  const { page } = s;
  await page.goto(`${base}/`);
  await login(page, 'lena');
  await waitIdle(page);
  await page.getByRole('group', { name: 'Sprache' }).getByRole('button', { name: 'EN', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'My contact history' }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await waitIdle(page);
  await page.getByText('Why this assignment?').first().waitFor();
  await page.getByText('Lead 20418 (Social-Media-Kampagne) – name in the subject').waitFor();
  await checkPage(page, 'inbox en');
  await shot(page, 'desktop-en-01-inbox');
  await go(page, '/leads/2');
  await page.getByRole('tab', { name: 'Contact history' }).waitFor();
  await page.getByText('Follow-up', { exact: false }).first().waitFor();
  await shot(page, 'desktop-en-02-lead-history');
  // The size of a small file in English: "bytes", not "byte".
  await go(page, callPage);
  await page.locator('.attachment-size').first().waitFor();
  assert.deepEqual(await page.locator('.attachment-size').allTextContents(), ['72 bytes']);
  await go(page, '/followups');
  await page.getByRole('heading', { level: 1, name: 'Follow-ups' }).waitFor();
  // Overdue follow-ups in English too.
  assert.equal(await page.locator('li.followup', { hasText: 'Rückruf Steuerberater' }).locator('.followup-rel').textContent(), '3 days overdue');
  await shot(page, 'desktop-en-03-followups');
  await go(page, '/companies/1');
  await page.getByRole('button', { name: 'Record a new contact' }).click();
  await page.getByRole('dialog', { name: 'Record a new contact' }).getByRole('radio', { name: 'Phone' }).waitFor();
  await shot(page, 'desktop-en-04-new-entry-dialog');
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'Record a new contact', 'focus returns to the opener');

  // Remembered by the server: a reload stays English.
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Bäckerei Sommer GmbH & Co. KG' }).waitFor();
  await page.getByRole('button', { name: 'Record a new contact' }).waitFor();
  const me = await page.evaluate(() => fetch('/api/v1/me').then((r) => r.json()));
  assert.equal(me.user.locale, 'en');

  // Logged out, the login page keeps English (localStorage), and the switch works there too.
  await page.locator('#logout').click();
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await shot(page, 'desktop-en-05-login');
  await page.getByRole('group', { name: 'Language' }).getByRole('button', { name: 'DE', exact: true }).click();
  await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
  await login(page, 'lena');
  await page.getByRole('heading', { level: 1, name: 'Meine Kontakthistorie' }).waitFor();
  const me2 = await page.evaluate(() => fetch('/api/v1/me').then((r) => r.json()));
  assert.equal(me2.user.locale, 'de', 'the language chosen before login is stored for the user');
  await logout(page);

  // English chosen before login wins over the user's German.
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await login(page, 'svenja');
  await page.getByRole('heading', { level: 1, name: 'My contact history' }).waitFor();
  const me3 = await page.evaluate(() => fetch('/api/v1/me').then((r) => r.json()));
  assert.equal(me3.user.locale, 'en');

  // Switching back and forth says so each time, but the toasts do not pile up: the same
  // words replace their toast, and no more than three are shown.
  for (const [to, heading] of [['DE', 'Meine Kontakthistorie'], ['EN', 'My contact history'],
    ['DE', 'Meine Kontakthistorie'], ['EN', 'My contact history']]) {
    await page.locator(`.lang-switch [data-locale="${to.toLowerCase()}"]`).first().click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
    await page.locator('.toast', { hasText: to === 'DE' ? 'Die Sprache ist jetzt Deutsch.' : 'The language is now English.' }).waitFor();
  }
  const said = await page.locator('.toast > span').allTextContents();
  assert.ok(said.length <= 3, `at most three toasts, not ${said.length}`);
  assert.deepEqual([...new Set(said)].length, said.length, `no toast twice: ${JSON.stringify(said)}`);
  assert.deepEqual(said.slice(-2), ['Die Sprache ist jetzt Deutsch.', 'The language is now English.']);
  s.assertClean();
  await s.close();
});

test('keyboard and screen readers: skip link, focus after navigation, dialogs', async () => {
  const s = await openPage();
  const { page } = s;
  await page.goto(`${base}/`);
  await login(page, 'lena');
  await go(page, '/companies');
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Zum Inhalt springen' });
  assert.equal(await skip.evaluate((el) => el === document.activeElement), true, 'the first Tab reaches the skip link');
  await shot(page, 'desktop-de-16-skip-link');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  // A link followed with the keyboard: focus lands on the new page's heading.
  await page.getByRole('link', { name: 'Stadtwerke Nordheide GmbH' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Stadtwerke Nordheide GmbH' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1');
  // Focus is visible: the focused button has an outline.
  await page.getByRole('button', { name: 'Neuen Kontakt vermerken' }).focus();
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none');
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Neuen Kontakt vermerken' });
  await dialog.waitFor();
  // Without a subject the form says so, next to the field.
  await dialog.getByRole('button', { name: 'Kontakt speichern' }).click();
  await dialog.getByRole('alert').filter({ hasText: 'Bitte geben Sie einen Betreff ein.' }).waitFor();
  assert.equal(await dialog.getByLabel('Betreff').getAttribute('aria-invalid'), 'true');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  s.assertClean();
  await s.close();
});

test('narrow screen (390 px): every page usable, menu, dialog', async () => {
  const s = await openPage({ viewport: NARROW });
  const { page } = s;
  await page.goto(`${base}/`);
  await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
  await checkPage(page, 'narrow login');
  await shot(page, 'narrow-de-01-login');
  await login(page, 'lena');
  await waitIdle(page);
  await checkPage(page, 'narrow inbox');
  await shot(page, 'narrow-de-02-inbox');
  await shot(page, 'narrow-de-02-inbox-full', { fullPage: true });
  const menu = page.getByRole('button', { name: 'Menü' });
  await menu.click();
  assert.equal(await menu.getAttribute('aria-expanded'), 'true');
  await page.getByRole('navigation', { name: 'Hauptnavigation' }).getByRole('link', { name: 'Leads' }).waitFor();
  await shot(page, 'narrow-de-03-menu');
  await page.getByRole('navigation', { name: 'Hauptnavigation' }).getByRole('link', { name: 'Leads' }).click();
  await page.getByRole('heading', { level: 1, name: 'Leads' }).waitFor();
  await waitIdle(page);
  assert.equal(await menu.getAttribute('aria-expanded'), 'false');
  await checkPage(page, 'narrow leads');
  await shot(page, 'narrow-de-04-leads');
  await go(page, '/leads/2');
  await checkPage(page, 'narrow lead');
  await shot(page, 'narrow-de-05-lead-history');
  await shot(page, 'narrow-de-05-lead-history-full', { fullPage: true });
  await page.getByRole('button', { name: 'Neuen Kontakt vermerken' }).click();
  await page.getByRole('dialog', { name: 'Neuen Kontakt vermerken' }).waitFor();
  await checkPage(page, 'narrow dialog');
  await shot(page, 'narrow-de-06-new-entry-dialog');
  await page.keyboard.press('Escape');
  await go(page, '/followups');
  await shot(page, 'narrow-de-07-followups');
  await go(page, '/notifications');
  await checkPage(page, 'narrow notifications');
  await shot(page, 'narrow-de-08-notifications');
  await go(page, '/search?q=Messestand');
  await checkPage(page, 'narrow search');
  await shot(page, 'narrow-de-09-search');
  await go(page, '/entries/9');
  await checkPage(page, 'narrow entry');
  await shot(page, 'narrow-de-10-review-entry');
  await go(page, '/inbox/own');
  await shot(page, 'narrow-de-11-own-history');
  s.assertClean();
  await s.close();
});

test('screenshots of the remaining pages', async () => {
  const s = await openPage();
  const { page } = s;
  await page.goto(`${base}/`);
  await login(page, 'tobias');
  await go(page, '/projects');
  await page.getByText('7 Projekte', { exact: true }).waitFor();
  await checkPage(page, 'projects');
  await shot(page, 'desktop-de-17-projects');
  await go(page, '/projects/3');
  await checkPage(page, 'project page');
  await shot(page, 'desktop-de-18-project');
  const mark = s.requests.length;
  await go(page, '/entries/17');
  await checkPage(page, 'entry page');
  await shot(page, 'desktop-de-19-review-entry', { fullPage: true });
  // The entry page has the full text already: opening it asks for nothing more.
  await page.getByRole('button', { name: 'Volltext anzeigen' }).click();
  await page.locator('.entry-full .mail-text').first().waitFor();
  assert.deepEqual(s.calls(/^GET \/api\/v1\/entries\//, mark), ['GET /api/v1/entries/17']);
  await go(page, '/companies');
  await page.getByText('5 Unternehmen', { exact: true }).waitFor();
  await shot(page, 'desktop-de-20-companies');
  await go(page, '/companies?q=Zzyzx');
  await page.getByText('Kein Unternehmen passt zu „Zzyzx“.').waitFor();
  await checkPage(page, 'companies, nothing found');
  await shot(page, 'desktop-de-24-companies-nothing-found');
  await go(page, '/does-not-exist');
  await page.getByRole('heading', { level: 1, name: 'Seite nicht gefunden' }).waitFor();
  s.expect((text, url) => /status of 404/.test(text) && url.endsWith('/api/v1/entries/99999'));
  await go(page, '/entries/99999');
  await page.getByRole('heading', { level: 1, name: 'Nicht gefunden' }).waitFor();
  s.assertClean();
  await s.close();
});
