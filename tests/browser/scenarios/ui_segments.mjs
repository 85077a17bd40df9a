// Segments in the web UI, in real Chromium: the list with each segment's size, a segment's page
// with its size chart (and the sentence for those who cannot see it) and members, and the person
// lookup explaining one member and one non-member condition by condition; a manual segment made
// from the list and filled from a pasted list and an uploaded file. Screenshots go to
// HERALD_TEST_SCREENSHOTS.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { env } from '../lib/harness.mjs';
import { LAPTOP, shoot, signIn } from '../lib/ui.mjs';

export async function run(h) {
  const email = env('HERALD_TEST_UI_EMAIL');
  const password = env('HERALD_TEST_UI_PASSWORD');
  const workspace = env('HERALD_TEST_WORKSPACE_ID');
  const shots = env('HERALD_TEST_SCREENSHOTS');
  mkdirSync(shots, { recursive: true });
  const page = await h.newPage();
  await page.setViewportSize(LAPTOP);
  await signIn(h, page, email, password);

  await page.goto(`${h.herald}/ui/w/${workspace}`);
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Segments' }).click();
  await page.getByRole('heading', { name: 'Segments' }).waitFor();
  await shoot(page, shots, 'segments');
  await page.getByRole('link', { name: 'Repeat buyers' }).click();
  await page.getByRole('heading', { name: /Repeat buyers/ }).waitFor();

  // The chart is an image with a sentence; the members link to their profiles.
  const chart = page.getByRole('img', { name: /now/ });
  assert.match(await chart.getAttribute('aria-label'), /^1 person now/);
  assert.ok(await page.getByRole('link', { name: 'ann' }).isVisible());
  await shoot(page, shots, 'segment');

  await page.getByLabel('Person (id or email)').fill('bob');
  await page.getByRole('button', { name: 'Explain' }).click();
  await page.getByText('is not in this segment').waitFor();
  await page.getByLabel('Person (id or email)').fill('ann@example.com');
  await page.getByRole('button', { name: 'Explain' }).click();
  await page.getByText('is in this segment').waitFor();
  const lines = await page.locator('.explain-lines li').allInnerTexts();
  assert.ok(lines.some((line) => /^YES\s+Did “purchased” at least 2 times: 2 matching events/i.test(line)), JSON.stringify(lines));
  await shoot(page, shots, 'segment-explain');

  // A manual segment: created from the list, filled from a pasted list and an uploaded file.
  await page.getByRole('link', { name: 'Segments' }).first().click();
  await page.locator('summary', { hasText: 'New manual segment' }).click();
  await page.getByLabel('Name').fill('Beta testers');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'Beta testers' }).waitFor();
  await page.getByLabel('Ids or emails').fill('ann\nghost');
  await page.getByLabel('Or a file').setInputFiles({
    name: 'testers.csv', mimeType: 'text/csv', buffer: Buffer.from('email\nbob@example.com\n'),
  });
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  const report = page.getByRole('status');
  await report.waitFor();
  assert.match(await report.innerText(), /Added 2 people\. 1 matched nobody:\s+ghost/);
  await shoot(page, shots, 'segment-manual');
}
