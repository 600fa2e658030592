// Live updates over the WebSocket: two editors on one notebook (a newer
// revision, files, deletion), catching up after a drop, a file source's fetch
// followed without polling (and polled when WebSockets are blocked), and
// subscriptions in GraphiQL.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startServerAndBrowser, newContext, openPage, createNotebook, latestRevision, gql, uploadFile, screenshot,
} from './harness.js';

const { server, browser } = await startServerAndBrowser();

const LONG = 3_600_000;

async function typeContent(page, text) {
  await page.bringToFront();
  const content = page.getByTestId('content');
  await content.click();
  await content.press('Control+A');
  await content.fill(text);
}

/** Waits until `condition()` holds, checking every 50 ms, for 15 s at most (by default). */
async function until(condition, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** An editor page whose subscriptions have been sent. */
async function openLive(context, pathname) {
  const page = await openPage(context, pathname);
  await page.waitForSelector('html[data-live="open"]', { timeout: 15_000 });
  return page;
}

test('a save in another editor shows a notice there, and Load it continues from that revision', async () => {
  const context = await newContext(browser, server, { username: 'lena', autosaveMs: LONG });
  const { id } = await createNotebook(context, 'Live', '%% md\noriginal');
  const tabA = await openLive(context, `/notebooks/${id}/`);
  const tabB = await openLive(context, `/notebooks/${id}/`);

  await typeContent(tabA, '%% md\nsaved in A');
  await tabA.getByTestId('save').click();
  await tabA.waitForSelector('[data-testid="save-status"][data-state="saved"]');

  const notice = tabB.getByTestId('newer-revision');
  await notice.waitFor({ timeout: 15_000 });
  assert.match(await notice.innerText(), /A newer revision was saved elsewhere/);
  await screenshot(tabB, 'notebook-newer-revision');
  // The editor that saved it hears its own save too, and says nothing.
  assert.equal(await tabA.getByTestId('newer-revision').count(), 0);

  await notice.getByTestId('newer-revision-load').click();
  assert.equal(await tabB.getByTestId('content').inputValue(), '%% md\nsaved in A');
  assert.equal(await tabB.getByTestId('newer-revision').count(), 0);
  // B now saves on top of A's revision: no conflict.
  await typeContent(tabB, '%% md\nB on top of A');
  await tabB.getByTestId('save').click();
  await tabB.waitForSelector('[data-testid="save-status"][data-state="saved"]');
  assert.equal((await latestRevision(context, id)).content, '%% md\nB on top of A');

  // Keep editing dismisses the notice; the next save is a conflict, as before.
  await tabA.getByTestId('newer-revision').waitFor({ timeout: 15_000 });
  await tabA.getByTestId('newer-revision-dismiss').click();
  assert.equal(await tabA.getByTestId('newer-revision').count(), 0);
  await typeContent(tabA, '%% md\nA kept editing');
  await tabA.getByTestId('save').click();
  await tabA.getByTestId('conflict').waitFor();
  assert.equal((await latestRevision(context, id)).content, '%% md\nB on top of A');
  await context.close();
});

test('files changed elsewhere show in the panel, and a deletion elsewhere is told', async () => {
  const context = await newContext(browser, server, { username: 'milo', autosaveMs: LONG });
  const { id } = await createNotebook(context, 'Watched', '%% md\nwatched');
  const page = await openLive(context, `/notebooks/${id}/`);
  await page.getByTestId('file-list').getByText('No files yet.').waitFor();

  await uploadFile(context, id, 'elsewhere.csv', 'a,b\n1,2\n');
  await page.locator('[data-testid="file-row"][data-filename="elsewhere.csv"]').waitFor({ timeout: 15_000 });

  await typeContent(page, '%% md\nnot saved yet');
  await gql(context, 'mutation($id: ID!) { deleteNotebook(id: $id) }', { id });
  const deleted = page.getByTestId('notebook-deleted');
  await deleted.waitFor({ timeout: 15_000 });
  assert.equal(await page.getByTestId('save-status').getAttribute('data-state'), 'deleted');
  assert.equal(await page.getByTestId('content').inputValue(), '%% md\nnot saved yet');
  await screenshot(page, 'notebook-deleted-elsewhere');

  await Promise.all([page.waitForURL((url) => !url.pathname.endsWith(`/notebooks/${id}/`)), deleted.getByTestId('save-as-new').click()]);
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.getByTestId('content').inputValue(), '%% md\nnot saved yet');
  await context.close();
});

