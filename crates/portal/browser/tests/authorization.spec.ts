// Who may open what: sign-in first, each page for its role only, each authority its own cases,
// and no form accepted without the session's CSRF token.

import type { Page } from '@playwright/test';
import { test, expect } from '../support/fixtures';
import { apiAt, at, caseRef, localApi, type Role } from '../support/federation';
import { expectForbidden, sendRequest, ticketFor } from '../support/portal';

/** Each page of the portal and the one role that may open it. */
const PAGES: [string, Role][] = [
  ['/portal/offerings', 'officer'],
  ['/portal/requests', 'officer'],
  ['/portal/requests/new?offering=fk-formaner', 'officer'],
  ['/portal/messages', 'officer'],
  ['/portal/messages/new', 'officer'],
  ['/portal/review', 'reviewer'],
  ['/portal/audit', 'auditor'],
  ['/portal/audit/subject', 'auditor'],
  ['/portal/admin/users', 'admin'],
  ['/portal/admin/offerings', 'admin'],
];

const ROLES: Role[] = ['officer', 'reviewer', 'auditor', 'admin'];

async function csrfOf(page: Page): Promise<string> {
  const token = await page.locator('input[name=csrf]').first().getAttribute('value');
  expect(token, 'a CSRF token in the page\'s forms').toBeTruthy();
  return token!;
}

test('without signing in, every page redirects to the login page', async ({ anonymous, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await anonymous();
  for (const path of ['/portal/', ...PAGES.map(([path]) => path), '/portal/requests/nagon-nyckel', '/portal/review/nagon-biljett', '/portal/admin/users/admin']) {
    const response = await page.goto(at(p, path));
    expect(response?.request().redirectedFrom(), `${path} redirects`).not.toBeNull();
    await expect(page, `${path} leads to the login page`).toHaveURL(/\/portal\/login(\?.*)?$/);
    await expect(page.locator('#username')).toBeVisible();
  }
  // Nor does a form post do anything without a session.
  const post = await page.request.post(at(p, '/portal/requests'), {
    form: { offering: 'fk-formaner', subject: '19121212-1212', fields: 'forman', case_ref: caseRef() },
    maxRedirects: 0,
  });
  expect([302, 303, 401, 403], `POST /portal/requests without a session: ${post.status()}`).toContain(post.status());
  if (post.status() < 400) expect(post.headers()['location']).toMatch(/\/portal\/login/);
});

test('each role opens its own pages and is refused the others with 403', async ({ as, portalOf }) => {
  const p = portalOf('malmo-stad');
  for (const role of ROLES) {
    const page = await as('malmo-stad', role);
    for (const [path, owner] of PAGES) {
      if (owner === role) {
        const response = await page.goto(at(p, path));
        expect(response?.status(), `${role} opens ${path}`).toBe(200);
        await expect(page.getByRole('heading', { name: 'Åtkomst nekad' })).toHaveCount(0);
      } else {
        await expectForbidden(page, at(p, path));
      }
    }
    // The home page and the menu offer only what the role may open.
    await page.goto(at(p, '/portal/'));
    for (const [path, owner] of PAGES.filter(([path]) => !path.includes('?'))) {
      const links = page.locator(`main a[href="${path}"], nav a[href="${path}"]`);
      if (owner !== role) expect(await links.count(), `${role}'s home links to ${path}`).toBe(0);
    }
  }
});

test('a role\'s forms are refused to other roles, even with a valid CSRF token', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const officer = await as('forsakringskassan', 'officer');
  await officer.goto(at(fk, '/portal/'));
  const csrf = await csrfOf(officer);

  const verify = await officer.request.post(at(fk, '/portal/audit/verify'), { form: { csrf }, maxRedirects: 0 });
  expect(verify.status(), 'an officer verifying the ledger').toBe(403);
  const report = await officer.request.post(at(fk, '/portal/audit/subject'), {
    form: { csrf, subject: fed.subjects.disclosure },
    maxRedirects: 0,
  });
  expect(report.status(), 'an officer asking for a subject-access report').toBe(403);
  const create = await officer.request.post(at(fk, '/portal/admin/users'), {
    form: { csrf, username: 'inkraktare', display_name: 'X', unit: 'x', officer_role: 'handlaggare', roles: 'admin', password: 'Ett-långt-lösenord-2026' },
    maxRedirects: 0,
  });
  expect(create.status(), 'an officer creating an account').toBe(403);

  // A reviewer's decision, posted by an officer of the same authority.
  const malmoOfficer = await as('malmo-stad', 'officer');
  const { caseRef: ref } = await sendRequest(malmoOfficer, malmo, { subject: fed.subjects.review, fields: ['forman'] });
  const ticket = await ticketFor(fk, ref);
  const decide = await officer.request.post(at(fk, `/portal/review/${ticket}`), {
    form: { csrf, 'outcome-forman': 'disclose', 'reason-forman': 'Inget hinder.' },
    maxRedirects: 0,
  });
  expect(decide.status(), 'an officer deciding a review').toBe(403);
  expect((await localApi(fk, `/v1/reviews/${ticket}`)).state).toBe('pending');
  // The node's local API believes no one either: without credentials, 401.
  const anonymous = await fetch(apiAt(fk, `/v1/reviews/${ticket}`));
  expect(anonymous.status).toBe(401);
  expect((await anonymous.json()).reason).toBe('credentials-missing');
});

