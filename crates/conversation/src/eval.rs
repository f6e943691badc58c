//! The assistant's evaluation: intent accuracy (and entity accuracy) on the labelled utterances
//! in `eval/intents.jsonl`, and retrieval hit@k on `eval/kb_questions.jsonl` against the shipped
//! knowledge base. The utterances were written independently of the classifier's training
//! examples (`crates/assistant/data/intent_train.jsonl`) and are never trained on.
//! `sextant assistant eval` prints this report.

use crate::error::{ConversationError as E, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sextant_assistant::entities;
use sextant_assistant::nlu::{Intent, IntentClassifier};
use sextant_embed::Embed;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The date the evaluation set's relative expressions ("by 2029") were written against.
pub const EVAL_TODAY: (i32, u32, u32) = (2026, 11, 29);

#[derive(Debug, Deserialize)]
struct Labelled {
    text: String,
    intent: Intent,
    amount_minor: Option<i64>,
    horizon_months: Option<u32>,
    category: Option<sextant_core::Category>,
}

/// Intent and entity accuracy.
#[derive(Debug, Clone, Serialize)]
pub struct IntentReport {
    pub utterances: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// intent → (correct, total)
    pub per_intent: BTreeMap<String, (usize, usize)>,
    /// (expected, predicted) → count, errors only.
    pub confusion: BTreeMap<String, usize>,
    /// (text, expected, predicted)
    pub misses: Vec<(String, String, String)>,
    /// field → (correct, labelled)
    pub entities: BTreeMap<String, (usize, usize)>,
}

/// Classify every labelled utterance in `path` with the shipped training examples.
pub fn evaluate_intents(embedder: &dyn Embed, path: &Path) -> Result<IntentReport> {
    let text = std::fs::read_to_string(path).map_err(|e| E::Invalid {
        field: "eval file",
        reason: format!("{}: {e}", path.display()),
    })?;
    let mut rows = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r: Labelled = serde_json::from_str(line).map_err(|e| E::Invalid {
            field: "eval file",
            reason: format!("{} line {}: {e}", path.display(), i + 1),
        })?;
        rows.push(r);
    }
    let examples = sextant_assistant::nlu::training_examples();
    let train_texts: Vec<&str> = examples.iter().map(|(_, t)| *t).collect();
    let vectors = embedder.embed(&train_texts)?;
    let classifier = IntentClassifier::new(examples.iter().map(|(i, _)| *i).zip(vectors).collect());
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let vecs = embedder.embed(&texts)?;
    let today = NaiveDate::from_ymd_opt(EVAL_TODAY.0, EVAL_TODAY.1, EVAL_TODAY.2).expect("valid");
    let mut report = IntentReport {
        utterances: rows.len(),
        correct: 0,
        accuracy: 0.0,
        per_intent: BTreeMap::new(),
        confusion: BTreeMap::new(),
        misses: Vec::new(),
        entities: BTreeMap::new(),
    };
    for (r, v) in rows.iter().zip(&vecs) {
        let got = classifier.classify(&r.text, v).intent;
        let (exp, pred) = (r.intent.as_str(), got.as_str());
        let e = report.per_intent.entry(exp.to_string()).or_default();
        e.1 += 1;
        if got == r.intent {
            e.0 += 1;
            report.correct += 1;
        } else {
            *report
                .confusion
                .entry(format!("{exp} → {pred}"))
                .or_default() += 1;
            report
                .misses
                .push((r.text.clone(), exp.into(), pred.into()));
        }
        let ents = entities::extract(&r.text, today, &[]);
        let mut score = |field: &str, ok: bool| {
            let e = report.entities.entry(field.to_string()).or_default();
            e.1 += 1;
            if ok {
                e.0 += 1;
            }
        };
        if let Some(a) = r.amount_minor {
            score("amount_minor", ents.amounts.iter().any(|x| x.minor == a));
        }
        if let Some(h) = r.horizon_months {
            score("horizon_months", ents.horizon_months == Some(h));
        }
        if let Some(c) = r.category {
            score("category", ents.categories.contains(&c));
        }
    }
    report.accuracy = report.correct as f64 / report.utterances.max(1) as f64;
    Ok(report)
}

/// Retrieval quality of the knowledge base in `kb_dir` on each question file.
pub fn evaluate_retrieval(
    embedder: Arc<dyn Embed>,
    kb_dir: &Path,
    question_files: &[std::path::PathBuf],
) -> Result<Vec<sextant_kb::RetrievalReport>> {
    let kb = sextant_kb::KnowledgeBase::new(embedder)?;
    kb.upsert(&sextant_kb::load_dir(kb_dir)?)?;
    question_files
        .iter()
        .map(|f| {
            let qs = sextant_kb::load_questions(f)?;
            Ok(sextant_kb::evaluate(&kb, &qs)?)
        })
        .collect()
}
