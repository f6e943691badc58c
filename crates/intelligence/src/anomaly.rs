//! Fraud / anomaly scores per transaction: an isolation forest over per-transaction features
//! plus the customer's own amount baseline, combined into one score in [0, 1] with reasons in
//! plain words (the forest, baseline and formula are in `sextant_models::anomaly`).
//!
//! Every debit (money out, approved or declined) is scored. Its features come from the
//! transaction and the customer's *earlier* transactions only (point in time, no leakage), in
//! one pass over the history ([`transaction_features`]); the definitions follow the ones the
//! stream engine's baselines use: a country is new when no earlier *approved* transaction was
//! in it, spend is `sextant_features::is_spend_debit`. The baseline is the robust one
//! (median / 1.4826·MAD of the customer's earlier approved debits, at least
//! `BASELINE_MIN_HISTORY` of them) rather than the stream engine's running mean / std, because
//! a single earlier large payment moves a mean and a standard deviation but not a median.
//!
//! The forest is trained on every consenting customer's debits, stored in the model registry as
//! `transaction_anomaly` (card: rows, feature names, data hash, parameters) and served from the
//! promoted version, cached in memory like the other bank models.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{Datelike, Timelike};
use serde::Serialize;
use sextant_core::{Channel, CustomerId, Transaction, TxStatus};
use sextant_models::anomaly::{
    ForestParams, IsolationForest, RobustBaseline, baseline_score, combine,
};
use sextant_store::Store;
use sha2::{Digest, Sha256};

use crate::{IntelError, Policy, Result, require_profiling};

/// The registry name of the transaction anomaly model.
pub const ANOMALY_MODEL: &str = "transaction_anomaly";

/// The per-transaction features, in model input order.
pub const TX_FEATURES: [&str; 13] = [
    "log_amount",
    "hour",
    "weekday",
    "new_merchant",
    "new_category",
    "new_country",
    "foreign",
    "card_not_present",
    "amount_vs_median",
    "log_minutes_since_previous",
    "declined_share_24h",
    "log_transactions_1h",
    "declined",
];

/// Minutes assumed since the previous transaction when there is none (30 days).
const NO_PREVIOUS_MINUTES: f64 = 30.0 * 24.0 * 60.0;

/// One scored-to-be debit: its features and the facts its reasons are worded from.
#[derive(Debug, Clone)]
pub struct TxFeatures {
    /// Index into the customer's transactions (oldest first).
    pub index: usize,
    pub values: [f64; 13],
    /// Absolute amount, major units.
    pub amount: f64,
    /// The customer's baseline of earlier approved debits (major units): those of the same
    /// category when there are enough, else all of them; `None` with too little history.
    pub baseline: Option<RobustBaseline>,
    /// The category of the baseline, when it is a per-category one.
    pub baseline_category: Option<sextant_core::Category>,
    /// The customer's most frequent earlier country.
    pub home_country: Option<String>,
}

fn major(t: &Transaction) -> f64 {
    t.amount.minor.unsigned_abs() as f64 / 10f64.powi(i32::from(t.amount.currency.exponent()))
}

fn merchant_key(t: &Transaction) -> String {
    match (&t.merchant, t.mcc) {
        (Some(m), _) => m.to_ascii_lowercase(),
        (None, Some(m)) => format!("mcc:{}", m.value()),
        (None, None) => format!("category:{}", t.category),
    }
}

