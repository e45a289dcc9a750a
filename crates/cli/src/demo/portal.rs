//! The demo's portals: one per authority, each with an account for every role, created on
//! first run and printed.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use utbyte_node::Frontend;
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
        _ => "handlaggare",
    }
}

/// Opens each authority's portal under `DIR/nodes/<authority>/` and creates the demo accounts
/// the first time. Returns the frontends to mount, by authority.
pub async fn portals(
    dir: &Path,
    rulebook: &Rulebook,
    authorities: &[&str],
) -> anyhow::Result<BTreeMap<String, Frontend>> {
    let mut frontends = BTreeMap::new();
    for authority in authorities {
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

/// What a browser (or a test) needs to sign in: every portal's address and its accounts.
pub fn accounts_document(federation: &LoopbackFederation, rulebook: &Rulebook) -> Value {
    let portals: Vec<Value> = federation
        .nodes
        .iter()
        .map(|node| {
            let name = rulebook
                .vocabulary
                .authorities
                .get(&node.authority)
                .map_or_else(|| node.authority.clone(), |a| a.name.clone());
            json!({
                "authority": node.authority,
                "name": name,
                "url": format!("http://{}/portal/", node.local_addr),
                "accounts": ACCOUNTS
                    .iter()
                    .map(|(username, role, _, _)| json!({"username": username, "role": role}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "password": DEMO_PASSWORD, "portals": portals })
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
