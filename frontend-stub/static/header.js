// The bar at the top of every page: home, a new notebook, and who is signed in.

import { h, avatar, replaceChildren } from './dom.js';
import { getViewer, onViewerChange, signIn, signOutUrl } from './session.js';

export function renderHeader({ onNewNotebook } = {}) {
  const account = h('div', { class: 'account', testid: 'account' });
  const update = () => replaceChildren(account, accountContent(getViewer()));
  update();
  onViewerChange(update);
  return h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: '/' }, h('span', { class: 'brand-mark' }, 'I'), 'Iodide'),
    h('nav', { class: 'topnav' },
      h('a', { href: '/' }, 'Notebooks'),
      onNewNotebook
        ? h('button', { class: 'link-button', testid: 'header-new-notebook', on: { click: onNewNotebook } }, 'New notebook')
        : h('a', { href: '/new' }, 'New notebook'),
    ),
    account,
  );
}

function accountContent(viewer) {
  if (!viewer) {
    return h('button', { class: 'button button-primary', id: 'sign-in', testid: 'sign-in', on: { click: () => signIn() } }, 'Sign in');
  }
  return [
    h('span', { class: 'user-badge', testid: 'viewer' }, avatar(viewer, 26), h('span', { testid: 'viewer-name' }, viewer.username)),
    h('a', { class: 'button button-quiet', href: signOutUrl(), testid: 'sign-out' }, 'Sign out'),
  ];
}