/// Features of every debit of one customer's transactions (sorted oldest first), each from the
/// transaction itself and the ones before it.
pub fn transaction_features(txs: &[Transaction]) -> Vec<TxFeatures> {
    let mut out = Vec::new();
    let mut merchants: HashSet<String> = HashSet::new();
    let mut categories: HashSet<sextant_core::Category> = HashSet::new();
    let mut countries: HashMap<[u8; 2], u32> = HashMap::new();
    // Earlier approved debit amounts, kept sorted for the median.
    let mut amounts: Vec<f64> = Vec::new();
    // … and per category.
    let mut by_category: HashMap<sextant_core::Category, Vec<f64>> = HashMap::new();
    // (time, declined) of earlier transactions in the last 24 hours.
    let mut recent: VecDeque<(i64, bool)> = VecDeque::new();
    let mut previous: Option<i64> = None;
    for (index, t) in txs.iter().enumerate() {
        let ts = t.timestamp.timestamp();
        while recent.front().is_some_and(|&(at, _)| at <= ts - 86_400) {
            recent.pop_front();
        }
        let approved = t.status == TxStatus::Approved;
        let cc = {
            let b = t.country.as_str().as_bytes();
            [b[0], b[1]]
        };
        if t.amount.minor < 0 {
            let amount = major(t);
            let overall = RobustBaseline::of_sorted(&amounts, 1.0);
            let in_category = by_category
                .get(&t.category)
                .and_then(|v| RobustBaseline::of_sorted(v, 1.0));
            let baseline_category = in_category.map(|_| t.category);
            let baseline = in_category.or(overall);
            let home = countries
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(c, _)| *c);
            let declined_24h = recent.iter().filter(|r| r.1).count();
            let in_hour = recent.iter().filter(|r| r.0 > ts - 3600).count();
            let values = [
                (1.0 + amount).ln(),
                f64::from(t.timestamp.hour()),
                f64::from(t.timestamp.weekday().num_days_from_monday()),
                f64::from(u8::from(!merchants.contains(&merchant_key(t)))),
                f64::from(u8::from(!categories.contains(&t.category))),
                f64::from(u8::from(!countries.contains_key(&cc))),
                f64::from(u8::from(home.is_some_and(|h| h != cc))),
                f64::from(u8::from(t.channel == Channel::CardOnline)),
                overall.map_or(0.0, |b| (amount.max(0.01) / b.median.max(0.01)).ln()),
                (1.0 + previous.map_or(NO_PREVIOUS_MINUTES, |p| (ts - p).max(0) as f64 / 60.0))
                    .ln(),
                if recent.is_empty() {
                    0.0
                } else {
                    declined_24h as f64 / recent.len() as f64
                },
                (1.0 + in_hour as f64).ln(),
                f64::from(u8::from(!approved)),
            ];
            out.push(TxFeatures {
                index,
                values,
                amount,
                baseline,
                baseline_category,
                home_country: home.map(|h| String::from_utf8_lossy(&h).into_owned()),
            });
        }
        // Now the transaction becomes history.
        merchants.insert(merchant_key(t));
        if t.amount.minor < 0 {
            categories.insert(t.category);
        }
        if approved {
            *countries.entry(cc).or_default() += 1;
            if t.amount.minor < 0 {
                let a = major(t);
                let at = amounts.partition_point(|&x| x < a);
                amounts.insert(at, a);
                let v = by_category.entry(t.category).or_default();
                let at = v.partition_point(|&x| x < a);
                v.insert(at, a);
            }
        }
        recent.push_back((ts, !approved));
        previous = Some(ts);
    }
    out
}

/// One transaction's anomaly score, explained.
#[derive(Debug, Clone, Serialize)]
pub struct ScoredTransaction {
    pub transaction_id: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// Signed amount, major units, as text (e.g. "-912.40").
    pub amount: String,
    pub merchant: Option<String>,
    pub country: String,
    pub status: TxStatus,
    /// Combined score in [0, 1]: `sextant_models::anomaly::combine(forest, baseline)`.
    pub score: f64,
    /// Isolation-forest score `2^(−E[h]/c(ψ))`.
    pub forest_score: f64,
    /// The baseline's score of the amount's robust z.
    pub baseline_score: f64,
    /// Robust z of the amount against the customer's earlier approved debits.
    pub amount_z: Option<f64>,
    /// The strongest reasons, in plain words.
    pub reasons: Vec<String>,
    /// Per feature: its share of the path-length shortening (positive = more anomalous).
    pub contributions: Vec<(String, f64)>,
}

/// A customer's most recent debits, scored.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerAnomalies {
    pub model: &'static str,
    pub version: i64,
    /// Newest first.
    pub transactions: Vec<ScoredTransaction>,
}

