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
