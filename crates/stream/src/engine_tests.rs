//! Tests of the engine: every rule kind firing and not firing, online windows against a direct
//! filter and against the batch features, snapshot → restore → continue, determinism, erasure.

use super::*;
use crate::event::{LoginChannel, parse_event};
use crate::window::SECOND;
use sextant_core::{
    Customer, EngagementLevel, RiskProfile, SentimentScore, SpendingHabit, TransactionId,
};

/// Seconds since 2026-03-01T00:00:00Z.
fn at(secs: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + chrono::TimeDelta::seconds(secs)
}

const MIN: i64 = 60;
const HOUR: i64 = 3_600;
const D: i64 = 86_400;

#[derive(Clone)]
struct T {
    amount: i64,
    cat: Category,
    ch: Channel,
    country: &'static str,
    status: TxStatus,
    merchant: Option<&'static str>,
    balance: Option<i64>,
}

impl Default for T {
    fn default() -> Self {
        T {
            amount: -1_000,
            cat: Category::Groceries,
            ch: Channel::CardPresent,
            country: "DE",
            status: TxStatus::Approved,
            merchant: None,
            balance: None,
        }
    }
}

fn cid(s: &str) -> CustomerId {
    CustomerId::parse(s).unwrap()
}

fn tx_ev(id: &str, cust: &str, secs: i64, t: T) -> StreamEvent {
    let ts = at(secs);
    StreamEvent {
        event_id: id.to_string(),
        customer_id: cid(cust),
        timestamp: ts,
        body: EventBody::Transaction(Transaction {
            id: TransactionId::parse(&format!("t-{id}")).unwrap(),
            customer_id: cid(cust),
            account_id: AccountId::parse("a-1").unwrap(),
            timestamp: ts,
            amount: Money::new(t.amount, Currency::EUR),
            merchant: t.merchant.map(str::to_string),
            category: t.cat,
            mcc: None,
            channel: t.ch,
            country: CountryCode::parse(t.country).unwrap(),
            balance_after: t.balance.map(|b| Money::new(b, Currency::EUR)),
            status: t.status,
        }),
    }
}

fn ev(id: &str, cust: &str, secs: i64, body: EventBody) -> StreamEvent {
    StreamEvent {
        event_id: id.to_string(),
        customer_id: cid(cust),
        timestamp: at(secs),
        body,
    }
}

fn engine(rules: &str) -> Engine {
    Engine::new(Arc::new(RuleSet::from_toml(rules).unwrap()))
}

fn demo() -> Engine {
    Engine::new(Arc::new(RuleSet::from_toml(crate::DEMO_RULES).unwrap()))
}

/// Apply events, returning every alert.
fn run(e: &mut Engine, events: &[StreamEvent]) -> Vec<Alert> {
    events.iter().flat_map(|x| e.apply(x)).collect()
}

fn rules_of(alerts: &[Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.rule.as_str()).collect()
}

#[test]
fn amount_above_baseline() {
    let rules = "[[rule]]\nid = \"big\"\nkind = \"amount_above_baseline\"\nfactor = 5.0\nmin_history = 10\nhold_for_review = true\nseverity = \"high\"";
    let mut e = engine(rules);
    let mut evs: Vec<StreamEvent> = (0..10)
        .map(|i| tx_ev(&format!("e{i}"), "1", i * HOUR, T::default()))
        .collect();
    // Not spend debits, however large: a credit, a transfer, a declined debit.
    evs.push(tx_ev(
        "credit",
        "1",
        11 * HOUR,
        T {
            amount: 900_000,
            cat: Category::OtherIncome,
            ..T::default()
        },
    ));
    evs.push(tx_ev(
        "transfer",
        "1",
        12 * HOUR,
        T {
            amount: -900_000,
            cat: Category::Transfer,
            ..T::default()
        },
    ));
    evs.push(tx_ev(
        "declined",
        "1",
        13 * HOUR,
        T {
            amount: -900_000,
            status: TxStatus::Declined,
            ..T::default()
        },
    ));
    // Exactly 5× is not above 5×.
    evs.push(tx_ev(
        "five",
        "1",
        14 * HOUR,
        T {
            amount: -5_000,
            ..T::default()
        },
    ));
    assert!(run(&mut e, &evs).is_empty());
    // Mean now (10 × 1000 + 5000) / 11 = 1363.6…; 9000 is 6.6×.
    let a = e.apply(&tx_ev(
        "big",
        "1",
        15 * HOUR,
        T {
            amount: -9_000,
            ..T::default()
        },
    ));
    assert_eq!(a.len(), 1);
    let a = &a[0];
    assert_eq!(
        a.reason,
        "Debit of 90.00 EUR is 6.6× this customer's typical 13.64 EUR (mean of 11 spend debits)."
    );
    assert_eq!(a.figures["amount_minor"], 9_000);
    assert_eq!(a.figures["mean_minor"], 1_364);
    assert_eq!(a.figures["ratio"], 6.6);
    assert_eq!(a.figures["history"], 11);
    assert_eq!(
        (a.kind, a.severity, a.hold_for_review),
        (AlertKind::Fraud, Severity::High, true)
    );
    assert_eq!(a.action, AlertAction::Alert);
    assert_eq!(a.events, ["big"]);
    assert_eq!(a.at, at(15 * HOUR));
    assert_eq!(a.id, alert_id("big", &cid("1"), &["big".to_string()]));
    // Too little history: 9 debits, then a huge one.
    let mut e = engine(rules);
    let evs: Vec<StreamEvent> = (0..9)
        .map(|i| tx_ev(&format!("e{i}"), "2", i * HOUR, T::default()))
        .chain([tx_ev(
            "huge",
            "2",
            10 * HOUR,
            T {
                amount: -1_000_000,
                ..T::default()
            },
        )])
        .collect();
    assert!(run(&mut e, &evs).is_empty());
}

