// Sign-in through OpenID Connect: every portal is a client of the Demo-IdP (support/idp.mjs), a
// real provider the suite runs beside the demo. A person signs in there, the portal takes their
// name, unit, portal roles and rulebook role from the ID token, and signing out ends both the
// portal's session and the provider's. What the provider says is not taken on trust: a person
// without a portal role, or of another authority, is refused, and a reviewer may decide only what
// the rulebook lets their unit decide.

import type { Page } from '@playwright/test';
import { test, expect } from '../support/fixtures';
import { account, at, idpPerson, localApi, type Portal } from '../support/federation';
import {
  decideReview,
  escapeRegExp,
  idpLink,
  idpLogin,
  openFields,
  openIdpLogin,
  screenshot,
  sendRequest,
  signInWithIdp,
  submit,
  ticketFor,
} from '../support/portal';

const LOGIN_PAGE = /\/portal\/login(\?.*)?$/;

/** Not signed in at `p`: no name in the header, and the home page sends to the login page. */
async function expectSignedOut(page: Page, p: Portal): Promise<void> {
  await expect(page.locator('header .who')).toHaveCount(0);
  await page.goto(at(p, '/portal/'));
  await expect(page).toHaveURL(LOGIN_PAGE);
  expect(new URL(page.url()).origin).toBe(new URL(p.url).origin);
}

/** The CSRF token of the page's forms (every signed-in page has one, in the sign-out form). */
async function csrfOf(page: Page): Promise<string> {
  const token = await page.locator('input[name=csrf]').first().getAttribute('value');
  expect(token, "a CSRF token in the page's forms").toBeTruthy();
  return token!;
}

