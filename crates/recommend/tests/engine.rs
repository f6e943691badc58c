//! Integration tests through the public API: the demo rules file, every guardrail, bandit
//! feedback, diversity, review routing, cold start and determinism, over the demo catalog.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sextant_core::{
    Account, AccountId, AccountKind, AccountStatus, ConsentState, Currency, Customer,
    CustomerEvent, CustomerId, EngagementLevel, EventId, EventKind, Money, Product, ProductFamily,
    ProductId, RiskProfile, SentimentScore, SpendingHabit,
};
use sextant_features::{FEATURES, FeatureVector, index_of};
use sextant_recommend::{
    Bandit, Blocked, CfModel, CustomerContext, DEMO_RULES, Engine, Guardrail, Outcome, PersonaTags,
    Request, ReviewReason, Rules, Source,
};
use std::collections::BTreeMap;

fn pid(s: &str) -> ProductId {
    ProductId::parse(s).unwrap()
}

fn catalog() -> Vec<Product> {
    use ProductFamily as F;
    use RiskProfile as R;
    let rows: [(&str, &str, F, R, i64); 20] = [
        ("P-CUR-BASIC", "Giro Basic", F::Current, R::Low, 0),
        ("P-CUR-PLUS", "Giro Plus", F::Current, R::Low, 40_000),
        ("P-CC-STUDENT", "Student Card", F::CreditCard, R::Low, 0),
        (
            "P-CC-CLASSIC",
            "Classic Card",
            F::CreditCard,
            R::Low,
            15_000,
        ),
        ("P-CC-GOLD", "Gold Card", F::CreditCard, R::Low, 45_000),
        (
            "P-CC-PLAT",
            "Platinum Travel Card",
            F::CreditCard,
            R::Low,
            90_000,
        ),
        (
            "P-PL-FLEX",
            "Flex Personal Loan",
            F::PersonalLoan,
            R::Medium,
            18_000,
        ),
        (
            "P-PL-CONSOL",
            "Debt Consolidation Loan",
            F::PersonalLoan,
            R::Medium,
            24_000,
        ),
        (
            "P-MTG-FIX10",
            "Fixed-Rate Mortgage 10y",
            F::Mortgage,
            R::Low,
            45_000,
        ),
        (
            "P-MTG-FIX20",
            "Fixed-Rate Mortgage 20y",
            F::Mortgage,
            R::Low,
            55_000,
        ),
        ("P-AUTO", "Auto Loan", F::AutoLoan, R::Low, 20_000),
        ("P-SAV-EASY", "Easy Access Savings", F::Savings, R::Low, 0),
        ("P-SAV-GOAL", "Goal Saver", F::Savings, R::Low, 0),
        (
            "P-TD-12",
            "Term Deposit 12 months",
            F::TermDeposit,
            R::Low,
            0,
        ),
        (
            "P-TD-36",
            "Term Deposit 36 months",
            F::TermDeposit,
            R::Low,
            0,
        ),
        (
            "P-INV-LOW",
            "Portfolio Defensive",
            F::Investment,
            R::Low,
            20_000,
        ),
        (
            "P-INV-MED",
            "Portfolio Balanced",
            F::Investment,
            R::Medium,
            35_000,
        ),
        (
            "P-INV-HIGH",
            "Portfolio Growth",
            F::Investment,
            R::High,
            50_000,
        ),
        (
            "P-INS-HOME",
            "Home Contents Insurance",
            F::Insurance,
            R::Low,
            0,
        ),
        (
            "P-INS-LIFE",
            "Term Life Insurance",
            F::Insurance,
            R::Low,
            25_000,
        ),
    ];
    rows.iter()
        .map(|&(id, name, family, risk, min)| Product {
            id: pid(id),
            name: name.into(),
            family,
            risk_level: risk,
            min_income: (min > 0).then(|| Money::new(min * 100, Currency::EUR)),
            rate_bps: None,
            annual_fee: None,
            description: String::new(),
            active: true,
        })
        .collect()
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Everything one request needs, owned.
struct Fx {
    customer: Customer,
    features: Option<FeatureVector>,
    segment: Option<String>,
    tags: Option<PersonaTags>,
    holdings: Vec<Account>,
    consents: ConsentState,
    history: Vec<CustomerEvent>,
    propensity: BTreeMap<ProductFamily, (f64, String)>,
    shap: BTreeMap<ProductFamily, Vec<String>>,
}

impl Fx {
    /// A 40-year-old earning 60000 with Medium risk, a current account, saving 18%.
    fn new() -> Fx {
        let mut fx = Fx {
            customer: Customer {
                id: CustomerId::parse("c1").unwrap(),
                name: "Ada".into(),
                age: 40,
                income: Money::new(6_000_000, Currency::EUR),
                spending_habit: SpendingHabit::Moderate,
                risk_profile: RiskProfile::Medium,
                transactions: 100,
                sentiment_score: SentimentScore::new(0.2).unwrap(),
                engagement_level: EngagementLevel::High,
                email: None,
                phone: None,
                occupation: None,
                joined_on: None,
            },
            features: None,
            segment: Some("S1.2".into()),
            tags: None,
            holdings: vec![account(
                "a1",
                AccountKind::Current,
                Some("P-CUR-BASIC"),
                0,
                None,
            )],
            consents: ConsentState {
                personalization: true,
                marketing: true,
                profiling: true,
                automated_decisions: true,
                data_sharing: false,
                do_not_sell: false,
            },
            history: Vec::new(),
            propensity: BTreeMap::new(),
            shap: BTreeMap::new(),
        };
        fx.set_features(&[
            ("age", 40.0),
            ("income_annual", 60_000.0),
            ("monthly_income", 5_000.0),
            ("savings_rate", 0.18),
            ("credit_utilization", 0.1),
            ("discretionary_share", 0.3),
            ("spend_share_travel", 0.1),
            ("engagement_score", 2.0),
            ("risk_profile_score", 1.0),
            ("has_credit_card", 0.0),
        ]);
        fx
    }

    fn set_features(&mut self, pairs: &[(&str, f64)]) {
        let mut values = vec![f64::NAN; FEATURES.len()];
        for (n, v) in pairs {
            values[index_of(n).unwrap()] = *v;
        }
        self.features = Some(FeatureVector { version: 2, values });
    }

    fn set_feature(&mut self, name: &str, v: f64) {
        self.features.as_mut().unwrap().values[index_of(name).unwrap()] = v;
    }

    fn ctx(&self) -> CustomerContext<'_> {
        CustomerContext {
            customer: &self.customer,
            features: self.features.as_ref(),
            segment: self.segment.as_deref(),
            persona_tags: self.tags.as_ref(),
            holdings: &self.holdings,
            consents: &self.consents,
            history: &self.history,
            propensity: &self.propensity,
            shap_reasons: &self.shap,
            now: now(),
            salt: 42,
        }
    }

    fn event(&mut self, kind: EventKind, product: &str, days_ago: i64) {
        let n = self.history.len();
        self.history.push(CustomerEvent {
            id: EventId::parse(&format!("e{n}")).unwrap(),
            customer_id: self.customer.id.clone(),
            timestamp: now() - Duration::days(days_ago),
            kind,
            product_id: Some(pid(product)),
            decision_id: None,
            value: None,
        });
    }
}

