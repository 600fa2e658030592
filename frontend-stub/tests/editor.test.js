// The editor in a real browser: sign-in, notebooks, saving (autosave, Ctrl+S,
// conflicts between tabs), history and restore, fork and delete.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServerAndBrowser, newContext, openPage, screenshot, createNotebook, latestRevision, gql,
} from './harness.js';

const { server, browser } = await startServerAndBrowser();

/** Replaces the notebook text the way a person would: switch to the tab, select all, type. */
async function typeContent(page, text) {
  await page.bringToFront();
  const content = page.getByTestId('content');
  await content.click();
  await content.press('Control+A');
  await content.fill(text);
}

test('signs in through the development login popup', async () => {
  const context = await newContext(browser, server);
  const page = await openPage(context, '/');
  assert.equal(await page.getByTestId('viewer').count(), 0);
  await screenshot(page, 'notebooks-anonymous');

  const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByTestId('sign-in').click()]);
  await popup.waitForLoadState();
  await popup.locator('input[name="username"]').fill('alice');
  await Promise.all([popup.waitForEvent('close'), popup.locator('button[type="submit"]').click()]);

  await page.getByTestId('viewer-name').filter({ hasText: 'alice' }).waitFor();
  await page.getByTestId('my-notebooks').getByText('You have no notebooks yet.').waitFor();
  const cookies = await context.cookies(server.origin);
  assert.ok(cookies.some((cookie) => cookie.name === 'iodide_session' && cookie.httpOnly));

  await Promise.all([page.waitForURL(`${server.origin}/`), page.getByTestId('sign-out').click()]);
  await page.getByTestId('sign-in').waitFor();
  await context.close();
});

test('creates a notebook and lists it with its owner', async () => {
  const context = await newContext(browser, server, { username: 'bob' });
  const page = await openPage(context, '/');
  await Promise.all([page.waitForURL(/\/notebooks\/\d+\/$/), page.getByTestId('new-notebook').click()]);
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.getByTestId('title').inputValue(), 'Untitled notebook');
  assert.equal(await page.getByTestId('save-status').getAttribute('data-state'), 'saved');
  await page.getByTestId('cell-0').waitFor();
  await screenshot(page, 'notebook-new');

  // /new creates one too (a same-site navigation from the header).
  await Promise.all([page.waitForURL(/\/notebooks\/\d+\/$/), page.getByRole('link', { name: 'New notebook' }).click()]);

  // Titles are text, never markup.
  await createNotebook(context, '<img src=x onerror="window.pwned = 1">', '%% md\nx');
  const list = await openPage(context, '/');
  await list.getByTestId('my-notebooks').getByTestId('notebook-row').nth(2).waitFor();
  await list.getByText('<img src=x onerror="window.pwned = 1">').first().waitFor();
  assert.equal(await list.evaluate(() => window.pwned), undefined);
  const row = list.getByTestId('all-notebooks').getByTestId('notebook-row').nth(1);
  assert.match(await row.textContent(), /Untitled notebook.*bob/);
  await screenshot(list, 'notebooks-signed-in');
  await context.close();
});

test('lists notebooks in pages with cursors', async () => {
  const context = await newContext(browser, server, { username: 'paula' });
  for (let i = 1; i <= 5; i += 1) await createNotebook(context, `Paged ${i}`, '%% md\npage');
  const page = await openPage(context, '/?per_page=2');
  const mine = page.getByTestId('my-notebooks');
  await mine.getByText('Paged 5').waitFor();
  assert.equal(await mine.getByTestId('page-count').textContent(), '1–2 of 5');
  await mine.getByTestId('page-older').click();
  await mine.getByText('Paged 3').waitFor();
  await mine.getByTestId('page-older').click();
  await mine.getByText('Paged 1').waitFor();
  assert.equal(await mine.getByTestId('page-older').isDisabled(), true);
  await mine.getByTestId('page-newer').click();
  await mine.getByText('Paged 3').waitFor();
  await context.close();
});

