// Starts one `utbyte demo` for the whole run in a fresh temporary directory, waits until it
// serves, hands the federation's description to the tests (through a JSON file named by
// UTBYTE_FEDERATION) and returns the teardown that stops it with SIGINT — also when tests fail.
//
// Environment:
//   UTBYTE_BIN          the utbyte binary (default: <repo>/target/debug/utbyte)
//   UTBYTE_BASE_PORT    the demo's base port (default 17400; portals on base+101 … base+107)
//   UTBYTE_START_TIMEOUT_S  how long the first start may take (default 300)
//   UTBYTE_KEEP_DEMO    set to 1 to keep the demo's directory after the run

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FullConfig } from '@playwright/test';
import type { Federation } from './federation';

const REPO = path.resolve(__dirname, '..', '..', '..', '..');
const READY = 'Serving until Ctrl-C.';

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export default async function globalSetup(_config: FullConfig): Promise<() => Promise<void>> {
  const bin = process.env.UTBYTE_BIN ?? path.join(REPO, 'target', 'debug', 'utbyte');
  const basePort = Number(process.env.UTBYTE_BASE_PORT ?? '17400');
  const startTimeout = Number(process.env.UTBYTE_START_TIMEOUT_S ?? '300') * 1000;
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} does not exist: build it with \`cargo build -p utbyte --locked\``);
  }
  for (const port of [basePort, basePort + 101, basePort + 107]) {
    if (await portInUse(port)) {
      throw new Error(
        `port ${port} is already in use — is another demo running? Stop it, or choose another UTBYTE_BASE_PORT.`,
      );
    }
  }

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'utbyte-portal-'));
  const dir = path.join(root, 'demo');
  const logPath = path.join(root, 'demo.log');
  const log = fs.createWriteStream(logPath);
  let output = '';
  const child = spawn(bin, ['demo', '--dir', dir, '--base-port', String(basePort)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    log.write(chunk);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  // Should the runner itself die, the demo must not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  const started = Date.now();
  process.stdout.write(`utbyte demo: starting in ${dir} on base port ${basePort} …\n`);
  while (!output.includes(READY)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `utbyte demo exited (${child.exitCode ?? child.signalCode}) before serving. Its output:\n${output}`,
      );
    }
    if (Date.now() - started > startTimeout) {
      child.kill('SIGKILL');
      await exited(child);
      throw new Error(
        `utbyte demo did not print "${READY}" within ${startTimeout / 1000} s. Its output:\n${output}`,
      );
    }
    await sleep(200);
  }
  process.stdout.write(`utbyte demo: serving after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

  const stop = async () => {
    const alreadyGone = child.exitCode !== null || child.signalCode !== null;
    if (!alreadyGone) {
      child.kill('SIGINT');
      const stopped = await Promise.race([exited(child).then(() => true), sleep(30_000).then(() => false)]);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited(child);
      }
    }
    process.off('exit', killOnExit);
    log.end();
    const code = child.exitCode;
    if (process.env.UTBYTE_KEEP_DEMO === '1') {
      process.stdout.write(`utbyte demo: kept ${root} (log: ${logPath})\n`);
    } else {
      fs.rmSync(root, { recursive: true, force: true });
    }
    if (alreadyGone) {
      throw new Error(`utbyte demo died during the run (${code ?? child.signalCode}). Its output:\n${output}`);
    }
    if (code !== 0) {
      throw new Error(
        `utbyte demo did not stop cleanly on SIGINT (${code ?? child.signalCode}). Its output:\n${output}`,
      );
    }
    process.stdout.write('utbyte demo: stopped\n');
  };

  try {
    const federation = describe(dir, basePort, child.pid!, logPath);
    const statePath = path.join(root, 'federation.json');
    fs.writeFileSync(statePath, JSON.stringify(federation, null, 2));
    process.env.UTBYTE_FEDERATION = statePath;
  } catch (error) {
    await stop().catch(() => undefined);
    throw new Error(`${(error as Error).message}\nThe demo's output:\n${output}`);
  }
  return stop;
}

function readJson(file: string): any {
  if (!fs.existsSync(file)) throw new Error(`the demo did not write ${file}`);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function describe(dir: string, basePort: number, pid: number, log: string): Federation {
  const accounts = readJson(path.join(dir, 'portal-accounts.json'));
  const disclosure = readJson(path.join(dir, 'requests', 'disclosure.json'));
  const review = readJson(path.join(dir, 'requests', 'review.json'));
  if (typeof accounts.password !== 'string' || !Array.isArray(accounts.portals)) {
    throw new Error(`portal-accounts.json lacks "password" or "portals": ${JSON.stringify(accounts)}`);
  }
  return {
    dir,
    basePort,
    pid,
    log,
    password: accounts.password,
    portals: accounts.portals,
    subjects: { disclosure: disclosure.subject, review: review.subject },
    requests: { disclosure, review },
  };
}