use crate::alert::{AlertKind, Severity};

#[test]
fn velocity_fires_once_per_window() {
    let mut e =
        engine("[[rule]]\nid = \"vel\"\nkind = \"velocity\"\nwindow = \"10m\"\nmax_count = 8");
    // Nine debits a minute apart: the ninth is the ninth within 10 minutes.
    let burst = |base: i64, tag: &str| -> Vec<StreamEvent> {
        (0..9)
            .map(|i| tx_ev(&format!("{tag}{i}"), "1", base + i * MIN, T::default()))
            .collect()
    };
    let mut evs = burst(0, "a");
    evs.push(tx_ev("a9", "1", 9 * MIN, T::default())); // tenth: inside the cooldown
    let alerts = run(&mut e, &evs);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].events, ["a8"]);
    assert_eq!(
        alerts[0].reason,
        "9 debits within 10m, more than the limit of 8."
    );
    assert_eq!(alerts[0].figures["window"], "10m");
    // A later burst fires again.
    let alerts = run(&mut e, &burst(30 * MIN, "b"));
    assert_eq!(rules_of(&alerts), ["vel"]);
    assert_eq!(alerts[0].events, ["b8"]);
    // Credits do not count; nine debits spread over 16 minutes never exceed 8 in 10.
    let mut e =
        engine("[[rule]]\nid = \"vel\"\nkind = \"velocity\"\nwindow = \"10m\"\nmax_count = 8");
    let credits: Vec<StreamEvent> = (0..20)
        .map(|i| {
            tx_ev(
                &format!("c{i}"),
                "2",
                i,
                T {
                    amount: 100,
                    cat: Category::OtherIncome,
                    ..T::default()
                },
            )
        })
        .collect();
    let slow: Vec<StreamEvent> = (0..9)
        .map(|i| tx_ev(&format!("s{i}"), "3", i * 2 * MIN, T::default()))
        .collect();
    assert!(run(&mut e, &credits).is_empty());
    assert!(run(&mut e, &slow).is_empty());
}

#[test]
fn new_country_after_history() {
    let mut e = engine("[[rule]]\nid = \"nc\"\nkind = \"new_country\"\nmin_history = 3");
    let mut evs: Vec<StreamEvent> = (0..3)
        .map(|i| tx_ev(&format!("e{i}"), "1", i * HOUR, T::default()))
        .collect();
    evs.push(tx_ev(
        "fr1",
        "1",
        4 * HOUR,
        T {
            country: "FR",
            ..T::default()
        },
    ));
    evs.push(tx_ev(
        "fr2",
        "1",
        5 * HOUR,
        T {
            country: "FR",
            ..T::default()
        },
    ));
    evs.push(tx_ev(
        "it-declined",
        "1",
        6 * HOUR,
        T {
            country: "IT",
            status: TxStatus::Declined,
            ..T::default()
        },
    ));
    evs.push(tx_ev(
        "it",
        "1",
        7 * HOUR,
        T {
            country: "IT",
            ..T::default()
        },
    ));
    let alerts = run(&mut e, &evs);
    assert_eq!(
        alerts
            .iter()
            .map(|a| a.events[0].as_str())
            .collect::<Vec<_>>(),
        ["fr1", "it"]
    );
    assert_eq!(
        alerts[0].reason,
        "First transaction in FR after 3 approved transactions elsewhere."
    );
    assert_eq!(alerts[1].figures["history"], 5);
    // Two approved only: no alert, but the country is then known.
    let mut e = engine("[[rule]]\nid = \"nc\"\nkind = \"new_country\"\nmin_history = 3");
    let evs = [
        tx_ev("a", "2", 0, T::default()),
        tx_ev("b", "2", 1, T::default()),
        tx_ev(
            "c",
            "2",
            2,
            T {
                country: "FR",
                ..T::default()
            },
        ),
        tx_ev(
            "d",
            "2",
            3,
            T {
                country: "FR",
                ..T::default()
            },
        ),
    ];
    assert!(run(&mut e, &evs).is_empty());
}

#[test]
fn new_category_after_history() {
    let mut e = engine("[[rule]]\nid = \"ncat\"\nkind = \"new_category\"\nmin_history = 3");
    let mut evs: Vec<StreamEvent> = (0..3)
        .map(|i| tx_ev(&format!("e{i}"), "1", i * HOUR, T::default()))
        .collect();
    evs.push(tx_ev(
        "salary",
        "1",
        4 * HOUR,
        T {
            amount: 300_000,
            cat: Category::Salary,
            ..T::default()
        },
    ));
    evs.push(tx_ev(
        "savings",
        "1",
        5 * HOUR,
        T {
            amount: -10_000,
            cat: Category::Savings,
            ..T::default()
        },
    ));
    evs.push(tx_ev(
        "dinner",
        "1",
        6 * HOUR,
        T {
            cat: Category::Restaurants,
            ..T::default()
        },
    ));
    evs.push(tx_ev(
        "dinner2",
        "1",
        7 * HOUR,
        T {
            cat: Category::Restaurants,
            ..T::default()
        },
    ));
    let alerts = run(&mut e, &evs);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].events, ["dinner"]);
    assert_eq!(
        alerts[0].reason,
        "First spend on restaurants after 3 spend debits in other categories."
    );
    assert_eq!(alerts[0].kind, AlertKind::Info);
}

