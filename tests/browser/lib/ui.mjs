// What the web UI scenarios share: screenshots at the two widths every page is judged at, and
// signing in.
export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

// Saves `<dir>/<name>-laptop.png` and `<dir>/<name>-phone.png` (whole pages), then goes back
// to the laptop width.
export async function shoot(page, dir, name) {
  for (const [size, viewport] of [['laptop', LAPTOP], ['phone', PHONE]]) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: `${dir}/${name}-${size}.png`, fullPage: true });
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
