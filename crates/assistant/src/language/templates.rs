//! The message templates, their tone openings and closings, and the renderer. Every template has
//! three variants written in short sentences with plain words (each is checked for a Flesch
//! reading ease of at least 60 in the tests) and no number of its own: every figure comes from a
//! fact, so the fact guard can check it.
//!
//! Facts used (required, then optional in brackets):
//! - GoalPlan: goal (text), target (money), monthly (money), target_date (date), probability
//!   (percent); [product (product), basis (text)]
//! - GoalNeedsHorizon: goal; [target (money)] — GoalNeedsTarget: goal; [horizon (months)]
//! - SpendingAnswer: amount (money), category (text), period (text); [count]
//! - SpendingNone: category, period
//! - ProductAnswer: answer (text, from the knowledge base); [product]
//! - Recommendation: product, reason (text); [rate (percent), fee (money)]
//! - NoRecommendation, Fallback: none — Handoff: [reference (text)] — Greeting: [name (text)]
//! - InsightSummary: category, amount, period; [change (percent) with direction (text)]

use super::{Facts, LanguageError, Tone};
use serde::{Deserialize, Serialize};

/// Which message to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateId {
    GoalPlan,
    GoalNeedsHorizon,
    GoalNeedsTarget,
    SpendingAnswer,
    SpendingNone,
    ProductAnswer,
    Recommendation,
    NoRecommendation,
    Handoff,
    Greeting,
    Fallback,
    InsightSummary,
}

impl TemplateId {
    pub const ALL: [TemplateId; 12] = [
        TemplateId::GoalPlan,
        TemplateId::GoalNeedsHorizon,
        TemplateId::GoalNeedsTarget,
        TemplateId::SpendingAnswer,
        TemplateId::SpendingNone,
        TemplateId::ProductAnswer,
        TemplateId::Recommendation,
        TemplateId::NoRecommendation,
        TemplateId::Handoff,
        TemplateId::Greeting,
        TemplateId::Fallback,
        TemplateId::InsightSummary,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TemplateId::GoalPlan => "goal_plan",
            TemplateId::GoalNeedsHorizon => "goal_needs_horizon",
            TemplateId::GoalNeedsTarget => "goal_needs_target",
            TemplateId::SpendingAnswer => "spending_answer",
            TemplateId::SpendingNone => "spending_none",
            TemplateId::ProductAnswer => "product_answer",
            TemplateId::Recommendation => "recommendation",
            TemplateId::NoRecommendation => "no_recommendation",
            TemplateId::Handoff => "handoff",
            TemplateId::Greeting => "greeting",
            TemplateId::Fallback => "fallback",
            TemplateId::InsightSummary => "insight_summary",
        }
    }

    /// Whether tone openings and closings apply (not to greetings and fallbacks).
    fn toned(self) -> bool {
        !matches!(self, TemplateId::Greeting | TemplateId::Fallback)
    }

    fn variants(self) -> &'static [&'static str] {
        match self {
            TemplateId::GoalPlan => &[
                "To have {target} for your {goal} by {target_date}, put aside {monthly} a month.[?product| We suggest the {product} for it.] In our tests, this plan reached the goal {probability} of the time.[?basis| {basis}.]",
                "Here is your {goal} plan. Save {monthly} a month until {target_date}, and you should have {target}.[?product| The {product} is a good home for it.] The plan met the goal in {probability} of our test runs.[?basis| {basis}.]",
                "Save {monthly} each month and you should reach {target} by {target_date}.[?product| Keep it in the {product}.] We tried many market paths. The goal was met in {probability} of them.[?basis| {basis}.]",
            ],
            TemplateId::GoalNeedsHorizon => &[
                "When would you like to reach your {goal} goal?[?target| You want {target}.] Tell me a year, or how many months, and I will make a plan.",
                "Let's plan your {goal}.[?target| We aim for {target}.] By when do you need it? A year or a number of months is fine.",
                "How long do you want to save for your {goal}?[?target| Your target is {target}.] Give me a date or a number of years.",
            ],
            TemplateId::GoalNeedsTarget => &[
                "How much do you need for your {goal}?[?horizon| You want it in {horizon}.] Tell me the amount and I will make a plan.",
                "Let's plan your {goal}. What amount should we aim for?[?horizon| We will plan for {horizon}.]",
                "What is your target for the {goal}?[?horizon| Your time frame is {horizon}.] A rough amount is fine.",
            ],
            TemplateId::SpendingAnswer => &[
                "You spent {amount} on {category} {period}.[?count| That was {count} payments.]",
                "Your {category} spending {period} came to {amount}.[?count| It was spread over {count} payments.]",
                "In total, {category} cost you {amount} {period}.[?count| You paid {count} times.]",
            ],
            TemplateId::SpendingNone => &[
                "I found no {category} spending {period}.",
                "There was no {category} spending {period}.",
                "You had no {category} spending {period}. Nothing to show there.",
            ],
            TemplateId::ProductAnswer => &[
                "{answer}[?product| Would you like to know more about the {product}?]",
                "Here is what I found. {answer}[?product| Just ask if you want more on the {product}.]",
                "{answer}[?product| I can also tell you more about the {product}.]",
            ],
            TemplateId::Recommendation => &[
                "The {product} could suit you. {reason}[?rate| Its rate is {rate}.][?fee| The yearly fee is {fee}.]",
                "Based on what I see, I would suggest the {product}. {reason}[?rate| The rate is {rate}.][?fee| It costs {fee} a year.]",
                "You may like the {product}. {reason}[?rate| It comes with a rate of {rate}.][?fee| The fee is {fee} a year.]",
            ],
            TemplateId::NoRecommendation => &[
                "I have nothing new to suggest right now. Your current products look like a good fit.",
                "Right now there is no product I would add for you. That is good news.",
                "I looked, and nothing new fits you better today. Your set-up looks right.",
            ],
            TemplateId::Handoff => &[
                "I am passing you to a member of our team. They will pick this up soon.[?reference| Your case number is {reference}.]",
                "Let me get a person from our team to help. They can see this chat.[?reference| Please keep this case number: {reference}.]",
                "This needs a human touch. A colleague will take over from here.[?reference| Your case number is {reference}.]",
            ],
            TemplateId::Greeting => &[
                "Hello[?name| {name}]! How can I help you today?",
                "Hi[?name| {name}]. What can I do for you?",
                "Hello[?name| {name}]. Ask me about your spending, your goals or our products.",
            ],
            TemplateId::Fallback => &[
                "Sorry, I did not get that. I can help with savings goals, your spending and our products.",
                "I am not sure I follow. Could you say it another way? I know about goals, spending and our products.",
                "That is outside what I can help with. Try asking about your spending, a savings goal or a product.",
            ],
            TemplateId::InsightSummary => &[
                "Your biggest spend {period} was {category}, at {amount}.[?change| That is {change} {direction} than the month before.]",
                "You spent the most on {category} {period}: {amount} in all.[?change| That is {change} {direction} than the month before.]",
                "Top of your list {period} was {category}, with {amount}.[?change| That is {change} {direction} than before.]",
            ],
        }
    }
}

