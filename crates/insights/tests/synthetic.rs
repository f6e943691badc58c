//! Insights over a generated synthetic bank: parsed from the generator's CSVs into core types,
//! every customer yields insights without panics, budgets add up, the result does not depend on
//! transaction order, and most salaried customers get a detected payday.

use chrono::{Datelike, TimeZone, Utc};
use sextant_core::customer::{parse_age, parse_count};
use sextant_core::transaction::{parse_date, parse_timestamp};
use sextant_core::{
    Account, AccountId, Category, CountryCode, Currency, Customer, CustomerId, Mcc, Money,
    ProductId, SentimentScore, Transaction, TransactionId, TxStatus,
};
use sextant_insights::{InsightInput, compute};
use std::collections::{BTreeSet, HashMap};
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
            .unwrap_or(TxStatus::Approved),
    }
}

#[test]
fn every_synthetic_customer_gets_insights() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sextant_synth::Config {
        customers: 100,
        months: 6,
        seed: 11,
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
    assert_eq!(customers.len(), 100);
    let end = cfg
        .end_date
        .succ_opt()
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let as_of = Utc.from_utc_datetime(&end);

    let (mut salaried, mut with_payday, mut with_recurring, mut rises) = (0, 0, 0, 0);
    let (mut unusual, mut warnings, mut opportunities) = (0, 0, 0);
    for c in &customers {
        let accts = accounts.get(&c.id).map(Vec::as_slice).unwrap_or(&[]);
        let own = txs.get(&c.id).cloned().unwrap_or_default();
        let input = InsightInput {
            customer: c,
            accounts: accts,
            transactions: &own,
            as_of,
        };
        let ins = compute(&input);
        let json = serde_json::to_string(&ins).unwrap();
        let mut rev = own.clone();
        rev.reverse();
        let reversed = compute(&InsightInput {
            transactions: &rev,
            ..input
        });
        assert_eq!(serde_json::to_string(&reversed).unwrap(), json, "{}", c.id);

        let b = &ins.budget;
        assert_eq!(
            b.fixed_costs + b.variable_total + b.savings_per_month - b.shortfall,
            b.monthly_income,
            "budget of {}",
            c.id
        );
        assert!(
            b.variable_limits
                .iter()
                .all(|l| l.limit >= 0 && l.limit <= l.average_monthly)
        );
        assert_eq!(ins.forecast.days.len(), 30);
        for s in &ins.breakdown {
            assert!(
                (0.0..=1.0).contains(&s.month_share) && (0.0..=1.0).contains(&s.trailing_90d_share)
            );
        }
        for o in &ins.savings_opportunities {
            assert!(o.monthly > 0 && o.yearly >= o.monthly, "{}: {o:?}", c.id);
        }
        assert!(ins.messages.iter().all(|m| !m.is_empty()));

        // Salaried: salary credits in at least two of the last months.
        let salary_months: BTreeSet<u32> = own
            .iter()
            .filter(|t| t.category == Category::Salary && t.amount.minor > 0)
            .filter(|t| t.status == TxStatus::Approved)
            .map(|t| t.timestamp.year() as u32 * 12 + t.timestamp.month0())
            .collect();
        if salary_months.len() >= 3 {
            salaried += 1;
            if ins.forecast.salary.is_some() {
                with_payday += 1;
            }
        }
        with_recurring += usize::from(!ins.recurring.is_empty());
        rises += ins
            .recurring
            .iter()
            .filter(|r| r.price_rise.is_some())
            .count();
        unusual += ins.unusual.len();
        warnings += usize::from(ins.forecast.low_balance_warning.is_some());
        opportunities += ins.savings_opportunities.len();
    }
    eprintln!(
        "salaried {salaried}, with payday {with_payday}, with recurring {with_recurring}, \
         price rises {rises}, unusual {unusual}, warnings {warnings}, opportunities {opportunities}"
    );
    assert!(salaried >= 50, "{salaried} salaried customers");
    assert!(
        with_payday * 10 >= salaried * 9,
        "{with_payday} of {salaried} salaried customers have a payday"
    );
    assert!(
        with_recurring >= 80,
        "{with_recurring} with recurring payments"
    );
}
