//! Quality gates on the evaluation sets (the targets: intent accuracy ≥ 90 %, retrieval
//! hit@3 ≥ 90 %), measured with the real model on the independently written sets as well as
//! on the sets the components were developed against. `sextant assistant eval` prints the same
//! figures with per-intent detail.

use sextant_embed::{Embed, MiniLm};
use std::path::PathBuf;
use std::sync::Arc;

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(p)
}

#[test]
fn intents_and_retrieval_meet_their_targets() {
    let model: Arc<dyn Embed> =
        Arc::new(MiniLm::load_default().expect("run scripts/setup-models.sh"));
    for file in ["eval/intents.jsonl", "eval/intents_holdout.jsonl"] {
        let r = sextant_conversation::eval::evaluate_intents(model.as_ref(), &repo(file)).unwrap();
        println!("{file}: {}/{} = {:.3}", r.correct, r.utterances, r.accuracy);
        assert!(r.utterances >= 120, "{file}: the set is complete");
        assert!(
            r.accuracy >= 0.90,
            "{file}: {:.3} < 0.90; misses: {:?}",
            r.accuracy,
            r.misses
        );
    }
    let files = [
        repo("eval/kb_questions.jsonl"),
        repo("eval/kb_questions_holdout.jsonl"),
    ];
    let reports =
        sextant_conversation::eval::evaluate_retrieval(model, &repo("kb"), &files).unwrap();
    for (f, k) in files.iter().zip(&reports) {
        println!(
            "{}: hit@1 {:.3} hit@3 {:.3}",
            f.display(),
            k.hit_at_1,
            k.hit_at_3
        );
        assert!(k.questions >= 50);
        assert!(
            k.hit_at_3 >= 0.90,
            "{}: hit@3 {:.3}; misses: {:?}",
            f.display(),
            k.hit_at_3,
            k.misses
        );
    }
}
