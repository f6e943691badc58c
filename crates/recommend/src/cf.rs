//! Collaborative filtering over holdings and acceptances.
//!
//! Training rows are customers: the set of products each holds or accepted, and their segment.
//! The model learns
//! - item–item cosine similarity over the customer × product incidence matrix:
//!   `sim(i, j) = n(i ∧ j) / sqrt(n(i) · n(j))`,
//! - popularity: the share of customers holding each product, overall and per segment.
//!
//! Scoring a product for a customer who holds something: the highest similarity to any held
//! product (the evidence names that product). Cold start (nothing held): the product's
//! popularity in the customer's segment when the segment has at least [`MIN_SEGMENT`] customers,
//! else overall popularity. Everything is deterministic (ordered maps, ties by product id).

use serde::{Deserialize, Serialize};
use sextant_core::ProductId;
use std::collections::{BTreeMap, BTreeSet};

/// Fewest customers a segment needs before its own popularity is used.
pub const MIN_SEGMENT: u64 = 5;

/// Held by more than this share of customers: not evidence of anything (see [`CfModel::score`]).
pub const UBIQUITOUS: f64 = 0.5;

/// The trained model (serde, persisted by the caller).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CfModel {
    /// Customers in training.
    pub customers: u64,
    /// Customers holding each product.
    pub counts: BTreeMap<String, u64>,
    /// Cosine similarity, `similarity[i][j]` for `i ≠ j` with at least one co-holder.
    pub similarity: BTreeMap<String, BTreeMap<String, f64>>,
    /// Customers per segment.
    pub segment_sizes: BTreeMap<String, u64>,
    /// Holders per segment and product.
    pub segment_counts: BTreeMap<String, BTreeMap<String, u64>>,
}

/// Why the collaborative score is what it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CfEvidence {
    /// Customers holding `held` often hold the product too.
    SimilarHolding { held: ProductId, similarity: f64 },
    /// Share of the customer's segment holding the product.
    SegmentPopularity { segment: String, share: f64 },
    /// Share of all customers holding the product.
    Popularity { share: f64 },
    /// No evidence (nothing similar held, or an empty model).
    None,
}

impl CfModel {
    /// Learn similarities and popularity from `(products held or accepted, segment)` rows.
    pub fn train(rows: &[(Vec<ProductId>, Option<String>)]) -> CfModel {
        let mut m = CfModel::default();
        let mut co: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (products, segment) in rows {
            let set: BTreeSet<&str> = products.iter().map(|p| p.as_str()).collect();
            m.customers += 1;
            if let Some(s) = segment {
                *m.segment_sizes.entry(s.clone()).or_default() += 1;
            }
            for &p in &set {
                *m.counts.entry(p.to_string()).or_default() += 1;
                if let Some(s) = segment {
                    *m.segment_counts
                        .entry(s.clone())
                        .or_default()
                        .entry(p.to_string())
                        .or_default() += 1;
                }
                for &q in set.iter().filter(|&&q| q != p) {
                    *co.entry((p.to_string(), q.to_string())).or_default() += 1;
                }
            }
        }
        for ((p, q), n) in co {
            let denom = ((m.counts[&p] * m.counts[&q]) as f64).sqrt();
            m.similarity
                .entry(p)
                .or_default()
                .insert(q, n as f64 / denom);
        }
        m
    }

    /// Share of all customers holding `product` (0 for an empty model).
    pub fn popularity(&self, product: &ProductId) -> f64 {
        share(self.counts.get(product.as_str()), self.customers)
    }

    /// Popularity in `segment` when it is large enough, else overall; with the evidence.
    pub fn segment_popularity(
        &self,
        segment: Option<&str>,
        product: &ProductId,
    ) -> (f64, CfEvidence) {
        if let Some(s) = segment
            && let Some(&size) = self.segment_sizes.get(s)
            && size >= MIN_SEGMENT
        {
            let n = self
                .segment_counts
                .get(s)
                .and_then(|c| c.get(product.as_str()));
            let share = share(n, size);
            return (
                share,
                CfEvidence::SegmentPopularity {
                    segment: s.to_string(),
                    share,
                },
            );
        }
        let share = self.popularity(product);
        (share, CfEvidence::Popularity { share })
    }

