//! The demo's portals: one per authority on its own port, each with an account for every role,
//! created on first run and printed; with `--oidc-issuer`, each also signs people in through
//! that OpenID Connect provider (a public client `utbyte-<authority>`).

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use utbyte_node::Frontend;
use utbyte_portal::oidc::{ClaimNames, OidcSettings, OidcSignIn, CALLBACK_PATH, SIGNED_OUT_PATH};
use utbyte_portal::{Portal, PortalConfig};
use utbyte_rules::Rulebook;
use utbyte_store::AccountProfile;
use utbyte_testbed::loopback::LoopbackFederation;

/// The password of every demo account (printed; the demo holds synthetic data only).
pub const DEMO_PASSWORD: &str = "utbyte-demo-2026";

/// Username, portal role, and the role the rulebook knows the person by.
const ACCOUNTS: [(&str, &str, &str, &str); 4] = [
    ("handlaggare", "officer", "Anna Handläggare", "handlaggare"),
    ("jurist", "reviewer", "Rut Jurist", "jurist"),
    ("granskare", "auditor", "Göran Granskare", "granskare"),
    ("admin", "admin", "Ali Administratör", "administrator"),
];

/// The officer's rulebook role where the example rulebook's pre-assessments name another.
fn officer_role(authority: &str) -> &'static str {
    match authority {
        "polismyndigheten" => "underrattelseanalytiker",
        "ekobrottsmyndigheten" => "utredare",
        _ => "handlaggare",
    }
}

/// The provider as the demo's sign-in links name it.
const DEMO_PROVIDER: &str = "Demo-IdP";

/// The portal of the `i`-th authority, as browsers reach it.
pub fn portal_url(base_port: u16, i: usize) -> String {
    let offset = u16::try_from(i).unwrap_or(0);
    format!("http://127.0.0.1:{}", base_port + 201 + offset)
}

/// The demo portal's OpenID Connect client name at the provider.
fn client_id(authority: &str) -> String {
    format!("utbyte-{authority}")
}

/// Opens each authority's portal under `DIR/nodes/<authority>/` and creates the demo accounts
/// the first time; with `oidc_issuer`, each also signs in through that provider. Returns the
/// frontends to serve, by authority.
pub async fn portals(
    dir: &Path,
    rulebook: &Rulebook,
    authorities: &[&str],
    base_port: u16,
    oidc_issuer: Option<&str>,
) -> anyhow::Result<BTreeMap<String, Frontend>> {
    let mut frontends = BTreeMap::new();
    // Plain http:// on loopback only, like the rest of the demo.
    let http = utbyte_node::AgencyClient::new(None)?;
    for (i, authority) in authorities.iter().enumerate() {
        let oidc = match oidc_issuer {
            Some(issuer) => Some(OidcSignIn::new(
                OidcSettings {
                    issuer: issuer.to_owned(),
                    client_id: client_id(authority),
                    client_secret: None,
                    portal_url: portal_url(base_port, i),
                    name: DEMO_PROVIDER.into(),
                    scopes: vec!["profile".into(), "utbyte".into()],
                    claims: ClaimNames::default(),
                    roles: BTreeMap::new(),
                },
                http.http().clone(),
            )?),
            None => None,
        };
        let known = rulebook
            .vocabulary
            .authorities
            .get(*authority)
            .ok_or_else(|| anyhow::anyhow!("{authority} is not in the rulebook"))?;
        let data_dir = dir.join("nodes").join(authority);
        std::fs::create_dir_all(&data_dir)?;
        let portal = Portal::open(
            &data_dir,
            PortalConfig {
                authority: (*authority).to_owned(),
                authority_name: known.name.clone(),
                secure_cookies: true,
                session_lifetime: time::Duration::hours(8),
                idle_timeout: time::Duration::minutes(30),
                oidc,
            },
        )
        .await?;
        let unit = known
            .units
            .first()
            .map(|u| u.id.clone())
            .ok_or_else(|| anyhow::anyhow!("{authority} has no unit"))?;
        for (username, role, name, rulebook_role) in ACCOUNTS {
            if portal.accounts().store().get(username).await?.is_some() {
                continue;
            }
            let rulebook_role = if role == "officer" {
                officer_role(authority)
            } else {
                rulebook_role
            };
            portal
                .accounts()
                .create(
                    username,
                    &AccountProfile {
                        display_name: name.to_owned(),
                        unit: unit.clone(),
                        officer_role: rulebook_role.to_owned(),
                        roles: vec![role.to_owned()],
                        disabled: false,
                    },
                    DEMO_PASSWORD,
                )
                .await?;
        }
        frontends.insert(
            (*authority).to_owned(),
            utbyte_node::Frontend::new(move |api| portal.router(api)),
        );
    }
    Ok(frontends)
}

