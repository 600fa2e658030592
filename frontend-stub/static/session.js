// Who is signed in, and signing in through the /login/ popup without leaving
// the page (so nothing typed in the editor is lost).

import * as queries from './queries.js';

let currentViewer = null;
const listeners = new Set();

export function initViewer(viewer) {
  currentViewer = viewer ?? null;
}

export function getViewer() {
  return currentViewer;
}

/** Calls `listener(viewer)` whenever the signed-in user changes. */
export function onViewerChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function setViewer(viewer) {
  currentViewer = viewer;
  for (const listener of listeners) listener(viewer);
}

let pendingSignIn = null;
let signInStarted = false;

// A sign-in that finished out of our sight (the popup was cut off from this
// window and ended elsewhere) shows when the person comes back to this window.
window.addEventListener('focus', async () => {
  if (!signInStarted || currentViewer || pendingSignIn) return;
  const viewer = await queries.viewer().catch(() => null);
  if (viewer) setViewer(viewer);
});

/**
 * Opens the sign-in popup and resolves with the viewer once /login_success/
 * reports back (or null if the person closed the popup first).
 */
export function signIn() {
  if (pendingSignIn) {
    pendingSignIn.popup?.focus();
    return pendingSignIn.promise;
  }
  signInStarted = true;
  const popup = window.open('/login/', 'iodide-sign-in', 'popup,width=520,height=640');
  if (!popup) {
    // A blocked popup: sign in in this window and come back here.
    window.location.assign(`/login/?next=${encodeURIComponent(location.pathname + location.search)}`);
    return Promise.resolve(null);
  }
  const promise = new Promise((resolve) => {
    let reported = false;
    const finish = (viewer) => {
      window.removeEventListener('message', onMessage);
      clearInterval(closedWatch);
      pendingSignIn = null;
      resolve(viewer);
    };
    const onMessage = async (event) => {
      // Only our own /login_success/ page may tell us that sign-in happened.
      if (event.origin !== location.origin || event.source !== popup) return;
      if (event.data?.type !== 'login-success' || reported) return;
      reported = true;
      const viewer = await queries.viewer().catch(() => null);
      setViewer(viewer);
      finish(viewer);
    };
    // Closed without a message: the person gave up, or the provider's pages
    // cut the popup off from this window (Cross-Origin-Opener-Policy), so ask
    // the server who is signed in now.
    const closedWatch = setInterval(() => {
      if (!popup.closed) return;
      clearInterval(closedWatch);
      setTimeout(async () => {
        if (reported) return;
        const viewer = await queries.viewer().catch(() => currentViewer);
        if (viewer?.id !== currentViewer?.id) setViewer(viewer);
        finish(viewer);
      }, 1000);
    }, 500);
    window.addEventListener('message', onMessage);
  });
  pendingSignIn = { popup, promise };
  return promise;
}

export function signOutUrl() {
  return `/logout/?next=${encodeURIComponent(location.pathname + location.search)}`;
}