test('autosaves after edits and saves on Ctrl+S', async () => {
  // The test-only autosave period: window.__IODIDE_AUTOSAVE_MS, set before load.
  const context = await newContext(browser, server, { username: 'carol', autosaveMs: 300 });
  const { id } = await createNotebook(context, 'Autosaved', '%% md\nfirst');
  const page = await openPage(context, `/notebooks/${id}/`);
  await typeContent(page, '%% md\nsecond, autosaved');
  await page.waitForFunction(() => document.querySelector('[data-testid="save-status"]').dataset.state === 'saved'
    && document.querySelector('[data-testid="save-status"]').textContent.includes('·'));
  assert.equal((await latestRevision(context, id)).content, '%% md\nsecond, autosaved');

  const slow = await newContext(browser, server, { username: 'carol', autosaveMs: 3_600_000 });
  const other = await openPage(slow, `/notebooks/${id}/`);
  await other.getByTestId('title').fill('Renamed by Ctrl+S');
  assert.equal(await other.getByTestId('save-status').textContent(), 'Unsaved changes');
  await other.keyboard.press('Control+S');
  await other.waitForSelector('[data-testid="save-status"][data-state="saved"]');
  const latest = await latestRevision(context, id);
  assert.equal(latest.title, 'Renamed by Ctrl+S');
  assert.equal(latest.count, 3);
  await context.close();
  await slow.close();
});

test('a save from another tab is a conflict, and nothing is overwritten until the person chooses', async () => {
  const context = await newContext(browser, server, { username: 'dave', autosaveMs: 3_600_000 });
  const { id } = await createNotebook(context, 'Shared', '%% md\noriginal');
  const tabA = await openPage(context, `/notebooks/${id}/`);
  const tabB = await openPage(context, `/notebooks/${id}/`);

  await typeContent(tabA, '%% md\nfrom tab A');
  await tabA.getByTestId('save').click();
  await tabA.waitForSelector('[data-testid="save-status"][data-state="saved"]');

  await typeContent(tabB, '%% md\nfrom tab B');
  await tabB.getByTestId('save').click();
  await tabB.getByTestId('conflict').waitFor();
  assert.equal(await tabB.getByTestId('save-status').textContent(), 'Conflict');
  await screenshot(tabB, 'notebook-conflict');
  // Saving again (a button, Ctrl+S or autosave) does not overwrite either.
  await tabB.keyboard.press('Control+S');
  await tabB.waitForTimeout(300);
  assert.equal((await latestRevision(context, id)).content, '%% md\nfrom tab A');

  await tabB.getByTestId('conflict-overwrite').click();
  await tabB.waitForSelector('[data-testid="save-status"][data-state="saved"]');
  assert.equal(await tabB.getByTestId('conflict').count(), 0);
  assert.equal((await latestRevision(context, id)).content, '%% md\nfrom tab B');

  // Tab A is now behind: its next save conflicts, and it can load the latest.
  await typeContent(tabA, '%% md\nA again');
  await tabA.getByTestId('save').click();
  await tabA.getByTestId('conflict').waitFor();
  await tabA.getByTestId('conflict-reload').click();
  await tabA.waitForSelector('[data-testid="save-status"][data-state="saved"]');
  assert.equal(await tabA.getByTestId('content').inputValue(), '%% md\nfrom tab B');
  assert.equal((await latestRevision(context, id)).count, 3);
  await context.close();
});

