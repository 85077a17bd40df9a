// What every browser scenario needs: Herald's App API, a demo-page server, real headless
// Chromium, and a record of every console error, page error and CSP violation.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startStaticServer } from './static_server.mjs';

export const CHROMIUM = '/usr/bin/chromium';
// Waiting is for something to happen (a request to arrive), never for time to pass: each wait
// polls until its condition holds and fails after this long.
const WAIT_MS = 20000;

export function env(name) {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run the scenarios through cargo test (browser_chromium.rs)`);
  return value;
}

export async function setUp() {
  const herald = env('HERALD_TEST_BASE_URL');
  const siteId = env('HERALD_TEST_SITE_ID');
  const appKey = env('HERALD_TEST_APP_API_KEY');
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (./scripts/test does)`);

  const appApi = async (path) => {
    const response = await fetch(herald + path, { headers: { authorization: `Bearer ${appKey}` } });
    const body = await response.json();
    return { status: response.status, body };
  };
  const snippet = await appApi(`/v1/browser/snippet?base_url=${encodeURIComponent(herald)}`);
  assert.equal(snippet.status, 200, JSON.stringify(snippet.body));
  const pages = await startStaticServer({ herald, siteId, snippetHtml: snippet.body.html });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless'],
  });
  const context = await browser.newContext();
  const problems = [];
  const watch = (page) => {
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') {
        // The document that logged it, when it is not the page itself (a frame's).
        const from = message.location().url;
        const source = from && from !== page.url() ? ` (from ${from})` : '';
        problems.push(`console ${message.type()} on ${page.url()}${source}: ${message.text()}`);
      }
    });
    page.on('pageerror', (error) => problems.push(`page error on ${page.url()}: ${error.message}`));
    return page;
  };

  const h = {
    herald,
    siteId,
    pages,
    browser,
    context,
    appApi,
    problems,
    async newPage() {
      return watch(await context.newPage());
    },
    // Every event and page view of the workspace, oldest first.
    async activities() {
      const all = [];
      let start = '';
      for (;;) {
        const { status, body } = await appApi(`/v1/activities?limit=100&start=${start}`);
        assert.equal(status, 200, JSON.stringify(body));
        all.push(...body.activities);
        start = body.next;
        if (!start) break;
      }
      return all.reverse().filter((a) => a.type === 'event' || a.type === 'page');
    },
    async customerActivities(id) {
      const { status, body } = await appApi(`/v1/customers/${encodeURIComponent(id)}/activities?limit=100`);
      if (status === 404) return [];
      assert.equal(status, 200, JSON.stringify(body));
      return body.activities.reverse().filter((a) => a.type === 'event' || a.type === 'page');
    },
    async waitFor(what, check) {
      const deadline = Date.now() + WAIT_MS;
      let last;
      for (;;) {
        last = await check();
        if (last) return last;
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    // Items track.js still holds (not yet acknowledged by the server), over all tabs.
    async queued(page) {
      return page.evaluate(() => {
        let items = 0;
        for (let i = 0; i < localStorage.length; i++) {
          const key = localStorage.key(i);
          if (key.startsWith('_cio_q.')) items += JSON.parse(localStorage.getItem(key)).q.length;
        }
        return items;
      });
    },
    async cookie(name) {
      const cookies = await context.cookies(pages.origin);
      return cookies.find((c) => c.name === name)?.value ?? null;
    },
    async open(path) {
      const page = await h.newPage();
      await page.goto(pages.origin + path);
      await page.waitForFunction(() => window._cio && window._cio.herald === 1);
      return page;
    },
    // No console error or warning, no uncaught exception, no CSP violation.
    assertClean() {
      assert.deepEqual(problems, [], 'console errors, warnings or page errors');
      assert.deepEqual(pages.cspReports, [], 'Content-Security-Policy violations');
    },
    async tearDown() {
      await browser.close();
      await pages.close();
    },
  };
  return h;
}

// Counts the activities of each `type:name`.
export function tally(activities) {
  const counts = {};
  for (const a of activities) {
    const key = `${a.type}:${a.name}`;
    counts[key] = (counts[key] || 0) + 1;
  }
  return counts;
}
