//! Feature definitions on hand-built customers: exact expected values for every feature, the
//! profile-only (seed-002) case, order independence (online = offline), JSON round trips, and
//! the rule that protected attributes are never features.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use sextant_core::{
    Account, AccountId, AccountKind, AccountStatus, Category, Channel, CountryCode, Currency,
    Customer, CustomerId, EngagementLevel, Money, RiskProfile, SentimentScore, SpendingHabit,
    Transaction, TransactionId, TxStatus,
};
use sextant_features::{
    CustomerData, FEATURE_VERSION, FEATURES, FeatureGroup, FeatureVector, compute, index_of,
    profile_feature_indices,
};

fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap()
}

fn eur(cents: i64) -> Money {
    Money::new(cents, Currency::EUR)
}

fn customer(joined_on: Option<NaiveDate>) -> Customer {
    Customer {
        id: CustomerId::parse("c1").unwrap(),
        name: "Customer_1".into(),
        age: 35,
        income: eur(5_400_000),
        spending_habit: SpendingHabit::Moderate,
        risk_profile: RiskProfile::High,
        transactions: 47,
        sentiment_score: SentimentScore::new(0.25).unwrap(),
        engagement_level: EngagementLevel::Low,
        email: None,
        phone: None,
        occupation: None,
        joined_on,
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn account(
    id: &str,
    kind: AccountKind,
    status: AccountStatus,
    limit: Option<i64>,
    balance: i64,
) -> Account {
    Account {
        id: AccountId::parse(id).unwrap(),
        customer_id: CustomerId::parse("c1").unwrap(),
        kind,
        product_id: None,
        currency: Currency::EUR,
        opened_on: date(2021, 1, 1),
        closed_on: None,
        status,
        limit: limit.map(eur),
        balance: eur(balance),
    }
}

/// Builds a customer's transactions relative to [`as_of`].
struct Ledger {
    txs: Vec<Transaction>,
}

impl Ledger {
    fn new() -> Self {
        Self { txs: Vec::new() }
    }

    /// An approved transaction on the current account in Germany, `days_before` as_of, of
    /// `major` euros (negative for debits).
    fn add(
        &mut self,
        days_before: f64,
        major: f64,
        category: Category,
        merchant: Option<&str>,
        channel: Channel,
    ) -> &mut Transaction {
        let n = self.txs.len() + 1;
        let secs = (days_before * 86_400.0).round() as i64;
        self.txs.push(Transaction {
            id: TransactionId::parse(&format!("t{n:03}")).unwrap(),
            customer_id: CustomerId::parse("c1").unwrap(),
            account_id: AccountId::parse("c1-cur").unwrap(),
            timestamp: as_of() - TimeDelta::seconds(secs),
            amount: eur((major * 100.0).round() as i64),
            merchant: merchant.map(str::to_string),
            category,
            mcc: None,
            channel,
            country: CountryCode::parse("DE").unwrap(),
            balance_after: None,
            status: TxStatus::Approved,
        });
        self.txs.last_mut().unwrap()
    }
}

fn balance(t: &mut Transaction, major: i64) {
    t.balance_after = Some(eur(major * 100));
}

/// Customer 1: six months of salary, rent, subscriptions, utilities and everyday spending.
fn rich_ledger() -> Ledger {
    use Category as C;
    use Channel as Ch;
    let mut l = Ledger::new();
    // Income: 6 × 3000 salary + 120 other income.
    for d in [182.5, 152.0, 122.0, 91.5, 61.0, 30.0] {
        let t = l.add(d, 3000.0, C::Salary, Some("Employer"), Ch::Transfer);
        match d {
            61.0 => balance(t, 4000),
            30.0 => balance(t, 6000),
            _ => {}
        }
    }
    l.add(10.0, 120.0, C::OtherIncome, None, Ch::Transfer);
    // Recurring: rent, a subscription, electricity (one month 25% above the median).
    for d in [180.0, 150.0, 120.0, 90.0, 60.0, 29.0] {
        let t = l.add(d, -1000.0, C::Housing, Some("Landlord"), Ch::StandingOrder);
        match d {
            60.0 => balance(t, 3000),
            29.0 => balance(t, 5000),
            _ => {}
        }
    }
    for d in [175.0, 145.0, 115.0, 85.0, 55.0, 25.0] {
        l.add(
            d,
            -15.0,
            C::Subscriptions,
            Some("Streamflix"),
            Ch::DirectDebit,
        );
    }
    for (d, a) in [
        (170.0, 70.0),
        (140.0, 80.0),
        (110.0, 80.0),
        (80.0, 80.0),
        (50.0, 90.0),
        (20.0, 100.0),
    ] {
        let t = l.add(d, -a, C::Utilities, Some("PowerCo"), Ch::DirectDebit);
        if d == 20.0 {
            balance(t, 4900); // overwritten by a later transaction the same day
        }
    }
    // Groceries are bought at a till, not billed: never recurring (+ 50 without a merchant).
    l.add(160.0, -100.0, C::Groceries, Some("Lidl"), Ch::CardPresent);
    l.add(100.0, -300.0, C::Groceries, Some("Lidl"), Ch::CardPresent);
    l.add(40.0, -50.0, C::Groceries, Some("Lidl"), Ch::CardPresent);
    l.add(5.0, -50.0, C::Groceries, None, Ch::CardPresent);
    l.add(
        70.0,
        -50.0,
        C::Restaurants,
        Some("Trattoria"),
        Ch::CardPresent,
    );
    let t = l.add(
        19.75,
        -50.0,
        C::Restaurants,
        Some("Trattoria"),
        Ch::CardPresent,
    );
    balance(t, 4850);
    l.add(45.0, -400.0, C::Travel, Some("AirFrance"), Ch::CardOnline)
        .country = CountryCode::parse("FR").unwrap();
    l.add(35.0, -60.0, C::Transport, Some("Metro"), Ch::MobileWallet);
    l.add(15.0, -40.0, C::Fuel, Some("Shell"), Ch::CardPresent);
    let t = l.add(12.0, -200.0, C::Shopping, Some("Zalando"), Ch::CardOnline);
    t.account_id = AccountId::parse("c1-cc").unwrap();
    t.balance_after = Some(eur(-25_000)); // a card balance: not the current account
    l.add(
        8.0,
        -30.0,
        C::Entertainment,
        Some("Cinema"),
        Ch::CardPresent,
    )
    .country = CountryCode::parse("FR").unwrap();
    let t = l.add(3.0, -100.0, C::Cash, Some("ATM"), Ch::Atm);
    balance(t, 4750);
    let t = l.add(2.0, -45.0, C::Health, Some("Pharmacy"), Ch::CardPresent);
    balance(t, 4705);
    // Not spend: moving money and repaying a loan.
    l.add(100.0, -500.0, C::Transfer, None, Ch::Transfer);
    l.add(90.0, -300.0, C::Savings, None, Ch::StandingOrder);
    let t = l.add(90.0, 300.0, C::Savings, None, Ch::StandingOrder);
    t.account_id = AccountId::parse("c1-sav").unwrap();
    t.balance_after = Some(eur(1_000_000));
    l.add(50.0, -200.0, C::LoanRepayment, None, Ch::DirectDebit);
    // Declined: counts for the decline share only.
    l.add(11.0, -999.0, C::Shopping, Some("Zalando"), Ch::CardOnline)
        .status = TxStatus::Declined;
    // Outside the windows: ignored.
    l.add(400.0, 9999.0, C::Salary, Some("Employer"), Ch::Transfer);
    l.add(-1.0, -5000.0, C::Shopping, Some("Zalando"), Ch::CardOnline);
    l
}

fn rich_accounts() -> Vec<Account> {
    use AccountKind as K;
    use AccountStatus as S;
    let mut closed_mortgage = account("c1-mo", K::Mortgage, S::Closed, Some(20_000_000), 0);
    closed_mortgage.closed_on = Some(date(2025, 1, 1));
    let mut future_investment = account("c1-inv", K::Investment, S::Open, None, 100_000);
    future_investment.opened_on = date(2026, 8, 1);
    vec![
        account("c1-sav", K::Savings, S::Open, None, 1_000_000),
        account("c1-cc", K::CreditCard, S::Open, Some(100_000), -25_000),
        closed_mortgage,
        account(
            "c1-pl",
            K::PersonalLoan,
            S::Defaulted,
            Some(500_000),
            -300_000,
        ),
        future_investment,
        account("c1-cur", K::Current, S::Open, None, 470_500),
    ]
}

fn assert_close(name: &str, got: f64, want: f64) {
    if want.is_nan() {
        assert!(got.is_nan(), "{name}: want NaN, got {got}");
    } else {
        let tol = 1e-12 * want.abs().max(1.0);
        assert!((got - want).abs() <= tol, "{name}: want {want}, got {got}");
    }
}

/// Checks every feature of `v` against `want`, which must name each feature exactly once.
fn check_all(v: &FeatureVector, want: &[(&str, f64)]) {
    assert_eq!(v.version, FEATURE_VERSION);
    assert_eq!(v.values.len(), FEATURES.len());
    assert_eq!(want.len(), FEATURES.len(), "every feature is checked");
    for (name, value) in want {
        let i = index_of(name).unwrap_or_else(|| panic!("unknown feature {name}"));
        assert_close(name, v.values[i], *value);
    }
}

fn population_cv(xs: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    var.sqrt() / mean.abs()
}

#[test]
fn every_feature_of_a_hand_built_customer() {
    let c = customer(Some(date(2020, 7, 1)));
    let accounts = rich_accounts();
    let ledger = rich_ledger();
    let v = compute(&CustomerData {
        customer: &c,
        accounts: &accounts,
        transactions: &ledger.txs,
        as_of: as_of(),
    });
    // First approved transaction in the window is 182.5 days back: exactly 6 months.
    let months = 6.0;
    let spend = 8065.0; // see the ledger: 6000 + 90 + 500 + 500 + 100 + 400 + 100 + 200 + 30 + 100 + 45
    let short_months = 91.0 / (365.0 / 12.0);
    check_all(
        &v,
        &[
            ("age", 35.0),
            ("income_annual", 54_000.0),
            ("spending_habit_score", 1.0),
            ("risk_profile_score", 2.0),
            ("transactions_reported", 47.0),
            ("sentiment_score", 0.25),
            ("engagement_score", 0.0),
            ("tenure_years", 2191.0 / 365.25),
            ("monthly_income", 18_120.0 / months),
            ("monthly_spend", spend / months),
            ("spend_share_housing", 6000.0 / spend),
            ("spend_share_groceries", 500.0 / spend),
            ("spend_share_dining", 100.0 / spend),
            ("spend_share_utilities", 500.0 / spend),
            ("spend_share_subscriptions", 90.0 / spend),
            ("spend_share_travel", 400.0 / spend),
            ("spend_share_transport", 100.0 / spend),
            ("spend_share_shopping", 200.0 / spend),
            ("spend_share_entertainment", 30.0 / spend),
            ("spend_share_cash", 100.0 / spend),
            ("discretionary_share", 730.0 / spend),
            ("savings_rate", (18_120.0 - spend) / 18_120.0),
            (
                "balance_volatility",
                population_cv(&[4000.0, 3000.0, 6000.0, 5000.0, 4850.0, 4750.0, 4705.0]),
            ),
            ("recurring_payments", 3.0),
            ("recurring_share", 6590.0 / spend),
            ("credit_utilization", 0.25),
            ("recency_days", 2.0),
            ("frequency_per_month", 31.0 / months),
            ("monetary_avg", spend / 31.0),
            (
                "spend_trend_3m_vs_12m",
                (4390.0 / short_months) / (spend / months),
            ),
            ("declined_share_3m", 1.0 / 12.0),
            ("foreign_share_3m", 2.0 / 20.0),
            ("products_held", 4.0), // the defaulted loan is still held: status is end-of-data state, not point-in-time
            ("has_credit_card", 1.0),
            ("has_personal_loan", 1.0),
            ("has_mortgage", 0.0),
            ("has_savings", 1.0),
            ("has_investment", 0.0),
        ],
    );
}

#[test]
fn short_history_is_one_month_and_savings_rate_is_clamped() {
    let c = customer(None);
    let mut l = Ledger::new();
    l.add(10.0, 100.0, Category::Salary, None, Channel::Transfer);
    l.add(
        5.0,
        -500.0,
        Category::Groceries,
        Some("Lidl"),
        Channel::CardPresent,
    );
    let v = compute(&CustomerData {
        customer: &c,
        accounts: &[],
        transactions: &l.txs,
        as_of: as_of(),
    });
    let nan = f64::NAN;
    check_all(
        &v,
        &[
            ("age", 35.0),
            ("income_annual", 54_000.0),
            ("spending_habit_score", 1.0),
            ("risk_profile_score", 2.0),
            ("transactions_reported", 47.0),
            ("sentiment_score", 0.25),
            ("engagement_score", 0.0),
            ("tenure_years", nan),
            // 10 days of data count as one month, not a third of one.
            ("monthly_income", 100.0),
            ("monthly_spend", 500.0),
            ("spend_share_housing", 0.0),
            ("spend_share_groceries", 1.0),
            ("spend_share_dining", 0.0),
            ("spend_share_utilities", 0.0),
            ("spend_share_subscriptions", 0.0),
            ("spend_share_travel", 0.0),
            ("spend_share_transport", 0.0),
            ("spend_share_shopping", 0.0),
            ("spend_share_entertainment", 0.0),
            ("spend_share_cash", 0.0),
            ("discretionary_share", 0.0),
            ("savings_rate", -1.0),
            ("balance_volatility", nan),
            ("recurring_payments", 0.0),
            ("recurring_share", 0.0),
            ("credit_utilization", nan),
            ("recency_days", 5.0),
            ("frequency_per_month", 1.0),
            ("monetary_avg", 500.0),
            ("spend_trend_3m_vs_12m", nan),
            ("declined_share_3m", 0.0),
            ("foreign_share_3m", 0.0),
            ("products_held", 0.0),
            ("has_credit_card", 0.0),
            ("has_personal_loan", 0.0),
            ("has_mortgage", 0.0),
            ("has_savings", 0.0),
            ("has_investment", 0.0),
        ],
    );
}

#[test]
fn without_income_or_spend_the_ratios_are_unavailable() {
    let c = customer(None);
    let mut l = Ledger::new();
    l.add(
        20.0,
        -300.0,
        Category::Savings,
        None,
        Channel::StandingOrder,
    );
    let v = compute(&CustomerData {
        customer: &c,
        accounts: &[],
        transactions: &l.txs,
        as_of: as_of(),
    });
    assert_eq!(v.get("monthly_income"), Some(0.0));
    assert_eq!(v.get("monthly_spend"), Some(0.0));
    assert_eq!(v.get("frequency_per_month"), Some(0.0));
    for name in [
        "savings_rate",
        "spend_share_housing",
        "discretionary_share",
        "recurring_share",
        "recency_days",
        "monetary_avg",
        "spend_trend_3m_vs_12m",
        "declined_share_3m",
        "foreign_share_3m",
    ] {
        assert_eq!(v.get(name), None, "{name}");
    }
}

#[test]
fn recurring_payments_are_billed_in_three_months_at_a_steady_amount() {
    use Category as C;
    use Channel as Ch;
    let c = customer(None);
    let mut l = Ledger::new();
    // Recurring: four months, median (20 + 21) / 2 = 20.5, and 20, 20, 21 are within 20% of it.
    for (d, a) in [(100.0, 20.0), (70.0, 20.0), (40.0, 21.0), (10.0, 40.0)] {
        l.add(d, -a, C::Subscriptions, Some("Gym"), Ch::CardOnline);
    }
    // Not recurring: only one month near the median of 10, 30, 50.
    for (d, a) in [(100.0, 10.0), (70.0, 30.0), (40.0, 50.0)] {
        l.add(d, -a, C::Insurance, Some("Insurer"), Ch::DirectDebit);
    }
    // Not recurring: a steady amount, but paid at a till.
    for d in [100.0, 70.0, 40.0] {
        l.add(d, -20.0, C::Cash, Some("ATM"), Ch::Atm);
    }
    // Not recurring: two months only.
    for d in [70.0, 40.0] {
        l.add(d, -9.0, C::Subscriptions, Some("Music"), Ch::CardOnline);
    }
    // Two payments in one month add up to that month's total: 10 + 10 each month.
    for d in [95.0, 94.0, 65.0, 64.0, 35.0, 34.0] {
        l.add(d, -10.0, C::Utilities, Some("Water"), Ch::DirectDebit);
    }
    let v = compute(&CustomerData {
        customer: &c,
        accounts: &[],
        transactions: &l.txs,
        as_of: as_of(),
    });
    let spend = 101.0 + 90.0 + 60.0 + 18.0 + 60.0;
    assert_eq!(v.get("recurring_payments"), Some(2.0));
    assert_close(
        "recurring_share",
        v.get("recurring_share").unwrap(),
        (101.0 + 60.0) / spend,
    );
}

fn profile_only(c: &Customer) -> FeatureVector {
    compute(&CustomerData {
        customer: c,
        accounts: &[],
        transactions: &[],
        as_of: as_of(),
    })
}

#[test]
fn seed_002_profile_alone_gives_every_profile_feature_and_nan_elsewhere() {
    let c = customer(None); // the seed-002 CSV has no Joined_On
    let v = profile_only(&c);
    let profile = profile_feature_indices();
    assert_eq!(profile.len(), 13);
    for (i, f) in FEATURES.iter().enumerate() {
        if profile.contains(&i) {
            assert_eq!(f.group, FeatureGroup::Profile);
            assert!(v.values[i].is_finite(), "{} is available", f.name);
        } else {
            assert!(v.values[i].is_nan(), "{} is not available", f.name);
        }
    }
    assert_eq!(v.get("products_held"), Some(0.0));
    assert_eq!(v.get("has_mortgage"), Some(0.0));
    assert_eq!(v.get("income_annual"), Some(54_000.0));

    // Declined transactions alone are no history either.
    let mut l = Ledger::new();
    l.add(1.0, -10.0, Category::Shopping, None, Channel::CardOnline)
        .status = TxStatus::Declined;
    let declined_only = compute(&CustomerData {
        customer: &c,
        accounts: &[],
        transactions: &l.txs,
        as_of: as_of(),
    });
    assert_eq!(declined_only, v);
}

/// A deterministic Fisher–Yates shuffle (no RNG dependency needed).
fn shuffle<T>(xs: &mut [T], mut state: u64) {
    for i in (1..xs.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = (state >> 33) as usize % (i + 1);
        xs.swap(i, j);
    }
}

fn bits(v: &FeatureVector) -> Vec<u64> {
    v.values.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn online_and_offline_agree_whatever_the_order() {
    let c = customer(Some(date(2020, 7, 1)));
    let accounts = rich_accounts();
    let mut txs = rich_ledger().txs;
    txs.sort_by_key(|t| t.timestamp); // offline: time order, as the store reads them
    let offline = compute(&CustomerData {
        customer: &c,
        accounts: &accounts,
        transactions: &txs,
        as_of: as_of(),
    });
    for seed in 0..20 {
        let mut online_txs = txs.clone();
        shuffle(&mut online_txs, seed);
        let mut online_accounts = accounts.clone();
        shuffle(&mut online_accounts, seed + 100);
        let online = compute(&CustomerData {
            customer: &c,
            accounts: &online_accounts,
            transactions: &online_txs,
            as_of: as_of(),
        });
        assert_eq!(bits(&online), bits(&offline), "shuffle {seed}");
    }
    txs.reverse(); // newest first, as the API lists them
    let newest_first = compute(&CustomerData {
        customer: &c,
        accounts: &accounts,
        transactions: &txs,
        as_of: as_of(),
    });
    assert_eq!(bits(&newest_first), bits(&offline));
}

#[test]
fn json_round_trip_keeps_nan_as_null() {
    let c = customer(None);
    let mut l = Ledger::new();
    l.add(10.0, 100.0, Category::Salary, None, Channel::Transfer);
    for v in [
        profile_only(&c),
        compute(&CustomerData {
            customer: &c,
            accounts: &rich_accounts(),
            transactions: &rich_ledger().txs,
            as_of: as_of(),
        }),
        compute(&CustomerData {
            customer: &c,
            accounts: &[],
            transactions: &l.txs,
            as_of: as_of(),
        }),
    ] {
        let json = serde_json::to_string(&v).unwrap();
        let back: FeatureVector = serde_json::from_str(&json).unwrap();
        assert_eq!(bits(&back), bits(&v), "{json}");
        assert_eq!(back, v, "NaN slots compare equal");
    }
    let v = profile_only(&c);
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["version"], FEATURE_VERSION);
    assert_eq!(json["values"][index_of("age").unwrap()], 35.0);
    assert!(json["values"][index_of("monthly_spend").unwrap()].is_null());
}

#[test]
fn named_and_get_report_unavailable_as_none() {
    let c = customer(None);
    let v = profile_only(&c);
    let named = v.named();
    assert_eq!(named.len(), FEATURES.len());
    assert_eq!(named[0], ("age", Some(35.0)));
    assert!(named.contains(&("savings_rate", None)));
    assert_eq!(v.get("age"), Some(35.0));
    assert_eq!(v.get("savings_rate"), None);
    assert_eq!(v.get("no_such_feature"), None);
}

#[test]
fn feature_list_of_the_current_version() {
    let names: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
    assert_eq!(
        FEATURE_VERSION, 2,
        "changing the list below (or a definition) means bumping the version"
    );
    assert_eq!(
        names,
        [
            "age",
            "income_annual",
            "spending_habit_score",
            "risk_profile_score",
            "transactions_reported",
            "sentiment_score",
            "engagement_score",
            "tenure_years",
            "monthly_income",
            "monthly_spend",
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
            "discretionary_share",
            "savings_rate",
            "balance_volatility",
            "recurring_payments",
            "recurring_share",
            "credit_utilization",
            "recency_days",
            "frequency_per_month",
            "monetary_avg",
            "spend_trend_3m_vs_12m",
            "declined_share_3m",
            "foreign_share_3m",
            "products_held",
            "has_credit_card",
            "has_personal_loan",
            "has_mortgage",
            "has_savings",
            "has_investment",
        ]
    );
    for f in FEATURES {
        assert!(!f.description.is_empty(), "{} has a description", f.name);
    }
}

#[test]
fn protected_attributes_are_never_features() {
    for f in FEATURES {
        let text = format!("{} {}", f.name, f.description).to_lowercase();
        for banned in ["gender", "sex", "region", "ethnic", "age_band", "age band"] {
            assert!(!text.contains(banned), "{} mentions {banned}", f.name);
        }
    }
    // The input type cannot carry them: a profile serialises without any such field.
    let json = serde_json::to_value(customer(None)).unwrap();
    for key in ["gender", "age_band", "region", "ethnicity"] {
        assert!(json.get(key).is_none(), "Customer has no {key}");
    }
}

#[test]
fn every_source_file_starts_with_module_docs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["src", "tests"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(text.starts_with("//!"), "{} lacks //! docs", path.display());
            }
        }
    }
}
