//! Counterfactuals for a [`Gbdt`] decision: the smallest change to one actionable feature (or,
//! when no single one suffices, to two) that moves the calibrated probability to the other side
//! of the decision threshold — "with credit utilisation below 30% the decision would be approve".
//!
//! A tree ensemble is piecewise constant in each feature, changing only at its split
//! thresholds, so the search is exact on its grid: for each candidate feature the values tried
//! are, for every threshold `t` the model splits that feature on inside the allowed range, `t`
//! itself and the largest float below it (the two sides of the split), plus the range's ends.
//! Values are tried nearest first; the first that flips the decision is that feature's smallest
//! change. When no single feature suffices, pairs are searched on a coarser grid of each
//! feature ([`PAIR_GRID`] values spread over its range). Distance is measured as a share of the feature's allowed range, so features of
//! different scales compare. Only the features the caller lists are ever changed — the caller
//! decides what is actionable (never age, protected or immutable attributes) — and a feature
//! whose current value is missing is not proposed.

use serde::Serialize;

use crate::{Gbdt, ModelError};

/// Which way a feature may be moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Only down (e.g. credit utilisation).
    Decrease,
    /// Only up (e.g. savings rate).
    Increase,
    /// Either way.
    Either,
}

/// A feature a counterfactual may change, and how.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Actionable {
    /// The model's feature name.
    pub feature: String,
    /// In plain words, e.g. "credit utilisation".
    pub label: String,
    /// Smallest allowed value.
    pub min: f64,
    /// Largest allowed value.
    pub max: f64,
    /// Allowed direction of change.
    pub direction: Direction,
    /// Show values as percentages (for shares and rates in [0, 1]).
    pub percent: bool,
}

/// One feature's change within a counterfactual.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub feature: String,
    /// The value now.
    pub from: f64,
    /// The value the model was evaluated at.
    pub to: f64,
    /// The model's split threshold the change crosses: the new value is below it (`below`
    /// true) or at least it.
    pub threshold: f64,
    pub below: bool,
    /// E.g. "credit utilisation below 30% (now 62%)".
    pub text: String,
}

/// A change that flips the decision, with the model's probability after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counterfactual {
    pub changes: Vec<Change>,
    /// Calibrated probability with the changes applied (exact, from the model).
    pub probability: f64,
    /// Total change as a share of the allowed ranges (what "smallest" minimises).
    pub distance: f64,
}

/// Grid values per feature tried in the two-feature search, spread from the nearest to the
/// farthest, bounding it to `PAIR_GRID²` model evaluations per pair of features (so the pair
/// found is the smallest on that coarser grid).
pub const PAIR_GRID: usize = 25;