test('an authority never sees another authority\'s requests or reviews', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const skv = portalOf('skatteverket');
  const officer = await as('malmo-stad', 'officer');
  const { key } = await sendRequest(officer, malmo, { subject: fed.subjects.disclosure, fields: ['forman'] });
  const { caseRef: ref } = await sendRequest(officer, malmo, { subject: fed.subjects.review, fields: ['forman'] });
  const ticket = await ticketFor(fk, ref);

  const skvOfficer = await as('skatteverket', 'officer');
  let response = await skvOfficer.goto(at(skv, `/portal/requests/${key}`));
  expect(response?.status(), "Malmö's request at Skatteverket's portal").toBe(404);
  await expect(skvOfficer.locator('main')).not.toContainText(fed.subjects.disclosure);
  await skvOfficer.goto(at(skv, '/portal/requests'));
  await expect(skvOfficer.locator('main')).not.toContainText(ref);

  // Not even the provider's portal shows the requester's case page.
  const fkOfficer = await as('forsakringskassan', 'officer');
  response = await fkOfficer.goto(at(fk, `/portal/requests/${key}`));
  expect(response?.status(), "Malmö's request at Försäkringskassan's portal").toBe(404);

  const skvReviewer = await as('skatteverket', 'reviewer');
  response = await skvReviewer.goto(at(skv, `/portal/review/${ticket}`));
  expect(response?.status(), "Försäkringskassan's ticket at Skatteverket's portal").toBe(404);
  await expect(skvReviewer.locator('main')).not.toContainText(fed.subjects.review);
  await skvReviewer.goto(at(skv, '/portal/review'));
  await expect(skvReviewer.locator(`a[href="/portal/review/${ticket}"]`)).toHaveCount(0);

  // Malmö's own reviewer has no business with Försäkringskassan's ticket either.
  const malmoReviewer = await as('malmo-stad', 'reviewer');
  response = await malmoReviewer.goto(at(malmo, `/portal/review/${ticket}`));
  expect(response?.status(), "Försäkringskassan's ticket at Malmö's portal").toBe(404);
});

