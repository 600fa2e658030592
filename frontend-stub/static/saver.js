// Saving a notebook: on demand and by autosave, always naming the revision the
// text started from (parentRevisionId), so that a save from another tab in the
// meantime comes back as CONFLICT instead of being silently overwritten.

import * as queries from './queries.js';
import { describeError } from './api.js';

export const AUTOSAVE_MS = 30_000;

/** The autosave period; tests set window.__IODIDE_AUTOSAVE_MS before the page loads. */
export function autosavePeriod() {
  const override = Number(window.__IODIDE_AUTOSAVE_MS);
  return Number.isFinite(override) && override > 0 ? override : AUTOSAVE_MS;
}

/**
 * States: 'saved', 'dirty' (unsaved changes), 'saving', 'conflict' (another
 * tab saved first: waits for the person to choose), 'error' (retried later),
 * 'deleted' (the notebook is gone: nothing more to save).
 */
export class Saver {
  constructor({ notebookId, parentRevisionId, saved, readDraft, onChange }) {
    this.notebookId = notebookId;
    this.parentRevisionId = parentRevisionId;
    this.lastSaved = saved;
    this.readDraft = readDraft;
    this.onChange = onChange;
    this.state = 'saved';
    this.message = '';
    this.inFlight = null;
    /** The ids of the revisions saved here, to tell them from those saved elsewhere. */
    this.savedHere = new Set();
  }

  setState(state, message = '') {
    this.state = state;
    this.message = message;
    this.onChange(this);
  }

  hasUnsavedChanges() {
    const draft = this.readDraft();
    return draft.title !== this.lastSaved.title || draft.content !== this.lastSaved.content;
  }

  /** Called on every edit. */
  edited() {
    if (['conflict', 'saving', 'deleted'].includes(this.state)) return;
    this.setState(this.hasUnsavedChanges() ? 'dirty' : 'saved');
  }

  /**
   * Saves the current text if it changed. `overwrite` saves without
   * parentRevisionId, replacing whatever another tab saved (after a conflict,
   * only when the person chose it).
   */
  async save({ overwrite = false } = {}) {
    if (this.inFlight) {
      await this.inFlight;
    }
    if ((this.state === 'conflict' && !overwrite) || this.state === 'deleted') return;
    if (!this.hasUnsavedChanges()) {
      this.setState('saved');
      return;
    }
    this.inFlight = this.send(this.readDraft(), overwrite);
    try {
      await this.inFlight;
    } finally {
      this.inFlight = null;
    }
  }

  async send(draft, overwrite) {
    this.setState('saving');
    try {
      const revision = await queries.createRevision({
        notebookId: this.notebookId,
        title: draft.title,
        content: draft.content,
        parentRevisionId: overwrite ? null : this.parentRevisionId,
      });
      this.savedHere.add(revision.id);
      this.parentRevisionId = revision.id;
      this.lastSaved = draft;
      this.lastSavedAt = new Date(revision.createdAt);
      this.setState(this.hasUnsavedChanges() ? 'dirty' : 'saved');
    } catch (error) {
      if (error.code === 'CONFLICT') {
        this.setState('conflict', error.message);
      } else {
        this.setState('error', describeError(error));
      }
    }
  }

  /** After a conflict: take the latest saved revision as the new starting point. */
  adopt(revision) {
    this.parentRevisionId = revision.id;
    this.lastSaved = { title: revision.title, content: revision.content };
    this.setState('saved');
  }

  /** The notebook was deleted (elsewhere): stop saving. */
  markDeleted() {
    this.stopAutosave();
    this.setState('deleted');
  }

  startAutosave(period = autosavePeriod()) {
    this.stopAutosave();
    this.timer = setInterval(() => {
      if (this.state === 'dirty' || this.state === 'error') this.save();
    }, period);
  }

  stopAutosave() {
    clearInterval(this.timer);
  }
}
