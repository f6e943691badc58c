//! Features of a generated synthetic bank: parsed from the generator's CSVs into core types, every
//! customer's vector is in plausible ranges and does not depend on the order of its transactions.

use chrono::{TimeZone, Utc};
use sextant_core::customer::{parse_age, parse_count};
use sextant_core::transaction::{parse_date, parse_timestamp};
use sextant_core::{
    Account, AccountId, CountryCode, Currency, Customer, CustomerId, Mcc, Money, ProductId,
    SentimentScore, Transaction, TransactionId,
};
use sextant_features::{CustomerData, FEATURES, FeatureVector, compute, profile_feature_indices};
use std::collections::HashMap;
use std::path::Path;

/// Rows of one CSV file as header name → field.
fn rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn opt(s: &str) -> Option<&str> {
    (!s.trim().is_empty()).then_some(s)
}

fn customer(r: &HashMap<String, String>) -> Customer {
    let currency = Currency::parse(&r["Currency"]).unwrap();
    Customer {
        id: CustomerId::parse(&r["Customer_ID"]).unwrap(),
        name: r["Name"].clone(),
        age: parse_age(&r["Age"]).unwrap(),
        income: Money::parse_major(&r["Income"], currency).unwrap(),
        spending_habit: r["Spending_Habit"].parse().unwrap(),
        risk_profile: r["Risk_Profile"].parse().unwrap(),
        transactions: parse_count(&r["Transactions"]).unwrap(),
        sentiment_score: SentimentScore::parse(&r["Sentiment_Score"]).unwrap(),
        engagement_level: r["Engagement_Level"].parse().unwrap(),
        email: opt(&r["Email"]).map(str::to_string),
        phone: opt(&r["Phone"]).map(str::to_string),
        occupation: opt(&r["Occupation"]).map(str::to_string),
        joined_on: opt(&r["Joined_On"]).map(|d| parse_date(d).unwrap()),
    }
}

fn account(r: &HashMap<String, String>) -> Account {
    let currency = Currency::parse(&r["currency"]).unwrap();
    Account {
        id: AccountId::parse(&r["account_id"]).unwrap(),
        customer_id: CustomerId::parse(&r["customer_id"]).unwrap(),
        kind: r["kind"].parse().unwrap(),
        product_id: opt(&r["product_id"]).map(|p| ProductId::parse(p).unwrap()),
        currency,
        opened_on: parse_date(&r["opened_on"]).unwrap(),
        closed_on: opt(&r["closed_on"]).map(|d| parse_date(d).unwrap()),
        status: r["status"].parse().unwrap(),
        limit: opt(&r["limit_minor"]).map(|m| Money::parse_minor(m, currency).unwrap()),
        balance: Money::parse_minor(&r["balance_minor"], currency).unwrap(),
    }
}

fn transaction(r: &HashMap<String, String>) -> Transaction {
    let currency = Currency::parse(&r["currency"]).unwrap();
    Transaction {
        id: TransactionId::parse(&r["transaction_id"]).unwrap(),
        customer_id: CustomerId::parse(&r["customer_id"]).unwrap(),
        account_id: AccountId::parse(&r["account_id"]).unwrap(),
        timestamp: parse_timestamp(&r["timestamp"]).unwrap(),
        amount: Money::parse_minor(&r["amount_minor"], currency).unwrap(),
        merchant: opt(&r["merchant"]).map(str::to_string),
        category: r["category"].parse().unwrap(),
        mcc: opt(&r["mcc"]).map(|m| Mcc::parse(m).unwrap()),
        channel: r["channel"].parse().unwrap(),
        country: CountryCode::parse(&r["country"]).unwrap(),
        balance_after: opt(&r["balance_after_minor"])
            .map(|m| Money::parse_minor(m, currency).unwrap()),
        status: opt(&r["status"])
            .map(|s| s.parse().unwrap())
            .unwrap_or(sextant_core::TxStatus::Approved),
    }
}