test('browses the history and restores an old revision', async () => {
  const context = await newContext(browser, server, { username: 'erin' });
  const { id, latestRevision: first } = await createNotebook(context, 'Versions', '%% md\nversion one');
  await gql(context, 'mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id } }',
    { input: { notebookId: id, title: 'Versions', content: '%% md\nversion two', parentRevisionId: first.id } });

  const history = await openPage(context, `/notebooks/${id}/revisions/`);
  const rows = history.getByTestId('revision-row');
  await rows.nth(1).waitFor();
  assert.equal(await rows.count(), 2);
  await rows.nth(1).locator('.revision-select').click();
  await history.getByTestId('revision-preview').getByText('version one').waitFor();
  await screenshot(history, 'revisions');

  // The old revision opens read-only with a way to restore it.
  const old = await openPage(context, await rows.nth(1).getByTestId('revision-open').getAttribute('href'));
  await old.getByTestId('old-revision').waitFor();
  assert.equal(await old.getByTestId('content').inputValue(), '%% md\nversion one');
  assert.equal(await old.getByTestId('content').getAttribute('readonly'), '');
  await screenshot(old, 'notebook-old-revision');

  await history.bringToFront();
  await Promise.all([history.waitForURL(`**/notebooks/${id}/`), rows.nth(1).getByTestId('revision-restore').click()]);
  await history.waitForSelector('body[data-ready="true"]');
  assert.equal(await history.getByTestId('content').inputValue(), '%% md\nversion one');
  const latest = await latestRevision(context, id);
  assert.equal(latest.content, '%% md\nversion one');
  assert.equal(latest.count, 3);

  // Restoring from the old revision's own page works the same way.
  await gql(context, 'mutation($input: CreateRevisionInput!) { createRevision(input: $input) { id } }',
    { input: { notebookId: id, title: 'Versions', content: '%% md\nversion four' } });
  await old.bringToFront();
  await Promise.all([old.waitForURL(`**/notebooks/${id}/`), old.getByTestId('restore').click()]);
  assert.equal((await latestRevision(context, id)).count, 5);
  await context.close();
});

test('forks someone else\'s notebook, and the owner deletes theirs', async () => {
  const owner = await newContext(browser, server, { username: 'frank' });
  const { id } = await createNotebook(owner, 'Original', '%% js\n1 + 1');
  const reader = await newContext(browser, server, { username: 'grace' });
  const page = await openPage(reader, `/notebooks/${id}/`);
  assert.equal(await page.getByTestId('save').count(), 0);
  assert.equal(await page.getByTestId('delete-notebook').count(), 0);
  await Promise.all([page.waitForURL((url) => !url.pathname.endsWith(`/notebooks/${id}/`)), page.getByTestId('fork').click()]);
  await page.waitForSelector('body[data-ready="true"]');
  await page.getByTestId('forked-from').getByText('Original').waitFor();
  assert.match(await page.getByTestId('owner').first().textContent(), /grace/);
  await screenshot(page, 'notebook-fork');

  const mine = await openPage(owner, `/notebooks/${id}/`);
  await mine.getByTestId('delete-notebook').click();
  await mine.getByTestId('dialog').waitFor();
  await screenshot(mine, 'notebook-delete-dialog');
  await Promise.all([mine.waitForURL(`${server.origin}/`), mine.getByTestId('dialog-confirm').click()]);
  const data = await gql(owner, 'query($id: ID!) { notebook(id: $id) { id } }', { id });
  assert.equal(data.notebook, null);
  await owner.close();
  await reader.close();
});

test('anonymous /new is a try-out that runs code and saves after sign-in', async () => {
  const context = await newContext(browser, server);
  const page = await openPage(context, '/new');
  await page.getByTestId('run-all').click();
  await page.getByTestId('output-1').getByText('Hello from the sandbox').waitFor();
  await screenshot(page, 'try');
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByTestId('save-as-notebook').click()]);
  await popup.locator('input[name="username"]').fill('hank');
  await Promise.all([page.waitForURL(/\/notebooks\/\d+\/$/), popup.locator('button[type="submit"]').click()]);
  await page.waitForSelector('body[data-ready="true"]');
  assert.match(await page.getByTestId('content').inputValue(), /Hello from the sandbox/);
  await context.close();
});
