// %% fetch cells, as in Iodide: one request per line,
//   text: csv = files/data.csv        (also json, arrayBuffer, blob, bytes)
//   js: https://example.org/lib.js    (a script, run in the frame)
//   css: files/report.css             (a stylesheet for the frame's document)
// where a source is the notebook's file (files/NAME, through iodide.file) or an
// http(s) URL, fetched by the frame itself without credentials. Lines run in
// order; variables become globals for the next cells. "//" starts a comment.
(function fetchCell(internals) {
  'use strict';

  var VARIABLE_LINE = /^(text|json|arrayBuffer|blob|bytes)\s*:\s*([A-Za-z_$][\w$]*)\s*=\s*(.+)$/;
  var RESOURCE_LINE = /^(js|css)\s*:\s*(.+)$/;
  var FILES_PREFIX = 'files/';

  function parseLine(line) {
    var variable = VARIABLE_LINE.exec(line);
    if (variable) return { kind: 'variable', type: variable[1], name: variable[2], source: variable[3].trim() };
    var resource = RESOURCE_LINE.exec(line);
    if (resource) return { kind: resource[1], source: resource[2].trim() };
    return { kind: 'unknown', source: line };
  }

  function checkedUrl(source) {
    var url;
    try { url = new URL(source); } catch (e) { url = null; }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new Error('a source is files/NAME (a file of this notebook) or an https URL');
    }
    return url.href;
  }

  async function fetchUrl(source, type) {
    var response = await fetch(checkedUrl(source), { credentials: 'omit' });
    if (!response.ok) throw new Error('the server answered ' + response.status);
    if (type === 'bytes') return new Uint8Array(await response.arrayBuffer());
    return response[type]();
  }

  function loadData(files, source, type) {
    if (source.indexOf(FILES_PREFIX) === 0) return files.load(source.slice(FILES_PREFIX.length), type);
    return fetchUrl(source, type);
  }

  /** A URL the page can load a script or stylesheet from: files become blob: URLs. */
  async function resourceUrl(files, source, contentType) {
    if (source.indexOf(FILES_PREFIX) !== 0) return checkedUrl(source);
    var bytes = await files.load(source.slice(FILES_PREFIX.length), 'arrayBuffer');
    return URL.createObjectURL(new Blob([bytes], { type: contentType }));
  }

  /** Adds a script or stylesheet to the page; resolves once it has loaded. */
  function attach(element, attribute, url) {
    return new Promise(function (resolve, reject) {
      element.onload = resolve;
      element.onerror = function () { reject(new Error('the browser could not load it')); };
      element[attribute] = url;
      document.head.append(element);
    }).finally(function () {
      // A file's blob: URL is needed only until the browser has read it.
      if (url.indexOf('blob:') === 0) URL.revokeObjectURL(url);
    });
  }

  async function perform(files, request) {
    if (request.kind === 'variable') {
      self[request.name] = await loadData(files, request.source, request.type);
      return request.type + ' ' + request.name + ' = ' + request.source;
    }
    if (request.kind === 'js') {
      var script = document.createElement('script');
      await attach(script, 'src', await resourceUrl(files, request.source, 'text/javascript'));
      return 'script ' + request.source;
    }
    if (request.kind === 'css') {
      var link = document.createElement('link');
      link.rel = 'stylesheet';
      await attach(link, 'href', await resourceUrl(files, request.source, 'text/css'));
      return 'stylesheet ' + request.source;
    }
    throw new Error('not a fetch line (TYPE: NAME = SOURCE, js: URL or css: URL)');
  }

  /** Runs the cell; resolves with { output, error } as a js cell does. */
  internals.runFetchCell = async function runFetchCell(source, files) {
    var output = [];
    var failed = 0;
    var lines = source.split('\n').map(function (line) { return line.trim(); })
      .filter(function (line) { return line !== '' && line.indexOf('//') !== 0; });
    for (var i = 0; i < lines.length; i += 1) {
      try {
        output.push({ level: 'info', text: 'loaded ' + await perform(files, parseLine(lines[i])) });
      } catch (e) {
        failed += 1;
        output.push({ level: 'warn', text: 'failed ' + lines[i] + ': ' + (e && e.message ? e.message : String(e)) });
      }
    }
    var error = failed ? failed + ' of ' + lines.length + ' fetches failed.' : null;
    if (!lines.length) output.push({ level: 'info', text: 'Nothing to fetch.' });
    return { output: output, error: error };
  };
})(self.IodideEvalFrame = self.IodideEvalFrame || {});