#[test]
fn synthetic_bank_features_are_plausible_and_order_independent() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sextant_synth::Config {
        customers: 200,
        months: 12,
        seed: 7,
        ..Default::default()
    };
    sextant_synth::generate(&cfg, dir.path(), &|_| {}).unwrap();

    let customers: Vec<Customer> = rows(&dir.path().join("customers_full.csv"))
        .iter()
        .map(customer)
        .collect();
    let mut accounts: HashMap<CustomerId, Vec<Account>> = HashMap::new();
    for a in rows(&dir.path().join("accounts.csv")).iter().map(account) {
        accounts.entry(a.customer_id.clone()).or_default().push(a);
    }
    let mut txs: HashMap<CustomerId, Vec<Transaction>> = HashMap::new();
    for t in rows(&dir.path().join("transactions.csv"))
        .iter()
        .map(transaction)
    {
        txs.entry(t.customer_id.clone()).or_default().push(t);
    }
    assert_eq!(customers.len(), 200);

    let end = cfg
        .end_date
        .succ_opt()
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let as_of = Utc.from_utc_datetime(&end);
    let shares = [
        "spend_share_housing",
        "spend_share_groceries",
        "spend_share_dining",
        "spend_share_utilities",
        "spend_share_subscriptions",
        "spend_share_travel",
        "spend_share_transport",
        "spend_share_shopping",
        "spend_share_entertainment",
        "spend_share_cash",
    ];
    let mut with_history = 0;
    let mut with_volatility = 0;
    let mut with_recurring = 0;
    for c in &customers {
        let accts = accounts.get(&c.id).map(Vec::as_slice).unwrap_or(&[]);
        let mut own = txs.get(&c.id).cloned().unwrap_or_default();
        let v = compute(&CustomerData {
            customer: c,
            accounts: accts,
            transactions: &own,
            as_of,
        });
        own.reverse();
        let reversed = compute(&CustomerData {
            customer: c,
            accounts: accts,
            transactions: &own,
            as_of,
        });
        let bits = |v: &FeatureVector| v.values.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&v), bits(&reversed), "customer {}", c.id);

        for &i in &profile_feature_indices() {
            assert!(v.values[i].is_finite(), "{} of {}", FEATURES[i].name, c.id);
        }
        for (i, f) in FEATURES.iter().enumerate() {
            assert!(
                !v.values[i].is_infinite(),
                "{} of {} is infinite",
                f.name,
                c.id
            );
        }
        let Some(spend) = v.get("monthly_spend") else {
            continue;
        };
        with_history += 1;
        assert!(spend > 0.0, "{} spends", c.id);
        assert!(v.get("monthly_income").unwrap() >= 0.0);
        let total: f64 = shares.iter().map(|s| v.get(s).unwrap()).sum();
        assert!(total <= 1.0 + 1e-9, "{}: shares sum to {total}", c.id);
        for s in shares.iter().chain(&[
            "discretionary_share",
            "recurring_share",
            "declined_share_3m",
            "foreign_share_3m",
        ]) {
            if let Some(x) = v.get(s) {
                assert!((0.0..=1.0 + 1e-9).contains(&x), "{s} of {}: {x}", c.id);
            }
        }
        if let Some(s) = v.get("savings_rate") {
            assert!((-1.0..=1.0).contains(&s), "savings_rate of {}: {s}", c.id);
        }
        if let Some(u) = v.get("credit_utilization") {
            assert!(u >= 0.0, "credit_utilization of {}: {u}", c.id);
        }
        if let Some(b) = v.get("balance_volatility") {
            assert!(b >= 0.0);
            with_volatility += 1;
        }
        let recurring = v.get("recurring_payments").unwrap();
        assert!(recurring >= 0.0 && recurring.fract() == 0.0);
        if recurring > 0.0 {
            with_recurring += 1;
        }
        let months_of_data = v.get("frequency_per_month").unwrap();
        assert!(months_of_data > 0.0);
        assert!((0.0..=365.0).contains(&v.get("recency_days").unwrap()));
        assert!(v.get("monetary_avg").unwrap() > 0.0);
        if let Some(t) = v.get("spend_trend_3m_vs_12m") {
            assert!((0.0..10.0).contains(&t), "trend of {}: {t}", c.id);
        }
        assert!(v.get("tenure_years").unwrap() >= 0.0, "synth has Joined_On");
    }
    // The generator gives (nearly) everyone a year of history, a current account and bills.
    assert!(with_history >= 190, "{with_history} customers with history");
    assert!(
        with_volatility >= 150,
        "{with_volatility} with balance volatility"
    );
    assert!(
        with_recurring >= 150,
        "{with_recurring} with recurring payments"
    );
}
