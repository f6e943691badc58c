//! End-to-end checks of `generate`: determinism, exact headers, counts, referential integrity,
//! enum spellings the importer accepts, and that outcomes and protected attributes relate to the
//! data the way the analysts rely on.

use sextant_core::customer::{parse_email, parse_phone};
use sextant_core::transaction::{parse_date, parse_timestamp};
use sextant_core::{
    AccountKind, AccountStatus, Category, Channel, CountryCode, EngagementLevel, EventKind,
    ProductFamily, RiskProfile, SpendingHabit, TxStatus,
};
use sextant_synth::{Config, Summary, SynthError, generate, schema};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::OnceLock;

fn run(cfg: &Config) -> (tempfile::TempDir, Summary) {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(cfg, dir.path(), &|_| {}).unwrap();
    (dir, s)
}

/// One shared 2,000-customer, 12-month run for the statistical checks.
fn big() -> &'static (tempfile::TempDir, Summary) {
    static BIG: OnceLock<(tempfile::TempDir, Summary)> = OnceLock::new();
    BIG.get_or_init(|| {
        run(&Config {
            customers: 2000,
            months: 12,
            seed: 7,
            ..Default::default()
        })
    })
}

fn rows(dir: &Path, file: &str) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut r = csv::Reader::from_path(dir.join(file)).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let recs = r.records().map(|x| x.unwrap()).collect();
    (header, recs)
}

fn hashes(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<&str> = schema::ALL_FILES.iter().map(|f| f.0).collect();
    files.push("manifest.json");
    files
        .into_iter()
        .map(|f| {
            (
                f.to_string(),
                hex::encode(Sha256::digest(std::fs::read(dir.join(f)).unwrap())),
            )
        })
        .collect()
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let cfg = Config {
        customers: 600,
        months: 4,
        seed: 11,
        ..Default::default()
    };
    let (a, sa) = run(&cfg);
    let (b, sb) = run(&cfg);
    assert_eq!(sa, sb);
    assert_eq!(hashes(a.path()), hashes(b.path()));
    let (c, _) = run(&Config { seed: 12, ..cfg });
    let (ha, hc) = (hashes(a.path()), hashes(c.path()));
    assert_ne!(
        ha.iter().find(|h| h.0 == "transactions.csv"),
        hc.iter().find(|h| h.0 == "transactions.csv")
    );
    // The products catalog does not depend on the seed.
    assert_eq!(
        ha.iter().find(|h| h.0 == "products.csv"),
        hc.iter().find(|h| h.0 == "products.csv")
    );
}

#[test]
fn every_file_has_the_documented_header_and_counts_match() {
    let (dir, s) = big();
    let dir = dir.path();
    for (file, header) in schema::ALL_FILES {
        let first = std::fs::read_to_string(dir.join(file))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(first, header, "{file}");
        let (h, recs) = rows(dir, file);
        for r in &recs {
            assert_eq!(r.len(), h.len(), "{file}: {r:?}");
        }
    }
    let count = |f: &str| rows(dir, f).1.len() as u64;
    assert_eq!(count("customers.csv"), s.customers);
    assert_eq!(count("customers_full.csv"), s.customers);
    assert_eq!(count("accounts.csv"), s.accounts);
    assert_eq!(count("transactions.csv"), s.transactions);
    assert_eq!(count("messages.csv"), s.messages);
    assert_eq!(count("events.csv"), s.events);
    assert_eq!(count("labels/fraud.csv"), s.fraud_transactions);
    assert_eq!(count("labels/outcomes.csv"), s.customers);
    let (_, outcomes) = rows(dir, "labels/outcomes.csv");
    assert_eq!(
        outcomes.iter().filter(|r| &r[1] == "true").count() as u64,
        s.defaults
    );
    assert_eq!(
        outcomes.iter().filter(|r| &r[2] == "true").count() as u64,
        s.churned
    );
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains(&format!("\"transactions\": {}", s.transactions)));
    assert!(manifest.contains("\"seed\": 7"));
    // Sensible volumes and rates.
    let per_month = s.transactions as f64 / 2000.0 / 12.0;
    assert!(
        (20.0..=40.0).contains(&per_month),
        "{per_month} transactions per customer-month"
    );
    assert!(
        s.fraud_transactions > 0 && s.defaults > 0 && s.churned > 0,
        "{s:?}"
    );
}

