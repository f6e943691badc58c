//! A fixed-width text rendering of audit reports, for terminals and logs.

use std::fmt::Write;

use crate::metrics::FOUR_FIFTHS;
use crate::{AttributeReport, MetricEstimate, MetricKind};

/// Render reports as plain fixed-width text (ASCII apart from group names): per attribute, a
/// table of groups (n, selected, selection rate, TPR, FPR; `-` where undefined; small groups
/// marked), then the four metrics with their intervals, `FLAG` on a four-fifths violation, and
/// the reason where a metric is undefined. Reports are separated by a blank line.
pub fn render_table(reports: &[AttributeReport]) -> String {
    let mut out = String::new();
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_one(&mut out, r);
    }
    out
}

fn render_one(out: &mut String, r: &AttributeReport) {
    let b = &r.bootstrap;
    let level = percent(b.confidence);
    let n: u64 = r.groups.iter().map(|g| g.n).sum();
    let _ = write!(
        out,
        "{}: {} group(s), {n} record(s)",
        r.attribute,
        r.groups.len()
    );
    if b.replicates > 0 {
        let _ = writeln!(
            out,
            "; {level}% bootstrap intervals ({} replicates, seed {})",
            b.replicates, b.seed
        );
    } else {
        out.push_str("; no bootstrap intervals\n");
    }

    let w = r
        .groups
        .iter()
        .map(|g| g.group.chars().count())
        .chain([5])
        .max()
        .unwrap_or(5);
    let _ = writeln!(
        out,
        "  {:<w$}  {:>8}  {:>8}  {:>9}  {:>7}  {:>7}",
        "group", "n", "selected", "sel. rate", "TPR", "FPR"
    );
    for g in &r.groups {
        let pad = w - g.group.chars().count();
        let _ = write!(
            out,
            "  {}{:pad$}  {:>8}  {:>8}  {:>9.4}  {:>7}  {:>7}",
            g.group,
            "",
            g.n,
            g.selected,
            g.selection_rate,
            opt(g.tpr),
            opt(g.fpr)
        );
        if g.small {
            let _ = write!(out, "  small (n < {})", b.min_group_size);
        }
        out.push('\n');
    }

    out.push('\n');
    let _ = write!(out, "  {:<29}  {:>7}", "metric", "value");
    if b.replicates > 0 {
        let _ = write!(out, "  {level}% interval");
    }
    out.push('\n');
    for kind in MetricKind::ALL {
        let m = r.metric(kind);
        let _ = write!(out, "  {:<29}  {:>7}", kind.label(), opt(m.value));
        match (&m.value, &m.undefined_reason) {
            (None, reason) => {
                let _ = write!(out, "  {}", reason.as_deref().unwrap_or("undefined"));
            }
            (Some(_), _) => interval(out, m, b.replicates),
        }
        if kind == MetricKind::DisparateImpactRatio && r.four_fifths_violation {
            let _ = write!(out, "  FLAG four-fifths rule (< {FOUR_FIFTHS})");
        }
        out.push('\n');
    }
}

fn interval(out: &mut String, m: &MetricEstimate, replicates: usize) {
    if replicates == 0 {
        return;
    }
    match m.ci {
        Some(ci) => {
            let _ = write!(out, "  [{:.4}, {:.4}]", ci.lower, ci.upper);
        }
        None => out.push_str("  -"),
    }
    if m.undefined_replicates > 0 {
        let _ = write!(
            out,
            " ({} of {replicates} replicates undefined)",
            m.undefined_replicates
        );
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

/// `0.95` → `"95"`, `0.995` → `"99.5"`.
fn percent(c: f64) -> String {
    let s = format!("{:.2}", c * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn percent_trims() {
        assert_eq!(percent(0.95), "95");
        assert_eq!(percent(0.9), "90");
        assert_eq!(percent(0.995), "99.5");
    }
}
