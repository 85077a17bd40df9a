// Send Event from a campaign's Trigger page and from its Overview, in real Chromium: the dialog
// starts with the trigger's event name, the person is picked by typing part of an email and
// choosing with the keyboard, "What will this do?" names the campaign that would start and the
// one that would not, with why, and each event arrives through the App API.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { env } from '../lib/harness.mjs';
import { LAPTOP, shoot, signIn } from '../lib/ui.mjs';

async function sendFrom(h, page, email, data) {
  await page.locator('summary', { hasText: 'Send Event' }).click();
  const name = page.getByLabel('Event name');
  assert.equal(await name.inputValue(), 'purchased', 'the trigger names the event');
  const person = page.getByLabel('Person');
  await person.pressSequentially(email.slice(0, 6), { delay: 30 });
  const pick = page.locator('#send-person-picks').getByRole('option').first();
  await pick.waitFor();
  await person.press('ArrowDown');
  await page.keyboard.press('Enter');
  await h.waitFor('the person chosen', async () => /Chosen: /.test(await page.locator('[data-picked-label]').innerText()));
  await page.getByLabel('Event data').fill(data);
}

export async function run(h) {
  const email = env('HERALD_TEST_UI_EMAIL');
  const password = env('HERALD_TEST_UI_PASSWORD');
  const workspace = env('HERALD_TEST_WORKSPACE_ID');
  const campaign = env('HERALD_TEST_CAMPAIGN_ID');
  const shots = env('HERALD_TEST_SCREENSHOTS');
  mkdirSync(shots, { recursive: true });
  const page = await h.newPage();
  await page.setViewportSize(LAPTOP);
  await signIn(h, page, email, password);

  await page.goto(`${h.herald}/ui/w/${workspace}/campaigns`);
  await shoot(page, shots, 'campaigns');
  await page.getByRole('link', { name: 'Receipt' }).click();
  await page.getByRole('link', { name: 'Trigger' }).click();
  await page.getByRole('heading', { name: 'Trigger' }).waitFor();
  await sendFrom(h, page, 'ann.lee@example.com', '{"price": 1}');
  // "What will this do?" before sending: Receipt starts, Big spender does not, and why.
  await page.getByRole('button', { name: 'What will this do?' }).click();
  const answer = page.getByRole('region', { name: 'What this event will do' });
  await answer.waitFor();
  const outcomes = await answer.innerText();
  assert.match(outcomes, /Starts\s+Receipt/, outcomes);
  assert.match(outcomes, /Does not start\s+Big spender: Its trigger's data filter \{"field":"price","op":"gt","value":100\} does not hold/, outcomes);
  assert.match(outcomes, /Nothing was sent or stored/, outcomes);
  await shoot(page, shots, 'campaign-trigger-send-event');
  assert.equal((await h.customerActivities('ann')).filter((a) => a.name === 'purchased').length, 0,
    'asking what it will do sends nothing');
  await page.getByRole('button', { name: 'Send event' }).click();
  await page.getByRole('status').waitFor();
  await h.waitFor('the first event through the App API', async () =>
    (await h.customerActivities('ann')).some((a) => a.name === 'purchased' && a.data.price === 1));

  await page.goto(`${h.herald}/ui/w/${workspace}/campaigns/${campaign}`);
  await page.getByRole('heading', { name: 'Metrics' }).waitFor();
  await sendFrom(h, page, 'ann.lee@example.com', '{"price": 2}');
  await page.getByRole('button', { name: 'Send event' }).click();
  await page.getByRole('status').waitFor();
  await h.waitFor('the second event through the App API', async () =>
    (await h.customerActivities('ann')).some((a) => a.name === 'purchased' && a.data.price === 2));
  await page.goto(`${h.herald}/ui/w/${workspace}/campaigns/${campaign}`);
  await shoot(page, shots, 'campaign-overview');
}