fn account(
    id: &str,
    kind: AccountKind,
    product: Option<&str>,
    balance: i64,
    limit: Option<i64>,
) -> Account {
    Account {
        id: AccountId::parse(id).unwrap(),
        customer_id: CustomerId::parse("c1").unwrap(),
        kind,
        product_id: product.map(pid),
        currency: Currency::EUR,
        opened_on: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        closed_on: None,
        status: AccountStatus::Open,
        limit: limit.map(|l| Money::new(l * 100, Currency::EUR)),
        balance: Money::new(balance * 100, Currency::EUR),
    }
}

fn rules() -> Rules {
    Rules::from_toml(DEMO_RULES, &catalog()).unwrap()
}

fn engine_with(rules: Rules) -> Engine {
    Engine::new(rules, catalog(), CfModel::train(&[]))
}

fn engine() -> Engine {
    engine_with(rules())
}

fn bandit() -> Bandit {
    Bandit::new(rules().bandit_config())
}

fn run(e: &Engine, fx: &Fx, b: &Bandit, limit: usize) -> Outcome {
    e.recommend(
        &fx.ctx(),
        b,
        &Request {
            limit,
            channel: "app".into(),
            strategy: Default::default(),
        },
    )
}

fn blocked<'a>(o: &'a Outcome, id: &str) -> Option<&'a Blocked> {
    o.blocked.iter().find(|b| b.product_id.as_str() == id)
}

