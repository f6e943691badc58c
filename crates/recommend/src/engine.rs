//! The next-best-action engine: candidates → ranking → guardrails → review → explanation.
//!
//! 1. **Candidates**: every active catalog product with a `[products.X]` rule (others are never
//!    offered), scored by
//!    - *persona*: summed weights of the segment rules matching the customer's persona tags or
//!      segment that boost the product, capped at 1;
//!    - *content*: the product family against the customer's features ,
//!      0..1, and 0 without features (formulas on `content_score`);
//!    - *collaborative*: [`CfModel::score`] over the products held;
//!    - *popularity*: the product's share in the customer's segment, else overall.
//! 2. **Prior** propensity: the family's propensity-model probability when given; otherwise
//!    `0.02 + 0.28 · (0.35·persona + 0.35·content + 0.2·collaborative + 0.1·popularity)`, a
//!    plausible acceptance rate between 2% and 30%.
//! 3. **Bandit**: LinUCB residual on the prior per product arm; `score = (estimate + bonus) × value`.
//! 4. **Ranking** by score (ties by product id), picking greedily with at most one product per
//!    family (diversity).
//! 5. **Guardrails after ranking**, walking the ranked list until `limit` products pass: a
//!    marketing opt-out or contact fatigue blocks every candidate (with `Consent` / `Fatigue`);
//!    otherwise each product is checked in the order AlreadyHeld, Eligibility, Suitability,
//!    Affordability, Consent, NotInterested, FrequencyCap, and the first failure blocks it (it is
//!    reported in [`Outcome::blocked`] and the next product takes the slot). Suitability (product
//!    risk ≤ customer risk profile) is always enforced.
//! 6. **Review**: [`ReviewReason`] in this order: credit amount above the threshold, confidence
//!    below the minimum, a credit product without automated-decisions consent, and a
//!    deterministic active-learning sample of uncertain decisions.
//! 7. **Explanation**: one sentence from the two strongest reasons; every number in a reason's
//!    text is that reason's `value`.
//!
//! Confidence: `0.5 · evidence + 0.5 / (1 + width)` where `evidence` is 1.0 with a model
//! probability, 0.7 with features only, 0.4 with neither, and `width` is the bandit's
//! uncertainty for this context (it shrinks as the arm learns).
//!
//! Cold start (no features and nothing held): persona rules and popularity only;
//! `Outcome::cold_start` is set.

use crate::bandit::{Bandit, BanditScore, Context, major};
use crate::cf::{CfEvidence, CfModel};
use crate::eval::mix64;
use crate::rules::{Condition, ProductRule, Rules};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sextant_core::{
    Account, AccountKind, AccountStatus, ConsentPurpose, ConsentState, Customer, CustomerEvent,
    EventKind, Product, ProductFamily, ProductId,
};
use sextant_features::FeatureVector;
use std::collections::{BTreeMap, BTreeSet};

/// A customer's persona tags (as `crates/segment` derives them for their segment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonaTags {
    /// cautious | balanced | adventurous
    pub risk_appetite: String,
    /// saver | balanced | spender
    pub spending_style: String,
    /// low | medium | high
    pub engagement: String,
    /// starting out | building | established | retired
    pub life_stage: String,
}

/// Everything the engine knows about one customer at `now`.
#[derive(Debug, Clone, Copy)]
pub struct CustomerContext<'a> {
    pub customer: &'a Customer,
    /// `None`: no profiling consent, or none computed.
    pub features: Option<&'a FeatureVector>,
    /// The customer's segment id (`S1.2`).
    pub segment: Option<&'a str>,
    pub persona_tags: Option<&'a PersonaTags>,
    /// The customer's accounts; held = status open and no closing date.
    pub holdings: &'a [Account],
    pub consents: &'a ConsentState,
    /// This customer's feedback events, any order.
    pub history: &'a [CustomerEvent],
    /// Propensity-model probability per family, with the model's name and version.
    pub propensity: &'a BTreeMap<ProductFamily, (f64, String)>,
    /// Reason codes of those models (strongest first).
    pub shap_reasons: &'a BTreeMap<ProductFamily, Vec<String>>,
    pub now: DateTime<Utc>,
    /// Salt for deterministic active-learning sampling.
    pub salt: u64,
}

/// What the caller asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// How many recommendations, 1..=10 (clamped).
    pub limit: usize,
    /// Where they will be shown (recorded by the caller; the engine does not vary by channel).
    pub channel: String,
    /// How candidates are ranked (an experiment's arm may ask for a baseline).
    #[serde(default)]
    pub strategy: Strategy,
}

/// How candidates are ranked. Guardrails apply whatever the strategy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Propensity (model, persona, content, collaborative, bandit) × value.
    #[default]
    Engine,
    /// The baseline: the product's popularity in the customer's segment × value.
    Popularity,
}

/// Where a recommendation's evidence came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Persona,
    Content,
    Collaborative,
    Popularity,
    Model,
}

/// A reason for a recommendation: a stable code, a customer-facing clause, and the feature and
/// value behind it (every number in `text` is `value`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub text: String,
    pub feature: Option<String>,
    pub value: Option<f64>,
}

/// The candidate scores behind a recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub persona: f64,
    pub content: f64,
    pub collaborative: f64,
    pub popularity: f64,
    /// The propensity model's probability, when one was given.
    pub model: Option<f64>,
}

