//! The stream rules file (`config/stream-rules.toml`): a list of `[[rule]]` tables, each with an
//! `id`, a `kind` and the kind's fields. It is validated on load and every problem is reported at
//! once, each naming the rule and the field:
//! `stream-rules.toml: rule 'velocity': field 'window': '10x' is not a duration …`.
//!
//! Fields every rule may set: `alert_kind` (fraud|distress|opportunity|info), `severity`
//! (low|medium|high), `action` (alert|nudge|warning), `product_family` (nudges only),
//! `hold_for_review` (default false) and `cooldown` (a duration: after firing, the rule stays
//! quiet for this customer until an event that much later). Each kind has defaults for the
//! first three. Durations are a positive integer and a unit: `30s`, `10m`, `24h`, `7d`.

use crate::alert::{AlertAction, AlertKind, Severity, parse_enum};
use crate::event::{EVENT_TYPES, LoginChannel, MessageChannel};
use sextant_core::{Category, Channel, ProductFamily, TxStatus};
use std::collections::BTreeSet;
use std::fmt;

/// The demo rules: every rule kind, commented.
pub const DEMO_RULES: &str = include_str!("../../../config/stream-rules.toml");

/// The longest window or `within` a rule may use: the engine keeps 30 days of records.
pub const MAX_SPAN: Span = Span::from_secs(30 * 86_400);
/// At most this many steps in a sequence …
pub const MAX_STEPS: usize = 8;
/// … and at most this many matches in all (the sum of `at_least`), bounding its state.
pub const MAX_SEQUENCE_MATCHES: u32 = 64;

/// A length of event time, microsecond-exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(i64);

impl Span {
    pub const fn from_secs(s: i64) -> Span {
        Span(s * 1_000_000)
    }
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Parse `<positive integer><s|m|h|d>`.
    pub fn parse(s: &str) -> Result<Span, String> {
        let bad = || {
            format!(
                "'{}' is not a duration: use a positive whole number and a unit s, m, h or d (\"10m\", \"24h\", \"7d\")",
                sextant_core::text::preview(s)
            )
        };
        let t = s.trim();
        let (num, unit) = t.split_at(t.len().saturating_sub(1));
        let mult = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: i64 = num.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(format!("'{t}' must be longer than zero"));
        }
        n.checked_mul(mult)
            .filter(|secs| *secs <= 100 * 365 * 86_400)
            .map(Span::from_secs)
            .ok_or_else(|| format!("'{t}' is longer than 100 years"))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0 / 1_000_000;
        if s % 86_400 == 0 {
            write!(f, "{}d", s / 86_400)
        } else if s % 3_600 == 0 {
            write!(f, "{}h", s / 3_600)
        } else if s % 60 == 0 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

/// One problem in a rules file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleError {
    /// The rule's id, or `#N` (1-based position) when it has no valid id.
    pub rule: Option<String>,
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stream-rules.toml: ")?;
        if let Some(r) = &self.rule {
            write!(f, "rule '{r}': ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field '{field}': ")?;
        }
        f.write_str(&self.reason)
    }
}

/// A predicate over one event: every condition that is set must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Predicate {
    /// The envelope's `type` (any when unset).
    pub event_type: Option<&'static str>,
    /// Transactions only.
    pub status: Option<TxStatus>,
    pub category: Option<Category>,
    /// `channel` names a transaction, login or message channel; whichever the event has.
    pub channel: Option<ChannelMatch>,
    /// Absolute amount of a transaction, in minor units: strictly above / strictly below.
    pub amount_above_minor: Option<i64>,
    pub amount_below_minor: Option<i64>,
    /// A transaction taking money out (`true`) or bringing it in (`false`).
    pub debit: Option<bool>,
    /// A transaction or login from a country the customer has never been seen in (or has).
    pub new_country: Option<bool>,
    /// A login that succeeded (or failed).
    pub success: Option<bool>,
    /// An app event's name.
    pub name: Option<String>,
}

