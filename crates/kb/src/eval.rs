//! Retrieval evaluation: a JSON Lines file of customer questions, each labelled with the document
//! that answers it, scored as hit@1, hit@3 and mean reciprocal rank over passages.

use crate::{KbError, KnowledgeBase, is_valid_id};
use std::path::Path;

/// How deep [`evaluate`] looks for the first relevant passage (MRR counts 0 beyond it).
pub const EVAL_DEPTH: usize = 10;

/// One labelled question: `{"question": "...", "doc_id": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KbQuestion {
    pub question: String,
    pub doc_id: String,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RetrievalReport {
    pub questions: usize,
    /// Share of questions whose first passage belongs to the labelled document.
    pub hit_at_1: f64,
    /// Share of questions with a passage of the labelled document in the top 3.
    pub hit_at_3: f64,
    /// Mean of 1 / rank of the first passage of the labelled document (0 if not in the top
    /// [`EVAL_DEPTH`]).
    pub mrr: f64,
    /// Questions missed at 3, with the document ids of their top 3 passages.
    pub misses: Vec<(String, Vec<String>)>,
}

impl std::fmt::Display for RetrievalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} questions: hit@1 {:.3}, hit@3 {:.3}, MRR {:.3}",
            self.questions, self.hit_at_1, self.hit_at_3, self.mrr
        )?;
        for (q, top) in &self.misses {
            writeln!(f, "  miss: {q:?} -> {}", top.join(", "))?;
        }
        Ok(())
    }
}

/// Read questions from a JSON Lines file; blank lines are skipped. Errors name the 1-based line.
pub fn load_questions(path: &Path) -> Result<Vec<KbQuestion>, KbError> {
    let text = std::fs::read_to_string(path).map_err(|source| KbError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let q: KbQuestion = serde_json::from_str(line).map_err(|e| KbError::Question {
            line: line_no,
            reason: e.to_string(),
        })?;
        if q.question.trim().is_empty() {
            return Err(KbError::Question {
                line: line_no,
                reason: "`question` is empty".into(),
            });
        }
        if !is_valid_id(&q.doc_id) {
            return Err(KbError::Question {
                line: line_no,
                reason: format!("`doc_id` {:?} is not a document id", q.doc_id),
            });
        }
        out.push(q);
    }
    Ok(out)
}

/// Ask every question and score where the labelled document's first passage lands. A question
/// whose document is not in the knowledge base is an error (a typo would otherwise read as a miss).
pub fn evaluate(kb: &KnowledgeBase, qs: &[KbQuestion]) -> Result<RetrievalReport, KbError> {
    let (mut at1, mut at3, mut rr) = (0usize, 0usize, 0f64);
    let mut misses = Vec::new();
    for q in qs {
        if kb.get(&q.doc_id).is_none() {
            return Err(KbError::UnknownDocument {
                question: q.question.clone(),
                doc_id: q.doc_id.clone(),
            });
        }
        let hits = kb.search(&q.question, EVAL_DEPTH)?;
        let rank = hits
            .iter()
            .position(|h| h.passage.doc_id == q.doc_id)
            .map(|p| p + 1);
        if rank == Some(1) {
            at1 += 1;
        }
        if rank.is_some_and(|r| r <= 3) {
            at3 += 1;
        } else {
            let top = hits
                .iter()
                .take(3)
                .map(|h| h.passage.doc_id.clone())
                .collect();
            misses.push((q.question.clone(), top));
        }
        if let Some(r) = rank {
            rr += 1.0 / r as f64;
        }
    }
    let n = qs.len();
    let share = |x: usize| if n == 0 { 0.0 } else { x as f64 / n as f64 };
    Ok(RetrievalReport {
        questions: n,
        hit_at_1: share(at1),
        hit_at_3: share(at3),
        mrr: if n == 0 { 0.0 } else { rr / n as f64 },
        misses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let p =
            std::env::temp_dir().join(format!("sextant-kb-{name}-{}.jsonl", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn loads_questions_and_names_bad_lines() {
        let p = write(
            "ok",
            "{\"question\": \"lost card\", \"doc_id\": \"lost-stolen-cards\"}\n\n{\"question\":\"q\",\"doc_id\":\"a\"}\n",
        );
        let qs = load_questions(&p).unwrap();
        assert_eq!(qs.len(), 2);
        assert_eq!(qs[0].doc_id, "lost-stolen-cards");

        for (text, line) in [
            (
                "{\"question\":\"q\",\"doc_id\":\"a\"}\n{\"question\":\"q\"}\n",
                2,
            ),
            ("\n\n{not json\n", 3),
            ("{\"question\":\"  \",\"doc_id\":\"a\"}\n", 1),
            ("{\"question\":\"q\",\"doc_id\":\"Not An Id\"}\n", 1),
            ("{\"question\":\"q\",\"doc_id\":\"a\",\"extra\":1}\n", 1),
        ] {
            let p = write("bad", text);
            match load_questions(&p) {
                Err(KbError::Question { line: got, .. }) => assert_eq!(got, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let _ = std::fs::remove_file(p);
    }
}