/// Everything a regulator needs to reconstruct the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegulatorDetail {
    /// Every guardrail passed, with its figures.
    pub rules_passed: Vec<String>,
    /// The customer values the engine read.
    pub feature_values: Vec<(String, f64)>,
    pub scores: Scores,
    pub bandit: BanditScore,
    pub rules_version: String,
}

/// Why a recommendation must go to a human instead of the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ReviewReason {
    HighImpact { credit_amount: f64, threshold: f64 },
    LowConfidence { confidence: f64, threshold: f64 },
    NoAutomatedDecisionConsent,
    ActiveLearningSample,
}

/// The guardrail that blocked a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guardrail {
    Eligibility,
    Suitability,
    Affordability,
    Consent,
    AlreadyHeld,
    FrequencyCap,
    Fatigue,
    NotInterested,
}

/// A ranked candidate a guardrail removed, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blocked {
    pub product_id: ProductId,
    pub guardrail: Guardrail,
    pub reason: String,
}

/// One recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub product_id: ProductId,
    pub product_name: String,
    pub family: ProductFamily,
    /// `(estimate + bonus) × value`: the rank key.
    pub score: f64,
    /// The bandit's estimate, 0..1.
    pub propensity: f64,
    /// The propensity before the bandit (what the bandit learns the residual of).
    pub prior: f64,
    /// Expected annual margin if accepted (rules).
    pub value: f64,
    /// 0..1, see the module docs.
    pub confidence: f64,
    pub sources: Vec<Source>,
    /// Strongest first.
    pub reasons: Vec<Reason>,
    /// One short customer-facing sentence built only from `reasons`.
    pub explanation: String,
    pub detail: RegulatorDetail,
    /// `Some`: must go to a human, not the customer.
    pub review: Option<ReviewReason>,
    /// The bandit context used (store it for feedback).
    pub context: Vec<f64>,
}

/// The engine's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// At most `limit`, best first, at most one per family.
    pub recommendations: Vec<Recommendation>,
    /// Every candidate a guardrail removed, in rank order.
    pub blocked: Vec<Blocked>,
    pub cold_start: bool,
    pub rules_version: String,
}

/// The engine: rules, catalog and the collaborative model.
#[derive(Debug, Clone)]
pub struct Engine {
    rules: Rules,
    catalog: Vec<Product>,
    cf: CfModel,
}

/// Customer facts gathered once per request.
struct Facts<'a> {
    ctx: &'a CustomerContext<'a>,
    age: f64,
    /// Annual income, major units: the `income_annual` feature, else the profile.
    income: f64,
    /// Monthly income: the `monthly_income` feature when positive, else income / 12.
    monthly_income: f64,
    held: Vec<&'a Account>,
    held_kinds: BTreeSet<AccountKind>,
    held_products: Vec<ProductId>,
    cold_start: bool,
}

impl<'a> Facts<'a> {
    fn new(ctx: &'a CustomerContext<'a>) -> Self {
        let feature = |n: &str| {
            ctx.features
                .and_then(|f| f.get(n))
                .filter(|v| v.is_finite())
        };
        let income = feature("income_annual").unwrap_or_else(|| major(ctx.customer.income));
        let monthly_income = feature("monthly_income")
            .filter(|m| *m > 0.0)
            .unwrap_or(income / 12.0);
        let held: Vec<&Account> = ctx
            .holdings
            .iter()
            .filter(|a| a.status == AccountStatus::Open && a.closed_on.is_none())
            .collect();
        Facts {
            ctx,
            age: f64::from(ctx.customer.age),
            income,
            monthly_income,
            held_kinds: held.iter().map(|a| a.kind).collect(),
            held_products: held.iter().filter_map(|a| a.product_id.clone()).collect(),
            cold_start: ctx.features.is_none() && held.is_empty(),
            held,
        }
    }

    fn feature(&self, name: &str) -> Option<f64> {
        self.ctx
            .features
            .and_then(|f| f.get(name))
            .filter(|v| v.is_finite())
    }

    fn holds(&self, kind: AccountKind) -> bool {
        self.held_kinds.contains(&kind)
    }

    /// Balance in held savings accounts, major units.
    fn savings_balance(&self) -> f64 {
        self.held
            .iter()
            .filter(|a| a.kind == AccountKind::Savings)
            .map(|a| major(a.balance).max(0.0))
            .sum()
    }
}

/// A reason with its strength (for ordering; not published).
type Weighted = (f64, Reason);

fn reason(
    strength: f64,
    code: &str,
    text: String,
    feature: Option<&str>,
    value: Option<f64>,
) -> Weighted {
    (
        strength,
        Reason {
            code: code.to_string(),
            text,
            feature: feature.map(str::to_string),
            value,
        },
    )
}

/// A share as a whole percentage, for text and value alike.
fn pct(share: f64) -> f64 {
    (share * 100.0).round()
}

