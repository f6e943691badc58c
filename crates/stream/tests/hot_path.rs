//! The hot path's cost, checked without timing: once a customer's windows have reached their
//! steady size, applying a plain transaction allocates nothing (counted by a wrapping global
//! allocator). Timing runs (throughput, checkpoint size and time) are `#[ignore]`d: `cargo test
//! --release -p sextant-stream --test hot_path -- --ignored --nocapture`.

use sextant_stream::{DEMO_RULES, Engine, EventBody, RuleSet, StreamEvent, parse_event};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Count only on the thread under test, only while measuring.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: delegates every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const T0: i64 = 1_772_323_200; // 2026-03-01T00:00:00Z

/// Plain card spend: `customers` customers, one event each every `every` seconds, in time order.
fn plain(customers: u32, every: i64, from: i64, to: i64) -> Vec<StreamEvent> {
    let mut out = Vec::new();
    let mut t = from;
    let mut n = 0u64;
    while t < to {
        for c in 0..customers {
            n += 1;
            let ts = chrono::DateTime::from_timestamp(T0 + t, 0).unwrap();
            let v = serde_json::json!({
                "event_id": format!("e{n}"), "type": "transaction", "customer_id": format!("c{c}"),
                "timestamp": ts.to_rfc3339(), "transaction_id": format!("t{n}"), "account_id": "a-1",
                "amount_minor": -1_000 - (n % 13) as i64 * 100, "category": "groceries",
                "channel": "card_present", "country": "DE", "balance_after_minor": 100_000,
            });
            out.push(parse_event(&v).unwrap());
        }
        t += every;
    }
    out
}

#[test]
fn steady_state_plain_transactions_do_not_allocate() {
    let rules = Arc::new(RuleSet::from_toml(DEMO_RULES).unwrap());
    let mut engine = Engine::new(rules);
    let day = 86_400;
    // 40 days: the 30-day windows fill and their deques reach their steady capacity.
    for e in plain(50, 1_800, 0, 40 * day) {
        assert!(engine.apply(&e).is_empty());
    }
    let measured = plain(50, 1_800, 40 * day, 45 * day);
    COUNTING.with(|c| c.set(true));
    let mut alerts = 0;
    for e in &measured {
        alerts += engine.apply(e).len();
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(alerts, 0);
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "applying {} plain transactions allocated",
        measured.len()
    );
}

/// Events per second for `customers` customers, one plain transaction each every `every`
/// seconds over `days` (each customer's event is one template updated in place, so only
/// `apply` is measured).
fn rate(customers: u32, every: i64, days: i64) -> f64 {
    let rules = Arc::new(RuleSet::from_toml(DEMO_RULES).unwrap());
    let mut engine = Engine::new(rules);
    let mut templates = plain(customers, every, 0, every);
    let mut n = 0u64;
    let mut alerts = 0;
    let start = std::time::Instant::now();
    let mut t = 0;
    while t < days * 86_400 {
        let ts = chrono::DateTime::from_timestamp(T0 + t, 0).unwrap();
        for e in &mut templates {
            e.timestamp = ts;
            if let EventBody::Transaction(tx) = &mut e.body {
                tx.timestamp = ts;
                tx.amount.minor = -1_000 - (n % 13) as i64 * 100;
            }
            n += 1;
            alerts += engine.apply(e).len();
        }
        t += every;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(alerts, 0);
    n as f64 / secs
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn throughput() {
    for (customers, every, days) in [
        (100, 120, 60),
        (10_000, 3_600, 60),
        (100_000, 6 * 3_600, 60),
    ] {
        println!(
            "{customers} customers, one event each every {every} s for {days} days: {:.0} events/s",
            rate(customers, every, days)
        );
    }
}

/// An engine holding `customers` customers with one plain transaction each every `every`
/// seconds over `days`, and the number of records its windows keep.
fn filled(customers: u32, every: i64, days: i64) -> (Engine, u64) {
    let rules = Arc::new(RuleSet::from_toml(DEMO_RULES).unwrap());
    let mut engine = Engine::new(rules);
    let mut templates = plain(customers, every, 0, every);
    let mut n = 0u64;
    let mut t = 0;
    while t < days * 86_400 {
        let ts = chrono::DateTime::from_timestamp(T0 + t, 0).unwrap();
        for e in &mut templates {
            e.timestamp = ts;
            if let EventBody::Transaction(tx) = &mut e.body {
                tx.timestamp = ts;
                tx.amount.minor = -1_000 - (n % 13) as i64 * 100 - (n % 7) as i64;
            }
            n += 1;
            engine.apply(e);
        }
        t += every;
    }
    (engine, n)
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn checkpoint_size_and_time() {
    let (customers, every, days) = (10_000, 8 * 3_600, 30);
    let (engine, records) = filled(customers, every, days);
    let start = std::time::Instant::now();
    let bytes = engine.snapshot();
    let snap = start.elapsed();
    let start = std::time::Instant::now();
    let restored = Engine::restore(engine.rules().clone(), &bytes).unwrap();
    let restore = start.elapsed();
    assert_eq!(restored.customers(), customers as usize);
    println!(
        "{customers} customers, one transaction each every {every} s for {days} days \
         ({records} records): snapshot {:.1} MB ({:.1} bytes/record) in {:.1} ms, \
         restore in {:.1} ms",
        bytes.len() as f64 / 1e6,
        bytes.len() as f64 / records as f64,
        snap.as_secs_f64() * 1e3,
        restore.as_secs_f64() * 1e3,
    );
}
