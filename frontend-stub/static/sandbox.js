// The editor's side of the eval frame: an iframe on the eval origin, sandboxed,
// spoken to only by postMessage.

import { h } from './dom.js';

const RUN_TIMEOUT_MS = 30_000;

export class EvalSandbox {
  /**
   * evalFrameOrigin: where /eval-frame/ is served. When it is the editor's own
   * origin, the frame gets no allow-same-origin, so it runs in an opaque origin
   * and its code cannot use the editor's origin, cookies or storage. The
   * editor's configured origin counts too, in case the page was reached under
   * another name (127.0.0.1 for localhost).
   */
  constructor(evalFrameOrigin, editorOrigin = location.origin) {
    this.evalFrameOrigin = new URL(evalFrameOrigin).origin;
    this.opaque = this.evalFrameOrigin === location.origin || this.evalFrameOrigin === new URL(editorOrigin).origin;
    this.pending = new Map();
    this.nextId = 1;
    this.element = h('div', { class: 'sandbox' });
    window.addEventListener('message', (event) => this.onMessage(event));
    this.reset();
  }

  /** A fresh frame: nothing from earlier runs survives (and a stuck loop ends). */
  reset() {
    for (const { reject } of this.pending.values()) reject(new Error('The sandbox was reset.'));
    this.pending.clear();
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

  onMessage(event) {
    if (!this.frame || event.source !== this.frame.contentWindow) return;
    // An opaque frame's messages come from origin "null"; the source check
    // above is what identifies it then.
    const expectedOrigin = this.opaque ? 'null' : this.evalFrameOrigin;
    if (event.origin !== expectedOrigin) return;
    const message = event.data;
    if (message?.type === 'ready') this.markReady();
    if (message?.type === 'result' && this.pending.has(message.id)) {
      const { resolve } = this.pending.get(message.id);
      this.pending.delete(message.id);
      resolve({
        output: Array.isArray(message.output) ? message.output.map(cleanLine) : [],
        error: typeof message.error === 'string' ? message.error : null,
      });
    }
  }

  /** Runs code in the frame; resolves with { output: [{level, text}], error }. */
  async run(code) {
    await this.ready;
    const id = `run-${this.nextId++}`;
    const result = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      setTimeout(() => {
        if (!this.pending.delete(id)) return;
        resolve({ output: [], error: 'No answer from the sandbox after 30 s: is the code stuck? Reset the sandbox to stop it.' });
      }, RUN_TIMEOUT_MS);
    });
    // An opaque origin cannot be named as a target, hence '*' for that case only;
    // the frame is ours and only its replies (checked by source) are read.
    this.frame.contentWindow.postMessage({ type: 'run', id, code }, this.opaque ? '*' : this.evalFrameOrigin);
    return result;
  }
}

/** The frame is not trusted: keep only text from what it sends. */
function cleanLine(line) {
  return { level: String(line?.level ?? 'log'), text: String(line?.text ?? '') };
}
