// What the web UI scenarios share: screenshots at the two widths every page is judged at, and
// signing in.
export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

// Saves `<dir>/<name>-laptop.png` and `<dir>/<name>-phone.png` (whole pages), then goes back
// to the laptop width. The viewport is made as tall as the page rather than taking Playwright's
// full-page shot: that one stretched the page for the capture only, and a sandboxed iframe (the
// email preview, drawn by a process of its own) came out blank when its width had just changed,
// though it showed at once in the viewport.
export async function shoot(page, dir, name) {
  for (const [size, viewport] of [['laptop', LAPTOP], ['phone', PHONE]]) {
    await page.setViewportSize(viewport);
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: viewport.width, height: Math.max(height, viewport.height) });
    await page.screenshot({ path: `${dir}/${name}-${size}.png` });
  }
  await page.setViewportSize(LAPTOP);
}

// Signs in through the form, as a person would, and waits for the workspaces.
export async function signIn(h, page, email, password) {
  await page.goto(h.herald + '/ui/sign-in');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
}
