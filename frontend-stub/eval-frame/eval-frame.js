// The eval frame: runs a notebook's JavaScript cells for the editor. It lives on
// its own origin (EVAL_FRAME_ORIGIN) or, when there is none, in an opaque
// sandboxed origin, so notebook code never runs with the editor's cookies or
// origin. It talks only to the editor window that framed it.
(function evalFrame() {
  'use strict';

  // The editor's origin comes in the URL (?editor=...) and must agree with what
  // the browser says about who framed us; the CSP frame-ancestors header already
  // lets only the editor's origin frame this page.
  var editorOrigin = expectedEditorOrigin();
  if (!editorOrigin) {
    document.body.textContent = 'This page only works inside the Iodide editor.';
    return;
  }

  function originOf(url) {
    try { return new URL(url).origin; } catch (e) { return null; }
  }

  function expectedEditorOrigin() {
    if (window.parent === window) return null;
    var claimed = originOf(new URLSearchParams(location.search).get('editor') || '');
    if (!claimed || claimed === 'null') return null;
    var ancestors = location.ancestorOrigins;
    if (ancestors && ancestors.length > 0) {
      return ancestors[0] === claimed ? claimed : null;
    }
    if (document.referrer) {
      return originOf(document.referrer) === claimed ? claimed : null;
    }
    return claimed;
  }

  function reply(message) {
    window.parent.postMessage(message, editorOrigin);
  }

  function describe(value) {
    if (typeof value === 'string') return value;
    if (value === undefined) return 'undefined';
    if (typeof value === 'function') return 'function ' + (value.name || '(anonymous)');
    if (value instanceof Error) return value.name + ': ' + value.message;
    if (typeof value === 'symbol' || typeof value === 'bigint') return value.toString();
    if (value instanceof Node) return value.outerHTML || value.textContent || value.nodeName;
    if (value instanceof Map) return 'Map ' + describe(Object.fromEntries(value));
    if (value instanceof Set) return 'Set ' + describe(Array.from(value));
    try {
      // Short values on one line, longer ones indented.
      var json = JSON.stringify(value);
      if (json === undefined) return String(value);
      return json.length <= 80 ? json : JSON.stringify(value, null, 2);
    } catch (e) {
      return String(value);
    }
  }

  function describeError(error) {
    if (error instanceof Error) return error.name + ': ' + error.message;
    return 'Uncaught ' + describe(error);
  }

  var CAPTURED = ['log', 'info', 'warn', 'error', 'debug'];

  // Routes console output into `output` until the returned function is called.
  function captureConsole(output) {
    var originals = {};
    CAPTURED.forEach(function (level) {
      originals[level] = console[level];
      console[level] = function () {
        var text = Array.prototype.map.call(arguments, describe).join(' ');
        output.push({ level: level, text: text });
        originals[level].apply(console, arguments);
      };
    });
    return function restore() {
      CAPTURED.forEach(function (level) { console[level] = originals[level]; });
    };
  }

  // Indirect eval: the code runs in the global scope, so a cell's top-level var
  // and function declarations are there for the next cells, and the value of
  // its last expression comes back.
  var globalEval = eval;

  async function run(code, id) {
    var output = [];
    var restore = captureConsole(output);
    var error = null;
    try {
      var value = globalEval(code + '\n//# sourceURL=iodide-cell-' + id + '.js');
      if (value && typeof value.then === 'function') value = await value;
      if (value !== undefined) output.push({ level: 'value', text: describe(value) });
    } catch (e) {
      error = describeError(e);
    } finally {
      restore();
    }
    return { output: output, error: error };
  }

  /** A %% css cell: one style element per cell, replaced when it runs again. */
  function applyCss(source, cell) {
    var key = String(cell);
    var style = Array.prototype.find.call(document.querySelectorAll('style[data-cell]'), function (s) { return s.dataset.cell === key; });
    if (!style) {
      style = document.createElement('style');
      style.dataset.cell = key;
      document.head.append(style);
    }
    style.textContent = source;
    return { output: [{ level: 'info', text: 'Styles applied to the sandbox document.' }], error: null };
  }

  // Everything from the editor comes over the MessagePort it sends in answer
  // to "ready"; nothing else in this window is listened to, so a message that
  // notebook code (or another window) posts here is not taken for the editor's.
  var internals = self.IodideEvalFrame;
  var port = null;
  var nextRequest = 1;
  var waiting = new Map();

  /** A file request to the editor: resolves with its value, rejects with its error. */
  function requestEditor(message, transfer) {
    var id = nextRequest++;
    return new Promise(function (resolve, reject) {
      waiting.set(id, { resolve: resolve, reject: reject });
      port.postMessage(Object.assign({}, message, { type: 'file', id: id }), transfer || []);
    });
  }

  function onFileAnswer(answer) {
    var request = waiting.get(answer.id);
    if (!request) return;
    waiting.delete(answer.id);
    if (answer.ok) request.resolve(answer.value);
    else request.reject(new Error(String(answer.error)));
  }

  var files = internals.makeFileApi(requestEditor);
  // Iodide's global: iodide.file is what notebook code uses.
  self.iodide = Object.freeze({ file: files });

  var HANDLERS = {
    run: function (message) { return run(message.code, message.id); },
    fetch: function (message) { return internals.runFetchCell(message.source, files); },
    css: function (message) { return applyCss(message.source, message.cell); },
  };

  // Cells are queued so that they finish in the order they were sent.
  var queue = Promise.resolve();

  function onEditorMessage(event) {
    var message = event.data;
    if (message && message.type === 'file-answer') return onFileAnswer(message);
    if (!message || !HANDLERS[message.type] || typeof (message.code ?? message.source) !== 'string') return;
    var hint = document.getElementById('empty-hint');
    if (hint) hint.remove();
    queue = queue.then(async function () {
      var result = await Promise.resolve(HANDLERS[message.type](message)).catch(function (e) {
        return { output: [], error: describeError(e) };
      });
      port.postMessage({ type: 'result', id: message.id, output: result.output, error: result.error });
    });
  }

  window.addEventListener('message', function (event) {
    if (port || event.origin !== editorOrigin || event.source !== window.parent) return;
    if (!event.data || event.data.type !== 'connect' || !event.ports[0]) return;
    port = event.ports[0];
    port.onmessage = onEditorMessage;
  });

  reply({ type: 'ready' });
})();
