// /new for someone not signed in: the editor without saving, and a way to sign
// in and keep what was written as a new notebook.

import { h, notice, replaceChildren } from '../dom.js';
import { describeError } from '../api.js';
import * as queries from '../queries.js';
import { getViewer, onViewerChange, signIn } from '../session.js';
import { Workspace } from './workspace.js';

const SAMPLE = `%% md
# Try Iodide

Write JavaScript in "%% js" cells and press Run all (or Shift+Enter in a cell).

%% js
const greeting = 'Hello from the sandbox';
console.log(greeting);
[1, 2, 3].map((n) => n * n)
`;

export function tryPage(data) {
  const messages = h('div', { class: 'banners' });
  const workspace = new Workspace({
    title: 'Untitled notebook',
    content: SAMPLE,
    evalFrameOrigin: data.evalFrameOrigin,
    editorOrigin: data.editorOrigin,
    onSaveShortcut: () => saveAsNotebook(),
  });

  async function saveAsNotebook() {
    const viewer = getViewer() ?? await signIn();
    if (!viewer) {
      replaceChildren(messages, notice('info', 'Sign in to save this as a notebook.'));
      return;
    }
    try {
      const draft = workspace.draft();
      const created = await queries.createNotebook(draft);
      location.assign(`/notebooks/${created.id}/`);
    } catch (error) {
      replaceChildren(messages, notice('error', describeError(error)));
    }
  }

  const saveButton = h('button', { class: 'button button-primary', testid: 'save-as-notebook', on: { click: saveAsNotebook } });
  const explain = h('div', { class: 'banners' });
  const update = () => {
    saveButton.textContent = getViewer() ? 'Save as a notebook' : 'Sign in to save';
    replaceChildren(explain, notice('info', getViewer()
      ? 'You are signed in: save this as a notebook to keep it.'
      : 'This is a try-out: nothing is saved until you sign in.'));
  };
  update();
  onViewerChange(update);

  return h('main', { class: 'page notebook-page' },
    h('div', { class: 'notebook-bar' },
      workspace.titleInput,
      h('span', { class: 'save-status', testid: 'save-status', dataset: { state: 'unsaved' } }, 'Not saved'),
      h('div', { class: 'notebook-actions' },
        saveButton,
        h('button', { class: 'button', testid: 'run-all', on: { click: () => workspace.runAll() } }, '▶ Run all'))),
    explain,
    messages,
    workspace.panes(),
  );
}
