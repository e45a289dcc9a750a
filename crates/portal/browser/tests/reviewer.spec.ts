// The reviewer (jurist) at Försäkringskassan: decides what the rulebook routed to review, with a
// written reason per field, and the decision travels back to the requesting officer at Malmö stad.

import type { Page } from '@playwright/test';
import { test, expect } from '../support/fixtures';
import { at, caseRef, localApi } from '../support/federation';
import { expectAccessible, expectRedirect, openFields, reloadUntil, screenshot, sendRequest, submit, ticketFor } from '../support/portal';

const decide = (page: Page) => submit(page, page.getByRole('button', { name: 'Fatta beslut', exact: true }));

test('the queue lists a request routed to review, with decision support on its page', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const officer = await as('malmo-stad', 'officer');
  const { caseRef: ref } = await sendRequest(officer, malmo, { subject: fed.subjects.review, fields: ['forman', 'belopp', 'period'] });
  const ticket = await ticketFor(fk, ref);

  const jurist = await as('forsakringskassan', 'reviewer');
  await jurist.goto(at(fk, '/portal/review'));
  const href = `a[href="/portal/review/${ticket}"]`;
  const link = jurist.locator(`#queue ${href}`);
  await expect(link).toHaveCount(1);
  await expect(jurist.locator('#queue tbody tr').filter({ has: jurist.locator(href) })).toContainText('malmo-stad');
  await link.click();
  await expect(jurist).toHaveURL(at(fk, `/portal/review/${ticket}`));

  const review = await localApi(fk, `/v1/reviews/${ticket}`);
  await expect(jurist.locator('main')).toContainText(ref);
  await expect(jurist.locator('main')).toContainText(fed.subjects.review);
  await expect(jurist.locator('main')).toContainText('Skyddade personuppgifter');
  await expect(jurist.locator('#candidates')).toBeVisible();
  await expect(jurist.locator('#earlier')).toBeVisible();
  for (const field of review.fields) {
    for (const citation of field.citations) await expect(jurist.locator('#candidates')).toContainText(citation);
    for (const candidate of field.candidates) await expect(jurist.locator('#candidates')).toContainText(candidate.citation);
  }
  // The form asks exactly about the fields the rulebook left to a human.
  const underReview = review.fields.filter((f: any) => f.outcome === 'review').map((f: any) => f.field);
  expect(underReview.length).toBeGreaterThan(0);
  expect((await openFields(jurist)).sort()).toEqual([...underReview].sort());
  for (const field of underReview) {
    await expect(jurist.locator(`textarea[name="reason-${field}"]`)).toHaveCount(1);
    await expect(jurist.locator(`input[name="outcome-${field}"][value=disclose]`)).toHaveCount(1);
    await expect(jurist.locator(`input[name="outcome-${field}"][value=refuse]`)).toHaveCount(1);
  }
  await screenshot(jurist, 'review-detail');
});

test('a decision needs a reason for every field: without one it is refused with 422', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const officer = await as('malmo-stad', 'officer');
  const { caseRef: ref } = await sendRequest(officer, malmo, { subject: fed.subjects.review, fields: ['forman', 'belopp'] });
  const ticket = await ticketFor(fk, ref);
  const jurist = await as('forsakringskassan', 'reviewer');
  await jurist.goto(at(fk, `/portal/review/${ticket}`));
  const fields = await openFields(jurist);
  expect(fields.length).toBeGreaterThan(0);

  // The browser asks for the reason first …
  for (const field of fields) await jurist.locator(`input[name="outcome-${field}"][value=disclose]`).check();
  let posted = false;
  jurist.on('request', (r) => {
    if (r.method() === 'POST') posted = true;
  });
  await jurist.getByRole('button', { name: 'Fatta beslut', exact: true }).click();
  await jurist.waitForTimeout(500);
  expect(posted, 'an empty reason is caught before sending').toBe(false);

  // … and the server insists too, whatever the browser does.
  await jurist.locator('form textarea').evaluateAll((ts) => ts.forEach((t) => t.removeAttribute('required')));
  let response = await decide(jurist);
  expect(response.status()).toBe(422);
  await expect(jurist.getByRole('alert')).toBeVisible();

  // A reason of blanks is no reason.
  for (const field of fields) {
    await jurist.locator(`input[name="outcome-${field}"][value=disclose]`).check();
    await jurist.locator(`textarea[name="reason-${field}"]`).fill('   ');
  }
  response = await decide(jurist);
  expect(response.status()).toBe(422);
  await expect(jurist.getByRole('alert')).toBeVisible();

  // A reason without an outcome is not a decision either.
  await jurist.goto(at(fk, `/portal/review/${ticket}`));
  for (const field of fields) await jurist.locator(`textarea[name="reason-${field}"]`).fill('Prövat enligt 10 kap. 28 § OSL.');
  response = await decide(jurist);
  expect(response.status()).toBe(422);
  await expect(jurist.getByRole('alert')).toBeVisible();

  // Nothing was decided.
  const review = await localApi(fk, `/v1/reviews/${ticket}`);
  expect(review.state).toBe('pending');
});

