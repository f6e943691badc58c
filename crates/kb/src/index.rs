//! The searchable knowledge base: passages in an in-RAM tantivy index (BM25) and as MiniLM
//! vectors (cosine, brute force), fused by reciprocal rank.
//!
//! Tantivy schema: `doc_id` (raw string, stored: the delete key), `ordinal` (stored u64), and
//! `title`, `section`, `text` analysed with tantivy's `en_stem` analyser (split on non-alphanumerics,
//! drop tokens over 40 bytes, lowercase, English Snowball stemmer), with positions for phrase
//! queries. Only the key is stored; the passages themselves live in a map beside the index, so a
//! hit costs one stored-fields read.
//!
//! Query boosts: title ×2 and section ×1.5 over body text. Every passage of a document repeats the
//! title, so a title match lifts the whole document a little; a heading match is a strong sign the
//! passage is about the query but headings are short, so they get less than the title.
//!
//! Brute-force cosine is exact and, at a few hundred passages × 384 dimensions, far cheaper than
//! embedding the query (~10 ms); an approximate index would only pay off at ~10⁵ passages.
//!
//! Concurrency: one `Mutex` serialises writers (tantivy allows one `IndexWriter`); the passage map
//! sits under an `RwLock` that a writer holds in write mode across commit + reader reload, so a
//! search (read mode) always sees the index and the map at the same generation. Embedding, the
//! slow part of an update, happens before any lock is taken.

use crate::fusion::{BM25_WEIGHT, CANDIDATES, RRF_K, VECTOR_WEIGHT, reciprocal_rank_fusion};
use crate::{Document, KbError, Passage, chunk, is_valid_id};
use sextant_embed::{Embed, cosine};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// Tantivy's analyser with lowercasing and English stemming.
const ANALYZER: &str = "en_stem";
/// Boost of title matches over body text.
const TITLE_BOOST: f32 = 2.0;
/// Boost of heading matches over body text.
const SECTION_BOOST: f32 = 1.5;
/// The index writer's memory budget: tantivy's per-thread minimum is 15 MB; the whole bank KB
/// is well under 1 MB of text.
const WRITER_BUDGET: usize = 20_000_000;

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub passage: Passage,
    /// The weighted reciprocal-rank-fusion score (higher is better; see [`crate::fusion`]).
    pub score: f32,
    /// 1-based rank among the BM25 candidates, if the passage was one.
    pub bm25_rank: Option<u32>,
    /// 1-based rank among the cosine candidates, if the passage was one.
    pub vector_rank: Option<u32>,
}

#[derive(Clone, Copy)]
struct Fields {
    doc_id: Field,
    ordinal: Field,
    title: Field,
    section: Field,
    text: Field,
}

struct Entry {
    doc: Document,
    passages: Vec<Passage>,
    vectors: Vec<Vec<f32>>,
}

/// The knowledge base. `Send + Sync`: share it in an `Arc`.
pub struct KnowledgeBase {
    embedder: Arc<dyn Embed>,
    index: Index,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    docs: RwLock<BTreeMap<String, Entry>>,
}

impl KnowledgeBase {
    /// An empty knowledge base over an in-RAM index.
    pub fn new(embedder: Arc<dyn Embed>) -> Result<Self, KbError> {
        let mut sb = Schema::builder();
        let analysed = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Fields {
            doc_id: sb.add_text_field("doc_id", STRING | STORED),
            ordinal: sb.add_u64_field("ordinal", STORED),
            title: sb.add_text_field("title", analysed.clone()),
            section: sb.add_text_field("section", analysed.clone()),
            text: sb.add_text_field("text", analysed),
        };
        let index = Index::create_in_ram(sb.build());
        let writer = index.writer_with_num_threads(1, WRITER_BUDGET)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(KnowledgeBase {
            embedder,
            index,
            fields,
            reader,
            writer: Mutex::new(writer),
            docs: RwLock::new(BTreeMap::new()),
        })
    }

