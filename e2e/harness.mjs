// The browser tests' harness: a small demo bank served by the real `sextant` binary on a free
// port, and Debian's headless Chromium driven by playwright-core. Builds nothing: the binary
// comes from SEXTANT_BIN (default ${CARGO_TARGET_DIR:-target}/debug/sextant).

import { spawn, execFile } from 'node:child_process';
import {
  mkdtempSync, readFileSync, existsSync, mkdirSync, rmSync, createWriteStream, statSync, readdirSync,
  writeFileSync, renameSync, copyFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SHOTS = join(ROOT, 'e2e', 'screenshots');
// Enough customers that the churn and credit-default models have positives to train on.
const CUSTOMERS = Number(process.env.E2E_CUSTOMERS || 1000);

export const BIN = resolve(ROOT, process.env.SEXTANT_BIN
  || join(process.env.CARGO_TARGET_DIR || 'target', 'debug', 'sextant'));

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const sleepUntilExit = async (child, ms) => {
  for (let waited = 0; child.exitCode === null && child.signalCode === null && waited < ms; waited += 100) await sleep(100);
};

/** Run `sextant demo` in `dir` on a free port until /readyz answers; returns the process. */
async function runDemo(dir, env) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const keyFile = join(dir, 'admin.key');
  rmSync(keyFile, { force: true });
  const log = createWriteStream(join(dir, 'server.log'), { flags: 'a' });
  const child = spawn(BIN, [
    'demo', '--dir', dir, '--customers', String(CUSTOMERS), '--months', '12',
    '--bind', `127.0.0.1:${port}`, '--replay-speed', '0', '--converse', 'false',
    '--key-file', keyFile,
  ], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await sleep(200);
      throw new Error(`sextant demo exited (${child.exitCode ?? child.signalCode}); its log:\n${readFileSync(join(dir, 'server.log'), 'utf8').slice(-3000)}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not become ready; log: ${join(dir, 'server.log')}`);
    }
    if (existsSync(keyFile)) {
      try {
        const r = await fetch(`${base}/readyz`);
        if (r.ok) break;
      } catch { /* not listening yet */ }
    }
    await sleep(250);
  }
  return { child, base, keyFile, log };
}

/**
 * The prepared bank for this binary: generated, imported, features, segments, collaborative
 * filtering, the churn and credit-default models, and the assistant's embeddings stored — made
 * once per binary (a debug build needs ~40 s to embed the knowledge base) and copied for each run.
 */
async function template(env) {
  const st = statSync(BIN);
  const id = createHash('sha256').update(`${BIN}\0${st.size}\0${st.mtimeMs}\0${CUSTOMERS}`).digest('hex').slice(0, 16);
  const name = `sextant-e2e-template-${id}`;
  const root = join(tmpdir(), name);
  if (existsSync(join(root, 'ready'))) return root;
  for (const d of readdirSync(tmpdir())) {
    if (d.startsWith('sextant-e2e-template-') && d !== name) rmSync(join(tmpdir(), d), { recursive: true, force: true });
  }
  const work = mkdtempSync(join(tmpdir(), 'sextant-e2e-prepare-'));
  const { child } = await runDemo(work, env);
  child.kill('SIGTERM');
  await sleepUntilExit(child, 10_000);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  writeFileSync(join(work, 'ready'), 'ok\n');
  try {
    renameSync(work, root);
  } catch {
    rmSync(work, { recursive: true, force: true }); // another run made it first
  }
  return root;
}

/**
 * Start the demo server: a fresh copy of the prepared bank (see `template`) served on a free
 * port without the scripted conversation or the replay, with a new admin key.
 */
export async function startServer() {
  if (!existsSync(BIN)) {
    throw new Error(`no sextant binary at ${BIN}: build it (cargo build -p sextant) or set SEXTANT_BIN`);
  }
  const env = {
    ...process.env,
    RUST_LOG: process.env.RUST_LOG || 'warn',
    SEXTANT_MODEL_DIR: process.env.SEXTANT_MODEL_DIR || join(ROOT, 'models', 'all-MiniLM-L6-v2'),
  };
  const prepared = await template(env);
  const dir = mkdtempSync(join(tmpdir(), 'sextant-e2e-'));
  for (const f of readdirSync(prepared)) {
    if (f.startsWith('sextant.')) copyFileSync(join(prepared, f), join(dir, f));
  }
  // The demo only checks that the bank was generated (the database already holds it).
  mkdirSync(join(dir, 'bank'));
  copyFileSync(join(prepared, 'bank', 'manifest.json'), join(dir, 'bank', 'manifest.json'));
  const { child, base, keyFile, log } = await runDemo(dir, env);
  const key = readFileSync(keyFile, 'utf8').trim();
  const server = {
    dir, base, key, child,
    /** An API call with the admin key (or `as`): parsed JSON, throws on an error status. */
    async api(method, path, body, as = key) {
      const r = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${as}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await r.text();
      let data;
      try { data = JSON.parse(text); } catch { data = text; }
      if (!r.ok) {
        const err = new Error(`${method} ${path}: ${r.status} ${text.slice(0, 300)}`);
        err.status = r.status;
        throw err;
      }
      return data;
    },
    /** A key of another role, created with the CLI against the same database. */
    async createKey(role, customer) {
      const args = ['--database', join(dir, 'sextant.db'), 'keys', 'create', '--role', role];
      if (customer) args.push('--customer', customer);
      const { stdout } = await promisify(execFile)(BIN, args, {
        cwd: ROOT,
        env: {
          ...env,
          SEXTANT__SECURITY__MASTER_KEY_FILE: join(dir, 'sextant.key'),
          SEXTANT__SECURITY__ENCRYPTION_KEY_FILE: join(dir, 'sextant.enc.key'),
        },
      });
      const m = stdout.match(/sx_[0-9a-f]{16}_[0-9a-f]{64}/);
      if (!m) throw new Error(`no key in: ${stdout}`);
      return m[0];
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await sleepUntilExit(child, 4000);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      log.end();
      if (!process.env.E2E_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Debian's Chromium, headless, with a fresh profile. */
export async function startBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'sextant-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(20_000);
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Sign in through the login form. */
export async function signIn(page, base, key, path = '/console/') {
  await page.goto(`${base}${path}`);
  await page.waitForURL(/\/login/);
  await page.fill('#key', key);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);
}