/// A channel name, resolved against each event type's channels.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelMatch {
    pub name: String,
    pub transaction: Option<Channel>,
    pub login: Option<LoginChannel>,
    pub message: Option<MessageChannel>,
}

/// One step of a sequence: `at_least` events matching `when`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub when: Predicate,
    pub at_least: u32,
}

/// What a rule looks for.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleSpec {
    /// A spend debit more than `factor` × the customer's mean spend debit, once the customer has
    /// `min_history` spend debits.
    AmountAboveBaseline { factor: f64, min_history: u32 },
    /// More than `max_count` debits (approved or declined) within `window`.
    Velocity { window: Span, max_count: u32 },
    /// An approved transaction in a country never seen before, after `min_history` approved
    /// transactions.
    NewCountry { min_history: u32 },
    /// A spend debit in a category never seen before, after `min_history` spend debits.
    NewCategory { min_history: u32 },
    /// The steps in order (other events may come between), the last within `within` of the first.
    Sequence { within: Span, steps: Vec<Step> },
    /// An approved salary credit of at least `min_amount_minor`.
    SalaryArrival { min_amount_minor: i64 },
    /// Balance − average daily spend × days to the next expected salary below `threshold_minor`.
    LowBalanceForecast { threshold_minor: i64 },
    /// A recurring merchant charging at least `min_increase_pct` % more than its last charge, at
    /// least `min_interval` after it.
    SubscriptionPriceRise {
        min_increase_pct: f64,
        min_interval: Span,
    },
}

impl RuleSpec {
    /// The `kind` name in the rules file.
    pub fn kind_name(&self) -> &'static str {
        match self {
            RuleSpec::AmountAboveBaseline { .. } => "amount_above_baseline",
            RuleSpec::Velocity { .. } => "velocity",
            RuleSpec::NewCountry { .. } => "new_country",
            RuleSpec::NewCategory { .. } => "new_category",
            RuleSpec::Sequence { .. } => "sequence",
            RuleSpec::SalaryArrival { .. } => "salary_arrival",
            RuleSpec::LowBalanceForecast { .. } => "low_balance_forecast",
            RuleSpec::SubscriptionPriceRise { .. } => "subscription_price_rise",
        }
    }
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub spec: RuleSpec,
    pub alert_kind: AlertKind,
    pub severity: Severity,
    pub action: AlertAction,
    pub hold_for_review: bool,
    pub cooldown: Option<Span>,
}

/// The validated rules, in file order (the order alerts of one event come out in).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

/// Rule kinds: name, fields of the kind (besides the common ones), defaults.
const KINDS: &[(&str, &[&str], AlertKind, Severity, &str)] = &[
    (
        "amount_above_baseline",
        &["factor", "min_history"],
        AlertKind::Fraud,
        Severity::Medium,
        "alert",
    ),
    (
        "velocity",
        &["window", "max_count"],
        AlertKind::Fraud,
        Severity::Medium,
        "alert",
    ),
    (
        "new_country",
        &["min_history"],
        AlertKind::Fraud,
        Severity::Low,
        "alert",
    ),
    (
        "new_category",
        &["min_history"],
        AlertKind::Info,
        Severity::Low,
        "alert",
    ),
    (
        "sequence",
        &["within", "steps"],
        AlertKind::Fraud,
        Severity::High,
        "alert",
    ),
    (
        "salary_arrival",
        &["min_amount_minor"],
        AlertKind::Opportunity,
        Severity::Low,
        "nudge",
    ),
    (
        "low_balance_forecast",
        &["threshold_minor"],
        AlertKind::Distress,
        Severity::Medium,
        "warning",
    ),
    (
        "subscription_price_rise",
        &["min_increase_pct", "min_interval"],
        AlertKind::Info,
        Severity::Low,
        "warning",
    ),
];

const COMMON: &[&str] = &[
    "id",
    "kind",
    "alert_kind",
    "severity",
    "action",
    "product_family",
    "hold_for_review",
    "cooldown",
];

const STEP_FIELDS: &[&str] = &[
    "type",
    "status",
    "category",
    "channel",
    "amount_above_minor",
    "amount_below_minor",
    "debit",
    "new_country",
    "success",
    "name",
    "at_least",
];

