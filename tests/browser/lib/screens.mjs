// Screenshots of the web UI's pages at the two widths every page is judged at.
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
