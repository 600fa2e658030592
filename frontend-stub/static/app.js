// The editor's entry point: reads the data the server embedded in the page
// and shows the view it names.

import { h, replaceChildren } from './dom.js';
import { initViewer } from './session.js';
import { renderHeader } from './header.js';
import { notebookListPage } from './views/notebook-list.js';
import { notebookPage } from './views/notebook.js';
import { revisionsPage } from './views/revisions.js';
import { tryPage } from './views/try.js';

const VIEWS = {
  notebooks: notebookListPage,
  notebook: notebookPage,
  revisions: revisionsPage,
  try: tryPage,
};

function start() {
  const data = JSON.parse(document.getElementById('page-data').textContent);
  initViewer(data.viewer);
  const view = VIEWS[data.page];
  const app = document.getElementById('app');
  const content = view
    ? view(data)
    : h('main', { class: 'page' }, h('p', {}, `Unknown page ${data.page}`));
  replaceChildren(app, renderHeader(), content);
  document.body.dataset.page = data.page;
  document.body.dataset.ready = 'true';
}

start();
