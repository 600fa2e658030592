// The report beside the editor: each cell of the notebook in order, markdown
// as plain text and JavaScript cells with their output from the eval frame.

import { h, replaceChildren } from './dom.js';
import { parseJsmd } from './jsmd.js';

export class Report {
  constructor({ sandbox }) {
    this.sandbox = sandbox;
    this.cells = [];
    // Outputs by cell index, kept while the text is edited.
    this.outputs = new Map();
    this.list = h('div', { class: 'cells', testid: 'cells' });
    this.element = h('section', { class: 'report', 'aria-label': 'Report' }, this.list);
  }

  /** Shows the cells of `text`. */
  update(text) {
    this.cells = parseJsmd(text);
    for (const index of this.outputs.keys()) {
      if (index >= this.cells.length || this.cells[index].type !== 'js') this.outputs.delete(index);
    }
    replaceChildren(this.list, this.cells.length ? this.cells.map((cell) => this.renderCell(cell)) : emptyNotebookHint());
  }

  renderCell(cell) {
    if (cell.type === 'md') {
      return h('div', { class: 'cell cell-md', testid: `cell-${cell.index}` }, cell.source);
    }
    if (cell.type !== 'js') {
      return h('div', { class: 'cell cell-other', testid: `cell-${cell.index}` },
        h('span', { class: 'cell-label' }, `%% ${cell.type}`), ' cells are not run by this editor.');
    }
    const output = h('div', { class: 'cell-output', testid: `output-${cell.index}`, 'aria-live': 'polite' });
    this.showOutput(output, this.outputs.get(cell.index));
    return h('div', { class: 'cell cell-js', testid: `cell-${cell.index}` },
      h('div', { class: 'cell-head' },
        h('span', { class: 'cell-label' }, `JavaScript · cell ${cell.index + 1}`),
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
    this.outputs.set(index, result);
    this.showOutput(this.list.querySelector(`[data-testid="output-${index}"]`), result);
  }

  async runCell(index) {
    const cell = this.cells[index];
    if (!cell || cell.type !== 'js') return;
    this.setOutput(index, { running: true, output: [] });
    try {
      this.setOutput(index, await this.sandbox.run(cell.source));
    } catch (error) {
      this.setOutput(index, { output: [], error: error.message });
    }
  }

  /** Runs the JavaScript cells one after another, in order. */
  async runAll() {
    for (const cell of this.cells) {
      if (cell.type === 'js') await this.runCell(cell.index);
    }
  }

  clearOutputs() {
    this.outputs.clear();
    for (const output of this.list.querySelectorAll('.cell-output')) this.showOutput(output, null);
  }
}

function emptyNotebookHint() {
  return h('div', { class: 'cell cell-hint' },
    'This notebook is empty. Start a cell with a line "%% md" for text or "%% js" for JavaScript.');
}
