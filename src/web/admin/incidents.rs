//! Incident operations for SREs: the JSON API under `/api/v1/admin/incidents` (scope
//! `read` to read, `operate` to change) and the pages under `/admin/incidents` (signed in,
//! CSRF-checked forms). Every change is written to the audit log and the public site is
//! rebuilt at once.
//!
//! - `GET /api/v1/admin/incidents`, `GET /api/v1/admin/incidents/{id}`
//! - `POST /api/v1/admin/incidents` `{provider, title, affected_models, impact, status?, body, notify}`
//! - `POST /api/v1/admin/incidents/{id}/acknowledge`
//! - `POST /api/v1/admin/incidents/{id}/updates` `{status, body, notify, impact?, affected_models?}`
//! - `POST /api/v1/admin/incidents/{id}/resolve` `{body?, notify}`
//! - `PUT /api/v1/admin/incidents/{id}/postmortem` `{url}` (`null` unlinks)

use std::collections::BTreeSet;
use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{AdminState, AdminUser, ApiCaller};
use super::internal;
use super::page::{check_csrf, layout, page, CsrfForm, PageError, PageForm, PagePath, PageUser};
use crate::admin::audit::{self, Actor, Change};
use crate::admin::Scope;
use crate::evaluate::incidents::IncidentStatus;
use crate::store::incident_ops::{self, NewIncident, NewUpdate, OpsError};
use crate::store::incidents::Incident;
use crate::web::http::rejections::{json_body, ApiPath};
use crate::web::http::ApiError;
use crate::web::pages::{time, TimeView};

pub(super) fn api_routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/api/v1/admin/incidents", get(api_list).post(api_open))
        .route("/api/v1/admin/incidents/{id}", get(api_show))
        .route(
            "/api/v1/admin/incidents/{id}/acknowledge",
            post(api_acknowledge),
        )
        .route("/api/v1/admin/incidents/{id}/updates", post(api_update))
        .route("/api/v1/admin/incidents/{id}/resolve", post(api_resolve))
        .route(
            "/api/v1/admin/incidents/{id}/postmortem",
            put(api_postmortem),
        )
}

pub(super) fn page_routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/admin/incidents", get(list_page).post(open_form))
        .route("/admin/incidents/{id}", get(show_page))
        .route("/admin/incidents/{id}/acknowledge", post(acknowledge_form))
        .route("/admin/incidents/{id}/update", post(update_form))
        .route("/admin/incidents/{id}/postmortem", post(postmortem_form))
}

fn ops_error(e: OpsError) -> ApiError {
    match e {
        OpsError::NotFound(id) => {
            ApiError::status(StatusCode::NOT_FOUND, format!("no incident {id}"))
        }
        OpsError::Conflict(m) => ApiError::status(StatusCode::CONFLICT, m),
        OpsError::Invalid { field, message } => ApiError::field(field, message),
        OpsError::Store(e) => internal(e),
    }
}

/// The incident as the admin API shows it: the public fields plus who acknowledged it.
fn incident_json(i: &Incident) -> Value {
    let mut v = serde_json::to_value(i).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("acknowledged_by".into(), json!(i.acknowledged_by));
    }
    v
}

/// Checks that every affected model is a configured model of `provider`.
fn check_models(
    state: &AdminState,
    provider: &str,
    models: &[String],
) -> Result<BTreeSet<String>, ApiError> {
    let mut out = BTreeSet::new();
    for m in models {
        let m = m.trim();
        if m.is_empty() {
            continue;
        }
        let known = state
            .app
            .config
            .models()
            .any(|(p, model)| p.id == provider && format!("{}/{}", p.id, model.id) == m);
        if !known {
            return Err(ApiError::field(
                "affected_models",
                format!("`{m}` is not a model of provider `{provider}`; give `provider/model` ids"),
            ));
        }
        out.insert(m.to_string());
    }
    Ok(out)
}

/// After a change: audit it, wake the dispatcher (when notified) and republish the site.
async fn changed(
    state: &AdminState,
    actor: &Actor,
    client: Option<String>,
    action: &str,
    id: i64,
    detail: Value,
) -> Result<(), ApiError> {
    let target = id.to_string();
    let change = Change {
        actor,
        action,
        target: Some(&target),
        detail,
        client_addr: client,
    };
    audit::record(state.auth.store(), change, state.now())
        .await
        .map_err(internal)?;
    state.app.announced.notify_one();
    state.app.republish.notify_one();
    Ok(())
}