/// Content score of a family for the customer (0..1), with its reasons. Per family:
/// - savings: `min(1, savings_rate / 0.2)` when saving and no savings account is held;
/// - term deposit: 0.5 if ≥ 5000 in savings + 0.3 if balance volatility < 0.25 + 0.2 if age ≥ 50;
/// - credit card: `0.5·min(1, discretionary/0.4) + 0.3·min(1, travel/0.15) + 0.2·engagement/2`
///   when no card is held;
/// - personal loan: `max(−2·savings_rate, 2·(utilization − 0.5))`, clamped;
/// - mortgage (no mortgage, age 25–55, income ≥ 45000): `0.3 + 0.4·[housing ≥ 25%] + 0.3·min(1, income/90000)`;
/// - auto loan: `min(1, transport share / 0.2)`;
/// - investment: `0.4·min(1, income/100000) + 0.4·risk/2 + 0.2·[savings_rate ≥ 0.1]`;
/// - insurance: `0.6·[mortgage held] + 0.2·[age ≥ 30] + 0.2·[housing ≥ 20%]`;
/// - current: 0.9 when no current account is held.
///
/// Without features the content score is 0 (the customer is matched by persona and popularity).
fn content_score(family: ProductFamily, f: &Facts) -> (f64, Vec<Weighted>) {
    if f.ctx.features.is_none() {
        return (0.0, Vec::new());
    }
    let g = |n: &str| f.feature(n).unwrap_or(0.0);
    let mut rs = Vec::new();
    let score = match family {
        ProductFamily::Savings => savings(f, &mut rs),
        ProductFamily::TermDeposit => {
            let (bal, vol) = (f.savings_balance(), f.feature("balance_volatility"));
            if bal >= 5000.0 {
                rs.push(reason(
                    0.5,
                    "savings_balance",
                    "you keep money in savings you may not need right away".into(),
                    None,
                    None,
                ));
            }
            if vol.is_some_and(|v| v < 0.25) {
                rs.push(reason(
                    0.3,
                    "stable_balance",
                    "your balance stays steady".into(),
                    Some("balance_volatility"),
                    vol,
                ));
            }
            0.5 * flag(bal >= 5000.0)
                + 0.3 * flag(vol.is_some_and(|v| v < 0.25))
                + 0.2 * flag(f.age >= 50.0)
        }
        ProductFamily::CreditCard => card(f, &mut rs),
        ProductFamily::PersonalLoan => loan(f, &mut rs),
        ProductFamily::Mortgage => {
            let housing = g("spend_share_housing");
            if f.holds(AccountKind::Mortgage)
                || !(25.0..=55.0).contains(&f.age)
                || f.income < 45_000.0
            {
                0.0
            } else {
                if housing >= 0.25 {
                    let v = pct(housing);
                    rs.push(reason(
                        0.6,
                        "housing_spend",
                        format!("{v}% of your spending goes on housing"),
                        Some("spend_share_housing"),
                        Some(v),
                    ));
                }
                0.3 + 0.4 * flag(housing >= 0.25) + 0.3 * (f.income / 90_000.0).min(1.0)
            }
        }
        ProductFamily::AutoLoan => {
            let t = g("spend_share_transport");
            if t >= 0.08 {
                let v = pct(t);
                rs.push(reason(
                    t / 0.2,
                    "transport_spend",
                    format!("you spend {v}% of your budget on transport"),
                    Some("spend_share_transport"),
                    Some(v),
                ));
            }
            (t / 0.2).min(1.0)
        }
        ProductFamily::Investment => invest(f, &mut rs),
        ProductFamily::Insurance => {
            let m = f.holds(AccountKind::Mortgage);
            if m {
                rs.push(reason(
                    0.6,
                    "holds_mortgage",
                    "you have a mortgage to protect".into(),
                    Some("has_mortgage"),
                    None,
                ));
            }
            0.6 * flag(m) + 0.2 * flag(f.age >= 30.0) + 0.2 * flag(g("spend_share_housing") >= 0.2)
        }
        ProductFamily::Current => {
            let none = !f.holds(AccountKind::Current);
            if none {
                rs.push(reason(
                    0.9,
                    "no_current_account",
                    "you do not have a current account with us yet".into(),
                    None,
                    None,
                ));
            }
            0.9 * flag(none)
        }
    };
    for r in &mut rs {
        r.0 = r.0.clamp(0.0, 1.0);
    }
    (score.clamp(0.0, 1.0), rs)
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

fn savings(f: &Facts, rs: &mut Vec<Weighted>) -> f64 {
    let Some(s) = f.feature("savings_rate") else {
        return 0.0;
    };
    if f.holds(AccountKind::Savings) || s <= 0.0 {
        return 0.0;
    }
    let score = (s / 0.2).min(1.0);
    if s >= 0.05 {
        let v = pct(s);
        rs.push(reason(
            score,
            "high_savings_rate",
            format!("you save {v}% of your income"),
            Some("savings_rate"),
            Some(v),
        ));
    }
    score
}

fn card(f: &Facts, rs: &mut Vec<Weighted>) -> f64 {
    if f.holds(AccountKind::CreditCard) {
        return 0.0;
    }
    let d = f.feature("discretionary_share").unwrap_or(0.0);
    let t = f.feature("spend_share_travel").unwrap_or(0.0);
    let e = f.feature("engagement_score").unwrap_or(0.0) / 2.0;
    if d >= 0.25 {
        let v = pct(d);
        rs.push(reason(
            d / 0.4,
            "card_like_spend",
            format!("{v}% of your spending is on dining, travel, shopping and entertainment"),
            Some("discretionary_share"),
            Some(v),
        ));
    }
    if t >= 0.08 {
        let v = pct(t);
        rs.push(reason(
            t / 0.15,
            "travel_spend",
            format!("you spend {v}% of your budget on travel"),
            Some("spend_share_travel"),
            Some(v),
        ));
    }
    if e >= 0.5 {
        rs.push(reason(
            0.2 * e,
            "engaged_customer",
            "you use your account actively".into(),
            Some("engagement_score"),
            None,
        ));
    }
    0.5 * (d / 0.4).min(1.0) + 0.3 * (t / 0.15).min(1.0) + 0.2 * e
}

fn loan(f: &Facts, rs: &mut Vec<Weighted>) -> f64 {
    let s = f.feature("savings_rate").unwrap_or(0.0);
    let u = f.feature("credit_utilization").unwrap_or(0.0);
    if u >= 0.6 {
        let v = pct(u);
        rs.push(reason(
            2.0 * (u - 0.5),
            "high_credit_utilization",
            format!("you use {v}% of your card limits"),
            Some("credit_utilization"),
            Some(v),
        ));
    }
    if s < 0.0 {
        rs.push(reason(
            -2.0 * s,
            "spending_exceeds_income",
            "your spending is above your income".into(),
            Some("savings_rate"),
            None,
        ));
    }
    (-2.0 * s).max(2.0 * (u - 0.5)).clamp(0.0, 1.0)
}

fn invest(f: &Facts, rs: &mut Vec<Weighted>) -> f64 {
    let risk = f
        .feature("risk_profile_score")
        .unwrap_or(match f.ctx.customer.risk_profile {
            sextant_core::RiskProfile::Low => 0.0,
            sextant_core::RiskProfile::Medium => 1.0,
            sextant_core::RiskProfile::High => 2.0,
        });
    let s = f.feature("savings_rate").unwrap_or(0.0);
    if risk >= 1.0 {
        rs.push(reason(
            0.4 * risk / 2.0 + 0.2,
            "open_to_investment_risk",
            "you told us you are open to investment risk".into(),
            Some("risk_profile_score"),
            None,
        ));
    }
    if f.income >= 35_000.0 {
        rs.push(reason(
            0.4 * (f.income / 100_000.0).min(1.0),
            "income_supports_investing",
            "your income leaves room for long-term investing".into(),
            Some("income_annual"),
            None,
        ));
    }
    0.4 * (f.income / 100_000.0).min(1.0) + 0.4 * risk / 2.0 + 0.2 * flag(s >= 0.1)
}

/// Whether a segment rule's condition holds for the customer.
fn matches(c: &Condition, tags: Option<&PersonaTags>, segment: Option<&str>) -> bool {
    let tag = |want: &Option<String>, have: Option<&String>| match want {
        None => true,
        Some(w) => have.is_some_and(|h| h.eq_ignore_ascii_case(w)),
    };
    let seg_ok = match &c.segment {
        None => true,
        Some(s) => segment.is_some_and(|g| g == s || g.starts_with(&format!("{s}."))),
    };
    seg_ok
        && tag(&c.risk_appetite, tags.map(|t| &t.risk_appetite))
        && tag(&c.spending_style, tags.map(|t| &t.spending_style))
        && tag(&c.engagement, tags.map(|t| &t.engagement))
        && tag(&c.life_stage, tags.map(|t| &t.life_stage))
}

/// The customer-facing clause of a matched persona condition.
fn persona_reason(c: &Condition, weight: f64) -> Weighted {
    let (code, text) = if let Some(v) = &c.life_stage {
        let phrase = match v.as_str() {
            "starting out" => "just starting out",
            "building" => "building up their finances",
            "established" => "financially established",
            _ => "retired",
        };
        (v.clone(), format!("it suits customers who are {phrase}"))
    } else if let Some(v) = &c.spending_style {
        let phrase = match v.as_str() {
            "saver" => "like to save",
            "spender" => "like to spend",
            _ => "keep a balanced budget",
        };
        (v.clone(), format!("it suits customers who {phrase}"))
    } else if let Some(v) = &c.risk_appetite {
        (
            v.clone(),
            format!("it suits customers with a {v} attitude to risk"),
        )
    } else if let Some(v) = &c.engagement {
        (
            format!("{v}_engagement"),
            "it suits customers who bank the way you do".into(),
        )
    } else {
        ("segment".to_string(), "it suits customers like you".into())
    };
    reason(
        weight,
        &format!("persona_{}", code.replace(' ', "_")),
        text,
        None,
        None,
    )
}

impl Engine {
    /// An engine over validated rules, the catalog and a collaborative model.
    pub fn new(rules: Rules, catalog: Vec<Product>, cf: CfModel) -> Self {
        Engine { rules, catalog, cf }
    }

    /// The rules in use.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The bandit context and every offerable product's prior propensity for this customer,
    /// before the bandit and the guardrails: what feedback about an offer should teach the bandit
    /// (used to replay past feedback, e.g. in offline evaluation).
    pub fn priors(
        &self,
        ctx: &CustomerContext,
        bandit: &Bandit,
    ) -> (Vec<f64>, Vec<(ProductId, f64)>) {
        let facts = Facts::new(ctx);
        let x = Context::from_features(ctx.features, ctx.customer);
        let priors = self
            .catalog
            .iter()
            .filter(|p| p.active)
            .filter_map(|p| Some((p, self.rules.product(&p.id)?)))
            .map(|(p, rule)| {
                (
                    p.id.clone(),
                    self.candidate(p, rule, &facts, bandit, &x).prior,
                )
            })
            .collect();
        (x.as_slice().to_vec(), priors)
    }

    /// Rank, guard and explain next best actions for one customer (pure: same inputs, same
    /// outcome).
    pub fn recommend(&self, ctx: &CustomerContext, bandit: &Bandit, req: &Request) -> Outcome {
        let facts = Facts::new(ctx);
        let x = Context::from_features(ctx.features, ctx.customer);
        let mut ranked: Vec<Candidate> = self
            .catalog
            .iter()
            .filter(|p| p.active)
            .filter_map(|p| Some((p, self.rules.product(&p.id)?)))
            .map(|(p, rule)| self.candidate(p, rule, &facts, bandit, &x))
            .collect();
        if req.strategy == Strategy::Popularity {
            for c in &mut ranked {
                c.score = c.scores.popularity * c.rule.value;
            }
        }
        ranked.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.product.id.cmp(&b.product.id))
        });
        let mut out = Outcome {
            recommendations: Vec::new(),
            blocked: Vec::new(),
            cold_start: facts.cold_start,
            rules_version: self.rules.version.clone(),
        };
        if let Some((guardrail, reason)) = self.global_block(&facts) {
            out.blocked = ranked
                .iter()
                .map(|c| Blocked {
                    product_id: c.product.id.clone(),
                    guardrail,
                    reason: reason.clone(),
                })
                .collect();
            return out;
        }
        let limit = req.limit.clamp(1, 10);
        let mut families = BTreeSet::new();
        for c in ranked {
            if out.recommendations.len() >= limit {
                break;
            }
            if families.contains(&c.product.family) {
                continue;
            }
            match self.guard(&c, &facts) {
                Err((guardrail, reason)) => out.blocked.push(Blocked {
                    product_id: c.product.id.clone(),
                    guardrail,
                    reason,
                }),
                Ok(passed) => {
                    families.insert(c.product.family);
                    out.recommendations.push(self.finish(c, passed, &facts, &x));
                }
            }
        }
        out
    }
}