fn declined(id: &str, cust: &str, secs: i64, amount: i64) -> StreamEvent {
    tx_ev(
        id,
        cust,
        secs,
        T {
            amount: -amount,
            status: TxStatus::Declined,
            ch: Channel::CardOnline,
            ..T::default()
        },
    )
}

fn big(id: &str, cust: &str, secs: i64) -> StreamEvent {
    tx_ev(
        id,
        cust,
        secs,
        T {
            amount: -50_000,
            cat: Category::Shopping,
            ch: Channel::CardOnline,
            ..T::default()
        },
    )
}

const CARD_TESTING: &str = "[[rule]]\nid = \"ct\"\nkind = \"sequence\"\nwithin = \"30m\"\nsteps = [ { type = \"transaction\", status = \"declined\", debit = true, amount_below_minor = 500, at_least = 3 }, { type = \"transaction\", status = \"approved\", debit = true, amount_above_minor = 20000 } ]";

#[test]
fn sequence_card_testing() {
    let mut e = engine(CARD_TESTING);
    let evs = [
        declined("d1", "1", 0, 100),
        ev(
            "login",
            "1",
            30,
            EventBody::Login {
                channel: LoginChannel::Web,
                country: None,
                success: true,
            },
        ),
        declined("d2", "1", MIN, 200),
        tx_ev("bread", "1", 90, T::default()), // unrelated events in between are skipped
        declined("d3", "1", 2 * MIN, 300),
        big("buy", "1", 5 * MIN),
        big("buy2", "1", 6 * MIN), // the match fired once; no second alert
    ];
    let alerts = run(&mut e, &evs);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].events, ["d1", "d2", "d3", "buy"]);
    assert_eq!(
        alerts[0].reason,
        "4 events matched the 2 steps of 'ct' within 5 minutes (limit 30m)."
    );
    assert_eq!(alerts[0].id, alert_id("ct", &cid("1"), &alerts[0].events));
    assert_eq!(alerts[0].at, at(5 * MIN));

    // Too slow: the last step comes 31 minutes after the first.
    let mut e = engine(CARD_TESTING);
    let evs = [
        declined("d1", "2", 0, 100),
        declined("d2", "2", MIN, 100),
        declined("d3", "2", 2 * MIN, 100),
        big("buy", "2", 31 * MIN),
    ];
    assert!(run(&mut e, &evs).is_empty());
    // Two declines only, or a decline too large.
    let mut e = engine(CARD_TESTING);
    let evs = [
        declined("d1", "3", 0, 100),
        declined("d2", "3", MIN, 100),
        declined("d3", "3", 2 * MIN, 500),
        big("buy", "3", 3 * MIN),
    ];
    assert!(run(&mut e, &evs).is_empty());

    // An early decline must not hide a later, complete match (partial matches per position).
    let mut e = engine(CARD_TESTING);
    let evs = [
        declined("d0", "4", 0, 100),
        declined("d1", "4", 25 * MIN, 100),
        declined("d2", "4", 26 * MIN, 100),
        declined("d3", "4", 27 * MIN, 100),
        big("buy", "4", 35 * MIN),
    ];
    let alerts = run(&mut e, &evs);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].events, ["d1", "d2", "d3", "buy"]);
    assert_eq!(alerts[0].figures["elapsed_minutes"], 10.0);
}

#[test]
fn sequence_state_is_bounded() {
    let mut e = engine(CARD_TESTING);
    let evs: Vec<StreamEvent> = (0..2_000)
        .map(|i| declined(&format!("d{i}"), "1", i, 100))
        .collect();
    assert!(run(&mut e, &evs).is_empty());
    let st = &e.customers[&cid("1")];
    let runs = &st.rules[0].1.runs;
    assert!(
        runs.len() <= 3,
        "one partial match per position, got {}",
        runs.len()
    );
    // The latest-starting match is kept at each position.
    assert!(
        runs.iter().all(|r| r.start >= at(1_996).timestamp_micros()),
        "{runs:?}"
    );
    // Partial matches expire: a big buy 31 minutes later completes nothing.
    assert!(e.apply(&big("buy", "1", 1_999 + 31 * MIN)).is_empty());
    assert!(e.customers[&cid("1")].rules[0].1.runs.is_empty());
}

#[test]
fn sequence_takeover_with_new_country_login() {
    let rules = "[[rule]]\nid = \"ato\"\nkind = \"sequence\"\nwithin = \"1h\"\nsteps = [ { type = \"login\", success = false }, { type = \"login\", success = true, new_country = true }, { type = \"transaction\", debit = true, amount_above_minor = 100000 } ]";
    let login = |id: &str, c: &str, s: i64, ok: bool, country: &str| {
        ev(
            id,
            c,
            s,
            EventBody::Login {
                channel: LoginChannel::Web,
                country: Some(CountryCode::parse(country).unwrap()),
                success: ok,
            },
        )
    };
    let history = |c: &str| tx_ev(&format!("h-{c}"), c, -D, T::default());
    let mut e = engine(rules);
    let evs = [
        history("1"),
        login("l1", "1", 0, false, "RO"),
        login("l2", "1", 5 * MIN, true, "RO"),
        tx_ev(
            "wire",
            "1",
            10 * MIN,
            T {
                amount: -150_000,
                cat: Category::Shopping,
                ..T::default()
            },
        ),
    ];
    let alerts = run(&mut e, &evs);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].events, ["l1", "l2", "wire"]);
    // The same from the home country is not a takeover.
    let mut e = engine(rules);
    let evs = [
        history("2"),
        login("l1", "2", 0, false, "DE"),
        login("l2", "2", 5 * MIN, true, "DE"),
        tx_ev(
            "wire",
            "2",
            10 * MIN,
            T {
                amount: -150_000,
                ..T::default()
            },
        ),
    ];
    assert!(run(&mut e, &evs).is_empty());
}