    /// Collaborative score of `product` in 0..=1 for a customer holding `held` (the product
    /// itself is ignored among the held), with the evidence.
    pub fn score(
        &self,
        held: &[ProductId],
        segment: Option<&str>,
        product: &ProductId,
    ) -> (f64, CfEvidence) {
        // A product nearly everyone holds (the current account) says nothing about taste, and
        // "customers who hold Giro Basic often choose it too" is no reason to give anyone: such
        // holdings are not evidence.
        let others: BTreeSet<&ProductId> = held
            .iter()
            .filter(|h| *h != product && self.popularity(h) <= UBIQUITOUS)
            .collect();
        if others.is_empty() {
            return self.segment_popularity(segment, product);
        }
        let best = others
            .into_iter()
            .filter_map(|h| {
                let s = *self.similarity.get(h.as_str())?.get(product.as_str())?;
                Some((h, s))
            })
            .fold(None::<(&ProductId, f64)>, |acc, (h, s)| match acc {
                Some((_, b)) if b >= s => acc,
                _ => Some((h, s)),
            });
        match best {
            Some((h, s)) if s > 0.0 => (
                s.clamp(0.0, 1.0),
                CfEvidence::SimilarHolding {
                    held: h.clone(),
                    similarity: s,
                },
            ),
            _ => (0.0, CfEvidence::None),
        }
    }
}

fn share(n: Option<&u64>, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n.copied().unwrap_or(0) as f64 / of as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<ProductId> {
        v.iter().map(|s| ProductId::parse(s).unwrap()).collect()
    }

    fn rows() -> Vec<(Vec<ProductId>, Option<String>)> {
        let mut r = Vec::new();
        for _ in 0..6 {
            r.push((ids(&["EASY", "GOAL"]), Some("S1.1".to_string())));
        }
        for _ in 0..4 {
            r.push((ids(&["EASY", "CARD"]), Some("S2.1".to_string())));
        }
        r.push((ids(&["CARD"]), None));
        r
    }

    #[test]
    fn cosine_similarity_names_the_driving_product() {
        // In rows() EASY is held by 10 of 11 customers: ubiquitous, so it is no evidence.
        let m = CfModel::train(&rows());
        let (_, e) = m.score(&ids(&["EASY"]), None, &ids(&["GOAL"])[0]);
        assert!(matches!(e, CfEvidence::Popularity { .. }), "{e:?}");
        // With ten more customers holding something else, EASY (10 of 21) counts.
        let mut more = rows();
        more.extend((0..10).map(|_| (ids(&["OTHER"]), None)));
        let m = CfModel::train(&more);
        let (s, e) = m.score(&ids(&["EASY"]), None, &ids(&["GOAL"])[0]);
        // 6 co-holders, 10 EASY, 6 GOAL.
        assert!((s - 6.0 / (60f64).sqrt()).abs() < 1e-12);
        assert_eq!(
            e,
            CfEvidence::SimilarHolding {
                held: ids(&["EASY"])[0].clone(),
                similarity: s
            }
        );
        let (s, e) = m.score(&ids(&["GOAL"]), None, &ids(&["CARD"])[0]);
        assert_eq!((s, e), (0.0, CfEvidence::None));
    }

    #[test]
    fn cold_start_uses_segment_then_overall_popularity() {
        let m = CfModel::train(&rows());
        let goal = &ids(&["GOAL"])[0];
        let (s, e) = m.score(&[], Some("S1.1"), goal);
        assert_eq!(s, 1.0);
        assert!(matches!(e, CfEvidence::SegmentPopularity { .. }));
        // S2.1 has 4 customers (< MIN_SEGMENT): overall.
        let (s, e) = m.score(&[], Some("S2.1"), goal);
        assert!((s - 6.0 / 11.0).abs() < 1e-12);
        assert!(matches!(e, CfEvidence::Popularity { .. }));
        let empty = CfModel::train(&[]);
        assert_eq!(empty.score(&[], None, goal).0, 0.0);
    }

    #[test]
    fn serde_round_trip_and_determinism() {
        let m = CfModel::train(&rows());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<CfModel>(&json).unwrap(), m);
        assert_eq!(
            serde_json::to_string(&CfModel::train(&rows())).unwrap(),
            json
        );
    }
}
