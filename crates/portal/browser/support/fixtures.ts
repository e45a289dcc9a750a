// The spec files' `test`: the running federation, and pages in fresh browser contexts — signed in
// as one of a portal's demo accounts, or anonymous — closed when the test ends.

import { test as base, type Page } from '@playwright/test';
import { loadFederation, portal, type Authority, type Federation, type Portal, type Role } from './federation';
import { CONTEXT, login } from './portal';
import { account } from './federation';

export interface Fixtures {
  fed: Federation;
  /** The portal of an authority. */
  portalOf: (authority: Authority) => Portal;
  /** A page in a fresh context, signed in as the demo account with `role` at `authority`. */
  as: (authority: Authority, role: Role) => Promise<Page>;
  /** A page in a fresh context, not signed in. */
  anonymous: () => Promise<Page>;
}

export const test = base.extend<Fixtures>({
  fed: async ({}, use) => {
    await use(loadFederation());
  },
  portalOf: async ({ fed }, use) => {
    await use((authority) => portal(fed, authority));
  },
  as: async ({ browser, fed }, use) => {
    const contexts: import('@playwright/test').BrowserContext[] = [];
    await use(async (authority, role) => {
      const context = await browser.newContext(CONTEXT);
      contexts.push(context);
      const page = await context.newPage();
      const p = portal(fed, authority);
      await login(page, p, account(p, role).username, fed.password);
      return page;
    });
    for (const context of contexts) await context.close();
  },
  anonymous: async ({ browser }, use) => {
    const contexts: import('@playwright/test').BrowserContext[] = [];
    await use(async () => {
      const context = await browser.newContext(CONTEXT);
      contexts.push(context);
      return context.newPage();
    });
    for (const context of contexts) await context.close();
  },
});

export { expect } from '@playwright/test';