fn salary(id: &str, cust: &str, secs: i64, amount: i64) -> StreamEvent {
    tx_ev(
        id,
        cust,
        secs,
        T {
            amount,
            cat: Category::Salary,
            ch: Channel::Transfer,
            ..T::default()
        },
    )
}

#[test]
fn salary_arrival_with_cooldown() {
    let mut e = engine(
        "[[rule]]\nid = \"sal\"\nkind = \"salary_arrival\"\nmin_amount_minor = 100000\nproduct_family = \"savings\"\ncooldown = \"20d\"",
    );
    let evs = [
        salary("s0", "1", 0, 250_000),
        salary("s1", "1", 10 * D, 250_000), // cooldown
        tx_ev(
            "bonus",
            "1",
            25 * D,
            T {
                amount: 500_000,
                cat: Category::OtherIncome,
                ..T::default()
            },
        ), // not salary
        salary("s2", "1", 30 * D, 250_000),
        salary("small", "1", 61 * D, 50_000), // below the minimum
    ];
    let alerts = run(&mut e, &evs);
    assert_eq!(
        alerts
            .iter()
            .map(|a| a.events[0].as_str())
            .collect::<Vec<_>>(),
        ["s0", "s2"]
    );
    let a = &alerts[0];
    assert_eq!(
        a.reason,
        "Salary of 2,500.00 EUR arrived: a moment to suggest savings."
    );
    assert_eq!(
        a.action,
        AlertAction::Nudge {
            product_family: Some("savings".into())
        }
    );
    assert_eq!(a.kind, AlertKind::Opportunity);
}

#[test]
fn low_balance_forecast_once_per_cycle() {
    let mut e =
        engine("[[rule]]\nid = \"low\"\nkind = \"low_balance_forecast\"\nthreshold_minor = 10000");
    let balance = |id: &str, s: i64, minor: i64| {
        ev(
            id,
            "1",
            s,
            EventBody::Balance {
                account_id: AccountId::parse("a-1").unwrap(),
                balance: Money::new(minor, Currency::EUR),
            },
        )
    };
    let mut evs = vec![salary("s0", "1", 0, 300_000), balance("b-early", 5 * D, 0)]; // no cadence yet
    evs.extend((0..40).map(|d| {
        tx_ev(
            &format!("g{d}"),
            "1",
            d * D + 12 * HOUR,
            T {
                amount: -2_000,
                ..T::default()
            },
        )
    }));
    evs.push(salary("s1", "1", 30 * D, 300_000));
    assert!(
        run(&mut e, &evs).is_empty(),
        "no warning before a cadence is known"
    );
    assert!(
        e.apply(&balance("b-ok", 40 * D, 100_000)).is_empty(),
        "100000 - 40000 is above 10000"
    );
    let a = e.apply(&balance("b-low", 40 * D + 1, 30_000));
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].reason,
        "Balance 300.00 EUR less 20.00 EUR average daily spend for the 20 days until the salary expected on 2026-04-30 leaves -100.00 EUR, below 100.00 EUR."
    );
    assert_eq!(a[0].figures["forecast_minor"], -10_000);
    assert_eq!(a[0].action, AlertAction::Warning);
    assert_eq!(a[0].kind, AlertKind::Distress);
    // Once per salary cycle …
    assert!(e.apply(&balance("b-lower", 41 * D, 1_000)).is_empty());
    // … and again after the next payday. A transaction's balance_after counts as a balance.
    assert!(e.apply(&salary("s2", "1", 60 * D, 300_000)).is_empty());
    let a = e.apply(&tx_ev(
        "rent",
        "1",
        61 * D,
        T {
            amount: -290_000,
            cat: Category::Housing,
            ch: Channel::StandingOrder,
            balance: Some(5_000),
            ..T::default()
        },
    ));
    assert_eq!(rules_of(&a), ["low"]);
    let view = e.customer(&cid("1")).unwrap();
    assert_eq!(view.baseline.salary_cadence_days, Some(30.0));
    assert_eq!(view.baseline.next_salary_expected, Some(at(90 * D)));
}

