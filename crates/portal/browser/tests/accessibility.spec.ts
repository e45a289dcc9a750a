// Every page of the portal scanned with axe-core against WCAG 2.1 A and AA: a serious or critical
// violation fails the test, listed with the elements it concerns.

import { test, expect } from '../support/fixtures';
import { at } from '../support/federation';
import { attemptLogin, decideReview, expectAccessible as scan, expectNoOverflow, fillRequest, sendRequest, submit, ticketFor } from '../support/portal';
import type { Page } from '@playwright/test';

/** axe's WCAG 2.1 A/AA scan, and no text sticking out of its box at 1280 px. */
async function expectAccessible(page: Page, what: string): Promise<void> {
  await scan(page, what);
  await expectNoOverflow(page, what);
}

test('login page', async ({ anonymous, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await anonymous();
  await page.goto(at(p, '/portal/login'));
  await expectAccessible(page, 'login');
});

test('login page with an error', async ({ anonymous, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await anonymous();
  await attemptLogin(page, p, 'handlaggare', 'fel');
  await expect(page.getByRole('alert')).toBeVisible();
  await expectAccessible(page, 'login-error');
});

test('login page in English', async ({ anonymous, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await anonymous();
  await page.goto(at(p, '/portal/login'));
  await page.getByRole('link', { name: 'English' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expectAccessible(page, 'login-en');
});

test('a sign-in through the OpenID Connect provider refused at the callback (400)', async ({ anonymous, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await anonymous();
  const response = await page.goto(`${p.oidc!.redirect_uri}?error=access_denied&state=made-up-state`);
  expect(response?.status()).toBe(400);
  await expectAccessible(page, 'oidc-callback-error');
});

test('home page', async ({ as, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await page.goto(at(p, '/portal/'));
  await expectAccessible(page, 'home');
});

test('offerings', async ({ as, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await page.goto(at(p, '/portal/offerings'));
  await expectAccessible(page, 'offerings');
});

test('new request, with the identity number checked as typed', async ({ as, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await page.goto(at(p, '/portal/requests/new?offering=fk-formaner'));
  await expectAccessible(page, 'new-request');
  await page.locator('#subject').fill('19900101-0000');
  await expect(page.locator('#subject')).toHaveAttribute('aria-invalid', 'true');
  await expectAccessible(page, 'new-request-invalid-subject');
  await page.locator('#subject').fill(fed.subjects.disclosure);
  await expect(page.locator('#subject')).toHaveAttribute('aria-invalid', 'false');
  await expectAccessible(page, 'new-request-valid-subject');
});

test('new request refused by the server (422)', async ({ as, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await fillRequest(page, p, { subject: '19900101-0000', fields: ['forman'] });
  const response = await submit(page, page.getByRole('button', { name: 'Skicka förfrågan', exact: true }));
  expect(response.status()).toBe(422);
  await expectAccessible(page, 'new-request-422');
});

test('request result (answered)', async ({ as, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await sendRequest(page, p, { subject: fed.subjects.disclosure, fields: ['forman', 'belopp', 'period', 'diagnos'] });
  await expect(page.locator('#status')).toContainText('Besvarad');
  await expectAccessible(page, 'request-answered');
});

test('request result (waiting for review)', async ({ as, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await sendRequest(page, p, { subject: fed.subjects.review, fields: ['forman', 'belopp'] });
  await expect(page.locator('#status')).toContainText('Väntar på granskning');
  await expectAccessible(page, 'request-in-review');
});

test('request list', async ({ as, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await sendRequest(page, p, { subject: fed.subjects.disclosure, fields: ['forman'] });
  await page.goto(at(p, '/portal/requests'));
  await expect(page.locator('#requests')).toBeVisible();
  await expectAccessible(page, 'requests');
});

test('review queue and review detail, before and after the decision', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const officer = await as('malmo-stad', 'officer');
  const { caseRef: ref } = await sendRequest(officer, malmo, { subject: fed.subjects.review, fields: ['forman', 'belopp', 'period'] });
  const ticket = await ticketFor(fk, ref);
  const jurist = await as('forsakringskassan', 'reviewer');
  await jurist.goto(at(fk, '/portal/review'));
  await expect(jurist.locator('#queue')).toBeVisible();
  await expectAccessible(jurist, 'review-queue');
  await jurist.goto(at(fk, `/portal/review/${ticket}`));
  await expectAccessible(jurist, 'review-detail');
  await decideReview(jurist, fk, ticket, (_, i) => (i === 0 ? 'disclose' : 'refuse'));
  await expectAccessible(jurist, 'review-decided');
});

test('review detail refused by the server (422)', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const officer = await as('malmo-stad', 'officer');
  const { caseRef: ref } = await sendRequest(officer, malmo, { subject: fed.subjects.review, fields: ['forman'] });
  const ticket = await ticketFor(fk, ref);
  const jurist = await as('forsakringskassan', 'reviewer');
  await jurist.goto(at(fk, `/portal/review/${ticket}`));
  await jurist.locator('form textarea').evaluateAll((ts) => ts.forEach((t) => t.removeAttribute('required')));
  const response = await submit(jurist, jurist.getByRole('button', { name: 'Fatta beslut', exact: true }));
  expect(response.status()).toBe(422);
  await expectAccessible(jurist, 'review-422');
});

test('audit overview with charts and verification', async ({ as, portalOf }) => {
  const fk = portalOf('forsakringskassan');
  const page = await as('forsakringskassan', 'auditor');
  await page.goto(at(fk, '/portal/audit'));
  await expect(page.locator('#charts svg[role=img]').first()).toBeVisible();
  await expectAccessible(page, 'audit');
  await submit(page, page.getByRole('button', { name: 'Verifiera liggaren', exact: true }));
  await expect(page.locator('#verify-result')).toBeVisible();
  await expectAccessible(page, 'audit-verified');
});

test('search all sources, with the answers', async ({ as, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await page.goto(at(p, '/portal/search'));
  await expectAccessible(page, 'search');
  await page.locator('#subject').fill(fed.subjects.disclosure);
  await page.locator('#legal_basis').selectOption('luffa');
  await page.locator('#purpose').selectOption('kontroll-ekonomiskt-bistand');
  await page.locator('#case_ref').fill('ASN-2026-SOK-2');
  await submit(page, page.getByRole('button', { name: 'Sök', exact: true }));
  await expect(page.locator('#source-fk-formaner')).toBeVisible();
  await expectAccessible(page, 'search-answers');
});

test('an officer\'s subscriptions and the notices that arrive', async ({ as, portalOf }) => {
  // The demo subscribes Försäkringskassan's housing-allowance unit (the officer's) at
  // Skatteverket, and its generator changes Skatteverket's register every two seconds.
  const fk = portalOf('forsakringskassan');
  const page = await as('forsakringskassan', 'officer');
  await page.goto(at(fk, '/portal/subscriptions'));
  await expect(page.locator('#subscriptions tbody tr').first()).toContainText('skatteverket');
  await expect(async () => {
    await page.reload();
    await expect(page.locator('#notices tbody tr').first()).toContainText('skatteverket');
  }).toPass({ timeout: 30_000 });
  await expectAccessible(page, 'subscriptions');
});

test('the provider\'s auditor sees who subscribes to what and the notices told', async ({ as, portalOf }) => {
  const skv = portalOf('skatteverket');
  const page = await as('skatteverket', 'auditor');
  await expect(async () => {
    await page.goto(at(skv, '/portal/audit'));
    await expect(page.locator('#granted tbody tr').first()).toContainText('forsakringskassan');
    await expect(page.locator('#notice-counts tbody tr').first()).toContainText('skv-folkbokforing');
  }).toPass({ timeout: 30_000 });
  await expectAccessible(page, 'audit-subscriptions');
});

test('audit subject report', async ({ as, fed, portalOf }) => {
  const fk = portalOf('forsakringskassan');
  const officer = await as('malmo-stad', 'officer');
  await sendRequest(officer, portalOf('malmo-stad'), { subject: fed.subjects.disclosure, fields: ['forman'] });
  const page = await as('forsakringskassan', 'auditor');
  await page.goto(at(fk, '/portal/audit/subject'));
  await expectAccessible(page, 'audit-subject-form');
  await page.locator('#subject').fill(fed.subjects.disclosure);
  await submit(page, page.getByRole('button', { name: 'Ta fram registerutdrag', exact: true }));
  await expect(page.locator('#report')).toBeVisible();
  await expectAccessible(page, 'audit-subject-report');
});

test('admin users', async ({ as, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'admin');
  await page.goto(at(p, '/portal/admin/users'));
  await expect(page.locator('#users')).toBeVisible();
  await expectAccessible(page, 'admin-users');
  await page.locator('#users a[href^="/portal/admin/users/"]').first().click();
  await expectAccessible(page, 'admin-user');
});

test('admin offerings', async ({ as, portalOf }) => {
  const p = portalOf('forsakringskassan');
  const page = await as('forsakringskassan', 'admin');
  await page.goto(at(p, '/portal/admin/offerings'));
  await expect(page.locator('#published')).toBeVisible();
  await expectAccessible(page, 'admin-offerings');
});

test('access denied and not found', async ({ as, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  const forbidden = await page.goto(at(p, '/portal/admin/users'));
  expect(forbidden?.status()).toBe(403);
  await expectAccessible(page, 'forbidden');
  const missing = await page.goto(at(p, '/portal/requests/finns-inte'));
  expect(missing?.status()).toBe(404);
  await expectAccessible(page, 'not-found');
});

test('the first Tab reaches a skip link that moves focus to the main content', async ({ as, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await page.goto(at(p, '/portal/offerings'));
  await page.keyboard.press('Tab');
  const skip = page.locator(':focus');
  await expect(skip).toHaveText('Hoppa till innehållet');
  await expect(skip).toBeVisible();
  await page.keyboard.press('Enter');
  await expect(page.locator('main')).toBeFocused();
});

test('a letter the node refuses, in English', async ({ as, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await page.goto(at(p, '/portal/messages/new'));
  await page.getByRole('link', { name: 'English' }).click();
  await page.locator('#title').fill('Without a case reference');
  const response = await submit(page, page.getByRole('button', { name: 'Send the message' }));
  expect(response.status()).toBe(422);
  await expect(page.getByRole('alert')).toContainText('The message was not sent');
  await expect(page.locator('#title')).toHaveValue('Without a case reference');
  await expectAccessible(page, 'compose-refused-en');
});
