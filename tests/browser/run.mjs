// Runs one browser scenario against the Herald named by HERALD_TEST_BASE_URL:
// `node run.mjs SCENARIO`. crates/herald/tests/it/browser_chromium.rs starts Herald and runs
// each scenario; a missing Chromium or playwright-core is a failure, never a skip.
import { setUp } from './lib/harness.mjs';

const name = process.argv[2];
if (!name || !/^[a-z_]+$/.test(name)) {
  console.error('usage: node run.mjs SCENARIO (a file name in scenarios/, without .mjs)');
  process.exit(2);
}
const { run } = await import(`./scenarios/${name}.mjs`);
const h = await setUp();
try {
  await run(h);
  h.assertClean();
  console.log(`scenario ${name} passed`);
} catch (error) {
  console.error(`scenario ${name} failed: ${error.stack || error}`);
  if (h.problems.length) console.error(`console:\n${h.problems.join('\n')}`);
  process.exitCode = 1;
} finally {
  await h.tearDown();
}
