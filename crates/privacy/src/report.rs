//! Report helpers for the product: average spend per group × category
//! ([`category_spend_report`]) and the customer-facing "people like you spend…" comparison
//! ([`people_like_you`]).
//!
//! # Category spend report
//! Input is one row per customer and category (`spend` in minor units, e.g. a month's total).
//! The privacy unit is the customer, so the report first bounds what one customer can
//! influence, using only that customer's own rows (a per-customer transformation, which keeps
//! add/remove-one neighbours neighbours):
//!
//! 1. Rows whose group or category is not in the **public** lists of the config are dropped.
//!    The cells released are always the full cross product `groups × categories`, never "the
//!    cells that occur in the data" — otherwise the mere presence of a cell would leak that
//!    someone is in it.
//! 2. A customer belongs to one group: the first of the config's groups among their rows;
//!    their rows in other groups are dropped.
//! 3. Rows of one customer in the same category are summed; a customer keeps at most
//!    `max_categories_per_customer` (= k) categories — those with the largest spend, ties in
//!    config order.
//! 4. Each kept spend is clamped into `clamp`.
//!
//! A customer then touches at most k cells, all in one group. Each cell gets **ε/k**
//! (sequential composition over the ≤ k cells a customer touches; cells the customer does not
//! touch do not change, i.e. parallel composition across disjoint customers), split in half
//! inside the cell as in [`crate::noisy_mean`]: ε/(2k) for the customer count, ε/(2k) for the
//! centred spend sum; the mean is their ratio. The whole report is ε-DP, and ε is what must be
//! charged. Choosing k = the number of categories keeps every row; a smaller k means less
//! noise per cell but drops a customer's smallest categories (bias to document in the report).
//!
//! **Small-count suppression:** a cell whose noisy count is below `min_noisy_count` is
//! withheld entirely. Since the decision uses only the noisy count, suppression is
//! post-processing and costs no extra ε.
//!
//! # People like you
//! The comparison shown to a customer is the ε-DP mean of their peers' values, withheld when
//! the noisy peer count is below `min_peers`. Every customer shown a number is a recipient of a
//! release: compute it once per peer group and period, charge it to a customer-facing budget,
//! and show the same released number to every customer in the group (re-showing a released
//! number is post-processing and costs nothing).

use std::collections::HashMap;

use rand::TryCryptoRng;
use serde::Serialize;

use crate::epsilon::{Clamp, Epsilon};
use crate::error::PrivacyError;
use crate::mechanism::{Mechanism, Release, mean_with};
use crate::sampler::NoiseSource;

/// One customer's spend in one category, with the customer's group (segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendRow<'a> {
    /// Customer id: the privacy unit. Never appears in the output.
    pub customer: &'a str,
    pub group: &'a str,
    pub category: &'a str,
    /// Spend in minor units.
    pub spend: i64,
}

/// What the report releases; all lists are public (not derived from the data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendReportConfig {
    pub groups: Vec<String>,
    pub categories: Vec<String>,
    /// Bounds each customer's spend in a category is clamped into (minor units).
    pub clamp: Clamp,
    /// At most this many categories per customer count (k); ε per cell is ε/k.
    pub max_categories_per_customer: u32,
    /// Cells with a noisy count below this (at least 1) are withheld.
    pub min_noisy_count: i64,
}

/// The released statistics of one cell, or the fact that it was withheld.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CellOutcome {
    Released {
        /// Noisy number of customers.
        customers: i64,
        /// Noisy mean spend per customer, minor units, within the clamp bounds.
        mean_spend: f64,
    },
    /// The noisy count was below the threshold.
    Withheld,
}

/// One group × category cell of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleasedCell {
    pub group: String,
    pub category: String,
    #[serde(flatten)]
    pub outcome: CellOutcome,
}

/// The whole report and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendReport {
    /// Every cell of `groups × categories`, groups outer, in config order.
    pub cells: Vec<ReleasedCell>,
    /// ε of the whole report (to be charged).
    pub epsilon_spent: f64,
    /// ε of each cell (ε / k), split between count and sum as in `mechanism`.
    pub epsilon_per_cell: f64,
    /// The per-cell mechanism (the same for every cell).
    pub mechanism: Mechanism,
    pub clamp: Clamp,
    pub max_categories_per_customer: u32,
    pub min_noisy_count: i64,
}

