//! [`BusConfig`]: where the bus is and how its stream is laid out, validated before connecting.

use std::time::Duration;

use crate::error::BusError;

/// Connection and stream layout. `Default` is the documented production layout on a local server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// Server URL, e.g. `nats://127.0.0.1:4222` (credentials in the URL are never echoed in errors).
    pub url: String,
    /// JetStream stream name, e.g. `SEXTANT_EVENTS` (letters, digits, `-` and `_`).
    pub stream: String,
    /// Subject prefix: partition `N` is published on `<prefix>.N`, dead letters on `<prefix>.dlq`.
    pub subject_prefix: String,
    /// Number of partitions (1..=[`BusConfig::MAX_PARTITIONS`]); must never change for a live stream.
    pub partitions: u32,
    /// Messages older than this are discarded by the server.
    pub max_age: Duration,
    /// Window in which a repeated message id (event id) is reported as a duplicate and not stored.
    pub duplicate_window: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            url: "nats://127.0.0.1:4222".to_owned(),
            stream: "SEXTANT_EVENTS".to_owned(),
            subject_prefix: "sextant.events".to_owned(),
            partitions: 16,
            max_age: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
        }
    }
}

impl BusConfig {
    /// Upper bound on [`BusConfig::partitions`] (one durable consumer per partition).
    pub const MAX_PARTITIONS: u32 = 1024;

    /// Checks every field; the error names the field and what is wrong with it.
    pub fn validate(&self) -> Result<(), BusError> {
        let bad = |field: &'static str, reason: String| Err(BusError::Config { field, reason });
        if self.url.trim().is_empty() {
            return bad("url", "must not be empty".to_owned());
        }
        if self.stream.is_empty()
            || !self
                .stream
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return bad(
                "stream",
                format!(
                    "'{}' is not a valid stream name (1 or more of A-Z a-z 0-9 - _)",
                    self.stream
                ),
            );
        }
        let prefix_ok = !self.subject_prefix.is_empty()
            && self.subject_prefix.split('.').all(|token| {
                !token.is_empty()
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !prefix_ok {
            return bad(
                "subject_prefix",
                format!(
                    "'{}' is not a valid subject prefix (dot-separated tokens of A-Z a-z 0-9 - _)",
                    self.subject_prefix
                ),
            );
        }
        if self.partitions == 0 || self.partitions > Self::MAX_PARTITIONS {
            return bad(
                "partitions",
                format!(
                    "{} is out of range 1..={}",
                    self.partitions,
                    Self::MAX_PARTITIONS
                ),
            );
        }
        if self.max_age.is_zero() {
            return bad("max_age", "must be positive".to_owned());
        }
        if self.duplicate_window.is_zero() || self.duplicate_window > self.max_age {
            return bad(
                "duplicate_window",
                format!(
                    "{:?} must be positive and at most max_age ({:?})",
                    self.duplicate_window, self.max_age
                ),
            );
        }
        Ok(())
    }

    /// The subject of one partition: `<prefix>.<partition>`.
    pub fn subject(&self, partition: u32) -> String {
        format!("{}.{partition}", self.subject_prefix)
    }

    /// The dead-letter subject: `<prefix>.dlq` (stored in the same stream, seen by no partition consumer).
    pub fn dead_letter_subject(&self) -> String {
        format!("{}.dlq", self.subject_prefix)
    }
}

/// The URL with any `user:password@` part replaced, for error messages and logs.
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    match rest.rfind('@') {
        Some(at) => format!("{scheme}***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        BusConfig::default().validate().unwrap();
        assert_eq!(BusConfig::default().subject(3), "sextant.events.3");
        assert_eq!(
            BusConfig::default().dead_letter_subject(),
            "sextant.events.dlq"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let check = |f: fn(&mut BusConfig), field: &str| {
            let mut c = BusConfig::default();
            f(&mut c);
            let e = c.validate().unwrap_err();
            assert!(e.to_string().contains(field), "{e} should name {field}");
        };
        check(|c| c.url = " ".into(), "url");
        check(|c| c.stream = "A.B".into(), "stream");
        check(|c| c.subject_prefix = "a.*".into(), "subject_prefix");
        check(|c| c.subject_prefix = "a..b".into(), "subject_prefix");
        check(|c| c.subject_prefix = "a.".into(), "subject_prefix");
        check(|c| c.partitions = 0, "partitions");
        check(|c| c.max_age = Duration::ZERO, "max_age");
        check(
            |c| c.duplicate_window = Duration::from_secs(8 * 24 * 3600),
            "duplicate_window",
        );
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact_url("nats://u:secret@host:4222"),
            "nats://***@host:4222"
        );
        assert_eq!(redact_url("nats://host:4222"), "nats://host:4222");
        assert_eq!(redact_url("tok@host"), "***@host");
    }
}
