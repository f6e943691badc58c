//! Cross-validate the boosted trees and the logistic baseline on a CSV file and print the table.
//!
//! `cargo run --release -p sextant-models --example evaluate -- FILE.csv TARGET [FOLDS] [SEED]`

use sextant_models::{Dataset, TrainParams, evaluate, render_table};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: evaluate FILE.csv TARGET [FOLDS] [SEED]");
        std::process::exit(2);
    }
    let folds = args
        .get(2)
        .map_or(5, |s| s.parse().expect("FOLDS is a number"));
    let seed = args
        .get(3)
        .map_or(42, |s| s.parse().expect("SEED is a number"));
    let run = || -> Result<String, sextant_models::ModelError> {
        let data = Dataset::from_csv(&args[0], &args[1], None, &[])?;
        let t = std::time::Instant::now();
        let e = evaluate(&data, folds, seed, &TrainParams::default())?;
        Ok(format!("{}({:.1?})", render_table(&e), t.elapsed()))
    };
    match run() {
        Ok(table) => println!("{table}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
