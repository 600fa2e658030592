// Notebook code using the notebook's files as in Iodide: %% fetch cells and
// iodide.file, performed by the editor for the credential-less eval frame, with
// the files panel following along. And what the editor refuses: a reader's
// save, and a hostile cell's forged requests for another notebook's files.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  startServer, startServerAndBrowser, newContext, openPage, screenshot, createNotebook, outputOf, uploadFile, filesOf,
} from './harness.js';

const { server, browser } = await startServerAndBrowser();

const CSV = 'city,people\nLyon,522250\nNantes,320732\n';

/** A notebook of `owner` with the usual files, opened and run by `viewer`. */
async function notebookWithFiles(owner, cells) {
  const { id } = await createNotebook(owner, 'Using files', cells.join('\n'));
  await uploadFile(owner, id, 'cities.csv', CSV);
  await uploadFile(owner, id, 'meta.json', JSON.stringify({ source: 'INSEE', year: 2021 }));
  await uploadFile(owner, id, 'helper.js', 'function double(n) { return 2 * n; }');
  return id;
}

async function runAll(context, id) {
  const page = await openPage(context, `/notebooks/${id}/`);
  await page.getByTestId('run-all').click();
  return page;
}


const fileRow = (page, filename) => page.locator(`[data-testid="file-row"][data-filename="${filename}"]`);

