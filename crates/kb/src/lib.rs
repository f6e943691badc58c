//! The bank's knowledge base for the assistant: customer-help articles written as Markdown with a
//! small front matter (`kb/*.md`), split into passages under their headings, and retrieved by
//! two independent methods whose rankings are fused:
//!
//! - **BM25** over an in-RAM tantivy index with English stemming (exact words, product names,
//!   figures such as "3.65%");
//! - **cosine similarity** of all-MiniLM-L6-v2 sentence embeddings (paraphrases, informal wording,
//!   typos the stemmer cannot help with);
//! - **reciprocal-rank fusion** of the two candidate lists ([`fusion`]).
//!
//! [`evaluate`] measures retrieval against a labelled question set (`eval/kb_questions.jsonl`).
//!
//! **Invariant:** no async, no network, no database; the only I/O is reading Markdown and
//! question files. The embedder comes in as `Arc<dyn Embed>`, so tests and other crates can supply
//! their own. **Boundary:** [`Document`], [`Passage`], [`Hit`], [`KnowledgeBase`], [`KbError`].

mod chunk;
mod error;
mod eval;
pub mod fusion;
mod index;
mod markdown;

pub use chunk::{MAX_WORDS, Passage, chunk, chunk_with_limit};
pub use error::KbError;
pub use eval::{EVAL_DEPTH, KbQuestion, RetrievalReport, evaluate, load_questions};
pub use index::{Hit, KnowledgeBase, embedding_input};
pub use markdown::{Document, is_valid_id, load_dir, parse_markdown, to_markdown};