fn hour_words(h: u32) -> String {
    match h {
        0 => "at midnight".into(),
        12 => "at noon".into(),
        1..=11 => format!("at {h} a.m."),
        _ => format!("at {} p.m.", h - 12),
    }
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The reason for feature `j` of a transaction, in plain words; `None` when its value has no
/// sensible wording as a reason (e.g. "not a new merchant").
fn reason(j: usize, f: &TxFeatures, t: &Transaction) -> Option<String> {
    let v = f.values[j];
    let cur = t.amount.currency.as_str();
    let scope = f
        .baseline_category
        .map(|c| format!(" for {c}"))
        .unwrap_or_default();
    match TX_FEATURES[j] {
        "log_amount" | "amount_vs_median" => Some(match f.baseline {
            Some(b) if f.amount > b.median => format!(
                "amount {:.2} {cur} is {:.1}× your usual {:.2} {cur}{scope}",
                f.amount,
                f.amount / b.median.max(0.01),
                b.median
            ),
            Some(b) if f.amount < b.median / 3.0 => format!(
                "amount {:.2} {cur} is far below your usual {:.2} {cur}{scope}",
                f.amount, b.median
            ),
            _ if TX_FEATURES[j] == "log_amount" => {
                format!("unusual amount for this bank: {:.2} {cur}", f.amount)
            }
            _ => return None,
        }),
        "hour" => Some(format!("made {}", hour_words(v as u32))),
        "weekday" => Some(format!("made on a {}", WEEKDAYS[v as usize % 7])),
        "new_merchant" if v > 0.0 => Some(match &t.merchant {
            Some(m) => format!("first payment to {m}"),
            None => "first payment to this payee".into(),
        }),
        "new_category" if v > 0.0 => Some(format!("first spending on {}", t.category)),
        "new_country" if v > 0.0 => Some(format!(
            "first transaction in this country ({})",
            t.country.as_str()
        )),
        "foreign" if v > 0.0 => Some(format!(
            "abroad ({}), outside your usual country{}",
            t.country.as_str(),
            f.home_country
                .as_deref()
                .map(|h| format!(" ({h})"))
                .unwrap_or_default()
        )),
        "card_not_present" if v > 0.0 => Some("card not present (online purchase)".into()),
        "log_minutes_since_previous" => {
            let minutes = v.exp() - 1.0;
            (minutes < 60.0).then(|| format!("{minutes:.0} minutes after the previous transaction"))
        }
        "declined_share_24h" if v > 0.0 => Some(format!(
            "{:.0}% of your transactions in the previous 24 hours were declined",
            v * 100.0
        )),
        "log_transactions_1h" if v > 0.0 => Some(match (v.exp() - 1.0).round() as u64 {
            1 => "another transaction in the hour before".into(),
            n => format!("{n} transactions in the hour before"),
        }),
        "declined" if v > 0.0 => Some("the transaction was declined".into()),
        _ => None,
    }
}

/// Score one debit with the forest and the baseline, with its reasons.
pub fn score_one(
    forest: &IsolationForest,
    f: &TxFeatures,
    t: &Transaction,
) -> Result<ScoredTransaction> {
    let s = forest
        .score(&f.values)
        .map_err(|e| IntelError::Segment(e.to_string()))?;
    let z = f.baseline.map(|b| b.z(f.amount));
    let b = z.map_or(0.0, baseline_score);
    let mut order: Vec<usize> = (0..TX_FEATURES.len()).collect();
    order.sort_by(|&i, &j| s.shortening[j].total_cmp(&s.shortening[i]));
    let mut reasons: Vec<String> = Vec::new();
    if b > 0.0 {
        reasons.extend(reason(8, f, t));
    }
    for &j in &order {
        if reasons.len() >= 3 || s.shortening[j] <= 0.05 {
            break;
        }
        if let Some(r) = reason(j, f, t)
            && !reasons.contains(&r)
        {
            reasons.push(r);
        }
    }
    Ok(ScoredTransaction {
        transaction_id: t.id.to_string(),
        timestamp: t.timestamp,
        amount: t.amount.to_major_string(),
        merchant: t.merchant.clone(),
        country: t.country.as_str().to_string(),
        status: t.status,
        score: combine(s.score, b),
        forest_score: s.score,
        baseline_score: b,
        amount_z: z,
        reasons,
        contributions: order
            .iter()
            .map(|&j| (TX_FEATURES[j].to_string(), s.shortening[j]))
            .collect(),
    })
}

/// What training produced.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyTrained {
    pub version: i64,
    pub customers: usize,
    pub rows: usize,
    pub data_hash: String,
    pub promoted: bool,
}

