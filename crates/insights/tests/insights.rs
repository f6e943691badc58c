//! Insights on hand-built customers, with exact expectations for each kind: a price rise, an
//! unusual purchase, a low-balance warning before payday, a budget that adds up, a duplicate
//! streaming subscription; order independence; and a customer with no transactions.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use sextant_core::{
    Account, AccountId, AccountKind, AccountStatus, Category, Channel, CountryCode, Currency,
    Customer, CustomerId, EngagementLevel, Money, RiskProfile, SentimentScore, SpendingHabit,
    Transaction, TransactionId, TxStatus,
};
use sextant_insights::{
    Cadence, InsightInput, Insights, OpportunityKind, PriceRise, compute, format_money,
};

fn eur(cents: i64) -> Money {
    Money::new(cents, Currency::EUR)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn customer() -> Customer {
    Customer {
        id: CustomerId::parse("c1").unwrap(),
        name: "Customer_1".into(),
        age: 35,
        income: eur(5_400_000),
        spending_habit: SpendingHabit::Moderate,
        risk_profile: RiskProfile::Medium,
        transactions: 0,
        sentiment_score: SentimentScore::new(0.0).unwrap(),
        engagement_level: EngagementLevel::Medium,
        email: None,
        phone: None,
        occupation: None,
        joined_on: None,
    }
}

fn current_account(balance: i64) -> Account {
    Account {
        id: AccountId::parse("a1").unwrap(),
        customer_id: CustomerId::parse("c1").unwrap(),
        kind: AccountKind::Current,
        product_id: None,
        currency: Currency::EUR,
        opened_on: date(2020, 1, 1),
        closed_on: None,
        status: AccountStatus::Open,
        limit: None,
        balance: eur(balance),
    }
}

/// Builds transactions on account `a1` with sequential ids.
#[derive(Default)]
struct Txs(Vec<Transaction>);

impl Txs {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        (y, m, d): (i32, u32, u32),
        cents: i64,
        merchant: &str,
        category: Category,
        channel: Channel,
        balance_after: Option<i64>,
    ) -> &mut Self {
        let n = self.0.len();
        self.0.push(Transaction {
            id: TransactionId::parse(&format!("t{n:04}")).unwrap(),
            customer_id: CustomerId::parse("c1").unwrap(),
            account_id: AccountId::parse("a1").unwrap(),
            timestamp: Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap(),
            amount: eur(cents),
            merchant: Some(merchant.to_string()),
            category,
            mcc: None,
            channel,
            country: CountryCode::parse("DE").unwrap(),
            balance_after: balance_after.map(eur),
            status: TxStatus::Approved,
        });
        self
    }
    fn spend(
        &mut self,
        ymd: (i32, u32, u32),
        cents: i64,
        merchant: &str,
        c: Category,
    ) -> &mut Self {
        self.add(ymd, -cents, merchant, c, Channel::CardPresent, None)
    }
    fn billed(
        &mut self,
        ymd: (i32, u32, u32),
        cents: i64,
        merchant: &str,
        c: Category,
    ) -> &mut Self {
        self.add(ymd, -cents, merchant, c, Channel::CardOnline, None)
    }
    fn rent(&mut self, ymd: (i32, u32, u32), cents: i64) -> &mut Self {
        self.add(
            ymd,
            -cents,
            "Landlord GmbH",
            Category::Housing,
            Channel::StandingOrder,
            None,
        )
    }
    fn salary(&mut self, ymd: (i32, u32, u32), cents: i64) -> &mut Self {
        self.add(
            ymd,
            cents,
            "ACME GmbH",
            Category::Salary,
            Channel::Transfer,
            None,
        )
    }
}

fn run(accounts: &[Account], txs: &[Transaction], as_of: DateTime<Utc>) -> Insights {
    let c = customer();
    compute(&InsightInput {
        customer: &c,
        accounts,
        transactions: txs,
        as_of,
    })
}