fn show(v: f64, percent: bool) -> String {
    if percent {
        let p = v * 100.0;
        if p.abs() < 10.0 {
            format!("{p:.1}%")
        } else {
            format!("{p:.0}%")
        }
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Candidate values of one feature: sides of every split threshold in range, and the ends of
/// the range, allowed by the direction, sorted by distance from `now`, each with the threshold
/// it sits at (NaN for a range end) and whether it is below it.
fn grid(thresholds: &[f64], a: &Actionable, now: f64) -> Vec<(f64, f64, bool)> {
    let mut v: Vec<(f64, f64, bool)> = vec![(a.min, f64::NAN, false), (a.max, f64::NAN, false)];
    for &t in thresholds {
        if t > a.min && t <= a.max {
            v.push((t, t, false));
            v.push((t.next_down(), t, true));
        }
    }
    v.retain(|&(x, _, _)| {
        x != now
            && match a.direction {
                Direction::Decrease => x < now,
                Direction::Increase => x > now,
                Direction::Either => true,
            }
    });
    v.sort_by(|p, q| (p.0 - now).abs().total_cmp(&(q.0 - now).abs()));
    v.dedup_by(|p, q| p.0 == q.0);
    v
}

fn change(a: &Actionable, from: f64, (to, t, below): (f64, f64, bool)) -> Change {
    let (threshold, below) = if t.is_nan() { (to, false) } else { (t, below) };
    let bound = if t.is_nan() {
        format!("at {}", show(to, a.percent))
    } else if below {
        format!("below {}", show(threshold, a.percent))
    } else {
        format!("at least {}", show(threshold, a.percent))
    };
    Change {
        feature: a.feature.clone(),
        from,
        to,
        threshold,
        below,
        text: format!("{} {bound} (now {})", a.label, show(from, a.percent)),
    }
}

/// Counterfactuals for `row` under the decision "positive when the calibrated probability is
/// at least `threshold`": for every candidate feature whose single change flips the decision,
/// its smallest such change; when none does and `max_changes ≥ 2`, the smallest pair. Sorted by
/// distance, smallest first. Empty when nothing within the allowed ranges flips it.
pub fn counterfactuals(
    model: &Gbdt,
    row: &[f64],
    threshold: f64,
    candidates: &[Actionable],
    max_changes: usize,
) -> Result<Vec<Counterfactual>, ModelError> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(ModelError::InvalidInput(format!(
            "threshold must be in [0, 1], got {threshold}"
        )));
    }
    let names = model.feature_names();
    let positive = |r: &[f64]| -> Result<bool, ModelError> {
        Ok(model.fast_calibrated_proba(r)? >= threshold)
    };
    let now = positive(row)?;
    let splits = model.split_thresholds();
    // (candidate, column, grid)
    let mut usable = Vec::new();
    for a in candidates {
        let Some(j) = names.iter().position(|n| *n == a.feature) else {
            return Err(ModelError::InvalidInput(format!(
                "counterfactual feature `{}` is not a feature of the model",
                a.feature
            )));
        };
        if a.min.is_nan() || a.max.is_nan() || a.min > a.max {
            return Err(ModelError::InvalidInput(format!(
                "counterfactual feature `{}`: min {} is above max {}",
                a.feature, a.min, a.max
            )));
        }
        if row[j].is_nan() {
            continue;
        }
        usable.push((a, j, grid(&splits[j], a, row[j])));
    }
    let dist = |a: &Actionable, from: f64, to: f64| {
        let span = a.max - a.min;
        if span > 0.0 {
            (to - from).abs() / span
        } else {
            0.0
        }
    };
    let mut out = Vec::new();
    let mut r = row.to_vec();
    for (a, j, g) in &usable {
        for &cand in g {
            r[*j] = cand.0;
            if positive(&r)? != now {
                out.push(Counterfactual {
                    changes: vec![change(a, row[*j], cand)],
                    probability: model.calibrated_proba(&r)?,
                    distance: dist(a, row[*j], cand.0),
                });
                break;
            }
        }
        r[*j] = row[*j];
    }
    if out.is_empty() && max_changes >= 2 {
        // Pairs: PAIR_GRID values of each grid spread evenly from nearest to farthest (the
        // grids are sorted by distance), so the search covers the whole allowed range.
        let coarse = |g: &[(f64, f64, bool)]| -> Vec<(f64, f64, bool)> {
            if g.len() <= PAIR_GRID {
                return g.to_vec();
            }
            let mut idx: Vec<usize> = (0..PAIR_GRID)
                .map(|k| (k * (g.len() - 1) + (PAIR_GRID - 1) / 2) / (PAIR_GRID - 1))
                .collect();
            idx.dedup();
            idx.into_iter().map(|i| g[i]).collect()
        };
        let coarse: Vec<_> = usable.iter().map(|(_, _, g)| coarse(g)).collect();
        let mut best: Option<Counterfactual> = None;
        for (p, (a, i, _)) in usable.iter().enumerate() {
            for (q, (b, j, _)) in usable.iter().enumerate().skip(p + 1) {
                for &ci in &coarse[p] {
                    for &cj in &coarse[q] {
                        let d = dist(a, row[*i], ci.0) + dist(b, row[*j], cj.0);
                        if best.as_ref().is_some_and(|x| x.distance <= d) {
                            continue;
                        }
                        r[*i] = ci.0;
                        r[*j] = cj.0;
                        if positive(&r)? != now {
                            best = Some(Counterfactual {
                                changes: vec![change(a, row[*i], ci), change(b, row[*j], cj)],
                                probability: model.calibrated_proba(&r)?,
                                distance: d,
                            });
                        }
                        r[*i] = row[*i];
                        r[*j] = row[*j];
                    }
                }
            }
        }
        out.extend(best);
    }
    // The fast path agrees with the exact probability to ~1e-6; keep only exact flips.
    out.retain(|c| (c.probability >= threshold) != now);
    out.sort_by(|x, y| x.distance.total_cmp(&y.distance));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dataset, GbdtParams};
    use rand::{Rng, SeedableRng};

    /// y depends on "util" (up = bad) and "savings" (up = good); "age" is a third column.
    fn model() -> (Gbdt, Dataset) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..3000 {
            let (u, s, age) = (
                rng.random::<f64>(),
                rng.random::<f64>() * 2.0 - 1.0,
                18.0 + 60.0 * rng.random::<f64>(),
            );
            let logit = 4.0 * u - 2.0 * s - 2.0 + 0.01 * (age - 50.0);
            let p = 1.0 / (1.0 + (-logit).exp());
            x.extend([u, s, age]);
            y.push(if rng.random::<f64>() < p { 1.0 } else { 0.0 });
        }
        let d =
            Dataset::from_parts(vec!["util".into(), "savings".into(), "age".into()], x, y).unwrap();
        let m = Gbdt::fit(
            &d,
            &GbdtParams {
                calibration_folds: 0,
                ..Default::default()
            },
        )
        .unwrap();
        (m, d)
    }

    fn actionable() -> Vec<Actionable> {
        vec![
            Actionable {
                feature: "util".into(),
                label: "credit utilisation".into(),
                min: 0.0,
                max: 1.0,
                direction: Direction::Decrease,
                percent: true,
            },
            Actionable {
                feature: "savings".into(),
                label: "savings rate".into(),
                min: -1.0,
                max: 1.0,
                direction: Direction::Increase,
                percent: true,
            },
        ]
    }

    #[test]
    fn the_counterfactual_really_flips_the_decision() {
        let (m, _) = model();
        let row = [0.9, -0.5, 40.0];
        let p = m.calibrated_proba(&row).unwrap();
        assert!(p >= 0.5, "{p}");
        let cfs = counterfactuals(&m, &row, 0.5, &actionable(), 2).unwrap();
        assert!(!cfs.is_empty());
        for cf in &cfs {
            let mut r = row;
            for c in &cf.changes {
                let j = ["util", "savings", "age"]
                    .iter()
                    .position(|n| *n == c.feature)
                    .unwrap();
                assert_ne!(c.feature, "age", "age is never proposed");
                r[j] = c.to;
            }
            let q = m.calibrated_proba(&r).unwrap();
            assert!(q < 0.5, "{cf:?} gives {q}");
            assert!((q - cf.probability).abs() < 1e-12);
        }
        let util = cfs.iter().find(|c| c.changes[0].feature == "util").unwrap();
        assert!(util.changes[0].to < 0.9 && util.changes[0].below);
        assert!(
            util.changes[0]
                .text
                .starts_with("credit utilisation below "),
            "{}",
            util.changes[0].text
        );
        // Smallest: any grid value nearer to 0.9 on the way down does not flip.
        for w in [0.0, 0.25, 0.5, 0.75, 0.999] {
            let v = 0.9 - (0.9 - util.changes[0].to) * w;
            if v > util.changes[0].to {
                let mut r = row;
                r[0] = v;
                if w < 1.0 && v >= util.changes[0].threshold {
                    assert!(m.calibrated_proba(&r).unwrap() >= 0.5, "{v}");
                }
            }
        }
    }

    #[test]
    fn immutable_features_are_never_proposed_and_missing_ones_skipped() {
        let (m, _) = model();
        // Only "util" listed, and it is missing: nothing to propose.
        let cfs = counterfactuals(&m, &[f64::NAN, -0.9, 70.0], 0.5, &actionable()[..1], 2).unwrap();
        assert!(cfs.is_empty());
        let e = counterfactuals(
            &m,
            &[0.5, 0.0, 30.0],
            0.5,
            &[Actionable {
                feature: "income".into(),
                ..actionable()[0].clone()
            }],
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("`income` is not a feature"), "{e}");
    }

    #[test]
    fn two_changes_when_one_is_not_enough() {
        let (m, _) = model();
        // True logit 4u − 2s − 2: utilisation down to 0.3 alone leaves ≈ 1.1, savings up to 0
        // alone ≈ 1.8, both ≈ −0.8.
        let mut a = actionable();
        a[0].min = 0.3;
        a[1].max = 0.0;
        let row = [0.95, -0.95, 40.0];
        assert!(m.calibrated_proba(&row).unwrap() >= 0.5);
        assert!(counterfactuals(&m, &row, 0.5, &a, 1).unwrap().is_empty());
        let pair = counterfactuals(&m, &row, 0.5, &a, 2).unwrap();
        assert_eq!(pair.len(), 1, "{pair:?}");
        assert_eq!(pair[0].changes.len(), 2);
        let r = [pair[0].changes[0].to, pair[0].changes[1].to, 40.0];
        assert!(m.calibrated_proba(&r).unwrap() < 0.5);
        assert!((m.calibrated_proba(&r).unwrap() - pair[0].probability).abs() < 1e-12);
    }
}
