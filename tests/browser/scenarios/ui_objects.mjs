// Objects in the web UI, in real Chromium: a profile's Relationships list each object with its
// attributes and the relationship's, tracked markup shown as text and run never; an object's
// link opens its page, whose people link back to their profiles; at phone width neither page
// scrolls sideways. Screenshots go to HERALD_TEST_SCREENSHOTS.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { env } from '../lib/harness.mjs';
import { LAPTOP, PHONE, shoot, signIn } from '../lib/ui.mjs';

// Whether the page is wider than the window (a phone would scroll it sideways).
async function overflows(page) {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
}

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
  await page.locator('table.list a', { hasText: /^ann$/ }).click();
  await page.getByRole('heading', { name: 'ann', level: 1 }).waitFor();
  const relationships = page.locator('.relations > li');
  assert.equal(await relationships.count(), 2);
  const acme = await relationships.first().innerText();
  for (const label of ['Object type', 'Object id', 'Object attributes', 'Relationship attributes', 'Related since']) {
    assert.ok(acme.includes(label), `${label} is labelled: ${acme}`);
  }
  assert.ok(acme.includes("<script>alert('x')</script>"), 'the object attribute shows as text');
  assert.ok(acme.includes("<img src=x onerror=alert('x')>"), 'the relationship attribute shows as text');
  assert.equal(await page.locator('main script, main img').count(), 0, 'no element came from tracked data');
  assert.ok((await relationships.nth(1).innerText()).includes('intro/1 a+b'));
  await page.locator('#relationships').scrollIntoViewIfNeeded();
  await shoot(page, shots, 'profile-relationships');
  await page.setViewportSize(PHONE);
  assert.equal(await overflows(page), false, 'the profile fits a phone');
  await page.setViewportSize(LAPTOP);

  // The object's page, and from its people back to a profile.
  await relationships.first().getByRole('link', { name: 'acme' }).click();
  await page.getByRole('heading', { name: 'acme', level: 1 }).waitFor();
  const object = await page.locator('main').innerText();
  assert.ok(object.includes("<script>alert('x')</script>"), 'the attribute shows as text');
  assert.ok(object.includes('Relationship attributes'));
  assert.equal(await page.locator('main script, main img').count(), 0, 'no element came from tracked data');
  await shoot(page, shots, 'object');
  await page.setViewportSize(PHONE);
  assert.equal(await overflows(page), false, 'the object page fits a phone');
  await page.setViewportSize(LAPTOP);
  await page.getByRole('link', { name: 'bob' }).click();
  await page.getByRole('heading', { name: 'bob', level: 1 }).waitFor();
  assert.equal(await page.locator('.relations > li').count(), 1);

  // The course's id holds a slash, a space and a plus, and still opens its page.
  await page.goBack();
  await page.goBack();
  await page.getByRole('link', { name: 'intro/1 a+b' }).click();
  await page.getByRole('heading', { name: 'intro/1 a+b', level: 1 }).waitFor();

  // A campaign started by objects: the editor's object trigger, its type, its change and an
  // object attribute filter, each field found by its label.
  await page.goto(`${h.herald}/ui/w/${workspace}/campaigns`);
  await page.getByRole('link', { name: 'New campaign' }).first().click();
  await page.getByRole('heading', { name: 'New campaign' }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill('Enterprise accounts');
  await page.getByLabel('Starts when').selectOption('object');
  await page.getByLabel('Object type').waitFor();
  await page.getByLabel('Object type').fill('1');
  await page.getByLabel('When', { exact: true }).selectOption('updated');
  await page.getByRole('button', { name: '+ Object attribute filter' }).click();
  const filter = page.getByRole('group', { name: 'Object attribute filter 1' });
  await filter.waitFor();
  await filter.getByLabel('Object attribute', { exact: true }).fill('plan');
  await shoot(page, shots, 'campaign-editor-object');
  await page.setViewportSize(PHONE);
  assert.equal(await overflows(page), false, 'the editor fits a phone');
  await page.setViewportSize(LAPTOP);
  assert.deepEqual(dialogs, [], 'no tracked value ran as script');
}