fn nov_1() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

/// Six months of a subscription rising from €9.99 to €12.99 in August.
fn price_rise_txs(t: &mut Txs) {
    for m in 5..=10 {
        let price = if m >= 8 { 1_299 } else { 999 };
        t.billed((2026, m, 3), price, "Netflix", Category::Subscriptions);
    }
}

#[test]
fn subscription_price_rise_is_detected_with_its_date() {
    let mut t = Txs::default();
    price_rise_txs(&mut t);
    let ins = run(&[current_account(100_000)], &t.0, nov_1());
    assert_eq!(ins.recurring.len(), 1);
    let r = &ins.recurring[0];
    assert_eq!(r.merchant, "Netflix");
    assert_eq!(r.category, Category::Subscriptions);
    assert_eq!(r.cadence, Cadence::Monthly);
    assert_eq!(r.typical_amount, 1_299);
    assert_eq!(r.yearly_amount, 15_588);
    assert_eq!(r.monthly_amount, 1_299);
    assert_eq!(r.charges, 6);
    assert_eq!(r.months_seen, 6);
    assert_eq!(r.last_charged_on, date(2026, 10, 3));
    assert_eq!(r.next_expected_on, date(2026, 11, 3));
    assert_eq!(
        r.price_rise,
        Some(PriceRise {
            from: 999,
            to: 1_299,
            first_charged_at_new_price: date(2026, 8, 3),
        })
    );
    let opp = ins
        .savings_opportunities
        .iter()
        .find(|o| o.kind == OpportunityKind::PriceRise)
        .unwrap();
    assert_eq!((opp.monthly, opp.yearly), (300, 3_600));
    assert!(
        ins.messages
            .contains(&"Netflix went up from €9.99 to €12.99 on 2026-08-03.".to_string()),
        "{:#?}",
        ins.messages
    );
    assert!(opp.text.contains("€36.00 more a year"), "{}", opp.text);
    // The forecast expects the new price on the 3rd.
    let due = ins
        .forecast
        .expected
        .iter()
        .find(|e| e.label == "Netflix")
        .unwrap();
    assert_eq!((due.date, due.amount), (date(2026, 11, 3), -1_299));
}

fn unusual_txs(t: &mut Txs) {
    let baseline = [
        ((2026, 6, 10), 3_800),
        ((2026, 7, 10), 4_000),
        ((2026, 7, 24), 4_200),
        ((2026, 8, 10), 4_000),
        ((2026, 9, 5), 3_900),
        ((2026, 9, 20), 4_100),
    ];
    for (d, c) in baseline {
        t.spend(d, c, "H&M", Category::Shopping);
    }
    t.spend((2026, 10, 20), 4_000, "H&M", Category::Shopping);
    t.spend((2026, 10, 21), 90_000, "MediaMarkt", Category::Shopping);
}

#[test]
fn one_off_electronics_purchase_is_unusual_against_its_baseline() {
    let mut t = Txs::default();
    unusual_txs(&mut t);
    let ins = run(&[current_account(100_000)], &t.0, nov_1());
    assert_eq!(ins.unusual.len(), 1, "{:#?}", ins.unusual);
    let u = &ins.unusual[0];
    assert_eq!(u.merchant.as_deref(), Some("MediaMarkt"));
    assert_eq!(u.category, Category::Shopping);
    assert_eq!(u.date, date(2026, 10, 21));
    assert_eq!(u.amount, 90_000);
    assert_eq!(u.baseline_median, 4_000);
    assert_eq!(u.baseline_mad, 100);
    assert_eq!(u.baseline_transactions, 6);
    assert_eq!(u.baseline_sigma, 148);
    assert_eq!(u.threshold, 12_000);
    assert_eq!(u.times_median, 22.5);
    assert!(
        ins.messages.contains(
            &"€900.00 at MediaMarkt on 2026-10-21 is 22.5 times your usual €40.00 on shopping."
                .to_string()
        )
    );
}

