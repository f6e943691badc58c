//! The goal roadmap as one self-contained SVG (no scripts, external fonts or images): the
//! p10–p90 band of the Monte Carlo balances, the median line, the target line, milestone markers
//! labelled with their name, amount and month, and both axes. Every piece of text is
//! XML-escaped. Labels alternate above and below the line so neighbours do not collide.

use super::GoalPlan;
use crate::language::format_money;
use crate::text::month_name;
use chrono::{Datelike, Months, NaiveDate};
use std::fmt::Write as _;

const W: f64 = 760.0;
const H: f64 = 400.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 50.0;

/// Escape text for XML content and attribute values.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

fn short_date(d: NaiveDate) -> String {
    let name = month_name(d.month());
    format!("{} {}", name.get(..3).unwrap_or(name), d.year())
}

/// A "nice" axis step (1, 2 or 5 × 10^k) giving at most `ticks` intervals up to `max`.
fn nice_step(max: f64, ticks: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let raw = max / ticks;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// Render the plan as an SVG document.
pub fn roadmap_svg(plan: &GoalPlan) -> String {
    let months = f64::from(plan.horizon_months.max(1));
    let top_value = plan
        .path
        .iter()
        .map(|p| p.p90_minor)
        .chain([plan.target_minor, 1])
        .max()
        .unwrap_or(1) as f64;
    let y_step = nice_step(top_value * 1.1, 5.0);
    let y_max = (top_value * 1.1 / y_step).ceil() * y_step;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |m: f64| LEFT + pw * (m / months).clamp(0.0, 1.0);
    let y = |v: f64| TOP + ph * (1.0 - (v / y_max).clamp(0.0, 1.0));
    let currency = "EUR";
    let mut s = String::with_capacity(8_192);
    let title = format!("Your {} plan", plan.kind.label());
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12" role="img" aria-labelledby="t">"#
    );
    let _ = write!(s, r#"<title id="t">{}</title>"#, xml_escape(&title));
    let _ = write!(s, r##"<rect width="{W}" height="{H}" fill="#ffffff"/>"##);
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="28" font-size="16" font-weight="bold" fill="#1b2a3a">{}</text>"##,
        xml_escape(&title)
    );
    // Grid and y-axis labels.
    let mut v = 0.0;
    while v <= y_max + 0.5 {
        let yy = y(v);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e6e9ee"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
            W - RIGHT,
            LEFT - 8.0,
            yy + 4.0,
            xml_escape(&format_money((v / 100.0).round() as i64 * 100, currency))
        );
        v += y_step;
    }
    // X-axis ticks: a step that gives at most 8 labels.
    let x_step = [1u32, 3, 6, 12, 24, 60, 120]
        .into_iter()
        .find(|st| plan.horizon_months / st <= 8)
        .unwrap_or(120);
    let mut m = 0u32;
    while m <= plan.horizon_months {
        let xx = x(f64::from(m));
        let date = plan
            .start
            .checked_add_months(Months::new(m))
            .unwrap_or(plan.start);
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke="#555"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
            H - BOTTOM,
            H - BOTTOM + 5.0,
            H - BOTTOM + 20.0,
            xml_escape(&short_date(date))
        );
        m += x_step;
    }
    // Axes.
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#555"/><line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#555"/>"##,
        H - BOTTOM,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM
    );
    // p10–p90 band.
    if !plan.path.is_empty() {
        let mut pts: Vec<String> = plan
            .path
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(f64::from(p.month)), y(p.p90_minor as f64)))
            .collect();
        pts.extend(
            plan.path
                .iter()
                .rev()
                .map(|p| format!("{:.1},{:.1}", x(f64::from(p.month)), y(p.p10_minor as f64))),
        );
        let _ = write!(
            s,
            r##"<polygon points="{}" fill="#bcd7f2" fill-opacity="0.6" stroke="none"><title>Likely range (10th to 90th percentile)</title></polygon>"##,
            pts.join(" ")
        );
        let median: Vec<String> = plan
            .path
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(f64::from(p.month)), y(p.p50_minor as f64)))
            .collect();
        let _ = write!(
            s,
            r##"<polyline points="{}" fill="none" stroke="#1f5fa8" stroke-width="2.5"><title>Median balance</title></polyline>"##,
            median.join(" ")
        );
    }
    // Target line.
    let ty = y(plan.target_minor as f64);
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}" stroke="#c0392b" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" text-anchor="start" fill="#c0392b">{}</text>"##,
        W - RIGHT,
        // At the left end: the last milestone's label sits at the right end.
        LEFT + 6.0,
        ty - 6.0,
        xml_escape(&format!(
            "Target {}",
            format_money(plan.target_minor, currency)
        ))
    );
    // Milestones.
    for (k, ms) in plan.milestones.iter().enumerate() {
        let (mx, my) = (x(f64::from(ms.month)), y(ms.amount_minor as f64));
        let above = k % 2 == 1;
        let (dy1, dy2) = if above { (-26.0, -12.0) } else { (18.0, 32.0) };
        let anchor = if mx > W - RIGHT - 80.0 {
            "end"
        } else if mx < LEFT + 80.0 {
            "start"
        } else {
            "middle"
        };
        let _ = write!(
            s,
            r##"<g class="milestone"><circle cx="{mx:.1}" cy="{my:.1}" r="5" fill="#f39c12" stroke="#ffffff" stroke-width="1.5"/><text x="{mx:.1}" y="{:.1}" text-anchor="{anchor}" font-weight="bold" fill="#1b2a3a">{}</text><text x="{mx:.1}" y="{:.1}" text-anchor="{anchor}" fill="#1b2a3a">{}</text></g>"##,
            my + dy1,
            xml_escape(&ms.label),
            my + dy2,
            xml_escape(&format!(
                "{} · {}",
                format_money(ms.amount_minor, currency),
                short_date(ms.date)
            ))
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            xml_escape(r#"<a & "b">'"#),
            "&lt;a &amp; &quot;b&quot;&gt;&apos;"
        );
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(1000.0, 5.0), 200.0);
        assert_eq!(nice_step(4_400_000.0, 5.0), 1_000_000.0);
    }
}