    /// Add or replace documents: all passages of each id are replaced. Passages are embedded in
    /// one batch as `"title. section. text"`. All or nothing: an invalid id, an embedding or an
    /// indexing error changes nothing. (Only if reloading the reader fails after a successful
    /// commit is the update stored but not yet visible to BM25 until the next update.)
    pub fn upsert(&self, docs: &[Document]) -> Result<(), KbError> {
        let mut ids = BTreeSet::new();
        for d in docs {
            if !is_valid_id(&d.id) {
                return Err(KbError::InvalidDocument {
                    id: d.id.clone(),
                    reason: "id must be non-empty and use only a-z, 0-9 and -".into(),
                });
            }
            if !ids.insert(d.id.as_str()) {
                return Err(KbError::InvalidDocument {
                    id: d.id.clone(),
                    reason: "given twice in one update".into(),
                });
            }
        }
        let chunked: Vec<Vec<Passage>> = docs.iter().map(chunk).collect();
        let inputs: Vec<String> = chunked.iter().flatten().map(embedding_input).collect();
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let mut vectors = if refs.is_empty() {
            Vec::new()
        } else {
            self.embedder.embed(&refs)?
        };
        self.check_vectors(&vectors, refs.len())?;

        let mut writer = self.lock_writer();
        let mut map = self.write_docs();
        let f = self.fields;
        let added = (|| -> Result<(), KbError> {
            for (d, passages) in docs.iter().zip(&chunked) {
                writer.delete_term(Term::from_field_text(f.doc_id, &d.id));
                for p in passages {
                    let mut td = TantivyDocument::new();
                    td.add_text(f.doc_id, &p.doc_id);
                    td.add_u64(f.ordinal, u64::from(p.ordinal));
                    td.add_text(f.title, &p.title);
                    td.add_text(f.section, &p.section);
                    td.add_text(f.text, &p.text);
                    writer.add_document(td)?;
                }
            }
            writer.commit()?;
            Ok(())
        })();
        if let Err(e) = added {
            // Drop whatever was queued so the next commit does not publish half an update.
            if let Err(r) = writer.rollback() {
                tracing::error!(error = %r, "knowledge base: index rollback failed");
            }
            return Err(e);
        }
        for (d, passages) in docs.iter().zip(chunked).rev() {
            let rest = vectors.split_off(vectors.len().saturating_sub(passages.len()));
            map.insert(
                d.id.clone(),
                Entry {
                    doc: d.clone(),
                    passages,
                    vectors: rest,
                },
            );
        }
        self.reader.reload()?;
        tracing::debug!(
            documents = docs.len(),
            passages = inputs.len(),
            "knowledge base updated"
        );
        Ok(())
    }

    /// Remove a document and its passages; `false` if it was not there.
    pub fn delete(&self, id: &str) -> Result<bool, KbError> {
        let mut writer = self.lock_writer();
        let mut map = self.write_docs();
        if !map.contains_key(id) {
            return Ok(false);
        }
        writer.delete_term(Term::from_field_text(self.fields.doc_id, id));
        if let Err(e) = writer.commit() {
            if let Err(r) = writer.rollback() {
                tracing::error!(error = %r, "knowledge base: index rollback failed");
            }
            return Err(e.into());
        }
        map.remove(id);
        self.reader.reload()?;
        tracing::debug!(id, "knowledge base document deleted");
        Ok(true)
    }

