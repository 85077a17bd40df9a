// Calls made while offline wait in the queue and arrive exactly once when the browser is back
// online, in order (an identify made offline still attaches the events queued before it).
// What a tab queued offline and then left is sent by the next tab that opens.
import assert from 'node:assert/strict';
import { tally } from '../lib/harness.mjs';

export async function run(h) {
  const url = h.pages.origin + '/strict.html';
  const page = await h.open('/strict.html');
  await h.waitFor('the page view', async () => (await h.activities()).some((a) => a.type === 'page'));
  await h.waitFor('an empty queue', async () => (await h.queued(page)) === 0);

  await h.context.setOffline(true);
  await page.evaluate(() => {
    window._cio.track('offline_1', { n: 1 });
    window._cio.track('offline_2', { n: 2 });
    window._cio.identify({ id: 'commuter' });
    window._cio.track('offline_3', { n: 3 });
  });
  assert.equal(await h.queued(page), 4, 'four calls wait in the queue');
  assert.equal((await h.activities()).length, 1, 'nothing arrived while offline');

  await h.context.setOffline(false);
  const mine = await h.waitFor('the queued calls', async () => {
    const activities = await h.customerActivities('commuter');
    return activities.filter((a) => a.name.startsWith('offline_')).length >= 3 && activities;
  });
  await h.waitFor('an empty queue', async () => (await h.queued(page)) === 0);
  assert.deepEqual(
    mine.filter((a) => a.name.startsWith('offline_')).map((a) => [a.name, a.data.n]),
    [['offline_1', 1], ['offline_2', 2], ['offline_3', 3]],
  );

  // A tab that queued offline and went away: the next tab sends what it left.
  await h.context.setOffline(true);
  await page.evaluate(() => window._cio.track('left_behind'));
  await page.goto('about:blank');
  await h.context.setOffline(false);
  const next = await h.open('/strict.html');
  await h.waitFor('the left-behind event', async () =>
    (await h.customerActivities('commuter')).some((a) => a.name === 'left_behind'));
  await h.waitFor('empty queues', async () => (await h.queued(next)) === 0);

  assert.deepEqual(tally(await h.activities()), {
    [`page:${url}`]: 2,
    'event:offline_1': 1,
    'event:offline_2': 1,
    'event:offline_3': 1,
    'event:left_behind': 1,
  });
}