#[test]
fn subscription_price_rise() {
    let mut e = engine(
        "[[rule]]\nid = \"rise\"\nkind = \"subscription_price_rise\"\nmin_increase_pct = 5.0\nmin_interval = \"20d\"",
    );
    let sub = |id: &str, s: i64, amount: i64| {
        tx_ev(
            id,
            "1",
            s,
            T {
                amount: -amount,
                cat: Category::Subscriptions,
                ch: Channel::CardOnline,
                merchant: Some("Streamly"),
                ..T::default()
            },
        )
    };
    let dd = |id: &str, s: i64, amount: i64| {
        tx_ev(
            id,
            "1",
            s,
            T {
                amount: -amount,
                cat: Category::Utilities,
                ch: Channel::DirectDebit,
                merchant: Some("PowerCo"),
                ..T::default()
            },
        )
    };
    let shop = |id: &str, s: i64, amount: i64| {
        tx_ev(
            id,
            "1",
            s,
            T {
                amount: -amount,
                cat: Category::Shopping,
                merchant: Some("Mall"),
                ..T::default()
            },
        )
    };
    let evs = [
        sub("m0", 0, 999),
        sub("m1", 30 * D, 999),   // unchanged
        sub("m2", 60 * D, 1_099), // +10.0%
        sub("m3", 61 * D, 1_500), // one day later: too soon to be a price change
        dd("p0", 0, 10_000),
        dd("p1", 30 * D, 10_400), // +4%: below 5%
        shop("s0", 0, 1_000),
        shop("s1", 30 * D, 5_000), // not a recurring merchant
    ];
    let alerts = run(&mut e, &evs);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].events, ["m2"]);
    assert_eq!(
        alerts[0].reason,
        "Streamly charged 10.99 EUR, 10% more than the 9.99 EUR charged on 2026-03-31."
    );
    assert_eq!(alerts[0].figures["increase_pct"], 10.0);
    let view = e.customer(&cid("1")).unwrap();
    let merchants: Vec<&str> = view
        .baseline
        .recurring
        .iter()
        .map(|r| r.merchant.as_str())
        .collect();
    assert_eq!(merchants, ["PowerCo", "Streamly"]);
}