test('a decision travels back: the officer sees what the jurist disclosed and nothing else', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const officer = await as('malmo-stad', 'officer');
  const { key, caseRef: ref } = await sendRequest(officer, malmo, { subject: fed.subjects.review, fields: ['forman', 'belopp', 'period'] });
  await expect(officer.locator('#status')).toContainText('Väntar på granskning');
  const ticket = await ticketFor(fk, ref);

  const jurist = await as('forsakringskassan', 'reviewer');
  await jurist.goto(at(fk, `/portal/review/${ticket}`));
  const fields = await openFields(jurist);
  expect(fields.length, 'fields under review').toBeGreaterThan(0);
  // Disclose the first field, refuse the rest (if there is only one, disclose it).
  const [disclosed, ...refused] = fields;
  await jurist.locator(`input[name="outcome-${disclosed}"][value=disclose]`).check();
  await jurist.locator(`textarea[name="reason-${disclosed}"]`).fill('Uppgiften behövs för kontrollen och men för den enskilde bedöms inte uppstå.');
  for (const field of refused) {
    await jurist.locator(`input[name="outcome-${field}"][value=refuse]`).check();
    await jurist.locator(`textarea[name="reason-${field}"]`).fill(`Skyddade personuppgifter: ${field} lämnas inte ut.`);
  }
  const response = await decide(jurist);
  expectRedirect(response, `deciding: ${await jurist.getByRole('alert').allInnerTexts()}`);
  await expect(jurist.locator('main')).toContainText('Beslutad');
  await expect(jurist.getByRole('button', { name: 'Fatta beslut', exact: true })).toHaveCount(0);
  const review = await localApi(fk, `/v1/reviews/${ticket}`);
  expect(review.state).toBe('decided');

  // The queue no longer offers it as pending.
  await jurist.goto(at(fk, '/portal/review'));
  await expect(jurist.locator(`#queue a[href="/portal/review/${ticket}"]`)).toHaveCount(0);

  // At Malmö the officer's page turns to answered once the node has fetched the decision.
  await officer.goto(at(malmo, `/portal/requests/${key}`));
  await reloadUntil(officer, officer.locator('#status'), 'Besvarad');
  const values = officer.locator('#values');
  await expect(values.locator('tbody tr')).toHaveCount(1);
  await expect(values.locator('tbody tr td').first()).toContainText(disclosed);
  for (const field of refused) {
    await expect(values).not.toContainText(field);
    const row = officer.locator('#verdicts tbody tr').filter({ has: officer.locator('td', { hasText: new RegExp(`^${field}$`) }) });
    await expect(row).toContainText('Lämnas inte ut');
  }
  const record = await localApi(malmo, `/v1/requests/${encodeURIComponent(key)}`);
  expect(Object.keys((record.answer ?? record).values)).toEqual([disclosed]);
});

