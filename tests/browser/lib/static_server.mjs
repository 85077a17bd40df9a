// A small static server for the demo pages, on its own port (so its origin differs from
// Herald's and CORS is real). Every page is served with a strict Content-Security-Policy whose
// violation reports come back here, so a test can assert there were none.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';

const PAGES = new URL('../pages/', import.meta.url);

export async function startStaticServer({ herald, siteId, snippetHtml }) {
  const cspReports = [];
  const server = http.createServer(async (request, response) => {
    const url = new URL(request.url, 'http://localhost');
    if (request.method === 'POST' && url.pathname === '/csp-report') {
      let body = '';
      for await (const chunk of request) body += chunk;
      cspReports.push(body);
      response.writeHead(204).end();
      return;
    }
    if (url.pathname === '/favicon.ico') {
      response.writeHead(204).end();
      return;
    }
    const match = /^\/(strict|classic)\.html$/.exec(url.pathname);
    if (!match) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const nonce = randomBytes(12).toString('base64');
    const autoPage = url.searchParams.get('auto') === 'false' ? 'false' : 'true';
    const snippet = snippetHtml
      .replace('<script type="text/javascript">', `<script type="text/javascript" nonce="${nonce}">`)
      .replace("'data-auto-track-page', 'true'", `'data-auto-track-page', '${autoPage}'`);
    const template = await readFile(new URL(`${match[1]}.html`, PAGES), 'utf8');
    const html = template
      .replaceAll('{{HERALD}}', herald)
      .replaceAll('{{SITE_ID}}', siteId)
      .replaceAll('{{AUTO_PAGE}}', autoPage)
      .replace('{{SNIPPET}}', snippet);
    const scripts = match[1] === 'classic' ? `'nonce-${nonce}' ${herald}` : herald;
    const csp = [
      "default-src 'none'",
      `script-src ${scripts}`,
      `connect-src ${herald}`,
      "style-src 'none'",
      "img-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
      'report-uri /csp-report',
    ].join('; ');
    response.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': csp,
      'cache-control': 'no-store',
    });
    response.end(html);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  // `localhost` rather than 127.0.0.1: another host as well as another port than Herald's.
  const origin = `http://localhost:${server.address().port}`;
  return {
    origin,
    cspReports,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