/// A scored candidate before guardrails.
struct Candidate<'a> {
    product: &'a Product,
    rule: &'a ProductRule,
    scores: Scores,
    reasons: Vec<Weighted>,
    sources: Vec<Source>,
    prior: f64,
    bandit: BanditScore,
    score: f64,
}

type Check = Result<String, (Guardrail, String)>;

const CREDIT: [ProductFamily; 4] = [
    ProductFamily::CreditCard,
    ProductFamily::PersonalLoan,
    ProductFamily::Mortgage,
    ProductFamily::AutoLoan,
];

impl Engine {
    fn name_of(&self, id: &ProductId) -> String {
        self.catalog
            .iter()
            .find(|p| &p.id == id)
            .map_or_else(|| id.to_string(), |p| p.name.clone())
    }

    fn candidate<'a>(
        &self,
        product: &'a Product,
        rule: &'a ProductRule,
        f: &Facts,
        bandit: &Bandit,
        x: &Context,
    ) -> Candidate<'a> {
        let mut reasons = Vec::new();
        let mut sources = Vec::new();
        let persona = self.persona(product, f, &mut reasons);
        let (content, rs) = content_score(product.family, f);
        reasons.extend(rs);
        let (collaborative, evidence) = self.cf.score(&f.held_products, f.ctx.segment, &product.id);
        let (popularity, _) = self.cf.segment_popularity(f.ctx.segment, &product.id);
        if let Some(r) = self.cf_reason(&evidence, collaborative) {
            reasons.push(r);
        }
        let model = f
            .ctx
            .propensity
            .get(&product.family)
            .map(|(p, _)| p.clamp(0.0, 1.0));
        if model.is_some() {
            reasons.extend(model_reasons(f.ctx.shap_reasons.get(&product.family)));
        }
        self.income_reason(product, rule, f, &mut reasons);
        if reasons.is_empty() {
            reasons.push(reason(
                0.0,
                "fits_profile",
                "it fits your profile".into(),
                None,
                None,
            ));
        }
        for (on, s) in [
            (persona > 0.0, Source::Persona),
            (content > 0.0, Source::Content),
            (
                matches!(evidence, CfEvidence::SimilarHolding { .. }),
                Source::Collaborative,
            ),
            (popularity > 0.0, Source::Popularity),
            (model.is_some(), Source::Model),
        ] {
            if on {
                sources.push(s);
            }
        }
        let blend = 0.35 * persona + 0.35 * content + 0.2 * collaborative + 0.1 * popularity;
        let prior = model.unwrap_or(0.02 + 0.28 * blend.clamp(0.0, 1.0));
        let b = bandit.score(product.id.as_str(), x.as_slice(), prior);
        reasons.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.code.cmp(&b.1.code)));
        Candidate {
            product,
            rule,
            scores: Scores {
                persona,
                content,
                collaborative,
                popularity,
                model,
            },
            reasons,
            sources,
            prior,
            score: (b.estimate + b.bonus) * rule.value,
            bandit: b,
        }
    }

    fn persona(&self, product: &Product, f: &Facts, reasons: &mut Vec<Weighted>) -> f64 {
        let mut total = 0.0;
        for r in &self.rules.segment_rules {
            if r.boost.contains(&product.id) && matches(&r.when, f.ctx.persona_tags, f.ctx.segment)
            {
                total += r.weight;
                reasons.push(persona_reason(&r.when, r.weight));
            }
        }
        f64::min(total, 1.0)
    }

    fn cf_reason(&self, e: &CfEvidence, score: f64) -> Option<Weighted> {
        if score < 0.1 {
            return None;
        }
        Some(match e {
            CfEvidence::SimilarHolding { held, .. } => reason(
                score,
                "similar_customers",
                format!(
                    "customers who hold {} often choose it too",
                    self.name_of(held)
                ),
                None,
                None,
            ),
            CfEvidence::SegmentPopularity { .. } => reason(
                score,
                "popular_with_similar_customers",
                "it is popular with customers like you".into(),
                None,
                None,
            ),
            CfEvidence::Popularity { .. } => reason(
                0.5 * score,
                "popular",
                "it is one of our most popular products".into(),
                None,
                None,
            ),
            CfEvidence::None => return None,
        })
    }

    fn income_reason(&self, p: &Product, rule: &ProductRule, f: &Facts, rs: &mut Vec<Weighted>) {
        if let Some(min) = min_income(p, rule)
            && f.income >= min
        {
            rs.push(reason(
                0.05,
                "income_meets_minimum",
                "your income meets its requirements".into(),
                Some("income_annual"),
                None,
            ));
        }
    }

    /// A marketing opt-out or contact fatigue blocks every candidate.
    fn global_block(&self, f: &Facts) -> Option<(Guardrail, String)> {
        if !f.ctx.consents.allows(ConsentPurpose::Marketing) {
            return Some((
                Guardrail::Consent,
                "the customer has not consented to marketing".into(),
            ));
        }
        let w = self.rules.defaults.fatigue;
        let n = impressions(f.ctx, None, w.days, f.ctx.now);
        (n >= w.impressions as usize).then(|| {
            (
                Guardrail::Fatigue,
                format!(
                    "{n} offers shown in the last {} days reach the limit of {}",
                    w.days, w.impressions
                ),
            )
        })
    }

    /// Per-product guardrails in order; the figures of every check passed.
    fn guard(&self, c: &Candidate, f: &Facts) -> Result<Vec<String>, (Guardrail, String)> {
        let checks: [&dyn Fn() -> Check; 7] = [
            &|| already_held(c, f),
            &|| eligibility(c, f),
            &|| suitability(c, f),
            &|| self.affordability(c, f),
            &|| self.consent(c, f),
            &|| self.not_interested(c, f),
            &|| self.frequency(c, f),
        ];
        let mut passed = Vec::new();
        for check in checks {
            passed.extend(check()?.split("; ").map(str::to_string));
        }
        let w = self.rules.defaults.fatigue;
        passed.push(format!(
            "fatigue: {} of {} in {} days",
            impressions(f.ctx, None, w.days, f.ctx.now),
            w.impressions,
            w.days
        ));
        Ok(passed)
    }

    fn affordability(&self, c: &Candidate, f: &Facts) -> Check {
        let new = c.rule.monthly_payment;
        if new <= 0.0 {
            return Ok("affordability: no new monthly payment".into());
        }
        let max = c
            .rule
            .max_debt_to_income
            .unwrap_or(self.rules.defaults.max_debt_to_income);
        if f.monthly_income <= 0.0 {
            return Err((
                Guardrail::Affordability,
                "no monthly income to repay from".into(),
            ));
        }
        let existing = self.existing_payments(f);
        let dti = (existing + new) / f.monthly_income;
        if dti > max {
            Err((
                Guardrail::Affordability,
                format!(
                    "debt-to-income {dti:.2} after this product is above the limit {max:.2} (payments {:.0} of monthly income {:.0})",
                    existing + new,
                    f.monthly_income
                ),
            ))
        } else {
            Ok(format!("affordability: DTI {dti:.2} ≤ {max:.2}"))
        }
    }

    /// Existing monthly debt payments: for each credit account not closed, the rules'
    /// `monthly_payment` of its product when set, else estimated — card 3% of the amount owed,
    /// personal loan limit/48, auto loan limit/60, mortgage limit/240 (the owed balance when
    /// no limit is known).
    fn existing_payments(&self, f: &Facts) -> f64 {
        f.ctx
            .holdings
            .iter()
            .filter(|a| {
                a.kind.is_credit() && a.closed_on.is_none() && a.status != AccountStatus::Closed
            })
            .map(|a| {
                let configured = a
                    .product_id
                    .as_ref()
                    .and_then(|id| self.rules.product(id))
                    .map(|r| r.monthly_payment)
                    .filter(|m| *m > 0.0);
                let owed = (-major(a.balance)).max(0.0);
                let principal = a.limit.map(major).unwrap_or(owed);
                configured.unwrap_or(match a.kind {
                    AccountKind::CreditCard => 0.03 * owed,
                    AccountKind::PersonalLoan => principal / 48.0,
                    AccountKind::AutoLoan => principal / 60.0,
                    _ => principal / 240.0,
                })
            })
            .sum()
    }

    fn consent(&self, c: &Candidate, f: &Facts) -> Check {
        let mut needed: Vec<ConsentPurpose> = self.rules.defaults.required_consents.clone();
        needed.extend(c.rule.required_consents.iter().copied());
        needed.sort();
        needed.dedup();
        if let Some(p) = needed.iter().find(|p| !f.ctx.consents.allows(**p)) {
            return Err((
                Guardrail::Consent,
                format!("the customer has not consented to {p}"),
            ));
        }
        let names: Vec<&str> = needed.iter().map(|p| p.as_str()).collect();
        Ok(format!("consent: {} granted", names.join(", ")))
    }

    fn not_interested(&self, c: &Candidate, f: &Facts) -> Check {
        let days = self.rules.defaults.not_interested_days;
        let since = f.ctx.now - Duration::days(i64::from(days));
        let last = f
            .ctx
            .history
            .iter()
            .filter(|e| {
                e.kind == EventKind::Dismiss && e.product_id.as_ref() == Some(&c.product.id)
            })
            .filter(|e| e.timestamp > since && e.timestamp <= f.ctx.now)
            .map(|e| e.timestamp)
            .max();
        match last {
            Some(t) => Err((
                Guardrail::NotInterested,
                format!(
                    "dismissed {} days ago; hidden for {days} days after a dismissal",
                    (f.ctx.now - t).num_days()
                ),
            )),
            None => Ok(format!("not_interested: no dismissal in {days} days")),
        }
    }

    fn frequency(&self, c: &Candidate, f: &Facts) -> Check {
        let w = self.rules.defaults.frequency_cap;
        let n = impressions(f.ctx, Some(&c.product.id), w.days, f.ctx.now);
        if n >= w.impressions as usize {
            Err((
                Guardrail::FrequencyCap,
                format!(
                    "shown {n} times in the last {} days (cap {})",
                    w.days, w.impressions
                ),
            ))
        } else {
            Ok(format!(
                "frequency_cap: {n} of {} in {} days",
                w.impressions, w.days
            ))
        }
    }

    /// Confidence, review and explanation of a candidate that passed every guardrail.
    fn finish(&self, c: Candidate, passed: Vec<String>, f: &Facts, x: &Context) -> Recommendation {
        let evidence = if c.scores.model.is_some() {
            1.0
        } else if f.ctx.features.is_some() {
            0.7
        } else {
            0.4
        };
        let confidence = 0.5 * evidence + 0.5 / (1.0 + c.bandit.width);
        let review = self.review(&c, confidence, f);
        let reasons: Vec<Reason> = c.reasons.into_iter().map(|(_, r)| r).collect();
        Recommendation {
            product_id: c.product.id.clone(),
            product_name: c.product.name.clone(),
            family: c.product.family,
            score: c.score,
            propensity: c.bandit.estimate,
            prior: c.prior,
            value: c.rule.value,
            confidence,
            sources: c.sources,
            explanation: explanation(&c.product.name, &reasons),
            reasons,
            detail: RegulatorDetail {
                rules_passed: passed,
                feature_values: feature_values(f),
                scores: c.scores,
                bandit: c.bandit,
                rules_version: self.rules.version.clone(),
            },
            review,
            context: x.as_slice().to_vec(),
        }
    }

    fn review(&self, c: &Candidate, confidence: f64, f: &Facts) -> Option<ReviewReason> {
        let r = &self.rules.review;
        if c.rule.credit_amount > r.credit_amount_above {
            return Some(ReviewReason::HighImpact {
                credit_amount: c.rule.credit_amount,
                threshold: r.credit_amount_above,
            });
        }
        if confidence < r.min_confidence {
            return Some(ReviewReason::LowConfidence {
                confidence,
                threshold: r.min_confidence,
            });
        }
        if CREDIT.contains(&c.product.family)
            && !f.ctx.consents.allows(ConsentPurpose::AutomatedDecisions)
        {
            return Some(ReviewReason::NoAutomatedDecisionConsent);
        }
        let uncertain = confidence < r.min_confidence + 0.1;
        (uncertain && sample(f.ctx.salt, &c.product.id) < r.sample_uncertain_share)
            .then_some(ReviewReason::ActiveLearningSample)
    }
}