#[test]
fn forecast_warns_when_rent_leaves_the_balance_low_before_payday() {
    let mut t = Txs::default();
    for m in 8..=10 {
        t.rent((2026, m, 1), 85_000);
        t.salary((2026, m, 28), 250_000);
        t.spend((2026, m, 10), 9_000, "REWE", Category::Groceries);
        t.spend((2026, m, 20), 9_000, "REWE", Category::Groceries);
    }
    t.add(
        (2026, 10, 29),
        -9_000,
        "REWE",
        Category::Groceries,
        Channel::CardPresent,
        Some(90_000),
    );
    let as_of = Utc.with_ymd_and_hms(2026, 10, 30, 12, 0, 0).unwrap();
    let ins = run(&[current_account(1)], &t.0, as_of);
    let f = &ins.forecast;
    assert_eq!(f.from, date(2026, 10, 30));
    assert_eq!(
        (f.current_balance, f.balance_source.as_str()),
        (90_000, "latest_transaction")
    );
    let s = f.salary.as_ref().unwrap();
    assert_eq!((s.day_of_month, s.amount, s.months_seen), (28, 250_000, 3));
    // 7 × €90 of groceries in the 90 days up to today.
    assert_eq!(f.daily_variable_spend, 700);
    assert_eq!(f.days.len(), 30);
    assert_eq!(f.days[0].balance, 89_300);
    assert_eq!(f.days[1].date, date(2026, 11, 1));
    assert_eq!(f.days[1].outflow, 85_700);
    assert_eq!(f.days[1].balance, 3_600);
    assert_eq!(
        (f.lowest_balance, f.lowest_on),
        (-14_600, date(2026, 11, 27))
    );
    assert_eq!(f.days[29].date, date(2026, 11, 29));
    assert_eq!(f.days[29].balance, 234_000);
    assert_eq!(f.total_inflows, 250_000);
    assert_eq!(f.total_outflows, 85_000 + 30 * 700);
    let w = f.low_balance_warning.as_ref().unwrap();
    assert_eq!(w.date, date(2026, 11, 1));
    assert_eq!(w.projected_balance, 3_600);
    assert_eq!(w.threshold, 10_000);
    assert_eq!(w.next_payday, Some(date(2026, 11, 28)));
    assert!(
        ins.messages.contains(
            &"Your balance is projected to fall to €36.00 on 2026-11-01, below €100.00, before \
          your next salary on 2026-11-28."
                .to_string()
        )
    );

    // The budget: two full months (August, September) averaged.
    let b = &ins.budget;
    assert_eq!(b.months_averaged, 2);
    assert_eq!(
        (b.monthly_income, b.income_source.as_str()),
        (250_000, "transactions")
    );
    assert_eq!(b.fixed_costs, 85_000);
    assert_eq!(b.savings_target, 50_000);
    assert_eq!(b.variable_total, 18_000);
    assert_eq!(b.savings_per_month, 147_000);
    assert_eq!(
        b.fixed_costs + b.variable_total + b.savings_per_month - b.shortfall,
        b.monthly_income
    );
}

/// Income €2,000, rent €1,200, and €700 a month of variable spend: more than the allowance.
fn budget_txs(t: &mut Txs) {
    for m in 8..=10 {
        t.salary((2026, m, 25), 200_000);
        t.rent((2026, m, 1), 120_000);
        for d in [5, 12, 19, 26] {
            t.spend((2026, m, d), 10_000, "REWE", Category::Groceries);
        }
        for d in [8, 15, 22] {
            t.spend((2026, m, d), 10_000, "Trattoria", Category::Restaurants);
        }
    }
}

