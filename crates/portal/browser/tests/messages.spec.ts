// The officer's messages: a letter Malmö stad's case system sends to Försäkringskassan arrives in
// the inbox of every unit there (it is addressed to the authority), opens with its text, and is
// taken; an officer at Polismyndigheten writes a letter in the portal with two files, watches
// them upload (a cut piece resumed, not restarted) and sends it, and Kronofogden's officer
// fetches the files intact; the pages pass axe's WCAG 2.1 A/AA scan.

import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { test, expect } from '../support/fixtures';
import { apiAt, at, caseRef, caseSystemToken, type Portal } from '../support/federation';
import { expectAccessible, expectNoOverflow, expectRedirect, screenshot, submit } from '../support/portal';

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

test('a letter with files is written, uploaded with progress, sent and fetched intact', async ({ as, portalOf }) => {
  const police = portalOf('polismyndigheten');
  const kfm = portalOf('kronofogden');
  const ref = caseRef('POL-2026-F');
  // 20 MiB: three pieces of the page's 8 MiB, so the second can be cut off on its way.
  const big = randomBytes(20 * 1024 * 1024);
  const small = Buffer.from('Beslagsprotokoll 2026-12-06\n', 'utf8');
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

  const page = await as('polismyndigheten', 'officer');
  await page.goto(at(police, '/portal/messages'));
  await page.getByRole('link', { name: 'Nytt meddelande' }).click();
  await expect(page).toHaveURL(at(police, '/portal/messages/new'));
  // The address book: Kronofogden and its units, from the federation's signed configuration.
  await page.locator('#to').selectOption('kronofogden');
  await page.locator('#case_ref').fill(ref);
  await page.locator('#title').fill('Beslag i ärende');
  await page.locator('#text').fill('Bifogat finns underlaget från beslaget.');
  await page.locator('#attach').setInputFiles([
    { name: 'underlag.bin', mimeType: 'application/octet-stream', buffer: big },
    { name: 'protokoll.txt', mimeType: 'text/plain', buffer: small },
  ]);
  await expect(page.locator('#file-list progress')).toHaveCount(2);
  await expectAccessible(page, 'compose');
  await expectNoOverflow(page, 'compose');
  await screenshot(page, 'message-compose');

  // Every value a progress bar shows, kept across the navigation that follows the upload.
  const seen: { name: string; value: number; max: number }[] = [];
  await page.exposeFunction('recordProgress', (name: string, value: number, max: number) => {
    seen.push({ name, value, max });
  });
  await page.evaluate(() => {
    const record = (window as any).recordProgress;
    new MutationObserver((changes) => {
      for (const change of changes) {
        const bar = change.target as HTMLProgressElement;
        record(bar.getAttribute('aria-label'), bar.value, bar.max);
      }
    }).observe(document.getElementById('file-list')!, { attributes: true, subtree: true, attributeFilter: ['value'] });
  });

  // The second piece of the big file is cut off on the line; the page must ask the node where
  // the upload stands and go on from there.
  const patches: string[] = [];
  let cut = false;
  await page.route('**/portal/uploads/*', async (route) => {
    const request = route.request();
    if (request.method() === 'PATCH') {
      const offset = (await request.headerValue('upload-offset')) ?? '?';
      patches.push(offset);
      if (offset === String(8 * 1024 * 1024) && !cut) {
        cut = true;
        await route.abort('connectionreset');
        return;
      }
    }
    if (request.method() === 'HEAD') patches.push('HEAD');
    await route.continue();
  });

  const sent = await submit(page, page.getByRole('button', { name: 'Skicka meddelandet' }));
  expectRedirect(sent, 'sending the letter');
  await expect(page).toHaveURL(at(police, '/portal/messages'));
  const mib8 = String(8 * 1024 * 1024);
  const mib16 = String(16 * 1024 * 1024);
  // Resumed, not restarted: after the cut, the node's offset is asked and the piece sent again
  // from it; the file's start is sent once.
  expect(patches).toEqual(['0', mib8, 'HEAD', mib8, mib16, '0']);
  const bigBar = seen.filter((s) => s.name === 'underlag.bin');
  expect(bigBar.some((s) => s.value > 0 && s.value < big.length), JSON.stringify(bigBar)).toBe(true);
  expect(bigBar.at(-1)).toEqual({ name: 'underlag.bin', value: big.length, max: big.length });
  expect(seen.filter((s) => s.name === 'protokoll.txt').at(-1)?.value).toBe(small.length);
  const outgoing = page.locator('#outbox tbody tr').filter({ hasText: 'kronofogden' }).first();
  await expect(outgoing).toBeVisible();

  // Kronofogden's officer finds the letter, its files listed, and fetches them intact.
  const kfmPage = await as('kronofogden', 'officer');
  const row = kfmPage.locator('#inbox tbody tr').filter({ hasText: ref });
  await expect(async () => {
    await kfmPage.goto(at(kfm, '/portal/messages'));
    await expect(row).toHaveCount(1);
  }).toPass({ timeout: 60_000 });
  await row.locator('a').click();
  await expect(kfmPage.locator('#text')).toHaveText('Bifogat finns underlaget från beslaget.');
  const files = kfmPage.locator('#files li');
  await expect(files).toHaveCount(2);
  await expect(files.nth(0)).toContainText('underlag.bin');
  await expect(files.nth(0)).toContainText('20,0 MB');
  await expect(files.nth(1)).toContainText('protokoll.txt');
  await expectAccessible(kfmPage, 'message with files');
  await screenshot(kfmPage, 'message-files');
  for (const [n, original] of [big, small].entries()) {
    const [download] = await Promise.all([
      kfmPage.waitForEvent('download'),
      files.nth(n).getByRole('link').click(),
    ]);
    const fetched = fs.readFileSync((await download.path())!);
    expect(fetched.length).toBe(original.length);
    expect(sha256(fetched)).toBe(sha256(original));
  }
});
