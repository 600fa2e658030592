// Live updates: GraphQL subscriptions over one WebSocket per page, in the
// graphql-transport-ws protocol (connection_init/ack, subscribe, next, error,
// complete, ping/pong). The session cookie goes with the upgrade, so
// connection_init carries nothing.
//
// Hand-written rather than the graphql-ws package: the editor has no bundler,
// and it needs to know when the connection drops so that each follower can
// catch up on what it missed meanwhile (graphql-ws re-subscribes silently).

const PROTOCOL = 'graphql-transport-ws';
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;
/** How long ready() waits for the first connection before answering "no". */
const READY_TIMEOUT_MS = 5000;
/** Close codes after which retrying with the same cookie cannot help. */
const FATAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4406]);

function endpoint() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/graphql`;
}

/**
 * States: 'idle' (no subscription yet), 'connecting', 'open' (acknowledged),
 * 'down' (closed or refused; a retry is scheduled unless the close was fatal).
 */
export class LiveConnection {
  constructor(url = endpoint()) {
    this.url = url;
    this.state = 'idle';
    this.socket = null;
    this.subscriptions = new Map();
    this.listeners = new Set();
    this.nextId = 1;
    this.failures = 0;
    this.everOpened = false;
    this.retryTimer = null;
    /** The last close said that retrying with the same cookie cannot help. */
    this.fatal = false;
  }

  /** Calls `listener(state, { reconnected })` on every change of state. */
  onState(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setState(state, details = {}) {
    this.state = state;
    // For styles and tests: whether live updates are on.
    document.documentElement.dataset.live = state;
    for (const listener of this.listeners) listener(state, details);
  }

  /**
   * Resolves true once the connection is acknowledged, false when it fails
   * first (or takes longer than a few seconds): the caller then polls instead.
   */
  ready() {
    this.connect();
    if (this.state === 'open') return Promise.resolve(true);
    if (this.state === 'down') return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(false), READY_TIMEOUT_MS);
      const stop = this.onState((state) => {
        if (state === 'open') settle(true);
        else if (state === 'down') settle(false);
      });
      function settle(answer) {
        clearTimeout(timer);
        stop();
        resolve(answer);
      }
    });
  }

  /**
   * Starts a subscription. `sink` has next(data), error(errors), complete(),
   * and optionally dropped(): with it, a drop of the connection ends the
   * subscription (the owner takes over, e.g. by polling); without it, the
   * subscription is sent again once the connection is back. Returns a
   * function that ends it.
   */
  subscribe(query, variables, sink) {
    const id = String(this.nextId++);
    this.subscriptions.set(id, { query, variables, sink });
    if (this.state === 'open') this.sendSubscribe(id);
    else this.connect();
    return () => {
      if (this.subscriptions.delete(id) && this.state === 'open') this.send({ id, type: 'complete' });
    };
  }

  /** Drops the connection and opens a new one: after a sign-in, for the new cookie. */
  restart() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.fatal = false;
    this.failures = 0;
    const socket = this.socket;
    if (socket) {
      this.closed(1000);
      socket.close(1000, 'restart');
    } else if (this.subscriptions.size) {
      this.connect();
    }
  }

  connect() {
    if (this.socket || this.retryTimer || (this.state === 'down' && this.fatal)) return;
    this.setState('connecting');
    let socket;
    try {
      socket = new WebSocket(this.url, PROTOCOL);
    } catch {
      this.closed(1006);
      return;
    }
    this.socket = socket;
    socket.onopen = () => this.send({ type: 'connection_init', payload: {} });
    socket.onmessage = (event) => this.received(event.data);
    socket.onclose = (event) => {
      if (this.socket === socket) this.closed(event.code);
    };
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  sendSubscribe(id) {
    const { query, variables } = this.subscriptions.get(id);
    this.send({ id, type: 'subscribe', payload: { query, variables } });
  }

  received(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      this.socket.close(4400, 'Invalid message');
      return;
    }
    const subscription = this.subscriptions.get(message.id);
    switch (message.type) {
      case 'connection_ack':
        this.opened();
        break;
      case 'ping':
        this.send({ type: 'pong' });
        break;
      case 'next':
        if (message.payload?.errors?.length) subscription?.sink.error(message.payload.errors);
        else subscription?.sink.next(message.payload?.data);
        break;
      case 'error':
        this.subscriptions.delete(message.id);
        subscription?.sink.error(message.payload);
        break;
      case 'complete':
        this.subscriptions.delete(message.id);
        subscription?.sink.complete();
        break;
      default:
        break;
    }
  }

  opened() {
    const reconnected = this.everOpened;
    this.everOpened = true;
    this.failures = 0;
    this.fatal = false;
    for (const id of this.subscriptions.keys()) this.sendSubscribe(id);
    this.setState('open', { reconnected });
  }

  closed(code) {
    this.socket = null;
    for (const [id, { sink }] of this.subscriptions) {
      if (sink.dropped) {
        this.subscriptions.delete(id);
        sink.dropped();
      }
    }
    this.fatal = FATAL_CLOSE_CODES.has(code);
    this.setState('down', { code });
    if (!this.fatal) this.scheduleRetry();
  }

  /** Exponential backoff with jitter, so that a restarted server is not met by every tab at once. */
  scheduleRetry() {
    const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures);
    this.failures += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }
}

let shared = null;

/** The page's one connection, opened on its first subscription. */
export function live() {
  if (!shared) shared = new LiveConnection();
  return shared;
}
