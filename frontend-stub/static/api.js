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

export async function graphql(query, variables = {}) {
  return send({
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
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

async function send(init) {
  let response;
  try {
    response = await fetch(ENDPOINT, init);
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