#[test]
fn ids_are_unique_and_references_resolve() {
    let (dir, _) = big();
    let dir = dir.path();
    let (_, customers) = rows(dir, "customers.csv");
    let ids: HashSet<String> = customers.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(ids.len(), customers.len());
    assert!(
        customers
            .iter()
            .enumerate()
            .all(|(i, r)| r[0] == (i + 1).to_string() && r[1] == format!("Customer_{}", i + 1))
    );

    let (_, products) = rows(dir, "products.csv");
    let product_ids: HashSet<String> = products.iter().map(|r| r[0].to_string()).collect();
    for r in &products {
        r[2].parse::<ProductFamily>().unwrap();
        r[3].parse::<RiskProfile>().unwrap();
    }
    for f in ProductFamily::ALL {
        assert!(
            products.iter().any(|r| r[2] == *f.as_str()),
            "no {f} product"
        );
    }

    let (_, accounts) = rows(dir, "accounts.csv");
    let mut owner: HashMap<String, String> = HashMap::new();
    for r in &accounts {
        assert!(
            owner.insert(r[0].to_string(), r[1].to_string()).is_none(),
            "duplicate account {}",
            &r[0]
        );
        assert!(ids.contains(&r[1]));
        r[2].parse::<AccountKind>().unwrap();
        assert!(product_ids.contains(&r[3]), "unknown product {}", &r[3]);
        parse_date(&r[5]).unwrap();
        if !r[6].is_empty() {
            assert!(parse_date(&r[6]).unwrap() >= parse_date(&r[5]).unwrap());
        }
        r[7].parse::<AccountStatus>().unwrap();
        r[9].parse::<i64>().unwrap();
    }
    for id in &ids {
        assert!(
            owner.contains_key(&format!("a{id}-cur")),
            "customer {id} has no current account"
        );
    }

    let (_, txs) = rows(dir, "transactions.csv");
    let mut tx_ids: HashMap<String, String> = HashMap::new();
    let mut last_ts: HashMap<String, String> = HashMap::new();
    let mut per_customer: HashMap<String, u64> = HashMap::new();
    for r in &txs {
        assert!(
            tx_ids.insert(r[0].to_string(), r[1].to_string()).is_none(),
            "duplicate {}",
            &r[0]
        );
        assert_eq!(
            owner.get(&r[2]),
            Some(&r[1].to_string()),
            "account {} not the customer's",
            &r[2]
        );
        let ts = parse_timestamp(&r[3]).unwrap();
        assert!(r[3].ends_with('Z') && r[3].len() == 20);
        if let Some(prev) = last_ts.insert(r[1].to_string(), r[3].to_string()) {
            assert!(
                parse_timestamp(&prev).unwrap() <= ts,
                "not time-ordered at {}",
                &r[0]
            );
        }
        r[4].parse::<i64>().unwrap();
        assert_eq!(&r[5], "EUR");
        r[7].parse::<Category>().unwrap();
        if !r[8].is_empty() {
            assert!(r[8].len() == 4 && r[8].bytes().all(|b| b.is_ascii_digit()));
        }
        r[9].parse::<Channel>().unwrap();
        CountryCode::parse(&r[10]).unwrap();
        r[11].parse::<i64>().unwrap();
        r[12].parse::<TxStatus>().unwrap();
        *per_customer.entry(r[1].to_string()).or_default() += 1;
    }
    // Seed-002 `Transactions` is the number actually generated.
    for r in &customers {
        assert_eq!(
            r[6].parse::<u64>().unwrap(),
            per_customer.get(&r[0]).copied().unwrap_or(0)
        );
    }

    let (_, fraud) = rows(dir, "labels/fraud.csv");
    for r in &fraud {
        assert_eq!(
            tx_ids.get(&r[0]),
            Some(&r[1].to_string()),
            "fraud label {} has no transaction",
            &r[0]
        );
        assert!(["card_testing", "foreign_spike", "account_takeover"].contains(&&r[2]));
    }

    let (_, events) = rows(dir, "events.csv");
    let mut ev_ids = HashSet::new();
    for r in &events {
        assert!(ev_ids.insert(r[0].to_string()));
        assert!(ids.contains(&r[1]));
        parse_timestamp(&r[2]).unwrap();
        let kind = r[3].parse::<EventKind>().unwrap();
        if kind == EventKind::Survey {
            assert!((0..=10).contains(&r[6].parse::<i32>().unwrap()));
        } else {
            assert!(product_ids.contains(&r[4]) && r[6].is_empty());
        }
    }
    let (_, messages) = rows(dir, "messages.csv");
    assert!(
        messages.iter().any(|r| r[4].contains(',')),
        "bodies with commas round-trip through quoting"
    );
    for r in &messages {
        assert!(ids.contains(&r[1]));
        parse_timestamp(&r[2]).unwrap();
        assert!(["chat", "email", "app", "phone", "branch"].contains(&&r[3]));
    }
    let (_, life) = rows(dir, "labels/life_events.csv");
    for r in &life {
        assert!(ids.contains(&r[0]));
        parse_date(&r[1]).unwrap();
        assert!(["new_job", "move", "new_baby", "car_purchase"].contains(&&r[2]));
    }
}