test('the login page offers sign-in through the Demo-IdP, in Swedish and in English', async ({ anonymous, portalOf }) => {
  const p = portalOf('malmo-stad');
  expect(p.oidc, "the portal is a client of the demo's OpenID Connect provider").toMatchObject({
    client_id: 'utbyte-malmo-stad',
    redirect_uri: at(p, '/portal/oidc/callback'),
    post_logout_redirect_uri: at(p, '/portal/login'),
  });
  const page = await anonymous();
  await page.goto(at(p, '/portal/login?next=%2Fportal%2Fofferings'));
  const link = idpLink(page);
  await expect(link).toHaveText('Logga in via Demo-IdP');
  const href = await link.getAttribute('href');
  expect(href, 'the link starts the flow at the portal and keeps where to go next').toMatch(/^\/portal\/oidc\/start\?next=/);
  expect(new URL(href!, p.url).searchParams.get('next')).toBe('/portal/offerings');
  // Above the password form, which stays.
  const linkBox = await link.boundingBox();
  const formBox = await page.locator('#username').boundingBox();
  expect(linkBox!.y, 'the link is above the username field').toBeLessThan(formBox!.y);
  await expect(page.getByRole('button', { name: 'Logga in', exact: true })).toBeVisible();
  await screenshot(page, 'login-oidc');

  await page.getByRole('link', { name: 'English' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(idpLink(page)).toHaveText('Sign in with Demo-IdP');
});

test('an officer signs in through the Demo-IdP, makes a request, reads its answer, and signs out there', async ({
  anonymous,
  fed,
  portalOf,
}) => {
  const p = portalOf('malmo-stad');
  const officer = account(p, 'officer');
  const person = idpPerson(fed, `malmo-stad.${officer.username}`);
  const page = await anonymous();

  await openIdpLogin(page, p, fed);
  await screenshot(page, 'oidc-idp-login');
  const callback = await idpLogin(page, p, person.login);
  expect(callback.status(), 'the callback moves on with a page of its own (no error)').toBeLessThan(400);
  await expect(page).toHaveURL(at(p, '/portal/'));
  await expect(page.locator('header .who')).toContainText(person.name);
  await expect(page.getByRole('button', { name: 'Logga ut', exact: true })).toBeVisible();
  await screenshot(page, 'oidc-signed-in');
  // The officer's menu, not another role's.
  await expect(page.locator('nav a[href="/portal/offerings"]')).toHaveCount(1);
  await expect(page.locator('nav a[href="/portal/admin/users"]')).toHaveCount(0);

  // The session works as a password session does: a request, disclosed automatically.
  const { key, caseRef: ref } = await sendRequest(page, p, {
    subject: fed.subjects.disclosure,
    fields: ['forman', 'belopp', 'period'],
  });
  await expect(page.locator('#status')).toContainText('Besvarad');
  await expect(page.locator('h1')).toContainText(ref);
  const record = await localApi(p, `/v1/requests/${encodeURIComponent(key)}`);
  const answer = record.answer ?? record;
  expect(Object.keys(answer.values).sort()).toEqual(['belopp', 'forman', 'period']);
  await expect(page.locator('#values tbody tr')).toHaveCount(3);
  await page.goto(at(p, '/portal/requests'));
  await expect(page.locator('#requests tbody tr').filter({ hasText: ref })).toHaveCount(1);

  // Signing out goes through the provider, which asks before it ends its own session …
  const cookies = await page.context().cookies(p.url);
  await submit(page, page.getByRole('button', { name: 'Logga ut', exact: true }));
  await expect(page).toHaveURL(new RegExp(`^${escapeRegExp(fed.idp.issuer)}/session/end`));
  await page.getByRole('button', { name: 'Ja, logga ut' }).click();
  // … and then sends the browser back to the portal's login page.
  await expect(page).toHaveURL(new RegExp(`^${escapeRegExp(p.oidc!.post_logout_redirect_uri)}(\\?.*)?$`));
  await expect(idpLink(page)).toBeVisible();
  await expectSignedOut(page, p);

  // The portal's session has ended on the server: its old cookie opens nothing.
  const replay = await anonymous();
  await replay.context().addCookies(cookies);
  await replay.goto(at(p, '/portal/requests'));
  await expect(replay).toHaveURL(LOGIN_PAGE);

  // And the provider's has ended too: signing in again asks for the login name anew.
  await openIdpLogin(page, p, fed);
  await expect(page.locator('input[name=login]')).toBeEditable();
});

test("a reviewer of another unit of Försäkringskassan cannot decide a review the rulebook leaves to the jurist's unit", async ({
  as,
  anonymous,
  fed,
  portalOf,
}) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const other = idpPerson(fed, 'forsakringskassan.jurist-annan-enhet');
  const deciders = fk.review_units['fk-formaner'];
  expect(deciders, "fk-formaner's reviews are for some units only").toBeDefined();
  expect(deciders).toContain(account(fk, 'reviewer').unit);
  expect(deciders, `${other.login}'s unit ${other.unit}`).not.toContain(other.unit);

  const officer = await as('malmo-stad', 'officer');
  const { caseRef: ref } = await sendRequest(officer, malmo, { subject: fed.subjects.review, fields: ['forman', 'belopp', 'period'] });
  const ticket = await ticketFor(fk, ref);

  // A reviewer all the same: signed in, with the reviewer's pages …
  const page = await anonymous();
  await signInWithIdp(page, fk, fed, other.login);
  await expect(page.locator('nav a[href="/portal/review"]')).toHaveCount(1);
  const csrf = await csrfOf(page);

  // … who may read the ticket (a reviewer of this authority) but not decide it: the offering's
  // reviews belong to another unit, and the node refuses the decision.
  const opened = await page.goto(at(fk, `/portal/review/${ticket}`));
  expect(opened?.status(), `GET /portal/review/${ticket} as ${other.login}`).toBe(200);
  const fields = await openFields(page);
  expect(fields.length, 'fields waiting for a decision').toBeGreaterThan(0);
  for (const field of fields) {
    await page.locator(`input[name="outcome-${field}"][value=disclose]`).check();
    await page.locator(`textarea[name="reason-${field}"]`).fill('Uppgiften behövs för kontrollen.');
  }
  const decided = await submit(page, page.getByRole('button', { name: 'Fatta beslut', exact: true }));
  expect(decided.status(), `deciding ${ticket} in the form as ${other.login}`).toBe(403);
  await expect(page.getByRole('heading', { name: 'Åtkomst nekad' })).toBeVisible();
  await expect(page.locator('main')).toContainText('jurister vid en annan enhet');
  // Posted directly, complete and with the session's own CSRF token: refused all the same.
  const form: Record<string, string> = { csrf };
  for (const field of fields) {
    form[`outcome-${field}`] = 'disclose';
    form[`reason-${field}`] = 'Uppgiften behövs för kontrollen.';
  }
  const posted = await page.request.post(at(fk, `/portal/review/${ticket}`), { form, maxRedirects: 0 });
  expect(posted.status(), `POST /portal/review/${ticket} as ${other.login}`).toBe(403);

  // Nothing was decided: the node still holds the ticket open, and the jurist's queue shows it.
  expect((await localApi(fk, `/v1/reviews/${ticket}`)).state).toBe('pending');
  const jurist = await as('forsakringskassan', 'reviewer');
  await jurist.goto(at(fk, '/portal/review'));
  await expect(jurist.locator(`#queue a[href="/portal/review/${ticket}"]`)).toHaveCount(1);
  // The jurist of the right unit can decide it.
  await decideReview(jurist, fk, ticket, () => 'refuse');
  expect((await localApi(fk, `/v1/reviews/${ticket}`)).state).toBe('decided');
});

test("a reviewer of another authority can neither open nor decide Försäkringskassan's ticket", async ({
  as,
  anonymous,
  fed,
  portalOf,
}) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const person = idpPerson(fed, `malmo-stad.${account(malmo, 'reviewer').username}`);
  const officer = await as('malmo-stad', 'officer');
  const { caseRef: ref } = await sendRequest(officer, malmo, { subject: fed.subjects.review, fields: ['forman'] });
  const ticket = await ticketFor(fk, ref);

  // At the reviewer's own portal, Försäkringskassan's ticket does not exist.
  const page = await anonymous();
  await signInWithIdp(page, malmo, fed, person.login);
  const csrf = await csrfOf(page);
  const opened = await page.goto(at(malmo, `/portal/review/${ticket}`));
  expect(opened?.status(), `Försäkringskassan's ticket at Malmö's portal`).toBe(404);
  await expect(page.locator('main')).not.toContainText(fed.subjects.review);
  const posted = await page.request.post(at(malmo, `/portal/review/${ticket}`), {
    form: { csrf, 'outcome-forman': 'disclose', 'reason-forman': 'Inget hinder.' },
    maxRedirects: 0,
  });
  expect([403, 404], `deciding Försäkringskassan's ticket at Malmö's portal: ${posted.status()}`).toContain(posted.status());

  // At Försäkringskassan's portal, where the same provider vouches for this person of Malmö's
  // unit: refused at sign-in, since the unit is not Försäkringskassan's.
  const there = await anonymous();
  await openIdpLogin(there, fk, fed);
  const answer = await idpLogin(there, fk, person.login);
  expect(answer.status(), `${person.login} (unit ${person.unit}) signing in at Försäkringskassan`).toBe(403);
  await expect(there.locator('main')).toContainText('inte hör till den här myndigheten');
  await expectSignedOut(there, fk);
  await there.goto(at(fk, `/portal/review/${ticket}`));
  await expect(there).toHaveURL(LOGIN_PAGE);

  expect((await localApi(fk, `/v1/reviews/${ticket}`)).state).toBe('pending');
});

