// Two tabs of one site share the session through the cookies: the second tab's anonymous
// page view has the first tab's anonymous id, and after an identify in the first tab the
// second tab's next event belongs to the person without a reload.
import assert from 'node:assert/strict';
import { tally } from '../lib/harness.mjs';

export async function run(h) {
  const url = h.pages.origin + '/strict.html';
  const first = await h.open('/strict.html');
  const anonymousId = await h.cookie('_cioanonid');
  await h.waitFor('the first page view', async () =>
    (await h.activities()).some((a) => a.type === 'page'));

  const second = await h.open('/strict.html');
  const views = await h.waitFor('the second page view', async () => {
    const pages = (await h.activities()).filter((a) => a.type === 'page');
    return pages.length === 2 && pages;
  });
  assert.deepEqual(views.map((v) => v.anonymous_id), [anonymousId, anonymousId]);

  await first.evaluate(() => window._cio.identify({ id: 'two-tabs' }));
  // Chromium hands a cookie set in one tab to another tab's document asynchronously, so the
  // second tab tracks once it sees the person's cookie, as a user switching tabs would.
  await h.waitFor('the cookie in the second tab', () =>
    second.evaluate(() => document.cookie.includes('_cioid=')));
  await second.evaluate(() => window._cio.track('from_second_tab'));
  const mine = await h.waitFor('both tabs on the person', async () => {
    const activities = await h.customerActivities('two-tabs');
    return activities.some((a) => a.name === 'from_second_tab') &&
      activities.filter((a) => a.type === 'page').length === 2 && activities;
  });
  assert.equal(mine.find((a) => a.name === 'from_second_tab').anonymous_id, undefined);

  await h.waitFor('empty queues', async () => (await h.queued(second)) === 0);
  assert.deepEqual(tally(await h.activities()), { [`page:${url}`]: 2, 'event:from_second_tab': 1 });
}
