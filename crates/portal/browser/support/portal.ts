// What every spec does with the portal: sign in (with a password, or through the Demo-IdP),
// submit forms and capture the answer's status, compose a request as an officer, find a review
// ticket, scan with axe, take screenshots.

import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Locator, type Page, type Response } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { at, caseRef, localApi, type Federation, type Portal } from './federation';

export const CONTEXT = {
  viewport: { width: 1280, height: 900 },
  locale: 'sv-SE',
  timezoneId: 'Europe/Stockholm',
} as const;

/**
 * Clicks a submit button and returns the response to the form's POST (the 303 of a success, or
 * the page of a refusal with its own status), after the resulting page has loaded.
 */
export async function submit(page: Page, button: Locator): Promise<Response> {
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) =>
        r.request().method() === 'POST' &&
        r.request().isNavigationRequest() &&
        r.request().frame() === page.mainFrame(),
    ),
    button.click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

/** A form's POST answered with a redirect to the next page (post/redirect/get). */
export function expectRedirect(response: Response, what: string): void {
  expect([302, 303], `${what}: status ${response.status()}`).toContain(response.status());
}

/** Fills the login form and submits it; returns the POST's response. */
export async function attemptLogin(page: Page, p: Portal, username: string, password: string): Promise<Response> {
  await page.goto(at(p, '/portal/login'));
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  return submit(page, page.getByRole('button', { name: 'Logga in', exact: true }));
}

/** Signs in and checks the portal's home page is where it lands. */
export async function login(page: Page, p: Portal, username: string, password: string): Promise<void> {
  const response = await attemptLogin(page, p, username, password);
  expectRedirect(response, `signing in as ${username} at ${p.authority}`);
  await expect(page).toHaveURL(at(p, '/portal/'));
}

/** The link on the login page that starts sign-in through the OpenID Connect provider. */
export function idpLink(page: Page): Locator {
  return page.locator('a#oidc-sign-in');
}

/**
 * From the portal's login page to the Demo-IdP's login form: clicks "Logga in via Demo-IdP" and
 * waits for the provider's page (the authorization request carries the portal's state, nonce and
 * PKCE challenge; the browser follows it as any browser would).
 */
export async function openIdpLogin(page: Page, p: Portal, fed: Federation, next?: string): Promise<void> {
  await page.goto(at(p, next === undefined ? '/portal/login' : `/portal/login?next=${encodeURIComponent(next)}`));
  await idpLink(page).click();
  await page.waitForURL((url) => url.origin === new URL(fed.idp.issuer).origin && url.pathname.startsWith('/interaction/'));
  await expect(page.locator('input[name=login]')).toBeVisible();
}

/**
 * Signs in on the Demo-IdP's login form as `login` (any password does) and returns the portal's
 * answer at its callback — whatever its status — once that page has loaded.
 */
export async function idpLogin(page: Page, p: Portal, login: string): Promise<Response> {
  const callback = p.oidc?.redirect_uri;
  if (!callback) throw new Error(`${p.authority}'s portal has no OpenID Connect client`);
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('vilket-lösenord-som-helst');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(callback) && r.request().isNavigationRequest(), { timeout: 30_000 }),
    page.locator('button[type=submit]').click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

/**
 * Signs in through the Demo-IdP as `login` and checks the end state: back at `next` (default the
 * home page), signed in, with the person's name in the header.
 */
export async function signInWithIdp(page: Page, p: Portal, fed: Federation, login: string, next?: string): Promise<void> {
  const person = fed.idp.people.find((x) => x.login === login);
  if (!person) throw new Error(`the Demo-IdP has no person ${login}`);
  await openIdpLogin(page, p, fed, next);
  const response = await idpLogin(page, p, login);
  expect(response.status(), `the portal's callback for ${login}: ${await response.text().catch(() => '')}`).toBeLessThan(400);
  await expect(page).toHaveURL(at(p, next ?? '/portal/'));
  await expect(page.locator('header .who')).toContainText(person.name);
}

