// Running cells in the eval frame, and proof that notebook code there is cut
// off from the editor: no cookie, no parent.document, no /api/graphql as the user.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startServerAndBrowser, newContext, openPage, screenshot, createNotebook, outputOf } from './harness.js';

const { server, browser } = await startServerAndBrowser();

/** Opens a new notebook with `content` and runs all its cells. */
async function runNotebook(context, content) {
  const { id } = await createNotebook(context, 'Cells', content);
  const page = await openPage(context, `/notebooks/${id}/`);
  await page.getByTestId('run-all').click();
  return page;
}


test('runs JavaScript cells in the eval frame and shows their output', async () => {
  const context = await newContext(browser, server, { username: 'ivy' });
  const page = await runNotebook(context, [
    '%% md', '# Sums', '%% js', 'var total = 40;', 'console.log("adding");', 'total + 2',
    '%% js', 'total * 2', '%% js', 'throw new TypeError("broken on purpose")',
    '%% js', 'document.body.append("drawn by the notebook"); "ok"',
  ].join('\n'));
  assert.equal(await outputOf(page, 1), 'adding\n42');
  assert.equal(await outputOf(page, 2), '80');
  assert.equal(await outputOf(page, 3), 'TypeError: broken on purpose');
  assert.equal(await outputOf(page, 4), 'ok');

  const frame = page.frameLocator('#eval-frame');
  await frame.getByText('drawn by the notebook').waitFor();
  const iframe = page.locator('#eval-frame');
  assert.equal(await iframe.getAttribute('sandbox'), 'allow-scripts allow-same-origin');
  assert.ok((await iframe.getAttribute('src')).startsWith(`${server.evalOrigin}/eval-frame/`));

  // Shift+Enter in the text runs the cell under the cursor.
  const content = page.getByTestId('content');
  await content.click();
  await content.press('Control+End');
  await content.type('\n%% js\n"typed " + total');
  await content.press('Shift+Enter');
  assert.equal(await outputOf(page, 5), 'typed 40');
  await screenshot(page, 'notebook-run');
  await context.close();
});

const HOSTILE_CELL = (editorOrigin) => `
%% js
(async () => {
  const report = { origin: self.origin };
  try { report.cookie = document.cookie; } catch (e) { report.cookie = 'blocked: ' + e.name; }
  try { report.parentDocument = String(parent.document.cookie); } catch (e) { report.parentDocument = 'blocked: ' + e.name; }
  try { report.topLocation = String(top.location.href); } catch (e) { report.topLocation = 'blocked: ' + e.name; }
  try {
    const response = await fetch('${editorOrigin}/api/graphql', {
      method: 'POST', credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer { username } }' }),
    });
    report.graphql = await response.text();
  } catch (e) { report.graphql = 'failed: ' + e.name; }
  try {
    const response = await fetch('/api/graphql', { method: 'POST', credentials: 'include',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query: '{ viewer { username } }' }) });
    report.sameOriginGraphql = response.status + ' ' + await response.text();
  } catch (e) { report.sameOriginGraphql = 'failed: ' + e.name; }
  try {
    const response = await fetch('${editorOrigin}/userinfo/', { credentials: 'include' });
    report.userinfo = await response.text();
  } catch (e) { report.userinfo = 'failed: ' + e.name; }
  return JSON.stringify(report);
})()
`;

/** Runs the hostile cell and returns what it managed to learn. */
async function hostileReport(context, origin) {
  const page = await runNotebook(context, HOSTILE_CELL(origin));
  const output = page.getByTestId('output-0');
  await output.locator('.output-value').waitFor({ timeout: 15_000 });
  return { page, report: JSON.parse(await output.locator('.output-value').innerText()) };
}

test('code in the eval frame cannot read the cookie or act as the user', async () => {
  const context = await newContext(browser, server, { username: 'mallory-victim' });
  const cookies = await context.cookies(server.origin);
  assert.ok(cookies.some((c) => c.name === 'iodide_session'), 'the editor has a session to steal');

  const { page, report } = await hostileReport(context, server.origin);
  assert.equal(report.origin, server.evalOrigin);
  assert.ok(!report.cookie.includes('iodide_session'), report.cookie);
  assert.match(report.parentDocument, /^blocked: SecurityError/);
  assert.match(report.topLocation, /^blocked: SecurityError/);
  // Cross-origin and not on the CORS allow-list: the browser refuses the answer.
  assert.equal(report.graphql, 'failed: TypeError');
  assert.equal(report.userinfo, 'failed: TypeError');
  // Its own origin serves only the eval frame.
  assert.match(report.sameOriginGraphql, /^403 /);
  assert.doesNotMatch(JSON.stringify(report), /mallory-victim/);
  await screenshot(page, 'notebook-hostile');
  await context.close();
});

test('a forged message to the eval frame from another window is ignored', async () => {
  const context = await newContext(browser, server, { username: 'judy' });
  const page = await runNotebook(context, '%% js\nwindow.ran = (window.ran || 0) + 1');
  assert.equal(await outputOf(page, 0), '1');
  // A page that is not the editor (here the raw eval frame opened on its own)
  // is told it only works inside the editor and accepts no code.
  const alone = await context.newPage();
  await alone.goto(`${server.evalOrigin}/eval-frame/?editor=${encodeURIComponent(server.origin)}`);
  assert.match(await alone.locator('body').innerText(), /only works inside the Iodide editor/);
  // The editor's frame runs only what the editor sends: a message posted to it
  // by the frame's own code (origin: the eval origin) is not from the editor.
  const forged = page.frameLocator('#eval-frame').locator('body');
  await forged.evaluate(() => window.postMessage({ type: 'run', id: 'x', code: 'window.ran += 100' }, '*'));
  await page.getByTestId('run-cell-0').click();
  await page.waitForTimeout(200);
  assert.equal(await outputOf(page, 0), '2');
  await context.close();
});

test('without a separate eval origin the frame runs in an opaque origin', async () => {
  const sameOrigin = await startServer({ separateEvalOrigin: false });
  try {
    const context = await newContext(browser, sameOrigin, { username: 'oscar' });
    const page = await runNotebook(context, '%% js\n6 * 7');
    assert.equal(await outputOf(page, 0), '42');
    assert.equal(await page.locator('#eval-frame').getAttribute('sandbox'), 'allow-scripts');

    const { report } = await hostileReport(context, sameOrigin.origin);
    assert.equal(report.origin, 'null');
    assert.equal(report.cookie, 'blocked: SecurityError');
    assert.match(report.parentDocument, /^blocked: SecurityError/);
    assert.equal(report.graphql, 'failed: TypeError');
    assert.doesNotMatch(JSON.stringify(report), /oscar/);
    await context.close();
  } finally {
    await sameOrigin.stop();
  }
});
