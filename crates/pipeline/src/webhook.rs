//! Webhooks: every stored alert is POSTed to each configured receiver from a durable outbox
//! (rows written in the same transaction as the alert), signed, and retried with exponential
//! back-off until it succeeds or `webhook_max_attempts` is reached.
//!
//! Signature: header `X-Sextant-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<body>")>` — the receiver recomputes it and rejects stale timestamps (replays). The
//! alert id is in `X-Sextant-Alert-Id` so receivers can drop the (rare) second delivery of an
//! alert whose success was not recorded before a crash.

use crate::processor::Inner;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// `t=<t>,v1=<hex>` for `body` sent at unix time `t`.
pub fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Check a signature header against `body`, accepting timestamps within `tolerance_secs` of
/// `now`. Constant-time comparison of the MAC.
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &str,
    now: i64,
    tolerance_secs: i64,
) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.verify_slice(&v1).is_ok()
}

/// Delay before attempt `attempts + 1`: 1 s, 2 s, 4 s, … capped at 10 minutes.
pub(crate) fn backoff(attempts: i32) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(0, 10) as u32).min(Duration::from_secs(600))
}

/// How long one delivery attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The client for one receiver: http, or https verified against the system's roots plus the
/// receiver's `ca_file` (see `sextant_outbound`). Configuration checks call this at start, so a
/// bad URL or CA file stops the process there rather than failing every delivery.
pub fn webhook_client(hook: &crate::Webhook) -> Result<reqwest::Client, String> {
    let name = &hook.name;
    sextant_outbound::check_url(&hook.url).map_err(|e| format!("webhook '{name}': url: {e}"))?;
    if hook.ca_file.is_some() && !hook.url.starts_with("https://") {
        return Err(format!(
            "webhook '{name}': ca_file is set but the url is not https://"
        ));
    }
    sextant_outbound::client(ATTEMPT_TIMEOUT, hook.ca_file.as_deref())
        .map_err(|e| format!("webhook '{name}': {e}"))
}

pub(crate) async fn run_dispatcher(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let mut clients = std::collections::HashMap::new();
    for hook in &inner.cfg.webhooks {
        match webhook_client(hook) {
            Ok(c) => {
                clients.insert(hook.name.clone(), c);
            }
            // Validated at start-up; a CA file removed since then leaves this receiver's
            // deliveries queued in the outbox (failed attempts are recorded below).
            Err(e) => tracing::error!(error = %e, "webhook client"),
        }
    }
    let st = inner.store.stream();
    loop {
        if *stop.borrow() {
            return;
        }
        let now = sextant_store::now_micros();
        let due = match st.due_deliveries(now, 64).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "reading the webhook outbox failed");
                Vec::new()
            }
        };
        let idle = due.is_empty();
        for d in due {
            let Some(hook) = inner.cfg.webhooks.iter().find(|w| w.name == d.webhook) else {
                let _ = st
                    .delivery_done(d.id, false, None, Some("webhook no longer configured"))
                    .await;
                continue;
            };
            let Some(client) = clients.get(&hook.name) else {
                let next = sextant_store::now_micros() + backoff(d.attempts + 1).as_micros() as i64;
                let _ = st
                    .delivery_done(
                        d.id,
                        false,
                        Some(next),
                        Some("no HTTP client (see the log)"),
                    )
                    .await;
                continue;
            };
            let t = chrono::Utc::now().timestamp();
            let res = client
                .post(&hook.url)
                .header("content-type", "application/json")
                .header("x-sextant-alert-id", &d.alert_id)
                .header("x-sextant-signature", sign(&hook.secret, t, &d.body))
                .body(d.body.clone())
                .send()
                .await;
            let failure = match res {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
                Err(e) => Some(
                    if e.is_timeout() {
                        "timeout"
                    } else if e.is_connect() {
                        "connection failed"
                    } else {
                        "request failed"
                    }
                    .to_string(),
                ),
            };
            let attempts = d.attempts + 1;
            let r = match failure {
                None => st.delivery_done(d.id, true, None, None).await,
                Some(err) => {
                    let next = (attempts < inner.cfg.webhook_max_attempts).then(|| {
                        sextant_store::now_micros() + backoff(attempts).as_micros() as i64
                    });
                    tracing::warn!(webhook = %hook.name, attempts, give_up = next.is_none(), error = %err, "webhook delivery failed");
                    st.delivery_done(d.id, false, next, Some(&err)).await
                }
            };
            if let Err(e) = r {
                tracing::warn!(error = %e, "recording a webhook delivery failed");
            }
        }
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_reject_tampering() {
        let h = sign("s3cret", 1_700_000_000, "{\"a\":1}");
        assert!(verify_signature(
            "s3cret",
            &h,
            "{\"a\":1}",
            1_700_000_010,
            300
        ));
        assert!(!verify_signature(
            "s3cret",
            &h,
            "{\"a\":2}",
            1_700_000_010,
            300
        ));
        assert!(!verify_signature(
            "other",
            &h,
            "{\"a\":1}",
            1_700_000_010,
            300
        ));
        assert!(!verify_signature(
            "s3cret",
            &h,
            "{\"a\":1}",
            1_700_009_999,
            300
        ));
        assert!(!verify_signature("s3cret", "garbage", "{}", 0, 300));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), Duration::from_secs(600));
    }
}
