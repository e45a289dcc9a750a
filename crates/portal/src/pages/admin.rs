//! The administrator: this node's accounts and the offerings it publishes.

use super::{render, render_status, respond, Chrome, FormData, PageError};
use crate::identity::{AccountError, Role, SignInError};
use crate::session::Signed;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use time::OffsetDateTime;
use utbyte_api::offerings::{AuthorityView, OfferingView};
use utbyte_api::paths;
use utbyte_store::{Account, AccountProfile, StoreError};

struct UserRow {
    username: String,
    display_name: String,
    unit: String,
    officer_role: String,
    roles: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    c: Chrome,
    users: Vec<UserRow>,
    units: Vec<(String, String)>,
    roles: Vec<(&'static str, &'static str)>,
    error: String,
}

/// Locked: some source is locked out of the account (or a lock an earlier version left).
fn is_locked(state: &AppState, account: &Account, now: i64) -> bool {
    account.locked_at(now) || state.portal.throttle().locked_anywhere(&account.username)
}

fn state_key(state: &AppState, account: &Account, now: i64) -> &'static str {
    if account.disabled {
        "users.disabled"
    } else if is_locked(state, account, now) {
        "users.locked"
    } else {
        "users.active"
    }
}

async fn units(state: &AppState, signed: &Signed) -> Result<Vec<(String, String)>, PageError> {
    let me: AuthorityView = signed.api(state).get(paths::AUTHORITY).await?;
    Ok(me.units.into_iter().map(|u| (u.id, u.title)).collect())
}

fn role_choices(signed: &Signed) -> Vec<(&'static str, &'static str)> {
    let t = crate::text::Text(signed.lang);
    Role::ALL
        .iter()
        .map(|r| (r.as_str(), super::role_label(t, *r)))
        .collect()
}

async fn users_page(
    c: Chrome,
    state: &AppState,
    signed: &Signed,
    error: String,
) -> Result<UsersPage, PageError> {
    let t = crate::text::Text(signed.lang);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let users = state
        .portal
        .store()
        .list()
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?
        .iter()
        .map(|a| UserRow {
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            unit: a.unit.clone(),
            officer_role: a.officer_role.clone(),
            roles: a
                .roles
                .iter()
                .filter_map(|r| Role::parse(r))
                .map(|r| super::role_label(t, r))
                .collect::<Vec<_>>()
                .join(", "),
            state: t.get(state_key(state, a, now)),
        })
        .collect();
    Ok(UsersPage {
        c,
        users,
        units: units(state, signed).await?,
        roles: role_choices(signed),
        error,
    })
}

pub(crate) async fn users(State(state): State<AppState>, signed: Signed) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/admin/users", "users.title");
    let result = async {
        signed.require(Role::Admin)?;
        render(users_page(c.clone(), &state, &signed, String::new()).await?)
    }
    .await;
    respond(c, result)
}

/// The profile a form describes, checked against this authority's units and the known roles.
fn profile(form: &FormData, units: &[(String, String)]) -> Result<AccountProfile, String> {
    let unit = form.one("unit");
    if !units.iter().any(|(id, _)| *id == unit) {
        return Err(format!("`{unit}` is not a unit of this authority"));
    }
    let mut roles = Vec::new();
    for role in form.all("roles") {
        let parsed = Role::parse(&role).ok_or_else(|| format!("`{role}` is not a portal role"))?;
        roles.push(parsed.as_str().to_owned());
    }
    Ok(AccountProfile {
        display_name: form.one("display_name"),
        unit,
        officer_role: form.one("officer_role"),
        roles,
        disabled: form.one("disabled") == "on",
    })
}

fn account_error(e: AccountError, t: crate::text::Text) -> String {
    match e {
        AccountError::ShortPassword => t.get("users.password").to_owned(),
        AccountError::Hash(SignInError::Busy) => t.get("login.busy").to_owned(),
        AccountError::Store(StoreError::Duplicate { .. }) => {
            format!("{}: {}", t.get("users.username"), e)
        }
        other => other.to_string(),
    }
}

pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    form: FormData,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/admin/users", "users.title");
    let result = async {
        signed.check_csrf(&form.one("csrf"))?;
        signed.require(Role::Admin)?;
        let t = c.t;
        let units = units(&state, &signed).await?;
        let outcome = match profile(&form, &units) {
            Ok(profile) => state
                .portal
                .accounts()
                .create(
                    &form.one("username"),
                    &profile,
                    &form.all("password").concat(),
                )
                .await
                .map_err(|e| account_error(e, t)),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => Ok(Redirect::to("/portal/admin/users").into_response()),
            Err(error) => Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                users_page(c.clone(), &state, &signed, error).await?,
            )),
        }
    }
    .await;
    respond(c, result)
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    c: Chrome,
    account: Account,
    locked: bool,
    units: Vec<(String, String)>,
    roles: Vec<(&'static str, &'static str)>,
    error: String,
}

impl UserPage {
    fn has_role(&self, role: &str) -> bool {
        self.account.roles.iter().any(|r| r == role)
    }
}

async fn user_page(
    c: Chrome,
    state: &AppState,
    signed: &Signed,
    username: &str,
    error: String,
) -> Result<UserPage, PageError> {
    let account = state
        .portal
        .store()
        .get(username)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?
        .ok_or(PageError::NotFound)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    Ok(UserPage {
        c,
        locked: is_locked(state, &account, now),
        account,
        units: units(state, signed).await?,
        roles: role_choices(signed),
        error,
    })
}

pub(crate) async fn user(
    State(state): State<AppState>,
    signed: Signed,
    Path(username): Path<String>,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/admin/users", "users.title");
    let result = async {
        signed.require(Role::Admin)?;
        render(user_page(c.clone(), &state, &signed, &username, String::new()).await?)
    }
    .await;
    respond(c, result)
}

/// One form per action: `action` is `save`, `unlock` or `password`.
pub(crate) async fn update(
    State(state): State<AppState>,
    signed: Signed,
    Path(username): Path<String>,
    form: FormData,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/admin/users", "users.title");
    let result = async {
        signed.check_csrf(&form.one("csrf"))?;
        signed.require(Role::Admin)?;
        let t = c.t;
        let store = state.portal.store();
        let internal = |e: StoreError| match e {
            StoreError::NotFound { .. } => PageError::NotFound,
            other => PageError::Internal(other.to_string()),
        };
        let outcome: Result<(), String> = match form.one("action").as_str() {
            "unlock" => {
                store.clear_failures(&username).await.map_err(internal)?;
                state.portal.throttle().clear(&username);
                Ok(())
            }
            "password" => state
                .portal
                .accounts()
                .set_password(&username, &form.all("password").concat())
                .await
                .map_err(|e| account_error(e, t)),
            "save" => match profile(&form, &units(&state, &signed).await?) {
                Ok(profile) => {
                    // An administrator cannot lock themselves out of administration.
                    if username == signed.identity.username
                        && (profile.disabled || !profile.roles.iter().any(|r| r == "admin"))
                    {
                        Err(t.get("error.forbidden_text").to_owned())
                    } else {
                        store
                            .update(&username, &profile)
                            .await
                            .map_err(|e| e.to_string())
                    }
                }
                Err(e) => Err(e),
            },
            _ => return Err(PageError::NotFound),
        };
        match outcome {
            Ok(()) => Ok(Redirect::to(&format!(
                "/portal/admin/users/{}",
                super::encode(&username)
            ))
            .into_response()),
            Err(error) => Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                user_page(c.clone(), &state, &signed, &username, error).await?,
            )),
        }
    }
    .await;
    respond(c, result)
}

#[derive(Template)]
#[template(path = "published.html")]
struct PublishedPage {
    c: Chrome,
    offerings: Vec<OfferingView>,
}

pub(crate) async fn published(State(state): State<AppState>, signed: Signed) -> Response {
    let c = Chrome::new(
        &state,
        &signed,
        "/portal/admin/offerings",
        "published.title",
    );
    let result = async {
        signed.require(Role::Admin)?;
        let all: Vec<OfferingView> = signed.api(&state).get(paths::OFFERINGS).await?;
        render(PublishedPage {
            c: c.clone(),
            offerings: all.into_iter().filter(|o| o.published_here).collect(),
        })
    }
    .await;
    respond(c, result)
}
