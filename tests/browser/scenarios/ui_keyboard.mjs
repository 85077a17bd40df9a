// The web UI with the keyboard alone, in real Chromium: no click and no fill. Sign-in starts in
// Email; on the other pages Tab reaches the skip link first; Enter signs in, follows links and
// opens the Options menu and the Send Event dialog; the person is picked with the arrow keys;
// the events arrive through the App API. Every step checks where the focus is, so a control that Tab
// cannot reach, or that Enter does not work, fails the test.
import assert from 'node:assert/strict';
import { env } from '../lib/harness.mjs';
import { LAPTOP } from '../lib/ui.mjs';

// What the focused element is, in words: its label's text, else its own text.
async function focused(page) {
  return page.evaluate(() => {
    const element = document.activeElement;
    if (!element || element === document.body) return '';
    const label = element.labels && element.labels[0] ? element.labels[0].textContent : '';
    return (label || element.getAttribute('aria-label') || element.textContent || '').trim();
  });
}

// Presses Tab until the focus is on what `wanted` matches; fails after `most` presses.
async function tabTo(page, wanted, most = 60) {
  const seen = [];
  for (let press = 0; press < most; press += 1) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    seen.push(now);
    if (wanted.test(now)) return;
  }
  assert.fail(`Tab never reached ${wanted}; it went through: ${JSON.stringify(seen)}`);
}

export async function run(h) {
  const email = env('HERALD_TEST_UI_EMAIL');
  const password = env('HERALD_TEST_UI_PASSWORD');
  const page = await h.newPage();
  await page.setViewportSize(LAPTOP);

  await page.goto(h.herald + '/ui/sign-in');
  // Chromium applies `autofocus` at a rendering step after the load event, which a busy
  // machine can put after `goto` returns: wait for the focus to land before checking where.
  await page
    .waitForFunction(() => document.activeElement && document.activeElement !== document.body, null, {
      timeout: 10_000,
    })
    .catch(() => {});
  assert.equal(await focused(page), 'Email', 'the sign-in form starts in Email');
  await page.keyboard.type(email);
  await tabTo(page, /^Password$/);
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'Skip to content', 'the first Tab reaches the skip link');

  await tabTo(page, /^test$/);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/ui\/w\/\d+$/);
  await tabTo(page, /^People$/);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'People' }).waitFor();
  await tabTo(page, /^ann$/);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'ann' }).waitFor();

  // Options → Send Event, both disclosure widgets opened with Enter.
  await tabTo(page, /^Options$/);
  await page.keyboard.press('Enter');
  await tabTo(page, /^Send Event$/);
  await page.keyboard.press('Enter');
  await tabTo(page, /^Event name$/);
  await page.keyboard.type('keyboard_only');
  await tabTo(page, /^Event data$/);
  await page.keyboard.type('{"via": "keys"}');
  await tabTo(page, /^Send event$/);
  await page.keyboard.press('Enter');
  await page.getByRole('status').waitFor();
  await h.waitFor('the event through the App API', async () =>
    (await h.customerActivities('ann')).some((a) => a.name === 'keyboard_only' && a.data.via === 'keys'));

  // The Data Index's Send Event: the person picked by typing and the arrow keys.
  await tabTo(page, /^Data Index$/);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Data Index' }).waitFor();
  await tabTo(page, /keyboard_only/);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Recent Activity' }).waitFor();
  await tabTo(page, /^Send Event$/);
  await page.keyboard.press('Enter');
  await tabTo(page, /^Person$/);
  await page.keyboard.type('ann', { delay: 30 });
  await page.locator('#send-person-picks [role=option]').first().waitFor();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await h.waitFor('the person chosen', async () => /Chosen: /.test(await page.locator('[data-picked-label]').innerText()));
  await tabTo(page, /^Send event$/);
  await page.keyboard.press('Enter');
  await page.getByRole('status').waitFor();
  await h.waitFor('the second event through the App API', async () =>
    (await h.customerActivities('ann')).filter((a) => a.name === 'keyboard_only').length === 2);
}
