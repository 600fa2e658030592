// A notebook's files (upload, download, rename, delete) and file sources (a URL
// the server fetches into a file, with the state of the latest fetch, followed
// over the page's WebSocket, or polled when there is none).

import { h, replaceChildren, formatSize, formatRelative, notice } from './dom.js';
import * as queries from './queries.js';
import { describeError } from './api.js';
import { confirmDialog, promptDialog } from './dialogs.js';
import { live } from './live.js';

const FINAL_STATES = new Set(['COMPLETED', 'FAILED']);
const MAX_POLL_MS = 30_000;

/** How often to ask about a running fetch; tests may set window.__IODIDE_POLL_MS. */
function pollPeriod() {
  const override = Number(window.__IODIDE_POLL_MS);
  return Number.isFinite(override) && override > 0 ? override : 2000;
}

export class FilesPanel {
  constructor({ notebookId, canEdit }) {
    this.notebookId = notebookId;
    this.canEdit = canEdit;
    this.files = [];
    this.sources = [];
    this.watchers = new Map();
    this.message = h('div', { class: 'panel-message' });
    this.fileList = h('div', { testid: 'file-list' });
    this.sourceList = h('div', { testid: 'source-list' });
    this.uploadArea = h('div');
    this.sourceForm = h('div');
    this.element = h('section', { class: 'panel files-panel', id: 'files', 'aria-label': 'Files' },
      h('h2', {}, 'Files'),
      this.message,
      this.fileList,
      this.uploadArea,
      h('h3', {}, 'File sources'),
      h('p', { class: 'hint' }, 'A file source is a URL that the server fetches into a file of this notebook, on demand or on a schedule.'),
      this.sourceList,
      this.sourceForm,
    );
    this.renderForms();
  }

  setCanEdit(canEdit) {
    this.canEdit = canEdit;
    this.renderForms();
    this.render();
  }

  say(kind, text) {
    replaceChildren(this.message, text ? notice(kind, text) : null);
  }

  async load() {
    try {
      const notebook = await queries.notebookFiles(this.notebookId);
      this.files = notebook?.files ?? [];
      this.showSources(notebook?.fileSources ?? []);
      this.render();
    } catch (error) {
      this.say('error', describeError(error));
    }
  }

  /**
   * The sources as listed (here or after a change elsewhere): each fetch
   * still under way is followed, once; a removed source is no longer.
   */
  showSources(sources) {
    const listed = new Set(sources.map((source) => source.id));
    for (const sourceId of [...this.watchers.keys()]) {
      if (!listed.has(sourceId)) this.stopWatching(sourceId);
    }
    this.sources = [...sources].sort(byFilename);
    for (const source of this.sources) {
      const operation = source.latestUpdateOperation;
      if (operation && !FINAL_STATES.has(operation.status)) this.watch(source.id, operation);
    }
  }