test('file sources added, renamed and removed elsewhere show in the panel', async () => {
  const context = await newContext(browser, server, { username: 'sasha', autosaveMs: LONG });
  const { id } = await createNotebook(context, 'Sourced', '%% md\nsourced');
  const page = await openLive(context, `/notebooks/${id}/`);
  await page.getByText('No file sources.').waitFor();

  const created = await gql(context,
    'mutation($input: CreateFileSourceInput!) { createFileSource(input: $input) { id } }',
    { input: { notebookId: id, filename: 'remote.csv', url: 'https://example.org/remote.csv' } });
  const sourceId = created.createFileSource.id;
  const row = (filename) => page.locator(`[data-testid="source-row"][data-filename="${filename}"]`);
  await row('remote.csv').waitFor({ timeout: 15_000 });

  await gql(context,
    'mutation($input: UpdateFileSourceInput!) { updateFileSource(input: $input) { id } }',
    { input: { id: sourceId, filename: 'renamed.csv' } });
  await row('renamed.csv').waitFor({ timeout: 15_000 });
  assert.equal(await row('remote.csv').count(), 0);

  await gql(context, 'mutation($id: ID!) { deleteFileSource(id: $id) }', { id: sourceId });
  await page.getByText('No file sources.').waitFor({ timeout: 15_000 });
  await context.close();
});

test('after a drop the editor reconnects and reads what it missed', async () => {
  const context = await newContext(browser, server, { username: 'quinn', autosaveMs: LONG });
  // Passes WebSockets through to the server while `accepting`, else refuses them.
  let accepting = true;
  const open = [];
  await context.routeWebSocket(/\/api\/graphql/, (socket) => {
    if (!accepting) {
      socket.close({ code: 1011, reason: 'refused' });
      return;
    }
    socket.connectToServer();
    open.push(socket);
  });
  const { id, latestRevision: first } = await createNotebook(context, 'Dropped', '%% md\nbefore');
  const page = await openLive(context, `/notebooks/${id}/`);

  accepting = false;
  await Promise.all(open.splice(0).map((socket) => socket.close()));
  await page.waitForSelector('html[data-live="down"]');
  // Saved while this editor hears nothing.
  await gql(context, 'mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id } }',
    { input: { notebookId: id, title: 'Dropped', content: '%% md\nsaved during the drop', parentRevisionId: first.id } });
  accepting = true;

  await page.getByTestId('newer-revision').waitFor({ timeout: 20_000 });
  assert.equal(await page.evaluate(() => document.documentElement.dataset.live), 'open');
  await page.getByTestId('newer-revision-load').click();
  assert.equal(await page.getByTestId('content').inputValue(), '%% md\nsaved during the drop');
  await context.close();
});

