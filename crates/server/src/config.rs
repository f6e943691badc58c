//! Server settings: defaults here, then `sextant.toml` `[server]`, then `SEXTANT__SERVER__*`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: String,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Requests taking longer are cut off with 408.
    pub request_timeout_secs: u64,
    /// How long a verified key stays verified in memory (revocation takes effect within this).
    pub key_cache_ttl_secs: u64,
    /// Most rows in one `POST /v1/transactions`.
    pub max_batch: usize,
    /// Mark the console session cookie `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
    /// Total differential-privacy budget (ε) each analyst key may spend on aggregate reports.
    pub analyst_privacy_budget: f64,
    /// Purposes the bank has declared another legal basis for (e.g. legitimate interest):
    /// treated as granted until the customer opts out. Empty (the default) is purely opt-in.
    /// Applies to every command, not only the server.
    pub consent_defaults: Vec<sextant_core::ConsentPurpose>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout_secs: 30,
            key_cache_ttl_secs: 60,
            max_batch: 1000,
            secure_cookies: false,
            analyst_privacy_budget: 10.0,
            consent_defaults: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// Check every field; the message names the setting.
    pub fn validate(&self) -> Result<(), String> {
        self.bind.parse::<std::net::SocketAddr>().map_err(|e| {
            format!(
                "server.bind: '{}' is not an address like 127.0.0.1:8080 ({e})",
                self.bind
            )
        })?;
        if !(1024..=64 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err("server.max_body_bytes: must be between 1024 and 67108864".into());
        }
        if !(1..=3600).contains(&self.request_timeout_secs) {
            return Err("server.request_timeout_secs: must be between 1 and 3600".into());
        }
        if self.key_cache_ttl_secs > 3600 {
            return Err("server.key_cache_ttl_secs: must be at most 3600".into());
        }
        if !(1..=100_000).contains(&self.max_batch) {
            return Err("server.max_batch: must be between 1 and 100000".into());
        }
        if !(self.analyst_privacy_budget.is_finite()
            && (0.0..=1000.0).contains(&self.analyst_privacy_budget))
        {
            return Err("server.analyst_privacy_budget: must be between 0 and 1000".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_bad_values_are_named() {
        ServerConfig::default().validate().unwrap();
        let bad = ServerConfig {
            bind: "localhost".into(),
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().starts_with("server.bind:"));
        let bad = ServerConfig {
            max_batch: 0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().starts_with("server.max_batch:"));
    }
}
