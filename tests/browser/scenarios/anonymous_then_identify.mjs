// A visitor browses anonymously (an automatic page view, then an event), identifies, and acts
// again: the earlier anonymous activity now belongs to the person, read back with the App API.
import assert from 'node:assert/strict';
import { tally } from '../lib/harness.mjs';

export async function run(h) {
  const page = await h.open('/strict.html');
  const url = h.pages.origin + '/strict.html';
  const anonymousId = await h.cookie('_cioanonid');
  assert.match(anonymousId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  const pageView = await h.waitFor('the automatic page view', async () =>
    (await h.activities()).find((a) => a.type === 'page' && a.name === url));
  assert.equal(pageView.anonymous_id, anonymousId);
  assert.equal(pageView.customer_id, null);

  await page.evaluate(() => window._cio.track('viewed_pricing', { plan: 'pro', seats: 3 }));
  const viewed = await h.waitFor('the anonymous event', async () =>
    (await h.activities()).find((a) => a.name === 'viewed_pricing'));
  assert.equal(viewed.anonymous_id, anonymousId);
  assert.equal(viewed.customer_id, null);
  assert.deepEqual(viewed.data, { plan: 'pro', seats: 3 });
  assert.match(viewed.event_id, /^[0-9A-HJKMNP-TV-Z]{26}$/, 'events carry a ULID');

  await page.evaluate(() => window._cio.identify({ id: 'visitor-1', email: 'Visitor@Example.com', plan: 'pro' }));
  assert.equal(await h.cookie('_cioid'), 'visitor-1');
  const attached = await h.waitFor('the anonymous history on the person', async () => {
    const mine = await h.customerActivities('visitor-1');
    return mine.some((a) => a.name === 'viewed_pricing') && mine.some((a) => a.name === url) && mine;
  });
  assert.ok(attached.every((a) => a.customer_id === 'visitor-1'));
  const { body: person } = await h.appApi('/v1/customers/visitor-1/attributes');
  assert.equal(person.customer.identifiers.email, 'Visitor@Example.com');
  assert.equal(person.customer.attributes.plan, 'pro');

  await page.evaluate(() => window._cio.track('purchased', { total: 42 }));
  const purchased = await h.waitFor('the identified event', async () =>
    (await h.customerActivities('visitor-1')).find((a) => a.name === 'purchased'));
  assert.equal(purchased.anonymous_id, undefined, 'sent as the person, not anonymously');

  await h.waitFor('an empty queue', async () => (await h.queued(page)) === 0);
  assert.deepEqual(tally(await h.activities()), {
    [`page:${url}`]: 1,
    'event:viewed_pricing': 1,
    'event:purchased': 1,
  });
}
