//! The real-time event stream, as pure functions: the event envelope ([`parse_event`]), the
//! customer partition ([`partition_of`]), per-customer sliding windows and lifetime baselines,
//! and declarative complex-event rules ([`RuleSet`]) that turn events into [`Alert`]s.
//!
//! Architecture invariant: no I/O, no async, no clock. Time is the events' time only, so
//! applying the same events in the same order always gives the same state and the same alerts
//! (a replay, or a restore from [`Engine::snapshot`] followed by the rest of the stream, is
//! indistinguishable from an uninterrupted run). The queue, the event log, offsets and alert
//! storage live in the server and `sextant-store`.
//!
//! # Windows
//! Per customer, exact sliding windows of the last 1 hour, 24 hours, 7 days and 30 days of
//! event time, each `(latest − length, latest]` where `latest` is the newest event time seen
//! for the customer. One deque holds a 24-byte record per transaction of the last 30 days in
//! time order; each window keeps the index of its first record and running totals
//! (transactions; count and absolute sum of spend debits). When event time advances, each
//! window's start moves over the records that left it, subtracting them, and records older than
//! 30 days are popped: amortised O(1) per event, no allocation beyond the deque's growth. An
//! out-of-order event is inserted in place (binary search) and added to every window covering
//! it; one 30 days or more older than the customer's newest event counts only in the lifetime
//! baselines. Breakdowns by category, channel and country are computed on read.
//!
//! A *spend debit* is [`sextant_features::is_spend_debit`]: the feature store's definition, so
//! the 30-day window agrees with the batch features over the same transactions.
//!
//! # Baselines
//! Lifetime, per customer: transactions, approved transactions, count, mean and standard
//! deviation of spend-debit amounts (Welford), countries, categories and MCCs seen, paydays
//! (salary credits; credits within 5 days are one payday) with the median interval as the
//! salary cadence, the last balance per account, and the last charge of each recurring merchant
//! (direct debit, standing order, subscriptions).
//!
//! # Rules
//! `amount_above_baseline`, `velocity`, `new_country`, `new_category`, `sequence` (ordered steps,
//! `at_least` repetitions, `within` a time limit; partial matches are bounded: at most one per
//! position, the latest-starting, and expire), `salary_arrival`, `low_balance_forecast` and
//! `subscription_price_rise` — see [`rules`] and `config/stream-rules.toml`. A rule fires at
//! most once per event; `cooldown` (default: the window for `velocity`) and per-salary-cycle
//! warnings limit repeats.
//!
//! # Snapshots
//! [`Engine::snapshot`] writes the whole state as a compact, versioned little-endian binary
//! checkpoint (magic `SXSNAP`, version [`SNAPSHOT_VERSION`]; about 10 bytes per window record
//! against 24 in memory): customers in id order, rule state keyed by rule id so it survives
//! changes to the rules file, window totals recomputed on restore. [`Engine::restore`] refuses
//! other versions (including the JSON of version 1), truncated, trailing or inconsistent data
//! with a [`SnapshotError`], never a panic. The layout is documented in `src/snapshot.rs`.
//!
//! # Alert ids
//! `hex(sha256("sextant-alert-v1\0" + rule id + "\0" + customer id + "\0" + each event id +
//! "\0"))` over the triggering events in order ([`alert_id`]): the same rule on the same events
//! gives the same id, so storing alerts is idempotent under redelivery and replay.

pub mod alert;
pub mod engine;
pub mod event;
pub mod rules;
mod snapshot;
pub mod window;

pub use alert::{Alert, AlertAction, AlertKind, Severity, alert_id};
pub use engine::{
    BalanceView, BaselineView, CustomerView, Engine, RecurringView, SNAPSHOT_VERSION, SalaryView,
    SnapshotError,
};
pub use event::{
    EventBody, EventError, LoginChannel, MessageChannel, StreamEvent, parse_event,
    parse_event_bytes,
};
pub use rules::{DEMO_RULES, Rule, RuleError, RuleSet, RuleSpec, Span};
pub use window::{Tally, WINDOWS, WindowView};

/// The partition of a customer: FNV-1a (64-bit) of the id's UTF-8 bytes, modulo `partitions`
/// (0 is treated as 1). Stable forever: events of one customer always land in one partition,
/// so one worker sees them in order.
pub fn partition_of(customer_id: &str, partitions: u32) -> u32 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for b in customer_id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    (h % u64::from(partitions.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_fnv1a_and_pinned() {
        // Published FNV-1a 64 test vectors: "" and "a".
        assert_eq!(
            partition_of("", u32::MAX),
            (0xcbf29ce484222325u64 % u64::from(u32::MAX)) as u32
        );
        assert_eq!(
            partition_of("a", u32::MAX),
            (0xaf63dc4c8601ec8cu64 % u64::from(u32::MAX)) as u32
        );
        assert_eq!(
            partition_of("foobar", u32::MAX),
            (0x85944171f73967e8u64 % u64::from(u32::MAX)) as u32
        );
        assert_eq!(partition_of("42", 0), 0);
        assert_eq!(partition_of("42", 1), 0);
        // Spread: 16 partitions all used by 1000 ids.
        let mut seen = [0u32; 16];
        for i in 0..1000 {
            seen[partition_of(&format!("c{i}"), 16) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 30), "{seen:?}");
    }
}
