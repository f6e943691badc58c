//! The console session: a login form that trades an API key for an HttpOnly, SameSite=Strict
//! cookie, so a browser can open the console, the customer app and the API docs without pasting
//! headers; and `GET /v1/me`, which tells the console who is signed in (the cookie is not
//! readable by scripts).

use super::ui;
use crate::AppState;
use crate::auth::{Principal, SESSION_COOKIE, authenticate, presented_key};
use crate::error::ApiError;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

const LOGIN_HTML: &str = include_str!("../../console/login.html");

/// Escape text for an HTML attribute or element.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn login_html(status: StatusCode, next: Option<&str>, error: Option<&str>) -> Response {
    let next = ui::local_path(next).unwrap_or_default();
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    ui::html(
        status,
        LOGIN_HTML
            .replace("{{next}}", &escape(&next))
            .replace("{{error}}", &error),
    )
}

/// `GET /login?next=/console/`: the sign-in form.
pub(crate) async fn login_page(Query(q): Query<HashMap<String, String>>) -> Response {
    login_html(StatusCode::OK, q.get("next").map(String::as_str), None)
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    key: String,
    /// Where to go after signing in: a local path only (anything else is ignored).
    next: Option<String>,
}

/// `POST /login`: a valid key sets the session cookie and redirects to the console (customer
/// keys to the app, or to `next`); an invalid one shows the form again with a 401.
pub(crate) async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let key = form.key.trim();
    let p = match authenticate(&state, key).await {
        Ok(p) => p,
        Err(ApiError::Unauthorized(m)) => {
            return login_html(StatusCode::UNAUTHORIZED, form.next.as_deref(), Some(&m));
        }
        Err(e) => return e.into_response(),
    };
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie =
        format!("{SESSION_COOKIE}={key}; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800{secure}");
    let Ok(cookie) = HeaderValue::from_str(&cookie) else {
        return login_html(
            StatusCode::BAD_REQUEST,
            form.next.as_deref(),
            Some("the key has invalid characters"),
        );
    };
    let mut resp = Redirect::to(&ui::landing(p.role, form.next.as_deref())).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    resp
}

pub(crate) async fn logout() -> Response {
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sextant_key=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    resp
}

/// Guard for the docs: a valid key (header or cookie), else the login form for browsers and 401
/// for the OpenAPI document.
pub(crate) async fn require_session(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let ok = match presented_key(&parts) {
        Some(k) => authenticate(&state, &k).await.is_ok(),
        None => false,
    };
    if ok {
        return next.run(Request::from_parts(parts, body)).await;
    }
    if parts.uri.path().starts_with("/docs") {
        (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, "/login?next=/docs/")],
        )
            .into_response()
    } else {
        ApiError::Unauthorized("an API key is required: send 'Authorization: Bearer <key>'".into())
            .into_response()
    }
}

/// Who is signed in.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Me {
    /// The key's id (never the secret).
    key_id: String,
    /// admin, analyst, reviewer, app or customer.
    role: String,
    /// For customer-scoped keys: the only customer this key may see.
    customer_id: Option<String>,
}

/// The presented key's role and scope (any key), so a user interface can show what the key may do.
#[utoipa::path(get, path = "/v1/me", tag = "health",
    responses((status = 200, body = Me), (status = 401, body = crate::error::Problem)))]
pub(crate) async fn me(p: Principal) -> Json<Me> {
    Json(Me {
        key_id: p.key_id,
        role: p.role.as_str().to_string(),
        customer_id: p.customer.map(|c| c.as_str().to_string()),
    })
}
