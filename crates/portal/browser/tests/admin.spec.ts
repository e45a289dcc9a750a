// The administrator: the node's accounts (creating one, what a lockout does, and that a
// colleague's account sees none of another officer's requests) and the
// offerings the node publishes.

import type { Page } from '@playwright/test';
import { test, expect } from '../support/fixtures';
import { at, localApi, type Portal } from '../support/federation';
import { attemptLogin, escapeRegExp, expectForbidden, expectRedirect, login, screenshot, sendRequest, submit } from '../support/portal';

const PASSWORD = 'Ett-långt-lösenord-2026';

function unique(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

function userRow(page: Page, username: string) {
  return page.locator('#users tbody tr').filter({ has: page.locator('td:first-child', { hasText: new RegExp(`^${escapeRegExp(username)}$`) }) });
}

/** Creates an account through the admin's form; returns after the account list shows it. */
async function createAccount(admin: Page, p: Portal, username: string, roles: string[]): Promise<void> {
  await admin.goto(at(p, '/portal/admin/users'));
  await admin.locator('#new-username').fill(username);
  await admin.locator('#new-display-name').fill(`Test ${username}`);
  const units = await admin.locator('#new-unit option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  expect(units.length, 'units to choose from').toBeGreaterThan(0);
  await admin.locator('#new-unit').selectOption(units[0]);
  await admin.locator('#new-officer-role').fill('handlaggare');
  for (const role of roles) await admin.locator(`input[name=roles][value="${role}"]`).check();
  await admin.locator('#new-password').fill(PASSWORD);
  const response = await submit(admin, admin.getByRole('button', { name: 'Skapa konto', exact: true }));
  expectRedirect(response, `creating ${username}: ${await admin.getByRole('alert').allInnerTexts()}`);
  await admin.goto(at(p, '/portal/admin/users'));
  await expect(userRow(admin, username)).toHaveCount(1);
}

test('the account list shows the demo accounts with their roles', async ({ as, portalOf }) => {
  const p = portalOf('malmo-stad');
  const admin = await as('malmo-stad', 'admin');
  await admin.goto(at(p, '/portal/admin/users'));
  await screenshot(admin, 'admin-users');
  for (const { username } of p.accounts) await expect(userRow(admin, username), username).toHaveCount(1);
  // The officer account carries the rulebook role the LUFFA check needs.
  await expect(userRow(admin, 'handlaggare')).toContainText('handlaggare');
  await expect(userRow(admin, 'handlaggare')).toContainText('Handläggare');
  await expect(userRow(admin, 'admin')).toContainText('Administratör');
  // No password hash or secret is shown.
  await expect(admin.locator('#users')).not.toContainText('$argon2');
});

test('an account the admin creates can sign in, with exactly the roles given', async ({ as, anonymous, portalOf }) => {
  const p = portalOf('malmo-stad');
  const admin = await as('malmo-stad', 'admin');
  const username = unique('testare');
  await createAccount(admin, p, username, ['officer']);
  await expect(userRow(admin, username)).toContainText(`Test ${username}`);

  const page = await anonymous();
  await login(page, p, username, PASSWORD);
  const offerings = await page.goto(at(p, '/portal/offerings'));
  expect(offerings?.status()).toBe(200);
  await expectForbidden(page, at(p, '/portal/admin/users'));
  await expectForbidden(page, at(p, '/portal/review'));
  await expectForbidden(page, at(p, '/portal/audit'));

  // An account exists at its own authority only.
  const other = await anonymous();
  const elsewhere = await attemptLogin(other, portalOf('skatteverket'), username, PASSWORD);
  expect(elsewhere.status()).toBe(401);
});

test('an officer sees only their own requests, not a colleague\'s at the same authority', async ({ as, anonymous, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const officer = await as('malmo-stad', 'officer');
  const { key, caseRef: ref } = await sendRequest(officer, p, { subject: fed.subjects.disclosure, fields: ['forman'] });
  const admin = await as('malmo-stad', 'admin');
  const username = unique('kollega');
  await createAccount(admin, p, username, ['officer']);
  const colleague = await anonymous();
  await login(colleague, p, username, PASSWORD);
  const response = await colleague.goto(at(p, `/portal/requests/${key}`));
  expect(response?.status(), "a colleague's request").toBe(404);
  await expect(colleague.locator('main')).not.toContainText(fed.subjects.disclosure);
  await colleague.goto(at(p, '/portal/requests'));
  await expect(colleague.locator('main')).not.toContainText(ref);
  // The officer who sent it still has it.
  const own = await officer.goto(at(p, `/portal/requests/${key}`));
  expect(own?.status()).toBe(200);
});

test('five wrong passwords lock an account; the admin can unlock it', async ({ as, anonymous, portalOf }) => {
  const p = portalOf('malmo-stad');
  const admin = await as('malmo-stad', 'admin');
  const username = unique('sparrprov');
  await createAccount(admin, p, username, ['officer']);

  const page = await anonymous();
  for (let attempt = 1; attempt <= 4; attempt++) {
    const response = await attemptLogin(page, p, username, `fel-lösenord-${attempt}`);
    expect(response.status(), `wrong password ${attempt}`).toBe(401);
    await expect(page.getByRole('alert')).toContainText('Fel användarnamn eller lösenord');
  }
  const fifth = await attemptLogin(page, p, username, 'fel-lösenord-5');
  expect(fifth.status()).toBeGreaterThanOrEqual(400);
  await expect(page.getByRole('alert')).toContainText('låst');
  // Now even the right password is refused.
  const right = await attemptLogin(page, p, username, PASSWORD);
  expect(right.status()).toBeGreaterThanOrEqual(400);
  await expect(page.getByRole('alert')).toContainText('låst');
  await expect(page).toHaveURL(/\/portal\/login/);
  await page.goto(at(p, '/portal/'));
  await expect(page).toHaveURL(/\/portal\/login(\?.*)?$/);

  // The admin sees the lock and lifts it.
  await admin.goto(at(p, '/portal/admin/users'));
  await expect(userRow(admin, username)).toContainText('Låst');
  await userRow(admin, username).getByRole('link', { name: username }).click();
  expectRedirect(await submit(admin, admin.getByRole('button', { name: 'Lås upp', exact: true })), 'unlocking');
  await login(page, p, username, PASSWORD);
});

test('the published offerings are those this node provides', async ({ as, portalOf }) => {
  const fk = portalOf('forsakringskassan');
  const admin = await as('forsakringskassan', 'admin');
  const offerings: any[] = await localApi(fk, '/v1/offerings');
  const published = offerings.filter((o) => o.published_here);
  expect(published.map((o) => o.id)).toContain('fk-formaner');
  await admin.goto(at(fk, '/portal/admin/offerings'));
  const rows = admin.locator('#published tbody tr');
  await expect(rows).toHaveCount(published.length);
  for (const offering of published) {
    const row = rows.filter({ hasText: offering.id });
    await expect(row, offering.id).toHaveCount(1);
    await expect(row).toContainText(offering.title);
    await expect(row).toContainText(offering.secrecy);
  }
  for (const offering of offerings.filter((o) => !o.published_here)) {
    await expect(admin.locator('#published')).not.toContainText(`(${offering.id})`);
  }
  await screenshot(admin, 'admin-offerings');
});
