//! Language end to end: every template × variant × tone renders with random facts and passes the
//! fact guard (property-style, seeded), every variant reads plainly (Flesch ≥ 60 with typical
//! facts), and hand-written hallucinations are caught.

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sextant_assistant::language::{
    Facts, TemplateId, Tone, ViolationKind, flesch_reading_ease, guard, render, variant_count,
};

const PRODUCTS: &[(&str, &str)] = &[
    ("P-CC-GOLD", "Gold Card"),
    ("P-CC-PLAT", "Platinum Travel Card"),
    ("P-SAV-GOAL", "Goal Saver"),
    ("P-SAV-EASY", "Easy Access Savings"),
    ("P-TD-12", "Term Deposit 12 months"),
    ("P-MTG-FIX10", "Fixed-Rate Mortgage 10y"),
    ("P-INV-MED", "Portfolio Balanced"),
];

fn names() -> Vec<String> {
    PRODUCTS.iter().map(|(_, n)| n.to_string()).collect()
}

fn random_money(rng: &mut ChaCha8Rng) -> i64 {
    match rng.random_range(0..4) {
        0 => rng.random_range(1..10_000),
        1 => rng.random_range(1..10_000) * 100,
        2 => rng.random_range(1..100_000_000),
        _ => rng.random_range(1..1_000_000_000_000),
    }
}

fn random_facts(rng: &mut ChaCha8Rng) -> Facts {
    let pick = |rng: &mut ChaCha8Rng, xs: &[&'static str]| xs[rng.random_range(0..xs.len())];
    let (id, name) = PRODUCTS[rng.random_range(0..PRODUCTS.len())];
    let currency = if rng.random_bool(0.8) { "EUR" } else { "GBP" };
    let date = NaiveDate::from_ymd_opt(
        rng.random_range(2026..2070),
        rng.random_range(1..=12),
        rng.random_range(1..=28),
    )
    .expect("valid date");
    let decimals = rng.random_range(0..=2u8);
    let percent = (rng.random_range(0.0..100.0f64) * 100.0).round() / 100.0;
    Facts::new()
        .money("target", random_money(rng), currency)
        .money("monthly", random_money(rng), currency)
        .money("amount", random_money(rng), currency)
        .money("fee", random_money(rng), currency)
        .percent("probability", percent, decimals)
        .percent("rate", (rng.random_range(0.0..20.0f64) * 100.0).round() / 100.0, rng.random_range(0..=2u8))
        .percent("change", rng.random_range(1.0..300.0f64).round(), 0)
        .date("target_date", date)
        .months("horizon", rng.random_range(1..600))
        .count("count", rng.random_range(1..100_000))
        .product("product", id, name)
        .text("goal", pick(rng, &["house deposit", "car", "wedding", "emergency fund", "retirement"]))
        .text("category", pick(rng, &["groceries", "restaurants", "travel", "subscriptions"]))
        .text("period", pick(rng, &["last month", "in March", "this year", "in the last 3 months", "since 1 May 2026"]))
        .text("answer", pick(rng, &[
            "The Gold Card costs €89 a year and pays 1% cashback on travel.",
            "Transfers in euros arrive the next working day. Urgent ones take 10 seconds.",
            "You can open a Goal Saver in the app in 5 minutes.",
        ]))
        .text("reason", pick(rng, &["You travel abroad 6 times a year.", "You keep a high balance.", "It has no fee."]))
        .text("reference", pick(rng, &["C-1042", "case 2026/77", "REF 993"]))
        .text("name", pick(rng, &["Ana", "Jo 2"]))
        .text("basis", "Our estimate: a 15% deposit on a home worth 4.5 times your yearly income, plus 2.0% a year for rising prices")
        .text("direction", pick(rng, &["more", "less"]))
}

#[test]
fn every_template_variant_and_tone_passes_the_guard_with_random_facts() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut checked = 0;
    for _ in 0..60 {
        let facts = random_facts(&mut rng);
        for t in TemplateId::ALL {
            for v in 0..variant_count(t) as u64 * 4 {
                for tone in Tone::ALL {
                    let text = render(t, &facts, tone, v).unwrap_or_else(|e| panic!("{t:?}: {e}"));
                    if let Err(violations) = guard(&text, &facts, &names()) {
                        panic!("{t:?} v{v} {tone:?}: {violations:?}\n{text}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 5_000);
}

fn typical() -> Facts {
    Facts::new()
        .text("goal", "house deposit")
        .money("target", 3_240_000, "EUR")
        .money("monthly", 41_200, "EUR")
        .date(
            "target_date",
            NaiveDate::from_ymd_opt(2031, 11, 29).expect("valid date"),
        )
        .percent("probability", 58.0, 0)
        .product("product", "P-SAV-GOAL", "Goal Saver")
        .months("horizon", 36)
        .money("amount", 31_250, "EUR")
        .text("category", "restaurants")
        .text("period", "last month")
        .count("count", 14)
        .text(
            "answer",
            "The Goal Saver pays 2.25% a year. You can take money out at any time.",
        )
        .text("reason", "You have money left over most months.")
        .percent("rate", 2.25, 2)
        .money("fee", 0, "EUR")
        .text("reference", "C-1042")
        .text("name", "Ana")
        .percent("change", 12.0, 0)
        .text("direction", "more")
}

#[test]
fn every_variant_reads_plainly() {
    let facts = typical();
    let mut worst = (f64::MAX, String::new());
    for t in TemplateId::ALL {
        for v in 0..variant_count(t) as u64 * 3 {
            for tone in Tone::ALL {
                let text = render(t, &facts, tone, v).expect("render");
                let score = flesch_reading_ease(&text);
                if score < worst.0 {
                    worst = (score, text.clone());
                }
                assert!(
                    score >= 60.0,
                    "{t:?} v{v} {tone:?}: Flesch {score:.1}: {text}"
                );
            }
        }
    }
    println!("lowest Flesch reading ease: {:.1}: {}", worst.0, worst.1);
}

fn violation_kinds(text: &str, facts: &Facts) -> Vec<ViolationKind> {
    guard(text, facts, &names())
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.kind)
        .collect()
}

#[test]
fn hallucinations_are_caught() {
    let facts = typical();
    let good = render(TemplateId::GoalPlan, &facts, Tone::Neutral, 0).expect("render");
    assert_eq!(guard(&good, &facts, &names()), Ok(()));
    // A return promise with no percent fact behind it.
    assert_eq!(
        violation_kinds(&format!("{good} You will earn 5% a year."), &facts),
        vec![ViolationKind::Percent]
    );
    // A wrong amount.
    let wrong = good.replace("€412", "€421");
    assert_ne!(wrong, good);
    assert_eq!(violation_kinds(&wrong, &facts), vec![ViolationKind::Money]);
    // A product the facts do not name.
    assert_eq!(
        violation_kinds(&format!("{good} The Gold Card is great too."), &facts),
        vec![ViolationKind::Product]
    );
    // An invented date and year.
    let moved = good.replace("29 November 2031", "30 November 2031");
    assert_eq!(violation_kinds(&moved, &facts), vec![ViolationKind::Date]);
    assert_eq!(
        violation_kinds("Prices will fall in 2029.", &facts),
        vec![ViolationKind::Date]
    );
    // Number words count too.
    assert_eq!(
        violation_kinds("Just wait eleven months.", &facts),
        vec![ViolationKind::Number]
    );
    // ... and normalised equals pass: 36 months = 3 years, €412 = 412.00 EUR.
    assert_eq!(
        violation_kinds("Save 412.00 EUR for 3 years.", &facts),
        vec![]
    );
}