/// How many wordings a template has.
pub fn variant_count(template: TemplateId) -> usize {
    template.variants().len()
}

const WARM_OPEN: &[&str] = &["Happy to help.", "Glad you asked.", "Sure thing."];
const WARM_CLOSE: &[&str] = &["Just ask if you want more.", "Have a lovely day!"];
const REASSURE_OPEN: &[&str] = &[
    "I understand, and I am here to help.",
    "Thanks for your patience.",
    "I am sorry for the trouble.",
];
const REASSURE_CLOSE: &[&str] = &["We will sort this out together.", "You are in good hands."];

fn pick<'a>(list: &[&'a str], n: u64) -> &'a str {
    let len = u64::try_from(list.len()).unwrap_or(1).max(1);
    let idx = usize::try_from(n % len).unwrap_or(0);
    list.get(idx).copied().unwrap_or("")
}

pub(super) fn render(
    template: TemplateId,
    facts: &Facts,
    tone: Tone,
    variant: u64,
) -> Result<String, LanguageError> {
    let variants = template.variants();
    let n = u64::try_from(variants.len()).unwrap_or(1);
    let body = fill(template, pick(variants, variant), facts)?;
    let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if !template.toned() {
        return Ok(body);
    }
    Ok(wrap(&body, tone, variant / n))
}