/** A file source's origin that answers only when told to, so that a fetch stays running as long as a test needs. */
async function heldSource() {
  const waiting = [];
  let released = false;
  let requests = 0;
  const answer = (response) => response.end('held,data\n1,2\n');
  const origin = http.createServer((request, response) => {
    requests += 1;
    if (released) answer(response);
    else waiting.push(() => answer(response));
  });
  await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${origin.address().port}/data.csv`,
    requests: () => requests,
    release: () => {
      released = true;
      waiting.splice(0).forEach((send) => send());
    },
    close() {
      this.release();
      return new Promise((resolve) => { origin.closeAllConnections(); origin.close(resolve); });
    },
  };
}

/**
 * Adds a file source and starts a fetch that `source` holds until released;
 * counts the page's requests for the fetch's status.
 */
async function fetchHeld(page, source) {
  let statusReads = 0;
  page.on('requestfinished', async (request) => {
    if (!request.postData()?.includes('"operationName":"FileUpdateOperation"')) return;
    // A persisted query's first try at a hash the server does not know yet is
    // sent again with its text: one read.
    const answer = await (await request.response())?.text().catch(() => '');
    if (!answer?.includes('PERSISTED_QUERY_NOT_FOUND')) statusReads += 1;
  });
  await page.getByTestId('source-filename').fill('held.csv');
  await page.getByTestId('source-url').fill(source.url);
  await page.getByTestId('source-add').click();
  await until(() => source.requests() > 0, 'the worker fetches the source');
  const row = page.locator('[data-testid="source-row"][data-filename="held.csv"]');
  return { row, statusReads: () => statusReads };
}

test('a fetch is followed over the WebSocket, without polling', async () => {
  const source = await heldSource();
  const context = await newContext(browser, server, { username: 'nora', pollMs: 100 });
  try {
    const { id } = await createNotebook(context, 'Followed fetch', '%% md\nfetch');
    const sent = [];
    context.on('page', (opened) => opened.on('websocket', (socket) => socket.on('framesent', ({ payload }) => sent.push(String(payload)))));
    const page = await openPage(context, `/notebooks/${id}/`);
    await page.waitForSelector('html[data-live="open"]', { timeout: 15_000 });

    const fetch = await fetchHeld(page, source);
    // Long enough for a poll every 100 ms to show many times over.
    await page.waitForTimeout(1500);
    const whileRunning = fetch.statusReads();
    source.release();
    await fetch.row.locator('[data-status="COMPLETED"]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="file-row"][data-filename="held.csv"]').waitFor();

    assert.ok(sent.some((frame) => frame.includes('"subscribe"') && frame.includes('fileUpdateOperationChanged')));
    // One read right after subscribing (a fetch may end before the server
    // follows it); no polls.
    assert.ok(whileRunning <= 1, `${whileRunning} status requests while the socket was up`);
    assert.ok(fetch.statusReads() <= 1, `${fetch.statusReads()} status requests in all`);
    assert.equal(await page.evaluate(() => document.documentElement.dataset.live), 'open');
  } finally {
    await context.close();
    await source.close();
  }
});

test('a fetch is polled when WebSockets are blocked', async () => {
  const source = await heldSource();
  const context = await newContext(browser, server, { username: 'omar', pollMs: 100 });
  try {
    // As a proxy that refuses upgrades: every WebSocket closes at once.
    await context.routeWebSocket(/\/api\/graphql/, (socket) => socket.close({ code: 1011, reason: 'blocked' }));
    const { id } = await createNotebook(context, 'Polled fetch', '%% md\nfetch');
    const page = await openPage(context, `/notebooks/${id}/`);
    await page.waitForSelector('html[data-live="down"]', { timeout: 15_000 });

    const fetch = await fetchHeld(page, source);
    await until(() => fetch.statusReads() >= 2, 'the page polls the fetch');
    source.release();
    await fetch.row.locator('[data-status="COMPLETED"]').waitFor({ timeout: 15_000 });
    await page.getByText('held.csv was fetched.').waitFor();
  } finally {
    await context.close();
    await source.close();
  }
});

test('GraphiQL runs a subscription over the WebSocket', async () => {
  const context = await newContext(browser, server, { username: 'pia' });
  const { id } = await createNotebook(context, 'Seen in GraphiQL', '%% md\none');
  const page = await context.newPage();
  const sockets = [];
  page.on('websocket', (socket) => sockets.push(socket.url()));
  await page.goto('/graphiql');
  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.waitFor({ timeout: 15_000 });
  await editor.evaluate((element, notebookId) => element.CodeMirror.setValue(
    `subscription { revisionSaved(notebookId: "${notebookId}") { id content } }`,
  ), id);
  // GraphiQL reads the editor's text a moment after it changes; until then
  // it runs the previous text over HTTP: run again until it opens a socket.
  for (let attempt = 1; !sockets.length; attempt += 1) {
    assert.ok(attempt <= 10, 'GraphiQL opens no WebSocket');
    await page.locator('.graphiql-execute-button').click();
    await until(() => sockets.length > 0, 'GraphiQL opens a WebSocket', 1000).catch(() => {});
  }
  assert.match(sockets[0], /^ws:\/\/localhost:\d+\/api\/graphql$/);

  // Nothing tells when the server has started the subscription: save until
  // a save is reported (the first one, unless it came too early).
  const response = page.locator('.graphiql-response');
  for (let attempt = 1; ; attempt += 1) {
    await gql(context, 'mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id } }',
      { input: { notebookId: id, title: 'Seen in GraphiQL', content: `live in graphiql ${attempt}` } });
    const reported = await response.getByText(/live in graphiql \d/).waitFor({ timeout: 3000 }).then(() => true, () => false);
    if (reported) break;
    assert.ok(attempt < 5, 'GraphiQL shows no subscription event');
  }
  await screenshot(page, 'graphiql-subscription');
  await context.close();
});