async fn load(state: &AdminState, id: i64) -> Result<Incident, ApiError> {
    state
        .app
        .store
        .incident(id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::status(StatusCode::NOT_FOUND, format!("no incident {id}")))
}

// --- operations shared by the API and the pages ---

struct Who {
    actor: Actor,
    client: Option<String>,
}

impl From<&ApiCaller> for Who {
    fn from(c: &ApiCaller) -> Who {
        Who {
            actor: c.actor.clone(),
            client: c.client.clone(),
        }
    }
}

impl From<&AdminUser> for Who {
    fn from(u: &AdminUser) -> Who {
        Who {
            actor: u.actor(),
            client: u.client.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenRequest {
    provider: String,
    title: String,
    #[serde(default)]
    affected_models: Vec<String>,
    impact: String,
    #[serde(default)]
    status: Option<String>,
    body: String,
    #[serde(default)]
    notify: bool,
}

async fn do_open(state: &AdminState, who: &Who, req: OpenRequest) -> Result<i64, ApiError> {
    if !state
        .app
        .config
        .providers
        .iter()
        .any(|p| p.id == req.provider)
    {
        return Err(ApiError::field(
            "provider",
            format!("`{}` is not a configured provider", req.provider),
        ));
    }
    let affected = check_models(state, &req.provider, &req.affected_models)?;
    let status = incident_ops::parse_status(req.status.as_deref().unwrap_or("investigating"))
        .map_err(ops_error)?;
    let new = NewIncident {
        provider_id: req.provider.clone(),
        title: req.title.clone(),
        impact: req.impact.clone(),
        affected: affected.clone(),
        status,
        body: req.body,
        notify: req.notify,
    };
    let id = state
        .app
        .store
        .open_incident_by_hand(&new, state.now())
        .await
        .map_err(ops_error)?;
    let detail = json!({
        "provider": req.provider, "title": new.title.trim(), "impact": req.impact,
        "affected_models": affected, "status": status.as_str(), "notify": req.notify,
    });
    changed(
        state,
        &who.actor,
        who.client.clone(),
        "incident.open",
        id,
        detail,
    )
    .await?;
    Ok(id)
}

async fn do_acknowledge(state: &AdminState, who: &Who, id: i64) -> Result<(), ApiError> {
    state
        .app
        .store
        .acknowledge_incident(id, &who.actor.name, state.now())
        .await
        .map_err(ops_error)?;
    changed(
        state,
        &who.actor,
        who.client.clone(),
        "incident.acknowledge",
        id,
        json!({}),
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateRequest {
    status: String,
    body: String,
    #[serde(default)]
    notify: bool,
    #[serde(default)]
    impact: Option<String>,
    #[serde(default)]
    affected_models: Option<Vec<String>>,
}

async fn do_update(
    state: &AdminState,
    who: &Who,
    id: i64,
    req: UpdateRequest,
) -> Result<(), ApiError> {
    let incident = load(state, id).await?;
    let status = incident_ops::parse_status(&req.status).map_err(ops_error)?;
    let affected = match &req.affected_models {
        Some(list) => Some(check_models(state, &incident.provider_id, list)?),
        None => None,
    };
    let update = NewUpdate {
        status,
        body: req.body,
        impact: req.impact.clone(),
        affected: affected.clone(),
        notify: req.notify,
    };
    state
        .app
        .store
        .post_incident_update(id, &update, state.now())
        .await
        .map_err(ops_error)?;
    let action = if status == IncidentStatus::Resolved {
        "incident.resolve"
    } else {
        "incident.update"
    };
    let detail = json!({
        "status": status.as_str(), "impact": req.impact, "affected_models": affected,
        "notify": req.notify,
    });
    changed(state, &who.actor, who.client.clone(), action, id, detail).await
}

async fn do_postmortem(
    state: &AdminState,
    who: &Who,
    id: i64,
    url: Option<String>,
) -> Result<(), ApiError> {
    let url = url.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    state
        .app
        .store
        .set_incident_postmortem(id, url.as_deref(), state.now())
        .await
        .map_err(ops_error)?;
    changed(
        state,
        &who.actor,
        who.client.clone(),
        "incident.postmortem",
        id,
        json!({ "url": url }),
    )
    .await
}

// --- JSON API ---

async fn api_list(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Read)?;
    let list = state.app.store.incidents(500).await.map_err(internal)?;
    let list: Vec<Value> = list.iter().map(incident_json).collect();
    Ok(Json(json!({ "incidents": list })))
}

async fn api_show(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Read)?;
    let incident = load(&state, id).await?;
    Ok(Json(json!({ "incident": incident_json(&incident) })))
}

async fn reply(state: &AdminState, status: StatusCode, id: i64) -> Result<Response, ApiError> {
    let incident = load(state, id).await?;
    Ok((
        status,
        Json(json!({ "incident": incident_json(&incident) })),
    )
        .into_response())
}

async fn api_open(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    body: Result<Json<OpenRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Operate)?;
    let req = json_body(body)?;
    let id = do_open(&state, &(&caller).into(), req).await?;
    reply(&state, StatusCode::CREATED, id).await
}

async fn api_acknowledge(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Operate)?;
    do_acknowledge(&state, &(&caller).into(), id).await?;
    reply(&state, StatusCode::OK, id).await
}

async fn api_update(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(id): ApiPath<i64>,
    body: Result<Json<UpdateRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Operate)?;
    let req = json_body(body)?;
    do_update(&state, &(&caller).into(), id, req).await?;
    reply(&state, StatusCode::CREATED, id).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveRequest {
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    notify: bool,
}

async fn api_resolve(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(id): ApiPath<i64>,
    body: Result<Json<ResolveRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Operate)?;
    let req = json_body(body)?;
    let update = UpdateRequest {
        status: "resolved".into(),
        body: req
            .body
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| "This incident has been resolved.".into()),
        notify: req.notify,
        impact: None,
        affected_models: None,
    };
    do_update(&state, &(&caller).into(), id, update).await?;
    reply(&state, StatusCode::OK, id).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostmortemRequest {
    url: Option<String>,
}