fn ids(o: &Outcome) -> Vec<&str> {
    o.recommendations
        .iter()
        .map(|r| r.product_id.as_str())
        .collect()
}

// ---- rules ----------------------------------------------------------------------------------

#[test]
fn demo_rules_load() {
    let r = rules();
    assert_eq!(r.version(), "2026-11-29.1");
    assert_eq!(r.products.len(), 20);
    let gold = r.product(&pid("P-CC-GOLD")).unwrap();
    assert_eq!(gold.excludes, vec![AccountKind::CreditCard]);
    assert_eq!(gold.requires, vec![AccountKind::Current]);
    assert!(r.product(&pid("P-INS-HOME")).unwrap().excludes.is_empty());
    assert_eq!(r.bandit_config().alpha, 0.5);
}

fn bad(from: &str, to: &str) -> Vec<String> {
    let text = DEMO_RULES.replacen(from, to, 1);
    assert_ne!(text, DEMO_RULES, "{from:?} not in the demo file");
    Rules::from_toml(&text, &catalog()).unwrap_err().errors
}

#[test]
fn bad_rules_name_where_and_why() {
    assert_eq!(
        bad(
            "[products.P-INS-LIFE]",
            "[products.P-XYZ]\nvalue = 1.0\n[products.P-INS-LIFE]"
        ),
        ["rules.toml: products.P-XYZ: no such product in the catalog"]
    );
    assert_eq!(
        bad(
            "max_age = 80\nmin_income = 45000.0",
            "max_age = 80\nmax_debt_to_income = 1.7\nmin_income = 45000.0"
        ),
        ["rules.toml: products.P-CC-GOLD.max_debt_to_income: 1.7 is not a share between 0 and 1"]
    );
    let e = bad(
        "[products.P-CUR-BASIC]\nvalue = 40.0",
        "[products.P-CUR-BASIC]\nvalue = 40.0\ncolour = \"red\"",
    );
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(
            "rules.toml: products.P-CUR-BASIC: unknown field `colour`, expected one of"
        ),
        "{e:?}"
    );
    assert_eq!(
        bad(
            "required_consents = [\"marketing\"] #",
            "required_consents = [\"marketing\", \"telepathy\"] #"
        ),
        [
            "rules.toml: defaults.required_consents: unknown consent purpose 'telepathy': expected one of personalization, marketing, profiling, automated_decisions, data_sharing"
        ]
    );
    assert_eq!(
        bad(
            "requires = [\"current\", \"credit_card\"]",
            "requires = [\"current\", \"chequing\"]"
        ),
        [
            "rules.toml: products.P-PL-CONSOL.requires: unknown account kind 'chequing': expected one of current, savings, credit_card, personal_loan, mortgage, auto_loan, term_deposit, investment"
        ]
    );
    let line = DEMO_RULES.lines().position(|l| l == "[review]").unwrap() + 1;
    let e = bad("[review]", "[review");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(&format!("rules.toml: line {line}: ")),
        "{e:?}"
    );
    assert_eq!(
        bad(
            "boost = [\"P-INV-HIGH\"]",
            "boost = [\"P-INV-HIGH\", \"P-NOPE\"]"
        ),
        ["rules.toml: segment_rules[5].boost: P-NOPE: no such product in the catalog"]
    );
    assert_eq!(
        bad("alpha = 0.5", "alpha = 3.0"),
        ["rules.toml: bandit.alpha: 3 is not between 0 and 2"]
    );
}