    /// The `k` best passages for `query`: weighted reciprocal-rank fusion of the top
    /// [`CANDIDATES`] by BM25 and the top [`CANDIDATES`] by cosine similarity (the constants and
    /// why are in [`crate::fusion`]).
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<Hit>, KbError> {
        if k == 0 || query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let qv = self.embedder.embed_one(query)?;
        self.check_vectors(std::slice::from_ref(&qv), 1)?;
        let map = self.read_docs();

        let bm25 = self.bm25(&map, query)?;

        let mut scored: Vec<((&str, u32), f32)> = map
            .iter()
            .flat_map(|(id, e)| {
                e.passages
                    .iter()
                    .zip(&e.vectors)
                    .map(|(p, v)| ((id.as_str(), p.ordinal), cosine(&qv, v)))
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let vector: Vec<(&str, u32)> = scored
            .into_iter()
            .take(CANDIDATES)
            .map(|(key, _)| key)
            .collect();

        let fused = reciprocal_rank_fusion(&[(BM25_WEIGHT, bm25), (VECTOR_WEIGHT, vector)], RRF_K);
        Ok(fused
            .into_iter()
            .take(k)
            .filter_map(|f| {
                let (id, ordinal) = f.key;
                let passage = map
                    .get(id)?
                    .passages
                    .get(usize::try_from(ordinal).ok()?)?
                    .clone();
                Some(Hit {
                    passage,
                    score: f.score,
                    bm25_rank: f.ranks.first().copied().flatten(),
                    vector_rank: f.ranks.get(1).copied().flatten(),
                })
            })
            .collect())
    }

    /// `(id, title, passages)` of every document, by id.
    pub fn documents(&self) -> Vec<(String, String, usize)> {
        self.read_docs()
            .iter()
            .map(|(id, e)| (id.clone(), e.doc.title.clone(), e.passages.len()))
            .collect()
    }

    /// A document as it was last upserted.
    pub fn get(&self, id: &str) -> Option<Document> {
        self.read_docs().get(id).map(|e| e.doc.clone())
    }

    /// The number of passages.
    pub fn len(&self) -> usize {
        self.read_docs().values().map(|e| e.passages.len()).sum()
    }

    /// Whether there are no passages.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The BM25 candidates as `(doc_id, ordinal)` keys into `map`, best first.
    fn bm25<'m>(
        &self,
        map: &'m BTreeMap<String, Entry>,
        query: &str,
    ) -> Result<Vec<(&'m str, u32)>, KbError> {
        let cleaned = bm25_query(query);
        if cleaned.is_empty() {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.title, f.section, f.text]);
        parser.set_field_boost(f.title, TITLE_BOOST);
        parser.set_field_boost(f.section, SECTION_BOOST);
        let (q, errors) = parser.parse_query_lenient(&cleaned);
        if !errors.is_empty() {
            tracing::debug!(errors = errors.len(), "knowledge base: lenient query parse");
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(&q, &TopDocs::with_limit(CANDIDATES).order_by_score())?;
        let mut out = Vec::with_capacity(top.len());
        for (_, addr) in top {
            let td: TantivyDocument = searcher.doc(addr)?;
            let id = td.get_first(f.doc_id).and_then(|v| v.as_str());
            let ordinal = td.get_first(f.ordinal).and_then(|v| v.as_u64());
            let (Some(id), Some(ordinal)) = (id, ordinal) else {
                continue;
            };
            // Borrow the id from the map so the keys outlive the tantivy document.
            if let Some((key, _)) = map.get_key_value(id)
                && let Ok(ordinal) = u32::try_from(ordinal)
            {
                out.push((key.as_str(), ordinal));
            }
        }
        Ok(out)
    }

    fn check_vectors(&self, vectors: &[Vec<f32>], expected: usize) -> Result<(), KbError> {
        if vectors.len() != expected {
            return Err(KbError::EmbedContract(format!(
                "{} vectors for {expected} texts",
                vectors.len()
            )));
        }
        let dim = self.embedder.dim();
        if let Some(v) = vectors.iter().find(|v| v.len() != dim) {
            return Err(KbError::EmbedContract(format!(
                "a vector of {} values, not {dim}",
                v.len()
            )));
        }
        Ok(())
    }

    // A poisoned lock means a thread panicked while holding it; every update replaces map entries
    // only after the index commit succeeded, so the data is still consistent and we carry on.
    fn lock_writer(&self) -> MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn read_docs(&self) -> RwLockReadGuard<'_, BTreeMap<String, Entry>> {
        self.docs.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write_docs(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Entry>> {
        self.docs.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// English function words dropped from BM25 queries. Customers ask questions ("how long does a
/// transfer to an account in Germany take"), and in short fields such as headings ("How to
/// close") these words are rare enough to get a high IDF, so without this list a heading's "how"
/// and "to" outweigh the one word that matters ("transfer"). Pronouns, articles, auxiliaries,
/// prepositions, conjunctions and question words only; negations and quantities stay.
const STOP_WORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "are", "as", "at", "be", "been", "being", "but", "by", "can",
    "could", "did", "do", "does", "doing", "for", "from", "had", "has", "have", "having", "he",
    "her", "hers", "him", "his", "how", "i", "if", "im", "in", "into", "is", "it", "its", "me",
    "my", "of", "on", "or", "our", "ours", "she", "should", "so", "than", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "those", "to", "us", "was", "we", "were",
    "what", "whats", "when", "where", "which", "while", "who", "whom", "why", "will", "with",
    "would", "you", "your", "yours",
];

/// The BM25 query for a customer's text: letters and digits only, lowercased (so `and`, `or`,
/// `not` are words, not operators, and no character is query syntax), function words dropped
/// unless nothing else is left. Each remaining word is an optional term.
fn bm25_query(query: &str) -> String {
    let cleaned: String = query
        .chars()
        .filter(|&c| c != '\'' && c != '\u{2019}')
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .to_lowercase();
    let content: Vec<&str> = cleaned
        .split_whitespace()
        .filter(|w| !STOP_WORDS.contains(w))
        .collect();
    if content.is_empty() {
        cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        content.join(" ")
    }
}

/// The text a passage is embedded as: `"title. section. text"` (the section left out when empty),
/// so a passage's vector knows which product and topic it belongs to.
pub fn embedding_input(p: &Passage) -> String {
    let mut s = String::with_capacity(p.title.len() + p.section.len() + p.text.len() + 4);
    s.push_str(p.title.trim_end_matches('.'));
    s.push_str(". ");
    if !p.section.is_empty() {
        s.push_str(p.section.trim_end_matches('.'));
        s.push_str(". ");
    }
    s.push_str(&p.text);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_embed::EmbedError;

    /// A deterministic stand-in: a bag of hashed lowercase words, L2-normalised.
    struct Hashing;
    impl Embed for Hashing {
        fn dim(&self) -> usize {
            64
        }
        fn model_id(&self) -> &str {
            "hashing-test"
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = vec![0f32; 64];
                    for w in t
                        .split(|c: char| !c.is_alphanumeric())
                        .filter(|w| !w.is_empty())
                    {
                        let h = w
                            .to_lowercase()
                            .bytes()
                            .fold(7u64, |h, b| h.wrapping_mul(31) ^ u64::from(b));
                        v[(h % 64) as usize] += 1.0;
                    }
                    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                    v.iter().map(|x| x / n).collect()
                })
                .collect())
        }
    }

