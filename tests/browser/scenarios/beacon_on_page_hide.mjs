// What is still queued when the page goes away leaves as a beacon. The tracker's own requests
// are held unanswered here, so only the beacon can deliver the event; the queue stays saved
// too, and the next page sends the same event again, which the server counts once (its ULID).
import assert from 'node:assert/strict';
import { tally } from '../lib/harness.mjs';

export async function run(h) {
  const page = await h.open('/strict.html?auto=false');
  const held = [];
  const kinds = [];
  await h.context.route('**/api/v1/browser/**', (route) => {
    const kind = route.request().resourceType();
    kinds.push(kind);
    // Held without an answer: the page leaves before the server could reply.
    if (kind === 'fetch') {
      held.push(route);
      return;
    }
    return route.continue();
  });
  await page.evaluate(() => window._cio.track('checkout_started', { step: 1 }));
  await h.waitFor('the held request', () => held.length === 1);
  assert.equal(await h.queued(page), 1);

  await page.goto('about:blank');
  const beaconed = await h.waitFor('the beacon', async () =>
    (await h.activities()).find((a) => a.name === 'checkout_started'));
  assert.deepEqual(beaconed.data, { step: 1 });
  // The page's only request is still held, so the beacon delivered the event. (Playwright
  // does not see beacons sent while a page unloads: the browser sends them after it is gone.)
  assert.deepEqual(kinds, ['fetch']);
  assert.equal(held.length, 1);

  await h.context.unrouteAll({ behavior: 'ignoreErrors' });
  const next = await h.open('/strict.html?auto=false');
  await h.waitFor('the queue sent again and emptied', async () => (await h.queued(next)) === 0);
  assert.deepEqual(tally(await h.activities()), { 'event:checkout_started': 1 });
}