#[test]
fn every_error_is_collected() {
    let text = DEMO_RULES
        .replacen("alpha = 0.5", "alpha = 3.0", 1)
        .replacen("max_debt_to_income = 0.40", "max_debt_to_income = 1.5", 1)
        .replacen("weight = 0.4", "weight = 2.0", 1);
    let e = Rules::from_toml(&text, &catalog()).unwrap_err();
    assert_eq!(e.errors.len(), 3, "{e}");
    assert_eq!(e.to_string().lines().count(), 3);
    let e = Rules::from_toml(DEMO_RULES, &[]).unwrap_err();
    assert!(e.errors.iter().any(|m| m.contains("catalog is empty")));
}

// ---- guardrails -----------------------------------------------------------------------------

#[test]
fn under_income_is_ineligible() {
    let mut fx = Fx::new();
    fx.customer.income = Money::new(3_000_000, Currency::EUR);
    fx.set_feature("income_annual", 30_000.0);
    let o = run(&engine(), &fx, &bandit(), 10);
    let b = blocked(&o, "P-CC-GOLD").expect("gold card evaluated");
    assert_eq!(b.guardrail, Guardrail::Eligibility);
    assert_eq!(b.reason, "income 30000 is below the minimum 45000");
    assert!(!ids(&o).contains(&"P-CC-GOLD"));
}

#[test]
fn under_age_blocks_everything() {
    let mut fx = Fx::new();
    fx.customer.age = 17;
    fx.set_feature("age", 17.0);
    let o = run(&engine(), &fx, &bandit(), 10);
    assert!(o.recommendations.is_empty());
    let b = blocked(&o, "P-SAV-EASY").unwrap();
    assert_eq!(
        (b.guardrail, b.reason.as_str()),
        (Guardrail::Eligibility, "age 17 is below the minimum 18")
    );
}

#[test]
fn held_products_are_not_offered() {
    let mut fx = Fx::new();
    fx.holdings.push(account(
        "a2",
        AccountKind::Savings,
        Some("P-SAV-EASY"),
        2_000,
        None,
    ));
    let o = run(&engine(), &fx, &bandit(), 10);
    assert_eq!(
        blocked(&o, "P-SAV-EASY").unwrap().guardrail,
        Guardrail::AlreadyHeld
    );
    let goal = blocked(&o, "P-SAV-GOAL").unwrap();
    assert_eq!(goal.guardrail, Guardrail::AlreadyHeld);
    assert_eq!(goal.reason, "already holds a savings account");
    assert_eq!(
        blocked(&o, "P-CUR-BASIC").unwrap().reason,
        "already holds this product"
    );
    assert!(
        o.recommendations
            .iter()
            .all(|r| r.family != ProductFamily::Savings)
    );
}

#[test]
fn low_risk_customer_never_gets_growth_portfolio() {
    let mut fx = Fx::new();
    fx.customer.risk_profile = RiskProfile::Low;
    fx.set_feature("risk_profile_score", 0.0);
    fx.tags = Some(PersonaTags {
        risk_appetite: "adventurous".into(), // even boosted by a persona rule
        spending_style: "balanced".into(),
        engagement: "high".into(),
        life_stage: "established".into(),
    });
    let o = run(&engine(), &fx, &bandit(), 10);
    let b = blocked(&o, "P-INV-HIGH").expect("growth portfolio evaluated");
    assert_eq!(b.guardrail, Guardrail::Suitability);
    assert_eq!(
        b.reason,
        "product risk High is above the customer's risk profile Low"
    );
    assert!(!ids(&o).contains(&"P-INV-HIGH"));
    let inv = o
        .recommendations
        .iter()
        .find(|r| r.family == ProductFamily::Investment)
        .expect("a suitable portfolio is offered");
    assert_eq!(inv.product_id.as_str(), "P-INV-LOW");
    assert!(
        inv.detail
            .rules_passed
            .iter()
            .any(|p| p == "suitability: product Low ≤ customer Low")
    );
}