    fn doc(id: &str, title: &str, body: &str) -> Document {
        Document {
            id: id.into(),
            title: title.into(),
            tags: vec![],
            body: body.into(),
        }
    }

    fn kb() -> KnowledgeBase {
        let kb = KnowledgeBase::new(Arc::new(Hashing)).unwrap();
        kb.upsert(&[
            doc(
                "cards",
                "Lost cards",
                "## Freeze\n\nFreeze your card in the app.\n\n## Replace\n\nOrder a replacement.",
            ),
            doc(
                "savings",
                "Savings",
                "## Rates\n\nEasy Access pays interest monthly.",
            ),
        ])
        .unwrap();
        kb
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<KnowledgeBase>();
    }

    #[test]
    fn upsert_search_replace_delete() {
        let kb = kb();
        assert_eq!(kb.len(), 3);
        assert_eq!(
            kb.documents(),
            [
                ("cards".to_string(), "Lost cards".to_string(), 2),
                ("savings".into(), "Savings".into(), 1)
            ]
        );
        let hits = kb.search("freezing my cards?", 5).unwrap();
        assert_eq!(hits[0].passage.doc_id, "cards");
        let freeze = hits.iter().find(|h| h.passage.section == "Freeze").unwrap();
        assert_eq!(
            freeze.bm25_rank,
            Some(1),
            "stemming: freezing ~ freeze, cards ~ card"
        );

        kb.upsert(&[doc(
            "savings",
            "Savings",
            "## Rates\n\nThe Goal Saver pays a bonus.",
        )])
        .unwrap();
        assert_eq!(kb.len(), 3);
        let hits = kb.search("bonus", 5).unwrap();
        assert_eq!(hits[0].passage.doc_id, "savings");
        assert!(hits[0].passage.text.contains("bonus"));
        assert!(
            kb.search("monthly", 10)
                .unwrap()
                .iter()
                .all(|h| !h.passage.text.contains("monthly"))
        );

        assert!(kb.delete("savings").unwrap());
        assert!(!kb.delete("savings").unwrap());
        assert!(kb.get("savings").is_none());
        assert_eq!(kb.len(), 2);
        assert!(
            kb.search("bonus goal saver", 10)
                .unwrap()
                .iter()
                .all(|h| h.passage.doc_id == "cards")
        );
    }

    #[test]
    fn query_syntax_is_just_text_and_edge_cases_are_empty() {
        let kb = kb();
        for q in [
            "card: NOT \"freeze",
            "(app) AND [x] -card +^2 ~",
            "what's up?",
        ] {
            kb.search(q, 3).unwrap();
        }
        assert!(kb.search("card", 0).unwrap().is_empty());
        assert!(kb.search("   ", 3).unwrap().is_empty());
        assert!(kb.search("???", 3).unwrap().len() <= 3);
    }

    #[test]
    fn rejects_bad_or_repeated_ids_without_changing_anything() {
        let kb = kb();
        let e = kb.upsert(&[doc("Bad Id", "T", "x")]).unwrap_err();
        assert!(matches!(e, KbError::InvalidDocument { .. }));
        let e = kb
            .upsert(&[doc("a", "T", "x"), doc("a", "T", "y")])
            .unwrap_err();
        assert!(e.to_string().contains("given twice"), "{e}");
        assert_eq!(kb.len(), 3);
    }

    #[test]
    fn bm25_queries_are_plain_content_words() {
        assert_eq!(
            bm25_query("How long does a transfer to Germany take?"),
            "long transfer germany take"
        );
        assert_eq!(
            bm25_query("what's my card's PIN"),
            "cards pin",
            "the stemmer handles `cards`"
        );
        assert_eq!(
            bm25_query("card: NOT \"frozen\" (AND) +x"),
            "card not frozen x"
        );
        assert_eq!(
            bm25_query("how do I"),
            "how do i",
            "all stop words: keep them"
        );
        assert_eq!(bm25_query(" ?! "), "");
    }

    #[test]
    fn embedding_input_joins_title_section_text() {
        let p = Passage {
            doc_id: "d".into(),
            title: "Savings.".into(),
            section: "Goal Saver".into(),
            text: "Pots.".into(),
            ordinal: 0,
        };
        assert_eq!(embedding_input(&p), "Savings. Goal Saver. Pots.");
        let p = Passage {
            section: String::new(),
            ..p
        };
        assert_eq!(embedding_input(&p), "Savings. Pots.");
    }
}
