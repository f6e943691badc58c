//! Exact sliding windows over event time for one customer: the last 1 hour, 24 hours, 7 days and
//! 30 days, each a half-open interval `(latest − length, latest]` ending at the newest event
//! time seen for the customer.
//!
//! One deque holds a compact [`Record`] (24 bytes) per transaction of the last 30 days, ordered
//! by time. Each window keeps the (absolute) index of its first record and running totals; when
//! event time advances, each window's start moves forward over the records that left it,
//! subtracting them, and records that left the 30-day window are popped — amortised O(1) per
//! event. A record that arrives out of order is inserted in place (a binary search) and added to
//! every window that covers it; one 30 days or more older than the newest event is counted only
//! in the lifetime baselines. Breakdowns (by category, channel, country) are computed on read by
//! scanning a window's records, so the per-customer state stays small.

use serde::Serialize;
use sextant_core::{Category, Channel, Transaction, TxStatus};
use std::collections::{BTreeMap, VecDeque};

/// One second of event time, in microseconds.
pub const SECOND: i64 = 1_000_000;
/// One day of event time, in microseconds.
pub const DAY: i64 = 86_400 * SECOND;

/// The windows, shortest first: name and length in microseconds.
pub const WINDOWS: [(&str, i64); 4] = [
    ("1h", 3_600 * SECOND),
    ("24h", DAY),
    ("7d", 7 * DAY),
    ("30d", 30 * DAY),
];
const N: usize = WINDOWS.len();
/// The longest window: records older than this before the newest event are dropped.
pub const HORIZON: i64 = WINDOWS[N - 1].1;

/// Record flags.
pub(crate) const SPEND: u8 = 1;
pub(crate) const APPROVED: u8 = 2;
pub(crate) const DEBIT: u8 = 4;

/// One transaction, as the windows keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    /// Event time, microseconds since the Unix epoch.
    pub ts: i64,
    /// Signed amount in minor units.
    pub amount: i64,
    /// `Category as u8`.
    pub category: u8,
    /// `Channel as u8`.
    pub channel: u8,
    /// ISO 3166 alpha-2, ASCII.
    pub country: [u8; 2],
    /// [`SPEND`], [`APPROVED`], [`DEBIT`].
    pub flags: u8,
}

impl Record {
    pub fn of(t: &Transaction, ts: i64, spend: bool) -> Record {
        let c = t.country.as_str().as_bytes();
        let mut flags = 0;
        if spend {
            flags |= SPEND;
        }
        if t.status == TxStatus::Approved {
            flags |= APPROVED;
        }
        if t.amount.minor < 0 {
            flags |= DEBIT;
        }
        Record {
            ts,
            amount: t.amount.minor,
            category: t.category as u8,
            channel: t.channel as u8,
            country: [c[0], c[1]],
            flags,
        }
    }

    pub fn is(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The absolute amount when a spend debit, else 0.
    fn spend(&self) -> i64 {
        if self.is(SPEND) {
            self.amount.saturating_abs()
        } else {
            0
        }
    }
}

/// Running totals of one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Every transaction (any sign, any status).
    pub transactions: u32,
    /// Spend debits and the sum of their absolute amounts (minor units).
    pub spend_count: u32,
    pub spend_minor: i64,
}

impl Totals {
    fn add(&mut self, r: &Record) {
        self.transactions += 1;
        if r.is(SPEND) {
            self.spend_count += 1;
            self.spend_minor = self.spend_minor.saturating_add(r.spend());
        }
    }
    fn sub(&mut self, r: &Record) {
        self.transactions -= 1;
        if r.is(SPEND) {
            self.spend_count -= 1;
            self.spend_minor = self.spend_minor.saturating_sub(r.spend());
        }
    }
}

/// A count and a sum of absolute spend, for breakdowns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Tally {
    pub count: u32,
    pub sum_minor: i64,
}

