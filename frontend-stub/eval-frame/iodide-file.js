// iodide.file, as in Iodide: load, save, exists, list and delete the notebook's
// files. The frame holds no credential, so each call is a request to the editor
// (over the channel that eval-frame.js opens), which checks it and performs it;
// here the data is only turned into bytes and back.
(function iodideFile(internals) {
  'use strict';

  var LOAD_TYPES = ['text', 'json', 'arrayBuffer', 'blob'];

  /** The bytes to save: strings as UTF-8, ArrayBuffers and Blobs as they are, anything else as JSON. */
  async function toBytes(data) {
    if (typeof data === 'string') return new TextEncoder().encode(data).buffer;
    if (data instanceof ArrayBuffer) return data.slice(0);
    if (ArrayBuffer.isView(data)) return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    if (data instanceof Blob) return data.arrayBuffer();
    var json = data === undefined ? undefined : JSON.stringify(data);
    if (json === undefined) throw new TypeError('iodide.file.save: there is nothing to save (the data is ' + typeof data + ').');
    return new TextEncoder().encode(json).buffer;
  }

  function fromBytes(loaded, type, name) {
    if (type === 'arrayBuffer') return loaded.bytes;
    if (type === 'blob') return new Blob([loaded.bytes], { type: loaded.contentType });
    var text = new TextDecoder().decode(loaded.bytes);
    if (type === 'text') return text;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new SyntaxError('iodide.file.load: ' + name + ' is not valid JSON (' + e.message + ')');
    }
  }

  /** `request(message)` resolves with the editor's answer or rejects with its error. */
  internals.makeFileApi = function makeFileApi(request) {
    return Object.freeze({
      load: async function load(name, type) {
        var wanted = type === undefined ? 'text' : type;
        if (LOAD_TYPES.indexOf(wanted) < 0) {
          throw new TypeError('iodide.file.load: the type must be one of ' + LOAD_TYPES.join(', ') + ', not ' + String(type) + '.');
        }
        return fromBytes(await request({ op: 'load', name: name }), wanted, name);
      },
      save: async function save(data, name, options) {
        var bytes = await toBytes(data);
        return request({ op: 'save', name: name, bytes: bytes, overwrite: Boolean(options && options.overwrite) }, [bytes]);
      },
      exists: function exists(name) { return request({ op: 'exists', name: name }); },
      list: function list() { return request({ op: 'list' }); },
      delete: async function remove(name) { await request({ op: 'delete', name: name }); },
    });
  };
})(self.IodideEvalFrame = self.IodideEvalFrame || {});
