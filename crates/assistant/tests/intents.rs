//! Intent accuracy on the independent evaluation set `eval/intents.jsonl` with the real
//! all-MiniLM-L6-v2 model (via `sextant-embed`), plus the entity expectations the set carries
//! (`amount_minor`, `horizon_months`, `category`). Prints accuracy, the confusion matrix and the
//! misclassified lines; asserts intent accuracy ≥ 0.90.
//!
//! Run with `cargo test -p sextant-assistant --test intents -- --nocapture` to see the report.
//! The model must be present (`scripts/setup-models.sh`).

use chrono::NaiveDate;
use sextant_assistant::nlu::{Intent, IntentClassifier, training_examples};
use sextant_assistant::{ProductRef, extract};
use sextant_embed::{Embed, MiniLm};
use std::sync::OnceLock;

fn model() -> &'static MiniLm {
    static M: OnceLock<MiniLm> = OnceLock::new();
    M.get_or_init(|| MiniLm::load_default().expect("the MiniLM model: run scripts/setup-models.sh"))
}

#[derive(serde::Deserialize)]
struct EvalRow {
    text: String,
    intent: Intent,
    amount_minor: Option<i64>,
    horizon_months: Option<u32>,
    category: Option<sextant_core::Category>,
}

fn eval_rows() -> Vec<EvalRow> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../eval/intents.jsonl");
    let raw = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    raw.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{path} line {}: {e}", i + 1))
        })
        .collect()
}

fn embed_all(texts: &[&str]) -> Vec<Vec<f32>> {
    let m = model();
    texts
        .chunks(32)
        .flat_map(|c| m.embed(c).expect("embedding"))
        .collect()
}

fn classifier() -> IntentClassifier {
    let train = training_examples();
    let texts: Vec<&str> = train.iter().map(|(_, t)| *t).collect();
    let vectors = embed_all(&texts);
    IntentClassifier::new(train.iter().map(|(i, _)| *i).zip(vectors).collect())
}

/// The eval's "today": its horizons ("by 2030" → 48 months) assume a date in 2026.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).expect("valid date")
}

#[test]
fn intent_accuracy_on_the_eval_set() {
    let rows = eval_rows();
    assert!(rows.len() >= 50, "eval set too small: {}", rows.len());
    let clf = classifier();
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let vectors = embed_all(&texts);
    let n = Intent::ALL.len();
    let idx = |i: Intent| Intent::ALL.iter().position(|&x| x == i).unwrap_or(0);
    let mut confusion = vec![vec![0usize; n]; n];
    let mut correct = 0usize;
    let mut misses = Vec::new();
    for (row, v) in rows.iter().zip(&vectors) {
        let c = clf.classify(&row.text, v);
        confusion[idx(row.intent)][idx(c.intent)] += 1;
        if c.intent == row.intent {
            correct += 1;
        } else {
            misses.push(format!(
                "  expected {:<22} got {:<22} ({:.2})  {}",
                row.intent.as_str(),
                c.intent.as_str(),
                c.confidence,
                row.text
            ));
        }
    }
    let accuracy = correct as f64 / rows.len() as f64;
    println!("intent accuracy: {correct}/{} = {accuracy:.3}", rows.len());
    println!("confusion matrix (rows = expected, columns = predicted):");
    let short = |i: Intent| &i.as_str()[..4.min(i.as_str().len())];
    print!("{:>24}", "");
    for i in Intent::ALL {
        print!("{:>6}", short(i));
    }
    println!();
    for (r, i) in Intent::ALL.iter().enumerate() {
        print!("{:>24}", i.as_str());
        for count in &confusion[r] {
            print!("{count:>6}");
        }
        let total: usize = confusion[r].iter().sum();
        let recall = if total > 0 {
            confusion[r][r] as f64 / total as f64
        } else {
            1.0
        };
        println!("   recall {recall:.2}");
    }
    println!("misclassified:");
    for m in &misses {
        println!("{m}");
    }
    assert!(accuracy >= 0.90, "intent accuracy {accuracy:.3} < 0.90");
}

#[test]
fn entity_expectations_on_the_eval_set() {
    let rows = eval_rows();
    let catalog: Vec<ProductRef> = Vec::new();
    let (mut amount_ok, mut amount_n, mut horizon_ok, mut horizon_n, mut cat_ok, mut cat_n) =
        (0, 0, 0, 0, 0, 0);
    let mut misses = Vec::new();
    for row in &rows {
        let e = extract(&row.text, today(), &catalog);
        if let Some(want) = row.amount_minor {
            amount_n += 1;
            let got = e.amounts.first().map(|a| a.minor);
            if got == Some(want) {
                amount_ok += 1;
            } else {
                misses.push(format!("  amount  want {want} got {got:?}: {}", row.text));
            }
        }
        if let Some(want) = row.horizon_months {
            horizon_n += 1;
            if e.horizon_months == Some(want) {
                horizon_ok += 1;
            } else {
                misses.push(format!(
                    "  horizon want {want} got {:?}: {}",
                    e.horizon_months, row.text
                ));
            }
        }
        if let Some(want) = row.category {
            cat_n += 1;
            if e.categories.contains(&want) {
                cat_ok += 1;
            } else {
                misses.push(format!(
                    "  category want {want} got {:?}: {}",
                    e.categories, row.text
                ));
            }
        }
    }
    let rate = |ok: usize, n: usize| if n == 0 { 1.0 } else { ok as f64 / n as f64 };
    println!(
        "amounts {amount_ok}/{amount_n}, horizons {horizon_ok}/{horizon_n}, categories {cat_ok}/{cat_n}"
    );
    for m in &misses {
        println!("{m}");
    }
    let total = rate(
        amount_ok + horizon_ok + cat_ok,
        amount_n + horizon_n + cat_n,
    );
    assert!(total >= 0.85, "entity accuracy {total:.3} < 0.85");
}

#[test]
fn training_examples_classify_as_themselves() {
    // Leave-one-out on the training set: a sanity check of the design that needs no eval data.
    let train = training_examples();
    let texts: Vec<&str> = train.iter().map(|(_, t)| *t).collect();
    let vectors = embed_all(&texts);
    let mut correct = 0;
    for k in 0..train.len() {
        let rest: Vec<(Intent, Vec<f32>)> = train
            .iter()
            .zip(&vectors)
            .enumerate()
            .filter(|(j, _)| *j != k)
            .map(|(_, ((i, _), v))| (*i, v.clone()))
            .collect();
        let clf = IntentClassifier::new(rest);
        if clf.classify(train[k].1, &vectors[k]).intent == train[k].0 {
            correct += 1;
        }
    }
    let acc = correct as f64 / train.len() as f64;
    println!("leave-one-out accuracy on the training set: {acc:.3}");
    assert!(acc >= 0.85, "leave-one-out accuracy {acc:.3}");
}
