//! `POST /admin/tokens`: the board's form that creates an API token and shows it once.
//! The token itself is made and audited by [`crate::admin::tokens`]; the JSON side of
//! tokens is in [`super::api`].

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::auth::AdminState;
use super::page::{check_csrf, layout, page, PageError, PageForm, PageUser};
use super::{admin_error, parse_scope};
use crate::admin::{tokens, Scope};
use crate::web::pages::Layout;

/// The new token, shown this once: only its hash is stored.
#[derive(Template)]
#[template(path = "admin/token.html")]
struct TokenShown {
    layout: Layout,
    id: String,
    scope: Scope,
    token: String,
}

/// The board's new-token form as posted.
#[derive(Deserialize)]
pub(super) struct TokenForm {
    #[serde(default)]
    csrf: String,
    scope: String,
    #[serde(default)]
    name: String,
}

/// `POST /admin/tokens`: creates a token and shows it once.
pub(super) async fn token_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PageForm(form): PageForm<TokenForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    let scope = parse_scope(&form.scope)?;
    let store = state.auth.store();
    let (id, token) = tokens::create(
        store,
        scope,
        &form.name,
        &user.actor(),
        user.client.clone(),
        state.now(),
    )
    .await
    .map_err(admin_error)?;
    let t = TokenShown {
        layout: layout("API token created"),
        id,
        scope,
        token: token.expose().into(),
    };
    Ok(page(StatusCode::CREATED, t))
}