test('a form posted without the session\'s CSRF token is refused with 403 and does nothing', async ({ as, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const officer = await as('malmo-stad', 'officer');
  await officer.goto(at(p, '/portal/requests/new?offering=fk-formaner'));
  const form = {
    offering: 'fk-formaner',
    subject: fed.subjects.disclosure,
    legal_basis: 'luffa',
    purpose: 'kontroll-ekonomiskt-bistand',
    fields: 'forman',
    key: `csrf-${caseRef()}`,
  };
  const missing = caseRef();
  let response = await officer.request.post(at(p, '/portal/requests'), { form: { ...form, case_ref: missing }, maxRedirects: 0 });
  expect(response.status(), 'POST without a CSRF token').toBe(403);

  const forged = caseRef();
  response = await officer.request.post(at(p, '/portal/requests'), {
    form: { ...form, case_ref: forged, csrf: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    maxRedirects: 0,
  });
  expect(response.status(), 'POST with a made-up CSRF token').toBe(403);

  // Another session's token does not do either.
  const other = await as('malmo-stad', 'officer');
  await other.goto(at(p, '/portal/'));
  const foreign = caseRef();
  response = await officer.request.post(at(p, '/portal/requests'), {
    form: { ...form, case_ref: foreign, csrf: await csrfOf(other) },
    maxRedirects: 0,
  });
  expect(response.status(), "POST with another session's CSRF token").toBe(403);

  await officer.goto(at(p, '/portal/requests'));
  await expect(officer).toHaveURL(at(p, '/portal/requests'));
  for (const ref of [missing, forged, foreign]) await expect(officer.locator('main')).not.toContainText(ref);

  // The same form with the page's token goes through.
  const ok = await officer.request.post(at(p, '/portal/requests'), {
    form: { ...form, case_ref: caseRef(), csrf: await csrfOf(officer) },
    maxRedirects: 0,
  });
  expect([302, 303], `POST with the session's token: ${ok.status()} ${await ok.text()}`).toContain(ok.status());
});

test('every form of every role checks the CSRF token', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const officer = await as('malmo-stad', 'officer');
  const { caseRef: ref } = await sendRequest(officer, malmo, { subject: fed.subjects.review, fields: ['forman'] });
  const ticket = await ticketFor(fk, ref);
  const jurist = await as('forsakringskassan', 'reviewer');
  const auditor = await as('forsakringskassan', 'auditor');
  const admin = await as('forsakringskassan', 'admin');
  const fkOfficer = await as('forsakringskassan', 'officer');
  const intruder = `csrf-${Math.random().toString(36).slice(2, 8)}`;

  const posts: [Page, string, Record<string, string>][] = [
    [jurist, `/portal/review/${ticket}`, { 'outcome-forman': 'disclose', 'reason-forman': 'Inget hinder.' }],
    [auditor, '/portal/audit/verify', {}],
    [auditor, '/portal/audit/subject', { subject: fed.subjects.disclosure }],
    [admin, '/portal/admin/users', { username: intruder, display_name: 'X', unit: 'x', officer_role: 'handlaggare', roles: 'admin', password: 'Ett-långt-lösenord-2026' }],
    [admin, '/portal/admin/users/jurist', { action: 'password', password: 'Ett-långt-lösenord-2026' }],
    [admin, '/portal/admin/users/jurist', { action: 'save', display_name: 'Kapad', unit: 'x', officer_role: 'jurist', roles: 'admin' }],
    [fkOfficer, '/portal/messages/new', { key: intruder, to: 'skatteverket', case_ref: intruder, title: 'X', text: 'X' }],
    [jurist, '/portal/logout', {}],
  ];
  const refused: string[] = [];
  for (const [page, path, form] of posts) {
    const response = await page.request.post(at(fk, path), { form, maxRedirects: 0 });
    if (response.status() !== 403) refused.push(`POST ${path} without csrf: ${response.status()} ${(await response.text()).slice(0, 120)}`);
  }
  // Files are uploaded by the page's script, which sends the token in a header instead.
  const upload = await fkOfficer.request.post(at(fk, '/portal/uploads'), {
    headers: { 'tus-resumable': '1.0.0', 'upload-length': '5', 'upload-metadata': 'filename eC50eHQ=' },
    maxRedirects: 0,
  });
  if (upload.status() !== 403) refused.push(`POST /portal/uploads without X-CSRF-Token: ${upload.status()}`);
  expect(refused, 'forms accepted or refused otherwise than with 403').toEqual([]);

  // None of them did anything.
  expect((await localApi(fk, `/v1/reviews/${ticket}`)).state).toBe('pending');
  await admin.goto(at(fk, '/portal/admin/users'));
  await expect(admin.locator('#users')).not.toContainText(intruder);
  await expect(admin.locator('#users')).not.toContainText('Kapad');
  await jurist.goto(at(fk, '/portal/review'));
  await expect(jurist).toHaveURL(at(fk, '/portal/review'));
  const again = await as('forsakringskassan', 'reviewer');
  await expect(again).toHaveURL(at(fk, '/portal/'));
});
