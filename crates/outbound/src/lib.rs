//! Outbound HTTP: the one place Sextant builds clients for calls it makes to the bank's own
//! systems — alert webhooks and an optional language-model server.
//!
//! TLS is rustls with the ring provider (ring is already in the build through the NATS client;
//! reqwest is built with `rustls-no-provider` so aws-lc-rs is not compiled as well). Server
//! certificates are checked against the operating system's trust store, plus — for receivers
//! behind the bank's private CA — the certificates of a PEM file named in the configuration.
//! Redirects are never followed: a webhook body is signed for one receiver, and a redirect would
//! hand it (and an LLM request, its bearer token) to another host.
//!
//! Invariant: every client this crate returns verifies certificates and host names; there is no
//! switch to turn that off.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a client could not be built. Each names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("'{url}' is not an http:// or https:// URL")]
    Scheme { url: String },
    #[error("CA file '{path}': {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("HTTP client: {0}")]
    Build(String),
}

/// Install the ring provider as the process's rustls default (once; later calls do nothing).
pub fn install_tls_provider() {
    // An error only means a provider is installed already (by us or the embedding program).
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Check that `url` is absolute http(s). Plain http is allowed (a receiver on the bank's own
/// network or behind a local TLS-terminating proxy); https is verified as described above.
pub fn check_url(url: &str) -> Result<(), ClientError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(ClientError::Scheme {
            url: url.to_string(),
        }),
    }
}

/// Read the certificates of a PEM file (one or more `CERTIFICATE` blocks).
fn ca_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, ClientError> {
    let err = |reason: String| ClientError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| err(format!("not a PEM certificate bundle ({e})")))?;
    if certs.is_empty() {
        return Err(err("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// A client with a whole-request `timeout` that trusts the system's roots plus, if given, the
/// certificates in `ca_file`.
pub fn client(timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::Client, ClientError> {
    install_tls_provider();
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = ca_file {
        b = b.tls_certs_merge(ca_certificates(path)?);
    }
    b.build().map_err(|e| ClientError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_or_https() {
        assert!(check_url("http://soc.internal/hooks").is_ok());
        assert!(check_url("https://soc.internal:8443/hooks").is_ok());
        for bad in ["ftp://x", "soc.internal", "https://", "http:///path", ""] {
            let e = check_url(bad).unwrap_err();
            assert!(
                e.to_string().contains("is not an http:// or https:// URL"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = client(Duration::from_secs(1), Some(&missing)).unwrap_err();
        assert!(e.to_string().starts_with("CA file '"), "{e}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let e = client(Duration::from_secs(1), Some(&empty)).unwrap_err();
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");

        let good = dir.path().join("ca.pem");
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(&good, ca.cert.pem()).unwrap();
        client(Duration::from_secs(1), Some(&good)).unwrap();
        client(Duration::from_secs(1), None).unwrap();
    }
}
