// Signing in and out, and the language switch — for every account of every portal.

import { test, expect } from '../support/fixtures';
import { AUTHORITIES, at } from '../support/federation';
import { attemptLogin, login, screenshot, submit } from '../support/portal';

test('every demo account of every portal can sign in and lands on the home page', async ({ fed, portalOf, anonymous }) => {
  expect(fed.portals.map((p) => p.authority).sort()).toEqual([...AUTHORITIES].sort());
  for (const authority of AUTHORITIES) {
    const p = portalOf(authority);
    // The portal on its own listener; the local API (case systems) on another origin.
    expect(p.url, `${authority}'s portal URL`).toBe(
      `http://127.0.0.1:${fed.basePort + 201 + AUTHORITIES.indexOf(authority)}/portal/`,
    );
    expect(p.api, `${authority}'s local API`).toBe(`http://127.0.0.1:${fed.basePort + 101 + AUTHORITIES.indexOf(authority)}/`);
    expect(p.accounts.map((a) => a.role).sort()).toEqual(['admin', 'auditor', 'officer', 'reviewer']);
    for (const { username } of p.accounts) {
      const page = await anonymous();
      await login(page, p, username, fed.password);
      await expect(page.locator('html')).toHaveAttribute('lang', 'sv');
      await expect(page.getByRole('button', { name: 'Logga ut' })).toBeVisible();
      await page.context().close();
    }
  }
});

test('a wrong password is refused with 401 and an alert, and no session', async ({ fed, portalOf, anonymous }) => {
  const p = portalOf('malmo-stad');
  const page = await anonymous();
  await page.goto(at(p, '/portal/login'));
  await expect(page.locator('html')).toHaveAttribute('lang', 'sv');
  await screenshot(page, 'login');
  const response = await attemptLogin(page, p, 'handlaggare', `${fed.password}-fel`);
  expect(response.status()).toBe(401);
  await expect(page.getByRole('alert')).toContainText('Fel användarnamn eller lösenord');
  // An unknown user gets the same answer: the page does not tell which accounts exist.
  const unknown = await attemptLogin(page, p, 'finns-inte', fed.password);
  expect(unknown.status()).toBe(401);
  await expect(page.getByRole('alert')).toContainText('Fel användarnamn eller lösenord');
  const home = await page.goto(at(p, '/portal/'));
  await expect(page).toHaveURL(/\/portal\/login(\?.*)?$/);
  expect(home?.request().redirectedFrom(), 'the home page redirects to the login page').not.toBeNull();
});

test('signing in at one portal does not sign in at another', async ({ fed, portalOf, anonymous }) => {
  const malmo = portalOf('malmo-stad');
  const skv = portalOf('skatteverket');
  const page = await anonymous();
  await login(page, malmo, 'handlaggare', fed.password);
  await page.goto(at(skv, '/portal/'));
  await expect(page).toHaveURL(/\/portal\/login(\?.*)?$/);
  // Both sessions can live in one context: the cookies are per authority.
  await login(page, skv, 'handlaggare', fed.password);
  await page.goto(at(malmo, '/portal/'));
  await expect(page).toHaveURL(at(malmo, '/portal/'));
});

test('logging out ends the session on the server, not only in the browser', async ({ fed, portalOf, anonymous }) => {
  const p = portalOf('malmo-stad');
  const page = await anonymous();
  await login(page, p, 'handlaggare', fed.password);
  const cookies = await page.context().cookies();
  expect(cookies.length, 'a session cookie').toBeGreaterThan(0);
  const cookie = cookies.find((c) => c.httpOnly);
  expect(cookie, `an HttpOnly session cookie among ${JSON.stringify(cookies)}`).toBeDefined();
  expect(cookie!.sameSite, 'the session cookie is SameSite').not.toBe('None');

  await submit(page, page.getByRole('button', { name: 'Logga ut', exact: true }));
  await expect(page).toHaveURL(/\/portal\/login(\?.*)?$/);
  await page.goto(at(p, '/portal/'));
  await expect(page).toHaveURL(/\/portal\/login(\?.*)?$/);

  // The old cookie, replayed in another browser, must no longer open the portal.
  const replay = await anonymous();
  await replay.context().addCookies(cookies);
  await replay.goto(at(p, '/portal/offerings'));
  await expect(replay).toHaveURL(/\/portal\/login(\?.*)?$/);
});

test('the language switch turns the portal to English and back to Swedish', async ({ fed, portalOf, anonymous }) => {
  const p = portalOf('malmo-stad');
  const page = await anonymous();
  await page.goto(at(p, '/portal/login'));
  await expect(page.locator('html')).toHaveAttribute('lang', 'sv');
  await page.getByRole('link', { name: 'English' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByRole('button', { name: 'Logga in', exact: true })).toHaveCount(0);

  // The choice sticks across pages and through signing in.
  await page.locator('#username').fill('handlaggare');
  await page.locator('#password').fill(fed.password);
  await submit(page, page.locator('form button[type=submit], form input[type=submit]').first());
  await expect(page).toHaveURL(at(p, '/portal/'));
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await page.goto(at(p, '/portal/offerings'));
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');

  await page.getByRole('link', { name: 'Svenska' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'sv');
  await expect(page.getByRole('button', { name: 'Logga ut', exact: true })).toBeVisible();
});

test('signing in issues a new session: a session id planted beforehand is not adopted', async ({ fed, portalOf, anonymous }) => {
  const p = portalOf('malmo-stad');
  const probe = await anonymous();
  await login(probe, p, 'handlaggare', fed.password);
  const before = new Set((await probe.context().cookies()).map((c) => c.name));
  const page = await anonymous();
  await page.goto(at(p, '/portal/login'));
  // Plant a value for every cookie the portal uses once signed in.
  const planted = 'A'.repeat(43);
  const origin = new URL(p.url);
  await page.context().addCookies(
    [...before].map((name) => ({ name, value: planted, domain: origin.hostname, path: '/', httpOnly: true, secure: true, sameSite: 'Strict' as const })),
  );
  await login(page, p, 'handlaggare', fed.password);
  const after = await page.context().cookies();
  expect(after.filter((c) => c.value === planted).map((c) => c.name), 'cookies still holding the planted value').toEqual([]);
});