test('fetch cells and iodide.file load and save the notebook\'s files; the panel follows', async () => {
  const context = await newContext(browser, server, { username: 'nina' });
  const id = await notebookWithFiles(context, [
    '%% md', '# Cities',
    '%% fetch', '// the notebook\'s own files, into variables', 'text: csv = files/cities.csv',
    'json: meta = files/meta.json', 'arrayBuffer: raw = files/cities.csv', 'js: files/helper.js',
    `text: framePage = ${server.evalOrigin}/eval-frame/`,
    '%% js', 'var rows = csv.trim().split("\\n").slice(1).map((line) => line.split(","));',
    '`${rows.length} cities, ${meta.source}, ${raw.byteLength} bytes, ${double(21)}, ${framePage.includes("eval frame")}`',
    '%% js', '(async () => {',
    '  const text = await iodide.file.load("cities.csv");',
    '  const buffer = await iodide.file.load("cities.csv", "arrayBuffer");',
    '  const blob = await iodide.file.load("cities.csv", "blob");',
    '  const json = await iodide.file.load("meta.json", "json");',
    '  await iodide.file.load("cities.csv", "bytes", "cityBytes");',
    '  return [text === csv, buffer.byteLength, blob.size, json.year, cityBytes instanceof Uint8Array && cityBytes[0],',
    '    await iodide.file.exists("cities.csv"), await iodide.file.exists("nope.csv"),',
    '    (await iodide.file.lastUpdated("cities.csv")).getFullYear() > 2000].join(" ");',
    '})()',
    '%% js', '(async () => {',
    '  await iodide.file.save({ cities: rows.length }, "summary.json");',
    '  await iodide.file.save("a,b\\n1,2\\n", "copy.csv");',
    '  let refused = "saved twice";',
    '  try { await iodide.file.save("again", "summary.json"); } catch (e) { refused = e.message; }',
    '  await iodide.file.save(new Uint8Array([1, 2, 3]).buffer, "bytes.bin");',
    '  await iodide.file.save(new Blob(["from a blob"]), "blob.txt");',
    '  await iodide.file.save("replaced", "copy.csv", { overwrite: true });',
    '  await iodide.file.save("short-lived", "gone.txt");',
    '  // Later Iodide\'s form: save(fileName, serializerType, data[, options]).',
    '  await iodide.file.save("later.txt", "text", 42);',
    '  await iodide.file.save("later.json", "json", { cities: rows.length }, { overwrite: false });',
    '  await iodide.file.delete("gone.txt");',
    '  console.log(refused);',
    '  console.log(await iodide.file.save(new Uint8Array(10 * 1024 * 1024 + 1), "big.bin").catch((e) => e.message));',
    '  return (await iodide.file.list()).join(",");',
    '})()',
    '%% js', 'iodide.file.load("missing.csv").catch((e) => e.message)',
    '%% fetch', 'text: nothing = files/missing.csv', 'json: notJson = files/cities.csv', 'text: local = /etc/passwd',
    'bytes: fine = files/cities.csv',
  ]);
  const page = await runAll(context, id);

  assert.match(await outputOf(page, 1), /^loaded text csv = files\/cities\.csv\nloaded json meta = files\/meta\.json\nloaded arrayBuffer raw/);
  assert.equal(await outputOf(page, 2), `2 cities, INSEE, ${CSV.length} bytes, 42, true`);
  assert.equal(await outputOf(page, 3), `true ${CSV.length} ${CSV.length} 2021 ${'c'.charCodeAt(0)} true false true`);
  assert.equal(await outputOf(page, 4), [
    'This notebook already has a file named "summary.json"; save with { overwrite: true } to replace it.',
    'big.bin would be 10485761 bytes, over the limit of 10.0 MiB (10485760 bytes) a file.',
    'blob.txt,bytes.bin,cities.csv,copy.csv,helper.js,later.json,later.txt,meta.json,summary.json',
  ].join('\n'));
  assert.equal(await outputOf(page, 5), 'This notebook has no file named "missing.csv".');
  const failures = await outputOf(page, 6);
  assert.match(failures, /failed text: nothing = files\/missing\.csv: This notebook has no file named "missing\.csv"\./);
  assert.match(failures, /failed json: notJson = files\/cities\.csv: iodide\.file\.load: cities\.csv is not valid JSON/);
  assert.match(failures, /failed text: local = \/etc\/passwd: a source is files\/NAME .* or an https URL/);
  assert.match(failures, /loaded bytes fine = files\/cities\.csv\n3 of 4 fetches failed\./);

  // The panel shows what code saved and deleted, without a reload, and the
  // saved files download with what the code wrote.
  await fileRow(page, 'summary.json').waitFor();
  await fileRow(page, 'blob.txt').waitFor();
  assert.equal(await fileRow(page, 'gone.txt').count(), 0);
  const [download] = await Promise.all([page.waitForEvent('download'), fileRow(page, 'summary.json').getByTestId('file-download').click()]);
  assert.equal(await readFile(await download.path(), 'utf8'), '{"cities":2}');
  await screenshot(page, 'notebook-file-api');

  const stored = await filesOf(context, id);
  assert.deepEqual(Object.keys(stored).sort(),
    ['blob.txt', 'bytes.bin', 'cities.csv', 'copy.csv', 'helper.js', 'later.json', 'later.txt', 'meta.json', 'summary.json']);
  assert.equal(stored['later.txt'], '42');
  assert.equal(stored['later.json'], '{"cities":2}');
  assert.equal(stored['copy.csv'], 'replaced');
  assert.equal(stored['blob.txt'], 'from a blob');
  assert.equal(stored['bytes.bin'], '\u0001\u0002\u0003');
  await context.close();
});

test('a reader loads the files but cannot save or delete them', async () => {
  const owner = await newContext(browser, server, { username: 'olga' });
  const reader = await newContext(browser, server, { username: 'omar' });
  const id = await notebookWithFiles(owner, [
    '%% fetch', 'text: csv = files/cities.csv',
    '%% js', 'iodide.file.save("overwritten", "cities.csv", { overwrite: true }).then(() => "saved", (e) => e.message)',
    '%% js', 'iodide.file.delete("cities.csv").then(() => "deleted", (e) => e.message)',
    '%% js skipRunAll', 'iodide.file.save("cache", "cache.txt")',
    '%% js', 'csv.split("\\n")[1]',
  ]);
  const page = await runAll(reader, id);
  const refusal = 'Only the owner of this notebook can save files to it; fork the notebook to work on your own copy.';
  assert.equal(await outputOf(page, 1), refusal);
  assert.match(await outputOf(page, 2), /^Only the owner of this notebook can delete its files/);
  // Iodide's skipRunAll: a cell that saves files is left to the owner to run.
  assert.equal(await outputOf(page, 4), 'Lyon,522250');
  assert.ok(await page.getByTestId('output-3').isHidden());
  assert.match(await page.getByTestId('cell-3').innerText(), /skipped by Run all/i);
  await page.getByTestId('run-cell-3').click();
  assert.match(await outputOf(page, 3), /^Error: Only the owner of this notebook can save files to it/);
  assert.deepEqual(await filesOf(owner, id), { 'cities.csv': CSV, 'helper.js': 'function double(n) { return 2 * n; }', 'meta.json': '{"source":"INSEE","year":2021}' });
  await owner.close();
  await reader.close();
});

