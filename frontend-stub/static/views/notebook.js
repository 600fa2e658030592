// The notebook page: edit, save (autosave and on demand, with conflict
// handling), run, fork, delete, restore an old revision, and the files; and
// what happens to the notebook elsewhere (a newer revision, files, deletion).

import { h, replaceChildren, userBadge, formatDate, notice } from '../dom.js';
import { describeError } from '../api.js';
import * as queries from '../queries.js';
import { getViewer, onViewerChange, signIn } from '../session.js';
import { confirmDialog } from '../dialogs.js';
import { Saver } from '../saver.js';
import { FilesPanel } from '../files-panel.js';
import { FileBroker } from '../file-broker.js';
import { NotebookFollower } from '../notebook-follower.js';
import { live } from '../live.js';
import { Workspace } from './workspace.js';

const STATUS_TEXT = {
  saved: 'Saved',
  dirty: 'Unsaved changes',
  saving: 'Saving…',
  conflict: 'Conflict',
  error: 'Not saved',
  'read-only': 'Read only',
  'old-revision': 'Old revision',
  deleted: 'Deleted',
};

export function notebookPage(data) {
  const { notebook, revision, isLatest } = data;
  const canEdit = notebook.viewerCanEdit && isLatest;
  const status = h('span', { class: 'save-status', id: 'save-status', testid: 'save-status', role: 'status' });
  const banners = h('div', { class: 'banners', testid: 'banners' });
  const messages = h('div', { class: 'banners' });

  const files = new FilesPanel({ notebookId: notebook.id, canEdit: notebook.viewerCanEdit });
  files.load();
  // Notebook code's iodide.file calls: this notebook's files only, saved and
  // deleted by its owner only, and shown in the panel as code changes them.
  const fileBroker = new FileBroker({
    notebookId: notebook.id,
    canSave: notebook.viewerCanEdit,
    onSaved: (file) => files.showSaved(file),
    onDeleted: (filename) => files.showDeleted(filename),
  });

  const workspace = new Workspace({
    title: revision.title,
    content: revision.content,
    evalFrameOrigin: data.evalFrameOrigin,
    editorOrigin: data.editorOrigin,
    fileBroker,
    readOnly: !isLatest,
    onEdit: () => (saver ? saver.edited() : showStatus(notebook.viewerCanEdit ? 'old-revision' : 'read-only')),
    onSaveShortcut: () => saveNow(),
  });

  const saver = canEdit
    ? new Saver({
      notebookId: notebook.id,
      parentRevisionId: revision.id,
      saved: { title: revision.title, content: revision.content },
      readDraft: () => workspace.draft(),
      onChange: (s) => {
        showStatus(s.state, s.message);
        showConflict(s.state === 'conflict');
      },
    })
    : null;

  // The revision the text shown came from (the saver keeps its own when it saves).
  let shownRevisionId = revision.id;
  // A newer revision saved elsewhere, while its notice shows.
  let newer = null;
  // This tab is deleting the notebook: its end is no news here.
  let deletingHere = false;

  function say(kind, text) {
    replaceChildren(messages, text ? notice(kind, text) : null);
  }

  function showStatus(state, message = '') {
    status.dataset.state = state;
    let text = STATUS_TEXT[state] ?? state;
    if (state === 'saved' && saver?.lastSavedAt) text += ` · ${saver.lastSavedAt.toLocaleTimeString()}`;
    if (state === 'error') text += `: ${message}`;
    status.textContent = text;
  }

  async function saveNow() {
    if (!saver) {
      say('info', isLatest ? 'This notebook is not yours: fork it to save your own copy.' : 'This is an old revision: restore it to make it the latest.');
      return;
    }
    await saver.save();
  }

  function showConflict(inConflict) {
    const existing = banners.querySelector('[data-testid="conflict"]');
    if (!inConflict) {
      existing?.remove();
      return;
    }
    if (existing) return;
    banners.append(notice('warning',
      h('div', { testid: 'conflict' },
        h('strong', {}, 'This notebook was saved from another tab or window after you opened it.'),
        h('p', {}, 'Your changes here are not saved yet, and nothing was overwritten. Choose what to keep:'),
        h('div', { class: 'notice-actions' },
          h('button', { class: 'button', testid: 'conflict-reload', on: { click: loadLatest } }, 'Load the latest version (discard my changes)'),
          h('button', { class: 'button button-danger', testid: 'conflict-overwrite', on: { click: overwrite } }, 'Save my version over it'),
        ),
      )));
  }

  async function loadLatest() {
    try {
      const latest = (await queries.notebookDetails(notebook.id)).latestRevision;
      showRevision(latest);
      say('info', 'Loaded the latest saved version.');
    } catch (error) {
      say('error', describeError(error));
    }
  }

  /** Replaces the text with `loaded`, and saves on top of it from now on. */
  function showRevision(loaded) {
    workspace.load(loaded);
    saver?.adopt(loaded);
    shownRevisionId = loaded.id;
    history.replaceState(null, '', `/notebooks/${notebook.id}/`);
    revisionInfo.textContent = `Latest revision saved ${formatDate(loaded.createdAt)}`;
    if (newer && Number(newer.id) <= Number(loaded.id)) showNewer(null);
  }

  /**
   * A revision heard from the server. This editor's own saves come back too:
   * those, and anything not newer than the text shown, are not news.
   */
  async function revisionSaved(saved) {
    // The save's answer may come after its event: wait for it to know its id.
    await saver?.inFlight?.catch(() => {});
    const current = saver ? saver.parentRevisionId : shownRevisionId;
    if (saver?.savedHere.has(saved.id) || Number(saved.id) <= Number(current)) return;
    if (newer && Number(saved.id) <= Number(newer.id)) return;
    showNewer(saved);
  }

  /** The notice of a newer revision saved elsewhere, or none. */
  function showNewer(revisionElsewhere) {
    newer = revisionElsewhere;
    banners.querySelector('[data-testid="newer-revision"]')?.parentElement.remove();
    if (!newer) return;
    const unsaved = saver?.hasUnsavedChanges();
    banners.append(notice('info',
      h('div', { testid: 'newer-revision' },
        h('strong', {}, 'A newer revision was saved elsewhere'),
        h('p', {}, `Saved ${formatDate(newer.createdAt)} from another tab, window or device.`,
          unsaved ? ' Loading it replaces your unsaved changes here.' : ''),
        h('div', { class: 'notice-actions' },
          h('button', { class: 'button button-primary', testid: 'newer-revision-load', on: { click: () => {
            showRevision(newer);
            say('info', 'Loaded the newer revision.');
          } } }, 'Load it'),
          h('button', { class: 'button', testid: 'newer-revision-dismiss', on: { click: () => showNewer(null) } }, 'Keep editing'),
        ),
      )));
  }

  function deletedElsewhere() {
    if (deletingHere) return;
    showNewer(null);
    saver?.markDeleted();
    if (!saver) showStatus('deleted');
    const viewer = getViewer();
    banners.append(notice('error', h('div', { testid: 'notebook-deleted' },
      h('strong', {}, 'This notebook was deleted in another tab, window or device.'),
      h('p', {}, 'Nothing can be saved to it any more. The text is still here: save it as a new notebook to keep it.'),
      viewer && h('div', { class: 'notice-actions' },
        h('button', { class: 'button button-primary', testid: 'save-as-new', on: { click: saveAsNew } }, 'Save as a new notebook')),
    )));
  }

  async function saveAsNew() {
    try {
      const draft = workspace.draft();
      const created = await queries.createNotebook({ title: draft.title, content: draft.content });
      location.assign(`/notebooks/${created.id}/`);
    } catch (error) {
      say('error', describeError(error));
    }
  }

  async function overwrite() {
    await saver.save({ overwrite: true });
  }

  async function fork() {
    const viewer = getViewer() ?? await signIn();
    if (!viewer) return;
    try {
      const draft = workspace.draft();
      const created = await queries.createNotebook({ title: draft.title, content: draft.content, forkedFrom: revision.id });
      location.assign(`/notebooks/${created.id}/`);
    } catch (error) {
      say('error', describeError(error));
    }
  }

  async function remove() {
    const sure = await confirmDialog({
      title: `Delete “${notebook.title}”?`,
      message: 'Its revisions, files and file sources are deleted for good. Forks of it stay.',
      confirmLabel: 'Delete notebook',
      danger: true,
    });
    if (!sure) return;
    try {
      saver?.stopAutosave();
      deletingHere = true;
      await queries.deleteNotebook(notebook.id);
      location.assign('/');
    } catch (error) {
      deletingHere = false;
      say('error', describeError(error));
    }
  }

  async function restore() {
    try {
      // An explicit choice, so no parentRevisionId: it becomes the latest
      // whatever was saved since, and the older revisions all stay.
      await queries.createRevision({ notebookId: notebook.id, title: revision.title, content: revision.content });
      location.assign(`/notebooks/${notebook.id}/`);
    } catch (error) {
      say('error', describeError(error));
    }
  }

  const actions = h('div', { class: 'notebook-actions' },
    saver && h('button', { class: 'button button-primary', id: 'save', testid: 'save', on: { click: saveNow } }, 'Save'),
    h('button', { class: 'button', id: 'run-all', testid: 'run-all', on: { click: () => workspace.runAll() } }, '▶ Run all'),
    h('a', { class: 'button', href: `/notebooks/${notebook.id}/revisions/`, testid: 'history' }, 'History'),
    h('button', { class: 'button', testid: 'fork', on: { click: fork } }, 'Fork'),
    notebook.viewerCanEdit && h('button', { class: 'button button-danger-quiet', testid: 'delete-notebook', on: { click: remove } }, 'Delete'),
  );

  const forkedFrom = h('span', { testid: 'forked-from' });
  const revisionInfo = h('span', { testid: 'revision-info' }, `${isLatest ? 'Latest revision' : 'Revision'} saved ${formatDate(revision.createdAt)}`);
  const meta = h('div', { class: 'notebook-meta' },
    h('span', {}, 'by '), userBadge(notebook.owner),
    forkedFrom,
    h('span', { class: 'meta-dot' }, '·'),
    revisionInfo,
  );
  if (notebook.forkedFrom) describeFork(notebook.id, forkedFrom);

  if (!isLatest) {
    banners.append(notice('info', h('div', { testid: 'old-revision' },
      h('strong', {}, `You are looking at an old revision (${formatDate(revision.createdAt)}).`),
      h('div', { class: 'notice-actions' },
        notebook.viewerCanEdit && h('button', { class: 'button button-primary', testid: 'restore', on: { click: restore } }, 'Restore this revision'),
        h('a', { class: 'button', href: `/notebooks/${notebook.id}/` }, 'Open the latest'),
      ))));
  } else if (!notebook.viewerCanEdit) {
    banners.append(notice('info', getViewer()
      ? 'This notebook belongs to someone else. You can edit and run it here; fork it to save your changes.'
      : 'Sign in to fork this notebook and save your own copy.'));
  }

  if (saver) {
    saver.startAutosave();
    showStatus('saved');
    window.addEventListener('beforeunload', (event) => {
      if (saver.state !== 'saved') event.preventDefault();
    });
  } else {
    showStatus(notebook.viewerCanEdit ? 'old-revision' : 'read-only');
  }

  // An old revision stays as it is; the latest follows what happens elsewhere.
  if (isLatest) {
    new NotebookFollower({
      notebookId: notebook.id,
      onRevision: revisionSaved,
      onFiles: (list, sources) => files.showFiles(list, sources),
      onDeleted: deletedElsewhere,
    }).start();
  }

  onViewerChange(() => {
    // The WebSocket's identity is the cookie it was opened with.
    live().restart();
    // Sign-in may make this the viewer's own notebook; start over if nothing
    // was typed, else keep the text (they can still fork it).
    const untouched = workspace.draft().content === revision.content && workspace.titleInput.value === revision.title;
    if (untouched) location.reload();
  });

  return h('main', { class: 'page notebook-page' },
    h('div', { class: 'notebook-bar' }, workspace.titleInput, status, actions),
    meta,
    banners,
    messages,
    workspace.panes(),
    files.element,
  );
}

async function describeFork(notebookId, container) {
  try {
    const details = await queries.notebookDetails(notebookId);
    const source = details?.forkedFrom;
    if (!source) return;
    replaceChildren(container, h('span', { class: 'meta-dot' }, '·'), 'forked from ',
      h('a', { href: `/notebooks/${source.notebook.id}/?revision=${source.id}` }, source.notebook.title));
  } catch {
    // The fork's origin is a nicety; the page works without it.
  }
}
