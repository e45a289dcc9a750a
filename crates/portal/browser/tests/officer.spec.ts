// The case officer (handlaggare) at Malmö stad: finds Försäkringskassan's benefits offering,
// composes requests, and reads answers — automatic disclosures and requests waiting for review.

import { test, expect } from '../support/fixtures';
import { at, localApi } from '../support/federation';
import { escapeRegExp, expectRedirect, fillRequest, screenshot, sendRequest, submit } from '../support/portal';

const OFFERING = 'fk-formaner';
/** A personnummer with a valid date but a wrong check digit. */
const INVALID_SUBJECT = '19900101-0000';

test('the offerings page lists every offering of the federation, with a link to request it', async ({ as, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  const offerings: any[] = await localApi(p, '/v1/offerings');
  expect(offerings.length).toBeGreaterThan(1);
  await page.goto(at(p, '/portal/offerings'));
  await screenshot(page, 'offerings');
  // What other authorities provide, each with a link to request it.
  const requestable = offerings.filter((o) => !o.published_here);
  expect(requestable.length).toBeGreaterThan(1);
  for (const offering of requestable) {
    const link = page.locator(`a[href="/portal/requests/new?offering=${offering.id}"]`);
    await expect(link, `a request link for ${offering.id}`).toHaveCount(1);
  }
  const benefits = offerings.find((o) => o.id === OFFERING);
  expect(benefits, `${OFFERING} is an offering of the federation`).toBeDefined();
  await expect(page.locator('main')).toContainText(benefits.title);
  await expect(page.locator('main')).toContainText(benefits.provider_name);

  // Searching narrows the list; a search that matches nothing says so.
  await page.locator('#q').fill(benefits.title);
  await submitSearch(page);
  await expect(page.locator(`a[href="/portal/requests/new?offering=${OFFERING}"]`)).toHaveCount(1);
  expect(await page.locator('a[href^="/portal/requests/new?offering="]').count()).toBeLessThan(requestable.length);
  await page.locator('#q').fill('qqxyzzy-finns-inte');
  await submitSearch(page);
  await expect(page.locator('a[href^="/portal/requests/new?offering="]')).toHaveCount(0);

  await page.goto(at(p, '/portal/offerings'));
  await page.locator(`a[href="/portal/requests/new?offering=${OFFERING}"]`).click();
  await expect(page).toHaveURL(at(p, `/portal/requests/new?offering=${OFFERING}`));
  await expect(page.locator('#subject')).toBeVisible();
});

async function submitSearch(page: import('@playwright/test').Page) {
  await Promise.all([page.waitForURL(/\/portal\/offerings\?/), page.locator('#q').press('Enter')]);
}

test('the request form offers only what the rulebook allows this officer, and every field of the offering', async ({
  as,
  portalOf,
}) => {
  const p = portalOf('malmo-stad');
  const admin = await as('malmo-stad', 'admin');
  const { unit, role } = await officerIdentity(admin, p, 'handlaggare');
  const allowed = await localApi(p, `/v1/offerings/${OFFERING}/options?unit=${encodeURIComponent(unit)}&role=${encodeURIComponent(role)}`);
  const bases: string[] = allowed.options.map((o: any) => o.legal_basis);
  const purposes = new Set<string>(allowed.options.flatMap((o: any) => o.purposes.map((x: any) => x.id)));
  expect(bases, 'the rulebook lets Malmö claim LUFFA').toContain('luffa');

  const page = await as('malmo-stad', 'officer');
  await page.goto(at(p, `/portal/requests/new?offering=${OFFERING}`));
  await screenshot(page, 'new-request');
  const shownBases = await page.locator('#legal_basis option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value).filter(Boolean));
  expect(new Set(shownBases)).toEqual(new Set(bases));
  // Each option means something different: two options sending the same value offer a choice
  // that is no choice (the rulebook, not the option, decides automatic or manual).
  expect(shownBases, `#legal_basis option values: ${shownBases.join(', ')}`).toEqual([...new Set(shownBases)]);
  const shownPurposes = await page.locator('#purpose option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value).filter(Boolean));
  expect(shownPurposes).toContain('kontroll-ekonomiskt-bistand');
  for (const purpose of shownPurposes) {
    expect(purposes, `purpose ${purpose} is one the rulebook allows ${role} at ${unit}`).toContain(purpose);
  }

  const fields = await page.locator('input[name=fields]').evaluateAll((is) => is.map((i) => (i as HTMLInputElement).value));
  expect(fields.sort()).toEqual(allowed.offering.fields.map((f: any) => f.id).sort());
  expect(fields).toEqual(expect.arrayContaining(['forman', 'belopp', 'period', 'diagnos']));
  // Every control has a label a screen reader announces.
  for (const id of ['subject', 'legal_basis', 'purpose', 'case_ref', 'operation']) {
    await expect(page.locator(`label[for="${id}"]`), `a label for #${id}`).toHaveCount(1);
  }
});

test('the identity number is checked as it is typed', async ({ as, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await page.goto(at(p, `/portal/requests/new?offering=${OFFERING}`));
  const subject = page.locator('#subject');
  const hint = page.locator('#subject-hint');

  await subject.pressSequentially(fed.subjects.disclosure);
  await expect(subject).toHaveAttribute('aria-invalid', 'false');
  const ok = (await hint.innerText()).trim();
  expect(ok, '#subject-hint says the number is valid').not.toBe('');

  await subject.fill('');
  await subject.pressSequentially(INVALID_SUBJECT);
  await expect(subject).toHaveAttribute('aria-invalid', 'true');
  const bad = (await hint.innerText()).trim();
  expect(bad, '#subject-hint says the number is not valid').not.toBe('');
  expect(bad).not.toBe(ok);
  await expect(hint).toContainText(/inte giltig|ogiltig/i);

  // A valid date with the check digit changed is caught too.
  const digits = fed.subjects.disclosure;
  const last = Number(digits.at(-1));
  await subject.fill(digits.slice(0, -1) + String((last + 1) % 10));
  await expect(subject).toHaveAttribute('aria-invalid', 'true');
  await subject.fill(digits);
  await expect(subject).toHaveAttribute('aria-invalid', 'false');
  await expect(hint).toHaveText(ok);
});

test('an invalid identity number sent anyway is refused by the server with 422 and an alert', async ({ as, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  const ref = await fillRequest(page, p, { subject: INVALID_SUBJECT, fields: ['forman'] });
  const response = await submit(page, page.getByRole('button', { name: 'Skicka förfrågan', exact: true }));
  expect(response.status()).toBe(422);
  await expect(page.getByRole('alert')).toBeVisible();
  await expect(page).not.toHaveURL(/\/portal\/requests\/[^/]+$/);
  // What was typed is kept for correcting.
  await expect(page.locator('#case_ref')).toHaveValue(ref);
  await expect(page.locator('#subject')).toHaveValue(INVALID_SUBJECT);
  // Nothing was sent: the officer's list does not show the case.
  await page.goto(at(p, '/portal/requests'));
  await expect(page.locator('main')).not.toContainText(ref);
});

test('a request without any field is refused with 422 and an alert', async ({ as, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await fillRequest(page, p, { subject: fed.subjects.disclosure, fields: [] });
  const response = await submit(page, page.getByRole('button', { name: 'Skicka förfrågan', exact: true }));
  expect(response.status()).toBe(422);
  await expect(page.getByRole('alert')).toBeVisible();
});

test('benefits are disclosed automatically to Malmö, health data is not', async ({ as, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  const { key, caseRef: ref } = await sendRequest(page, p, {
    subject: fed.subjects.disclosure,
    fields: ['forman', 'belopp', 'period', 'diagnos'],
  });
  await screenshot(page, 'answer');
  await expect(page.locator('#status')).toContainText('Besvarad');
  await expect(page.locator('h1')).toContainText(ref);

  // The node's own record of the case: what the page must show.
  const record = await localApi(p, `/v1/requests/${encodeURIComponent(key)}`);
  const answer = record.answer ?? record;
  expect(Object.keys(answer.values).sort()).toEqual(['belopp', 'forman', 'period']);

  const rows = page.locator('#values tbody tr');
  await expect(rows).toHaveCount(3);
  const shown = new Map<string, string>();
  for (const row of await rows.all()) {
    const cells = row.locator('td, th');
    shown.set((await cells.nth(0).innerText()).trim(), (await cells.nth(1).innerText()).trim());
  }
  for (const [field, value] of Object.entries(answer.values)) {
    const cell = [...shown.entries()].find(([label]) => label === field || label.includes(field));
    expect(cell, `#values shows ${field} (rows: ${JSON.stringify([...shown])})`).toBeDefined();
    expect(normalise(cell![1])).toContain(normalise(display(value)));
  }
  await expect(page.locator('#values')).not.toContainText('diagnos');

  // Per field: the outcome and the provision that carried it.
  const verdict = (field: string) => page.locator('#verdicts tbody tr').filter({ has: page.locator('td', { hasText: new RegExp(`^${field}$`) }) });
  for (const field of ['forman', 'belopp', 'period']) {
    await expect(verdict(field)).toContainText('Lämnas ut');
    await expect(verdict(field).locator('td').nth(2)).not.toBeEmpty();
  }
  await expect(verdict('diagnos')).toContainText('Lämnas inte ut');
  await expect(verdict('diagnos').locator('td').nth(2)).not.toBeEmpty();

  // The receipts name both ledgers' entries.
  const receipt = page.locator('#receipt');
  await expect(receipt).toContainText(String(answer.provider_receipt.index));
  await expect(receipt).toContainText(String(answer.receipt.index));
  await expect(receipt).toContainText(answer.provider_receipt.ledger);

  // The list of the officer's requests links to it, with its case reference and state.
  await page.goto(at(p, '/portal/requests'));
  const row = page.locator('#requests tbody tr').filter({ hasText: ref });
  await expect(row).toHaveCount(1);
  await expect(row.locator(`a[href="/portal/requests/${key}"]`)).toHaveCount(1);
  await row.locator('a').first().click();
  await expect(page).toHaveURL(at(p, `/portal/requests/${key}`));
  await expect(page.locator('#status')).toContainText('Besvarad');
});

test('a request about a person with protected identity waits for review at Försäkringskassan', async ({ as, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  const { key, caseRef: ref } = await sendRequest(page, p, {
    subject: fed.subjects.review,
    fields: ['forman', 'belopp', 'period'],
  });
  await expect(page.locator('#status')).toContainText('Väntar på granskning');
  await expect(page.locator('#values')).toHaveCount(0);
  const record = await localApi(p, `/v1/requests/${encodeURIComponent(key)}`);
  const ticket = record.answer?.ticket ?? record.ticket;
  expect(ticket, 'the node knows the review ticket').toBeTruthy();
  await expect(page.locator('#receipt')).toContainText(ticket);

  await page.goto(at(p, '/portal/requests'));
  await expect(page.locator('#requests tbody tr').filter({ hasText: ref })).toHaveCount(1);
});

test('the same form sent twice makes one request, not two', async ({ as, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  const ref = await fillRequest(page, p, { subject: fed.subjects.disclosure, fields: ['forman'] });
  const form = page.locator('form[action="/portal/requests"]');
  const data = await form.evaluate((f) => [...new FormData(f as HTMLFormElement).entries()].map(([k, v]) => [k, String(v)]));
  const body = new URLSearchParams(data as [string, string][]).toString();
  const send = () =>
    page.request.post(at(p, '/portal/requests'), {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      data: body,
      maxRedirects: 0,
    });
  const first = await send();
  const second = await send();
  expectRedirect(first as any, 'the first submission');
  expect(second.status(), 'a resubmission (double click, reload) is not an error').toBeLessThan(400);
  if ([302, 303].includes(second.status())) {
    expect(second.headers()['location']).toBe(first.headers()['location']);
  }
  await page.goto(at(p, '/portal/requests'));
  await expect(page.locator('#requests tbody tr').filter({ hasText: ref })).toHaveCount(1);
});

/** The unit and rulebook role of a demo account, as the admin's account list shows them. */
async function officerIdentity(admin: import('@playwright/test').Page, p: any, username: string) {
  await admin.goto(at(p, '/portal/admin/users'));
  const row = admin.locator('#users tbody tr').filter({ has: admin.locator('td:first-child', { hasText: new RegExp(`^${escapeRegExp(username)}$`) }) });
  await expect(row).toHaveCount(1);
  const cells = row.locator('td');
  return { unit: (await cells.nth(2).innerText()).trim(), role: (await cells.nth(3).innerText()).trim() };
}

function display(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function normalise(text: string): string {
  return text.replace(/[\s\u00a0"]/g, '');
}

test('one question to every source: each answers side by side, and each answer is a request of its own', async ({ as, fed, portalOf }) => {
  const p = portalOf('malmo-stad');
  const page = await as('malmo-stad', 'officer');
  await page.goto(at(p, '/portal/search'));
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sök i alla källor');
  await page.locator('#subject').fill(fed.subjects.disclosure);
  await page.locator('#legal_basis').selectOption('luffa');
  await page.locator('#purpose').selectOption('kontroll-ekonomiskt-bistand');
  await page.locator('#case_ref').fill('ASN-2026-SOK-1');
  await submit(page, page.getByRole('button', { name: 'Sök', exact: true }));
  // Försäkringskassan's benefits are disclosed under the pre-assessment, at once.
  const benefits = page.locator('#source-fk-formaner');
  await expect(benefits).toContainText('Besvarad');
  await expect(benefits.locator('tbody tr').first()).toContainText('Lämnas ut');
  // Every other source answered, went to review or was marked: none is left without a status.
  const sources = page.locator('section.source');
  expect(await sources.count()).toBeGreaterThan(1);
  for (const source of await sources.all()) {
    await expect(source.locator('.badge').first()).toBeVisible();
  }
  // The answer is kept as a request of its own.
  await benefits.getByRole('link', { name: 'Förfrågan' }).click();
  await expect(page.locator('#status')).toContainText('Besvarad');
});