/** Notebook code that tries every way it can think of to reach notebook `victimId`. */
const HOSTILE_CELL = (victimId) => `%% js
(async () => {
  const victim = ${JSON.stringify(victimId)};
  const seen = [];
  const note = (what, value) => seen.push(what + ': ' + (typeof value === 'string' ? value : JSON.stringify(value)));
  const attempt = async (what, promise) => {
    try { note(what, await promise); } catch (e) { note(what, 'refused ' + e.message); }
  };
  // Catch the editor's port as iodide.file uses it, to post raw messages on it.
  let port;
  const post = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (...args) { port = this; return post.apply(this, args); };
  await iodide.file.list();
  MessagePort.prototype.postMessage = post;
  port.addEventListener('message', (event) => {
    if (String(event.data?.id).startsWith('forged')) note('answer to ' + event.data.id, event.data);
  });

  // Names that lead out of this notebook.
  for (const name of ['../' + victim + '/files/secret.csv', '../../notebooks/' + victim + '/files/secret.csv', '..', 'secret.csv']) {
    await attempt('load ' + name, iodide.file.load(name));
  }
  await attempt('delete secret.csv', iodide.file.delete('secret.csv'));
  // Raw requests that name the other notebook.
  const forged = [
    { op: 'load', name: 'secret.csv', notebookId: victim },
    { op: 'delete', name: 'secret.csv', notebookId: victim, notebook: victim },
    { op: 'save', name: 'planted.csv', notebookId: victim, bytes: new TextEncoder().encode('pwned').buffer },
    { op: 'query', query: '{ notebook(id: ' + victim + ') { files { filename } } }' },
    { op: 'load', name: 'secret.csv', url: '/notebooks/' + victim + '/files/secret.csv' },
  ];
  forged.forEach((message, index) => port.postMessage({ ...message, type: 'file', id: 'forged-' + index }));
  // Straight to the editor's window, around the channel: a new "ready" or a file request.
  parent.postMessage({ type: 'ready' }, '*');
  parent.postMessage({ type: 'file', op: 'load', name: 'secret.csv', notebookId: victim, id: 'forged-window' }, '*');
  window.addEventListener('message', (event) => note('window message', event.data));
  // A flood: more requests at once than the editor answers.
  const flood = await Promise.allSettled(Array.from({ length: 40 }, () => iodide.file.load('mine.csv')));
  note('flood', flood.filter((r) => r.status === 'rejected').map((r) => r.reason.message)[0]);
  note('flood loaded', flood.filter((r) => r.status === 'fulfilled').length);
  // Round trips until the five forgeries are answered (a save takes longer than
  // a list on a busy machine), then three more, so that any stray answer
  // would have arrived too.
  const answered = () => seen.filter((line) => line.startsWith('answer to forged-')).length;
  for (let i = 0; i < 200 && answered() < 5; i += 1) await iodide.file.list();
  for (let i = 0; i < 3; i += 1) await iodide.file.list();
  return JSON.stringify(seen);
})()`;

