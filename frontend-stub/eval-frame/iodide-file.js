// iodide.file, as in Iodide: load, save, exists, list, delete and lastUpdated
// for the notebook's files. The frame holds no credential, so each call is a
// request to the editor (over the channel that eval-frame.js opens), which
// checks it and performs it; here the data is only turned into bytes and back.
(function iodideFile(internals) {
  'use strict';

  var LOAD_TYPES = ['text', 'json', 'arrayBuffer', 'blob', 'bytes'];
  // Later Iodide's save(fileName, serializerType, data[, options]) names one of these.
  var SERIALIZERS = {
    text: function (data) { return String(data); },
    json: function (data) { return JSON.stringify(data); },
    arrayBuffer: function (data) { return data; },
    blob: function (data) { return data; },
  };

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
    if (type === 'bytes') return new Uint8Array(loaded.bytes);
    if (type === 'blob') return new Blob([loaded.bytes], { type: loaded.contentType });
    var text = new TextDecoder().decode(loaded.bytes);
    if (type === 'text') return text;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new SyntaxError('iodide.file.load: ' + name + ' is not valid JSON (' + e.message + ')');
    }
  }

  function isSaveOptions(value) {
    return Boolean(value) && typeof value === 'object' && Object.keys(value).every(function (key) { return key === 'overwrite'; });
  }

  /**
   * save(data, fileName[, { overwrite }]), as in early Iodide, or
   * later Iodide's save(fileName, serializerType, data[, { overwrite }]): the
   * second form is recognised by a serializer name second and data (not
   * options) third.
   */
  function saveArguments(args) {
    var serializer = SERIALIZERS[args[1]];
    var laterForm = Object.prototype.hasOwnProperty.call(SERIALIZERS, args[1]) && args.length >= 3
      && !(args.length === 3 && isSaveOptions(args[2]));
    if (laterForm) return { name: args[0], data: serializer(args[2]), options: args[3] };
    return { name: args[1], data: args[0], options: args[2] };
  }

  /** `request(message)` resolves with the editor's answer or rejects with its error. */
  internals.makeFileApi = function makeFileApi(request) {
    return Object.freeze({
      /** The file's content as `type`; with `variableName`, also set as that global. */
      load: async function load(name, type, variableName) {
        var wanted = type === undefined ? 'text' : type;
        if (LOAD_TYPES.indexOf(wanted) < 0) {
          throw new TypeError('iodide.file.load: the type must be one of ' + LOAD_TYPES.join(', ') + ', not ' + String(type) + '.');
        }
        var value = fromBytes(await request({ op: 'load', name: name }), wanted, name);
        if (typeof variableName === 'string' && variableName !== '') self[variableName] = value;
        return value;
      },
      save: async function save() {
        var call = saveArguments(arguments);
        var bytes = await toBytes(call.data);
        return request({ op: 'save', name: call.name, bytes: bytes, overwrite: Boolean(call.options && call.options.overwrite) }, [bytes]);
      },
      lastUpdated: async function lastUpdated(name) {
        return new Date(await request({ op: 'lastUpdated', name: name }));
      },
      exists: function exists(name) { return request({ op: 'exists', name: name }); },
      list: function list() { return request({ op: 'list' }); },
      delete: async function remove(name) { await request({ op: 'delete', name: name }); },
    });
  };
})(self.IodideEvalFrame = self.IodideEvalFrame || {});