/// A deterministic uniform number in [0, 1) from the salt and the product id (FNV-1a, then
/// the splitmix64 finaliser).
fn sample(salt: u64, id: &ProductId) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_str().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    (mix64(salt ^ h) >> 11) as f64 / (1u64 << 53) as f64
}

/// Impressions of `product` (or of any product) within the last `days` days up to `now`.
fn impressions(
    ctx: &CustomerContext,
    product: Option<&ProductId>,
    days: u32,
    now: DateTime<Utc>,
) -> usize {
    let since = now - Duration::days(i64::from(days));
    ctx.history
        .iter()
        .filter(|e| e.kind == EventKind::Impression)
        .filter(|e| product.is_none() || e.product_id.as_ref() == product)
        .filter(|e| e.timestamp > since && e.timestamp <= now)
        .count()
}

fn min_income(p: &Product, rule: &ProductRule) -> Option<f64> {
    rule.min_income
        .or_else(|| p.min_income.map(major))
        .filter(|m| *m > 0.0)
}

fn already_held(c: &Candidate, f: &Facts) -> Check {
    if f.held_products.contains(&c.product.id) {
        return Err((Guardrail::AlreadyHeld, "already holds this product".into()));
    }
    if let Some(k) = c.rule.excludes.iter().find(|k| f.holds(**k)) {
        return Err((
            Guardrail::AlreadyHeld,
            format!("already holds a {k} account"),
        ));
    }
    Ok("already_held: no excluded account held".into())
}

