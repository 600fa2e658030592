// A notebook's files in the browser: upload, list, download, rename, delete;
// and a file source whose fetch the editor watches until it is final.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServerAndBrowser, newContext, openPage, screenshot, createNotebook, gql } from './harness.js';

const { server, browser } = await startServerAndBrowser();

const CSV = 'city,people\nLyon,522250\nNantes,320732\n';

test('uploads, downloads, renames and deletes a file', async () => {
  const context = await newContext(browser, server, { username: 'kim' });
  const { id } = await createNotebook(context, 'With files', '%% md\nfiles');
  const page = await openPage(context, `/notebooks/${id}/`);
  await page.getByTestId('file-list').getByText('No files yet.').waitFor();

  await page.getByTestId('file-upload').setInputFiles({ name: 'cities.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
  const row = page.locator('[data-testid="file-row"][data-filename="cities.csv"]');
  await row.waitFor();
  assert.match(await row.innerText(), new RegExp(`cities\\.csv\\s+${Buffer.byteLength(CSV)} B`));

  const [download] = await Promise.all([page.waitForEvent('download'), row.getByTestId('file-download').click()]);
  assert.equal(download.suggestedFilename(), 'cities.csv');
  assert.equal(await readFile(await download.path(), 'utf8'), CSV);

  // The same name again replaces the bytes.
  await page.getByTestId('file-upload').setInputFiles({ name: 'cities.csv', mimeType: 'text/csv', buffer: Buffer.from(`${CSV}Paris,2102650\n`) });
  await page.getByText('cities.csv replaced.').waitFor();
  const raw = await context.request.get(`/notebooks/${id}/files/cities.csv`);
  assert.match(await raw.text(), /Paris/);
  await screenshot(page, 'notebook-files');

  await row.getByTestId('file-rename').click();
  await page.getByTestId('dialog-input').fill('towns.csv');
  await page.getByTestId('dialog-confirm').click();
  const renamed = page.locator('[data-testid="file-row"][data-filename="towns.csv"]');
  await renamed.waitFor();
  assert.equal((await context.request.get(`/notebooks/${id}/files/cities.csv`)).status(), 404);
  assert.equal((await context.request.get(`/notebooks/${id}/files/towns.csv`)).status(), 200);

  await renamed.getByTestId('file-delete').click();
  await page.getByTestId('dialog-confirm').click();
  await page.getByTestId('file-list').getByText('No files yet.').waitFor();
  const data = await gql(context, 'query($id: ID!) { notebook(id: $id) { files { id } } }', { id });
  assert.equal(data.notebook.files.length, 0);
  await context.close();
});

test('adds a file source and watches its fetch until it is final', async () => {
  const context = await newContext(browser, server, { username: 'leo', pollMs: 150 });
  const { id } = await createNotebook(context, 'With a source', '%% md\nsources');
  const page = await openPage(context, `/notebooks/${id}/`);
  let polls = 0;
  page.on('request', (request) => {
    if (request.postData()?.includes('fileUpdateOperation(id')) polls += 1;
  });

  // The worker inside the server really fetches: here from this same server
  // (its eval-frame page), which the harness allows as a file source.
  const addSource = async (filename, url) => {
    await page.getByTestId('source-filename').fill(filename);
    await page.getByTestId('source-url').fill(url);
    await page.getByTestId('source-interval').selectOption(filename === 'remote.html' ? 'DAILY' : '');
    await page.getByTestId('source-add').click();
    return page.locator(`[data-testid="source-row"][data-filename="${filename}"]`);
  };
  const remote = await addSource('remote.html', `${server.evalOrigin}/eval-frame/`);
  assert.match(await remote.innerText(), /daily/);
  await remote.getByTestId('source-refresh').click();
  await remote.locator('[data-status="COMPLETED"]').waitFor();
  await page.getByText('remote.html was fetched.').waitFor();
  await screenshot(page, 'notebook-file-source');
  const pollsAtEnd = polls;
  await page.waitForTimeout(500);
  assert.equal(polls, pollsAtEnd, 'polling stops at a final state');

  const data = await gql(context, `query($id: ID!) { notebook(id: $id) {
    files { filename }
    fileSources { filename updateInterval latestUpdateOperation { status } } } }`, { id });
  assert.deepEqual(data.notebook.files, [{ filename: 'remote.html' }]);
  assert.deepEqual(data.notebook.fileSources, [{ filename: 'remote.html', updateInterval: 'DAILY', latestUpdateOperation: { status: 'COMPLETED' } }]);

  // A failed fetch shows the reason the worker gave.
  const missing = await addSource('missing.csv', `${server.evalOrigin}/eval-frame/missing.csv`);
  await missing.getByTestId('source-refresh').click();
  await missing.locator('[data-status="FAILED"]').waitFor();
  await page.getByText(/Fetching missing.csv failed: The server answered 404/).waitFor();
  await context.close();
});
