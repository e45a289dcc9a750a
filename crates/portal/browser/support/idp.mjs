// Demo-IdP: a real OpenID Connect provider (the oidc-provider package) for the browser suite, run
// as its own process:
//
//   node support/idp.mjs <config.json>
//
// The configuration (written by support/global-setup.ts from the demo's portal-accounts.json):
//
//   { "issuer": "http://127.0.0.1:17700",            // where it listens (loopback, plain HTTP)
//     "clients": [ { "client_id": "utbyte-malmo-stad",
//                    "redirect_uris": ["http://127.0.0.1:17607/portal/oidc/callback"],
//                    "post_logout_redirect_uris": ["http://127.0.0.1:17607/portal/login"] } ],
//     "people": [ { "login": "malmo-stad.handlaggare", "name": "Anna Handläggare",
//                   "unit": "malmo-ekonomiskt-bistand", "roles": ["officer"],
//                   "officer_role": "handlaggare" } ] }
//
// Every client is public (no secret; authorization code with PKCE S256). A person signs in on the
// provider's own development login page with their login name and any password; a login name
// that names no person is refused there. The portals are first-party clients, so there is no
// consent screen: the scopes they ask for (openid, profile, utbyte) are granted at once. The
// claims — name (profile), unit, roles and officer_role (utbyte) — go into the ID token as well as
// to userinfo. Signing out at the provider (RP-initiated logout) asks for confirmation, then
// returns to the portal's post-logout URI.
//
// Prints `idp ready <issuer>` on stdout once it listens; stops on SIGINT or SIGTERM.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

// Warnings the provider prints about development-only settings this test provider chooses on
// purpose (its own dev login page, its built-in defaults). Anything else is still printed.
const EXPECTED_WARNINGS = [
  'devInteractions is enabled',
  'already parsed request body detected',
  'you MUST change it',
  'you SHOULD change',
  'in-memory adapter',
  // Node 20 runs it; the provider merely recommends a later LTS.
  'Unsupported runtime',
];
for (const level of ['warn', 'info']) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    const text = args.map(String).join(' ');
    if (text.includes('oidc-provider') && EXPECTED_WARNINGS.some((w) => text.includes(w))) return;
    original(...args);
  };
}

const { default: Provider } = await import('oidc-provider');

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node support/idp.mjs <config.json>');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const issuer = new URL(config.issuer);
if (!Array.isArray(config.clients) || !Array.isArray(config.people)) {
  console.error(`${configPath}: "clients" and "people" must be arrays`);
  process.exit(2);
}

/** The people the provider knows, by login name (which is also their `sub`). */
const people = new Map(config.people.map((person) => [person.login, person]));

const SCOPES = ['openid', 'profile', 'utbyte'];
const CLAIMS = {
  openid: ['sub'],
  profile: ['name'],
  utbyte: ['unit', 'roles', 'officer_role'],
};

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `demo-idp-${Date.now().toString(36)}`, use: 'sig', alg: 'RS256' };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/** A plain page of the provider's own (no fonts or scripts fetched from elsewhere). */
function page(title, body) {
  return `<!DOCTYPE html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – Demo-IdP</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 28rem; padding: 0 1rem; color: #1a1a1a; }
  h1 { font-size: 1.4rem; font-weight: 600; }
  button { display: block; width: 100%; margin: 0.5rem 0; padding: 0.6rem; font-size: 1rem; cursor: pointer; }
  .primary { background: #1d4ed8; color: #fff; border: 0; }
  pre { white-space: pre-wrap; word-break: break-word; background: #f4f4f4; padding: 0.5rem; }
</style>
</head>
<body>
<main>
<p>Demo-IdP</p>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>`;
}

const provider = new Provider(issuer.origin, {
  clients: config.clients.map((client) => ({
    client_id: client.client_id,
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris ?? [],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    application_type: 'web',
  })),
  async findAccount(_ctx, id) {
    const person = people.get(id);
    if (!person) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          name: person.name,
          unit: person.unit,
          roles: person.roles,
          officer_role: person.officer_role,
        };
      },
    };
  },
  claims: CLAIMS,
  scopes: SCOPES,
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.type = 'html';
        ctx.body = page(
          'Logga ut från Demo-IdP?',
          `${form}
<button class="primary" type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Ja, logga ut</button>
<button type="submit" form="op.logoutForm">Nej, förbli inloggad</button>`,
        );
      },
      async postLogoutSuccessSource(ctx) {
        ctx.type = 'html';
        ctx.body = page('Utloggad', '<p>Du är utloggad från Demo-IdP.</p>');
      },
    },
  },
  // First-party clients: what they ask for among the provider's scopes is granted without asking.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const known = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    let grant = known ? await oidc.provider.Grant.find(known) : undefined;
    if (!grant) {
      grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
    }
    const requested = String(oidc.params.scope ?? '').split(' ').filter((s) => SCOPES.includes(s));
    grant.addOIDCScope(requested.join(' '));
    const requestedClaims = oidc.requestParamClaims ? [...oidc.requestParamClaims] : [];
    if (requestedClaims.length > 0) grant.addOIDCClaims(requestedClaims);
    await grant.save();
    return grant;
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    const details = Object.entries(out)
      .map(([key, value]) => `<pre><strong>${escapeHtml(key)}</strong>: ${escapeHtml(value)}</pre>`)
      .join('\n');
    ctx.body = page('Något gick fel', details);
  },
  jwks: { keys: [signingKey()] },
  cookies: {
    keys: [randomBytes(32).toString('base64url')],
    // The portals share the host 127.0.0.1 (cookies do not tell ports apart): names of our own.
    names: { session: 'demo_idp_session', interaction: 'demo_idp_interaction', resume: 'demo_idp_resume' },
  },
});

// The development login page takes any login name; this provider only knows its people. A name
// it does not know is refused on the spot (401), with a way back to the form.
provider.use(async (ctx, next) => {
  const submit = ctx.method === 'POST' && /^\/interaction\/[^/]+$/.test(ctx.path);
  if (!submit) return next();
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  const raw = Buffer.concat(chunks).toString('utf8');
  const form = new URLSearchParams(raw);
  if (form.get('prompt') === 'login' && !people.has(form.get('login') ?? '')) {
    ctx.status = 401;
    ctx.type = 'html';
    ctx.body = page(
      'Okänd användare',
      `<p role="alert">Demo-IdP känner ingen person med inloggningsnamnet <strong>${escapeHtml(form.get('login') ?? '')}</strong>.</p>
<p><a href="${escapeHtml(ctx.path)}">Försök igen</a></p>`,
    );
    return undefined;
  }
  // The body has been read: hand it to the provider as read.
  ctx.req.body = raw;
  return next();
});

// The provider's built-in pages import a web font from the internet; a test browser stays local.
provider.use(async (ctx, next) => {
  await next();
  if (typeof ctx.body === 'string' && ctx.response.is('html')) {
    ctx.body = ctx.body.replace(/@import url\(https:\/\/fonts\.googleapis\.com[^)]*\);?/g, '');
  }
});

provider.on('server_error', (_ctx, error) => console.error(`demo-idp server_error: ${error.stack ?? error}`));

const server = provider.listen(Number(issuer.port || 80), issuer.hostname, () => {
  console.log(`idp ready ${issuer.origin}`);
});
server.on('error', (error) => {
  console.error(`demo-idp cannot listen on ${issuer.host}: ${error.message}`);
  process.exit(1);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 2_000).unref();
  });
}