  render() {
    replaceChildren(this.fileList, this.files.length
      ? h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Size'), h('th', {}, 'Updated'), h('th', {}, ''))),
        h('tbody', {}, this.files.map((file) => this.fileRow(file))))
      : h('p', { class: 'empty' }, 'No files yet.'));
    replaceChildren(this.sourceList, this.sources.length
      ? h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'File'), h('th', {}, 'URL'), h('th', {}, 'Schedule'), h('th', {}, 'Latest fetch'), h('th', {}, ''))),
        h('tbody', {}, this.sources.map((source) => this.sourceRow(source))))
      : h('p', { class: 'empty' }, 'No file sources.'));
  }

  fileRow(file) {
    return h('tr', { testid: 'file-row', dataset: { filename: file.filename } },
      h('td', {}, h('a', { href: file.url, target: '_blank', rel: 'noopener', testid: 'file-open' }, file.filename)),
      h('td', {}, formatSize(file.size)),
      h('td', {}, formatRelative(file.lastUpdated)),
      h('td', { class: 'row-actions' },
        h('a', { class: 'button button-small', href: file.url, download: file.filename, testid: 'file-download' }, 'Download'),
        this.canEdit && h('button', { class: 'button button-small', testid: 'file-rename', on: { click: () => this.rename(file) } }, 'Rename'),
        this.canEdit && h('button', { class: 'button button-small button-danger-quiet', testid: 'file-delete', on: { click: () => this.remove(file) } }, 'Delete'),
      ),
    );
  }

  sourceRow(source) {
    const operation = source.latestUpdateOperation;
    return h('tr', { testid: 'source-row', dataset: { filename: source.filename } },
      h('td', {}, source.filename),
      h('td', { class: 'url-cell' }, source.url ?? '(hidden)'),
      h('td', {}, source.updateInterval ? source.updateInterval.toLowerCase() : 'on demand'),
      h('td', {}, operationStatus(operation)),
      h('td', { class: 'row-actions' },
        this.canEdit && h('button', { class: 'button button-small', testid: 'source-refresh', on: { click: () => this.refresh(source) } }, 'Fetch now'),
        this.canEdit && h('button', { class: 'button button-small button-danger-quiet', testid: 'source-delete', on: { click: () => this.removeSource(source) } }, 'Delete'),
      ),
    );
  }

  renderForms() {
    if (!this.canEdit) {
      replaceChildren(this.uploadArea);
      replaceChildren(this.sourceForm);
      return;
    }
    const picker = h('input', { type: 'file', multiple: true, id: 'file-upload', testid: 'file-upload', class: 'visually-hidden' });
    picker.addEventListener('change', async () => {
      await this.upload([...picker.files]);
      picker.value = '';
    });
    replaceChildren(this.uploadArea,
      h('label', { class: 'button', for: 'file-upload' }, 'Upload files…'), picker,
      h('span', { class: 'hint' }, ' Up to 10 MiB each. A file with the same name is replaced.'));

    const filename = h('input', { class: 'input', name: 'filename', required: true, maxLength: 120, placeholder: 'data.csv', testid: 'source-filename' });
    const url = h('input', { class: 'input', name: 'url', type: 'url', required: true, placeholder: 'https://example.org/data.csv', testid: 'source-url' });
    const interval = h('select', { class: 'input', name: 'interval', testid: 'source-interval' },
      h('option', { value: '' }, 'On demand'), h('option', { value: 'DAILY' }, 'Daily'), h('option', { value: 'WEEKLY' }, 'Weekly'));
    const form = h('form', { class: 'inline-form', testid: 'source-form' },
      h('label', { class: 'field' }, h('span', {}, 'File name'), filename),
      h('label', { class: 'field field-wide' }, h('span', {}, 'URL'), url),
      h('label', { class: 'field' }, h('span', {}, 'Schedule'), interval),
      h('button', { class: 'button button-primary', type: 'submit', testid: 'source-add' }, 'Add source'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const added = await this.addSource({ filename: filename.value.trim(), url: url.value.trim(), updateInterval: interval.value || null });
      if (added) form.reset();
    });
    replaceChildren(this.sourceForm, form);
  }

  async upload(files) {
    for (const file of files) {
      this.say('info', `Uploading ${file.name}…`);
      try {
        const existing = this.files.find((f) => f.filename === file.name);
        const saved = existing ? await queries.replaceFile(existing.id, file) : await queries.uploadFile(this.notebookId, file.name, file);
        this.showSaved(saved);
        this.say('info', `${file.name} ${existing ? 'replaced' : 'uploaded'}.`);
      } catch (error) {
        this.say('error', `${file.name}: ${describeError(error)}`);
        return;
      }
    }
  }

  /** A file that was uploaded here or saved by notebook code, new or replaced. */
  showSaved(file) {
    this.files = [...this.files.filter((f) => f.id !== file.id), file].sort(byFilename);
    this.render();
  }

  /** The notebook's files and file sources as the server has them now (changed elsewhere, perhaps). */
  showFiles(files, sources) {
    this.files = [...files].sort(byFilename);
    if (sources) this.showSources(sources);
    this.render();
  }

  /** A file that notebook code deleted. */
  showDeleted(filename) {
    this.files = this.files.filter((f) => f.filename !== filename);
    this.render();
  }

  async rename(file) {
    const filename = await promptDialog({ title: 'Rename file', label: 'New name', value: file.filename, confirmLabel: 'Rename' });
    if (!filename || filename === file.filename) return;
    try {
      const renamed = await queries.renameFile(file.id, filename);
      this.files = this.files.map((f) => (f.id === file.id ? renamed : f)).sort(byFilename);
      this.render();
      this.say('info', `Renamed to ${renamed.filename}.`);
    } catch (error) {
      this.say('error', describeError(error));
    }
  }

  async remove(file) {
    const sure = await confirmDialog({ title: `Delete ${file.filename}?`, message: 'The file is gone for good; notebooks that load it will fail.', confirmLabel: 'Delete file', danger: true });
    if (!sure) return;
    try {
      await queries.deleteFile(file.id);
      this.files = this.files.filter((f) => f.id !== file.id);
      this.render();
      this.say('info', `${file.filename} deleted.`);
    } catch (error) {
      this.say('error', describeError(error));
    }
  }

  async addSource(input) {
    try {
      const source = await queries.createFileSource({ notebookId: this.notebookId, ...input });
      // The notebook's change event may have listed it already.
      this.sources = [...this.sources.filter((s) => s.id !== source.id), source].sort(byFilename);
      this.render();
      await this.refresh(source);
      return true;
    } catch (error) {
      this.say('error', describeError(error));
      return false;
    }
  }

  async refresh(source) {
    try {
      const operation = await queries.refreshFileSource(source.id);
      this.setOperation(source.id, operation);
      this.say('info', `Fetch of ${source.filename} queued.`);
      this.watch(source.id, operation);
    } catch (error) {
      this.say('error', describeError(error));
    }
  }

  async removeSource(source) {
    const sure = await confirmDialog({ title: `Delete the source of ${source.filename}?`, message: 'The file it filled stays.', confirmLabel: 'Delete source', danger: true });
    if (!sure) return;
    try {
      await queries.deleteFileSource(source.id);
      this.stopWatching(source.id);
      this.sources = this.sources.filter((s) => s.id !== source.id);
      this.render();
    } catch (error) {
      this.say('error', describeError(error));
    }
  }

  setOperation(sourceId, operation) {
    this.sources = this.sources.map((s) => (s.id === sourceId ? { ...s, latestUpdateOperation: operation } : s));
    this.render();
  }

  /**
   * Follows a fetch until it completes or fails, then shows the new file:
   * over the WebSocket when it is up, else (or when it drops) by polling.
   */
  async watch(sourceId, operation) {
    // The same fetch may be announced twice (its refresh here, and the
    // notebook's change event): it is followed once.
    if (this.watchers.get(sourceId)?.operationId === operation.id) return;
    this.stopWatching(sourceId);
    const watcher = { operationId: operation.id, stop: () => {} };
    this.watchers.set(sourceId, watcher);
    const connected = await live().ready();
    if (this.watchers.get(sourceId) !== watcher) return;
    if (connected) this.follow(sourceId, operation, watcher);
    else this.poll(sourceId, operation, watcher);
  }

  /** Whether `watcher` still follows the source's fetch (not stopped or replaced). */
  isWatching(sourceId, watcher) {
    return this.watchers.get(sourceId) === watcher;
  }

  follow(sourceId, operation, watcher) {
    const readOnce = async () => {
      const latest = await queries.fileUpdateOperation(operation.id).catch(() => null);
      if (latest) await this.progress(sourceId, latest, watcher);
    };
    const unsubscribe = queries.onFileUpdateOperationChanged(operation.id, {
      next: (latest) => this.progress(sourceId, latest, watcher),
      // Ended before a final state (the server is shutting down, or fell
      // behind), or the connection dropped: polling takes over.
      complete: () => this.isWatching(sourceId, watcher) && this.poll(sourceId, operation, watcher),
      error: () => this.isWatching(sourceId, watcher) && this.poll(sourceId, operation, watcher),
      dropped: () => this.isWatching(sourceId, watcher) && this.poll(sourceId, operation, watcher),
    });
    // The fetch may have moved on before the server started following it:
    // one read now catches that. The protocol cannot order that read after
    // the subscription's start, so a slow read repeats it as a safety net.
    readOnce();
    const safetyNet = setInterval(readOnce, MAX_POLL_MS);
    watcher.stop = () => {
      unsubscribe();
      clearInterval(safetyNet);
    };
  }

  /**
   * Polls a fetch. The wait grows after each poll (up to 30 s), so a tab left
   * open on a fetch that waits for a busy worker does not keep asking every
   * two seconds.
   */
  poll(sourceId, operation, watcher) {
    watcher.stop();
    let delay = pollPeriod();
    let timer;
    const tick = async () => {
      const latest = await queries.fileUpdateOperation(operation.id).catch(() => null);
      // A dropped poll is retried on the next tick.
      if (!this.isWatching(sourceId, watcher)) return;
      if (latest && await this.progress(sourceId, latest, watcher)) return;
      delay = Math.min(delay * 1.5, MAX_POLL_MS);
      timer = setTimeout(tick, delay);
    };
    timer = setTimeout(tick, delay);
    watcher.stop = () => clearTimeout(timer);
  }

  /**
   * Shows a fetch's new state, told to `watcher`; at a final one, stops
   * watching it. Returns whether the watch is over.
   */
  async progress(sourceId, operation, watcher) {
    if (!this.isWatching(sourceId, watcher)) return true;
    this.setOperation(sourceId, operation);
    if (!FINAL_STATES.has(operation.status)) return false;
    this.stopWatching(sourceId);
    await this.finished(sourceId, operation);
    return true;
  }

  async finished(sourceId, operation) {
    const source = this.sources.find((s) => s.id === sourceId);
    const name = source?.filename ?? 'the file';
    if (operation.status === 'COMPLETED') {
      this.say('info', `${name} was fetched.`);
      await this.reloadFiles().catch((error) => this.say('error', describeError(error)));
    } else {
      this.say('error', `Fetching ${name} failed${operation.failureReason ? `: ${operation.failureReason}` : '.'}`);
    }
  }

  stopWatching(sourceId) {
    this.watchers.get(sourceId)?.stop();
    this.watchers.delete(sourceId);
  }

  async reloadFiles() {
    const notebook = await queries.notebookFiles(this.notebookId);
    this.files = notebook?.files ?? [];
    this.render();
  }
}

function byFilename(a, b) {
  return a.filename.localeCompare(b.filename);
}

function operationStatus(operation) {
  if (!operation) return h('span', { class: 'badge', testid: 'source-status' }, 'never fetched');
  const label = {
    PENDING: 'waiting to fetch',
    RUNNING: 'fetching…',
    COMPLETED: `fetched ${formatRelative(operation.endedAt ?? operation.scheduledAt)}`,
    FAILED: 'failed',
  }[operation.status] ?? operation.status.toLowerCase();
  return h('span', {
    class: `badge badge-${operation.status.toLowerCase()}`,
    testid: 'source-status',
    dataset: { status: operation.status },
    title: operation.failureReason ?? '',
  }, label);
}