#[test]
fn budget_adds_up_and_scales_variable_limits_to_the_allowance() {
    let mut t = Txs::default();
    budget_txs(&mut t);
    let ins = run(&[current_account(50_000)], &t.0, nov_1());
    let b = &ins.budget;
    assert_eq!(b.months_averaged, 3);
    assert_eq!(b.monthly_income, 200_000);
    assert_eq!(b.fixed_costs, 120_000);
    assert_eq!(b.fixed.len(), 1);
    assert_eq!(b.after_fixed, 80_000);
    // min(20% of 2000, 40% of 800) = 320.
    assert_eq!(b.savings_target, 32_000);
    assert_eq!(b.variable_allowance, 48_000);
    let limits: Vec<(Category, i64, i64)> = b
        .variable_limits
        .iter()
        .map(|l| (l.category, l.average_monthly, l.limit))
        .collect();
    assert_eq!(
        limits,
        [
            (Category::Groceries, 40_000, 27_429),
            (Category::Restaurants, 30_000, 20_571)
        ]
    );
    assert_eq!(b.variable_total, 48_000);
    assert_eq!(b.savings_per_month, 32_000);
    assert_eq!(b.shortfall, 0);
    assert_eq!(
        b.fixed_costs + b.variable_total + b.savings_per_month,
        b.monthly_income
    );
    let over: Vec<(Category, i64, i64)> = ins
        .savings_opportunities
        .iter()
        .filter(|o| o.kind == OpportunityKind::OverBudget)
        .map(|o| (o.category, o.monthly, o.yearly))
        .collect();
    assert_eq!(
        over,
        [
            (Category::Groceries, 12_571, 150_852),
            (Category::Restaurants, 9_429, 113_148)
        ]
    );
    // Equal months: nothing notable; the breakdown of October.
    assert!(ins.month_over_month.iter().all(|c| !c.notable));
    let oct: Vec<(Category, i64, f64)> = ins
        .breakdown
        .iter()
        .map(|b| (b.category, b.month_amount, b.month_share))
        .collect();
    assert_eq!(
        oct,
        [
            (Category::Housing, 120_000, 0.6316),
            (Category::Groceries, 40_000, 0.2105),
            (Category::Restaurants, 30_000, 0.1579)
        ]
    );
    assert!(ins.messages[0].starts_with("In October 2026 you spent €1900.00 in total"));
}

#[test]
fn fixed_costs_above_income_leave_a_shortfall_that_still_adds_up() {
    let mut t = Txs::default();
    for m in 8..=10 {
        t.salary((2026, m, 25), 100_000);
        t.rent((2026, m, 1), 120_000);
        t.spend((2026, m, 5), 10_000, "REWE", Category::Groceries);
    }
    let b = run(&[current_account(0)], &t.0, nov_1()).budget;
    assert_eq!(b.shortfall, 20_000);
    assert_eq!((b.savings_per_month, b.variable_total), (0, 0));
    assert_eq!(
        b.fixed_costs + b.variable_total + b.savings_per_month - b.shortfall,
        b.monthly_income
    );
}

#[test]
fn notable_month_over_month_changes() {
    let mut t = Txs::default();
    t.spend((2026, 9, 5), 5_000, "Trattoria", Category::Restaurants);
    t.spend((2026, 9, 12), 5_000, "Trattoria", Category::Restaurants);
    t.spend((2026, 9, 6), 10_000, "REWE", Category::Groceries);
    for d in [3, 10, 17] {
        t.spend((2026, 10, d), 5_000, "Trattoria", Category::Restaurants);
    }
    t.spend((2026, 10, 6), 11_000, "REWE", Category::Groceries);
    t.spend((2026, 10, 7), 2_500, "Kino", Category::Entertainment);
    let ins = run(&[current_account(0)], &t.0, nov_1());
    let got: Vec<_> = ins
        .month_over_month
        .iter()
        .map(|c| {
            (
                c.category,
                c.amount,
                c.previous_amount,
                c.change,
                c.change_pct,
                c.notable,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                Category::Groceries,
                11_000,
                10_000,
                1_000,
                Some(10.0),
                false
            ),
            (
                Category::Restaurants,
                15_000,
                10_000,
                5_000,
                Some(50.0),
                true
            ),
            (Category::Entertainment, 2_500, 0, 2_500, None, true),
        ]
    );
    assert_eq!(ins.month_over_month[0].month, "2026-10");
    assert_eq!(ins.month_over_month[0].previous_month, "2026-09");
    assert!(
        ins.messages.contains(
            &"You spent €150.00 on restaurants in October 2026, €50.00 more than in September 2026 \
          (+50.0%)."
                .to_string()
        )
    );
}

