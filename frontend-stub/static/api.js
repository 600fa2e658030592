// The editor's only way to the data: GraphQL at /api/graphql with the session
// cookie, plus multipart uploads per the GraphQL multipart request spec.

export class ApiError extends Error {
  /** code: the GraphQL extensions.code (CONFLICT, NOT_FOUND...), or NETWORK. */
  constructor(message, code, status) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

const ENDPOINT = '/api/graphql';

/**
 * Sends an operation as an automatic persisted query: its SHA-256 first, and
 * the text too only when the server does not know the hash yet (Apollo's
 * protocol). Where the page has no WebCrypto (plain http off localhost), the
 * text goes every time.
 */
export async function graphql(query, variables = {}) {
  const operationName = query.match(/^\s*(?:query|mutation)\s+([_A-Za-z]\w*)/)?.[1];
  return persisted(query, (extensions, withQuery) => send({
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ ...(withQuery ? { query } : {}), operationName, variables, extensions }),
  }));
}

/**
 * A query over GET, which the browser's cache revalidates with the answer's
 * ETag: an unchanged answer comes back as 304, without its body.
 */
export async function graphqlRead(query, variables = {}) {
  return persisted(query, (extensions, withQuery) => {
    const params = new URLSearchParams({ variables: JSON.stringify(variables) });
    if (withQuery) params.set('query', query);
    if (extensions) params.set('extensions', JSON.stringify(extensions));
    return send({
      method: 'GET',
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    }, `${ENDPOINT}?${params}`);
  });
}

const hashes = new Map();

async function sha256(text) {
  if (!globalThis.crypto?.subtle) return null;
  if (!hashes.has(text)) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    const hex = [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
    hashes.set(text, hex);
  }
  return hashes.get(text);
}

async function persisted(query, request) {
  const hash = await sha256(query);
  if (!hash) return request(undefined, true);
  const extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
  try {
    return await request(extensions, false);
  } catch (error) {
    if (error.code !== 'PERSISTED_QUERY_NOT_FOUND') throw error;
    return request(extensions, true);
  }
}

/**
 * A mutation with files. `files` maps a variable path ("variables.file") to a
 * File or Blob; those variables are sent as null and the files as parts.
 */
export async function graphqlWithFiles(query, variables, files) {
  const map = {};
  const form = new FormData();
  const paths = Object.keys(files);
  paths.forEach((path, index) => { map[String(index)] = [path]; });
  form.append('operations', JSON.stringify({ query, variables }));
  form.append('map', JSON.stringify(map));
  paths.forEach((path, index) => form.append(String(index), files[path], files[path].name ?? 'file'));
  return send({
    method: 'POST',
    credentials: 'same-origin',
    // The server refuses multipart without a header that a cross-site form
    // cannot send; the browser sets Content-Type with the boundary itself.
    headers: { 'X-Requested-With': 'XMLHttpRequest', Accept: 'application/json' },
    body: form,
  });
}

async function send(init, url = ENDPOINT) {
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError('Cannot reach the server. Check your connection and try again.', 'NETWORK', 0);
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} without a readable body.`, 'INTERNAL', response.status);
  }
  const [first] = body.errors ?? [];
  if (first) {
    throw new ApiError(first.message, first.extensions?.code ?? 'INTERNAL', response.status);
  }
  if (!response.ok || !body.data) {
    throw new ApiError(`The server answered ${response.status}.`, 'INTERNAL', response.status);
  }
  return body.data;
}

/** A message for people, from any error a request can throw. */
export function describeError(error) {
  if (error instanceof ApiError) return error.message;
  return `Something went wrong: ${error?.message ?? error}`;
}
