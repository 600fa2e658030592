// A notebook's history: its revisions, newest first, each viewable, and
// restorable by the owner (saved again as the newest revision).

import { h, replaceChildren, formatDate, notice } from '../dom.js';
import { describeError } from '../api.js';
import * as queries from '../queries.js';

const PAGE_SIZE = 20;

export function revisionsPage(data) {
  const { notebook } = data;
  const list = h('div', { testid: 'revision-list' });
  const preview = h('div', { class: 'revision-preview', testid: 'revision-preview' },
    h('p', { class: 'empty' }, 'Select a revision to see its text.'));
  const message = h('div', { class: 'banners' });
  const pager = h('div', { class: 'pager' });
  const previousCursors = [];
  let cursor = null;

  async function load() {
    try {
      const result = await queries.listRevisions(notebook.id, { first: PAGE_SIZE, after: cursor });
      render(result);
    } catch (error) {
      replaceChildren(message, notice('error', describeError(error)));
    }
  }

  function render(result) {
    const latestId = result.latestRevision.id;
    const page = result.revisions;
    replaceChildren(list, h('ul', { class: 'revision-rows' }, page.nodes.map((revision) => {
      const isLatest = revision.id === latestId;
      return h('li', { class: 'revision-row', testid: 'revision-row', dataset: { id: revision.id } },
        h('button', { class: 'revision-select', on: { click: () => showPreview(revision) } },
          h('span', { class: 'revision-title' }, revision.title),
          h('span', { class: 'revision-date' }, formatDate(revision.createdAt)),
          isLatest && h('span', { class: 'badge badge-completed' }, 'latest'),
          revision.isDraft && h('span', { class: 'badge', title: 'Saved by autosave; may be pruned' }, 'draft')),
        h('span', { class: 'row-actions' },
          h('a', { class: 'button button-small', href: `/notebooks/${notebook.id}/?revision=${revision.id}`, testid: 'revision-open' }, 'Open'),
          result.viewerCanEdit && !isLatest && h('button', {
            class: 'button button-small button-primary', testid: 'revision-restore', on: { click: () => restore(revision) },
          }, 'Restore')));
    })));
    replaceChildren(pager,
      h('button', { class: 'button button-small', disabled: previousCursors.length === 0, on: { click: () => { cursor = previousCursors.pop() ?? null; load(); } } }, '← Newer'),
      h('span', { class: 'pager-count' }, `${page.totalCount} revision${page.totalCount === 1 ? '' : 's'}`),
      h('button', { class: 'button button-small', disabled: !page.pageInfo.hasNextPage, on: { click: () => { previousCursors.push(cursor); cursor = page.pageInfo.endCursor; load(); } } }, 'Older →'));
  }

  function showPreview(revision) {
    replaceChildren(preview,
      h('h3', {}, revision.title),
      h('p', { class: 'hint' }, `Saved ${formatDate(revision.createdAt)}`),
      h('pre', { class: 'cell-code' }, revision.content || '(empty)'));
  }

  async function restore(revision) {
    try {
      // Restoring is an explicit choice: no parentRevisionId, and every
      // revision in between stays in the history.
      await queries.createRevision({ notebookId: notebook.id, title: revision.title, content: revision.content });
      location.assign(`/notebooks/${notebook.id}/`);
    } catch (error) {
      replaceChildren(message, notice('error', describeError(error)));
    }
  }

  load();
  return h('main', { class: 'page revisions-page' },
    h('div', { class: 'page-title' },
      h('h1', {}, 'History of ', h('a', { href: `/notebooks/${notebook.id}/` }, notebook.title))),
    message,
    h('div', { class: 'history' }, h('section', { class: 'panel' }, list, pager), h('section', { class: 'panel' }, preview)),
  );
}