/// SplitMix64: a tiny seeded generator, so the tests need no RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, X>(&mut self, xs: &'a [X]) -> &'a X {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn shuffle<X>(&mut self, xs: &mut [X]) {
        for i in (1..xs.len()).rev() {
            xs.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// Random transactions of one customer over `days`, every field varied.
fn random_transactions(rng: &mut Rng, cust: &str, n: usize, days: i64) -> Vec<StreamEvent> {
    let countries: [&'static str; 5] = ["DE", "DE", "DE", "FR", "NL"];
    (0..n)
        .map(|i| {
            let credit = rng.below(8) == 0;
            let t = T {
                amount: if credit {
                    1 + rng.below(500_000) as i64
                } else {
                    -1 - rng.below(50_000) as i64
                },
                cat: *rng.pick(Category::ALL),
                ch: *rng.pick(Channel::ALL),
                country: countries[rng.below(countries.len() as u64) as usize],
                status: if rng.below(10) == 0 {
                    TxStatus::Declined
                } else {
                    TxStatus::Approved
                },
                merchant: None,
                balance: None,
            };
            // On a 10-minute grid, so many events fall exactly on window boundaries.
            let slot = rng.below((days * D / 600) as u64) as i64;
            tx_ev(&format!("{cust}-{i}"), cust, slot * 600, t)
        })
        .collect()
}

#[test]
fn windows_equal_a_direct_filter_in_any_order() {
    let mut rng = Rng(7);
    let mut evs = random_transactions(&mut rng, "1", 3_000, 60);
    rng.shuffle(&mut evs);
    let mut e = Engine::new(Arc::new(RuleSet::empty()));
    let id = cid("1");
    for (n, x) in evs.iter().enumerate() {
        e.apply(x);
        if n % 37 != 0 && n != evs.len() - 1 {
            continue;
        }
        let seen = &evs[..=n];
        let latest = seen
            .iter()
            .map(|x| x.timestamp.timestamp_micros())
            .max()
            .unwrap();
        let w = e.windows_of(&id).unwrap();
        assert_eq!(w.latest(), Some(latest));
        for (i, &(name, len)) in WINDOWS.iter().enumerate() {
            let inside: Vec<&Transaction> = seen
                .iter()
                .filter(|x| x.timestamp.timestamp_micros() > latest - len)
                .filter_map(|x| tx(x))
                .collect();
            let spend: Vec<&&Transaction> = inside
                .iter()
                .filter(|t| sextant_features::is_spend_debit(t))
                .collect();
            let totals = w.totals(i);
            assert_eq!(
                totals.transactions as usize,
                inside.len(),
                "{name} after {n}"
            );
            assert_eq!(totals.spend_count as usize, spend.len(), "{name} after {n}");
            assert_eq!(
                totals.spend_minor,
                spend.iter().map(|t| -t.amount.minor).sum::<i64>(),
                "{name} after {n}"
            );
        }
    }
    // Breakdowns on read match the filter too.
    let view = e.customer(&id).unwrap();
    let latest = evs
        .iter()
        .map(|x| x.timestamp.timestamp_micros())
        .max()
        .unwrap();
    let week = &view.windows[2];
    assert_eq!(week.window, "7d");
    for c in Category::ALL {
        let (n, sum) = evs
            .iter()
            .filter(|x| x.timestamp.timestamp_micros() > latest - 7 * D * SECOND)
            .filter_map(|x| tx(x))
            .filter(|t| sextant_features::is_spend_debit(t) && t.category == *c)
            .fold((0u32, 0i64), |(n, s), t| (n + 1, s - t.amount.minor));
        let got = week
            .by_category
            .get(c.as_str())
            .copied()
            .unwrap_or_default();
        assert_eq!((got.count, got.sum_minor), (n, sum), "{c}");
    }
    let declined = evs
        .iter()
        .filter(|x| x.timestamp.timestamp_micros() > latest - 7 * D * SECOND)
        .filter_map(|x| tx(x))
        .filter(|t| t.status == TxStatus::Declined)
        .count();
    assert_eq!(week.declined as usize, declined);
    assert_eq!(
        view.baseline.transactions, 3_000,
        "old events still count in lifetime stats"
    );
}

#[test]
fn thirty_day_window_agrees_with_the_batch_features() {
    // All transactions in the 30 days before as_of: the features' "months covered" is 1, so
    // monthly_spend = 30d spend (major units), frequency_per_month = 30d spend count and
    // monetary_avg = their ratio.
    let mut rng = Rng(11);
    let mut evs = random_transactions(&mut rng, "1", 500, 29);
    rng.shuffle(&mut evs);
    let mut e = Engine::new(Arc::new(RuleSet::empty()));
    run(&mut e, &evs);
    let txs: Vec<Transaction> = evs.iter().filter_map(|x| tx(x).cloned()).collect();
    let as_of = txs.iter().map(|t| t.timestamp).max().unwrap();
    let customer = Customer {
        id: cid("1"),
        name: "Test".into(),
        age: 40,
        income: Money::new(5_000_000, Currency::EUR),
        spending_habit: SpendingHabit::Moderate,
        risk_profile: RiskProfile::Medium,
        transactions: 500,
        sentiment_score: SentimentScore::new(0.0).unwrap(),
        engagement_level: EngagementLevel::Medium,
        email: None,
        phone: None,
        occupation: None,
        joined_on: None,
    };
    let fv = sextant_features::compute(&sextant_features::CustomerData {
        customer: &customer,
        accounts: &[],
        transactions: &txs,
        as_of,
    });
    let feature = |name: &str| fv.values[sextant_features::index_of(name).unwrap()];
    let month = e.customer(&cid("1")).unwrap().windows[3].clone();
    assert_eq!(month.window, "30d");
    assert!(month.spend_count > 100);
    assert_eq!(feature("frequency_per_month"), f64::from(month.spend_count));
    let spend_major = month.spend_minor as f64 / 100.0;
    assert!(
        (feature("monthly_spend") - spend_major).abs() < 1e-6,
        "{} vs {spend_major}",
        feature("monthly_spend")
    );
    let avg = spend_major / f64::from(month.spend_count);
    assert!((feature("monetary_avg") - avg).abs() < 1e-9);
}

/// A varied stream for several customers over `days`, roughly in time order (a few events late),
/// designed to trip every demo rule now and then.
fn rich_stream(seed: u64, customers: usize, days: i64) -> Vec<StreamEvent> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let mut n = 0;
    let mut id = |p: &str| {
        n += 1;
        format!("{p}{n}")
    };
    for c in 0..customers {
        let cust = format!("c{c}");
        let mut balance = 200_000i64;
        for d in 0..days {
            let day = d * D;
            if d % 30 == 0 {
                balance += 280_000;
                out.push(tx_ev(
                    &id("sal"),
                    &cust,
                    day + 8 * HOUR,
                    T {
                        amount: 280_000,
                        cat: Category::Salary,
                        ch: Channel::Transfer,
                        balance: Some(balance),
                        ..T::default()
                    },
                ));
            }
            if d % 30 == 3 {
                let price = if d > 60 && rng.below(2) == 0 {
                    1_199
                } else {
                    999
                };
                out.push(tx_ev(
                    &id("sub"),
                    &cust,
                    day + 9 * HOUR,
                    T {
                        amount: -price,
                        cat: Category::Subscriptions,
                        ch: Channel::CardOnline,
                        merchant: Some("Streamly"),
                        ..T::default()
                    },
                ));
            }
            for k in 0..(1 + rng.below(4)) as i64 {
                let amount = 500 + rng.below(6_000) as i64;
                balance -= amount;
                let cat = *rng.pick(&[
                    Category::Groceries,
                    Category::Restaurants,
                    Category::Transport,
                    Category::Shopping,
                ]);
                let country = if rng.below(40) == 0 { "ES" } else { "DE" };
                out.push(tx_ev(
                    &id("t"),
                    &cust,
                    day + 10 * HOUR + k * 2 * HOUR + rng.below(3_600) as i64,
                    T {
                        amount: -amount,
                        cat,
                        country,
                        balance: Some(balance),
                        ..T::default()
                    },
                ));
            }
            match rng.below(25) {
                0 => {
                    // a burst
                    for k in 0..10 {
                        out.push(tx_ev(
                            &id("v"),
                            &cust,
                            day + 20 * HOUR + k * 30,
                            T {
                                amount: -700,
                                ..T::default()
                            },
                        ));
                    }
                }
                1 => {
                    // card testing
                    for k in 0..3 {
                        out.push(tx_ev(
                            &id("ct"),
                            &cust,
                            day + 21 * HOUR + k * 60,
                            T {
                                amount: -100,
                                status: TxStatus::Declined,
                                ch: Channel::CardOnline,
                                ..T::default()
                            },
                        ));
                    }
                    out.push(tx_ev(
                        &id("ct"),
                        &cust,
                        day + 21 * HOUR + 300,
                        T {
                            amount: -60_000,
                            cat: Category::Shopping,
                            ch: Channel::CardOnline,
                            ..T::default()
                        },
                    ));
                }
                2 => {
                    out.push(ev(
                        &id("l"),
                        &cust,
                        day + 22 * HOUR,
                        EventBody::Login {
                            channel: LoginChannel::App,
                            country: None,
                            success: false,
                        },
                    ));
                    out.push(ev(
                        &id("l"),
                        &cust,
                        day + 22 * HOUR + 60,
                        EventBody::Login {
                            channel: LoginChannel::App,
                            country: Some(CountryCode::parse("BR").unwrap()),
                            success: true,
                        },
                    ));
                    out.push(tx_ev(
                        &id("w"),
                        &cust,
                        day + 22 * HOUR + 600,
                        T {
                            amount: -150_000,
                            cat: Category::Shopping,
                            ..T::default()
                        },
                    ));
                }
                3 => out.push(ev(
                    &id("b"),
                    &cust,
                    day + 23 * HOUR,
                    EventBody::Balance {
                        account_id: AccountId::parse("a-1").unwrap(),
                        balance: Money::new(rng.below(20_000) as i64, Currency::EUR),
                    },
                )),
                4 => out.push(ev(
                    &id("m"),
                    &cust,
                    day + 23 * HOUR,
                    EventBody::Message {
                        channel: crate::event::MessageChannel::Chat,
                        text: "hello".into(),
                    },
                )),
                _ => {}
            }
        }
    }
    out.sort_by_key(|x| x.timestamp);
    // A few late arrivals: swap some neighbours.
    for _ in 0..out.len() / 50 {
        let i = rng.below(out.len() as u64 - 1) as usize;
        out.swap(i, i + 1);
    }
    out
}

#[test]
fn snapshot_restore_continue_equals_an_uninterrupted_run() {
    let evs = rich_stream(3, 6, 120);
    let mut whole = demo();
    let expected = run(&mut whole, &evs);
    let fired: std::collections::BTreeSet<&str> =
        expected.iter().map(|a| a.rule.as_str()).collect();
    assert!(
        fired.len() >= 7,
        "the stream should trip most rules: {fired:?}"
    );
    for cut in [1, evs.len() / 3, evs.len() / 2 + 17] {
        let mut first = demo();
        let mut got = run(&mut first, &evs[..cut]);
        let bytes = first.snapshot();
        let mut second = Engine::restore(
            Arc::new(RuleSet::from_toml(crate::DEMO_RULES).unwrap()),
            &bytes,
        )
        .unwrap();
        assert_eq!(
            second.snapshot(),
            bytes,
            "restore then snapshot is the identity"
        );
        got.extend(run(&mut second, &evs[cut..]));
        assert_eq!(got, expected, "cut at {cut}");
        assert_eq!(second.snapshot(), whole.snapshot());
        assert_eq!(second.customer(&cid("c2")), whole.customer(&cid("c2")));
    }
    // Deterministic, and ids are unique per (rule, customer, events).
    let again = run(&mut demo(), &evs);
    assert_eq!(again, expected);
    let ids: std::collections::BTreeSet<&str> = expected.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), expected.len());
    // Every alert's events are in the stream, the last one at the alert's time.
    for a in &expected {
        let last = evs
            .iter()
            .find(|x| x.event_id == *a.events.last().unwrap())
            .unwrap();
        assert_eq!(last.timestamp, a.at);
    }
}