/// One window as read: totals and spend breakdowns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WindowView {
    /// `1h`, `24h`, `7d` or `30d`.
    pub window: String,
    /// Transactions of any kind and status.
    pub transactions: u32,
    /// Declined transactions.
    pub declined: u32,
    /// Spend debits (the feature store's definition) and their absolute sum, minor units.
    pub spend_count: u32,
    pub spend_minor: i64,
    /// Spend debits by category, channel and country.
    pub by_category: BTreeMap<String, Tally>,
    pub by_channel: BTreeMap<String, Tally>,
    pub by_country: BTreeMap<String, Tally>,
}

/// The windows of one customer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Windows {
    records: VecDeque<Record>,
    /// Records popped from the front so far: absolute index of `records[0]`.
    popped: u64,
    /// Absolute index of each window's first record.
    start: [u64; N],
    totals: [Totals; N],
    /// Newest event time seen (any event type), `i64::MIN` before the first.
    latest: i64,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            records: VecDeque::new(),
            popped: 0,
            start: [0; N],
            totals: [Totals::default(); N],
            latest: i64::MIN,
        }
    }
}

impl Windows {
    pub fn latest(&self) -> Option<i64> {
        (self.latest != i64::MIN).then_some(self.latest)
    }

    pub fn records(&self) -> &VecDeque<Record> {
        &self.records
    }

    /// Totals of window `w` (index into [`WINDOWS`]).
    pub fn totals(&self, w: usize) -> Totals {
        self.totals[w]
    }

    /// Move event time forward to `ts` (no-op when not newer), evicting what left each window.
    pub fn advance(&mut self, ts: i64) {
        if ts <= self.latest {
            return;
        }
        self.latest = ts;
        for (w, &(_, len)) in WINDOWS.iter().enumerate() {
            let cutoff = ts.saturating_sub(len);
            loop {
                let i = (self.start[w] - self.popped) as usize;
                match self.records.get(i) {
                    Some(r) if r.ts <= cutoff => {
                        self.totals[w].sub(r);
                        self.start[w] += 1;
                    }
                    _ => break,
                }
            }
        }
        // The longest window starts at the front once its records are gone.
        while self.popped < self.start[N - 1] {
            self.records.pop_front();
            self.popped += 1;
        }
    }

    /// Add a transaction record; returns whether it is inside the 30-day window (else it only
    /// counts in lifetime stats). Advances event time when the record is the newest.
    pub fn insert(&mut self, r: Record) -> bool {
        self.advance(r.ts);
        if r.ts <= self.latest.saturating_sub(HORIZON) {
            return false;
        }
        let in_order = self.records.back().is_none_or(|b| b.ts <= r.ts);
        if in_order {
            self.records.push_back(r);
            for t in &mut self.totals {
                t.add(&r);
            }
            return true;
        }
        let p = self.records.partition_point(|x| x.ts <= r.ts);
        self.records.insert(p, r);
        for (w, &(_, len)) in WINDOWS.iter().enumerate() {
            if r.ts > self.latest - len {
                self.totals[w].add(&r);
            } else {
                // Inserted before this window's first record (all of which are newer).
                self.start[w] += 1;
            }
        }
        true
    }

    /// Records with `from < ts <= to`, as a range of deque positions.
    pub fn range(&self, from: i64, to: i64) -> std::ops::Range<usize> {
        let hi = if self.records.back().is_none_or(|b| b.ts <= to) {
            self.records.len()
        } else {
            self.records.partition_point(|x| x.ts <= to)
        };
        let lo = self.records.partition_point(|x| x.ts <= from);
        lo..hi.max(lo)
    }