#[test]
fn debt_to_income_over_the_limit_is_unaffordable() {
    let mut fx = Fx::new();
    fx.set_feature("monthly_income", 2_000.0);
    // A 240000 mortgage: 1000 a month.
    fx.holdings.push(account(
        "m1",
        AccountKind::Mortgage,
        None,
        -200_000,
        Some(240_000),
    ));
    let o = run(&engine(), &fx, &bandit(), 10);
    let b = blocked(&o, "P-AUTO").expect("auto loan evaluated");
    assert_eq!(b.guardrail, Guardrail::Affordability);
    assert!(
        b.reason
            .starts_with("debt-to-income 0.69 after this product is above the limit 0.40"),
        "{}",
        b.reason
    );
    // With no debts the same loan is affordable and its DTI recorded.
    let fx = Fx::new();
    let o = run(&engine(), &fx, &bandit(), 10);
    let auto = o
        .recommendations
        .iter()
        .find(|r| r.product_id.as_str() == "P-AUTO")
        .unwrap();
    assert!(
        auto.detail
            .rules_passed
            .iter()
            .any(|p| p == "affordability: DTI 0.08 ≤ 0.40")
    );
}

#[test]
fn no_marketing_consent_blocks_every_candidate() {
    let mut fx = Fx::new();
    fx.consents.marketing = false;
    let o = run(&engine(), &fx, &bandit(), 5);
    assert!(o.recommendations.is_empty());
    assert_eq!(o.blocked.len(), 20);
    for b in &o.blocked {
        assert_eq!(b.guardrail, Guardrail::Consent);
        assert_eq!(b.reason, "the customer has not consented to marketing");
    }
}

#[test]
fn a_dismissal_hides_the_product_for_90_days() {
    let mut fx = Fx::new();
    fx.event(EventKind::Dismiss, "P-AUTO", 10);
    let o = run(&engine(), &fx, &bandit(), 10);
    let b = blocked(&o, "P-AUTO").unwrap();
    assert_eq!(b.guardrail, Guardrail::NotInterested);
    assert_eq!(
        b.reason,
        "dismissed 10 days ago; hidden for 90 days after a dismissal"
    );
    let mut fx = Fx::new();
    fx.event(EventKind::Dismiss, "P-AUTO", 91);
    let o = run(&engine(), &fx, &bandit(), 10);
    assert!(ids(&o).contains(&"P-AUTO"));
}

#[test]
fn frequency_cap_per_product() {
    let mut fx = Fx::new();
    for d in [10, 12, 14] {
        fx.event(EventKind::Impression, "P-AUTO", d);
    }
    let o = run(&engine(), &fx, &bandit(), 10);
    let b = blocked(&o, "P-AUTO").unwrap();
    assert_eq!(b.guardrail, Guardrail::FrequencyCap);
    assert_eq!(b.reason, "shown 3 times in the last 30 days (cap 3)");
    // Two impressions pass, and the count is recorded.
    fx.history.pop();
    let o = run(&engine(), &fx, &bandit(), 10);
    let auto = o
        .recommendations
        .iter()
        .find(|r| r.product_id.as_str() == "P-AUTO")
        .unwrap();
    assert!(
        auto.detail
            .rules_passed
            .iter()
            .any(|p| p == "frequency_cap: 2 of 3 in 30 days")
    );
}

