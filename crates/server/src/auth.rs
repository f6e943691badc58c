//! API keys and roles. A key is `sx_<id>_<secret>`: the id (16 hex) finds the stored record, the
//! secret (64 hex, 256 random bits) is checked against its argon2id hash. Plaintext keys are
//! printed once at creation and never stored or logged. Verified keys are cached in memory,
//! keyed by a SHA-256 of the whole key, for `key_cache_ttl_secs`.

use crate::AppState;
use crate::error::ApiError;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::TryRngCore;
use sextant_core::{CustomerId, Role};
use sextant_store::ApiKeyRecord;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The console's session cookie: holds the key, HttpOnly and SameSite=Strict.
pub const SESSION_COOKIE: &str = "sextant_key";

/// The caller, once its key is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub key_id: String,
    pub role: Role,
    /// Set for customer-scoped keys: the only customer this key may see.
    pub customer: Option<CustomerId>,
}

impl Principal {
    /// 403 unless the key's role is one of `roles`.
    pub fn require(&self, roles: &[Role], action: &str) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "a key with role '{}' may not {action}",
                self.role
            )))
        }
    }

    /// 403 unless the role is one of `roles` or this is the customer's own key.
    pub fn require_self_or(
        &self,
        id: &CustomerId,
        roles: &[Role],
        action: &str,
    ) -> Result<(), ApiError> {
        if self.role == Role::Customer {
            return self.require_customer(id);
        }
        self.require(roles, action)
    }

    /// Who is acting, for consent history: the customer themself, or a staff key.
    pub fn actor(&self) -> String {
        match self.role {
            Role::Customer => "customer".into(),
            r => format!("{}:{}", r.as_str(), self.key_id),
        }
    }

    /// 403 if this is a customer-scoped key for another customer.
    pub fn require_customer(&self, id: &CustomerId) -> Result<(), ApiError> {
        match (&self.role, &self.customer) {
            (Role::Customer, Some(own)) if own == id => Ok(()),
            (Role::Customer, _) => Err(ApiError::Forbidden(
                "this key may only read its own customer".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// A freshly created key: show `plaintext` once, store `record`.
pub struct NewKey {
    pub plaintext: String,
    pub record: ApiKeyRecord,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("a customer-scoped key needs --customer, and only role 'customer' may have one")]
    Scope,
    #[error("random number generator failed: {0}")]
    Rng(String),
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Create a key. Role `customer` requires a customer id; other roles must not have one.
pub fn generate_key(
    role: Role,
    customer: Option<CustomerId>,
    label: &str,
) -> Result<NewKey, KeyError> {
    if (role == Role::Customer) != customer.is_some() {
        return Err(KeyError::Scope);
    }
    let mut bytes = [0u8; 40];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| KeyError::Rng(e.to_string()))?;
    let id = hex::encode(&bytes[..8]);
    let secret = hex::encode(&bytes[8..]);
    let hash = Argon2::default()
        .hash_password(secret.as_bytes())
        .map_err(|e| KeyError::Hash(e.to_string()))?;
    Ok(NewKey {
        plaintext: format!("sx_{id}_{secret}"),
        record: ApiKeyRecord {
            id,
            hash: hash.to_string(),
            role,
            customer_id: customer,
            label: label.to_string(),
            created_at: chrono::Utc::now().timestamp_micros(),
            revoked_at: None,
        },
    })
}

/// Split `sx_<id>_<secret>` without judging the secret.
fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("sx_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 16) && hex(secret, 64)).then_some((id, secret))
}

/// Verified keys, so argon2 runs once per key per TTL rather than per request.
pub struct KeyCache {
    ttl: Duration,
    map: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
    /// One verification at a time per key: concurrent requests with a key not (or no longer)
    /// cached wait for the first one instead of each running argon2 (measured: 16 connections
    /// verifying at once stalled requests for hundreds of milliseconds).
    inflight: Mutex<HashMap<[u8; 32], std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    fn flight(&self, digest: &[u8; 32]) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        self.inflight
            .lock()
            .expect("key cache poisoned")
            .entry(*digest)
            .or_default()
            .clone()
    }

    fn land(&self, digest: &[u8; 32]) {
        self.inflight
            .lock()
            .expect("key cache poisoned")
            .remove(digest);
    }

    fn get(&self, digest: &[u8; 32]) -> Option<Principal> {
        let map = self.map.lock().expect("key cache poisoned");
        map.get(digest)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(p, _)| p.clone())
    }

    fn put(&self, digest: [u8; 32], p: Principal) {
        let mut map = self.map.lock().expect("key cache poisoned");
        if map.len() > 10_000 {
            let ttl = self.ttl;
            map.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        map.insert(digest, (p, Instant::now()));
    }

    /// Forget every cached key scoped to `customer` (after erasure).
    pub fn evict_customer(&self, customer: &CustomerId) {
        self.map
            .lock()
            .expect("key cache poisoned")
            .retain(|_, (p, _)| p.customer.as_ref() != Some(customer));
    }

    /// Forget a key at once (after revocation through this process).
    pub fn evict_key_id(&self, key_id: &str) {
        self.map
            .lock()
            .expect("key cache poisoned")
            .retain(|_, (p, _)| p.key_id != key_id);
    }
}

/// Verify a presented key against the store.
pub async fn authenticate(state: &AppState, key: &str) -> Result<Principal, ApiError> {
    let invalid = || ApiError::Unauthorized("the API key is not valid".into());
    let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    if let Some(p) = state.keys.get(&digest) {
        return Ok(p);
    }
    let (id, secret) = split_key(key).ok_or_else(invalid)?;
    let flight = state.keys.flight(&digest);
    let _turn = flight.lock().await;
    if let Some(p) = state.keys.get(&digest) {
        return Ok(p); // verified by the request we waited for
    }
    let result = verify(state, id, secret).await;
    state.keys.land(&digest);
    let p = result?;
    state.keys.put(digest, p.clone());
    Ok(p)
}

/// Look the key up and check its secret with argon2 (the slow part).
async fn verify(state: &AppState, id: &str, secret: &str) -> Result<Principal, ApiError> {
    let invalid = || ApiError::Unauthorized("the API key is not valid".into());
    let record = state.store.get_api_key(id).await?.ok_or_else(invalid)?;
    if record.revoked_at.is_some() {
        return Err(ApiError::Unauthorized(
            "the API key has been revoked".into(),
        ));
    }
    let (hash, secret) = (record.hash.clone(), secret.to_string());
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(secret.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    if !ok {
        tracing::warn!(key_id = %record.id, "API key with a wrong secret");
        return Err(invalid());
    }
    Ok(Principal {
        key_id: record.id,
        role: record.role,
        customer: record.customer_id,
    })
}

/// The key a request presents: `Authorization: Bearer`, `X-API-Key`, or the console cookie.
pub fn presented_key(parts: &Parts) -> Option<String> {
    let h = &parts.headers;
    if let Some(v) = h
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return Some(v.strip_prefix("Bearer ").unwrap_or(v).trim().to_string());
    }
    if let Some(v) = h.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    h.get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = presented_key(parts).ok_or_else(|| {
            ApiError::Unauthorized(
                "an API key is required: send 'Authorization: Bearer <key>'".into(),
            )
        })?;
        authenticate(state, &key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_shape_and_scope_rules() {
        let k = generate_key(Role::Analyst, None, "t").unwrap();
        let (id, secret) = split_key(&k.plaintext).unwrap();
        assert_eq!(id, k.record.id);
        assert!(
            !k.record.hash.contains(secret),
            "the secret is never stored"
        );
        assert!(k.record.hash.starts_with("$argon2id$"));
        assert!(generate_key(Role::Customer, None, "t").is_err());
        assert!(generate_key(Role::Admin, Some(CustomerId::parse("1").unwrap()), "t").is_err());
        assert!(split_key("sx_zz_00").is_none());
    }
}