/// ε-DP count and mean spend per group × category with small-count suppression; see the
/// module docs for the contribution bounding and the ε split.
pub fn category_spend_report<R: TryCryptoRng>(
    rows: &[SpendRow<'_>],
    config: &SpendReportConfig,
    eps: Epsilon,
    noise: &mut NoiseSource<R>,
) -> Result<SpendReport, PrivacyError> {
    if config.groups.is_empty() || config.categories.is_empty() {
        return Err(PrivacyError::Config(
            "groups and categories must not be empty",
        ));
    }
    if config.max_categories_per_customer == 0 {
        return Err(PrivacyError::Config(
            "max_categories_per_customer must be at least 1",
        ));
    }
    if config.min_noisy_count < 1 {
        return Err(PrivacyError::Config("min_noisy_count must be at least 1"));
    }
    let group_ix: HashMap<&str, usize> = index(&config.groups);
    let category_ix: HashMap<&str, usize> = index(&config.categories);

    // Per customer: (group, category) → summed spend, over public groups and categories only.
    let mut per_customer: HashMap<&str, HashMap<(usize, usize), i64>> = HashMap::new();
    for row in rows {
        let (Some(&g), Some(&c)) = (group_ix.get(row.group), category_ix.get(row.category)) else {
            continue;
        };
        let spend = per_customer
            .entry(row.customer)
            .or_default()
            .entry((g, c))
            .or_insert(0);
        *spend = spend.saturating_add(row.spend);
    }

    let n_categories = config.categories.len();
    let mut cells: Vec<Vec<i64>> = vec![Vec::new(); config.groups.len() * n_categories];
    let k = config.max_categories_per_customer as usize;
    for spends in per_customer.values() {
        let Some(group) = spends.keys().map(|(g, _)| *g).min() else {
            continue;
        };
        let mut mine: Vec<(usize, i64)> = spends
            .iter()
            .filter(|((g, _), _)| *g == group)
            .map(|((_, c), s)| (*c, *s))
            .collect();
        mine.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for (c, s) in mine.into_iter().take(k) {
            cells[group * n_categories + c].push(config.clamp.apply(s));
        }
    }

    let per_cell = eps
        .rational()
        .split(config.max_categories_per_customer)
        .ok_or(PrivacyError::Config("epsilon split overflows"))?;
    let mut out = Vec::with_capacity(cells.len());
    let mut mechanism = None;
    for (i, values) in cells.iter().enumerate() {
        let (mean, count, m) = mean_with(
            values,
            config.clamp,
            per_cell,
            config.min_noisy_count,
            noise,
        )?;
        mechanism.get_or_insert(m);
        let outcome = match mean {
            Some(mean_spend) if count >= config.min_noisy_count => CellOutcome::Released {
                customers: count,
                mean_spend,
            },
            _ => CellOutcome::Withheld,
        };
        out.push(ReleasedCell {
            group: config.groups[i / n_categories].clone(),
            category: config.categories[i % n_categories].clone(),
            outcome,
        });
    }
    Ok(SpendReport {
        cells: out,
        epsilon_spent: eps.get(),
        epsilon_per_cell: per_cell.as_f64(),
        mechanism: mechanism.ok_or(PrivacyError::Config("no cells"))?,
        clamp: config.clamp,
        max_categories_per_customer: config.max_categories_per_customer,
        min_noisy_count: config.min_noisy_count,
    })
}

fn index(names: &[String]) -> HashMap<&str, usize> {
    let mut ix = HashMap::new();
    for (i, n) in names.iter().enumerate() {
        ix.entry(n.as_str()).or_insert(i);
    }
    ix
}

/// "People like you spend…": the ε-DP mean of the peers' values (one per peer customer,
/// minor units), withheld (`value: None`) when the noisy peer count is below `min_peers`.
/// ε is split in half between count and sum as in [`crate::noisy_mean`].
pub fn people_like_you<R: TryCryptoRng>(
    peer_values: &[i64],
    clamp: Clamp,
    eps: Epsilon,
    min_peers: i64,
    noise: &mut NoiseSource<R>,
) -> Result<Release<Option<f64>>, PrivacyError> {
    let (value, _count, mechanism) =
        mean_with(peer_values, clamp, eps.rational(), min_peers, noise)?;
    Ok(Release {
        value,
        epsilon_spent: eps.get(),
        mechanism,
        clamp: Some(clamp),
    })
}
