//! The web console (`/console/`, analysts, reviewers, admins) and the customer app (`/app/`):
//! a small single-page app in plain JavaScript modules and one CSS file, embedded in the binary
//! with `include_str!` (no build step, nothing fetched from elsewhere at run time).
//!
//! The two HTML pages need a session (the `/login` cookie, or any key header): without one a
//! browser is sent to `/login?next=…`; a customer-scoped key asking for the console is sent to
//! the app. The static assets (`/console/assets/…`: code and styles, no data) are public so the
//! login form can use the stylesheet. Every response carries a strict Content-Security-Policy
//! (`default-src 'self'`, no inline script or style), `nosniff`, and caching rules: pages are
//! `no-store`, assets `no-cache` with an ETag (revalidated, so a new binary is picked up at once).

use crate::AppState;
use crate::auth::{authenticate, presented_key};
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sextant_core::Role;
use sha2::{Digest, Sha256};

/// The policy every console, app and login response carries.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const CONSOLE_HTML: &str = include_str!("../../console/index.html");
const APP_HTML: &str = include_str!("../../console/app.html");

/// Path under `/console/assets/`, content type, body.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../console/app.css"),
    ),
    (
        "js/api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/api.js"),
    ),
    (
        "js/ui.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/ui.js"),
    ),
    (
        "js/charts.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/charts.js"),
    ),
    (
        "js/console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/console.js"),
    ),
    (
        "js/customer.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/customer.js"),
    ),
    (
        "js/bank-app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/bank-app.js"),
    ),
    (
        "js/outcomes.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/outcomes.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../console/favicon.svg"),
    ),
];

/// Headers every UI response carries.
pub(crate) fn secure_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// An HTML page: `no-store` (it depends on the session) with the security headers.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure_headers(h);
    resp
}

/// `next` for the login form: only a local path (`/…`, not `//host` or a backslash trick).
pub(crate) fn local_path(next: Option<&str>) -> Option<String> {
    let n = next?.trim();
    let ok = n.starts_with('/')
        && !n.starts_with("//")
        && !n.contains('\\')
        && n.len() <= 512
        && n.chars().all(|c| c.is_ascii_graphic());
    ok.then(|| n.to_string())
}

/// Where a principal lands after signing in: customer keys in the app, staff in the console
/// (or at `next` when that is a local path they may open).
pub(crate) fn landing(role: Role, next: Option<&str>) -> String {
    let next = local_path(next);
    if role == Role::Customer {
        return match next {
            Some(n) if n.starts_with("/app/") => n,
            _ => "/app/".into(),
        };
    }
    next.unwrap_or_else(|| "/console/".into())
}

/// The page's session, or the redirect to the login form.
async fn session(state: &AppState, parts: &Parts, here: &str) -> Result<Role, Response> {
    let to_login =
        || Redirect::to(&format!("/login?next={}", percent_encode(here))).into_response();
    let Some(key) = presented_key(parts) else {
        return Err(to_login());
    };
    match authenticate(state, &key).await {
        Ok(p) => Ok(p.role),
        Err(_) => Err(to_login()),
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /console/`: the analyst console (staff; customer keys are sent to the app).
pub(crate) async fn console_page(State(state): State<AppState>, parts: Parts) -> Response {
    match session(&state, &parts, "/console/").await {
        Ok(Role::Customer) => Redirect::to("/app/").into_response(),
        Ok(_) => html(StatusCode::OK, CONSOLE_HTML.to_string()),
        Err(r) => r,
    }
}

/// `GET /app/`: the customer app (any role; a customer key sees only its own customer).
pub(crate) async fn app_page(State(state): State<AppState>, parts: Parts) -> Response {
    match session(&state, &parts, "/app/").await {
        Ok(_) => html(StatusCode::OK, APP_HTML.to_string()),
        Err(r) => r,
    }
}

/// `GET /console/assets/{path}`: an embedded asset with its content type and an ETag.
pub(crate) async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some((_, ctype, body)) = ASSETS.iter().find(|(p, _, _)| *p == path) else {
        let mut resp = (StatusCode::NOT_FOUND, "no such asset").into_response();
        secure_headers(resp.headers_mut());
        return resp;
    };
    let etag = format!(
        "\"{}\"",
        &hex::encode(Sha256::digest(body.as_bytes()))[..32]
    );
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, *body).into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    secure_headers(h);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_restricted_to_local_paths() {
        assert_eq!(local_path(Some("/docs/")), Some("/docs/".into()));
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
            "/a b",
        ] {
            assert_eq!(local_path(Some(bad)), None, "{bad}");
        }
        assert_eq!(landing(Role::Analyst, None), "/console/");
        assert_eq!(landing(Role::Admin, Some("/docs/")), "/docs/");
        assert_eq!(landing(Role::Customer, Some("/console/")), "/app/");
        assert_eq!(landing(Role::Customer, Some("//x")), "/app/");
    }

    #[test]
    fn every_asset_is_embedded_and_typed() {
        for (path, ctype, body) in ASSETS {
            assert!(!body.is_empty(), "{path} is empty");
            let ext = path.rsplit('.').next().unwrap();
            let want = match ext {
                "css" => "text/css",
                "js" => "text/javascript",
                "svg" => "image/svg+xml",
                _ => panic!("unexpected asset {path}"),
            };
            assert!(ctype.starts_with(want), "{path}: {ctype}");
        }
        // No page or script pulls anything from another host, and no inline script or style.
        let login = include_str!("../../console/login.html");
        for (name, body) in [
            ("index.html", CONSOLE_HTML),
            ("app.html", APP_HTML),
            ("login.html", login),
        ]
        .into_iter()
        .chain(ASSETS.iter().map(|(p, _, b)| (*p, *b)))
        {
            let body = body.replace("http://www.w3.org/2000/svg", "");
            for bad in [
                "http://", "https://", "<style", " style=", "onclick=", "onload=",
            ] {
                assert!(!body.contains(bad), "{name} contains {bad}");
            }
        }
        for page in [CONSOLE_HTML, APP_HTML, login] {
            assert!(!page.contains("<script>"), "inline script");
        }
    }
}
