//! Features of a generated synthetic bank: parsed from the generator's CSVs into core types, every
//! customer's vector is in plausible ranges and does not depend on the order of its transactions.

use sextant_features::{CustomerData, FEATURES, FeatureVector, compute, profile_feature_indices};

#[test]
fn synthetic_bank_features_are_plausible_and_order_independent() {
    // Generated, then parsed with the production importer's row parser.
    let generated = sextant_testkit::generate_bank(200, 12, 7);
    let sextant_testkit::SyntheticBank {
        customers,
        accounts,
        transactions: txs,
    } = generated.bank;
    let as_of = generated.end;
    assert_eq!(customers.len(), 200);
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
