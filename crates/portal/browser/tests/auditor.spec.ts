// The auditor (granskare) at Försäkringskassan: the ledger's status and verification, the
// follow-up charts, and the subject-access report of what was disclosed about a person.

import { test, expect } from '../support/fixtures';
import { at } from '../support/federation';
import { decideReview, personnummer, screenshot, sendRequest, submit, ticketFor } from '../support/portal';

test('the ledger grows with every exchange and the page shows its checkpoint and witnesses', async ({ as, fed, portalOf }) => {
  const fk = portalOf('forsakringskassan');
  const auditor = await as('forsakringskassan', 'auditor');
  await auditor.goto(at(fk, '/portal/audit'));
  const status = auditor.locator('#ledger-status');
  await expect(status).toBeVisible();
  const before = await ledgerSize(auditor);

  const officer = await as('malmo-stad', 'officer');
  await sendRequest(officer, portalOf('malmo-stad'), { subject: fed.subjects.disclosure, fields: ['forman', 'belopp'] });

  await auditor.reload();
  const after = await ledgerSize(auditor);
  expect(after, 'the disclosure is recorded in the provider\'s ledger').toBeGreaterThan(before);
  await expect(status).toContainText('Vittnessignaturer');
  // The latest checkpoint in its signed-note form: origin, tree size, root hash.
  const checkpoint = auditor.locator('main pre');
  await expect(checkpoint).toHaveCount(1);
  const lines = (await checkpoint.textContent())!.trim().split('\n');
  expect(lines.length, `a checkpoint note: ${lines.join(' | ')}`).toBeGreaterThanOrEqual(3);
  expect(Number(lines[1]), 'the checkpoint\'s tree size').toBeGreaterThan(0);
  expect(Number(lines[1])).toBeLessThanOrEqual(after);
  await expect(status).toContainText(lines[0]);
});

test('the follow-up charts cover outcomes per day, offerings, provisions and review turnaround', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  // Data for every chart: an automatic disclosure and a decided review.
  const officer = await as('malmo-stad', 'officer');
  await sendRequest(officer, malmo, { subject: fed.subjects.disclosure, fields: ['forman', 'diagnos'] });
  const { caseRef: ref } = await sendRequest(officer, malmo, { subject: fed.subjects.review, fields: ['forman'] });
  const jurist = await as('forsakringskassan', 'reviewer');
  await decideReview(jurist, fk, await ticketFor(fk, ref), () => 'disclose');

  const auditor = await as('forsakringskassan', 'auditor');
  await auditor.goto(at(fk, '/portal/audit'));
  const charts = auditor.locator('#charts svg[role=img]');
  expect(await charts.count(), 'at least four charts').toBeGreaterThanOrEqual(4);
  for (const chart of await charts.all()) {
    const name = await chart.evaluate((svg) => {
      const labelledBy = svg.getAttribute('aria-labelledby');
      const byId = labelledBy
        ? labelledBy.split(/\s+/).map((id) => document.getElementById(id)?.textContent ?? '').join(' ')
        : '';
      return (svg.getAttribute('aria-label') ?? '') + byId + (svg.querySelector('title')?.textContent ?? '');
    });
    expect(name.trim(), 'every chart has an accessible name').not.toBe('');
    expect(await chart.locator('rect, path, circle, line, polyline').count(), 'every chart draws something').toBeGreaterThan(0);
  }
  // Every label is drawn inside its chart (an SVG clips what lies outside it).
  const clipped = await charts.evaluateAll((svgs) =>
    svgs.flatMap((svg, i) => {
      const box = svg.getBoundingClientRect();
      return [...svg.querySelectorAll('text')]
        .filter((t) => (t.textContent ?? '').trim() !== '')
        .filter((t) => {
          const r = t.getBoundingClientRect();
          return r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1;
        })
        .map((t) => {
          const r = t.getBoundingClientRect();
          const name = svg.getAttribute('aria-label') ?? svg.closest('figure')?.querySelector('figcaption')?.textContent?.trim() ?? '';
          return `chart ${i + 1} ("${name}"): "${t.textContent}" at x ${Math.round(r.left - box.left)}–${Math.round(r.right - box.left)}, y ${Math.round(r.top - box.top)}–${Math.round(r.bottom - box.top)} of ${Math.round(box.width)}×${Math.round(box.height)}`;
        });
    }),
  );
  expect(clipped, 'chart labels cut off at the edge of their chart').toEqual([]);
  const all = auditor.locator('#charts');
  for (const title of ['per dag', 'erbjudande', 'lagrum', 'granskning']) {
    await expect(all, `a chart about "${title}"`).toContainText(new RegExp(title, 'i'));
  }
  await expect(all, 'the per-offering chart counts the benefits offering').toContainText('fk-formaner');
  await screenshot(auditor, 'audit');
});