async fn api_postmortem(
    State(state): State<Arc<AdminState>>,
    caller: ApiCaller,
    ApiPath(id): ApiPath<i64>,
    body: Result<Json<PostmortemRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Operate)?;
    let req = json_body(body)?;
    do_postmortem(&state, &(&caller).into(), id, req.url).await?;
    reply(&state, StatusCode::OK, id).await
}

// --- pages ---

struct Row {
    id: i64,
    title: String,
    provider: String,
    status: String,
    impact: String,
    automatic: bool,
    acknowledged: bool,
    created: TimeView,
}

#[derive(Template)]
#[template(path = "admin/incidents.html")]
struct ListPage {
    layout: crate::web::pages::Layout,
    csrf: String,
    incidents: Vec<Row>,
    providers: Vec<String>,
    models: Vec<String>,
}

struct UpdateRow {
    at: TimeView,
    status: String,
    impact: String,
    body: String,
}

#[derive(Template)]
#[template(path = "admin/incident.html")]
struct DetailPage {
    layout: crate::web::pages::Layout,
    csrf: String,
    id: i64,
    title: String,
    provider: String,
    status: String,
    impact: String,
    automatic: bool,
    resolved: bool,
    affected: String,
    acknowledged: Option<(String, TimeView)>,
    postmortem_url: String,
    models: Vec<String>,
    updates: Vec<UpdateRow>,
}

fn see_other(to: String) -> Response {
    Redirect::to(&to).into_response()
}