test('a decided ticket cannot be decided again', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const officer = await as('malmo-stad', 'officer');
  const { caseRef: ref } = await sendRequest(officer, malmo, { subject: fed.subjects.review, fields: ['forman'] });
  const ticket = await ticketFor(fk, ref);
  const jurist = await as('forsakringskassan', 'reviewer');
  await jurist.goto(at(fk, `/portal/review/${ticket}`));
  const fields = await openFields(jurist);
  // Keep the form's data to send it a second time.
  for (const field of fields) {
    await jurist.locator(`input[name="outcome-${field}"][value=refuse]`).check();
    await jurist.locator(`textarea[name="reason-${field}"]`).fill('Men för den enskilde kan inte uteslutas.');
  }
  const form = jurist.locator(`form[action="/portal/review/${ticket}"]`);
  const data = await form.evaluate((f) => [...new FormData(f as HTMLFormElement).entries()].map(([k, v]) => [k, String(v).replace('inte uteslutas', 'uteslutas')]));
  expectRedirect(await decide(jurist), 'the first decision');
  await expect(jurist.locator('main')).toContainText('Beslutad');

  const again = await jurist.request.post(at(fk, `/portal/review/${ticket}`), {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    data: new URLSearchParams(data as [string, string][]).toString(),
    maxRedirects: 0,
  });
  expect(again.status(), 'deciding a decided ticket again').toBeLessThan(500);
  // Whatever the page says, the first decision stands.
  const review = await localApi(fk, `/v1/reviews/${ticket}`);
  expect(review.decision.map((d: any) => d.reason)).not.toContain('Men för den enskilde kan uteslutas.');
});

test('requests alike but for their subject reach the jurist as one batch, decided once but for those left out', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const officer = await as('malmo-stad', 'officer');
  // Three requests of one case, alike in everything the rulebook weighs.
  const ref = caseRef();
  for (let i = 0; i < 3; i++) {
    await sendRequest(officer, malmo, { subject: fed.subjects.review, fields: ['forman', 'belopp'], caseRef: ref });
  }
  let batch: any;
  await expect
    .poll(
      async () => {
        const batches: any[] = await localApi(fk, '/v1/review-batches');
        batch = batches.find((b) => b.first.case_ref === ref);
        return batch?.pending;
      },
      { message: `a batch of three at Försäkringskassan for ${ref}`, timeout: 15_000 },
    )
    .toBe(3);

  const jurist = await as('forsakringskassan', 'reviewer');
  await jurist.goto(at(fk, '/portal/review'));
  const batchHref = `a[href="/portal/review/batch/${batch.batch}"]`;
  const link = jurist.locator(`#batches ${batchHref}`);
  await expect(link).toHaveCount(1);
  await expect(jurist.locator('#batches tbody tr').filter({ has: jurist.locator(batchHref) })).toContainText(ref);
  await expectAccessible(jurist, 'the review queue with a batch');
  await link.click();
  await expect(jurist).toHaveURL(at(fk, `/portal/review/batch/${batch.batch}`));
  await expect(jurist.locator('#batch-pending')).toContainText('3');
  await expect(jurist.locator('#candidates')).toBeVisible();
  const boxes = jurist.locator('#batch-requests input[name=except]');
  await expect(boxes).toHaveCount(3);
  await expectAccessible(jurist, 'a review batch');
  await screenshot(jurist, 'review-batch');

  // The last request is left for review on its own; the others are decided as one.
  const left = (await boxes.last().getAttribute('value'))!;
  await boxes.last().check();
  const fields = await openFields(jurist);
  expect(fields.length).toBeGreaterThan(0);
  for (const field of fields) {
    await jurist.locator(`input[name="outcome-${field}"][value=refuse]`).check();
    await jurist.locator(`textarea[name="reason-${field}"]`).fill('Skyddade personuppgifter: uppgiften lämnas inte ut.');
  }
  const response = await submit(jurist, jurist.getByRole('button', { name: 'Fatta beslut för omgången', exact: true }));
  expectRedirect(response, `deciding the batch: ${await jurist.getByRole('alert').allInnerTexts()}`);
  await expect(jurist).toHaveURL(at(fk, '/portal/review'));

  await expect
    .poll(async () => (await localApi(fk, '/v1/reviews?state=decided&limit=500')).filter((r: any) => r.case_ref === ref).length, {
      message: 'two reviews of the batch decided',
      timeout: 15_000,
    })
    .toBe(2);
  const tickets: string[] = (await localApi(fk, `/v1/review-batches/${batch.batch}/reviews`)).map((r: any) => r.ticket);
  expect(tickets).toEqual([left]);
  expect((await localApi(fk, `/v1/reviews/${left}`)).state).toBe('pending');
});
