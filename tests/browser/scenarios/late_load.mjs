// The classic snippet, as Herald prints it, queues calls in the `_cio` array until track.js
// arrives: here track.js is held back until the page has made its calls, and none is lost.
// The page disables the automatic page view with data-auto-track-page="false".
import assert from 'node:assert/strict';
import { tally } from '../lib/harness.mjs';

export async function run(h) {
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await h.context.route('**/assets/track.js', async (route) => {
    await held;
    await route.continue();
  });
  const page = await h.newPage();
  await page.goto(h.pages.origin + '/classic.html?auto=false', { waitUntil: 'domcontentloaded' });

  const stub = await page.evaluate(() => {
    window._cio.identify({ id: 'early-bird', first_seen: 'stub' });
    window._cio.track('early_event', { n: 1 });
    window._cio.push(['track', 'pushed_event']);
    return {
      isArray: Array.isArray(window._cio),
      queued: window._cio.length,
      hasReset: typeof window._cio.reset === 'function',
      loaded: window._cio.herald === 1,
    };
  });
  assert.deepEqual(stub, { isArray: true, queued: 3, hasReset: true, loaded: false });

  release();
  await page.waitForFunction(() => window._cio.herald === 1);
  const mine = await h.waitFor('the calls made before track.js loaded', async () => {
    const activities = await h.customerActivities('early-bird');
    return activities.length >= 2 && activities;
  });
  assert.deepEqual(mine.map((a) => a.name), ['early_event', 'pushed_event']);
  const { body: person } = await h.appApi('/v1/customers/early-bird/attributes');
  assert.equal(person.customer.attributes.first_seen, 'stub');

  // After loading, the same object takes calls directly, by method or by push.
  await page.evaluate(() => window._cio.push(['track', 'late_push']));
  await h.waitFor('the pushed event', async () =>
    (await h.customerActivities('early-bird')).some((a) => a.name === 'late_push'));
  await h.waitFor('an empty queue', async () => (await h.queued(page)) === 0);
  assert.deepEqual(tally(await h.activities()), {
    'event:early_event': 1,
    'event:pushed_event': 1,
    'event:late_push': 1,
  }, 'no automatic page view');
}
