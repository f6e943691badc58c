//! Personas: tags, a name and a description for each leaf segment, derived from its centroid.
//!
//! Everything is computed from the leaf centroid in raw units (the standardized centroid
//! mapped back through the [`Standardizer`]) and from its z-scores against the whole
//! population (a standardized centroid coordinate *is* that z-score). The rules are fixed and
//! deterministic, so the same model always reads the same way.
//!
//! **Tags.** Each tag is a weighted vote in `[-1, 1]` over the features that are present;
//! below −⅓ gives the low value, above +⅓ the high value, otherwise the middle one (also the
//! value when none of the features is present). Primary features are read on their own scale,
//! secondary ones relative to the population (z-score clamped to ±1):
//!
//! | tag | primary (weight 2) | secondary (weight 1) | values |
//! |---|---|---|---|
//! | risk appetite | `risk_profile_score` − 1 (0 Low … 2 High) | `has_investment` z | cautious / balanced / adventurous |
//! | spending style | `savings_rate`: (0.10 − rate) / 0.10 (a fraction of income); else `spending_habit_score` − 1 (0 Budget … 2 Lavish) | `discretionary_share` z | saver / balanced / spender |
//! | engagement | `engagement_score` − 1 (0 … 2) | `frequency_per_month` z | low / medium / high |
//!
//! Life stage comes from the average `age`: under 30 "starting out", under 45 "building",
//! under 65 "established", otherwise "retired" ("building" when there is no `age`).
//!
//! **Name.** `"{Risk} {life stage} {spending}"` — e.g. "Cautious established savers",
//! "Adventurous young spenders", "Steady mid-career balanced spenders" — followed by the most
//! distinguishing feature that the tags do not already express, when it is at least half a
//! standard deviation from the population ("…, heavy on travel"). Names are unique within a
//! model: colliding leaves get further qualifiers (their engagement, then their next most
//! distinguishing features) until they differ, and as a last resort the segment id.
//!
//! **Description.** One or two sentences with numbers from the centroid, e.g. "Average age 58,
//! income about €72k a year, saves 24% of income; spends more than most on travel. 12.5% of
//! customers." Centroids are means, so the text says "average". Money is shown in euros.

use serde::{Deserialize, Serialize};

use crate::Standardizer;

/// Allowed values of [`PersonaTags::risk_appetite`].
pub const RISK_APPETITES: [&str; 3] = ["cautious", "balanced", "adventurous"];
/// Allowed values of [`PersonaTags::spending_style`].
pub const SPENDING_STYLES: [&str; 3] = ["saver", "balanced", "spender"];
/// Allowed values of [`PersonaTags::engagement`].
pub const ENGAGEMENT_LEVELS: [&str; 3] = ["low", "medium", "high"];
/// Allowed values of [`PersonaTags::life_stage`].
pub const LIFE_STAGES: [&str; 4] = ["starting out", "building", "established", "retired"];

/// The four behavioural tags of a persona (values from the constants above).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PersonaTags {
    pub risk_appetite: String,
    pub spending_style: String,
    pub engagement: String,
    pub life_stage: String,
}

/// A feature on which a segment differs from the population.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Distinguishing {
    pub feature: String,
    /// The centroid's z-score against the population.
    pub z: f64,
    /// The centroid value in raw units.
    pub value: f64,
    /// The population mean in raw units.
    pub population_mean: f64,
}

/// A readable portrait of one leaf segment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Persona {
    /// `"S{macro}.{micro}"`, both counted from 1 (largest segment first).
    pub segment_id: String,
    pub name: String,
    pub description: String,
    pub tags: PersonaTags,
    /// Training rows in the segment.
    pub size: usize,
    /// `size` / all training rows.
    pub share: f64,
    /// The three features with the largest |z|, largest first.
    pub distinguishing: Vec<Distinguishing>,
}

/// What the persona builder needs to know about one leaf.
pub(crate) struct Leaf {
    pub segment_id: String,
    /// Standardized centroid.
    pub z: Vec<f64>,
    pub size: usize,
    pub share: f64,
}

/// Features that feed the tags; the name's qualifier skips them.
const TAG_FEATURES: [&str; 8] = [
    "risk_profile_score",
    "has_investment",
    "savings_rate",
    "spending_habit_score",
    "discretionary_share",
    "engagement_score",
    "frequency_per_month",
    "age",
];

