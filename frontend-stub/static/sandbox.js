// The editor's side of the eval frame: an iframe on the eval origin, sandboxed.
// The frame announces itself with one postMessage ("ready"); the editor answers
// with a MessageChannel port, and everything after that (cells to run, their
// results, the frame's file requests) goes over that channel only.

import { h } from './dom.js';
import { FileBroker } from './file-broker.js';

const RUN_TIMEOUT_MS = 30_000;

export class EvalSandbox {
  /**
   * evalFrameOrigin: where /eval-frame/ is served. When it is the editor's own
   * origin, the frame gets no allow-same-origin, so it runs in an opaque origin
   * and its code cannot use the editor's origin, cookies or storage. The
   * editor's configured origin counts too, in case the page was reached under
   * another name (127.0.0.1 for localhost). fileBroker answers the frame's
   * iodide.file requests.
   */
  constructor(evalFrameOrigin, editorOrigin = location.origin, fileBroker = new FileBroker()) {
    this.evalFrameOrigin = new URL(evalFrameOrigin).origin;
    this.opaque = this.evalFrameOrigin === location.origin || this.evalFrameOrigin === new URL(editorOrigin).origin;
    this.fileBroker = fileBroker;
    this.pending = new Map();
    this.nextId = 1;
    this.element = h('div', { class: 'sandbox' });
    window.addEventListener('message', (event) => this.onWindowMessage(event));
    this.reset();
  }

  /** A fresh frame: nothing from earlier runs survives (and a stuck loop ends). */
  reset() {
    for (const { reject } of this.pending.values()) reject(new Error('The sandbox was reset.'));
    this.pending.clear();
    this.port?.close();
    this.port = null;
    this.frame?.remove();
    this.ready = new Promise((resolve) => { this.markReady = resolve; });
    const url = new URL('/eval-frame/', this.evalFrameOrigin);
    url.searchParams.set('editor', location.origin);
    this.frame = h('iframe', {
      class: 'eval-frame',
      id: 'eval-frame',
      title: 'Notebook sandbox',
      sandbox: this.opaque ? 'allow-scripts' : 'allow-scripts allow-same-origin',
      src: url.href,
    });
    this.element.replaceChildren(this.frame);
  }

  /**
   * Only the frame's first "ready" is read: it gets the channel, once. (A
   * notebook that reloads its frame needs Reset sandbox, which makes a new one;
   * a second channel would let frame code cut off the first.)
   */
  onWindowMessage(event) {
    if (this.port || !this.frame || event.source !== this.frame.contentWindow) return;
    // An opaque frame's messages come from origin "null"; the source check
    // above is what identifies it then.
    const expectedOrigin = this.opaque ? 'null' : this.evalFrameOrigin;
    if (event.origin !== expectedOrigin || event.data?.type !== 'ready') return;
    const channel = new MessageChannel();
    this.port = channel.port1;
    this.port.onmessage = (message) => this.onChannelMessage(message.data);
    // An opaque origin cannot be named as a target, hence '*' for that case
    // only: the frame is the one we just created.
    this.frame.contentWindow.postMessage({ type: 'connect' }, this.opaque ? '*' : this.evalFrameOrigin, [channel.port2]);
    this.markReady(this.port);
  }

  onChannelMessage(message) {
    if (message?.type === 'result' && this.pending.has(message.id)) {
      const { resolve } = this.pending.get(message.id);
      this.pending.delete(message.id);
      resolve({
        output: Array.isArray(message.output) ? message.output.map(cleanLine) : [],
        error: typeof message.error === 'string' ? message.error : null,
      });
    } else if (message?.type === 'file') {
      this.answerFileRequest(message);
    }
  }

  async answerFileRequest(request) {
    const port = this.port;
    const answer = await this.fileBroker.handle(request);
    const bytes = answer.value?.bytes;
    // The port may belong to a frame that was reset meanwhile; then nobody listens.
    port?.postMessage({ type: 'file-answer', id: request.id, ...answer }, bytes instanceof ArrayBuffer ? [bytes] : []);
  }

  /** Runs a %% js cell; resolves with { output: [{level, text}], error }. */
  run(code) {
    return this.send({ type: 'run', code });
  }

  /** Runs a %% fetch cell: its variables, scripts and stylesheets land in the frame. */
  fetch(source) {
    return this.send({ type: 'fetch', source });
  }

  /** Applies a %% css cell to the sandbox document; `cell` (its index) lets a rerun replace its styles. */
  style(source, cell) {
    return this.send({ type: 'css', source, cell });
  }

  async send(message) {
    // A reset while waiting means a new frame: wait for its channel instead.
    let port = await this.ready;
    while (port !== this.port) port = await this.ready;
    const id = `run-${this.nextId++}`;
    const result = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      setTimeout(() => {
        if (!this.pending.delete(id)) return;
        resolve({ output: [], error: 'No answer from the sandbox after 30 s: is the code stuck? Reset the sandbox to stop it.' });
      }, RUN_TIMEOUT_MS);
    });
    port.postMessage({ ...message, id });
    return result;
  }
}

/** The frame is not trusted: keep only text from what it sends. */
function cleanLine(line) {
  return { level: String(line?.level ?? 'log'), text: String(line?.text ?? '') };
}
