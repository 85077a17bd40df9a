// `_cio.reset()` forgets the person: later activity is anonymous under a new anonymous id and
// never joins the person who was identified before.
import assert from 'node:assert/strict';

export async function run(h) {
  const page = await h.open('/strict.html?auto=false');
  const before = await h.cookie('_cioanonid');
  assert.ok(before, 'the anonymous id is set on load');
  await page.evaluate(() => {
    window._cio.identify({ id: 'leaving-user' });
    window._cio.track('before_reset');
  });
  await h.waitFor('the event of the person', async () =>
    (await h.customerActivities('leaving-user')).some((a) => a.name === 'before_reset'));

  await page.evaluate(() => window._cio.reset());
  assert.equal(await h.cookie('_cioid'), null, 'the person cookie is gone');
  const after = await h.cookie('_cioanonid');
  assert.ok(after && after !== before, 'a new anonymous id');

  await page.evaluate(() => window._cio.track('after_reset'));
  const event = await h.waitFor('the anonymous event', async () =>
    (await h.activities()).find((a) => a.name === 'after_reset'));
  assert.equal(event.customer_id, null);
  assert.equal(event.anonymous_id, after);

  // A new page after the reset is anonymous too.
  const next = await h.open('/strict.html');
  const url = h.pages.origin + '/strict.html';
  const view = await h.waitFor('the page view', async () =>
    (await h.activities()).find((a) => a.type === 'page' && a.name === url));
  assert.equal(view.anonymous_id, after);
  assert.equal(view.customer_id, null);
  await h.waitFor('empty queues', async () => (await h.queued(next)) === 0);
  const names = (await h.customerActivities('leaving-user')).map((a) => a.name);
  assert.deepEqual(names, ['before_reset']);
}
