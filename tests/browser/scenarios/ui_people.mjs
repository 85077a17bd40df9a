// People in the web UI, in real Chromium: the search box finds a person by typing part of an
// email (results as one types), the profile shows tracked values that hold markup as text and
// runs none of it, Send Event from the profile's Options menu refuses invalid JSON as one types
// and sends a valid event through the Track API's path, Activity Logs → an event → Resend sends
// it again, and at phone width a profile still reaches Send Event and sends. Screenshots go to HERALD_TEST_SCREENSHOTS.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { env } from '../lib/harness.mjs';
import { LAPTOP, PHONE, shoot, signIn } from '../lib/ui.mjs';

export async function run(h) {
  const email = env('HERALD_TEST_UI_EMAIL');
  const password = env('HERALD_TEST_UI_PASSWORD');
  const workspace = env('HERALD_TEST_WORKSPACE_ID');
  const shots = env('HERALD_TEST_SCREENSHOTS');
  mkdirSync(shots, { recursive: true });
  const page = await h.newPage();
  // Any dialog means tracked markup ran as script.
  const dialogs = [];
  page.on('dialog', async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  await page.setViewportSize(LAPTOP);
  await signIn(h, page, email, password);

  await page.goto(`${h.herald}/ui/w/${workspace}/people`);
  await page.getByRole('heading', { name: 'People' }).waitFor();
  await shoot(page, shots, 'people');

  // Typing part of an email narrows the list without a page load.
  const search = page.getByLabel('Search people');
  await search.pressSequentially('ann.l', { delay: 30 });
  const rows = page.locator('#people-results tbody tr');
  await h.waitFor('one match', async () => (await rows.count()) === 1);
  assert.equal(await rows.first().locator('a').innerText(), 'ann');
  assert.ok(page.url().endsWith('/people'), 'no page load happened');
  await shoot(page, shots, 'people-search');

  await rows.first().locator('a').click();
  await page.getByRole('heading', { name: 'ann', level: 1 }).waitFor();
  const text = await page.locator('main').innerText();
  assert.ok(text.includes("<script>alert('x')</script>"), 'the attribute shows as text');
  assert.ok(text.includes("<img src=x onerror=alert('x')>"), 'the markup shows as text');
  assert.equal(await page.locator('main script, main img').count(), 0, 'no element came from tracked data');
  await page.locator('.activity summary', { hasText: 'Data' }).first().click();
  await shoot(page, shots, 'profile');

  // Options → Send Event: invalid JSON is shown as such and cannot be sent.
  await page.locator('summary', { hasText: 'Options' }).click();
  await page.locator('summary', { hasText: 'Send Event' }).click();
  await page.getByLabel('Event name').fill('ui_sent');
  const data = page.getByLabel('Event data');
  await data.fill('{"plan": "pro",}');
  const send = page.getByRole('button', { name: 'Send event' });
  await h.waitFor('the JSON error', async () => (await send.isDisabled()) && /Not valid JSON/.test(await page.locator('#send-data-check').innerText()));
  await shoot(page, shots, 'send-event-invalid');
  assert.equal((await h.customerActivities('ann')).filter((a) => a.name === 'ui_sent').length, 0, 'nothing was sent');
  await data.fill('{"plan": "pro"}');
  await h.waitFor('valid JSON', async () => !(await send.isDisabled()));
  await send.click();
  await page.getByRole('status').waitFor();
  assert.match(await page.getByRole('status').innerText(), /Sent “ui_sent”/);
  const sent = await h.waitFor('the event through the App API', async () =>
    (await h.customerActivities('ann')).find((a) => a.name === 'ui_sent'));
  assert.equal(sent.data.plan, 'pro');
  await shoot(page, shots, 'send-event-sent');

  // Activity Logs → the event → Resend: the same name and data again, to the same person.
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Activity Logs' }).click();
  await page.getByRole('heading', { name: 'Activity Logs' }).waitFor();
  await page.getByLabel('Event name').fill('ui_sent');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/name=ui_sent/);
  await shoot(page, shots, 'activity-logs');
  await page.locator('table.list a', { hasText: 'ui_sent' }).first().click();
  await page.getByRole('button', { name: 'Resend' }).waitFor();
  await shoot(page, shots, 'activity-entry');
  await page.getByRole('button', { name: 'Resend' }).click();
  await page.getByRole('status').waitFor();
  const both = await h.waitFor('the resent event through the App API', async () => {
    const found = (await h.customerActivities('ann')).filter((a) => a.name === 'ui_sent');
    return found.length === 2 ? found : null;
  });
  assert.deepEqual(both.map((a) => a.data.plan), ['pro', 'pro']);

  // Data Index → the event: its count, and its recent activity.
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Data Index' }).click();
  await page.getByRole('heading', { name: 'Data Index' }).waitFor();
  await shoot(page, shots, 'data-index');
  // At phone width the table scrolls sideways, rather than break a date or the name of an
  // event after every few characters.
  await page.setViewportSize(PHONE);
  // The lines a text takes: one rectangle per line of its text node.
  const lines = (element, text) => element.evaluate((node, text) => {
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      if (walker.currentNode.textContent.includes(text)) {
        const range = document.createRange();
        range.selectNodeContents(walker.currentNode);
        return range.getClientRects().length;
      }
    }
    return 0;
  }, text);
  const date = page.locator('table.index td.when').first();
  assert.equal(await lines(date, 'UTC'), 1, 'a date on one line');
  assert.equal(await lines(page.locator('table.index a', { hasText: 'ui_sent' }), 'ui_sent'), 1,
    'a short event name on one line');
  await page.setViewportSize(LAPTOP);
  await page.locator('table.list a', { hasText: 'ui_sent' }).click();
  await page.getByRole('heading', { name: 'Recent Activity' }).waitFor();
  assert.equal(await page.locator('.activity li').count(), 2);
  await shoot(page, shots, 'data-index-event');
  await page.getByRole('link', { name: 'Data Index', exact: true }).first().click();
  await page.getByRole('navigation', { name: 'Data Index' }).getByRole('link', { name: 'Attributes' }).click();
  await page.getByRole('table').waitFor();
  assert.match(await page.locator('table.list').innerText(), /plan/);
  await shoot(page, shots, 'data-index-attributes');
  await page.goBack();
  await page.goBack();

  // Data Index → the event → Send Event: the name comes from the event, the person is picked.
  await page.locator('summary', { hasText: 'Send Event' }).click();
  assert.equal(await page.getByLabel('Event name').inputValue(), 'ui_sent');
  await page.getByLabel('Person').pressSequentially('ann.l', { delay: 30 });
  await page.locator('#send-person-picks').getByRole('option').first().click();
  await page.getByRole('button', { name: 'Send event' }).click();
  await page.getByRole('status').waitFor();
  await h.waitFor('the third ui_sent through the App API', async () =>
    (await h.customerActivities('ann')).filter((a) => a.name === 'ui_sent').length === 3);

  // Options → Delete… asks first; Cancel leaves the person as they are.
  await page.goto(`${h.herald}/ui/w/${workspace}/people`);
  await page.locator('table.list a', { hasText: 'ann' }).first().click();
  await page.locator('summary', { hasText: 'Options' }).click();
  await page.getByRole('link', { name: 'Delete…' }).click();
  await page.getByRole('heading', { name: 'Delete ann?' }).waitFor();
  await shoot(page, shots, 'person-delete-confirm');
  await page.getByRole('link', { name: 'Cancel' }).click();
  await page.getByRole('heading', { name: 'ann', level: 1 }).waitFor();

  // At phone width the profile still reaches Send Event, and it sends.
  await page.setViewportSize(PHONE);
  await page.reload();
  await page.locator('summary', { hasText: 'Options' }).click();
  await page.locator('summary', { hasText: 'Send Event' }).click();
  const name = page.getByLabel('Event name');
  assert.ok(await name.isVisible(), 'the dialog fits the phone');
  await name.fill('from_a_phone');
  const sendOnPhone = page.getByRole('button', { name: 'Send event' });
  const box = await sendOnPhone.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, `the button is on screen: ${JSON.stringify(box)}`);
  await sendOnPhone.click();
  await page.getByRole('status').waitFor();
  await h.waitFor('the phone event through the App API', async () =>
    (await h.customerActivities('ann')).some((a) => a.name === 'from_a_phone'));
  await page.setViewportSize(LAPTOP);
  assert.deepEqual(dialogs, [], 'no tracked value ran as script');
}
