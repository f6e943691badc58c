//! Goal plans end to end: the SVG roadmap is well-formed XML with the milestone labels, plans are
//! reproducible, and a plan's own facts render into a message that passes the fact guard.

use chrono::NaiveDate;
use sextant_assistant::GoalKind;
use sextant_assistant::goal::{
    Assumptions, GoalPlan, GoalProfile, GoalRequest, PlanOutcome, plan, roadmap_svg,
};
use sextant_assistant::language::{TemplateId, Tone, guard, render};
use sextant_core::RiskProfile;
use std::time::Instant;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).expect("valid date")
}

fn profile(risk: RiskProfile) -> GoalProfile {
    GoalProfile {
        monthly_income_minor: 350_000,
        monthly_essential_spend_minor: 180_000,
        monthly_free_cash_minor: 70_000,
        current_savings_minor: 250_000,
        risk,
        age: Some(31),
    }
}

fn make(kind: GoalKind, target: Option<i64>, months: Option<u32>, risk: RiskProfile) -> GoalPlan {
    let req = GoalRequest {
        kind,
        target_minor: target,
        horizon_months: months,
    };
    match plan(&req, &profile(risk), today(), &Assumptions::default()) {
        PlanOutcome::Plan(p) => p,
        other => panic!("no plan: {other:?}"),
    }
}

#[test]
fn roadmap_is_well_formed_svg_with_labelled_milestones() {
    for (kind, target, months, risk) in [
        (GoalKind::House, None, Some(60), RiskProfile::Medium),
        (GoalKind::Travel, Some(350_000), Some(9), RiskProfile::Low),
        (GoalKind::Retirement, None, None, RiskProfile::High),
    ] {
        let p = make(kind, target, months, risk);
        let svg = roadmap_svg(&p);
        let doc =
            roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{kind:?}: {e}\n{svg}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let texts: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::to_string))
            .collect();
        for m in &p.milestones {
            assert!(
                texts.iter().any(|t| t == &m.label),
                "{kind:?}: label {} missing",
                m.label
            );
            let year = m.date.format("%Y").to_string();
            assert!(
                texts.iter().any(|t| t.contains(&year)),
                "{kind:?}: date of {} missing",
                m.label
            );
        }
        assert!(
            texts.iter().any(|t| t.starts_with("Target €")),
            "{kind:?}: no target label"
        );
        assert!(
            doc.descendants().any(|n| n.has_tag_name("polygon")),
            "no p10–p90 band"
        );
        assert!(
            doc.descendants().any(|n| n.has_tag_name("polyline")),
            "no median line"
        );
        assert!(!svg.contains("<script") && !svg.contains("href") && !svg.contains("@import"));
    }
}

#[test]
fn roadmap_escapes_text() {
    let mut p = make(GoalKind::Car, Some(1_000_000), Some(24), RiskProfile::Low);
    p.milestones[0].label = "Half <way> & \"more\"".to_string();
    let svg = roadmap_svg(&p);
    let doc = roxmltree::Document::parse(&svg).expect("still well-formed");
    assert!(
        doc.descendants()
            .any(|n| n.text() == Some("Half <way> & \"more\""))
    );
}

#[test]
fn plans_and_charts_are_reproducible() {
    let a = make(GoalKind::Wedding, None, Some(30), RiskProfile::High);
    let b = make(GoalKind::Wedding, None, Some(30), RiskProfile::High);
    assert_eq!(a, b);
    assert_eq!(roadmap_svg(&a), roadmap_svg(&b));
}

#[test]
fn plan_facts_render_and_pass_the_guard() {
    let names: Vec<String> = [
        "Goal Saver",
        "Term Deposit 12 months",
        "Portfolio Defensive",
        "Portfolio Balanced",
        "Portfolio Growth",
        "Easy Access Savings",
        "Gold Card",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (kind, target, months, risk) in [
        (GoalKind::House, None, Some(60), RiskProfile::Medium),
        (GoalKind::EmergencyFund, None, Some(12), RiskProfile::Low),
        (GoalKind::Car, Some(1_234_550), Some(40), RiskProfile::High),
    ] {
        let p = make(kind, target, months, risk);
        let facts = p.facts();
        for tone in [Tone::Warm, Tone::Neutral, Tone::Reassuring] {
            for v in 0..3 {
                let text = render(TemplateId::GoalPlan, &facts, tone, v).expect("render");
                assert_eq!(guard(&text, &facts, &names), Ok(()), "{text}");
            }
        }
    }
}

#[test]
fn simulation_cost_is_reported() {
    // Measured, not asserted (no timing asserts): 10,000 paths over 10 years.
    let start = Instant::now();
    let p = make(
        GoalKind::House,
        Some(6_000_000),
        Some(120),
        RiskProfile::High,
    );
    let elapsed = start.elapsed();
    println!(
        "plan with {} paths × {} months: {:.1} ms (this build profile); probability {:.3}",
        p.assumptions.paths,
        p.horizon_months,
        elapsed.as_secs_f64() * 1000.0,
        p.probability
    );
    assert_eq!(p.path.len(), 121);
}