    /// Rebuild from records (time-ordered, all inside the 30 days before `latest`).
    pub fn rebuild(records: Vec<Record>, latest: i64) -> Result<Windows, String> {
        if records.windows(2).any(|p| p[0].ts > p[1].ts) {
            return Err("records are not in time order".into());
        }
        if let (Some(first), Some(last)) = (records.first(), records.last())
            && (first.ts <= latest.saturating_sub(HORIZON) || last.ts > latest)
        {
            return Err("records outside the 30 days before the newest event".into());
        }
        let mut w = Windows {
            records: VecDeque::from(records),
            latest,
            ..Windows::default()
        };
        for (i, &(_, len)) in WINDOWS.iter().enumerate() {
            let cutoff = latest.saturating_sub(len);
            let start = w.records.partition_point(|r| r.ts <= cutoff);
            w.start[i] = start as u64;
            for r in w.records.range(start..) {
                w.totals[i].add(r);
            }
        }
        Ok(w)
    }

    /// Read window `w` with its breakdowns.
    pub fn view(&self, w: usize) -> WindowView {
        let t = self.totals[w];
        let mut v = WindowView {
            window: WINDOWS[w].0.to_string(),
            transactions: t.transactions,
            declined: 0,
            spend_count: t.spend_count,
            spend_minor: t.spend_minor,
            by_category: BTreeMap::new(),
            by_channel: BTreeMap::new(),
            by_country: BTreeMap::new(),
        };
        let first = (self.start[w] - self.popped) as usize;
        for r in self.records.range(first..) {
            if !r.is(APPROVED) {
                v.declined += 1;
            }
            if !r.is(SPEND) {
                continue;
            }
            let tally = |m: &mut BTreeMap<String, Tally>, k: &str| {
                let e = m.entry(k.to_string()).or_default();
                e.count += 1;
                e.sum_minor = e.sum_minor.saturating_add(r.spend());
            };
            tally(&mut v.by_category, category_of(r.category).as_str());
            tally(&mut v.by_channel, channel_of(r.channel).as_str());
            tally(
                &mut v.by_country,
                std::str::from_utf8(&r.country).unwrap_or("??"),
            );
        }
        v
    }
}

pub(crate) fn category_of(c: u8) -> Category {
    Category::ALL
        .get(c as usize)
        .copied()
        .unwrap_or(Category::Other)
}