/// Reads the fields of one table, recording each problem against the rule.
struct Fields<'a> {
    t: &'a toml::Table,
    rule: Option<String>,
    /// Prefix for field names (`steps[0].`).
    prefix: String,
    errs: &'a mut Vec<RuleError>,
}

impl Fields<'_> {
    fn err(&mut self, field: &str, reason: impl Into<String>) {
        self.errs.push(RuleError {
            rule: self.rule.clone(),
            field: Some(format!("{}{field}", self.prefix)),
            reason: reason.into(),
        });
    }

    fn unknown(&mut self, allowed: &[&str]) {
        let keys: Vec<String> = self.t.keys().cloned().collect();
        for k in keys {
            if !allowed.contains(&k.as_str()) {
                self.err(
                    &k,
                    format!("unknown field; expected one of {}", allowed.join(", ")),
                );
            }
        }
    }

    fn str(&mut self, f: &str) -> Option<&str> {
        match self.t.get(f) {
            None => None,
            Some(toml::Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                self.err(f, "must be a string");
                None
            }
        }
    }

    fn required<T>(&mut self, f: &str, v: Option<T>) -> Option<T> {
        if v.is_none() && !self.t.contains_key(f) {
            self.err(f, "is required");
        }
        v
    }

    /// A parsed string field; `None` when absent or invalid (the error is recorded).
    fn parsed<T>(&mut self, f: &str, p: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let s = self.str(f)?.to_string();
        match p(&s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(f, e);
                None
            }
        }
    }

    fn span(&mut self, f: &str) -> Option<Span> {
        let s = self.parsed(f, Span::parse)?;
        if s > MAX_SPAN {
            self.err(
                f,
                format!("{s} is longer than {MAX_SPAN}, the longest window kept"),
            );
            return None;
        }
        Some(s)
    }

    fn bool(&mut self, f: &str) -> Option<bool> {
        match self.t.get(f) {
            None => None,
            Some(toml::Value::Boolean(b)) => Some(*b),
            Some(_) => {
                self.err(f, "must be true or false");
                None
            }
        }
    }

    /// A non-negative integer.
    fn int(&mut self, f: &str) -> Option<i64> {
        match self.t.get(f) {
            None => None,
            Some(toml::Value::Integer(i)) if *i < 0 => {
                self.err(f, format!("{i} is negative"));
                None
            }
            Some(toml::Value::Integer(i)) => Some(*i),
            Some(_) => {
                self.err(f, "must be a whole number");
                None
            }
        }
    }

    fn u32(&mut self, f: &str) -> Option<u32> {
        let i = self.int(f)?;
        match u32::try_from(i) {
            Ok(v) => Some(v),
            Err(_) => {
                self.err(f, format!("{i} is too large"));
                None
            }
        }
    }

    /// A finite, non-negative number (integers allowed).
    fn number(&mut self, f: &str) -> Option<f64> {
        let v = match self.t.get(f) {
            None => return None,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(toml::Value::Float(x)) => *x,
            Some(_) => {
                self.err(f, "must be a number");
                return None;
            }
        };
        if !v.is_finite() || v < 0.0 {
            self.err(f, format!("{v} is not a finite non-negative number"));
            return None;
        }
        Some(v)
    }
}

fn check_rule_id(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 64 {
        return Err(format!("must be 1 to 64 characters, got {}", s.len()));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "invalid character {c:?}: rule ids use letters, digits, _ - and . only"
        ));
    }
    Ok(())
}

fn parse_channel(s: &str) -> Result<ChannelMatch, String> {
    let m = ChannelMatch {
        name: s.trim().to_ascii_lowercase(),
        transaction: s.parse().ok(),
        login: s.parse().ok(),
        message: s.parse().ok(),
    };
    if m.transaction.is_none() && m.login.is_none() && m.message.is_none() {
        return Err(format!(
            "unknown channel '{}': not a transaction, login or message channel",
            sextant_core::text::preview(s)
        ));
    }
    Ok(m)
}

