// What the notebook page and the try-it page share: the title, the jsmd text,
// the report with its eval-frame sandbox, and the keyboard shortcuts.

import { h } from '../dom.js';
import { EvalSandbox } from '../sandbox.js';
import { Report } from '../report.js';
import { cellIndexAt } from '../jsmd.js';

export class Workspace {
  constructor({ title, content, evalFrameOrigin, editorOrigin, fileBroker, readOnly = false, onEdit = () => {}, onSaveShortcut = () => {} }) {
    this.onEdit = onEdit;
    this.titleInput = h('input', {
      class: 'title-input', id: 'notebook-title', testid: 'title', value: title,
      'aria-label': 'Notebook title', maxLength: 255, readOnly,
    });
    this.textarea = h('textarea', {
      class: 'content-input', id: 'notebook-content', testid: 'content', spellcheck: false,
      'aria-label': 'Notebook text (jsmd)', readOnly,
    });
    this.textarea.value = content;
    this.sandbox = new EvalSandbox(evalFrameOrigin, editorOrigin, fileBroker);
    this.report = new Report({ sandbox: this.sandbox });
    this.report.update(content);

    this.titleInput.addEventListener('input', () => {
      document.title = `${this.titleInput.value || 'Untitled'} · Iodide`;
      this.onEdit();
    });
    let reportTimer;
    this.textarea.addEventListener('input', () => {
      clearTimeout(reportTimer);
      reportTimer = setTimeout(() => this.report.update(this.textarea.value), 200);
      this.onEdit();
    });
    this.textarea.addEventListener('keydown', (event) => this.onKeydown(event));
    document.addEventListener('keydown', (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 's') {
        event.preventDefault();
        onSaveShortcut();
      }
    });
  }

  onKeydown(event) {
    if (event.key === 'Enter' && event.shiftKey) {
      // Shift+Enter runs the cell under the cursor, as in Iodide.
      event.preventDefault();
      this.report.update(this.textarea.value);
      this.report.runCell(cellIndexAt(this.textarea.value, this.textarea.selectionStart));
    } else if (event.key === 'Tab' && !event.shiftKey && !this.textarea.readOnly) {
      event.preventDefault();
      this.textarea.setRangeText('  ', this.textarea.selectionStart, this.textarea.selectionEnd, 'end');
      this.textarea.dispatchEvent(new Event('input'));
    }
  }

  draft() {
    return { title: this.titleInput.value.trim() || 'Untitled notebook', content: this.textarea.value };
  }

  /** Replaces the text, as when loading the latest revision after a conflict. */
  load({ title, content }) {
    this.titleInput.value = title;
    this.textarea.value = content;
    document.title = `${title} · Iodide`;
    this.report.update(content);
  }

  setReadOnly(readOnly) {
    this.titleInput.readOnly = readOnly;
    this.textarea.readOnly = readOnly;
  }

  async runAll() {
    this.report.update(this.textarea.value);
    await this.report.runAll();
  }

  resetSandbox() {
    this.sandbox.reset();
    this.report.clearOutputs();
  }

  /** The two panes: the text on the left, the report and sandbox on the right. */
  panes() {
    return h('div', { class: 'workspace' },
      h('div', { class: 'pane editor-pane' },
        h('div', { class: 'pane-head' }, h('span', {}, 'Notebook text (jsmd)'),
          h('span', { class: 'hint' }, 'Shift+Enter runs the cell at the cursor · Ctrl+S saves')),
        this.textarea),
      h('div', { class: 'pane report-pane' },
        h('div', { class: 'pane-head' }, h('span', {}, 'Report'),
          h('button', { class: 'button button-small button-quiet', testid: 'reset-sandbox', on: { click: () => this.resetSandbox() } }, 'Reset sandbox')),
        this.report.element,
        h('div', { class: 'sandbox-label' }, 'Sandbox document'),
        this.sandbox.element),
    );
  }
}
