// A notebook's files in the browser: upload, list, download, rename, delete;
// and a file source whose fetch the editor watches until it is final.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer, launchBrowser, newContext, openPage, screenshot, createNotebook, gql } from './harness.js';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

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

  // No worker runs in this test server, so the fetch stays PENDING on the
  // server; after a few polls the test answers for the worker: COMPLETED.
  let polls = 0;
  await page.route('**/api/graphql', async (route) => {
    const body = route.request().postDataJSON();
    if (!body?.query?.includes('fileUpdateOperation(id')) return route.continue();
    polls += 1;
    const response = await route.fetch();
    const json = await response.json();
    if (polls >= 3 && json.data?.fileUpdateOperation) {
      Object.assign(json.data.fileUpdateOperation, { status: 'COMPLETED', startedAt: new Date().toISOString(), endedAt: new Date().toISOString() });
    }
    return route.fulfill({ response, json });
  });

  await page.getByTestId('source-filename').fill('remote.csv');
  await page.getByTestId('source-url').fill('https://data.example.org/remote.csv');
  await page.getByTestId('source-interval').selectOption('DAILY');
  await page.getByTestId('source-add').click();
  const row = page.locator('[data-testid="source-row"][data-filename="remote.csv"]');
  await row.locator('[data-status="PENDING"]').waitFor();
  assert.match(await row.innerText(), /daily/);
  await screenshot(page, 'notebook-file-source');
  await row.locator('[data-status="COMPLETED"]').waitFor();
  await page.getByText('remote.csv was fetched.').waitFor();
  const pollsAtEnd = polls;
  await page.waitForTimeout(500);
  assert.equal(polls, pollsAtEnd, 'polling stops at a final state');

  const data = await gql(context, `query($id: ID!) { notebook(id: $id) {
    fileSources { filename updateInterval latestUpdateOperation { status } } } }`, { id });
  assert.deepEqual(data.notebook.fileSources, [{ filename: 'remote.csv', updateInterval: 'DAILY', latestUpdateOperation: { status: 'PENDING' } }]);

  // A failed fetch shows the reason.
  await page.unroute('**/api/graphql');
  await page.route('**/api/graphql', async (route) => {
    const body = route.request().postDataJSON();
    if (!body?.query?.includes('fileUpdateOperation(id')) return route.continue();
    const response = await route.fetch();
    const json = await response.json();
    Object.assign(json.data.fileUpdateOperation, { status: 'FAILED', failureReason: 'The server answered 404' });
    return route.fulfill({ response, json });
  });
  await row.getByTestId('source-refresh').click();
  await row.locator('[data-status="FAILED"]').waitFor();
  await page.getByText('Fetching remote.csv failed: The server answered 404').waitFor();
  await context.close();
});