/** Opens a page the signed-in role may not open: 403 with the heading "Åtkomst nekad". */
export async function expectForbidden(page: Page, url: string): Promise<void> {
  const response = await page.goto(url);
  expect(response?.status(), `GET ${url}`).toBe(403);
  await expect(page.getByRole('heading', { name: 'Åtkomst nekad' })).toBeVisible();
}

export interface RequestInput {
  subject: string;
  fields: string[];
  offering?: string;
  legalBasis?: string;
  purpose?: string;
  caseRef?: string;
  operation?: string;
}

/** Fills the new-request form (without submitting it). */
export async function fillRequest(page: Page, p: Portal, input: RequestInput): Promise<string> {
  const ref = input.caseRef ?? caseRef();
  await page.goto(at(p, `/portal/requests/new?offering=${input.offering ?? 'fk-formaner'}`));
  await page.locator('#subject').fill(input.subject);
  await page.locator('#legal_basis').selectOption(input.legalBasis ?? 'luffa');
  await page.locator('#purpose').selectOption(input.purpose ?? 'kontroll-ekonomiskt-bistand');
  // Exactly the fields asked for: the form may come with others ticked.
  for (const box of await page.locator('input[name=fields]').all()) {
    const wanted = input.fields.includes((await box.getAttribute('value')) ?? '');
    await box.setChecked(wanted);
  }
  for (const field of input.fields) {
    await expect(page.locator(`input[name=fields][value="${field}"]`), `a checkbox for ${field}`).toBeChecked();
  }
  await page.locator('#case_ref').fill(ref);
  if (input.operation !== undefined) await page.locator('#operation').fill(input.operation);
  return ref;
}

/** Submits a request as an officer; returns its key (from `/portal/requests/<key>`) and case reference. */
export async function sendRequest(
  page: Page,
  p: Portal,
  input: RequestInput,
): Promise<{ key: string; caseRef: string }> {
  const ref = await fillRequest(page, p, input);
  const response = await submit(page, page.getByRole('button', { name: 'Skicka förfrågan', exact: true }));
  expectRedirect(response, `submitting a request: ${await page.locator('[role=alert]').allInnerTexts()}`);
  await expect(page).toHaveURL(new RegExp(`^${escapeRegExp(at(p, '/portal/requests/'))}[^/?#]+$`));
  const key = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
  return { key, caseRef: ref };
}

/** The review ticket the provider's node holds for a case reference (found through its local API). */
export async function ticketFor(provider: Portal, ref: string): Promise<string> {
  let found: string | undefined;
  await expect
    .poll(
      async () => {
        const listing = await localApi(provider, '/v1/reviews?state=pending&limit=500');
        const reviews: any[] = Array.isArray(listing) ? listing : (listing.reviews ?? listing.items ?? []);
        found = reviews.find((r) => r.case_ref === ref)?.ticket;
        return found;
      },
      { message: `a pending review at ${provider.authority} for case ${ref}`, timeout: 15_000 },
    )
    .toBeTruthy();
  return found!;
}

/** Reloads the page until `locator` shows `text` (a review decision travels back by polling). */
export async function reloadUntil(page: Page, locator: Locator, text: string | RegExp, timeout = 60_000): Promise<void> {
  await expect
    .poll(
      async () => {
        await page.reload();
        return (await locator.count()) > 0 ? await locator.innerText() : '';
      },
      { message: `waiting for ${locator} to show ${text}`, timeout, intervals: [1_000, 2_000] },
    )
    .toMatch(typeof text === 'string' ? new RegExp(escapeRegExp(text)) : text);
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Scans the page for WCAG 2.1 A/AA problems; fails on any serious or critical one. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  await test.info().attach(`axe-${what}.json`, {
    body: JSON.stringify(results.violations, null, 2),
    contentType: 'application/json',
  });
  const blocking = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = blocking
    .map((v) => {
      const nodes = v.nodes
        .map((n) => `      at ${n.target.join(' ')}\n        ${(n.failureSummary ?? '').replace(/\n/g, '\n        ')}`)
        .join('\n');
      return `  [${v.impact}] ${v.id}: ${v.help}\n    ${v.helpUrl}\n${nodes}`;
    })
    .join('\n');
  expect(blocking.length, `${what} (${page.url()}) has serious or critical accessibility violations:\n${report}\n`).toBe(0);
}