/// Put the tone's opening and closing around `body` (`turn` picks which). A closing whose first
/// two words the body already uses ("Just ask …") is left out.
pub(super) fn wrap(body: &str, tone: Tone, turn: u64) -> String {
    let (open, close) = match tone {
        Tone::Neutral => ("", ""),
        Tone::Warm => (pick(WARM_OPEN, turn), pick(WARM_CLOSE, turn)),
        Tone::Reassuring => (pick(REASSURE_OPEN, turn), pick(REASSURE_CLOSE, turn)),
    };
    let lead: String = close
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let close = if !lead.is_empty() && body.contains(&lead) {
        ""
    } else {
        close
    };
    [open, body, close]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replace `{key}` and `[?key|...]` in one template string.
fn fill(template: TemplateId, src: &str, facts: &Facts) -> Result<String, LanguageError> {
    let name = template.name();
    let mut out = String::with_capacity(src.len() + 64);
    let mut rest = src;
    let mut offset = 0usize;
    while let Some(pos) = rest.find(['{', '[']) {
        out.push_str(&rest[..pos]);
        let at = offset + pos;
        let tail = &rest[pos..];
        let consumed = if let Some(inner) = tail.strip_prefix('{') {
            let close = inner.find('}').ok_or(LanguageError::Template {
                template: name,
                at,
                reason: "unclosed {",
            })?;
            let key = &inner[..close];
            let fact = facts.get(key).ok_or_else(|| LanguageError::MissingFact {
                template: name,
                key: key.to_string(),
            })?;
            out.push_str(&fact.render());
            close + 2
        } else if let Some(inner) = tail.strip_prefix("[?") {
            let bar = inner.find('|').ok_or(LanguageError::Template {
                template: name,
                at,
                reason: "optional section without |",
            })?;
            let close = inner.find(']').ok_or(LanguageError::Template {
                template: name,
                at,
                reason: "unclosed [",
            })?;
            if close < bar {
                return Err(LanguageError::Template {
                    template: name,
                    at,
                    reason: "optional section without |",
                });
            }
            let key = &inner[..bar];
            if facts.get(key).is_some() {
                out.push_str(&fill(template, &inner[bar + 1..close], facts)?);
            }
            close + 3
        } else {
            out.push('[');
            1
        };
        rest = &tail[consumed..];
        offset = at + consumed;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn goal_facts() -> Facts {
        Facts::new()
            .text("goal", "house deposit")
            .money("target", 3_240_000, "EUR")
            .money("monthly", 41_200, "EUR")
            .date(
                "target_date",
                NaiveDate::from_ymd_opt(2031, 11, 29).expect("date"),
            )
            .percent("probability", 57.3, 0)
    }

    #[test]
    fn renders_and_optional_sections() {
        let text = render(TemplateId::GoalPlan, &goal_facts(), Tone::Neutral, 0).expect("render");
        assert!(
            text.contains("€32,400") && text.contains("€412") && text.contains("29 November 2031")
        );
        assert!(text.contains("57%"));
        assert!(
            !text.contains("suggest"),
            "optional product sentence without a product: {text}"
        );
        let with = goal_facts().product("product", "P-SAV-GOAL", "Goal Saver");
        let text = render(TemplateId::GoalPlan, &with, Tone::Neutral, 0).expect("render");
        assert!(text.contains("the Goal Saver"));
    }

    #[test]
    fn missing_fact_is_named() {
        let f = Facts::new().text("goal", "car");
        let err = render(TemplateId::GoalPlan, &f, Tone::Neutral, 0).expect_err("missing");
        assert!(
            matches!(err, LanguageError::MissingFact { ref key, .. } if key == "target" || key == "monthly")
        );
        assert!(err.to_string().contains("goal_plan"));
    }

    #[test]
    fn tone_changes_opening_and_closing() {
        let f = goal_facts();
        let neutral = render(TemplateId::GoalPlan, &f, Tone::Neutral, 1).expect("render");
        let warm = render(TemplateId::GoalPlan, &f, Tone::Warm, 1).expect("render");
        let calm = render(TemplateId::GoalPlan, &f, Tone::Reassuring, 1).expect("render");
        assert!(
            warm.ends_with(&format!("{neutral} Just ask if you want more."))
                || warm.contains(&neutral)
        );
        assert_ne!(warm, neutral);
        assert!(
            calm.starts_with("I understand")
                || calm.starts_with("Thanks")
                || calm.starts_with("I am sorry")
        );
        // Variants differ.
        let v0 = render(TemplateId::GoalPlan, &f, Tone::Neutral, 0).expect("render");
        assert_ne!(v0, neutral);
    }

    #[test]
    fn every_template_has_two_to_four_variants() {
        for t in TemplateId::ALL {
            assert!((2..=4).contains(&variant_count(t)), "{t:?}");
        }
    }
}