test('verifying the ledger reports it verified', async ({ as, portalOf }) => {
  const fk = portalOf('forsakringskassan');
  const auditor = await as('forsakringskassan', 'auditor');
  await auditor.goto(at(fk, '/portal/audit'));
  await expect(auditor.locator('#verify-result')).toHaveCount(0);
  const response = await submit(auditor, auditor.getByRole('button', { name: 'Verifiera liggaren', exact: true }));
  expect(response.status()).toBeLessThan(400);
  await expect(auditor.locator('#verify-result')).toContainText('Verifierad');
  await expect(auditor.locator('#verify-result')).not.toContainText('misslyckades');
});

test('the subject-access report lists what was disclosed about a person, and nothing withheld', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const officer = await as('malmo-stad', 'officer');
  await sendRequest(officer, malmo, { subject: fed.subjects.disclosure, fields: ['forman', 'belopp', 'period', 'diagnos'] });

  const auditor = await as('forsakringskassan', 'auditor');
  await auditor.goto(at(fk, '/portal/audit/subject'));
  await auditor.locator('#subject').fill(fed.subjects.disclosure);
  const response = await submit(auditor, auditor.getByRole('button', { name: 'Ta fram registerutdrag', exact: true }));
  expect(response.status()).toBeLessThan(400);
  const rows = auditor.locator('#report tbody tr');
  expect(await rows.count()).toBeGreaterThan(0);
  const toMalmo = rows.filter({ hasText: 'malmo-stad' });
  expect(await toMalmo.count(), 'entries about disclosures to Malmö stad').toBeGreaterThan(0);
  await expect(toMalmo.filter({ hasText: 'forman' }).first()).toContainText('belopp');
  await expect(auditor.locator('#report')).not.toContainText('diagnos');
  await expect(auditor.locator('#report')).toContainText('fk-formaner');
  await screenshot(auditor, 'audit-subject');

  // Someone nobody asked about: an empty report, said in words.
  const nobody = personnummer('020202', '123');
  await auditor.locator('#subject').fill(nobody);
  await submit(auditor, auditor.getByRole('button', { name: 'Ta fram registerutdrag', exact: true }));
  await expect(auditor.locator('#report tbody tr')).toHaveCount(0);
  await expect(auditor.locator('main')).toContainText(/inga poster/i);
  await expect(auditor.locator('main')).not.toContainText(fed.subjects.disclosure);

  // An invalid number is refused with an alert.
  await auditor.locator('#subject').fill('19900101-0000');
  const invalid = await submit(auditor, auditor.getByRole('button', { name: 'Ta fram registerutdrag', exact: true }));
  expect(invalid.status()).toBe(422);
  await expect(auditor.getByRole('alert')).toBeVisible();
});

async function ledgerSize(page: import('@playwright/test').Page): Promise<number> {
  const text = await page.locator('#ledger-status').innerText();
  const size = page.locator('#ledger-size');
  const raw = (await size.count()) > 0 ? await size.innerText() : text.match(/(\d+)/)?.[1] ?? '';
  const n = Number(raw.replace(/\D/g, ''));
  expect(Number.isFinite(n) && raw.trim() !== '', `the ledger size in #ledger-status: ${text}`).toBe(true);
  return n;
}

test('the recipient\'s auditor reconciles its receipts with the provider\'s ledger', async ({ as, fed, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const officer = await as('malmo-stad', 'officer');
  await sendRequest(officer, malmo, { subject: fed.subjects.disclosure, fields: ['forman'] });

  const auditor = await as('malmo-stad', 'auditor');
  await auditor.goto(at(malmo, '/portal/audit'));
  await auditor.locator('#reconcile-now').click();
  const row = auditor.locator('#reconciliation tbody tr', { hasText: 'forsakringskassan' });
  await expect(row).toHaveCount(1);
  // The answer just received is matched with the provider's entry at once; the count is in
  // the fourth column (provider, state, settled, received, …).
  const received = Number((await row.locator('td').nth(2).textContent())!.trim());
  expect(received, 'answers received from Försäkringskassan, matched with its ledger').toBeGreaterThan(0);
  await expect(row.locator('td').first()).not.toHaveAttribute('data-state', 'unreconciled');
});
