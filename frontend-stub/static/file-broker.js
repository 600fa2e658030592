// The editor's half of iodide.file: the eval frame holds no credential, so it
// asks the editor, which checks each request and performs it with its own.
// What the frame sends is untrusted (notebook code can forge any message): a
// request names an operation and a file name, never a notebook, so it can only
// ever reach the files of the notebook open in this editor.

import * as queries from './queries.js';
import { describeError } from './api.js';
import { formatSize } from './dom.js';

/** The server's limit for one file (config::MAX_FILE_BYTES). */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;
/** Requests answered at once; more than that is a flood and gets an error. */
const MAX_IN_FLIGHT = 8;
const MAX_FILENAME_CHARS = 120;

/** A request the frame got wrong or may not make; its message goes to the notebook. */
class Refusal extends Error {}

export class FileBroker {
  /**
   * notebookId: null when the text is not a saved notebook (the try page).
   * canSave: whether the viewer owns the notebook. onSaved(file) and
   * onDeleted(filename) keep the files panel in step with what code does.
   */
  constructor({ notebookId = null, canSave = false, onSaved = () => {}, onDeleted = () => {} } = {}) {
    this.notebookId = notebookId;
    this.canSave = canSave;
    this.onSaved = onSaved;
    this.onDeleted = onDeleted;
    this.inFlight = 0;
  }

  /**
   * Answers one request from the frame: { ok: true, value } or { ok: false,
   * error }, never throws. `value` of a load holds an ArrayBuffer to transfer.
   */
  async handle(request) {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      return { ok: false, error: `Too many file requests at once (at most ${MAX_IN_FLIGHT}); wait for some to finish.` };
    }
    this.inFlight += 1;
    try {
      return { ok: true, value: await this.perform(request) };
    } catch (error) {
      return { ok: false, error: error instanceof Refusal ? error.message : describeError(error) };
    } finally {
      this.inFlight -= 1;
    }
  }

  async perform(request) {
    if (this.notebookId === null) {
      throw new Refusal('This notebook is not saved yet, so it has no files: save it as a notebook first.');
    }
    switch (request?.op) {
      case 'list': return (await this.files()).map((file) => file.filename);
      case 'exists': return Boolean(await this.find(checkName(request.name)));
      case 'lastUpdated': return (await this.fileNamed(checkName(request.name))).lastUpdated;
      case 'load': return this.load(checkName(request.name));
      case 'save': return this.save(checkName(request.name), request.bytes, request.overwrite === true);
      case 'delete': return this.delete(checkName(request.name));
      default: throw new Refusal('Unknown file operation.');
    }
  }

  async files() {
    return (await queries.listFiles(this.notebookId)) ?? [];
  }

  async find(name) {
    return (await this.files()).find((file) => file.filename === name) ?? null;
  }

  async fileNamed(name) {
    const file = await this.find(name);
    if (!file) throw new Refusal(`This notebook has no file named "${name}".`);
    return file;
  }

  /** The bytes, read as the editor reads any raw file: with its session, never by navigating. */
  async load(name) {
    const url = `/notebooks/${encodeURIComponent(this.notebookId)}/files/${encodeURIComponent(name)}`;
    let response;
    try {
      response = await fetch(url, { credentials: 'same-origin' });
    } catch {
      throw new Refusal(`Cannot reach the server to load ${name}.`);
    }
    if (response.status === 404) throw new Refusal(`This notebook has no file named "${name}".`);
    if (!response.ok) throw new Refusal(`Loading ${name} failed: the server answered ${response.status}.`);
    const bytes = await response.arrayBuffer();
    if (bytes.byteLength > MAX_FILE_BYTES) throw new Refusal(`${name} is larger than ${formatSize(MAX_FILE_BYTES)}.`);
    return { bytes, contentType: response.headers.get('Content-Type') ?? 'application/octet-stream' };
  }

  async save(name, bytes, overwrite) {
    this.ensureOwner('save files to it');
    if (!(bytes instanceof ArrayBuffer)) throw new Refusal('Only text, JSON, ArrayBuffer or Blob data can be saved.');
    if (bytes.byteLength > MAX_FILE_BYTES) {
      throw new Refusal(`${name} would be ${bytes.byteLength} bytes, over the limit of ${formatSize(MAX_FILE_BYTES)} (${MAX_FILE_BYTES} bytes) a file.`);
    }
    const existing = await this.find(name);
    if (existing && !overwrite) {
      throw new Refusal(`This notebook already has a file named "${name}"; save with { overwrite: true } to replace it.`);
    }
    const file = new File([bytes], name);
    const saved = existing ? await queries.replaceFile(existing.id, file) : await queries.uploadFile(this.notebookId, name, file);
    this.onSaved(saved);
    return { filename: saved.filename, size: saved.size };
  }

  async delete(name) {
    this.ensureOwner('delete its files');
    await queries.deleteFile((await this.fileNamed(name)).id);
    this.onDeleted(name);
    return null;
  }

  ensureOwner(action) {
    if (!this.canSave) {
      throw new Refusal(`Only the owner of this notebook can ${action}; fork the notebook to work on your own copy.`);
    }
  }
}

/** The server's filename rules (files::validate_filename), checked before any request. */
function checkName(name) {
  if (typeof name !== 'string' || name.trim() === '') throw new Refusal('A file name is needed.');
  if ([...name].length > MAX_FILENAME_CHARS) throw new Refusal(`File names are at most ${MAX_FILENAME_CHARS} characters.`);
  if (/[/\\\u0000-\u001f\u007f-\u009f]/.test(name) || name === '.' || name === '..') {
    throw new Refusal(`"${name}" is not a file name of this notebook (no slashes, no control characters).`);
  }
  return name;
}