pub(crate) fn channel_of(c: u8) -> Channel {
    Channel::ALL
        .get(c as usize)
        .copied()
        .unwrap_or(Channel::Transfer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ts_secs: i64, amount: i64, flags: u8) -> Record {
        Record {
            ts: ts_secs * SECOND,
            amount,
            category: Category::Groceries as u8,
            channel: Channel::CardPresent as u8,
            country: *b"DE",
            flags,
        }
    }

    const S: u8 = SPEND | APPROVED | DEBIT;

    #[test]
    fn record_is_compact_and_codes_round_trip() {
        assert!(std::mem::size_of::<Record>() <= 24);
        for c in Category::ALL {
            assert_eq!(category_of(*c as u8), *c);
        }
        for c in Channel::ALL {
            assert_eq!(channel_of(*c as u8), *c);
        }
    }

    #[test]
    fn windows_slide_and_evict_at_exact_boundaries() {
        let mut w = Windows::default();
        assert!(w.insert(rec(0, -100, S)));
        assert!(w.insert(rec(1_800, -200, S)));
        assert!(w.insert(rec(1_800, 5_000, APPROVED))); // a credit: a transaction, not spend
        assert_eq!(
            w.totals(0),
            Totals {
                transactions: 3,
                spend_count: 2,
                spend_minor: 300
            }
        );
        // At exactly t0 + 1h the first record leaves the 1h window (half-open interval).
        w.advance(3_600 * SECOND);
        assert_eq!(
            w.totals(0),
            Totals {
                transactions: 2,
                spend_count: 1,
                spend_minor: 200
            }
        );
        assert_eq!(w.totals(1).spend_minor, 300);
        w.advance(30 * 86_400 * SECOND);
        assert_eq!(w.records().len(), 2, "t=0 left the 30-day window");
        assert_eq!(
            w.totals(3),
            Totals {
                transactions: 2,
                spend_count: 1,
                spend_minor: 200
            }
        );
        assert_eq!(w.totals(0), Totals::default());
        w.advance(40 * 86_400 * SECOND);
        assert!(w.records().is_empty());
        assert_eq!(w.totals, [Totals::default(); N]);
    }

    #[test]
    fn out_of_order_records_land_in_every_covering_window() {
        let mut w = Windows::default();
        w.insert(rec(10 * 86_400, -1_000, S));
        // 2 hours older: in 24h, 7d, 30d but not 1h.
        assert!(w.insert(rec(10 * 86_400 - 7_200, -50, S)));
        assert_eq!(w.totals(0).spend_minor, 1_000);
        assert_eq!(w.totals(1).spend_minor, 1_050);
        // 8 days older: only the 30-day window.
        assert!(w.insert(rec(2 * 86_400, -7, S)));
        assert_eq!(w.totals(2).spend_minor, 1_050);
        assert_eq!(w.totals(3).spend_minor, 1_057);
        // 30 days older (exactly on the boundary): lifetime only.
        assert!(!w.insert(rec(-20 * 86_400, -1, S)));
        assert_eq!(w.records().len(), 3);
        let ts: Vec<i64> = w.records().iter().map(|r| r.ts / SECOND).collect();
        assert_eq!(ts, [2 * 86_400, 10 * 86_400 - 7_200, 10 * 86_400]);
        // Sliding on evicts the out-of-order records from the right windows.
        w.advance((10 * 86_400 + 3_600) * SECOND);
        assert_eq!(w.totals(0).spend_count, 0);
        assert_eq!(w.totals(1).spend_minor, 1_050);
        let rebuilt = Windows::rebuild(w.records().iter().copied().collect(), w.latest).unwrap();
        assert_eq!(rebuilt.totals, w.totals);
    }

    #[test]
    fn late_records_on_a_boundary_are_outside() {
        let mut w = Windows::default();
        w.insert(rec(86_400, -1, S));
        // Exactly 1 hour older: outside the 1h window (half-open), inside 24h.
        assert!(w.insert(rec(86_400 - 3_600, -20, S)));
        assert_eq!(w.totals(0).spend_minor, 1);
        assert_eq!(w.totals(1).spend_minor, 21);
        // Exactly 24 hours older: inside 7d only.
        assert!(w.insert(rec(0, -300, S)));
        assert_eq!(w.totals(1).spend_minor, 21);
        assert_eq!(w.totals(2).spend_minor, 321);
        // One second later nothing changes: the boundary records were never inside.
        w.advance(86_401 * SECOND);
        assert_eq!((w.totals(0).spend_minor, w.totals(1).spend_minor), (1, 21));
        w.advance((86_400 + 82_800) * SECOND);
        assert_eq!(
            w.totals(1).spend_minor,
            1,
            "the record 1h older left 24h, 23h later"
        );
        assert_eq!(w.totals(2).spend_minor, 321);
    }

    #[test]
    fn range_and_view() {
        let mut w = Windows::default();
        for (t, a) in [(0, -1), (60, -2), (120, -3), (120, 4)] {
            w.insert(rec(t, a, if a < 0 { S } else { APPROVED }));
        }
        assert_eq!(w.range(0, 120 * SECOND), 1..4);
        assert_eq!(w.range(-1, 60 * SECOND), 0..2);
        assert_eq!(w.range(200 * SECOND, 300 * SECOND), 4..4);
        let v = w.view(0);
        assert_eq!((v.transactions, v.spend_count, v.spend_minor), (4, 3, 6));
        assert_eq!(
            v.by_category["groceries"],
            Tally {
                count: 3,
                sum_minor: 6
            }
        );
        assert_eq!(v.by_country["DE"].count, 3);
        assert!(Windows::rebuild(vec![rec(5, -1, S), rec(1, -1, S)], 5 * SECOND).is_err());
    }
}
