// The browser tests' harness: starts the already built server on a free port
// with two loopback origins (the editor on http://localhost:P, the eval frame on
// http://127.0.0.1:P: one process, routed by Host) and a headless Chromium from
// the system. It builds nothing and downloads nothing.

import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = path.join(HERE, 'artifacts');
const SERVER_BIN = path.resolve(HERE, process.env.IODIDE_SERVER_BIN ?? '../../target/debug/iodide-server');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
];

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** GET on the loopback address with a given Host, without trusting name resolution. */
function get(port, host, pathname) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: pathname, headers: { Host: host } }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', reject);
    request.setTimeout(2000, () => request.destroy(new Error('timeout')));
  });
}

/**
 * Starts the server. `separateEvalOrigin: false` leaves EVAL_FRAME_ORIGIN unset,
 * so the eval frame is served from the editor's own origin.
 */
export async function startServer({ separateEvalOrigin = true } = {}) {
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'iodide-browser-'));
  const origin = `http://localhost:${port}`;
  const env = { ...process.env };
  for (const name of ['GITHUB_CLIENT_ID', 'GITHUB_CLIENT_SECRET', 'USE_OPENIDC_AUTH', 'RESTRICT_API', 'REDIS_URL', 'GA_TRACKING_ID', 'EVAL_FRAME_ORIGIN']) {
    delete env[name];
  }
  Object.assign(env, {
    DATABASE_URL: `sqlite://${dataDir}/db.sqlite?mode=rwc`,
    PORT: String(port),
    BIND_ADDRESS: '127.0.0.1',
    SERVER_URI: `${origin}/`,
    // Every test here shares one anonymous client address; the limits have tests of their own.
    RATE_LIMIT_PER_MINUTE: '100000',
    // The worker (which --dev runs) may fetch file sources from this very server.
    FILE_SOURCE_ALLOWED_NETWORKS: '127.0.0.1/32',
    WORKER_POLL_INTERVAL_MS: '100',
    RUST_LOG: env.RUST_LOG ?? 'warn',
  });
  if (separateEvalOrigin) env.EVAL_FRAME_ORIGIN = `http://127.0.0.1:${port}/`;

  const child = spawn(SERVER_BIN, ['serve', '--dev'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout.on('data', (chunk) => { logs += chunk; });
  child.stderr.on('data', (chunk) => { logs += chunk; });
  let exited = null;
  const exitedPromise = new Promise((resolve) => child.on('exit', (code, signal) => { exited = { code, signal }; resolve(); }));
  child.on('error', (error) => { logs += `\n${error.message}`; });

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`The server at ${SERVER_BIN} exited (${JSON.stringify(exited)}):\n${logs}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The server did not answer /__lbheartbeat__ within 30 s:\n${logs}`);
    }
    const status = await get(port, `localhost:${port}`, '/__lbheartbeat__').catch(() => null);
    if (status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    port,
    origin,
    evalOrigin: separateEvalOrigin ? `http://127.0.0.1:${port}` : origin,
    logs: () => logs,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exitedPromise;
        clearTimeout(timer);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A test file's server and browser, started at once (the file awaits them at
 * its top level) and stopped after its last test.
 */
export async function startServerAndBrowser(options) {
  const server = await startServer(options);
  const browser = await launchBrowser().catch(async (error) => {
    await server.stop();
    throw error;
  });
  after(async () => {
    await browser.close();
    await server.stop();
  });
  return { server, browser };
}

/** The text of a cell's output once its run has finished. */
export async function outputOf(page, index) {
  const output = page.getByTestId(`output-${index}`);
  await output.locator('.output-line:not(.output-running)').first().waitFor({ timeout: 15_000 });
  return output.innerText();
}

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * A browser context (its own cookies), optionally signed in as `username`
 * through the development sign-in form, and with the test-only autosave and
 * polling periods. `bypassCSP` turns the pages' Content-Security-Policy off, to
 * test a defence (the Markdown sanitiser) on its own.
 */
export async function newContext(browser, server, { username = null, autosaveMs = null, pollMs = 200, bypassCSP = false } = {}) {
  const context = await browser.newContext({ baseURL: server.origin, viewport: { width: 1280, height: 900 }, bypassCSP });
  context.setDefaultTimeout(10_000);
  await context.addInitScript(({ autosave, poll }) => {
    if (autosave) window.__IODIDE_AUTOSAVE_MS = autosave;
    if (poll) window.__IODIDE_POLL_MS = poll;
  }, { autosave: autosaveMs, poll: pollMs });
  if (username) {
    const response = await context.request.post('/login/', {
      form: { username },
      headers: { Origin: server.origin },
      maxRedirects: 0,
    });
    if (response.status() !== 303 && response.status() !== 302) {
      throw new Error(`sign-in as ${username} failed: ${response.status()} ${await response.text()}`);
    }
  }
  return context;
}

/** A GraphQL request with the context's cookies; throws on errors. */
export async function gql(context, query, variables = {}) {
  const response = await context.request.post('/api/graphql', { data: { query, variables } });
  const body = await response.json();
  if (body.errors) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
  return body.data;
}

export async function createNotebook(context, title, content) {
  const data = await gql(context,
    'mutation($input: CreateNotebookInput!) { createNotebook(input: $input) { id latestRevision { id } } }',
    { input: { title, content } });
  return data.createNotebook;
}

/** Uploads `text` as a file of the notebook (a GraphQL multipart request); returns its id. */
export async function uploadFile(context, notebookId, filename, text) {
  const query = 'mutation($input: UploadFileInput!) { uploadFile(input: $input) { id } }';
  const response = await context.request.post('/api/graphql', {
    headers: { 'X-Requested-With': 'XMLHttpRequest' },
    multipart: {
      operations: JSON.stringify({ query, variables: { input: { notebookId, filename, file: null } } }),
      map: JSON.stringify({ 0: ['variables.input.file'] }),
      0: { name: filename, mimeType: 'application/octet-stream', buffer: Buffer.from(text) },
    },
  });
  const body = await response.json();
  if (body.errors) throw new Error(`upload: ${JSON.stringify(body.errors)}`);
  return body.data.uploadFile.id;
}

/** The notebook's files as { filename: text }, read as its owner reads them. */
export async function filesOf(context, notebookId) {
  const data = await gql(context, 'query($id: ID!) { notebook(id: $id) { files { filename } } }', { id: notebookId });
  const contents = {};
  for (const { filename } of data.notebook.files) {
    const response = await context.request.get(`/notebooks/${notebookId}/files/${encodeURIComponent(filename)}`);
    contents[filename] = await response.text();
  }
  return contents;
}

export async function latestRevision(context, notebookId) {
  const data = await gql(context,
    'query($id: ID!) { notebook(id: $id) { revisionCount latestRevision { id title content } } }',
    { id: notebookId });
  return { ...data.notebook.latestRevision, count: data.notebook.revisionCount };
}

/** Opens a page of the editor and waits until the app has rendered it. */
export async function openPage(context, pathname) {
  const page = await context.newPage();
  await page.goto(pathname);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

export async function screenshot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}