fn eligibility(c: &Candidate, f: &Facts) -> Check {
    let age = f.ctx.customer.age;
    let rule = c.rule;
    let fail = |why: String| Err((Guardrail::Eligibility, why));
    if u32::from(age) < rule.min_age {
        return fail(format!("age {age} is below the minimum {}", rule.min_age));
    }
    if let Some(max) = rule.max_age
        && u32::from(age) > max
    {
        return fail(format!("age {age} is above the maximum {max}"));
    }
    let mut passed = vec![format!(
        "eligibility.age: {age} within {}..={}",
        rule.min_age,
        rule.max_age.map_or("".into(), |m| m.to_string())
    )];
    if let Some(min) = min_income(c.product, rule) {
        if f.income < min {
            return fail(format!(
                "income {:.0} is below the minimum {min:.0}",
                f.income
            ));
        }
        passed.push(format!(
            "eligibility.min_income: {:.0} ≥ {min:.0}",
            f.income
        ));
    }
    if let Some(k) = rule.requires.iter().find(|k| !f.holds(**k)) {
        return fail(format!(
            "requires a {k} account, which the customer does not hold"
        ));
    }
    if !rule.requires.is_empty() {
        let names: Vec<&str> = rule.requires.iter().map(|k| k.as_str()).collect();
        passed.push(format!("eligibility.requires: {} held", names.join(", ")));
    }
    Ok(passed.join("; "))
}

