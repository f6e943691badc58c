//! all-MiniLM-L6-v2 with candle's BERT, mean pooling and an LRU cache.

use crate::{Embed, EmbedError};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use lru::LruCache;
use sha2::{Digest, Sha256};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// The files the model folder must hold.
pub const MODEL_FILES: [&str; 3] = ["model.safetensors", "config.json", "tokenizer.json"];

/// Word pieces per input after truncation (the length all-MiniLM-L6-v2 was trained with).
const MAX_TOKENS: usize = 256;
/// Texts per forward pass: larger batches waste work on padding, smaller ones on overhead.
const BATCH: usize = 32;
/// Cached embeddings (384 × 4 bytes each: 10k entries ≈ 15 MB).
const CACHE_ENTRIES: usize = 10_000;

/// The model, ready to embed. Cheap to share behind an `Arc`; `embed` may be called from many
/// threads (the forward pass itself is serialised by candle's CPU kernels using all cores).
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
    model_id: String,
    cache: Mutex<LruCache<String, Arc<[f32]>>>,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm")
            .field("dim", &self.dim)
            .field("model_id", &self.model_id)
            .finish()
    }
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> EmbedError {
    EmbedError::BadFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn infer(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Inference(e.to_string())
}

impl MiniLm {
    /// Load from a folder holding [`MODEL_FILES`]. Fails with [`EmbedError::Missing`] naming the
    /// first absent file.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let paths: Vec<PathBuf> = MODEL_FILES.iter().map(|f| dir.join(f)).collect();
        if let Some(p) = paths.iter().find(|p| !p.is_file()) {
            return Err(EmbedError::Missing { path: p.clone() });
        }
        let (weights, config_path, tok_path) = (&paths[0], &paths[1], &paths[2]);

        let config_text = std::fs::read_to_string(config_path).map_err(|e| bad(config_path, e))?;
        let config: Config = serde_json::from_str(&config_text).map_err(|e| bad(config_path, e))?;
        let dim = serde_json::from_str::<serde_json::Value>(&config_text)
            .ok()
            .and_then(|v| v.get("hidden_size").and_then(|d| d.as_u64()))
            .ok_or_else(|| bad(config_path, "no hidden_size"))? as usize;

        let bytes = std::fs::read(weights).map_err(|e| bad(weights, e))?;
        let model_id = hex::encode(&Sha256::digest(&bytes)[..8]);
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)
            .map_err(|e| bad(weights, e))?;
        let model = BertModel::load(vb, &config).map_err(|e| bad(weights, e))?;

        let mut tokenizer = Tokenizer::from_file(tok_path).map_err(|e| bad(tok_path, e))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| bad(tok_path, e))?;

        tracing::info!(dir = %dir.display(), model_id, dim, "embedding model loaded");
        Ok(Self {
            model,
            tokenizer,
            device,
            dim,
            model_id,
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(CACHE_ENTRIES).expect("non-zero"),
            )),
        })
    }

    /// Load from [`crate::default_model_dir`].
    pub fn load_default() -> Result<Self, EmbedError> {
        Self::load(&crate::default_model_dir())
    }

    /// Embed one batch without the cache.
    fn forward(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(infer)?;
        let len = encodings.first().map(|e| e.get_ids().len()).unwrap_or(0);
        let n = encodings.len();
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device).map_err(infer)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device).map_err(infer)?;
        let types = ids.zeros_like().map_err(infer)?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(infer)?; // (n, len, dim)

        // Mean over real tokens, then L2 normalisation.
        let maskf = mask
            .to_dtype(DType::F32)
            .map_err(infer)?
            .unsqueeze(2)
            .map_err(infer)?;
        let summed = hidden
            .broadcast_mul(&maskf)
            .and_then(|t| t.sum(1))
            .map_err(infer)?;
        let counts = maskf.sum(1).map_err(infer)?; // (n, 1)
        let mean = summed.broadcast_div(&counts).map_err(infer)?;
        let rows: Vec<Vec<f32>> = mean.to_vec2().map_err(infer)?;
        Ok(rows
            .into_iter()
            .map(|mut v| {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect())
    }
}

impl Embed for MiniLm {
    fn dim(&self) -> usize {
        self.dim
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        let mut todo: Vec<usize> = Vec::new();
        {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            for (i, t) in texts.iter().enumerate() {
                match cache.get(*t) {
                    Some(v) => out[i] = Some(v.to_vec()),
                    None => todo.push(i),
                }
            }
        }
        // Sort the misses by length so each batch pads little.
        todo.sort_by_key(|&i| texts[i].len());
        for chunk in todo.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            let vecs = self.forward(&batch)?;
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            for (&i, v) in chunk.iter().zip(vecs) {
                cache.put(texts[i].to_string(), Arc::from(v.as_slice()));
                out[i] = Some(v);
            }
        }
        Ok(out
            .into_iter()
            .map(|v| v.expect("every text embedded"))
            .collect())
    }
}