/// Per offering of the demo, the units whose reviewers decide its reviews: Försäkringskassan's
/// reviews by its first unit's jurists only (the demo accounts' unit); other authorities' by any.
pub fn review_units(rulebook: &Rulebook) -> std::collections::HashMap<String, Vec<String>> {
    let authority = "forsakringskassan";
    let Some(unit) = rulebook
        .vocabulary
        .authorities
        .get(authority)
        .and_then(|a| a.units.first())
    else {
        return Default::default();
    };
    rulebook
        .vocabulary
        .offerings
        .values()
        // Notice kinds are not answered to requests, so nobody reviews them here.
        .filter(|o| o.provider == authority && !o.notice)
        .map(|o| (o.id.clone(), vec![unit.id.clone()]))
        .collect()
}

/// What a browser (or a test, or an identity provider set up for the demo) needs: every
/// portal's address, its local API, its units and accounts, and its OpenID Connect client.
pub fn accounts_document(
    federation: &LoopbackFederation,
    rulebook: &Rulebook,
    oidc_issuer: Option<&str>,
) -> anyhow::Result<Value> {
    let review_units = review_units(rulebook);
    let mut portals = Vec::new();
    for node in &federation.nodes {
        let known = rulebook
            .vocabulary
            .authorities
            .get(&node.authority)
            .ok_or_else(|| anyhow::anyhow!("{} is not in the rulebook", node.authority))?;
        let portal = node
            .portal_addr
            .ok_or_else(|| anyhow::anyhow!("{} serves no portal", node.authority))?;
        let url = format!("http://{portal}");
        let units: Vec<&str> = known.units.iter().map(|u| u.id.as_str()).collect();
        let accounts: Vec<Value> = ACCOUNTS
            .iter()
            .map(|(username, role, name, rulebook_role)| {
                let rulebook_role = if *role == "officer" {
                    officer_role(&node.authority)
                } else {
                    rulebook_role
                };
                json!({"username": username, "role": role, "name": name,
                       "unit": units.first(), "officer_role": rulebook_role})
            })
            .collect();
        let reviews: BTreeMap<&String, &Vec<String>> = review_units
            .iter()
            .filter(|(offering, _)| {
                rulebook
                    .vocabulary
                    .offerings
                    .get(*offering)
                    .is_some_and(|o| o.provider == node.authority)
            })
            .collect();
        portals.push(json!({
            "authority": node.authority,
            "name": known.name,
            "url": format!("{url}/portal/"),
            "api": format!("http://{}/", node.local_addr),
            "units": units,
            "review_units": reviews,
            "accounts": accounts,
            "oidc": oidc_issuer.map(|_| json!({
                "client_id": client_id(&node.authority),
                "redirect_uri": format!("{url}{CALLBACK_PATH}"),
                "post_logout_redirect_uri": format!("{url}{SIGNED_OUT_PATH}"),
            })),
        }));
    }
    Ok(json!({
        "password": DEMO_PASSWORD,
        "oidc": oidc_issuer.map(|issuer| json!({ "issuer": issuer })),
        "portals": portals,
    }))
}

/// The accounts as printed.
pub fn print_accounts() {
    let list: Vec<String> = ACCOUNTS
        .iter()
        .map(|(username, role, _, _)| format!("{username} ({role})"))
        .collect();
    println!(
        "  accounts at every portal: {}; password {DEMO_PASSWORD}",
        list.join(", ")
    );
}