test('a callback with a forged state, an error of its own, or without the flow cookie is a 400 page, not a session', async ({
  anonymous,
  fed,
  portalOf,
}) => {
  const p = portalOf('malmo-stad');
  const callback = p.oidc!.redirect_uri;

  // A state the portal never issued.
  const forged = await anonymous();
  let response = await forged.goto(`${callback}?code=made-up-code&state=made-up-state&iss=${encodeURIComponent(fed.idp.issuer)}`);
  expect(response?.status(), 'a callback with a forged state').toBe(400);
  await expectSignedOut(forged, p);

  // An error answer, for a state the portal never issued.
  response = await forged.goto(`${callback}?error=access_denied&state=made-up-state`);
  expect(response?.status(), 'a callback with error=access_denied').toBe(400);
  await expectSignedOut(forged, p);

  // A genuine callback — the provider's code for the portal's own state — opened in another
  // browser, which lacks the cookie that binds the flow to the browser that started it.
  const started = await anonymous();
  const person = idpPerson(fed, `malmo-stad.${account(p, 'officer').username}`);
  await openIdpLogin(started, p, fed);
  // The login form is sent from this browser's own cookie jar, but the redirects are not followed:
  // the callback URL is taken from the provider's answer instead of being opened here.
  let next = await started.request.post(started.url(), {
    form: { prompt: 'login', login: person.login, password: 'vilket-lösenord-som-helst' },
    maxRedirects: 0,
  });
  let genuine = '';
  for (let hop = 0; hop < 5 && !genuine; hop++) {
    expect([302, 303], `the provider's answer ${next.url()}: ${next.status()}`).toContain(next.status());
    const location = new URL(next.headers()['location'], next.url()).toString();
    if (location.startsWith(callback)) genuine = location;
    else next = await started.request.get(location, { maxRedirects: 0 });
  }
  expect(new URL(genuine).searchParams.get('code')).toBeTruthy();
  const elsewhere = await anonymous();
  response = await elsewhere.goto(genuine);
  expect(response?.status(), 'a genuine callback in a browser without the flow cookie').toBe(400);
  await expectSignedOut(elsewhere, p);
});

