// Starts one `utbyte demo` for the whole run in a fresh temporary directory, its portals offering
// sign-in through an OpenID Connect provider; once the demo serves, starts that provider (the
// Demo-IdP, support/idp.mjs) with a client per portal and a person per demo account; hands the
// federation's description to the tests (through a JSON file named by UTBYTE_FEDERATION) and
// returns the teardown that stops both — also when tests fail.
//
// Environment:
//   UTBYTE_BIN          the utbyte binary (default: <repo>/target/debug/utbyte)
//   UTBYTE_BASE_PORT    the demo's base port (default 17400; local APIs on base+101 … base+109,
//                       portals on base+201 … base+209)
//   UTBYTE_IDP_PORT     the Demo-IdP's port (default base+300)
//   UTBYTE_START_TIMEOUT_S  how long the first start may take (default 300)
//   UTBYTE_KEEP_DEMO    set to 1 to keep the demo's directory after the run

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FullConfig } from '@playwright/test';
import { AUTHORITIES, type Federation, type Idp, type IdpPerson, type Portal } from './federation';

const REPO = path.resolve(__dirname, '..', '..', '..', '..');
const READY = 'Serving until Ctrl-C.';
const IDP_READY = 'idp ready ';
const IDP_SCRIPT = path.join(__dirname, 'idp.mjs');

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
  const idpPort = Number(process.env.UTBYTE_IDP_PORT ?? String(basePort + 300));
  const issuer = `http://127.0.0.1:${idpPort}`;
  const startTimeout = Number(process.env.UTBYTE_START_TIMEOUT_S ?? '300') * 1000;
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} does not exist: build it with \`cargo build -p utbyte --locked\``);
  }
  const nodes = AUTHORITIES.map((_, i) => i + 1);
  const ports = [
    basePort,
    ...nodes.map((i) => basePort + 100 + i), // local APIs
    ...nodes.map((i) => basePort + 200 + i), // portals
  ];
  for (const port of ports) {
    if (await portInUse(port)) {
      throw new Error(
        `port ${port} is already in use — is another demo running? Stop it, or choose another UTBYTE_BASE_PORT.`,
      );
    }
  }
  if (await portInUse(idpPort)) {
    throw new Error(`port ${idpPort} (the Demo-IdP's) is already in use: choose another UTBYTE_IDP_PORT.`);
  }

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'utbyte-portal-'));
  const dir = path.join(root, 'demo');
  const logPath = path.join(root, 'demo.log');
  const log = fs.createWriteStream(logPath);
  let output = '';
  const child = spawn(bin, ['demo', '--dir', dir, '--base-port', String(basePort), '--oidc-issuer', issuer], {
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

  let idp: IdpProcess | undefined;
  const stop = async () => {
    // The provider first, then the demo whose portals use it.
    const idpProblem = idp ? await idp.stop() : undefined;
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
    if (idpProblem) throw new Error(idpProblem);
  };

  try {
    const described = describe(dir, basePort, child.pid!, logPath);
    if (described.oidcIssuer !== issuer) {
      throw new Error(
        `portal-accounts.json names the OpenID Connect issuer ${JSON.stringify(described.oidcIssuer)}, not ${issuer} ` +
          '(does this utbyte take --oidc-issuer?)',
      );
    }
    const people = idpPeople(described.portals);
    const idpConfig = path.join(root, 'idp.json');
    fs.writeFileSync(idpConfig, JSON.stringify(idpConfiguration(issuer, described.portals, people), null, 2));
    idp = await startIdp(idpConfig, path.join(root, 'idp.log'), issuer, startTimeout);
    const federation: Federation = {
      ...described.federation,
      idp: { issuer, pid: idp.pid, log: idp.log, people } satisfies Idp,
    };
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

function describe(
  dir: string,
  basePort: number,
  pid: number,
  log: string,
): { federation: Omit<Federation, 'idp'>; portals: Portal[]; oidcIssuer: string | undefined } {
  const accounts = readJson(path.join(dir, 'portal-accounts.json'));
  const disclosure = readJson(path.join(dir, 'requests', 'disclosure.json'));
  const review = readJson(path.join(dir, 'requests', 'review.json'));
  if (typeof accounts.password !== 'string' || !Array.isArray(accounts.portals)) {
    throw new Error(`portal-accounts.json lacks "password" or "portals": ${JSON.stringify(accounts)}`);
  }
  const portals: Portal[] = accounts.portals;
  for (const p of portals) {
    const missing = ['url', 'api', 'units', 'accounts', 'oidc'].filter((key) => !(p as any)[key]);
    if (missing.length > 0) {
      throw new Error(`portal-accounts.json: ${p.authority} lacks ${missing.join(', ')}: ${JSON.stringify(p)}`);
    }
  }
  return {
    federation: {
      dir,
      basePort,
      pid,
      log,
      password: accounts.password,
      portals,
      subjects: { disclosure: disclosure.subject, review: review.subject },
      requests: { disclosure, review },
    },
    portals,
    oidcIssuer: accounts.oidc?.issuer,
  };
}

/**
 * The Demo-IdP's people: one per demo account of every portal (the same name, unit, rulebook role
 * and portal role); for an authority with two units or more, a reviewer of its second unit; and a
 * person without any portal role, whom every portal must refuse.
 */
function idpPeople(portals: Portal[]): IdpPerson[] {
  const people: IdpPerson[] = [];
  for (const p of portals) {
    for (const a of p.accounts) {
      people.push({
        login: `${p.authority}.${a.username}`,
        authority: p.authority,
        name: a.name,
        unit: a.unit,
        roles: [a.role],
        officer_role: a.officer_role,
      });
    }
    const reviewer = p.accounts.find((a) => a.role === 'reviewer');
    if (reviewer && p.units.length >= 2) {
      people.push({
        login: `${p.authority}.jurist-annan-enhet`,
        authority: p.authority,
        name: 'Jonna Jurist (annan enhet)',
        unit: p.units[1],
        roles: ['reviewer'],
        officer_role: reviewer.officer_role,
      });
    }
    const officer = p.accounts.find((a) => a.role === 'officer') ?? p.accounts[0];
    if (officer) {
      people.push({
        login: `${p.authority}.utan-roll`,
        authority: p.authority,
        name: 'Ulla Utan Roll',
        unit: officer.unit,
        roles: [],
        officer_role: officer.officer_role,
      });
    }
  }
  return people;
}

function idpConfiguration(issuer: string, portals: Portal[], people: IdpPerson[]) {
  return {
    issuer,
    clients: portals.map((p) => ({
      client_id: p.oidc!.client_id,
      redirect_uris: [p.oidc!.redirect_uri],
      post_logout_redirect_uris: [p.oidc!.post_logout_redirect_uri],
    })),
    people: people.map(({ login, name, unit, roles, officer_role }) => ({ login, name, unit, roles, officer_role })),
  };
}

interface IdpProcess {
  pid: number;
  log: string;
  /** Stops the provider; returns what went wrong, if anything did. */
  stop: () => Promise<string | undefined>;
}

/** Starts support/idp.mjs and waits for its ready line; fails with its output if it dies first. */
async function startIdp(config: string, logPath: string, issuer: string, timeout: number): Promise<IdpProcess> {
  const log = fs.createWriteStream(logPath);
  let output = '';
  const child = spawn(process.execPath, [IDP_SCRIPT, config], {
    cwd: path.dirname(__dirname),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    log.write(chunk);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const gone = () => child.exitCode !== null || child.signalCode !== null;

  const stop = async (): Promise<string | undefined> => {
    const diedEarlier = gone();
    if (!diedEarlier) {
      child.kill('SIGTERM');
      const stopped = await Promise.race([exited(child).then(() => true), sleep(5_000).then(() => false)]);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited(child);
      }
    }
    process.off('exit', killOnExit);
    log.end();
    if (diedEarlier) return `the Demo-IdP died during the run (${child.exitCode ?? child.signalCode}). Its output:\n${output}`;
    process.stdout.write('demo-idp: stopped\n');
    return undefined;
  };

  const started = Date.now();
  while (!output.includes(`${IDP_READY}${issuer}`)) {
    if (gone()) {
      await stop();
      throw new Error(`the Demo-IdP (${IDP_SCRIPT}) exited (${child.exitCode ?? child.signalCode}) before serving. Its output:\n${output}`);
    }
    if (Date.now() - started > Math.min(timeout, 60_000)) {
      await stop();
      throw new Error(`the Demo-IdP did not print "${IDP_READY}${issuer}" in time. Its output:\n${output}`);
    }
    await sleep(100);
  }
  process.stdout.write(`demo-idp: serving at ${issuer}\n`);
  return { pid: child.pid!, log: logPath, stop };
}