fn streaming_txs(t: &mut Txs) {
    for m in 5..=10 {
        t.billed((2026, m, 7), 1_399, "Netflix", Category::Subscriptions);
        t.billed((2026, m, 15), 999, "Disney+", Category::Subscriptions);
        t.billed((2026, m, 20), 1_099, "Spotify", Category::Subscriptions);
    }
}

#[test]
fn duplicate_streaming_is_a_savings_opportunity_with_its_yearly_amount() {
    let mut t = Txs::default();
    streaming_txs(&mut t);
    let ins = run(&[current_account(100_000)], &t.0, nov_1());
    assert_eq!(ins.recurring.len(), 3);
    let dups: Vec<_> = ins
        .savings_opportunities
        .iter()
        .filter(|o| o.kind == OpportunityKind::DuplicateSubscriptions)
        .collect();
    assert_eq!(dups.len(), 1, "one music service is not a duplicate");
    let d = dups[0];
    assert_eq!(d.merchants, ["Netflix", "Disney+"]);
    assert_eq!((d.monthly, d.yearly), (999, 11_988));
    assert_eq!(
        d.text,
        "You pay for 2 video streaming services (€23.98 a month). Keeping only Netflix and \
         cancelling Disney+ would save €9.99 a month, €119.88 a year."
    );
    assert!(ins.messages.contains(&d.text));
    // Subscriptions are fixed costs in the budget.
    assert_eq!(ins.budget.fixed_costs, 1_399 + 999 + 1_099);
}

#[test]
fn same_transactions_in_any_order_give_the_same_insights() {
    let mut t = Txs::default();
    price_rise_txs(&mut t);
    unusual_txs(&mut t);
    budget_txs(&mut t);
    streaming_txs(&mut t);
    let accounts = [current_account(12_345)];
    let json = |txs: &[Transaction]| serde_json::to_string(&run(&accounts, txs, nov_1())).unwrap();
    let base = json(&t.0);
    let mut v = t.0.clone();
    v.reverse();
    assert_eq!(json(&v), base);
    v.rotate_left(17);
    assert_eq!(json(&v), base);
    // Interleave: even positions then odd ones.
    let mixed: Vec<Transaction> =
        t.0.iter()
            .step_by(2)
            .chain(t.0.iter().skip(1).step_by(2))
            .cloned()
            .collect();
    assert_eq!(json(&mixed), base);
    let ins = run(&accounts, &t.0, nov_1());
    assert!(!ins.breakdown.is_empty() && !ins.unusual.is_empty() && ins.recurring.len() >= 3);
}

#[test]
fn a_customer_without_transactions_gets_empty_insights_and_a_flat_forecast() {
    let ins = run(&[current_account(12_345)], &[], nov_1());
    assert_eq!(ins.currency, "EUR");
    assert!(ins.breakdown.is_empty());
    assert!(ins.month_over_month.is_empty());
    assert!(ins.recurring.is_empty());
    assert!(ins.unusual.is_empty());
    assert!(ins.savings_opportunities.is_empty());
    let f = &ins.forecast;
    assert_eq!(
        (f.current_balance, f.balance_source.as_str()),
        (12_345, "account_balance")
    );
    assert!(f.salary.is_none());
    assert_eq!(f.days.len(), 30);
    assert!(f.days.iter().all(|d| d.balance == 12_345));
    assert!(f.low_balance_warning.is_none());
    let b = &ins.budget;
    assert_eq!(
        (b.monthly_income, b.income_source.as_str()),
        (450_000, "profile")
    );
    assert_eq!(b.months_averaged, 0);
    assert_eq!(
        b.fixed_costs + b.variable_total + b.savings_per_month,
        450_000
    );

    // No accounts either: a zero balance, currency from the profile.
    let ins = run(&[], &[], nov_1());
    assert_eq!(ins.forecast.balance_source, "none");
    assert_eq!(ins.forecast.current_balance, 0);
}