async fn list_page(
    State(state): State<Arc<AdminState>>,
    user: Result<AdminUser, ApiError>,
) -> Result<Response, PageError> {
    let Ok(user) = user else {
        return Ok(see_other("/admin/login".into()));
    };
    let incidents = state.app.store.incidents(200).await.map_err(internal)?;
    let t = ListPage {
        layout: layout("Incidents"),
        csrf: state.auth.csrf_token(&user.session),
        incidents: incidents
            .iter()
            .map(|i| Row {
                id: i.id,
                title: i.title.clone(),
                provider: i.provider_id.clone(),
                status: i.status.clone(),
                impact: i.impact.clone(),
                automatic: i.automatic,
                acknowledged: i.acknowledged_at.is_some(),
                created: time(i.created_at),
            })
            .collect(),
        providers: state
            .app
            .config
            .providers
            .iter()
            .map(|p| p.id.clone())
            .collect(),
        models: state
            .app
            .config
            .models()
            .map(|(p, m)| format!("{}/{}", p.id, m.id))
            .collect(),
    };
    Ok(page(StatusCode::OK, t))
}

async fn show_page(
    State(state): State<Arc<AdminState>>,
    user: Result<AdminUser, ApiError>,
    PagePath(id): PagePath<i64>,
) -> Result<Response, PageError> {
    let Ok(user) = user else {
        return Ok(see_other("/admin/login".into()));
    };
    let i = load(&state, id).await?;
    let t = DetailPage {
        layout: layout(&format!("Incident #{id}")),
        csrf: state.auth.csrf_token(&user.session),
        id,
        title: i.title.clone(),
        provider: i.provider_id.clone(),
        status: i.status.clone(),
        impact: i.impact.clone(),
        automatic: i.automatic,
        resolved: i.resolved_at.is_some(),
        affected: i.affected.join(", "),
        acknowledged: match (&i.acknowledged_by, i.acknowledged_at) {
            (Some(by), Some(at)) => Some((by.clone(), time(at))),
            _ => None,
        },
        postmortem_url: i.postmortem_url.clone().unwrap_or_default(),
        models: state
            .app
            .config
            .models()
            .filter(|(p, _)| p.id == i.provider_id)
            .map(|(p, m)| format!("{}/{}", p.id, m.id))
            .collect(),
        updates: i
            .updates
            .iter()
            .rev()
            .map(|u| UpdateRow {
                at: time(u.at),
                status: u.status.clone(),
                impact: u.impact.clone(),
                body: u.body.clone(),
            })
            .collect(),
    };
    Ok(page(StatusCode::OK, t))
}

/// Comma- or space-separated model ids from a form field.
fn model_list(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Deserialize)]
struct OpenForm {
    #[serde(default)]
    csrf: String,
    provider: String,
    title: String,
    #[serde(default)]
    affected_models: String,
    impact: String,
    #[serde(default)]
    status: Option<String>,
    body: String,
    #[serde(default)]
    notify: Option<String>,
}

async fn open_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PageForm(form): PageForm<OpenForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    let req = OpenRequest {
        provider: form.provider,
        title: form.title,
        affected_models: model_list(&form.affected_models),
        impact: form.impact,
        status: form.status,
        body: form.body,
        notify: form.notify.is_some(),
    };
    let id = do_open(&state, &(&user).into(), req).await?;
    Ok(see_other(format!("/admin/incidents/{id}")))
}

async fn acknowledge_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    do_acknowledge(&state, &(&user).into(), id).await?;
    Ok(see_other(format!("/admin/incidents/{id}")))
}

#[derive(Deserialize)]
struct UpdateForm {
    #[serde(default)]
    csrf: String,
    status: String,
    body: String,
    #[serde(default)]
    impact: String,
    #[serde(default)]
    affected_models: Option<String>,
    #[serde(default)]
    notify: Option<String>,
}

async fn update_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<UpdateForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    let req = UpdateRequest {
        status: form.status,
        body: form.body,
        notify: form.notify.is_some(),
        impact: Some(form.impact).filter(|i| !i.is_empty()),
        affected_models: form.affected_models.as_deref().map(model_list),
    };
    do_update(&state, &(&user).into(), id, req).await?;
    Ok(see_other(format!("/admin/incidents/{id}")))
}

#[derive(Deserialize)]
struct PostmortemForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
}

async fn postmortem_form(
    State(state): State<Arc<AdminState>>,
    PageUser(user): PageUser,
    PagePath(id): PagePath<i64>,
    PageForm(form): PageForm<PostmortemForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &user, &form.csrf)?;
    do_postmortem(&state, &(&user).into(), id, Some(form.url)).await?;
    Ok(see_other(format!("/admin/incidents/{id}")))
}