#[test]
fn profiles_use_canonical_spellings() {
    let (dir, _) = big();
    let (h, full) = rows(dir.path(), "customers_full.csv");
    assert_eq!(h.len(), 17);
    for r in &full {
        let age: u32 = r[2].parse().unwrap();
        assert!((18..=85).contains(&age));
        r[3].parse::<u64>().unwrap();
        r[4].parse::<SpendingHabit>().unwrap();
        r[5].parse::<RiskProfile>().unwrap();
        let s: f64 = r[7].parse().unwrap();
        assert!((-1.0..=1.0).contains(&s));
        r[8].parse::<EngagementLevel>().unwrap();
        parse_email(&r[10]).unwrap();
        parse_phone(&r[11]).unwrap();
        parse_date(&r[13]).unwrap();
        assert!(["Female", "Male", "Diverse"].contains(&&r[14]));
    }
    // Every level of the seed enums occurs.
    for col in [4, 5, 8] {
        let levels: HashSet<&str> = full.iter().map(|r| r.get(col).unwrap()).collect();
        assert_eq!(levels.len(), 3, "column {col}: {levels:?}");
    }
}

#[test]
fn outcomes_follow_from_the_data() {
    let (dir, _) = big();
    let dir = dir.path();
    let (_, outcomes) = rows(dir, "labels/outcomes.csv");
    let defaulted: HashSet<String> = outcomes
        .iter()
        .filter(|r| &r[1] == "true")
        .map(|r| r[0].to_string())
        .collect();
    let churned: HashMap<String, String> = outcomes
        .iter()
        .filter(|r| &r[2] == "true")
        .map(|r| (r[0].to_string(), r[3].to_string()))
        .collect();
    assert!(defaulted.len() >= 10, "{} defaulted", defaulted.len());

    let (_, txs) = rows(dir, "transactions.csv");
    let mut end_balance: HashMap<String, i64> = HashMap::new();
    let mut declined: HashMap<String, u64> = HashMap::new();
    let mut late: HashMap<String, u64> = HashMap::new();
    let mut early: HashMap<String, u64> = HashMap::new();
    for r in &txs {
        if r[2].ends_with("-cur") && !churned.contains_key(&r[1]) {
            end_balance.insert(r[1].to_string(), r[11].parse().unwrap());
        }
        if &r[12] == "declined" {
            *declined.entry(r[1].to_string()).or_default() += 1;
        }
        if let Some(d) = churned.get(&r[1]) {
            let churn = parse_date(d).unwrap();
            let day = parse_timestamp(&r[3]).unwrap().date_naive();
            let before = (churn - day).num_days();
            if (0..60).contains(&before) {
                *late.entry(r[1].to_string()).or_default() += 1;
            } else if (120..180).contains(&before) {
                *early.entry(r[1].to_string()).or_default() += 1;
            }
        }
    }
    let mean = |xs: Vec<f64>| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
    let bal_def = mean(
        defaulted
            .iter()
            .filter_map(|c| end_balance.get(c))
            .map(|&b| b as f64)
            .collect(),
    );
    let bal_ok = mean(
        end_balance
            .iter()
            .filter(|(c, _)| !defaulted.contains(*c))
            .map(|(_, &b)| b as f64)
            .collect(),
    );
    assert!(
        bal_def < bal_ok * 0.5,
        "defaulted end balance {bal_def} vs {bal_ok}"
    );
    let dec_def = mean(
        defaulted
            .iter()
            .map(|c| declined.get(c).copied().unwrap_or(0) as f64)
            .collect(),
    );
    let dec_ok = mean(
        outcomes
            .iter()
            .filter(|r| !defaulted.contains(&r[0]))
            .map(|r| declined.get(&r[0]).copied().unwrap_or(0) as f64)
            .collect(),
    );
    assert!(
        dec_def > 3.0 * dec_ok,
        "declines: defaulted {dec_def} vs {dec_ok}"
    );

    // Churners fade out: fewer transactions in the 60 days before leaving than two months earlier.
    let fading: Vec<&String> = churned.keys().filter(|c| early.contains_key(*c)).collect();
    assert!(fading.len() >= 20, "{} churners with history", fading.len());
    let late_n: u64 = fading
        .iter()
        .map(|c| late.get(*c).copied().unwrap_or(0))
        .sum();
    let early_n: u64 = fading.iter().map(|c| early[*c]).sum();
    assert!(
        (late_n as f64) < 0.8 * early_n as f64,
        "late {late_n} vs early {early_n}"
    );
    // Closed accounts carry the churn date.
    let (_, accounts) = rows(dir, "accounts.csv");
    for r in accounts
        .iter()
        .filter(|r| churned.contains_key(&r[1]) && &r[2] == "current")
    {
        assert_eq!(&r[7], "closed");
        assert_eq!(&r[6], churned[&r[1]].as_str());
    }

    // Churners and defaulters are unhappier than the rest.
    let (_, customers) = rows(dir, "customers.csv");
    let sent = |pred: &dyn Fn(&str) -> bool| {
        mean(
            customers
                .iter()
                .filter(|r| pred(&r[0]))
                .map(|r| r[7].parse::<f64>().unwrap())
                .collect(),
        )
    };
    let s_churn = sent(&|c| churned.contains_key(c));
    let s_rest = sent(&|c| !churned.contains_key(c) && !defaulted.contains(c));
    assert!(
        s_churn < s_rest - 0.1,
        "sentiment churned {s_churn} vs {s_rest}"
    );
}