/// Raw value and z-score of one feature of one centroid.
struct View<'a> {
    names: &'a [String],
    raw: Vec<f64>,
    z: &'a [f64],
    mean: &'a [f64],
}

impl View<'_> {
    fn get(&self, name: &str) -> Option<(f64, f64)> {
        let i = self.names.iter().position(|n| n == name)?;
        Some((self.raw[i], self.z[i]))
    }
}

fn level(score: Option<f64>, values: [&'static str; 3]) -> &'static str {
    match score {
        Some(s) if s < -1.0 / 3.0 => values[0],
        Some(s) if s > 1.0 / 3.0 => values[2],
        _ => values[1],
    }
}

/// Weighted mean of the votes that are present.
fn vote(parts: &[(f64, Option<f64>)]) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    for &(w, v) in parts {
        if let Some(v) = v {
            num += w * v.clamp(-1.0, 1.0);
            den += w;
        }
    }
    (den > 0.0).then(|| num / den)
}

fn tags(v: &View) -> PersonaTags {
    let raw = |n: &str| v.get(n).map(|(r, _)| r);
    let z = |n: &str| v.get(n).map(|(_, z)| z);
    let risk = vote(&[
        (2.0, raw("risk_profile_score").map(|r| r - 1.0)),
        (1.0, z("has_investment")),
    ]);
    let spend_primary = match raw("savings_rate") {
        Some(rate) => Some((0.10 - rate) / 0.10),
        None => raw("spending_habit_score").map(|h| h - 1.0),
    };
    let spend = vote(&[(2.0, spend_primary), (1.0, z("discretionary_share"))]);
    let engage = vote(&[
        (2.0, raw("engagement_score").map(|e| e - 1.0)),
        (1.0, z("frequency_per_month")),
    ]);
    let life = match raw("age") {
        Some(a) if a < 30.0 => LIFE_STAGES[0],
        Some(a) if a < 45.0 => LIFE_STAGES[1],
        Some(a) if a < 65.0 => LIFE_STAGES[2],
        Some(_) => LIFE_STAGES[3],
        None => LIFE_STAGES[1],
    };
    PersonaTags {
        risk_appetite: level(risk, RISK_APPETITES).to_string(),
        spending_style: level(spend, SPENDING_STYLES).to_string(),
        engagement: level(engage, ENGAGEMENT_LEVELS).to_string(),
        life_stage: life.to_string(),
    }
}

fn base_name(t: &PersonaTags) -> String {
    let risk = match t.risk_appetite.as_str() {
        "cautious" => "Cautious",
        "adventurous" => "Adventurous",
        _ => "Steady",
    };
    let life = match t.life_stage.as_str() {
        "starting out" => "young",
        "established" => "established",
        "retired" => "retired",
        _ => "mid-career",
    };
    let style = match t.spending_style.as_str() {
        "saver" => "savers",
        "spender" => "spenders",
        _ => "balanced spenders",
    };
    format!("{risk} {life} {style}")
}

/// Short phrase for "this segment is high/low on `feature`", used in names.
fn qualifier(feature: &str, high: bool) -> String {
    if let Some(cat) = feature.strip_prefix("spend_share_") {
        let cat = cat.replace('_', " ");
        return if high {
            format!("heavy on {cat}")
        } else {
            format!("light on {cat}")
        };
    }
    let (h, l) = match feature {
        "income_annual" | "monthly_income" => ("high income", "low income"),
        "monthly_spend" => ("high spend", "low spend"),
        "credit_utilization" => ("high credit use", "low credit use"),
        "recurring_payments" => ("many recurring payments", "few recurring payments"),
        "recency_days" => ("lapsed", "recently active"),
        "monetary_avg" => ("large purchases", "small purchases"),
        "spend_trend_3m_vs_12m" => ("spending rising", "spending falling"),
        "products_held" => ("multi-product", "few products"),
        "has_credit_card" => ("card holders", "few credit cards"),
        "has_mortgage" => ("mortgage holders", "few mortgages"),
        "has_investment" => ("investors", "few investors"),
        "sentiment_score" => ("positive sentiment", "negative sentiment"),
        "tenure_years" => ("long-standing", "new to the bank"),
        "transactions_reported" => ("many transactions", "few transactions"),
        "frequency_per_month" => ("frequent", "infrequent"),
        "engagement_score" => ("highly engaged", "low engagement"),
        "risk_profile_score" => ("risk-seeking", "risk-averse"),
        "spending_habit_score" => ("lavish", "budget-minded"),
        "savings_rate" => ("high savings", "low savings"),
        "discretionary_share" => ("discretionary spenders", "essentials first"),
        "age" => ("older", "younger"),
        other => {
            let label = other.replace('_', " ");
            return if high {
                format!("high {label}")
            } else {
                format!("low {label}")
            };
        }
    };
    (if high { h } else { l }).to_string()
}

fn is_money(feature: &str) -> bool {
    matches!(
        feature,
        "income_annual" | "monthly_income" | "monthly_spend" | "monetary_avg"
    )
}

fn is_fraction(feature: &str) -> bool {
    feature.starts_with("spend_share_")
        || feature.starts_with("has_")
        || matches!(
            feature,
            "savings_rate" | "credit_utilization" | "discretionary_share"
        )
}

fn money(v: f64) -> String {
    if v.abs() >= 10_000.0 {
        format!("€{:.0}k", v / 1000.0)
    } else {
        format!("€{v:.0}")
    }
}

fn fmt_value(feature: &str, v: f64) -> String {
    if is_money(feature) {
        money(v)
    } else if is_fraction(feature) {
        format!("{:.0}%", v * 100.0)
    } else {
        format!("{v:.1}")
    }
}

fn label(feature: &str) -> String {
    match feature {
        "income_annual" => "income".into(),
        "monthly_income" => "monthly income".into(),
        "monthly_spend" => "monthly spend".into(),
        "credit_utilization" => "credit utilisation".into(),
        "recency_days" => "days since last activity".into(),
        "monetary_avg" => "average transaction".into(),
        "spend_trend_3m_vs_12m" => "3-month vs 12-month spending trend".into(),
        "products_held" => "number of products".into(),
        "tenure_years" => "tenure (years)".into(),
        "transactions_reported" => "reported transactions".into(),
        "frequency_per_month" => "transactions per month".into(),
        "has_credit_card" => "share with a credit card".into(),
        "has_mortgage" => "share with a mortgage".into(),
        "has_investment" => "share with investments".into(),
        other => other.replace('_', " "),
    }
}

/// "spends more than most on travel" / "higher income than most (€95k vs €61k)".
fn difference_phrase(d: &Distinguishing) -> String {
    let more = d.z > 0.0;
    if let Some(cat) = d.feature.strip_prefix("spend_share_") {
        let cat = cat.replace('_', " ");
        return format!(
            "spends {} than most on {cat} ({} vs {} of spending)",
            if more { "more" } else { "less" },
            fmt_value(&d.feature, d.value),
            fmt_value(&d.feature, d.population_mean)
        );
    }
    format!(
        "{} {} than most ({} vs {})",
        if more { "higher" } else { "lower" },
        label(&d.feature),
        fmt_value(&d.feature, d.value),
        fmt_value(&d.feature, d.population_mean)
    )
}

fn description(v: &View, dist: &[Distinguishing], share: f64) -> String {
    let mut facts: Vec<String> = Vec::new();
    let mut mentioned: Vec<&str> = Vec::new();
    if let Some((age, _)) = v.get("age") {
        facts.push(format!("Average age {age:.0}"));
        mentioned.push("age");
    }
    if let Some((inc, _)) = v.get("income_annual") {
        facts.push(format!("income about {} a year", money(inc)));
        mentioned.push("income_annual");
    } else if let Some((inc, _)) = v.get("monthly_income") {
        facts.push(format!("income about {} a month", money(inc)));
        mentioned.push("monthly_income");
    }
    if let Some((rate, _)) = v.get("savings_rate") {
        facts.push(format!("saves {:.0}% of income", rate * 100.0));
        mentioned.push("savings_rate");
    } else if let Some((h, _)) = v.get("spending_habit_score") {
        facts.push(format!(
            "spending habit {h:.1} on a 0 (budget) to 2 (lavish) scale"
        ));
        mentioned.push("spending_habit_score");
    }
    if let Some((r, _)) = v.get("risk_profile_score") {
        facts.push(format!("risk profile {r:.1} of 2"));
        mentioned.push("risk_profile_score");
    }
    if let Some((e, _)) = v.get("engagement_score") {
        facts.push(format!("engagement {e:.1} of 2"));
        mentioned.push("engagement_score");
    }
    let diffs: Vec<String> = dist
        .iter()
        .filter(|d| d.z.abs() >= 0.5 && !mentioned.contains(&d.feature.as_str()))
        .map(difference_phrase)
        .collect();
    let mut text = String::new();
    if !facts.is_empty() {
        let first = facts.join(", ");
        text.push_str(&first);
        if !diffs.is_empty() {
            text.push_str("; ");
            text.push_str(&diffs.join("; "));
        }
        text.push_str(". ");
    } else if !diffs.is_empty() {
        let mut s = diffs.join("; ");
        if let Some(c) = s.get(0..1) {
            let upper = c.to_uppercase();
            s.replace_range(0..1, &upper);
        }
        text.push_str(&s);
        text.push_str(". ");
    }
    text.push_str(&format!("{:.1}% of customers.", share * 100.0));
    text
}

/// Features ordered by |z| (largest first; ties keep feature order).
fn by_abs_z(z: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..z.len()).collect();
    order.sort_by(|&a, &b| z[b].abs().total_cmp(&z[a].abs()).then(a.cmp(&b)));
    order
}

