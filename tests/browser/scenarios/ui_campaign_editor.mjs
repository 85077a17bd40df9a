// The campaign editor in real Chromium: an event-triggered campaign with a webhook whose body
// uses `{{ event["sign up date"] }}` and `{{ customer.email }}`; the preview renders both for
// the person chosen (with their latest event of the trigger's name as the sample), a Liquid
// syntax error is reported with its line, an email step is added, previewed in its sandboxed
// frame, sent as a test to the SMTP server, moved and removed; the campaign is saved, started,
// and an event sent from its Trigger page starts it (the Rust side checks the webhook, the
// email and the metrics).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { env } from '../lib/harness.mjs';
import { LAPTOP, shoot, signIn } from '../lib/ui.mjs';

const BODY = '{"date": "{{ event["sign up date"] }}", "email": "{{ customer.email }}"}';

export async function run(h) {
  const email = env('HERALD_TEST_UI_EMAIL');
  const password = env('HERALD_TEST_UI_PASSWORD');
  const workspace = env('HERALD_TEST_WORKSPACE_ID');
  const receiver = env('HERALD_TEST_RECEIVER');
  const shots = env('HERALD_TEST_SCREENSHOTS');
  mkdirSync(shots, { recursive: true });
  const page = await h.newPage();
  await page.setViewportSize(LAPTOP);
  await signIn(h, page, email, password);

  await page.goto(`${h.herald}/ui/w/${workspace}/campaigns`);
  await page.getByRole('link', { name: 'New campaign' }).first().click();
  await page.getByRole('heading', { name: 'New campaign' }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill('Welcome');
  await page.getByLabel('Event name').fill('signed up');

  // The person to preview for, picked by typing part of her email.
  const person = page.getByLabel('Person', { exact: true });
  await person.pressSequentially('ann.l', { delay: 30 });
  await page.locator('#preview-person-picks').getByRole('option').first().click();
  await h.waitFor('the sample event filled in', async () =>
    (await page.getByLabel(/Sample event data/).inputValue()).includes('2026-11-30'));

  const step1 = page.getByRole('group', { name: 'Step 1: webhook' });
  await step1.getByLabel('URL').fill(`${receiver}/welcome/{{ customer.id }}`);
  await step1.getByLabel(/^Body/).fill(BODY);
  const preview1 = page.locator('#preview-0');
  await h.waitFor('the preview rendering the event and the person', async () => {
    const text = await preview1.innerText();
    return text.includes('"date": "2026-11-30"') && text.includes('"email": "ann.lee@example.com"')
      && text.includes(`${receiver}/welcome/ann`);
  });
  await shoot(page, shots, 'campaign-editor');

  // A syntax error on the body's second line is named with its line, in place.
  await step1.getByLabel(/^Body/).fill(`${BODY}\n{% if customer.email %}`);
  await h.waitFor('the Liquid error with its line', async () =>
    /Body: syntax error at line 2, column \d+/.test(await preview1.innerText()));
  await shoot(page, shots, 'campaign-editor-error');
  await step1.getByLabel(/^Body/).fill(BODY);
  await h.waitFor('the error gone', async () => !(await preview1.innerText()).includes('syntax error'));

  // An email step: previewed in a sandboxed frame, then sent as a test to the SMTP server.
  await page.getByRole('group', { name: 'Add a step' }).getByRole('button', { name: '+ Email' }).click();
  const step2 = page.getByRole('group', { name: 'Step 2: email' });
  await step2.waitFor();
  assert.equal(await step2.getByLabel('To').inputValue(), '{{ customer.email }}');
  await step2.getByLabel('From').fill('hello@example.com');
  await step2.getByLabel('Subject').fill('Welcome, {{ customer.email }}');
  await step2.getByLabel('HTML body').fill('<p style="color: #0a7">Hello {{ customer.email }}, you signed up on {{ event["sign up date"] }}.</p>');
  const frame = page.locator('#preview-1 iframe');
  await frame.waitFor();
  assert.equal(await frame.getAttribute('sandbox'), '', 'no script, an opaque origin');
  await h.waitFor('the email rendered in its frame', async () => {
    const inner = page.frameLocator('#preview-1 iframe').locator('p');
    return (await inner.count()) === 1 && (await inner.innerText()).includes('ann.lee@example.com, you signed up on 2026-11-30');
  });
  assert.match(await page.locator('#preview-1').innerText(), /Subject\s+Welcome, ann\.lee@example\.com/);
  // A preview asked for while the one before is still on its way waits for it, and htmx then
  // sends it with the formaction of the submit button focused last in the form: with the focus
  // on "Send test", a preview became a second test send. Each preview is held back here until
  // the focus has moved, so the second one is sure to wait; nothing may reach send-test.
  const asked = { previews: 0, tests: 0 };
  page.on('request', (request) => {
    if (request.url().endsWith('/campaigns/editor/preview')) asked.previews += 1;
    if (request.url().endsWith('/campaigns/editor/send-test')) asked.tests += 1;
  });
  let release;
  const focused = new Promise((resolve) => { release = resolve; });
  await page.route('**/campaigns/editor/preview', async (route) => { await focused; await route.continue(); });
  const previewsBefore = asked.previews;
  await step2.getByLabel('HTML body').fill('<p style="color: #0a7">Hello {{ customer.email }}, you signed up on {{ event["sign up date"] }}!</p>');
  await h.waitFor('a preview on its way', async () => asked.previews > previewsBefore);
  await step2.getByRole('button', { name: 'Send test' }).focus();
  release();
  await h.waitFor('the preview asked for when the focus moved, sent', async () =>
    asked.previews > previewsBefore + 1 || asked.tests > 0);
  await page.unroute('**/campaigns/editor/preview');
  assert.equal(asked.tests, 0, 'a preview went to send-test');
  await h.waitFor('the preview of the body typed before the focus moved', async () => {
    const inner = page.frameLocator('#preview-1 iframe').locator('p');
    return (await inner.count()) === 1 && (await inner.innerText()).endsWith('2026-11-30!');
  });
  await step2.getByRole('button', { name: 'Send test' }).click();
  await h.waitFor('the test sent', async () => /Sent to .* as a test/.test(await page.locator('#test-1').innerText()));
  await shoot(page, shots, 'campaign-editor-email');

  // Reordered, then removed: the campaign keeps only the webhook.
  await step2.getByRole('button', { name: 'Move step 2 up' }).click();
  await page.getByRole('group', { name: 'Step 1: email' }).waitFor();
  await page.getByRole('group', { name: 'Step 1: email' }).getByRole('button', { name: 'Remove step 1' }).click();
  await page.getByRole('group', { name: 'Step 1: webhook' }).waitFor();
  assert.equal(await page.getByRole('group', { name: /^Step 2/ }).count(), 0);
  assert.equal(await page.getByRole('group', { name: 'Step 1: webhook' }).getByLabel(/^Body/).inputValue(), BODY,
    'what was typed survives the reordering');

  await page.getByRole('button', { name: 'Save campaign' }).click();
  await page.getByRole('heading', { name: /Welcome\s+draft/ }).waitFor();
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByRole('heading', { name: /Welcome\s+running/ }).waitFor();

  // Send Event from the Trigger page starts it.
  await page.getByRole('link', { name: 'Trigger' }).click();
  await page.locator('summary', { hasText: 'Send Event' }).click();
  assert.equal(await page.getByLabel('Event name').inputValue(), 'signed up');
  const sendTo = page.locator('#send-person');
  await sendTo.pressSequentially('ann.l', { delay: 30 });
  await page.locator('#send-person-picks').getByRole('option').first().click();
  await page.getByLabel('Event data').fill('{"sign up date": "2026-12-01"}');
  await page.getByRole('button', { name: 'Send event' }).click();
  await page.getByRole('status').waitFor();

  // Editing it again shows what was saved, and that it is running.
  await page.goto(`${h.herald}/ui/w/${workspace}/campaigns`);
  await page.getByRole('link', { name: 'Welcome' }).click();
  await page.getByRole('link', { name: 'Edit' }).click();
  await page.getByText('This campaign is running').waitFor();
  assert.equal(await page.getByRole('group', { name: 'Step 1: webhook' }).getByLabel(/^Body/).inputValue(), BODY);
  await shoot(page, shots, 'campaign-editor-running');

  // The Overview charts each outcome per day, with a sentence for those who cannot see the
  // bars, and narrows its deliveries by status.
  await page.getByRole('link', { name: 'Welcome' }).click();
  await h.waitFor('the send charted', async () => {
    await page.reload();
    const sent = page.getByRole('img', { name: /^1 sent in the last 30 days/ });
    return (await sent.count()) === 1;
  });
  assert.equal(await page.getByRole('img', { name: /^1 triggered in the last 30 days/ }).count(), 1);
  assert.equal(await page.getByRole('img', { name: 'None failed in the last 30 days.' }).count(), 1);
  await shoot(page, shots, 'campaign-overview');
  await page.getByLabel('Status').selectOption('failed');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByText('No delivery is failed.').waitFor();
  await page.getByLabel('Status').selectOption('sent');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByRole('table', { name: 'Recent deliveries' }).waitFor();
  assert.equal(await page.getByRole('table', { name: 'Recent deliveries' }).locator('tbody tr').count(), 1);
  assert.equal(await page.getByRole('table', { name: 'Recent deliveries' }).locator('tbody td').first().innerText(), 'ann',
    'a delivery names its person as the people list does');
}
