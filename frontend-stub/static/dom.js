// Small helpers to build the page from code. Text always goes in as text nodes,
// never as HTML, so notebook titles and contents cannot inject markup.

/**
 * Creates an element. `props` may hold: class, testid (data-testid), on (event
 * listeners), style (an object or a string), dataset, and any other attribute
 * or property (`value`, `disabled`, `href`...). Children are nodes, strings, or
 * arrays of them; null and false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    applyProp(element, key, value);
  }
  append(element, children);
  return element;
}

function applyProp(element, key, value) {
  if (value === undefined || value === null) return;
  if (value === false && !(key in element)) return;
  if (key === 'class') element.className = value;
  else if (key === 'testid') element.dataset.testid = value;
  else if (key === 'on') {
    for (const [event, listener] of Object.entries(value)) element.addEventListener(event, listener);
  } else if (key === 'style' && typeof value === 'object') Object.assign(element.style, value);
  else if (key === 'dataset') Object.assign(element.dataset, value);
  else if (key in element && typeof element[key] !== 'function' && !key.includes('-')) element[key] = value;
  else element.setAttribute(key, value === true ? '' : String(value));
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
  return parent;
}

/** Replaces everything inside `parent` with `children`. */
export function replaceChildren(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(iso) {
  if (!iso) return '';
  return dateFormat.format(new Date(iso));
}

/** "3 minutes ago", falling back to the date for anything older than a week. */
export function formatRelative(iso) {
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} hour${hours === 1 ? '' : 's'} ago`;
  const days = Math.round(hours / 24);
  if (days < 7) return `${days} day${days === 1 ? '' : 's'} ago`;
  return formatDate(iso);
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** A user's avatar, or a coloured circle with their initial when they have none. */
export function avatar(user, size = 24) {
  const style = { width: `${size}px`, height: `${size}px` };
  if (user?.avatar) {
    return h('img', { class: 'avatar', src: user.avatar, alt: '', style, referrerPolicy: 'no-referrer' });
  }
  const name = user?.username ?? '?';
  const hue = [...name].reduce((sum, c) => sum + c.charCodeAt(0), 0) % 360;
  return h('span', {
    class: 'avatar avatar-initial',
    'aria-hidden': 'true',
    style: { ...style, background: `hsl(${hue} 55% 45%)`, fontSize: `${Math.round(size / 2)}px` },
  }, name.slice(0, 1).toUpperCase());
}

export function userBadge(user, size = 20) {
  return h('span', { class: 'user-badge', testid: 'owner' }, avatar(user, size), h('span', {}, user?.username ?? 'unknown'));
}

/** A message box above the content: kind is 'info', 'warning' or 'error'. */
export function notice(kind, ...children) {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}