#[test]
fn money_formats_for_customers() {
    assert_eq!(format_money(1_234, Currency::EUR), "€12.34");
    assert_eq!(format_money(-5, Currency::EUR), "-€0.05");
    assert_eq!(format_money(1_234, Currency::USD), "12.34 USD");
    assert_eq!(
        format_money(500, Currency::parse("JPY").unwrap()),
        "500 JPY"
    );
}

#[test]
fn weekly_and_yearly_cadences_and_stopped_payments() {
    let mut t = Txs::default();
    // Weekly on Mondays, 7 September to 26 October.
    for k in 0..8 {
        let d = date(2026, 9, 7) + chrono::TimeDelta::days(7 * k);
        t.billed(
            (d.year(), d.month(), d.day()),
            2_500,
            "Weekly Box",
            Category::Groceries,
        );
    }
    // Yearly insurance.
    for y in [2024, 2025] {
        t.add(
            (y, 12, 10),
            -9_900,
            "ADAC",
            Category::Insurance,
            Channel::DirectDebit,
            None,
        );
    }
    // Stopped in August: no longer recurring.
    for m in 5..=8 {
        t.billed((2026, m, 12), 2_000, "Sky", Category::Subscriptions);
    }
    // A single charge at the old price is not enough to call a price rise.
    for (m, p) in [(8, 999), (9, 1_299), (10, 1_299)] {
        t.billed((2026, m, 9), p, "Audible", Category::Subscriptions);
    }
    let ins = run(&[current_account(100_000)], &t.0, nov_1());
    let got: Vec<_> = ins
        .recurring
        .iter()
        .map(|r| {
            (
                r.merchant.as_str(),
                r.cadence,
                r.typical_amount,
                r.yearly_amount,
                r.monthly_amount,
                r.next_expected_on,
                r.price_rise.is_some(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "ADAC",
                Cadence::Yearly,
                9_900,
                9_900,
                825,
                date(2026, 12, 10),
                false
            ),
            (
                "Audible",
                Cadence::Monthly,
                1_299,
                15_588,
                1_299,
                date(2026, 11, 9),
                false
            ),
            (
                "Weekly Box",
                Cadence::Weekly,
                2_500,
                130_000,
                10_833,
                date(2026, 11, 2),
                false
            ),
        ]
    );
    // The weekly box is due every Monday in the 30 days after 1 November.
    let boxes = ins
        .forecast
        .expected
        .iter()
        .filter(|e| e.label == "Weekly Box")
        .count();
    assert_eq!(boxes, 5, "2, 9, 16, 23 and 30 November");
}

#[test]
fn other_customers_transactions_are_ignored() {
    let mut t = Txs::default();
    budget_txs(&mut t);
    let mine = run(&[current_account(50_000)], &t.0, nov_1());
    let mut other = t.0[0].clone();
    other.id = TransactionId::parse("x1").unwrap();
    other.customer_id = CustomerId::parse("c2").unwrap();
    other.amount = eur(-1_000_000);
    other.category = Category::Travel;
    t.0.push(other);
    let with_other = run(&[current_account(50_000)], &t.0, nov_1());
    assert_eq!(
        serde_json::to_string(&with_other).unwrap(),
        serde_json::to_string(&mine).unwrap()
    );
}
