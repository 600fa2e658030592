// The front page: the signed-in person's notebooks and everyone's, each a
// paged list (cursor pagination, newest first) with owner and avatar.

import { h, replaceChildren, userBadge, formatRelative, notice } from '../dom.js';
import { describeError } from '../api.js';
import * as queries from '../queries.js';
import { getViewer, onViewerChange } from '../session.js';

const PAGE_SIZE = 20;

export const STARTER_CONTENT = `%% md
# A new notebook

Text cells start with "%% md", JavaScript cells with "%% js".

%% js
console.log('Hello!');
6 * 7
`;

/** Creates a notebook for the signed-in person and opens it; anyone else gets /new's try-out. */
export async function createAndOpenNotebook() {
  if (!getViewer()) {
    location.assign('/new');
    return;
  }
  const created = await queries.createNotebook({ title: 'Untitled notebook', content: STARTER_CONTENT });
  location.assign(`/notebooks/${created.id}/`);
}

/** A paged list of notebooks; `filter` holds owner and search. */
class NotebookTable {
  constructor({ testid, filter, pageSize = PAGE_SIZE, emptyText }) {
    this.filter = filter;
    this.pageSize = pageSize;
    this.emptyText = emptyText;
    // Cursors of the pages before this one: "Newer" goes back by popping.
    this.previousCursors = [];
    this.cursor = null;
    this.body = h('div', { class: 'notebook-table' });
    this.pager = h('div', { class: 'pager' });
    this.element = h('div', { testid }, this.body, this.pager);
  }

  async load() {
    replaceChildren(this.body, h('p', { class: 'empty' }, 'Loading…'));
    try {
      const page = await queries.listNotebooks({ first: this.pageSize, after: this.cursor, ...this.filter });
      this.render(page);
    } catch (error) {
      replaceChildren(this.body, notice('error', describeError(error)));
    }
  }

  setFilter(filter) {
    this.filter = filter;
    this.previousCursors = [];
    this.cursor = null;
    return this.load();
  }

  render(page) {
    replaceChildren(this.body, page.nodes.length
      ? h('ul', { class: 'notebook-rows' }, page.nodes.map(notebookRow))
      : h('p', { class: 'empty' }, this.emptyText));
    const first = this.previousCursors.length * this.pageSize + 1;
    const last = first + page.nodes.length - 1;
    replaceChildren(this.pager,
      h('button', {
        class: 'button button-small', testid: 'page-newer', disabled: this.previousCursors.length === 0,
        on: { click: () => { this.cursor = this.previousCursors.pop() ?? null; this.load(); } },
      }, '← Newer'),
      h('span', { class: 'pager-count', testid: 'page-count' },
        page.nodes.length ? `${first}–${last} of ${page.totalCount}` : `${page.totalCount} notebooks`),
      h('button', {
        class: 'button button-small', testid: 'page-older', disabled: !page.pageInfo.hasNextPage,
        on: { click: () => { this.previousCursors.push(this.cursor); this.cursor = page.pageInfo.endCursor; this.load(); } },
      }, 'Older →'));
  }
}

function notebookRow(notebook) {
  return h('li', { class: 'notebook-row', testid: 'notebook-row', dataset: { id: notebook.id } },
    h('a', { class: 'notebook-link', href: `/notebooks/${notebook.id}/` }, notebook.title),
    h('span', { class: 'notebook-row-meta' },
      userBadge(notebook.owner),
      h('span', { title: notebook.updatedAt }, `updated ${formatRelative(notebook.updatedAt)}`),
      h('span', {}, `${notebook.revisionCount} revision${notebook.revisionCount === 1 ? '' : 's'}`)));
}

export function notebookListPage(data) {
  const pageSize = Number(new URLSearchParams(location.search).get('per_page')) || PAGE_SIZE;
  const everyone = new NotebookTable({ testid: 'all-notebooks', filter: {}, pageSize, emptyText: 'No notebooks yet.' });
  const mine = new NotebookTable({ testid: 'my-notebooks', filter: {}, pageSize, emptyText: 'You have no notebooks yet.' });
  const mineSection = h('section', { class: 'panel', testid: 'my-notebooks-section' });
  const message = h('div', { class: 'banners' });

  const showMine = () => {
    const viewer = getViewer();
    if (!viewer) {
      replaceChildren(mineSection, h('h2', {}, 'Your notebooks'),
        h('p', { class: 'empty' }, 'Sign in to see and create your own notebooks.'));
      return;
    }
    replaceChildren(mineSection, h('h2', {}, 'Your notebooks'), mine.element);
    mine.setFilter({ owner: viewer.username });
  };
  showMine();
  onViewerChange(showMine);
  everyone.load();

  const search = h('input', { class: 'input', type: 'search', placeholder: 'Search titles', testid: 'search', 'aria-label': 'Search notebook titles' });
  let searchTimer;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => everyone.setFilter({ search: search.value.trim() || null }), 250);
  });

  const newButton = h('button', {
    class: 'button button-primary', id: 'new-notebook', testid: 'new-notebook',
    on: { click: () => createAndOpenNotebook().catch((error) => replaceChildren(message, notice('error', describeError(error)))) },
  }, '+ New notebook');

  return h('main', { class: 'page list-page' },
    h('div', { class: 'page-title' }, h('h1', {}, 'Notebooks'), newButton),
    message,
    mineSection,
    h('section', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h2', {}, 'All notebooks'), search),
      everyone.element),
  );
}
