// Every GraphQL operation the editor sends, as plain functions.

import { graphql, graphqlRead, graphqlWithFiles } from './api.js';
import { live } from './live.js';

const NOTEBOOK_SUMMARY = `
  id title updatedAt revisionCount
  owner { id username avatar }`;

const PAGE_INFO = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount';

/** One page of notebooks, newest first; `after` is the previous page's endCursor. */
export async function listNotebooks({ first = 20, after = null, owner = null, search = null } = {}) {
  const data = await graphql(
    `query($first: Int, $after: String, $owner: String, $search: String) {
      notebooks(first: $first, after: $after, owner: $owner, search: $search) {
        nodes { ${NOTEBOOK_SUMMARY} }
        ${PAGE_INFO}
      }
    }`,
    { first, after, owner, search: search || null },
  );
  return data.notebooks;
}

export async function viewer() {
  const data = await graphql('{ viewer { id username avatar } }');
  return data.viewer;
}

/** Over GET, so that reopening an unchanged notebook costs a 304. */
export async function notebookDetails(id) {
  const data = await graphqlRead(
    `query($id: ID!) {
      notebook(id: $id) {
        id title viewerCanEdit
        owner { id username avatar }
        latestRevision { id title content createdAt }
        forkedFrom { id notebook { id title } }
      }
    }`,
    { id },
  );
  return data.notebook;
}

export async function createNotebook({ title, content, forkedFrom = null }) {
  const data = await graphql(
    `mutation($input: CreateNotebookInput!) {
      createNotebook(input: $input) { id latestRevision { id } }
    }`,
    { input: { title, content, forkedFrom } },
  );
  return data.createNotebook;
}

export async function deleteNotebook(id) {
  await graphql('mutation($id: ID!) { deleteNotebook(id: $id) }', { id });
}

/** Saves a revision; with parentRevisionId, the server refuses (CONFLICT) if it is not the latest. */
export async function createRevision({ notebookId, title, content, parentRevisionId = null }) {
  const input = { notebookId, title, content };
  if (parentRevisionId) input.parentRevisionId = parentRevisionId;
  const data = await graphql(
    `mutation($input: CreateRevisionInput!) {
      createRevision(input: $input) { id title content createdAt }
    }`,
    { input },
  );
  return data.createRevision;
}

export async function listRevisions(notebookId, { first = 20, after = null } = {}) {
  const data = await graphql(
    `query($id: ID!, $first: Int, $after: String) {
      notebook(id: $id) {
        id title viewerCanEdit
        latestRevision { id }
        revisions(first: $first, after: $after) {
          nodes { id title content createdAt isDraft }
          ${PAGE_INFO}
        }
      }
    }`,
    { id: notebookId, first, after },
  );
  return data.notebook;
}

const OPERATION = 'id status scheduledAt startedAt endedAt failureReason';
const FILE = 'id filename size contentType lastUpdated url';
const SOURCE = `id filename url updateInterval latestUpdateOperation { ${OPERATION} }`;

export async function notebookFiles(notebookId) {
  const data = await graphql(
    `query($id: ID!) {
      notebook(id: $id) { id files { ${FILE} } fileSources { ${SOURCE} } }
    }`,
    { id: notebookId },
  );
  return data.notebook;
}

/** A notebook's files, without the file sources. */
export async function listFiles(notebookId) {
  const data = await graphql(
    `query($id: ID!) { notebook(id: $id) { id files { ${FILE} } } }`,
    { id: notebookId },
  );
  return data.notebook?.files;
}

export async function uploadFile(notebookId, filename, file) {
  const data = await graphqlWithFiles(
    `mutation($input: UploadFileInput!) { uploadFile(input: $input) { ${FILE} } }`,
    { input: { notebookId, filename, file: null } },
    { 'variables.input.file': file },
  );
  return data.uploadFile;
}

export async function replaceFile(id, file) {
  const data = await graphqlWithFiles(
    `mutation($input: UpdateFileInput!) { updateFile(input: $input) { ${FILE} } }`,
    { input: { id, file: null } },
    { 'variables.input.file': file },
  );
  return data.updateFile;
}

export async function renameFile(id, filename) {
  const data = await graphql(
    `mutation($input: UpdateFileInput!) { updateFile(input: $input) { ${FILE} } }`,
    { input: { id, filename } },
  );
  return data.updateFile;
}

export async function deleteFile(id) {
  await graphql('mutation($id: ID!) { deleteFile(id: $id) }', { id });
}

export async function createFileSource({ notebookId, filename, url, updateInterval = null }) {
  const data = await graphql(
    `mutation($input: CreateFileSourceInput!) { createFileSource(input: $input) { ${SOURCE} } }`,
    { input: { notebookId, filename, url, updateInterval } },
  );
  return data.createFileSource;
}

export async function deleteFileSource(id) {
  await graphql('mutation($id: ID!) { deleteFileSource(id: $id) }', { id });
}

/** Queues a fetch now; returns the new update operation. */
export async function refreshFileSource(id) {
  const data = await graphql(
    `mutation($id: ID!) { refreshFileSource(id: $id) { ${OPERATION} } }`,
    { id },
  );
  return data.refreshFileSource;
}

/** Named, so that the requests of a poll can be told apart (tests count them). */
export async function fileUpdateOperation(id) {
  const data = await graphql(
    `query FileUpdateOperation($id: ID!) { fileUpdateOperation(id: $id) { ${OPERATION} } }`,
    { id },
  );
  return data.fileUpdateOperation;
}

// Subscriptions, over the page's WebSocket (live.js). Each takes a sink with
// next(item), error(errors), complete() and optionally dropped(), and returns
// a function that ends it.

function follow(query, variables, field, sink) {
  return live().subscribe(query, variables, { ...sink, next: (data) => sink.next(data?.[field]) });
}

/** Each revision saved from now on, wherever it was saved. Ends when the notebook is deleted. */
export function onRevisionSaved(notebookId, sink) {
  return follow(
    'subscription($id: ID!) { revisionSaved(notebookId: $id) { id title content createdAt } }',
    { id: notebookId }, 'revisionSaved', sink,
  );
}

/** The notebook (its title, files and file sources) after each change. Ends when it is deleted. */
export function onNotebookChanged(notebookId, sink) {
  return follow(
    `subscription($id: ID!) { notebookChanged(id: $id) { id title files { ${FILE} } fileSources { ${SOURCE} } } }`,
    { id: notebookId }, 'notebookChanged', sink,
  );
}

/** Each status change of a fetch. Ends when the fetch has ended. */
export function onFileUpdateOperationChanged(id, sink) {
  return follow(
    `subscription($id: ID!) { fileUpdateOperationChanged(id: $id) { ${OPERATION} } }`,
    { id }, 'fileUpdateOperationChanged', sink,
  );
}
