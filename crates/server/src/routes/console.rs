//! The console session: a login form that trades an API key for an HttpOnly, SameSite=Strict
//! cookie, so a browser can open the API docs (and later the console) without pasting headers.

use crate::AppState;
use crate::auth::{SESSION_COOKIE, authenticate, presented_key};
use crate::error::ApiError;
use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

const LOGIN_HTML: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sextant — sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
input{width:100%;padding:.5rem;margin:.5rem 0;font-family:monospace}button{padding:.5rem 1rem}</style></head>
<body><h1>Sextant</h1><p>Sign in with an API key (<code>sextant keys create --role analyst</code>).</p>
<form method="post" action="/login"><label for="key">API key</label>
<input id="key" name="key" type="password" autocomplete="off" required>
<button type="submit">Sign in</button></form></body></html>"#;

pub(crate) async fn login_page() -> Html<&'static str> {
    Html(LOGIN_HTML)
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    key: String,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let key = form.key.trim();
    authenticate(&state, key).await?;
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie =
        format!("{SESSION_COOKIE}={key}; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800{secure}");
    let mut resp = Redirect::to("/docs/").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie)
            .map_err(|_| ApiError::BadRequest("the key has invalid characters".into()))?,
    );
    Ok(resp)
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
        (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response()
    } else {
        ApiError::Unauthorized("an API key is required: send 'Authorization: Bearer <key>'".into())
            .into_response()
    }
}
