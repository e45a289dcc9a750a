// The officer's messages: a letter Malmö stad's case system sends to Försäkringskassan arrives in
// the inbox of every unit there (it is addressed to the authority), opens with its text, and is
// taken; the pages pass axe's WCAG 2.1 A/AA scan.

import { test, expect } from '../support/fixtures';
import { apiAt, at, caseRef, caseSystemToken, type Portal } from '../support/federation';
import { expectAccessible, expectNoOverflow, submit } from '../support/portal';

async function sendLetter(from: Portal, ref: string, text: string): Promise<string> {
  const response = await fetch(apiAt(from, '/v1/messages'), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${caseSystemToken()}`,
      'content-type': 'application/json',
      'idempotency-key': `letter-${ref}`,
    },
    body: JSON.stringify({
      officer: 'malmo-h4711',
      unit: 'malmo-ekonomiskt-bistand',
      role: 'handlaggare',
      to: { authority: 'forsakringskassan' },
      kind: { type: 'free_text' },
      title: 'Fråga om utbetalning',
      text,
      case_ref: ref,
    }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()).id;
}

test('a letter arrives in the inbox, opens with its text and is taken', async ({ as, portalOf }) => {
  const malmo = portalOf('malmo-stad');
  const fk = portalOf('forsakringskassan');
  const ref = caseRef('ASN-2026-M');
  const text = 'Vi behöver uppgift om utbetald ersättning för perioden.';
  const id = await sendLetter(malmo, ref, text);

  const page = await as('forsakringskassan', 'officer');
  const row = page.locator('#inbox tbody tr').filter({ hasText: ref });
  await expect(async () => {
    await page.goto(at(fk, '/portal/messages'));
    await expect(row).toHaveCount(1);
  }).toPass({ timeout: 15_000 });
  await expect(row).toContainText('malmo-stad / malmo-ekonomiskt-bistand');
  await expect(row).toContainText('Levererat');
  await expectAccessible(page, 'messages');
  await expectNoOverflow(page, 'messages');

  await row.locator('a').click();
  await expect(page).toHaveURL(at(fk, `/portal/messages/malmo-stad/${id}`));
  await expect(page.locator('#text')).toHaveText(text);
  await expectAccessible(page, 'message');
  await submit(page, page.getByRole('button', { name: 'Ta emot meddelandet' }));
  await expect(page.locator('#state')).toHaveText('Mottaget av enhet');
  await expect(page.getByRole('button', { name: 'Ta emot meddelandet' })).toHaveCount(0);

  // The sender's outbox says the same once Försäkringskassan's signed receipt is back.
  await expect(async () => {
    const sent = await fetch(apiAt(malmo, `/v1/messages/outbox/${id}`), {
      headers: { authorization: `Bearer ${caseSystemToken()}` },
    });
    expect(sent.status).toBe(200);
    const outgoing = await sent.json();
    expect(outgoing.state).toBe('accepted');
    expect(outgoing.accepted.event).toBe('accepted');
  }).toPass({ timeout: 15_000 });
});