/// Every consenting customer's debits, with their transactions (for labels and reasons).
async fn collect(
    store: &dyn Store,
    policy: &Policy,
) -> Result<Vec<(Vec<Transaction>, Vec<TxFeatures>)>> {
    let mut out = Vec::new();
    let mut after: Option<CustomerId> = None;
    loop {
        let page = store.list_customers(after.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for c in &page {
            if require_profiling(store, &c.id, policy).await.is_err() {
                continue;
            }
            let txs = store.all_transactions(&c.id).await?;
            let f = transaction_features(&txs);
            if !f.is_empty() {
                out.push((txs, f));
            }
        }
    }
    Ok(out)
}

/// Train the forest on every consenting customer's debits and register it (promoted when
/// `promote`).
pub async fn train(
    store: &dyn Store,
    policy: &Policy,
    params: &ForestParams,
    promote: bool,
) -> Result<AnomalyTrained> {
    let data = collect(store, policy).await?;
    let rows: Vec<Vec<f64>> = data
        .iter()
        .flat_map(|(_, f)| f.iter().map(|x| x.values.to_vec()))
        .collect();
    if rows.len() < 2 {
        return Err(IntelError::NoData);
    }
    let mut h = Sha256::new();
    for r in &rows {
        for v in r {
            h.update(v.to_le_bytes());
        }
    }
    let data_hash = hex::encode(h.finalize());
    let names: Vec<String> = TX_FEATURES.iter().map(|s| s.to_string()).collect();
    let p = params.clone();
    let n = rows.len();
    let forest = tokio::task::spawn_blocking(move || IsolationForest::fit(names, &rows, &p))
        .await
        .map_err(|e| IntelError::Segment(e.to_string()))?
        .map_err(|e| IntelError::Segment(e.to_string()))?;
    let now = chrono::Utc::now();
    let card = serde_json::json!({
        "version": ANOMALY_MODEL,
        "kind": "isolation_forest",
        "trained_at": now.to_rfc3339(),
        "data_hash": data_hash,
        "rows": n,
        "positives": 0,
        "feature_names": TX_FEATURES,
        "params": params,
        "combination": "1 - (1 - clamp((forest - 0.5) / 0.5, 0, 1)) * (1 - 0.1 * baseline)",
    });
    let json = forest
        .to_json()
        .map_err(|e| IntelError::Segment(e.to_string()))?;
    let version = store
        .save_model(
            ANOMALY_MODEL,
            now.timestamp_micros(),
            &card.to_string(),
            &json,
        )
        .await?;
    if promote {
        store.promote_model(ANOMALY_MODEL, version).await?;
    }
    tracing::info!(
        version,
        rows = n,
        customers = data.len(),
        "anomaly model trained"
    );
    Ok(AnomalyTrained {
        version,
        customers: data.len(),
        rows: n,
        data_hash,
        promoted: promote,
    })
}

/// The promoted forest, parsed once per version and kept in memory.
#[derive(Default)]
pub struct ForestCache {
    cached: std::sync::Mutex<Option<CachedForest>>,
}

type CachedForest = (std::time::Instant, Option<(i64, Arc<IsolationForest>)>);

impl ForestCache {
    /// The promoted version (looked up at most once per
    /// [`PROMOTION_CHECK`](crate::bank_models::PROMOTION_CHECK)).
    pub async fn get(&self, store: &dyn Store) -> Result<Option<(i64, Arc<IsolationForest>)>> {
        let cached = self.cached.lock().expect("forest cache poisoned").clone();
        if let Some((at, m)) = &cached
            && at.elapsed() < crate::bank_models::PROMOTION_CHECK
        {
            return Ok(m.clone());
        }
        let found = match store.promoted_model_version(ANOMALY_MODEL).await? {
            None => None,
            Some(version) => match cached.and_then(|(_, m)| m).filter(|(v, _)| *v == version) {
                Some(same) => Some(same),
                None => match store.get_model(ANOMALY_MODEL, Some(version)).await? {
                    None => None,
                    Some(rec) => Some((
                        version,
                        Arc::new(IsolationForest::from_json(&rec.model).map_err(|e| {
                            IntelError::Corrupt {
                                what: "anomaly model",
                                reason: e.to_string(),
                            }
                        })?),
                    )),
                },
            },
        };
        *self.cached.lock().expect("forest cache poisoned") =
            Some((std::time::Instant::now(), found.clone()));
        Ok(found)
    }
}

/// The customer's `limit` most recent debits, scored with the promoted forest (profiling
/// consent required). `Conflict` (409) when no anomaly model is promoted.
pub async fn score_customer(
    store: &dyn Store,
    cache: &ForestCache,
    id: &CustomerId,
    policy: &Policy,
    limit: usize,
) -> Result<CustomerAnomalies> {
    require_profiling(store, id, policy).await?;
    let (version, forest) = cache.get(store).await?.ok_or_else(|| {
        IntelError::Conflict(
            "no anomaly model has been promoted yet: run `sextant model anomalies --train`".into(),
        )
    })?;
    let txs = store.all_transactions(id).await?;
    let feats = transaction_features(&txs);
    let transactions = feats
        .iter()
        .rev()
        .take(limit)
        .map(|f| score_one(&forest, f, &txs[f.index]))
        .collect::<Result<Vec<_>>>()?;
    Ok(CustomerAnomalies {
        model: ANOMALY_MODEL,
        version,
        transactions,
    })
}

/// ROC-AUC and precision at k of one score against the labels.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreQuality {
    pub roc_auc: f64,
    /// Share of labelled frauds among the `k` highest scores, for each `k` of the evaluation.
    pub precision_at: Vec<(usize, f64)>,
}

