// The running demo as the tests see it: portals, accounts, example subjects, the local API each
// node serves on its own listener (used only to cross-check what the pages show), and the
// OpenID Connect provider (Demo-IdP) the suite runs beside the demo.

import * as fs from 'node:fs';

export type Role = 'officer' | 'reviewer' | 'auditor' | 'admin';

/** A demo account of a portal (signs in with the demo's password). */
export interface Account {
  username: string;
  role: Role;
  /** The person's name, shown in the portal's header. */
  name: string;
  /** A unit of the portal's authority. */
  unit: string;
  /** The role the rulebook knows the person by, e.g. "handlaggare" or "jurist". */
  officer_role: string;
}

/** The portal as a client of the OpenID Connect provider. */
export interface PortalOidc {
  client_id: string;
  /** e.g. http://127.0.0.1:17607/portal/oidc/callback */
  redirect_uri: string;
  /** e.g. http://127.0.0.1:17607/portal/login */
  post_logout_redirect_uri: string;
}

export interface Portal {
  authority: string;
  name: string;
  /** The portal on its own listener, e.g. http://127.0.0.1:17607/portal/ */
  url: string;
  /** The node's local API (for case systems), another origin, e.g. http://127.0.0.1:17507/ */
  api: string;
  /** The authority's units; the first is the demo accounts' unit. */
  units: string[];
  /**
   * Per offering of this authority: the only units whose reviewers may decide its reviews (an
   * offering not named here: any unit of the authority).
   */
  review_units: Record<string, string[]>;
  accounts: Account[];
  /** Absent when the demo runs without an OpenID Connect provider. */
  oidc: PortalOidc | null;
}

/** A person the Demo-IdP knows; signs in there as `login` (`<authority>.<name>`) with any password. */
export interface IdpPerson {
  login: string;
  authority: string;
  name: string;
  unit: string;
  /** Portal roles; empty for a person the portals must refuse. */
  roles: Role[];
  officer_role: string;
}

export interface Idp {
  /** e.g. http://127.0.0.1:17700 */
  issuer: string;
  pid: number;
  log: string;
  people: IdpPerson[];
}

export interface Federation {
  dir: string;
  basePort: number;
  pid: number;
  log: string;
  password: string;
  portals: Portal[];
  idp: Idp;
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
  'kriminalvarden',
  'pensionsmyndigheten',
  'ekobrottsmyndigheten',
  'exempelbanken',
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
  try {
    process.kill(federation.idp.pid, 0);
  } catch {
    const log = fs.existsSync(federation.idp.log) ? fs.readFileSync(federation.idp.log, 'utf8') : '';
    throw new Error(`the Demo-IdP (pid ${federation.idp.pid}) is no longer running. Its output:\n${log}`);
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

/** An absolute URL on the node's local API (not the portal's origin): `apiAt(p, '/v1/offerings')`. */
export function apiAt(p: Portal, pathAndQuery: string): string {
  return new URL(pathAndQuery, p.api).toString();
}

/** A person of the Demo-IdP, by login name (e.g. `forsakringskassan.jurist-annan-enhet`). */
export function idpPerson(federation: Federation, login: string): IdpPerson {
  const found = federation.idp.people.find((person) => person.login === login);
  if (!found) {
    throw new Error(`the Demo-IdP has no person ${login}: ${federation.idp.people.map((x) => x.login).join(', ')}`);
  }
  return found;
}

/**
 * The demo case system's access token: the local API believes no caller without one. The demo
 * writes it (0600) into its directory at every start.
 */
export function caseSystemToken(): string {
  const federation = loadFederation();
  return fs.readFileSync(`${federation.dir}/access/case-system.token`, 'utf8').trim();
}

/** The node's local API (on its own listener, not the portal's), called as the demo's case system. */
export async function localApi<T = any>(p: Portal, pathAndQuery: string): Promise<T> {
  const response = await fetch(apiAt(p, pathAndQuery), {
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