test('a hostile cell that forges requests gets nothing of another notebook', async () => {
  const context = await newContext(browser, server, { username: 'pat' });
  const { id: victimId } = await createNotebook(context, 'Private sums', '%% md\nmine');
  await uploadFile(context, victimId, 'secret.csv', 'TOP SECRET');
  const { id: hostileId } = await createNotebook(context, 'Looks harmless', HOSTILE_CELL(victimId));
  await uploadFile(context, hostileId, 'mine.csv', 'mine');

  const page = await openPage(context, `/notebooks/${hostileId}/`);
  const victimRequests = [];
  page.on('request', (request) => {
    const text = `${request.url()} ${request.postData() ?? ''}`;
    if (text.includes(`/notebooks/${victimId}/`) || text.includes(`"${victimId}"`)) victimRequests.push(text);
  });
  await page.getByTestId('run-all').click();
  const output = page.getByTestId('output-0').locator('.output-value');
  await output.waitFor({ timeout: 20_000 });
  const seen = JSON.parse(await output.innerText());

  const byStart = (prefix) => seen.filter((line) => line.startsWith(prefix));
  for (const line of byStart('load ')) assert.match(line, /: refused /, line);
  assert.match(byStart('load secret.csv')[0], /This notebook has no file named "secret\.csv"/);
  assert.match(byStart('load ../')[0], /is not a file name of this notebook/);
  assert.match(byStart('delete secret.csv')[0], /refused This notebook has no file named/);
  // The raw requests were taken as about this notebook, whatever they named:
  // no secret.csv here, no such operation, and the save landed in this notebook.
  const answers = byStart('answer to forged-').sort();
  assert.equal(answers.length, 5, seen.join('\n'));
  assert.match(answers[0], /forged-0: .*"ok":false.*no file named \\"secret\.csv\\"/);
  assert.match(answers[1], /forged-1: .*"ok":false.*no file named \\"secret\.csv\\"/);
  assert.match(answers[2], /forged-2: .*"ok":true.*"filename":"planted\.csv"/);
  assert.match(answers[3], /forged-3: .*"ok":false.*Unknown file operation/);
  assert.match(answers[4], /forged-4: .*"ok":false.*no file named \\"secret\.csv\\"/);
  assert.equal(byStart('window message').length, 0, 'the editor answers nothing outside the channel');
  assert.match(byStart('flood: ')[0], /Too many file requests at once/);
  assert.ok(Number(byStart('flood loaded: ')[0].split(': ')[1]) >= 1, 'the flood does not stop honest requests for good');
  assert.doesNotMatch(JSON.stringify(seen), /TOP SECRET/);

  assert.deepEqual(victimRequests, [], 'the editor never asked the server about the other notebook');
  assert.deepEqual(await filesOf(context, victimId), { 'secret.csv': 'TOP SECRET' });
  assert.deepEqual(await filesOf(context, hostileId), { 'mine.csv': 'mine', 'planted.csv': 'pwned' });
  await context.close();
});

test('without a separate eval origin, and on the try page', async () => {
  const sameOrigin = await startServer({ separateEvalOrigin: false });
  try {
    const context = await newContext(browser, sameOrigin, { username: 'quinn' });
    const { id } = await createNotebook(context, 'Opaque frame', '%% fetch\ntext: csv = files/cities.csv\n%% js\ncsv.length');
    await uploadFile(context, id, 'cities.csv', CSV);
    const page = await runAll(context, id);
    assert.equal(await page.locator('#eval-frame').getAttribute('sandbox'), 'allow-scripts');
    assert.equal(await outputOf(page, 1), String(CSV.length));

    // An unsaved notebook (anonymous /new, the try-out) has no files, and says so.
    const anonymous = await newContext(browser, sameOrigin);
    const tryPage = await openPage(anonymous, '/new');
    await tryPage.getByTestId('content').fill('%% js\niodide.file.list().catch((e) => e.message)');
    await tryPage.getByTestId('run-all').click();
    assert.match(await outputOf(tryPage, 0), /not saved yet, so it has no files/);
    await anonymous.close();
    await context.close();
  } finally {
    await sameOrigin.stop();
  }
});
