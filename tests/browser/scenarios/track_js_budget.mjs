// track.js stays small: a budget in bytes, gzipped as a CDN or proxy would serve it.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';

const GZIP_BUDGET_BYTES = 4096;

export async function run(h) {
  const response = await fetch(h.herald + '/assets/track.js');
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/javascript; charset=utf-8');
  const body = Buffer.from(await response.arrayBuffer());
  const gzipped = gzipSync(body, { level: 9 }).length;
  console.log(`track.js: ${body.length} bytes, ${gzipped} bytes gzipped (budget ${GZIP_BUDGET_BYTES})`);
  assert.ok(gzipped <= GZIP_BUDGET_BYTES, `track.js is ${gzipped} bytes gzipped, over the budget of ${GZIP_BUDGET_BYTES}`);
  // The script must not need what a strict Content-Security-Policy forbids.
  const source = body.toString('utf8');
  for (const forbidden of ['eval(', 'new Function', '.style', 'innerHTML', 'setAttribute(\'style']) {
    assert.ok(!source.includes(forbidden), `track.js uses ${forbidden}`);
  }
}
