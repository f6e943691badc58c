//! Start-up without recomputing embeddings: the vectors of the intent examples and the
//! knowledge-base passages are kept in the store (`embedding_cache`, keyed by the model's id and
//! the SHA-256 of the text). [`Preloaded`] answers from the vectors fetched at start-up and
//! computes the rest with the model, remembering those (during start-up only: afterwards it
//! would see customers' questions, which are never cached) so they can be stored.

use sextant_embed::{Embed, EmbedError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The cache key of a text.
pub(crate) fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub(crate) fn encode(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// `None` when the bytes are not `dim` little-endian f32 values (a vector from another model
/// shape is recomputed, not trusted).
pub(crate) fn decode(bytes: &[u8], dim: usize) -> Option<Vec<f32>> {
    (bytes.len() == dim * 4).then(|| {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

/// The model, with vectors fetched from the store in front of it.
pub(crate) struct Preloaded {
    inner: Arc<dyn Embed>,
    known: HashMap<String, Vec<f32>>,
    recording: AtomicBool,
    computed: Mutex<Vec<(String, Vec<f32>)>>,
}

impl Preloaded {
    pub(crate) fn new(inner: Arc<dyn Embed>, known: HashMap<String, Vec<f32>>) -> Self {
        Self {
            inner,
            known,
            recording: AtomicBool::new(true),
            computed: Mutex::new(Vec::new()),
        }
    }

    /// Stop remembering computed vectors and hand over those remembered so far, as
    /// `(digest, bytes)` rows for the store.
    pub(crate) fn finish_startup(&self) -> Vec<(String, Vec<u8>)> {
        self.recording.store(false, Ordering::SeqCst);
        let mut c = self.computed.lock().unwrap_or_else(|p| p.into_inner());
        c.drain(..).map(|(t, v)| (digest(&t), encode(&v))).collect()
    }

    pub(crate) fn hits(&self) -> usize {
        self.known.len()
    }
}

impl Embed for Preloaded {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out: Vec<Option<Vec<f32>>> =
            texts.iter().map(|t| self.known.get(*t).cloned()).collect();
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| out[i].is_none()).collect();
        if !missing.is_empty() {
            let batch: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
            let vecs = self.inner.embed(&batch)?;
            let record = self.recording.load(Ordering::SeqCst);
            let mut computed = self.computed.lock().unwrap_or_else(|p| p.into_inner());
            for (&i, v) in missing.iter().zip(vecs) {
                if record {
                    computed.push((texts[i].to_string(), v.clone()));
                }
                out[i] = Some(v);
            }
        }
        Ok(out
            .into_iter()
            .map(|v| v.expect("every text embedded"))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counting(std::sync::atomic::AtomicUsize);
    impl Embed for Counting {
        fn dim(&self) -> usize {
            2
        }
        fn model_id(&self) -> &str {
            "counting"
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.0.fetch_add(texts.len(), Ordering::SeqCst);
            Ok(texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect())
        }
    }

    #[test]
    fn known_vectors_are_used_and_only_start_up_misses_are_remembered() {
        let inner = Arc::new(Counting(Default::default()));
        let known = HashMap::from([("cached".to_string(), vec![9.0, 9.0])]);
        let p = Preloaded::new(inner.clone(), known);
        let v = p.embed(&["cached", "new one"]).unwrap();
        assert_eq!(v[0], vec![9.0, 9.0]);
        assert_eq!(v[1], vec![7.0, 1.0]);
        assert_eq!(
            inner.0.load(Ordering::SeqCst),
            1,
            "only the miss reached the model"
        );
        let rows = p.finish_startup();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, digest("new one"));
        assert_eq!(decode(&rows[0].1, 2), Some(vec![7.0, 1.0]));
        p.embed(&["a customer's question"]).unwrap();
        assert!(
            p.finish_startup().is_empty(),
            "nothing remembered after start-up"
        );
        assert_eq!(decode(&[0, 0, 0], 2), None);
    }
}