fn suitability(c: &Candidate, f: &Facts) -> Check {
    let (p, cust) = (c.product.risk_level, f.ctx.customer.risk_profile);
    if p > cust {
        Err((
            Guardrail::Suitability,
            format!("product risk {p} is above the customer's risk profile {cust}"),
        ))
    } else {
        Ok(format!("suitability: product {p} ≤ customer {cust}"))
    }
}

/// Reasons from the propensity model's reason codes (`"savings_rate is high (0.21)"`): the
/// code keeps the model's words; the customer text is generic (model words are not
/// customer-facing); feature and value are parsed from the code when present.
fn model_reasons(codes: Option<&Vec<String>>) -> Vec<Weighted> {
    codes
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, code)| {
            let feature = code.split_whitespace().next();
            let value = code
                .rsplit_once('(')
                .and_then(|(_, v)| v.trim_end_matches(')').parse::<f64>().ok());
            reason(
                0.45 - 0.05 * i as f64,
                &format!("model:{code}"),
                "your recent banking activity suggests it fits your needs".into(),
                feature,
                value,
            )
        })
        .collect()
}

/// "We suggest NAME because A and B." from the two strongest distinct reason texts.
fn explanation(name: &str, reasons: &[Reason]) -> String {
    let mut texts: Vec<&str> = Vec::new();
    for r in reasons {
        if !texts.contains(&r.text.as_str()) {
            texts.push(&r.text);
        }
        if texts.len() == 2 {
            break;
        }
    }
    format!("We suggest {name} because {}.", texts.join(" and "))
}

