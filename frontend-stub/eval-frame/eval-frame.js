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

  // Runs are queued so that cells finish in the order they were sent.
  var queue = Promise.resolve();

  window.addEventListener('message', function (event) {
    if (event.origin !== editorOrigin || event.source !== window.parent) return;
    var message = event.data;
    if (!message || message.type !== 'run' || typeof message.code !== 'string') return;
    var hint = document.getElementById('empty-hint');
    if (hint) hint.remove();
    queue = queue.then(function () {
      return run(message.code, message.id).then(function (result) {
        reply({ type: 'result', id: message.id, output: result.output, error: result.error });
      });
    });
  });

  reply({ type: 'ready' });
})();