/** A full-page screenshot into UTBYTE_SCREENSHOT_DIR (default test-results/screenshots). */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = path.resolve(process.env.UTBYTE_SCREENSHOT_DIR ?? path.join('test-results', 'screenshots'));
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/** A valid personnummer (10 digits with hyphen) for a date YYMMDD and a three-digit serial. */
export function personnummer(yymmdd: string, serial: string): string {
  const nine = yymmdd + serial;
  let sum = 0;
  for (let i = 0; i < nine.length; i++) {
    let d = Number(nine[i]) * (i % 2 === 0 ? 2 : 1);
    if (d > 9) d -= 9;
    sum += d;
  }
  return `${yymmdd}-${serial}${(10 - (sum % 10)) % 10}`;
}

/** The fields a review form asks about (from its radio groups). */
export async function openFields(page: Page): Promise<string[]> {
  const names = await page
    .locator('input[type=radio][name^="outcome-"]')
    .evaluateAll((is) => is.map((i) => (i as HTMLInputElement).name.slice('outcome-'.length)));
  return [...new Set(names)];
}

/** Decides a review in the portal: each field under review disclosed or refused, with a reason. */
export async function decideReview(
  jurist: Page,
  provider: Portal,
  ticket: string,
  outcome: (field: string, index: number) => 'disclose' | 'refuse',
): Promise<Record<string, 'disclose' | 'refuse'>> {
  await jurist.goto(at(provider, `/portal/review/${ticket}`));
  const fields = await openFields(jurist);
  expect(fields.length, `fields under review in ${ticket}`).toBeGreaterThan(0);
  const decided: Record<string, 'disclose' | 'refuse'> = {};
  for (const [i, field] of fields.entries()) {
    decided[field] = outcome(field, i);
    await jurist.locator(`input[name="outcome-${field}"][value=${decided[field]}]`).check();
    await jurist
      .locator(`textarea[name="reason-${field}"]`)
      .fill(decided[field] === 'disclose'
        ? `${field}: uppgiften behövs för kontrollen och men för den enskilde bedöms inte uppstå.`
        : `${field}: skyddade personuppgifter, men kan inte uteslutas.`);
  }
  const response = await submit(jurist, jurist.getByRole('button', { name: 'Fatta beslut', exact: true }));
  expectRedirect(response, `deciding ${ticket}: ${await jurist.getByRole('alert').allInnerTexts()}`);
  await expect(jurist.locator('main')).toContainText('Beslutad');
  return decided;
}

/**
 * Fails if text sticks out of its box at this viewport: an element whose content is wider than
 * the element (and not meant to scroll), or a page wider than the window.
 */
export async function expectNoOverflow(page: Page, what: string): Promise<void> {
  const overflowing = await page.evaluate(() => {
    const found: string[] = [];
    const root = document.documentElement;
    if (root.scrollWidth > window.innerWidth + 1) {
      found.push(`the page is ${root.scrollWidth}px wide in a ${window.innerWidth}px window`);
    }
    for (const el of document.querySelectorAll<HTMLElement>('body *')) {
      if (el.clientWidth === 0 || el.closest('details:not([open])')) continue;
      const style = getComputedStyle(el);
      if (style.overflowX !== 'visible' || style.display === 'inline') continue;
      if (el.scrollWidth > el.clientWidth + 1) {
        const text = (el.textContent ?? '').replace(/\s+/g, ' ').trim().slice(0, 60);
        const name = el.tagName.toLowerCase() + (el.id ? `#${el.id}` : '') + (el.className && typeof el.className === 'string' ? `.${el.className.trim().replace(/\s+/g, '.')}` : '');
        found.push(`${name} is ${el.clientWidth}px wide, its content ${el.scrollWidth}px: "${text}"`);
      }
    }
    return found;
  });
  expect(overflowing, `${what} (${page.url()}): content wider than its box`).toEqual([]);
}
