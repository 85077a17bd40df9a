// The web UI's sign-in in real Chromium: a signed-out visit lands on the sign-in form, a wrong
// password is refused with a message, the right one shows the workspaces, the workspace
// switcher navigates, Settings reveals a key on demand, and signing out ends the session. Screenshots of each page, at laptop
// and phone width, go to HERALD_TEST_SCREENSHOTS.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { env } from '../lib/harness.mjs';
import { LAPTOP, shoot } from '../lib/ui.mjs';

export async function run(h) {
  const email = env('HERALD_TEST_UI_EMAIL');
  const password = env('HERALD_TEST_UI_PASSWORD');
  const shots = env('HERALD_TEST_SCREENSHOTS');
  mkdirSync(shots, { recursive: true });
  const page = await h.newPage();
  await page.setViewportSize(LAPTOP);

  await page.goto(h.herald + '/ui/');
  assert.ok(page.url().endsWith('/ui/sign-in'), `a signed-out visit lands on sign-in, not ${page.url()}`);
  await shoot(page, shots, 'sign-in');

  // Every field has a visible label: the form is filled through them.
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').innerText(), /do not match an account/);
  assert.ok(page.url().endsWith('/ui/sign-in'));
  // The refusal is an answer with a status, which Chromium reports on the console; it is not a
  // problem of the page.
  h.problems.length = 0;
  await shoot(page, shots, 'sign-in-refused');

  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
  await shoot(page, shots, 'workspaces');

  // The switcher (a labelled select) goes to the workspace chosen.
  const switcher = page.getByRole('combobox', { name: 'Workspace' });
  const target = await switcher.locator('option').nth(1).getAttribute('value');
  await switcher.selectOption(target);
  await page.waitForURL((url) => url.pathname === target);
  await page.getByRole('heading', { level: 1 }).waitFor();
  await shoot(page, shots, 'workspace');

  // Settings: the keys are masked until revealed (htmx swaps the row in), then copied.
  const workspace = env('HERALD_TEST_WORKSPACE_ID');
  const trackKey = env('HERALD_TEST_TRACK_KEY');
  await page.goto(`${h.herald}/ui/w/${workspace}/settings`);
  await page.getByRole('heading', { name: 'Settings' }).waitFor();
  assert.ok(!(await page.content()).includes(trackKey), 'the Track API key is masked');
  await page.getByRole('button', { name: 'Reveal the Track API key' }).click();
  const revealed = page.locator('#key-track-value');
  await revealed.waitFor();
  assert.equal(await revealed.innerText(), trackKey);
  const copy = page.locator('#key-track').getByRole('button', { name: 'Copy' });
  await copy.click();
  await h.waitFor('the copy acknowledged', async () => /Copied|Selected/.test(await page.locator('#key-track button').innerText()));
  assert.match(await page.locator('#snippet-html').innerText(), /data-site-id/);
  await shoot(page, shots, 'settings');

  // Signing out: the session ends, and the pages need a new sign-in.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('status').waitFor();
  assert.match(await page.getByRole('status').innerText(), /signed out/);
  await page.goto(h.herald + target);
  const sentTo = new URL(page.url());
  assert.equal(sentTo.pathname, '/ui/sign-in', `after signing out, ${target} needs a sign-in`);
  assert.equal(sentTo.searchParams.get('next'), target, 'the sign-in remembers the page');

  // Signing in there returns to the page asked for, not to the list of workspaces.
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(h.herald + target);
}