test('a sign-in cancelled at the provider comes back as an error page (400), not a session', async ({ anonymous, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const callback = p.oidc!.redirect_uri;
  const page = await anonymous();
  await openIdpLogin(page, p, fed);
  // The provider sends its error back with the portal's own state, to the browser that started.
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(callback) && r.request().isNavigationRequest()),
    page.getByRole('link', { name: /Cancel/ }).click(),
  ]);
  expect(new URL(answer.url()).searchParams.get('error')).toBe('access_denied');
  await page.waitForLoadState('load');
  expect(answer.status(), 'a callback for a sign-in cancelled at the provider').toBe(400);
  expect(answer.status(), 'an error page, not a server error').toBeLessThan(500);
  await expectSignedOut(page, p);
});

test('a person the provider knows but who has no portal role is refused with 403', async ({ anonymous, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const person = idpPerson(fed, 'malmo-stad.utan-roll');
  expect(person.roles).toEqual([]);
  const page = await anonymous();
  await openIdpLogin(page, p, fed);
  const response = await idpLogin(page, p, person.login);
  expect(response.status(), `${person.login} signing in`).toBe(403);
  await expect(page.locator('main')).not.toContainText('Inloggad som');
  await expectSignedOut(page, p);
});

test('a login name the provider does not know gets no further than the provider', async ({ anonymous, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await anonymous();
  await openIdpLogin(page, p, fed);
  await page.locator('input[name=login]').fill('malmo-stad.finns-inte');
  await page.locator('input[name=password]').fill('vilket-lösenord-som-helst');
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.request().isNavigationRequest()),
    page.locator('button[type=submit]').click(),
  ]);
  expect(refused.status()).toBe(401);
  expect(new URL(page.url()).origin).toBe(new URL(fed.idp.issuer).origin);
  await expectSignedOut(page, p);
});