/// How the forest, the baseline and their combination rank the labelled frauds.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyEvaluation {
    pub transactions: usize,
    pub frauds: usize,
    pub forest: ScoreQuality,
    pub baseline: ScoreQuality,
    pub combined: ScoreQuality,
}

fn quality(y: &[f64], s: &[f64], ks: &[usize]) -> ScoreQuality {
    let mut order: Vec<usize> = (0..s.len()).collect();
    order.sort_by(|&i, &j| s[j].total_cmp(&s[i]));
    ScoreQuality {
        roc_auc: sextant_models::metrics::roc_auc(y, s),
        precision_at: ks
            .iter()
            .map(|&k| {
                let k = k.min(s.len()).max(1);
                (k, order[..k].iter().map(|&i| y[i]).sum::<f64>() / k as f64)
            })
            .collect(),
    }
}

/// Score every consenting customer's debits with `forest` and compare with the labelled fraud
/// transaction ids (e.g. the synthetic bank's `labels/fraud.csv`). Precision at each of `ks`
/// and at k = the number of frauds.
pub async fn evaluate(
    store: &dyn Store,
    policy: &Policy,
    forest: &IsolationForest,
    frauds: &HashSet<String>,
    ks: &[usize],
) -> Result<AnomalyEvaluation> {
    let data = collect(store, policy).await?;
    let (mut y, mut sf, mut sb, mut sc) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (txs, feats) in &data {
        for f in feats {
            let t = &txs[f.index];
            let s = forest
                .score(&f.values)
                .map_err(|e| IntelError::Segment(e.to_string()))?
                .score;
            let b = f.baseline.map_or(0.0, |b| baseline_score(b.z(f.amount)));
            y.push(if frauds.contains(t.id.as_str()) {
                1.0
            } else {
                0.0
            });
            sf.push(s);
            sb.push(b);
            sc.push(combine(s, b));
        }
    }
    let positives = y.iter().filter(|&&v| v == 1.0).count();
    if positives == 0 || positives == y.len() {
        return Err(IntelError::Invalid(vec![(
            "labels".into(),
            format!(
                "{positives} of {} scored transactions are labelled fraud; need both classes",
                y.len()
            ),
        )]));
    }
    let mut ks = ks.to_vec();
    ks.push(positives);
    Ok(AnomalyEvaluation {
        transactions: y.len(),
        frauds: positives,
        forest: quality(&y, &sf, &ks),
        baseline: quality(&y, &sb, &ks),
        combined: quality(&y, &sc, &ks),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_core::{AccountId, Category, CountryCode, Currency, Money, TransactionId};

    fn tx(i: u32, day: i64, hour: i64, minor: i64, merchant: &str, country: &str) -> Transaction {
        Transaction {
            id: TransactionId::parse(&format!("t{i}")).unwrap(),
            customer_id: CustomerId::parse("c1").unwrap(),
            account_id: AccountId::parse("a1").unwrap(),
            timestamp: chrono::DateTime::from_timestamp(
                1_780_012_800 + day * 86_400 + hour * 3600,
                0,
            )
            .unwrap(),
            amount: Money::new(minor, Currency::parse("EUR").unwrap()),
            merchant: Some(merchant.into()),
            category: Category::Groceries,
            mcc: None,
            channel: Channel::CardPresent,
            country: CountryCode::parse(country).unwrap(),
            balance_after: None,
            status: TxStatus::Approved,
        }
    }

    #[test]
    fn features_use_only_earlier_transactions() {
        let mut txs: Vec<Transaction> = (0..10)
            .map(|i| tx(i, i64::from(i), 12, -5000, "Shop", "DE"))
            .collect();
        txs.push(tx(10, 10, 3, -70_000, "Far away", "BR"));
        let f = transaction_features(&txs);
        assert_eq!(f.len(), 11);
        // The first has no history: everything is new, no baseline.
        assert_eq!(f[0].values[3], 1.0);
        assert!(f[0].baseline.is_none());
        assert_eq!(f[0].values[5], 1.0);
        assert_eq!(f[0].values[6], 0.0, "no home country yet");
        // The second: same merchant and country as before.
        assert_eq!(f[1].values[3], 0.0);
        assert_eq!(f[1].values[5], 0.0);
        let last = &f[10];
        assert_eq!(last.values[1], 3.0);
        assert_eq!(last.values[3], 1.0);
        assert_eq!(last.values[5], 1.0);
        assert_eq!(last.values[6], 1.0);
        let b = last.baseline.unwrap();
        assert_eq!(b.median, 50.0);
        assert!((last.values[8] - (700.0f64 / 50.0).ln()).abs() < 1e-12);
        // Changing a later transaction changes nothing earlier.
        let mut changed = txs.clone();
        changed[10].amount = Money::new(-1, changed[10].amount.currency);
        let g = transaction_features(&changed);
        for i in 0..10 {
            assert_eq!(f[i].values, g[i].values);
        }
        // Reasons are in plain words.
        let rows: Vec<Vec<f64>> = f.iter().map(|x| x.values.to_vec()).collect();
        let names = TX_FEATURES.iter().map(|s| s.to_string()).collect();
        let forest = IsolationForest::fit(names, &rows, &ForestParams::default()).unwrap();
        let s = score_one(&forest, last, &txs[10]).unwrap();
        assert!(s.baseline_score > 0.9, "{s:?}");
        assert_eq!(
            s.reasons[0],
            "amount 700.00 EUR is 14.0× your usual 50.00 EUR for groceries"
        );
        assert_eq!(hour_words(3), "at 3 a.m.");
        assert_eq!(hour_words(15), "at 3 p.m.");
    }
}