/// Builds one persona per leaf, with names made unique across the leaves.
pub(crate) fn build(names: &[String], std: &Standardizer, leaves: &[Leaf]) -> Vec<Persona> {
    let mut personas = Vec::with_capacity(leaves.len());
    // Per leaf: the qualifier candidates, in the order they are added to the name.
    let mut candidates: Vec<Vec<String>> = Vec::with_capacity(leaves.len());
    let mut levels: Vec<usize> = Vec::with_capacity(leaves.len());
    for leaf in leaves {
        let view = View {
            names,
            raw: std.inverse_row(&leaf.z),
            z: &leaf.z,
            mean: &std.mean,
        };
        let order = by_abs_z(&leaf.z);
        let distinguishing: Vec<Distinguishing> = order
            .iter()
            .take(3)
            .map(|&i| Distinguishing {
                feature: names[i].clone(),
                z: leaf.z[i],
                value: view.raw[i],
                population_mean: view.mean[i],
            })
            .collect();
        let tags = tags(&view);
        let mut cands: Vec<String> = Vec::new();
        let top = order
            .iter()
            .copied()
            .find(|&i| !TAG_FEATURES.contains(&names[i].as_str()))
            .filter(|&i| leaf.z[i].abs() >= 0.5);
        if let Some(i) = top {
            cands.push(qualifier(&names[i], leaf.z[i] > 0.0));
        }
        let base_level = cands.len();
        match tags.engagement.as_str() {
            "high" => cands.push("highly engaged".into()),
            "low" => cands.push("low engagement".into()),
            _ => {}
        }
        for &i in &order {
            if leaf.z[i] == 0.0 {
                continue;
            }
            let q = qualifier(&names[i], leaf.z[i] > 0.0);
            if !cands.contains(&q) {
                cands.push(q);
            }
        }
        candidates.push(cands);
        levels.push(base_level);
        let description = description(&view, &distinguishing, leaf.share);
        personas.push(Persona {
            segment_id: leaf.segment_id.clone(),
            name: base_name(&tags),
            description,
            tags,
            size: leaf.size,
            share: leaf.share,
            distinguishing,
        });
    }
    let bases: Vec<String> = personas.iter().map(|p| p.name.clone()).collect();
    let compose = |i: usize, level: usize| -> String {
        let quals = &candidates[i][..level.min(candidates[i].len())];
        if quals.is_empty() {
            bases[i].clone()
        } else {
            format!("{}, {}", bases[i], quals.join(", "))
        }
    };
    let mut names_now: Vec<String> = (0..leaves.len()).map(|i| compose(i, levels[i])).collect();
    // Add qualifiers to colliding names until they differ (bounded: every round lengthens at
    // least one name, and no list has more qualifiers than features + 2).
    let max_rounds = names.len() + 3;
    for _ in 0..max_rounds {
        let mut changed = false;
        for i in 0..leaves.len() {
            let collides = (0..leaves.len()).any(|j| j != i && names_now[j] == names_now[i]);
            if collides && levels[i] < candidates[i].len() {
                levels[i] += 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        names_now = (0..leaves.len()).map(|i| compose(i, levels[i])).collect();
    }
    // Last resort: the segment id, which is unique.
    for i in 0..leaves.len() {
        if (0..leaves.len()).any(|j| j != i && names_now[j] == names_now[i]) {
            personas[i].name = format!("{} ({})", names_now[i], leaves[i].segment_id);
        } else {
            personas[i].name = names_now[i].clone();
        }
    }
    personas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_for(mean: Vec<f64>, std: Vec<f64>) -> Standardizer {
        Standardizer { mean, std }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tags_follow_the_documented_rules() {
        let n = names(&[
            "age",
            "income_annual",
            "risk_profile_score",
            "spending_habit_score",
            "engagement_score",
        ]);
        let s = std_for(
            vec![45.0, 60_000.0, 1.0, 1.0, 1.0],
            vec![10.0, 20_000.0, 0.8, 0.8, 0.8],
        );
        // raw = (62, 72k, 0.2, 0.3, 1.9)
        let z = vec![1.7, 0.6, -1.0, -0.875, 1.125];
        let p = build(
            &n,
            &s,
            &[Leaf {
                segment_id: "S1.1".into(),
                z,
                size: 10,
                share: 0.125,
            }],
        );
        let t = &p[0].tags;
        assert_eq!(t.risk_appetite, "cautious");
        assert_eq!(t.spending_style, "saver");
        assert_eq!(t.engagement, "high");
        assert_eq!(t.life_stage, "established");
        assert_eq!(p[0].name, "Cautious established savers, high income");
        assert_eq!(
            p[0].description,
            "Average age 62, income about €72k a year, spending habit 0.3 on a 0 (budget) to 2 \
             (lavish) scale, risk profile 0.2 of 2, engagement 1.9 of 2. 12.5% of customers."
        );
        assert_eq!(p[0].distinguishing[0].feature, "age");
        assert!((p[0].distinguishing[0].value - 62.0).abs() < 1e-9);
    }

    #[test]
    fn savings_rate_wins_over_habit_and_spend_shares_read_well() {
        let n = names(&["savings_rate", "spending_habit_score", "spend_share_travel"]);
        let s = std_for(vec![0.08, 1.0, 0.09], vec![0.05, 0.8, 0.04]);
        let z = vec![3.2, 0.9, 2.25]; // rate 0.24, habit 1.72, travel 18%
        let p = build(
            &n,
            &s,
            &[Leaf {
                segment_id: "S1.1".into(),
                z,
                size: 1,
                share: 1.0,
            }],
        );
        assert_eq!(p[0].tags.spending_style, "saver");
        assert_eq!(
            p[0].tags.life_stage, "building",
            "no age: the documented default"
        );
        assert_eq!(p[0].name, "Steady mid-career savers, heavy on travel");
        assert!(
            p[0].description.contains(
                "saves 24% of income; spends more than most on travel (18% vs 9% of spending)"
            ),
            "{}",
            p[0].description
        );
    }

    #[test]
    fn colliding_names_get_qualifiers() {
        let n = names(&["age", "income_annual", "tenure_years"]);
        let s = std_for(vec![40.0, 50_000.0, 5.0], vec![10.0, 10_000.0, 3.0]);
        let leaf = |z: Vec<f64>, id: &str| Leaf {
            segment_id: id.into(),
            z,
            size: 1,
            share: 0.5,
        };
        let p = build(
            &n,
            &s,
            &[
                leaf(vec![0.0, 0.1, 0.2], "S1.1"),
                leaf(vec![0.0, 0.1, -0.2], "S1.2"),
                leaf(vec![0.0, 0.1, 0.2], "S2.1"),
            ],
        );
        let all: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            all[0],
            "Steady mid-career balanced spenders, long-standing, high income (S1.1)"
        );
        assert_eq!(
            all[1],
            "Steady mid-career balanced spenders, new to the bank"
        );
        assert_eq!(
            all[2],
            "Steady mid-career balanced spenders, long-standing, high income (S2.1)"
        );
    }
}