fn parse_step(f: &mut Fields) -> Option<Step> {
    f.unknown(STEP_FIELDS);
    let n_errs = f.errs.len();
    let when = Predicate {
        event_type: f.parsed("type", |s| {
            EVENT_TYPES
                .iter()
                .find(|t| **t == s)
                .copied()
                .ok_or_else(|| {
                    format!(
                        "unknown event type '{}': expected one of {}",
                        sextant_core::text::preview(s),
                        EVENT_TYPES.join(", ")
                    )
                })
        }),
        status: f.parsed("status", parse_enum_core::<TxStatus>),
        category: f.parsed("category", parse_enum_core::<Category>),
        channel: f.parsed("channel", parse_channel),
        amount_above_minor: f.int("amount_above_minor"),
        amount_below_minor: f.int("amount_below_minor"),
        debit: f.bool("debit"),
        new_country: f.bool("new_country"),
        success: f.bool("success"),
        name: f.parsed("name", |s| Ok(s.trim().to_string())),
    };
    let at_least = f.u32("at_least").unwrap_or(1);
    if !(1..=MAX_SEQUENCE_MATCHES).contains(&at_least) {
        f.err(
            "at_least",
            format!("{at_least} is not between 1 and {MAX_SEQUENCE_MATCHES}"),
        );
    }
    if let (Some(a), Some(b)) = (when.amount_above_minor, when.amount_below_minor)
        && a >= b
    {
        f.err(
            "amount_below_minor",
            format!("{b} is not above amount_above_minor ({a}): nothing can match"),
        );
    }
    if let (Some(ty), true) = (
        when.event_type,
        when.status.is_some()
            || when.category.is_some()
            || when.amount_above_minor.is_some()
            || when.amount_below_minor.is_some()
            || when.debit.is_some(),
    ) && ty != "transaction"
    {
        f.err(
            "type",
            format!("'{ty}' events have no status, category, amount or debit: nothing can match"),
        );
    }
    (f.errs.len() == n_errs).then_some(Step { when, at_least })
}

fn parse_enum_core<T: std::str::FromStr<Err = sextant_core::FieldError>>(
    s: &str,
) -> Result<T, String> {
    parse_enum(s)
}

