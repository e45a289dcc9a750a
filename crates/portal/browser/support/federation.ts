// The running demo as the tests see it: portals, accounts, example subjects, and the local API
// each node serves beside its portal (used only to cross-check what the pages show).

import * as fs from 'node:fs';

export type Role = 'officer' | 'reviewer' | 'auditor' | 'admin';

export interface Account {
  username: string;
  role: Role;
}

export interface Portal {
  authority: string;
  name: string;
  /** e.g. http://127.0.0.1:17507/portal/ */
  url: string;
  accounts: Account[];
}

export interface Federation {
  dir: string;
  basePort: number;
  pid: number;
  log: string;
  password: string;
  portals: Portal[];
  subjects: { disclosure: string; review: string };
  requests: { disclosure: any; review: any };
}

export const AUTHORITIES = [
  'skatteverket',
  'forsakringskassan',
  'polismyndigheten',
  'kronofogden',
  'bolagsverket',
  'utbetalningsmyndigheten',
  'malmo-stad',
] as const;
export type Authority = (typeof AUTHORITIES)[number];

export function loadFederation(): Federation {
  const file = process.env.UTBYTE_FEDERATION;
  if (!file) throw new Error('UTBYTE_FEDERATION is not set: run the tests with `npx playwright test`');
  const federation: Federation = JSON.parse(fs.readFileSync(file, 'utf8'));
  try {
    process.kill(federation.pid, 0);
  } catch {
    const log = fs.existsSync(federation.log) ? fs.readFileSync(federation.log, 'utf8') : '';
    throw new Error(`utbyte demo (pid ${federation.pid}) is no longer running. Its output:\n${log}`);
  }
  return federation;
}

export function portal(federation: Federation, authority: Authority): Portal {
  const found = federation.portals.find((p) => p.authority === authority);
  if (!found) {
    throw new Error(`portal-accounts.json has no portal for ${authority}: ${JSON.stringify(federation.portals)}`);
  }
  return found;
}

export function account(p: Portal, role: Role): Account {
  const found = p.accounts.find((a) => a.role === role);
  if (!found) throw new Error(`${p.authority} has no ${role} account: ${JSON.stringify(p.accounts)}`);
  return found;
}

/** An absolute URL on a portal's origin: `at(p, '/portal/offerings')`. */
export function at(p: Portal, pathAndQuery: string): string {
  return new URL(pathAndQuery, p.url).toString();
}

/**
 * The demo case system's access token: the local API believes no caller without one. The demo
 * writes it (0600) into its directory at every start.
 */
export function caseSystemToken(): string {
  const federation = loadFederation();
  return fs.readFileSync(`${federation.dir}/access/case-system.token`, 'utf8').trim();
}

/** The node's local API, served on the same origin as its portal, called as the demo's case system. */
export async function localApi<T = any>(p: Portal, pathAndQuery: string): Promise<T> {
  const response = await fetch(at(p, pathAndQuery), {
    headers: { authorization: `Bearer ${caseSystemToken()}` },
  });
  if (!response.ok) {
    throw new Error(`GET ${pathAndQuery} at ${p.authority}: ${response.status} ${await response.text()}`);
  }
  return (await response.json()) as T;
}

/** A case reference no other test uses. */
export function caseRef(prefix = 'ASN-2026'): string {
  return `${prefix}-${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
}
