//! The bank's declarative rules file (`config/rules.toml`): which catalog products may be
//! offered, their value, eligibility, affordability and consent requirements, contact caps,
//! human-review thresholds, bandit settings and persona (segment) rules.
//!
//! The file is validated on load against the product catalog, and every problem is reported at
//! once, each naming where it is and why it is wrong:
//! `rules.toml: products.P-CC-GOLD.max_debt_to_income: 1.7 is not a share between 0 and 1`.
//!
//! A catalog product without a `[products.X]` entry is never a candidate: the bank opts products
//! in explicitly. Suitability (product risk ≤ customer risk profile) is not configurable here; the
//! engine always enforces it.

use crate::bandit::BanditConfig;
use serde::{Deserialize, Serialize};
use sextant_core::{AccountKind, ConsentPurpose, Product, ProductFamily, ProductId};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

/// The demo rules for the synthetic bank's catalog, shared by tests and the demo.
pub const DEMO_RULES: &str = include_str!("../../../config/rules.toml");

/// Every problem found in a rules file, one line each, `rules.toml: WHERE: WHY`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", errors.join("\n"))]
pub struct RulesError {
    pub errors: Vec<String>,
}

/// A count of contacts within a window of days (frequency cap and fatigue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub impressions: u32,
    pub days: u32,
}

/// `[defaults]`: what applies to every product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Defaults {
    /// Consents every offer needs; per-product lists add to them.
    pub required_consents: Vec<ConsentPurpose>,
    /// A dismissal hides that product this many days.
    pub not_interested_days: u32,
    /// Per product: at most `impressions` within `days`.
    pub frequency_cap: Window,
    /// All products together: at most `impressions` within `days`.
    pub fatigue: Window,
    /// (existing monthly debt payments + new) / monthly income must not exceed this.
    pub max_debt_to_income: f64,
}

/// `[review]`: when a decision goes to a human instead of the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// Credit offers extending more than this (major units) are reviewed.
    pub credit_amount_above: f64,
    /// Recommendations with a confidence below this are reviewed.
    pub min_confidence: f64,
    /// Share of decisions with confidence in `[min_confidence, min_confidence + 0.1)` sent to a
    /// human on purpose (active learning), chosen deterministically from the request's salt.
    pub sample_uncertain_share: f64,
}

/// `[products.X]`: one offerable product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRule {
    pub product_id: ProductId,
    /// Expected annual margin if accepted, major units (> 0).
    pub value: f64,
    pub min_age: u32,
    pub max_age: Option<u32>,
    /// Minimum annual income, major units: the rule's when set, else the catalog's.
    pub min_income: Option<f64>,
    /// Account kinds the customer must hold.
    pub requires: Vec<AccountKind>,
    /// Account kinds the customer must not hold (default: the product's own kind).
    pub excludes: Vec<AccountKind>,
    /// New monthly debt payment if accepted (loans: a typical installment), major units.
    pub monthly_payment: f64,
    /// Credit extended, major units (0 for non-credit products).
    pub credit_amount: f64,
    /// Consents needed on top of the defaults' list.
    pub required_consents: Vec<ConsentPurpose>,
    /// Overrides the default debt-to-income limit for this product.
    pub max_debt_to_income: Option<f64>,
}

/// Persona or segment conditions of a segment rule; all that are set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub risk_appetite: Option<String>,
    pub spending_style: Option<String>,
    pub engagement: Option<String>,
    pub life_stage: Option<String>,
    /// A segment id (`S1.2`) or a macro segment (`S1`, matching `S1.*`).
    pub segment: Option<String>,
}

/// `[[segment_rules]]`: boost products for customers matching `when`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRule {
    pub when: Condition,
    pub boost: Vec<ProductId>,
    /// Added to the persona score of the boosted products, 0..=1.
    pub weight: f64,
}

/// The validated rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    pub version: String,
    pub defaults: Defaults,
    pub review: Review,
    pub bandit: BanditConfig,
    pub products: BTreeMap<ProductId, ProductRule>,
    pub segment_rules: Vec<SegmentRule>,
}