#[test]
fn snapshot_errors_and_rule_changes() {
    let evs = rich_stream(5, 2, 40);
    let mut e = demo();
    run(&mut e, &evs);
    let bytes = e.snapshot();
    let rules = Arc::new(RuleSet::from_toml(crate::DEMO_RULES).unwrap());
    assert!(matches!(
        Engine::restore(rules.clone(), b"nope"),
        Err(SnapshotError::Malformed(_))
    ));
    // Another version, in the header after the magic.
    let mut v3 = bytes.clone();
    v3[6..10].copy_from_slice(&3u32.to_le_bytes());
    assert_eq!(
        Engine::restore(rules.clone(), &v3).unwrap_err(),
        SnapshotError::Version {
            found: 3,
            supported: 2
        }
    );
    // A version-1 (JSON) checkpoint is refused by version, not as garbage.
    let v1 = br#"{"format":"sextant-stream-snapshot","version":1,"customers":[]}"#;
    assert_eq!(
        Engine::restore(rules.clone(), v1).unwrap_err(),
        SnapshotError::Version {
            found: 1,
            supported: 2
        }
    );
    let mut other = bytes.clone();
    other[..6].copy_from_slice(b"OTHER!");
    let err = Engine::restore(rules.clone(), &other).unwrap_err();
    assert!(matches!(err, SnapshotError::Malformed(_)));
    assert!(err.to_string().contains("SXSNAP"), "{err}");
    // Truncated or followed by more bytes.
    let err = Engine::restore(rules.clone(), &bytes[..bytes.len() - 1]).unwrap_err();
    assert!(err.to_string().contains("ends early"), "{err}");
    let mut longer = bytes.clone();
    longer.push(0);
    let err = Engine::restore(rules.clone(), &longer).unwrap_err();
    assert!(err.to_string().contains("trailing bytes"), "{err}");
    // Restoring under a smaller rule set keeps the windows and drops the other rules' state.
    let fewer = Arc::new(
        RuleSet::from_toml(
            "[[rule]]\nid = \"velocity\"\nkind = \"velocity\"\nwindow = \"10m\"\nmax_count = 8",
        )
        .unwrap(),
    );
    let r = Engine::restore(fewer, &bytes).unwrap();
    assert_eq!(r.customers(), 2);
    assert_eq!(r.customer(&cid("c0")), e.customer(&cid("c0")));
    assert!(
        r.customers
            .values()
            .all(|s| s.rules.iter().all(|(i, _)| *i == 0))
    );
}