#[test]
fn fatigue_blocks_everything() {
    let mut fx = Fx::new();
    for (i, p) in [
        "P-AUTO",
        "P-TD-12",
        "P-INS-HOME",
        "P-AUTO",
        "P-TD-36",
        "P-SAV-GOAL",
    ]
    .iter()
    .enumerate()
    {
        fx.event(EventKind::Impression, p, i as i64);
    }
    let o = run(&engine(), &fx, &bandit(), 5);
    assert!(o.recommendations.is_empty());
    assert_eq!(o.blocked.len(), 20);
    assert!(o.blocked.iter().all(|b| b.guardrail == Guardrail::Fatigue));
    assert_eq!(
        o.blocked[0].reason,
        "6 offers shown in the last 7 days reach the limit of 6"
    );
}

// ---- ranking, bandit, diversity -------------------------------------------------------------

#[test]
fn feedback_changes_the_next_ranking() {
    let fx = Fx::new();
    let e = engine();
    let mut b = bandit();
    let before = run(&e, &fx, &b, 10);
    let top = before.recommendations[0].clone();
    for _ in 0..3 {
        b.apply_feedback(
            top.product_id.as_str(),
            &top.context,
            top.prior,
            &[],
            EventKind::Dismiss,
        );
    }
    let after = run(&e, &fx, &b, 10);
    let dropped = b.score(top.product_id.as_str(), &top.context, top.prior);
    assert!(dropped.estimate < top.propensity / 2.0);
    assert_ne!(
        after.recommendations[0].product_id,
        top.product_id,
        "dismissed product dropped: {:?}",
        ids(&after)
    );
    if let Some(again) = after
        .recommendations
        .iter()
        .find(|r| r.product_id == top.product_id)
    {
        assert!(again.score < top.score);
    }

    // Accepts lift the last-ranked product's estimate above its prior.
    let last = before.recommendations.last().unwrap().clone();
    let mut b = bandit();
    for _ in 0..5 {
        b.apply_feedback(
            last.product_id.as_str(),
            &last.context,
            last.prior,
            &[],
            EventKind::Accept,
        );
    }
    let after = run(&e, &fx, &b, 10);
    let pos = after
        .recommendations
        .iter()
        .position(|r| r.product_id == last.product_id)
        .unwrap();
    assert!(after.recommendations[pos].propensity > 0.5);
    assert!(pos < before.recommendations.len() - 1, "{:?}", ids(&after));
}

#[test]
fn one_product_per_family_and_limit_respected() {
    let fx = Fx::new();
    for limit in [0, 1, 3, 10, 50] {
        let o = run(&engine(), &fx, &bandit(), limit);
        assert!(o.recommendations.len() <= limit.clamp(1, 10));
        assert!(!o.recommendations.is_empty());
        let mut fam: Vec<_> = o.recommendations.iter().map(|r| r.family).collect();
        fam.sort();
        fam.dedup();
        assert_eq!(fam.len(), o.recommendations.len(), "{:?}", ids(&o));
        let scores: Vec<f64> = o.recommendations.iter().map(|r| r.score).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]));
    }
}

// ---- review ---------------------------------------------------------------------------------

