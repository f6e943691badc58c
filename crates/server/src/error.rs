//! API errors as RFC 9457 problem details. This is the one place an error becomes a status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sextant_store::StoreError;

/// One field-level reason in a problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// JSON pointer-like path: `transactions[3].amount_minor`, `limit`.
    pub field: String,
    pub reason: String,
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{detail}")]
    Invalid {
        detail: String,
        errors: Vec<FieldProblem>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    ConsentRequired(#[from] sextant_core::ConsentRefused),
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn invalid_field(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        ApiError::Invalid {
            detail: format!("{field}: {reason}"),
            errors: vec![FieldProblem {
                field: field.into(),
                reason,
            }],
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => ApiError::Unavailable(m),
            // Out of disk space, failing I/O, busy: back-pressure (503, retry), not a bug.
            e if e.is_transient() => ApiError::Unavailable(e.to_string()),
            StoreError::UnknownCustomer(id) => ApiError::NotFound(format!("no customer '{id}'")),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<sextant_intelligence::IntelError> for ApiError {
    fn from(e: sextant_intelligence::IntelError) -> Self {
        use sextant_intelligence::IntelError as E;
        match e {
            E::Store(s) => s.into(),
            E::Consent(c) => ApiError::ConsentRequired(c),
            E::UnknownCustomer(id) => ApiError::NotFound(format!("no customer '{id}'")),
            E::NoModel | E::NoData | E::NoCatalog | E::Rules(_) => {
                ApiError::Conflict(e.to_string())
            }
            E::UnknownReview(_) | E::NotFound(_) => ApiError::NotFound(e.to_string()),
            E::Conflict(m) => ApiError::Conflict(m),
            E::Invalid(problems) => ApiError::Invalid {
                detail: e_detail(&problems),
                errors: problems
                    .into_iter()
                    .map(|(field, reason)| FieldProblem { field, reason })
                    .collect(),
            },
            E::Busy(m) => ApiError::Unavailable(m.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

fn e_detail(problems: &[(String, String)]) -> String {
    problems
        .iter()
        .map(|(f, r)| format!("{f}: {r}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = match &self {
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Missing or invalid API key",
            ),
            ApiError::Forbidden(_) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Not allowed for this key",
            ),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::BadRequest(_) => {
                (StatusCode::BAD_REQUEST, "bad-request", "Malformed request")
            }
            ApiError::Invalid { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "Invalid request",
            ),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::ConsentRequired(_) => (
                StatusCode::FORBIDDEN,
                "consent-required",
                "Consent required",
            ),
            ApiError::TooMany(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "budget-exhausted",
                "Limit reached",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        };
        let (detail, errors) = match self {
            ApiError::Invalid { detail, errors } => (detail, errors),
            ApiError::Internal(cause) => {
                // Log the cause; never show internals to the client.
                tracing::error!(error = %cause, "internal error");
                (
                    "the server failed to handle the request; it has been logged".to_string(),
                    vec![],
                )
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "dependency unavailable");
                (
                    "a dependency (the database) is unavailable; retry later".to_string(),
                    vec![],
                )
            }
            other => (other.to_string(), vec![]),
        };
        let body = Problem {
            type_: format!("https://sextant.dev/problems/{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut resp = (status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