/// Allowed persona tag values, per tag (as `crates/segment` names them).
pub const PERSONA_TAGS: &[(&str, &[&str])] = &[
    ("risk_appetite", &["cautious", "balanced", "adventurous"]),
    ("spending_style", &["saver", "balanced", "spender"]),
    ("engagement", &["low", "medium", "high"]),
    (
        "life_stage",
        &["starting out", "building", "established", "retired"],
    ),
];

// ---- raw file shapes (strings where we validate ourselves, to report every error) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTop {
    version: String,
    defaults: toml::Value,
    review: toml::Value,
    bandit: toml::Value,
    #[serde(default)]
    products: BTreeMap<String, toml::Value>,
    #[serde(default)]
    segment_rules: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    required_consents: Vec<String>,
    not_interested_days: u32,
    frequency_cap: Window,
    fatigue: Window,
    max_debt_to_income: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReview {
    credit_amount_above: f64,
    min_confidence: f64,
    sample_uncertain_share: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBandit {
    alpha: f64,
    max_exploration_share: f64,
}

fn default_min_age() -> u32 {
    18
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    value: f64,
    #[serde(default = "default_min_age")]
    min_age: u32,
    max_age: Option<u32>,
    min_income: Option<f64>,
    #[serde(default)]
    requires: Vec<String>,
    excludes: Option<Vec<String>>,
    #[serde(default)]
    monthly_payment: f64,
    #[serde(default)]
    credit_amount: f64,
    #[serde(default)]
    required_consents: Vec<String>,
    max_debt_to_income: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegmentRule {
    when: Condition,
    boost: Vec<String>,
    weight: f64,
}

/// Collects errors with the `rules.toml: ` prefix.
#[derive(Default)]
struct Errors(Vec<String>);

impl Errors {
    fn at(&mut self, path: &str, why: impl std::fmt::Display) {
        self.0.push(format!("rules.toml: {path}: {why}"));
    }

    /// `lo ≤ v ≤ hi` and finite, else "`v` is not WHAT".
    fn range(&mut self, path: &str, v: f64, lo: f64, hi: f64, what: &str) {
        if !(v.is_finite() && v >= lo && v <= hi) {
            self.at(path, format!("{v} is not {what}"));
        }
    }

    fn share(&mut self, path: &str, v: f64) {
        self.range(path, v, 0.0, 1.0, "a share between 0 and 1");
    }

    fn non_negative(&mut self, path: &str, v: f64) {
        self.range(path, v, 0.0, f64::MAX, "a non-negative amount");
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn section<T: serde::de::DeserializeOwned>(
    errs: &mut Errors,
    path: &str,
    v: toml::Value,
) -> Option<T> {
    match v.try_into::<T>() {
        Ok(t) => Some(t),
        Err(e) => {
            errs.at(path, e.message().trim());
            None
        }
    }
}

/// Parse a list of closed-enum names, reporting unknown names and duplicates.
fn parse_list<T: FromStr<Err = sextant_core::FieldError> + Ord + Copy>(
    errs: &mut Errors,
    path: &str,
    items: &[String],
) -> Vec<T> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for s in items {
        match s.parse::<T>() {
            Ok(v) if !seen.insert(v) => errs.at(path, format!("'{s}' is listed twice")),
            Ok(v) => out.push(v),
            Err(e) => errs.at(path, e),
        }
    }
    out
}

/// The account kind a customer holds when they hold a product of `family` (none for insurance).
pub fn account_kind_of(family: ProductFamily) -> Option<AccountKind> {
    Some(match family {
        ProductFamily::CreditCard => AccountKind::CreditCard,
        ProductFamily::PersonalLoan => AccountKind::PersonalLoan,
        ProductFamily::Mortgage => AccountKind::Mortgage,
        ProductFamily::AutoLoan => AccountKind::AutoLoan,
        ProductFamily::Savings => AccountKind::Savings,
        ProductFamily::TermDeposit => AccountKind::TermDeposit,
        ProductFamily::Investment => AccountKind::Investment,
        ProductFamily::Current => AccountKind::Current,
        ProductFamily::Insurance => return None,
    })
}

impl Rules {
    /// Parse and validate `text` against `catalog`, collecting every error.
    pub fn from_toml(text: &str, catalog: &[Product]) -> Result<Rules, RulesError> {
        let mut errs = Errors::default();
        if catalog.is_empty() {
            errs.0
                .push("rules.toml: the product catalog is empty: nothing could be offered".into());
        }
        let raw: RawTop = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
                errs.0
                    .push(format!("rules.toml: line {line}: {}", e.message().trim()));
                return Err(RulesError { errors: errs.0 });
            }
        };
        if raw.version.trim().is_empty() {
            errs.at("version", "must not be empty");
        }
        let defaults = parse_defaults(&mut errs, raw.defaults);
        let review = parse_review(&mut errs, raw.review);
        let bandit = parse_bandit(&mut errs, raw.bandit);
        // Keys present in the file (even if invalid), so one bad product is reported once.
        let configured: BTreeSet<String> = raw.products.keys().cloned().collect();
        let mut products = BTreeMap::new();
        for (key, v) in raw.products {
            if let Some(rule) = parse_product(&mut errs, &key, v, catalog) {
                products.insert(rule.product_id.clone(), rule);
            }
        }
        let mut segment_rules = Vec::new();
        for (i, v) in raw.segment_rules.into_iter().enumerate() {
            let path = format!("segment_rules[{i}]");
            if let Some(r) = parse_segment_rule(&mut errs, &path, v, catalog, &configured) {
                if segment_rules.iter().any(|s: &SegmentRule| s.when == r.when) {
                    errs.at(
                        &path,
                        "the same `when` as an earlier segment rule (merge them)",
                    );
                }
                segment_rules.push(r);
            }
        }
        match (defaults, review, bandit) {
            (Some(defaults), Some(review), Some(bandit)) if errs.0.is_empty() => Ok(Rules {
                version: raw.version,
                defaults,
                review,
                bandit,
                products,
                segment_rules,
            }),
            _ => Err(RulesError { errors: errs.0 }),
        }
    }

    /// The rule of a product; `None` means the product is never offered.
    pub fn product(&self, id: &ProductId) -> Option<&ProductRule> {
        self.products.get(id)
    }

    /// The rules' version, recorded on every decision.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The bandit settings of `[bandit]`.
    pub fn bandit_config(&self) -> BanditConfig {
        self.bandit.clone()
    }
}

fn parse_defaults(errs: &mut Errors, v: toml::Value) -> Option<Defaults> {
    let r: RawDefaults = section(errs, "defaults", v)?;
    let required_consents = parse_list(errs, "defaults.required_consents", &r.required_consents);
    if !(1..=3650).contains(&r.not_interested_days) {
        errs.at(
            "defaults.not_interested_days",
            format!("{} is not between 1 and 3650 days", r.not_interested_days),
        );
    }
    check_window(errs, "defaults.frequency_cap", r.frequency_cap);
    check_window(errs, "defaults.fatigue", r.fatigue);
    errs.share("defaults.max_debt_to_income", r.max_debt_to_income);
    Some(Defaults {
        required_consents,
        not_interested_days: r.not_interested_days,
        frequency_cap: r.frequency_cap,
        fatigue: r.fatigue,
        max_debt_to_income: r.max_debt_to_income,
    })
}

fn check_window(errs: &mut Errors, path: &str, w: Window) {
    if w.impressions == 0 {
        errs.at(&format!("{path}.impressions"), "must be at least 1");
    }
    if !(1..=365).contains(&w.days) {
        errs.at(
            &format!("{path}.days"),
            format!("{} is not between 1 and 365 days", w.days),
        );
    }
}

fn parse_review(errs: &mut Errors, v: toml::Value) -> Option<Review> {
    let r: RawReview = section(errs, "review", v)?;
    errs.non_negative("review.credit_amount_above", r.credit_amount_above);
    errs.share("review.min_confidence", r.min_confidence);
    errs.share("review.sample_uncertain_share", r.sample_uncertain_share);
    Some(Review {
        credit_amount_above: r.credit_amount_above,
        min_confidence: r.min_confidence,
        sample_uncertain_share: r.sample_uncertain_share,
    })
}

fn parse_bandit(errs: &mut Errors, v: toml::Value) -> Option<BanditConfig> {
    let r: RawBandit = section(errs, "bandit", v)?;
    errs.range("bandit.alpha", r.alpha, 0.0, 2.0, "between 0 and 2");
    errs.range(
        "bandit.max_exploration_share",
        r.max_exploration_share,
        0.0,
        0.5,
        "a share between 0 and 0.5",
    );
    Some(BanditConfig {
        alpha: r.alpha,
        max_exploration_share: r.max_exploration_share,
    })
}

fn parse_product(
    errs: &mut Errors,
    key: &str,
    v: toml::Value,
    catalog: &[Product],
) -> Option<ProductRule> {
    let path = format!("products.{key}");
    let Some(product) = catalog.iter().find(|p| p.id.as_str() == key) else {
        errs.at(&path, "no such product in the catalog");
        return None;
    };
    let r: RawProduct = section(errs, &path, v)?;
    let p = |field: &str| format!("{path}.{field}");
    errs.range(
        &p("value"),
        r.value,
        f64::MIN_POSITIVE,
        f64::MAX,
        "a positive amount",
    );
    if !(18..=120).contains(&r.min_age) {
        errs.at(
            &p("min_age"),
            format!("{} is not between 18 and 120", r.min_age),
        );
    }
    if let Some(max) = r.max_age
        && (max < r.min_age || max > 120)
    {
        errs.at(
            &p("max_age"),
            format!("{max} is not between min_age {} and 120", r.min_age),
        );
    }
    if let Some(m) = r.min_income {
        errs.non_negative(&p("min_income"), m);
    }
    errs.non_negative(&p("monthly_payment"), r.monthly_payment);
    errs.non_negative(&p("credit_amount"), r.credit_amount);
    if let Some(d) = r.max_debt_to_income {
        errs.share(&p("max_debt_to_income"), d);
    }
    let requires = parse_list(errs, &p("requires"), &r.requires);
    let excludes = match &r.excludes {
        Some(list) => parse_list(errs, &p("excludes"), list),
        None => account_kind_of(product.family).into_iter().collect(),
    };
    if let Some(k) = requires.iter().find(|k| excludes.contains(k)) {
        errs.at(&path, format!("'{k}' is both required and excluded"));
    }
    let required_consents = parse_list(errs, &p("required_consents"), &r.required_consents);
    Some(ProductRule {
        product_id: product.id.clone(),
        value: r.value,
        min_age: r.min_age,
        max_age: r.max_age,
        min_income: r.min_income,
        requires,
        excludes,
        monthly_payment: r.monthly_payment,
        credit_amount: r.credit_amount,
        required_consents,
        max_debt_to_income: r.max_debt_to_income,
    })
}

fn parse_segment_rule(
    errs: &mut Errors,
    path: &str,
    v: toml::Value,
    catalog: &[Product],
    configured: &BTreeSet<String>,
) -> Option<SegmentRule> {
    let r: RawSegmentRule = section(errs, path, v)?;
    check_condition(errs, &format!("{path}.when"), &r.when);
    errs.share(&format!("{path}.weight"), r.weight);
    if r.boost.is_empty() {
        errs.at(&format!("{path}.boost"), "must name at least one product");
    }
    let mut boost = Vec::new();
    for id in &r.boost {
        let bp = format!("{path}.boost");
        match catalog.iter().find(|p| p.id.as_str() == id) {
            None => errs.at(&bp, format!("{id}: no such product in the catalog")),
            Some(p) if boost.contains(&p.id) => errs.at(&bp, format!("'{id}' is listed twice")),
            Some(p) if !configured.contains(p.id.as_str()) => errs.at(
                &bp,
                format!("{id} has no [products.{id}] entry, so it is never offered"),
            ),
            Some(p) => boost.push(p.id.clone()),
        }
    }
    Some(SegmentRule {
        when: r.when,
        boost,
        weight: r.weight,
    })
}

fn check_condition(errs: &mut Errors, path: &str, c: &Condition) {
    let tags = [
        ("risk_appetite", &c.risk_appetite),
        ("spending_style", &c.spending_style),
        ("engagement", &c.engagement),
        ("life_stage", &c.life_stage),
    ];
    if tags.iter().all(|(_, v)| v.is_none()) && c.segment.is_none() {
        errs.at(path, "names no condition (use a persona tag or `segment`)");
    }
    for (name, value) in tags {
        let Some(v) = value else { continue };
        let allowed = PERSONA_TAGS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| *a)
            .unwrap_or(&[]);
        if !allowed.contains(&v.as_str()) {
            errs.at(
                &format!("{path}.{name}"),
                format!("'{v}' is not one of {}", allowed.join(", ")),
            );
        }
    }
    if let Some(s) = &c.segment
        && s.trim().is_empty()
    {
        errs.at(&format!("{path}.segment"), "must not be empty");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_core::{Currency, Money, RiskProfile};

    fn product(id: &str, family: ProductFamily) -> Product {
        Product {
            id: ProductId::parse(id).unwrap(),
            name: id.into(),
            family,
            risk_level: RiskProfile::Low,
            min_income: Some(Money::new(4_500_000, Currency::EUR)),
            rate_bps: None,
            annual_fee: None,
            description: String::new(),
            active: true,
        }
    }

    const BASE: &str = r#"
version = "t1"
[defaults]
required_consents = ["marketing"]
not_interested_days = 90
frequency_cap = { impressions = 3, days = 30 }
fatigue = { impressions = 6, days = 7 }
max_debt_to_income = 0.4
[review]
credit_amount_above = 25000.0
min_confidence = 0.35
sample_uncertain_share = 0.05
[bandit]
alpha = 0.5
max_exploration_share = 0.2
"#;

    fn catalog() -> Vec<Product> {
        vec![product("P-CC-GOLD", ProductFamily::CreditCard)]
    }

    #[test]
    fn defaults_and_default_excludes() {
        let text = format!("{BASE}[products.P-CC-GOLD]\nvalue = 120\n");
        let r = Rules::from_toml(&text, &catalog()).unwrap();
        let p = r.product(&ProductId::parse("P-CC-GOLD").unwrap()).unwrap();
        assert_eq!(p.excludes, vec![AccountKind::CreditCard]);
        assert_eq!(p.min_age, 18);
        assert_eq!(p.value, 120.0);
        assert_eq!(r.version(), "t1");
        assert_eq!(
            r.defaults.required_consents,
            vec![ConsentPurpose::Marketing]
        );
    }

    #[test]
    fn collects_every_error() {
        let text = format!(
            "{BASE}[products.P-CC-GOLD]\nvalue = -1\nmax_debt_to_income = 1.7\nrequires = [\"current\", \"current\"]\n[products.P-XYZ]\nvalue = 1\n"
        );
        let e = Rules::from_toml(&text, &catalog()).unwrap_err();
        assert_eq!(e.errors.len(), 4, "{e}");
        assert!(e.to_string().contains(
            "rules.toml: products.P-CC-GOLD.max_debt_to_income: 1.7 is not a share between 0 and 1"
        ));
        assert!(
            e.to_string()
                .contains("rules.toml: products.P-XYZ: no such product in the catalog")
        );
        assert!(e.to_string().contains("'current' is listed twice"));
    }

    #[test]
    fn empty_catalog_and_syntax_errors() {
        let e = Rules::from_toml(BASE, &[]).unwrap_err();
        assert!(e.errors[0].contains("catalog is empty"));
        let e = Rules::from_toml("version = \"x\"\n[defaults\n", &catalog()).unwrap_err();
        assert!(e.errors[0].starts_with("rules.toml: line 2: "), "{e}");
    }
}
