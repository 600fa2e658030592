// Follows an open notebook's changes, wherever they are made: its new
// revisions (revisionSaved), its files and file sources (notebookChanged), and its deletion
// (the end of both). After the connection drops and comes back, it reads
// what it may have missed meanwhile.

import { live } from './live.js';
import * as queries from './queries.js';

const MAX_RESUBSCRIBE_MS = 30_000;

export class NotebookFollower {
  /**
   * onRevision(revision): a revision saved, here or elsewhere (the page tells
   * which); onFiles(files, fileSources): the notebook's files and file sources
   * now; onDeleted().
   */
  constructor({ notebookId, onRevision, onFiles, onDeleted }) {
    this.notebookId = notebookId;
    this.onRevision = onRevision;
    this.onFiles = onFiles;
    this.onDeleted = onDeleted;
    this.stops = new Map();
    this.stopped = false;
    this.retryMs = 1000;
  }

  start() {
    this.follow('revisions', (sink) => queries.onRevisionSaved(this.notebookId, {
      ...sink, next: (revision) => this.onRevision(revision),
    }));
    this.follow('notebook', (sink) => queries.onNotebookChanged(this.notebookId, {
      ...sink, next: (notebook) => notebook && this.onFiles(notebook.files, notebook.fileSources),
    }));
    this.stops.set('state', live().onState((state, { reconnected }) => {
      if (state === 'open' && reconnected) this.catchUp();
    }));
    // What was saved between the page's rendering and the subscriptions' start.
    live().ready().then((connected) => connected && this.catchUp());
  }

  stop() {
    this.stopped = true;
    for (const stop of this.stops.values()) stop();
    this.stops.clear();
  }

  /** Runs one subscription; when the server ends it, finds out why and starts it again if the notebook is still there. */
  follow(name, subscribe) {
    if (this.stopped) return;
    const ended = async (errors) => {
      this.stops.delete(name);
      const resubscribe = await this.catchUp();
      // A refusal (say, the notebook is no longer readable) would only repeat.
      const refused = errors?.some((error) => error.extensions?.code !== 'CONFLICT');
      if (!resubscribe || refused || this.stopped) return;
      // Spaced out, so that a server that keeps ending it is not hammered.
      setTimeout(() => this.follow(name, subscribe), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, MAX_RESUBSCRIBE_MS);
    };
    this.stops.set(name, subscribe({ complete: () => ended(), error: (errors) => ended(errors) }));
  }

  /**
   * Reads the notebook's latest state, as after a gap in the updates.
   * Returns false when it was deleted (onDeleted has been called).
   */
  async catchUp() {
    if (this.stopped) return false;
    let details;
    try {
      details = await queries.notebookDetails(this.notebookId);
    } catch {
      // Unreachable for now: the connection's return brings another catch-up.
      return true;
    }
    if (this.stopped) return false;
    if (!details) {
      this.stop();
      this.onDeleted();
      return false;
    }
    if (details.latestRevision) this.onRevision(details.latestRevision);
    const notebook = await queries.notebookFiles(this.notebookId).catch(() => null);
    if (notebook && !this.stopped) this.onFiles(notebook.files, notebook.fileSources);
    return true;
  }
}