#[test]
fn high_credit_amount_goes_to_review() {
    let mut fx = Fx::new();
    fx.set_feature("income_annual", 90_000.0);
    fx.set_feature("monthly_income", 7_500.0);
    let o = run(&engine(), &fx, &bandit(), 10);
    let m = o
        .recommendations
        .iter()
        .find(|r| r.family == ProductFamily::Mortgage)
        .expect("a mortgage is offered");
    match m.review {
        Some(ReviewReason::HighImpact {
            credit_amount,
            threshold,
        }) => {
            assert!(credit_amount >= 250_000.0);
            assert_eq!(threshold, 25_000.0);
        }
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn no_automated_decision_consent_sends_credit_to_review() {
    let mut fx = Fx::new();
    fx.consents.automated_decisions = false;
    let o = run(&engine(), &fx, &bandit(), 10);
    let credit = [
        ProductFamily::CreditCard,
        ProductFamily::PersonalLoan,
        ProductFamily::AutoLoan,
    ];
    let mut seen = 0;
    for r in &o.recommendations {
        if credit.contains(&r.family) {
            assert_eq!(
                r.review,
                Some(ReviewReason::NoAutomatedDecisionConsent),
                "{}",
                r.product_id
            );
            seen += 1;
        } else if r.family != ProductFamily::Mortgage {
            assert_eq!(r.review, None, "{}", r.product_id);
        }
    }
    assert!(seen >= 2, "{:?}", ids(&o));
}

#[test]
fn low_confidence_and_active_learning_samples() {
    let strict = DEMO_RULES.replacen("min_confidence = 0.35", "min_confidence = 0.99", 1);
    let e = engine_with(Rules::from_toml(&strict, &catalog()).unwrap());
    let o = run(&e, &Fx::new(), &bandit(), 10);
    let sav = o
        .recommendations
        .iter()
        .find(|r| r.family == ProductFamily::Savings)
        .unwrap();
    assert!(
        matches!(sav.review, Some(ReviewReason::LowConfidence { threshold, .. }) if threshold == 0.99)
    );

    let conf = sav.confidence;
    let sampled = DEMO_RULES
        .replacen(
            "min_confidence = 0.35",
            &format!("min_confidence = {:.2}", conf - 0.05),
            1,
        )
        .replacen(
            "sample_uncertain_share = 0.05",
            "sample_uncertain_share = 1.0",
            1,
        );
    let e = engine_with(Rules::from_toml(&sampled, &catalog()).unwrap());
    let o = run(&e, &Fx::new(), &bandit(), 10);
    let sav = o
        .recommendations
        .iter()
        .find(|r| r.family == ProductFamily::Savings)
        .unwrap();
    assert_eq!(sav.review, Some(ReviewReason::ActiveLearningSample));
}

// ---- explanations, model, cold start, determinism ---------------------------------------------

#[test]
fn explanations_use_only_reason_numbers() {
    let mut fx = Fx::new();
    fx.propensity
        .insert(ProductFamily::Savings, (0.4, "propensity_savings:3".into()));
    fx.shap.insert(
        ProductFamily::Savings,
        vec!["savings_rate is high (0.18)".into()],
    );
    let o = run(&engine(), &fx, &bandit(), 10);
    for r in &o.recommendations {
        assert!(
            r.explanation
                .starts_with(&format!("We suggest {} because ", r.product_name))
        );
        let rest = r.explanation.replacen(&r.product_name, "", 1);
        let values: Vec<f64> = r.reasons.iter().filter_map(|x| x.value).collect();
        for n in rest
            .split(|c: char| !c.is_ascii_digit() && c != '.')
            .filter_map(|t| t.trim_matches('.').parse::<f64>().ok())
        {
            assert!(
                values.contains(&n),
                "{n} in {:?} not in {values:?}",
                r.explanation
            );
        }
    }
    let sav = o
        .recommendations
        .iter()
        .find(|r| r.family == ProductFamily::Savings)
        .unwrap();
    assert_eq!(sav.prior, 0.4);
    assert_eq!(sav.detail.scores.model, Some(0.4));
    assert!(sav.sources.contains(&Source::Model));
    assert!(
        sav.reasons
            .iter()
            .any(|r| r.code == "model:savings_rate is high (0.18)")
    );
    let high = sav
        .reasons
        .iter()
        .find(|r| r.code == "high_savings_rate")
        .unwrap();
    assert_eq!(
        (high.value, high.text.as_str()),
        (Some(18.0), "you save 18% of your income")
    );
    assert!(
        sav.explanation.contains("you save 18% of your income"),
        "{}",
        sav.explanation
    );
}

#[test]
fn persona_rules_boost_and_explain() {
    let mut fx = Fx::new();
    fx.customer.age = 70;
    fx.set_feature("age", 70.0);
    fx.tags = Some(PersonaTags {
        risk_appetite: "cautious".into(),
        spending_style: "balanced".into(),
        engagement: "low".into(),
        life_stage: "retired".into(),
    });
    let o = run(&engine(), &fx, &bandit(), 10);
    let td = o
        .recommendations
        .iter()
        .find(|r| r.family == ProductFamily::TermDeposit)
        .unwrap();
    assert!(td.sources.contains(&Source::Persona));
    assert!(td.reasons.iter().any(|r| r.code == "persona_retired"));
    assert!(td.detail.scores.persona > 0.0);
}

#[test]
fn cold_start_uses_popularity_and_persona() {
    let mut fx = Fx::new();
    fx.features = None;
    fx.holdings.clear();
    fx.tags = Some(PersonaTags {
        risk_appetite: "balanced".into(),
        spending_style: "saver".into(),
        engagement: "medium".into(),
        life_stage: "building".into(),
    });
    let mut rows = Vec::new();
    for i in 0..20 {
        let mut held = vec![pid("P-CUR-BASIC")];
        if i % 2 == 0 {
            held.push(pid("P-SAV-GOAL"));
        }
        rows.push((held, Some("S1.2".to_string())));
    }
    let e = Engine::new(rules(), catalog(), CfModel::train(&rows));
    let o = run(&e, &fx, &bandit(), 10);
    assert!(o.cold_start);
    assert!(!o.recommendations.is_empty());
    for r in &o.recommendations {
        assert!(!r.sources.contains(&Source::Content));
        assert_eq!(r.detail.scores.content, 0.0);
    }
    let goal = o
        .recommendations
        .iter()
        .find(|r| r.product_id.as_str() == "P-SAV-GOAL")
        .unwrap();
    assert!(goal.sources.contains(&Source::Popularity));
    assert!(goal.sources.contains(&Source::Persona));
    assert_eq!(goal.detail.scores.popularity, 0.5);
    assert!(
        goal.reasons
            .iter()
            .any(|r| r.code == "popular_with_similar_customers")
    );
    // A warm customer is not cold.
    assert!(!run(&e, &Fx::new(), &bandit(), 3).cold_start);
}

#[test]
fn collaborative_evidence_names_the_held_product() {
    // Giro Basic is held by 10 of 25 customers (not ubiquitous), and all of them hold TD-12.
    let mut rows = Vec::new();
    for _ in 0..10 {
        rows.push((vec![pid("P-CUR-BASIC"), pid("P-TD-12")], None));
    }
    for _ in 0..15 {
        rows.push((vec![pid("P-CUR-PLUS")], None));
    }
    let e = Engine::new(rules(), catalog(), CfModel::train(&rows));
    let o = run(&e, &Fx::new(), &bandit(), 10);
    let td = o
        .recommendations
        .iter()
        .find(|r| r.family == ProductFamily::TermDeposit)
        .unwrap();
    let r = td
        .reasons
        .iter()
        .find(|r| r.code == "similar_customers")
        .unwrap();
    assert_eq!(r.text, "customers who hold Giro Basic often choose it too");
    assert!(td.sources.contains(&Source::Collaborative));

    // When nearly everyone holds Giro Basic it is no evidence, and no such reason is given.
    let mut rows = Vec::new();
    for _ in 0..10 {
        rows.push((vec![pid("P-CUR-BASIC"), pid("P-TD-12")], None));
    }
    let e = Engine::new(rules(), catalog(), CfModel::train(&rows));
    let o = run(&e, &Fx::new(), &bandit(), 10);
    assert!(
        o.recommendations
            .iter()
            .flat_map(|r| &r.reasons)
            .all(|r| r.code != "similar_customers"),
        "{o:?}"
    );
}

#[test]
fn same_inputs_same_outcome() {
    let mut fx = Fx::new();
    fx.event(EventKind::Impression, "P-AUTO", 3);
    let e = engine();
    let mut b = bandit();
    b.apply_feedback("P-TD-12", &[1.0; 8], 0.1, &[], EventKind::Click);
    let a = serde_json::to_string(&run(&e, &fx, &b, 5)).unwrap();
    let c = serde_json::to_string(&run(&e, &fx, &b, 5)).unwrap();
    assert_eq!(a, c);
    let back: Outcome = serde_json::from_str(&a).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), a);
}
