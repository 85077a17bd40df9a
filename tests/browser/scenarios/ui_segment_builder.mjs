// The segment builder in real Chromium, without typing JSON: an event condition refined to the
// last 30 days with a data filter, and an Any-of group (a page view, an attribute) inside the
// All-of top group. The live count reaches the exact number of members, the JSON view holds the
// definition and gives it back unchanged, and once saved the App API reports the same count.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { env } from '../lib/harness.mjs';
import { LAPTOP, shoot, signIn } from '../lib/ui.mjs';

const EXPECTED = {
  and: [
    { event: { name: 'purchased', count: { at_least: 2 }, within: { days: 30 },
               where: [{ field: 'price', op: 'gt', value: 10 }] } },
    { or: [
      { event: { name: '/pricing', type: 'page' } },
      { attribute: { field: 'plan', op: 'eq', value: 'pro' } },
    ] },
  ],
};

export async function run(h) {
  const email = env('HERALD_TEST_UI_EMAIL');
  const password = env('HERALD_TEST_UI_PASSWORD');
  const workspace = env('HERALD_TEST_WORKSPACE_ID');
  const shots = env('HERALD_TEST_SCREENSHOTS');
  mkdirSync(shots, { recursive: true });
  const page = await h.newPage();
  await page.setViewportSize(LAPTOP);
  await signIn(h, page, email, password);

  await page.goto(`${h.herald}/ui/w/${workspace}/segments`);
  await page.getByRole('link', { name: 'New segment' }).first().click();
  await page.getByRole('heading', { name: 'New segment' }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill('Big repeat buyers');

  // Condition 1: purchased at least twice in the last 30 days, for more than 10.
  const first = () => page.getByRole('group', { name: 'Condition 1: an event' });
  await first().getByLabel('Event', { exact: true }).fill('purchased');
  await first().getByLabel('Times').fill('2');
  await first().getByLabel('Refine: when').selectOption('within');
  await first().getByLabel('Amount').waitFor();
  await first().getByLabel('Amount').fill('30');
  await first().getByLabel('Unit').selectOption('days');
  await first().getByRole('button', { name: 'Refine condition 1 by its event data' }).click();
  const filter = () => page.getByRole('group', { name: 'Condition 1, data filter 1' });
  await filter().waitFor();
  await filter().getByLabel('Data field').fill('price');
  // Choosing an operator redraws the tree; "is" has a Value field too, so wait for the new
  // one, or the value typed would go into the field about to be replaced.
  await filter().getByLabel('Value').evaluate((field) => { field.dataset.before = 'yes'; });
  await filter().getByLabel('Operator').selectOption('gt');
  await h.waitFor('the tree redrawn for the operator', async () =>
    (await filter().getByLabel('Value').getAttribute('data-before')) === null);
  await filter().getByLabel('Value').fill('10');

  // Group 2, Any of: a page view of /pricing, or the pro plan.
  await page.getByRole('group', { name: 'Add to the definition' }).getByRole('button', { name: '+ Group' }).click();
  const pricing = () => page.getByRole('group', { name: 'Condition 2.1: an event' });
  await pricing().waitFor();
  await pricing().getByLabel('Event', { exact: true }).fill('/pricing');
  await pricing().getByLabel('Type').selectOption('page');
  await page.getByRole('group', { name: 'Add to group 2' }).getByRole('button', { name: '+ Attribute' }).click();
  const plan = () => page.getByRole('group', { name: 'Condition 2.2: an attribute' });
  await plan().waitFor();
  await plan().getByLabel('Attribute').fill('plan');
  await plan().getByLabel('Value').fill('pro');

  // The live count reaches the exact number: ann (pro) and eve (viewed pricing).
  await h.waitFor('the live count of 2', async () =>
    (await page.locator('#live-count [data-count]').count()) === 1
    && (await page.locator('#live-count [data-count]').innerText()) === '2');
  await shoot(page, shots, 'segment-builder');

  // The JSON view holds the definition, and gives it back unchanged.
  await page.locator('summary', { hasText: 'JSON' }).click();
  const shown = JSON.parse(await page.getByLabel('The definition as JSON (the App API\'s format)').inputValue());
  assert.deepEqual(shown, EXPECTED);
  await page.getByRole('button', { name: 'Use this JSON' }).click();
  await page.getByRole('group', { name: 'Condition 2.2: an attribute' }).waitFor();
  await h.waitFor('the count again', async () => (await page.locator('#live-count [data-count]').innerText()) === '2');
  await page.locator('summary', { hasText: 'JSON' }).click();
  assert.deepEqual(JSON.parse(await page.getByLabel('The definition as JSON (the App API\'s format)').inputValue()), EXPECTED);
  // A broken definition is refused with the API's message and its path; nothing changes.
  await page.getByLabel('The definition as JSON (the App API\'s format)').fill('{"and": [{"event": {"name": "x", "count": {"sometimes": 2}}}]}');
  await page.getByRole('button', { name: 'Use this JSON' }).click();
  assert.match(await page.getByRole('alert').innerText(), /and\[0\]\.event\.count\.sometimes/);
  await page.getByRole('group', { name: 'Condition 2.2: an attribute' }).waitFor();
  h.problems.length = 0;

  await page.getByRole('button', { name: 'Save segment' }).click();
  await page.getByRole('heading', { name: /Big repeat buyers/ }).waitFor();
  const segments = await h.waitFor('the segment built', async () => {
    const { body } = await h.appApi('/v1/segments');
    const found = body.segments.find((s) => s.name === 'Big repeat buyers');
    return found && found.state === 'finished' ? found : null;
  });
  assert.deepEqual(segments.definition, EXPECTED);
  const { body } = await h.appApi(`/v1/segments/${segments.id}/customer_count`);
  assert.equal(body.count, 2, JSON.stringify(body));
  await shoot(page, shots, 'segment-saved');
}