fn parse_rule(pos: usize, t: &toml::Table, errs: &mut Vec<RuleError>) -> Option<Rule> {
    // The rule's name in errors: its id when that is valid, else its position.
    let id = match t.get("id") {
        Some(toml::Value::String(s)) if check_rule_id(s).is_ok() => Some(s.clone()),
        _ => None,
    };
    let mut f = Fields {
        t,
        rule: Some(id.clone().unwrap_or_else(|| format!("#{pos}"))),
        prefix: String::new(),
        errs,
    };
    let n_errs = f.errs.len();
    match t.get("id") {
        None => f.err("id", "is required"),
        Some(toml::Value::String(s)) => {
            if let Err(e) = check_rule_id(s) {
                f.err("id", e);
            }
        }
        Some(_) => f.err("id", "must be a string"),
    }
    let kind_name = f.str("kind").map(str::to_string);
    let kind = match &kind_name {
        None => {
            f.required::<()>("kind", None);
            None
        }
        Some(k) => match KINDS.iter().find(|(n, ..)| n == k) {
            Some(k) => Some(k),
            None => {
                let names: Vec<&str> = KINDS.iter().map(|k| k.0).collect();
                f.err(
                    "kind",
                    format!(
                        "unknown kind '{}': expected one of {}",
                        sextant_core::text::preview(k),
                        names.join(", ")
                    ),
                );
                None
            }
        },
    };
    if let Some((_, fields, ..)) = kind {
        let allowed: Vec<&str> = COMMON.iter().chain(fields.iter()).copied().collect();
        f.unknown(&allowed);
    }
    let alert_kind = f.parsed("alert_kind", parse_enum::<AlertKind>);
    let severity = f.parsed("severity", parse_enum::<Severity>);
    let action_name = f.parsed("action", |s| match s.trim() {
        a @ ("alert" | "nudge" | "warning") => Ok(a.to_string()),
        other => Err(format!(
            "unknown action '{}': expected one of alert, nudge, warning",
            sextant_core::text::preview(other)
        )),
    });
    let product_family = f.parsed("product_family", |s| {
        parse_enum_core::<ProductFamily>(s).map(|p| p.as_str().to_string())
    });
    let hold_for_review = f.bool("hold_for_review").unwrap_or(false);
    let cooldown = f.span("cooldown");
    let (_, _, default_kind, default_severity, default_action) = *kind?;
    let action_name = action_name.unwrap_or_else(|| default_action.to_string());
    let action = match action_name.as_str() {
        "nudge" => AlertAction::Nudge { product_family },
        other => {
            if product_family.is_some() {
                f.err(
                    "product_family",
                    format!(
                        "only a nudge names a product family, and this rule's action is '{other}'"
                    ),
                );
            }
            if other == "alert" {
                AlertAction::Alert
            } else {
                AlertAction::Warning
            }
        }
    };
    let spec = match kind_name.as_deref()? {
        "amount_above_baseline" => {
            let factor = f.number("factor");
            let factor = f.required("factor", factor);
            if let Some(x) = factor
                && x < 1.0
            {
                f.err(
                    "factor",
                    format!("{x} is below 1: every debit would be unusual"),
                );
            }
            RuleSpec::AmountAboveBaseline {
                factor: factor.unwrap_or(1.0),
                min_history: f.u32("min_history").unwrap_or(10),
            }
        }
        "velocity" => {
            let window = f.span("window");
            let window = f.required("window", window);
            let max_count = f.u32("max_count");
            let max_count = f.required("max_count", max_count);
            if max_count == Some(0) {
                f.err("max_count", "0 would fire on every debit; use at least 1");
            }
            RuleSpec::Velocity {
                window: window.unwrap_or(MAX_SPAN),
                max_count: max_count.unwrap_or(1),
            }
        }
        "new_country" => RuleSpec::NewCountry {
            min_history: f.u32("min_history").unwrap_or(20),
        },
        "new_category" => RuleSpec::NewCategory {
            min_history: f.u32("min_history").unwrap_or(20),
        },
        "sequence" => {
            let within = f.span("within");
            let within = f.required("within", within);
            let mut steps = Vec::new();
            match t.get("steps") {
                None => f.err("steps", "is required"),
                Some(toml::Value::Array(a)) if a.is_empty() || a.len() > MAX_STEPS => f.err(
                    "steps",
                    format!("has {} steps; a sequence has 1 to {MAX_STEPS}", a.len()),
                ),
                Some(toml::Value::Array(a)) => {
                    for (i, s) in a.iter().enumerate() {
                        match s {
                            toml::Value::Table(st) => {
                                let mut sf = Fields {
                                    t: st,
                                    rule: f.rule.clone(),
                                    prefix: format!("steps[{i}]."),
                                    errs: f.errs,
                                };
                                if let Some(step) = parse_step(&mut sf) {
                                    steps.push(step);
                                }
                            }
                            _ => f.err(&format!("steps[{i}]"), "must be a table"),
                        }
                    }
                    let total: u32 = steps.iter().map(|s| s.at_least).sum();
                    if total > MAX_SEQUENCE_MATCHES {
                        f.err(
                            "steps",
                            format!(
                                "needs {total} matching events in all; at most {MAX_SEQUENCE_MATCHES}"
                            ),
                        );
                    }
                }
                Some(_) => f.err("steps", "must be an array of tables"),
            }
            RuleSpec::Sequence {
                within: within.unwrap_or(MAX_SPAN),
                steps,
            }
        }
        "salary_arrival" => RuleSpec::SalaryArrival {
            min_amount_minor: f.int("min_amount_minor").unwrap_or(0),
        },
        "low_balance_forecast" => {
            let threshold = f.int("threshold_minor");
            RuleSpec::LowBalanceForecast {
                threshold_minor: f.required("threshold_minor", threshold).unwrap_or(0),
            }
        }
        "subscription_price_rise" => {
            let pct = f.number("min_increase_pct");
            let pct = f.required("min_increase_pct", pct);
            if pct == Some(0.0) {
                f.err("min_increase_pct", "0 would fire on every unchanged charge");
            }
            RuleSpec::SubscriptionPriceRise {
                min_increase_pct: pct.unwrap_or(1.0),
                min_interval: if t.contains_key("min_interval") {
                    f.span("min_interval").unwrap_or(MAX_SPAN)
                } else {
                    Span::from_secs(20 * 86_400)
                },
            }
        }
        _ => unreachable!("kind checked against KINDS"),
    };
    if f.errs.len() != n_errs {
        return None;
    }
    Some(Rule {
        id: id?,
        spec,
        alert_kind: alert_kind.unwrap_or(default_kind),
        severity: severity.unwrap_or(default_severity),
        action,
        hold_for_review,
        cooldown,
    })
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl RuleSet {
    /// Parse and validate a rules file, collecting every error.
    pub fn from_toml(text: &str) -> Result<RuleSet, Vec<RuleError>> {
        let whole = |reason: String| RuleError {
            rule: None,
            field: None,
            reason,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            vec![whole(format!("line {line}: {}", e.message().trim()))]
        })?;
        let mut errs = Vec::new();
        for k in table.keys().filter(|k| *k != "rule") {
            errs.push(RuleError {
                rule: None,
                field: Some(k.clone()),
                reason: "unknown top-level key; rules are [[rule]] tables".into(),
            });
        }
        let mut rules = Vec::new();
        let mut ids = BTreeSet::new();
        match table.get("rule") {
            None => {}
            Some(toml::Value::Array(a)) => {
                for (i, v) in a.iter().enumerate() {
                    let pos = i + 1;
                    let toml::Value::Table(t) = v else {
                        errs.push(whole(format!("rule #{pos} is not a table")));
                        continue;
                    };
                    if let Some(toml::Value::String(id)) = t.get("id")
                        && !ids.insert(id.clone())
                    {
                        errs.push(RuleError {
                            rule: Some(id.clone()),
                            field: Some("id".into()),
                            reason: "is used by an earlier rule; ids must be unique".into(),
                        });
                    }
                    if let Some(r) = parse_rule(pos, t, &mut errs) {
                        rules.push(r);
                    }
                }
            }
            Some(_) => errs.push(whole("`rule` must be a list of [[rule]] tables".into())),
        }
        if errs.is_empty() {
            Ok(RuleSet { rules })
        } else {
            Err(errs)
        }
    }

    /// No rules: windows and baselines only.
    pub fn empty() -> RuleSet {
        RuleSet::default()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        RuleSet::from_toml(text)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn demo_rules_load_with_every_kind() {
        let rs = RuleSet::from_toml(DEMO_RULES).unwrap();
        let kinds: BTreeSet<&str> = rs.rules().iter().map(|r| r.spec.kind_name()).collect();
        assert_eq!(kinds.len(), KINDS.len(), "{kinds:?}");
        let ct = rs.get("card_testing").unwrap();
        let RuleSpec::Sequence { within, steps } = &ct.spec else {
            panic!("a sequence")
        };
        assert_eq!(*within, Span::from_secs(30 * 60));
        assert_eq!(steps[0].at_least, 3);
        assert_eq!(steps[0].when.status, Some(TxStatus::Declined));
        assert_eq!(
            rs.get("salary_nudge").unwrap().action,
            AlertAction::Nudge {
                product_family: Some("savings".into())
            }
        );
        assert!(rs.get("large_vs_baseline").unwrap().hold_for_review);
    }

    #[test]
    fn durations() {
        assert_eq!(Span::parse("10m").unwrap(), Span::from_secs(600));
        assert_eq!(Span::parse("24h").unwrap(), Span::from_secs(86_400));
        assert_eq!(Span::parse("7d").unwrap().to_string(), "7d");
        assert_eq!(Span::parse("90s").unwrap().to_string(), "90s");
        for bad in ["10", "m", "-5m", "1w", "1.5h", "", "10 m"] {
            assert!(
                Span::parse(bad).unwrap_err().contains("is not a duration"),
                "{bad}"
            );
        }
        assert!(Span::parse("0m").unwrap_err().contains("longer than zero"));
        assert!(Span::parse("99999999999999d").is_err());
    }

    #[test]
    fn collects_every_error_naming_rule_and_field() {
        let errs = errors(
            r#"
            [[rule]]
            id = "v"
            kind = "velocity"
            window = "10x"
            max_count = -3
            [[rule]]
            id = "v"
            kind = "new_country"
            min_histroy = 5
            [[rule]]
            id = "b"
            kind = "amount_above_baseline"
            [[rule]]
            id = "q"
            kind = "telepathy"
            [[rule]]
            kind = "new_category"
            [[rule]]
            id = "s"
            kind = "sequence"
            within = "40d"
            steps = [ { status = "maybe" }, { amount_above_minor = 10, amount_below_minor = 5, at_least = 0 } ]
            [[rule]]
            id = "p"
            kind = "subscription_price_rise"
            min_increase_pct = -5.0
            severity = "dire"
            action = "alert"
            product_family = "savings"
            "#,
        );
        let expect = [
            "rule 'v': field 'window': '10x' is not a duration",
            "rule 'v': field 'max_count': -3 is negative",
            "rule 'v': field 'id': is used by an earlier rule",
            "rule 'v': field 'min_histroy': unknown field",
            "rule 'b': field 'factor': is required",
            "rule 'q': field 'kind': unknown kind 'telepathy'",
            "rule '#5': field 'id': is required",
            "rule 's': field 'within': 40d is longer than 30d",
            "rule 's': field 'steps[0].status': unknown transaction status 'maybe'",
            "rule 's': field 'steps[1].at_least': 0 is not between 1 and 64",
            "rule 's': field 'steps[1].amount_below_minor': 5 is not above",
            "rule 'p': field 'min_increase_pct': -5 is not a finite non-negative number",
            "rule 'p': field 'severity': unknown severity 'dire'",
            "rule 'p': field 'product_family': only a nudge names a product family",
        ];
        for e in expect {
            assert!(
                errs.iter()
                    .any(|x| x.starts_with(&format!("stream-rules.toml: {e}"))),
                "missing {e:?} in {errs:#?}"
            );
        }
        assert_eq!(errs.len(), expect.len(), "{errs:#?}");
    }

    #[test]
    fn syntax_and_shape_errors() {
        assert!(errors("[[rule]\nid=")[0].starts_with("stream-rules.toml: line 1:"));
        assert_eq!(
            errors("rules = []")[0],
            "stream-rules.toml: field 'rules': unknown top-level key; rules are [[rule]] tables"
        );
        let e = errors(
            "[[rule]]\nid = \"x\"\nkind = \"sequence\"\nwithin = \"5m\"\nsteps = [ { type = \"login\", status = \"declined\" } ]",
        );
        assert!(
            e[0].contains("field 'steps[0].type': 'login' events have no status"),
            "{e:?}"
        );
        assert!(RuleSet::from_toml("").unwrap().is_empty());
    }

    #[test]
    fn defaults_per_kind() {
        let rs = RuleSet::from_toml(
            "[[rule]]\nid = \"lb\"\nkind = \"low_balance_forecast\"\nthreshold_minor = 0\n\
             [[rule]]\nid = \"pr\"\nkind = \"subscription_price_rise\"\nmin_increase_pct = 5\n",
        )
        .unwrap();
        let lb = rs.get("lb").unwrap();
        assert_eq!(
            (lb.alert_kind, lb.severity, &lb.action),
            (AlertKind::Distress, Severity::Medium, &AlertAction::Warning)
        );
        let RuleSpec::SubscriptionPriceRise { min_interval, .. } = rs.get("pr").unwrap().spec
        else {
            panic!()
        };
        assert_eq!(min_interval, Span::from_secs(20 * 86_400));
    }
}