#[test]
fn protected_attributes_are_not_independent_of_income() {
    let (dir, _) = big();
    let (_, full) = rows(dir.path(), "customers_full.csv");
    let mut by_region: HashMap<String, Vec<f64>> = HashMap::new();
    for r in &full {
        by_region
            .entry(r[16].to_string())
            .or_default()
            .push(r[3].parse().unwrap());
    }
    assert!(by_region.len() >= 6);
    let means: Vec<f64> = by_region
        .values()
        .filter(|v| v.len() >= 50)
        .map(|v| v.iter().sum::<f64>() / v.len() as f64)
        .collect();
    let (lo, hi) = means
        .iter()
        .fold((f64::MAX, 0.0f64), |(l, h), &m| (l.min(m), h.max(m)));
    assert!(
        hi > lo * 1.2,
        "region income means too similar: {lo} .. {hi}"
    );

    // Younger customers take more risk than the oldest.
    let high_share = |band: &str| {
        let v: Vec<_> = full.iter().filter(|r| &r[15] == band).collect();
        v.iter().filter(|r| &r[5] == "High").count() as f64 / v.len().max(1) as f64
    };
    assert!(high_share("25-34") > 2.0 * high_share("65+"));
    // Gender shifts the occupation mix.
    let female_share = |occ: &str| {
        let v: Vec<_> = full.iter().filter(|r| &r[12] == occ).collect();
        v.iter().filter(|r| &r[14] == "Female").count() as f64 / v.len().max(1) as f64
    };
    assert!(female_share("Nurse") > female_share("Electrician") + 0.3);
}

#[test]
fn offers_are_accepted_by_customers_who_fit() {
    let (dir, _) = big();
    let dir = dir.path();
    let (_, full) = rows(dir, "customers_full.csv");
    let income: HashMap<String, f64> = full
        .iter()
        .map(|r| (r[0].to_string(), r[3].parse().unwrap()))
        .collect();
    let (_, events) = rows(dir, "events.csv");
    let inv: Vec<_> = events
        .iter()
        .filter(|r| r[4].starts_with("P-INV"))
        .collect();
    let rate = |pred: &dyn Fn(f64) -> bool| {
        let imp = inv
            .iter()
            .filter(|r| &r[3] == "impression" && pred(income[&r[1]]))
            .count() as f64;
        let acc = inv
            .iter()
            .filter(|r| &r[3] == "accept" && pred(income[&r[1]]))
            .count() as f64;
        acc / imp.max(1.0)
    };
    assert!(rate(&|i| i >= 60_000.0) > 2.0 * rate(&|i| i < 30_000.0));
}

#[test]
fn rejects_bad_config_with_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let e = generate(
        &Config {
            customers: 0,
            ..Default::default()
        },
        dir.path(),
        &|_| {},
    )
    .unwrap_err();
    assert!(matches!(e, SynthError::Config(_)));
    assert_eq!(
        e.to_string(),
        "invalid config: customers must be between 1 and 10000000, got 0"
    );
    let e = generate(
        &Config {
            months: 121,
            ..Default::default()
        },
        dir.path(),
        &|_| {},
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid config: months must be between 1 and 120, got 121"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written on a bad config"
    );
}

#[test]
fn progress_reaches_the_total_and_one_month_works() {
    let dir = tempfile::tempdir().unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let s = generate(
        &Config {
            customers: 2500,
            months: 1,
            ..Default::default()
        },
        dir.path(),
        &|n| seen.lock().unwrap().push(n),
    )
    .unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.last(), Some(&2500));
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(s.customers, 2500);
    assert!(s.transactions > 2500 * 15);
}
