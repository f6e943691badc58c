//! The real model against an independent numpy implementation (`fixtures/reference.json`, made by
//! `fixtures/reference_embeddings.py`), batching and padding invariance, the cache, and errors.

use sextant_embed::{Embed, EmbedError, MiniLm, cosine};
use std::sync::OnceLock;

fn model() -> &'static MiniLm {
    static M: OnceLock<MiniLm> = OnceLock::new();
    M.get_or_init(|| MiniLm::load_default().expect("run scripts/setup-models.sh"))
}

#[derive(serde::Deserialize)]
struct Reference {
    text: String,
    embedding: Vec<f32>,
}

fn references() -> Vec<Reference> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn matches_the_independent_reference_one_by_one_and_in_a_batch() {
    let m = model();
    assert_eq!(m.dim(), 384);
    let refs = references();
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let batch = m.embed(&texts).unwrap();
    for (r, b) in refs.iter().zip(&batch) {
        let single = m.embed_one(&r.text).unwrap();
        let max_diff = |v: &[f32]| {
            v.iter()
                .zip(&r.embedding)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max)
        };
        // The batch pads shorter sentences; the mask must make that invisible.
        assert!(
            max_diff(b) < 1e-4,
            "{}: batch differs by {}",
            r.text,
            max_diff(b)
        );
        assert!(
            max_diff(&single) < 1e-4,
            "{}: single differs by {}",
            r.text,
            max_diff(&single)
        );
        let norm: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}

#[test]
fn similar_meanings_are_closer_than_unrelated_ones() {
    let m = model();
    let v = m
        .embed(&[
            "I want to save for a house in 3 years",
            "help me put money aside for a home deposit",
            "my debit card was stolen yesterday",
        ])
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2);
}

#[test]
fn long_inputs_are_truncated_not_rejected() {
    let long = "transfer ".repeat(2000);
    let v = model().embed_one(&long).unwrap();
    assert_eq!(v.len(), 384);
    assert!(v.iter().all(|x| x.is_finite()));
}

#[test]
fn a_missing_folder_names_the_file_and_the_fix() {
    let err = MiniLm::load(std::path::Path::new("/nonexistent/model")).unwrap_err();
    assert!(matches!(err, EmbedError::Missing { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("model.safetensors") && msg.contains("setup-models.sh"),
        "{msg}"
    );
}
