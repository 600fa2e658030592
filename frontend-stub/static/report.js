// The report beside the editor: each cell of the notebook in order. Markdown is
// rendered (sanitised), CSS styles the report, raw cells show as text, and the
// cells that run in the eval frame (js, fetch, css) show their output.

import { h, replaceChildren } from './dom.js';
import { parseJsmd } from './jsmd.js';
import { renderMarkdown } from './markdown.js';

/** The cells that run in the eval frame, their label, and how the sandbox runs them. */
const RUNNABLE = {
  js: { label: 'JavaScript', run: (sandbox, cell) => sandbox.run(cell.source) },
  fetch: { label: 'Fetch', run: (sandbox, cell) => sandbox.fetch(cell.source) },
  css: { label: 'CSS', run: (sandbox, cell) => sandbox.style(cell.source, cell.index) },
};

const SUPPORTED_TYPES = ['md', 'js', 'fetch', 'css', 'raw'];

export class Report {
  constructor({ sandbox }) {
    this.sandbox = sandbox;
    this.cells = [];
    // Outputs by cell index, kept while the text is edited (with the type of
    // cell that made them, so that a cell whose type changes loses its output).
    this.outputs = new Map();
    this.list = h('div', { class: 'cells', testid: 'cells' });
    this.element = h('section', { class: 'report', 'aria-label': 'Report' }, this.list);
    this.styles = new CSSStyleSheet();
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, this.styles];
  }

  /** Shows the cells of `text`, with its %% css cells applied to the report. */
  update(text) {
    this.cells = parseJsmd(text);
    for (const [index, result] of this.outputs) {
      if (this.cells[index]?.type !== result.cellType) this.outputs.delete(index);
    }
    replaceChildren(this.list, this.cells.length ? this.cells.map((cell) => this.renderCell(cell)) : emptyNotebookHint());
    this.styles.replaceSync(scopedToReport(this.cells.filter((cell) => cell.type === 'css').map((cell) => cell.source)));
  }

  renderCell(cell) {
    const testid = `cell-${cell.index}`;
    if (RUNNABLE[cell.type]) return this.renderRunnable(cell);
    if (cell.type === 'md') return h('div', { class: 'cell cell-md markdown', testid }, renderMarkdown(cell.source));
    if (cell.type === 'raw') return h('pre', { class: 'cell cell-raw', testid }, cell.source);
    return h('div', { class: 'cell cell-other', testid },
      h('code', {}, `%% ${cell.type}`), ` ${unsupportedReason(cell.type)}`);
  }

  renderRunnable(cell) {
    const output = h('div', { class: 'cell-output', testid: `output-${cell.index}`, 'aria-live': 'polite' });
    this.showOutput(output, this.outputs.get(cell.index));
    return h('div', { class: `cell cell-${cell.type} cell-runnable`, testid: `cell-${cell.index}` },
      h('div', { class: 'cell-head' },
        h('span', { class: 'cell-label' }, `${RUNNABLE[cell.type].label} · cell ${cell.index + 1}${skipsRunAll(cell) ? ' · skipped by Run all' : ''}`),
        h('button', {
          class: 'button button-small',
          testid: `run-cell-${cell.index}`,
          on: { click: () => this.runCell(cell.index) },
        }, 'Run'),
      ),
      h('pre', { class: 'cell-code' }, cell.source),
      output,
    );
  }

  showOutput(container, result) {
    if (!container) return;
    if (!result) {
      replaceChildren(container);
      container.hidden = true;
      return;
    }
    container.hidden = false;
    const lines = result.running
      ? [h('div', { class: 'output-line output-running' }, 'Running…')]
      : result.output.map((line) => h('div', { class: `output-line output-${line.level}` }, line.text));
    if (result.error) lines.push(h('div', { class: 'output-line output-error', testid: 'output-error' }, result.error));
    if (!result.running && !lines.length) lines.push(h('div', { class: 'output-line output-empty' }, 'Done, no output.'));
    replaceChildren(container, lines);
  }

  setOutput(index, result) {
    this.outputs.set(index, { ...result, cellType: this.cells[index]?.type });
    this.showOutput(this.list.querySelector(`[data-testid="output-${index}"]`), result);
  }

  async runCell(index) {
    const cell = this.cells[index];
    if (!cell || !RUNNABLE[cell.type]) return;
    this.setOutput(index, { running: true, output: [] });
    try {
      this.setOutput(index, await RUNNABLE[cell.type].run(this.sandbox, cell));
    } catch (error) {
      this.setOutput(index, { output: [], error: error.message });
    }
  }

  /** Runs the js, fetch and css cells one after another, in order, except those marked skipRunAll. */
  async runAll() {
    for (const cell of this.cells) {
      if (RUNNABLE[cell.type] && !skipsRunAll(cell)) await this.runCell(cell.index);
    }
  }

  clearOutputs() {
    this.outputs.clear();
    for (const output of this.list.querySelectorAll('.cell-output')) this.showOutput(output, null);
  }
}

/**
 * The notebook's CSS, parsed by the browser (which drops @import and balances
 * braces) and then wrapped so that it styles the report's cells and nothing
 * else of the editor. `.cells` has `contain: paint` (style.css), so a fixed
 * position cannot lay the notebook over the editor's own controls either.
 */
function scopedToReport(sources) {
  const parsed = new CSSStyleSheet();
  parsed.replaceSync(sources.join('\n'));
  const rules = Array.from(parsed.cssRules, (rule) => rule.cssText).join('\n');
  return rules ? `@scope (.cells) {\n${rules}\n}` : '';
}

/** Iodide's flag for a cell that only runs when asked (say, one that saves files). */
function skipsRunAll(cell) {
  return cell.flags.some((flag) => flag.toLowerCase() === 'skiprunall');
}

function unsupportedReason(type) {
  if (type === 'py') return 'cells need Pyodide (Python in the browser), which this editor does not include; the cell is not run.';
  return `is not a cell type this editor knows (it knows ${SUPPORTED_TYPES.map((t) => `%% ${t}`).join(', ')}); the cell is not run.`;
}

function emptyNotebookHint() {
  return h('div', { class: 'cell cell-hint' },
    'This notebook is empty. Start a cell with a line "%% md" for text, "%% js" for JavaScript or "%% fetch" to load files.');
}
