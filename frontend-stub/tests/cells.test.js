// The jsmd cell types beside %% js: Markdown rendered and sanitised, CSS that
// styles the report (and only the report) and the sandbox document, raw text,
// and the types this editor does not run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServerAndBrowser, newContext, openPage, screenshot, createNotebook } from './harness.js';

const { server, browser } = await startServerAndBrowser();

const color = (locator) => locator.evaluate((element) => getComputedStyle(element).color);

test('renders Markdown, applies CSS cells, shows raw text and says which types it does not run', async () => {
  const context = await newContext(browser, server, { username: 'mona' });
  const { id } = await createNotebook(context, 'Cell types', [
    '%% md', '# Quarterly report', 'Some *emphasis*, `code` and a [link](https://example.org/).', '',
    '| city | people |', '|---|---|', '| Lyon | 522250 |',
    '%% css', 'h1, h2 { color: rgb(200, 0, 0); }', '.note { border: 2px solid rgb(0, 0, 200); }',
    '%% md', '<p class="note">A styled note</p>',
    '%% raw', '<b>not bold</b> and *not emphasised*',
    '%% py', 'print(1)',
    '%% sql', 'select 1',
    '%% js', 'const p = document.createElement("p"); p.className = "note"; p.textContent = "drawn";',
    'document.body.append(p); getComputedStyle(p).borderTopColor',
  ].join('\n'));
  const page = await openPage(context, `/notebooks/${id}/`);

  const heading = page.getByTestId('cell-0').getByRole('heading', { level: 1 });
  assert.equal(await heading.innerText(), 'Quarterly report');
  assert.equal(await page.getByTestId('cell-0').locator('em').innerText(), 'emphasis');
  assert.equal(await page.getByTestId('cell-0').locator('td').first().innerText(), 'Lyon');
  const link = page.getByTestId('cell-0').getByRole('link', { name: 'link' });
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');

  // The notebook's CSS styles the report, and the editor around it not at all.
  assert.equal(await color(heading), 'rgb(200, 0, 0)');
  assert.notEqual(await color(page.locator('#files h2')), 'rgb(200, 0, 0)');
  const note = page.getByTestId('cell-2').locator('p.note');
  assert.equal(await note.evaluate((element) => getComputedStyle(element).borderTopColor), 'rgb(0, 0, 200)');

  assert.equal(await page.getByTestId('cell-3').innerText(), '<b>not bold</b> and *not emphasised*');
  assert.equal(await page.getByTestId('cell-3').locator('b').count(), 0);
  assert.match(await page.getByTestId('cell-4').textContent(), /%% py cells need Pyodide.*not run/);
  assert.match(await page.getByTestId('cell-5').textContent(), /%% sql is not a cell type this editor knows/);

  // Run all: the CSS cell styles the sandbox document too, before the js cell runs.
  await page.getByTestId('run-all').click();
  const output = page.getByTestId('output-6').locator('.output-value');
  await output.waitFor();
  assert.equal(await output.innerText(), 'rgb(0, 0, 200)');
  assert.equal(await page.getByTestId('output-1').innerText(), 'Styles applied to the sandbox document.');

  // Editing the CSS restyles the report as the text changes.
  const content = page.getByTestId('content');
  await content.fill((await content.inputValue()).replace('rgb(200, 0, 0)', 'rgb(0, 128, 0)'));
  await page.waitForFunction(() => getComputedStyle(document.querySelector('[data-testid="cell-0"] h1')).color === 'rgb(0, 128, 0)');
  await screenshot(page, 'notebook-cell-types');
  await context.close();
});

test('the Markdown sanitiser holds against script, even with the page CSP turned off', async () => {
  // Without the CSP, an inline handler or script that got through would run:
  // the sanitiser alone has to keep them out.
  const context = await newContext(browser, server, { username: 'nils', bypassCSP: true });
  const { id } = await createNotebook(context, 'Hostile Markdown', [
    '%% md',
    '# Innocent',
    '[click me](javascript:window.pwned=\'link\')', '',
    '<img src="/nowhere.png" onerror="window.pwned = \'img\'">',
    '<script>window.pwned = "script"</script>',
    '<svg><script>window.pwned = "svg"</script></svg>',
    '<a href="javascript:window.pwned=\'anchor\'" id="anchor">anchor</a>',
    '<div onmouseover="window.pwned = \'div\'">hover me</div>',
    '<iframe src="javascript:parent.pwned=\'iframe\'"></iframe>',
    '<form action="/login/" method="post"><input name="username" value="mallory"><button id="go">go</button></form>',
    '<style>body { display: none }</style>',
  ].join('\n'));
  const page = await openPage(context, `/notebooks/${id}/`);
  const cell = page.getByTestId('cell-0');
  await cell.getByRole('heading', { name: 'Innocent' }).waitFor();

  // The image failed to load (its error event has fired) and nothing ran.
  await page.waitForFunction(() => document.querySelector('[data-testid="cell-0"] img')?.complete);
  await cell.getByText('hover me').hover();
  await cell.getByText('anchor').click();
  await cell.getByText('click me').click();
  assert.equal(await page.evaluate(() => window.pwned), undefined);

  const html = await cell.innerHTML();
  assert.doesNotMatch(html, /onerror|onmouseover|<script|javascript:|<iframe|<form|<input|<style/i);
  assert.equal(await cell.locator('img').count(), 1);
  assert.ok(await page.locator('body').isVisible());
  await context.close();
});
