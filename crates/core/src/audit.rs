//! The audit log's entries and its hash chain: each entry commits to the one before it, so an
//! altered, removed or reordered entry breaks every hash after it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a caller asks to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Key id, `cli`, `system`, never a name or a secret.
    pub actor: String,
    /// Dotted verb: `keys.create`, `import.transactions`, `consent.change`.
    pub action: String,
    /// What it was done to: a customer id, key id, import id.
    pub subject: String,
    /// Ids, counts, versions and digests only: no PII.
    pub details: serde_json::Value,
}

/// SHA-256 (hex) of the canonical JSON of `inputs` (object keys sorted), the "inputs digest" an
/// audit entry commits to: whoever holds the inputs can show they are the ones decided on.
pub fn inputs_digest(inputs: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(inputs.to_string().as_bytes()))
}

impl AuditRecord {
    /// Record the digest of the inputs a decision was made from (`details.inputs_digest`).
    pub fn with_inputs(mut self, inputs: &serde_json::Value) -> Self {
        self.object().insert(
            "inputs_digest".into(),
            serde_json::Value::String(inputs_digest(inputs)),
        );
        self
    }

    fn object(&mut self) -> &mut serde_json::Map<String, serde_json::Value> {
        if !self.details.is_object() {
            let v = std::mem::take(&mut self.details);
            self.details = if v.is_null() {
                serde_json::json!({})
            } else {
                serde_json::json!({ "value": v })
            };
        }
        self.details.as_object_mut().expect("an object")
    }

    /// Every entry carries an inputs digest and the versions it was made with: the caller's
    /// (`details.inputs_digest`, `details.versions`: rules, models, features…) where it gave
    /// them, else the digest of the details it recorded; `versions.sextant` is always this
    /// build's version.
    pub fn complete(mut self) -> Self {
        let digest = inputs_digest(&self.details);
        let d = self.object();
        d.entry("inputs_digest")
            .or_insert(serde_json::Value::String(digest));
        let versions = d.entry("versions").or_insert_with(|| serde_json::json!({}));
        if !versions.is_object() {
            *versions = serde_json::json!({ "value": versions.take() });
        }
        versions
            .as_object_mut()
            .expect("an object")
            .entry("sextant")
            .or_insert(serde_json::Value::String(env!("CARGO_PKG_VERSION").into()));
        self
    }
}

/// A stored entry, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of the chain before its first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Hash of an entry given the previous hash: SHA-256 over a canonical, length-prefixed encoding.
pub fn chain_hash(prev_hash: &str, seq: i64, at: DateTime<Utc>, r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    let details = r.details.to_string();
    let at = at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let seq = seq.to_string();
    for part in [
        prev_hash,
        seq.as_str(),
        at.as_str(),
        &r.actor,
        &r.action,
        &r.subject,
        &details,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Seal `record` as entry `seq` after `prev_hash`: the entry a store appends.
pub fn seal(seq: i64, at: DateTime<Utc>, prev_hash: String, record: AuditRecord) -> AuditEntry {
    let record = record.complete();
    let hash = chain_hash(&prev_hash, seq, at, &record);
    AuditEntry {
        seq,
        at,
        actor: record.actor,
        action: record.action,
        subject: record.subject,
        details: record.details,
        prev_hash,
        hash,
    }
}

/// Check a chain read in `seq` order; returns the first bad entry's seq and why.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), (i64, String)> {
    let mut prev = GENESIS.to_string();
    // The log starts at 1 and has no gaps: a missing first entry is tampering too.
    for (i, e) in entries.iter().enumerate() {
        let expected_seq = i as i64 + 1;
        if e.seq != expected_seq {
            return Err((e.seq, format!("sequence gap: expected {expected_seq}")));
        }
        if e.prev_hash != prev {
            return Err((
                e.seq,
                "previous-hash link broken (entry removed or reordered)".into(),
            ));
        }
        let rec = AuditRecord {
            actor: e.actor.clone(),
            action: e.action.clone(),
            subject: e.subject.clone(),
            details: e.details.clone(),
        };
        if chain_hash(&prev, e.seq, e.at, &rec) != e.hash {
            return Err((e.seq, "hash mismatch (entry altered)".into()));
        }
        prev = e.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(details: serde_json::Value) -> AuditRecord {
        AuditRecord {
            actor: "a".into(),
            action: "x.y".into(),
            subject: "s".into(),
            details,
        }
    }

    #[test]
    fn every_entry_gets_a_digest_and_versions() {
        let e = seal(
            1,
            Utc::now(),
            GENESIS.into(),
            r(serde_json::json!({"n": 1})),
        );
        assert_eq!(
            e.details["inputs_digest"],
            inputs_digest(&serde_json::json!({"n": 1}))
        );
        assert_eq!(e.details["versions"]["sextant"], env!("CARGO_PKG_VERSION"));
        // The caller's own digest and versions are kept; key order does not matter.
        let inputs = serde_json::json!({"b": 2, "a": [1, 2]});
        let given = r(serde_json::json!({"versions": {"rules": "r7"}})).with_inputs(&inputs);
        let e = seal(1, Utc::now(), GENESIS.into(), given);
        assert_eq!(
            e.details["inputs_digest"],
            inputs_digest(&serde_json::json!({"a": [1, 2], "b": 2}))
        );
        assert_eq!(e.details["versions"]["rules"], "r7");
        assert_eq!(e.details["versions"]["sextant"], env!("CARGO_PKG_VERSION"));
        // Non-object details are wrapped, and the chain still verifies.
        let e = seal(1, Utc::now(), GENESIS.into(), r(serde_json::json!(5)));
        assert_eq!(e.details["value"], 5);
        assert!(verify_chain(&[e]).is_ok());
    }
}