/// The customer values the engine read, for the regulator: age and income always, then the
/// features used by content scoring, context and affordability when available.
fn feature_values(f: &Facts) -> Vec<(String, f64)> {
    let mut out = vec![
        ("age".to_string(), f.age),
        ("income_annual".to_string(), f.income),
        ("monthly_income".to_string(), f.monthly_income),
    ];
    for name in [
        "savings_rate",
        "credit_utilization",
        "discretionary_share",
        "spend_share_travel",
        "spend_share_transport",
        "spend_share_housing",
        "balance_volatility",
        "engagement_score",
        "risk_profile_score",
        "has_credit_card",
    ] {
        if let Some(v) = f.feature(name) {
            out.push((name.to_string(), v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(code: &str, text: &str) -> Reason {
        Reason {
            code: code.into(),
            text: text.into(),
            feature: None,
            value: None,
        }
    }

    #[test]
    fn explanation_uses_two_distinct_reasons() {
        let rs = [
            r("a", "you save 18% of your income"),
            r("b", "x"),
            r("c", "y"),
        ];
        assert_eq!(
            explanation("Goal Saver", &rs),
            "We suggest Goal Saver because you save 18% of your income and x."
        );
        let rs = [r("a", "same"), r("b", "same")];
        assert_eq!(explanation("P", &rs), "We suggest P because same.");
    }

    #[test]
    fn model_reason_codes_parse_feature_and_value() {
        let codes = vec![
            "savings_rate is high (0.21)".to_string(),
            "x is missing".to_string(),
        ];
        let rs = model_reasons(Some(&codes));
        assert_eq!(rs[0].1.code, "model:savings_rate is high (0.21)");
        assert_eq!(rs[0].1.feature.as_deref(), Some("savings_rate"));
        assert_eq!(rs[0].1.value, Some(0.21));
        assert_eq!(rs[1].1.value, None);
        assert!(rs[0].0 > rs[1].0);
    }

    #[test]
    fn segment_conditions_match_hierarchically() {
        let c = Condition {
            segment: Some("S1".into()),
            ..Default::default()
        };
        assert!(matches(&c, None, Some("S1.2")));
        assert!(matches(&c, None, Some("S1")));
        assert!(!matches(&c, None, Some("S10.1")));
        assert!(!matches(&c, None, None));
    }

    #[test]
    fn sampling_is_deterministic_and_uniformish() {
        let id = ProductId::parse("P-CC-GOLD").unwrap();
        assert_eq!(sample(7, &id), sample(7, &id));
        let below = (0..10_000u64).filter(|s| sample(*s, &id) < 0.05).count();
        assert!((350..650).contains(&below), "{below}");
    }
}