#[test]
fn snapshot_costs_about_a_record_s_size_per_record() {
    // Two months of a varied stream: records, baselines with balances, paydays and recurring
    // merchants, and rule state (cooldowns, partial sequences).
    let customers = 8;
    let mut e = demo();
    run(&mut e, &rich_stream(21, customers, 60));
    let records: usize = e
        .customers
        .values()
        .map(|s| s.windows.records().len())
        .sum();
    assert!(records > 30 * customers, "{records}");
    assert!(
        e.customers.values().any(|s| !s.rules.is_empty()),
        "the state holds rule state"
    );
    let bytes = e.snapshot();
    // Records dominate: at most 40 bytes each (24 in memory; JSON took ~65), plus a small
    // per-customer overhead (id, baselines, rule state) and the header.
    let bound = 40 * records + 256 * customers + 16;
    assert!(
        bytes.len() <= bound,
        "{} bytes for {records} records of {customers} customers (bound {bound})",
        bytes.len()
    );
    let mut plain = demo();
    for i in 0..2_000 {
        // Times with microseconds: record times are then stored in microseconds.
        let mut ev = tx_ev(
            &format!("e{i}"),
            &format!("c{}", i % 4),
            i * 10 * MIN,
            T {
                amount: -(100 + i * 37 % 9_000),
                ..T::default()
            },
        );
        ev.timestamp += chrono::TimeDelta::microseconds(i * 1_234 % 999_999);
        plain.apply(&ev);
    }
    let records: usize = plain
        .customers
        .values()
        .map(|s| s.windows.records().len())
        .sum();
    let bytes = plain.snapshot();
    assert!(
        bytes.len() <= 40 * records + 256 * 4 + 16,
        "{} bytes for {records} records (sub-second times)",
        bytes.len()
    );
}

#[test]
fn restore_refuses_arbitrary_bytes_without_panicking() {
    let mut e = demo();
    run(&mut e, &rich_stream(5, 2, 40));
    let bytes = e.snapshot();
    let rules = e.rules().clone();
    assert!(Engine::restore(rules.clone(), &bytes).is_ok());
    // Every strict prefix is refused as malformed.
    for n in 0..bytes.len() {
        match Engine::restore(rules.clone(), &bytes[..n]) {
            Err(SnapshotError::Malformed(_)) => {}
            other => panic!("prefix of {n} bytes: {:?}", other.map(|e| e.customers())),
        }
    }
    // Random bytes are refused; after a valid header they may decode (a zero customer count is
    // an empty engine) but never panic.
    let mut rng = Rng(99);
    let mut header = bytes[..10].to_vec();
    for _ in 0..2_000 {
        let n = rng.below(300) as usize;
        let noise: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        assert!(Engine::restore(rules.clone(), &noise).is_err());
        header.truncate(10);
        header.extend_from_slice(&noise);
        let _ = Engine::restore(rules.clone(), &header);
    }
    // Every single corrupted byte: an error or some engine, never a panic.
    for i in 0..bytes.len() {
        for x in [0x01, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[i] ^= x;
            let _ = Engine::restore(rules.clone(), &bad);
        }
    }
}

#[test]
fn forget_erases_a_customer() {
    let mut e = demo();
    run(&mut e, &rich_stream(9, 3, 10));
    assert_eq!(e.customers(), 3);
    assert!(e.forget(&cid("c1")));
    assert!(!e.forget(&cid("c1")));
    assert!(e.customer(&cid("c1")).is_none());
    assert_eq!(e.customers(), 2);
    // The snapshot no longer holds them.
    let r = Engine::restore(e.rules().clone(), &e.snapshot()).unwrap();
    assert_eq!(r.customers(), 2);
    assert!(r.customer(&cid("c1")).is_none());
}

#[test]
fn parsed_events_drive_the_engine() {
    let v = serde_json::json!({"event_id":"e-1","type":"transaction","customer_id":"42",
        "timestamp":"2026-03-01T10:00:00Z","transaction_id":"t-1","account_id":"a-1",
        "amount_minor":-1250,"category":"groceries","channel":"card_present","country":"DE"});
    let mut e = demo();
    assert!(e.apply(&parse_event(&v).unwrap()).is_empty());
    let view = e.customer(&cid("42")).unwrap();
    assert_eq!(view.windows[0].spend_minor, 1_250);
    assert_eq!(view.latest, at(10 * HOUR));
    assert_eq!(view.baseline.countries, ["DE"]);
    // The view serialises (the API returns it).
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["windows"][3]["window"], "30d");
}

#[test]
fn state_stays_bounded_over_a_long_stream() {
    // Not timing-based: a year of events at one every 5 minutes keeps only 30 days of records,
    // and plain transactions raise nothing and keep no rule state.
    let mut e = demo();
    let step = 5 * MIN;
    let n = 365 * D / step;
    for i in 0..n {
        let alerts = e.apply(&tx_ev(
            &format!("e{i}"),
            "1",
            i * step,
            T {
                amount: -(1_000 + (i % 7) * 100),
                ..T::default()
            },
        ));
        assert!(alerts.is_empty(), "plain spend raised {alerts:?}");
    }
    let st = &e.customers[&cid("1")];
    assert_eq!(st.windows.records().len() as i64, 30 * D / step);
    assert!(st.rules.is_empty(), "{:?}", st.rules);
    assert_eq!(st.base.transactions, n as u64);
    assert_eq!(st.windows.totals(0).spend_count as i64, HOUR / step);
}
