//! Times the Lloyd iterations of [`sextant_segment::lloyd`] on a matrix read from a file, for
//! `bench/kmeans_vs_sklearn.py`, and prints one JSON object.
//!
//! ```text
//! cargo run --release --example kmeans_bench -p sextant-segment -- \
//!     --data X.bin --cols 8 [--init C.bin] [--k 8] [--max-iter 20] [--tol 0] [--repeats 3]
//! ```
//!
//! `--data` / `--init`: a `.csv` file (comma-separated numbers, no header, one row per line) or
//! raw little-endian `f64` values in row-major order (numpy's `tofile`), `--cols` wide.
//! Without `--init` the centroids come from k-means++ ([`sextant_segment::kmeans`] with one
//! restart) and the seeding is timed too. Only the clustering is timed, not reading the file;
//! with `--repeats N` the fastest of N runs is reported (every run gives the same result).

use std::time::Instant;

use sextant_segment::{KMeansConfig, Matrix, kmeans, lloyd};

fn read_matrix(path: &str, cols: usize) -> Result<Matrix, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let data: Vec<f64> = if path.ends_with(".csv") {
        let text = String::from_utf8(bytes).map_err(|e| format!("{path}: {e}"))?;
        let mut v = Vec::new();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            for field in line.split(',') {
                v.push(
                    field
                        .trim()
                        .parse::<f64>()
                        .map_err(|e| format!("{path} line {}: {e}", n + 1))?,
                );
            }
        }
        v
    } else {
        if bytes.len() % 8 != 0 {
            return Err(format!("{path}: length is not a multiple of 8 bytes"));
        }
        bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect()
    };
    if cols == 0 || !data.len().is_multiple_of(cols) {
        return Err(format!(
            "{path}: {} values do not fill rows of {cols}",
            data.len()
        ));
    }
    Matrix::new(data.len() / cols, cols, data).map_err(|e| e.to_string())
}

struct Args {
    data: String,
    init: Option<String>,
    cols: usize,
    k: usize,
    max_iter: usize,
    tol: f64,
    repeats: usize,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        data: String::new(),
        init: None,
        cols: 0,
        k: 8,
        max_iter: 20,
        tol: 0.0,
        repeats: 1,
        seed: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--data" => a.data = value()?,
            "--init" => a.init = Some(value()?),
            "--cols" => a.cols = num(value()?)? as usize,
            "--k" => a.k = num(value()?)? as usize,
            "--max-iter" => a.max_iter = num(value()?)? as usize,
            "--tol" => a.tol = num(value()?)?,
            "--repeats" => a.repeats = (num(value()?)? as usize).max(1),
            "--seed" => a.seed = num(value()?)? as u64,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.data.is_empty() || a.cols == 0 {
        return Err(
            "usage: kmeans_bench --data FILE --cols D [--init FILE] [--k K] \
                    [--max-iter N] [--tol T] [--repeats R] [--seed S]"
                .into(),
        );
    }
    Ok(a)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("kmeans_bench: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let data = read_matrix(&args.data, args.cols)?;
    let init = match &args.init {
        Some(path) => {
            let m = read_matrix(path, args.cols)?;
            Some(m.iter_rows().map(<[f64]>::to_vec).collect::<Vec<_>>())
        }
        None => None,
    };
    let mut best = f64::INFINITY;
    let mut model = None;
    for _ in 0..args.repeats {
        let start = Instant::now();
        let m = match &init {
            Some(init) => lloyd(&data, init, args.max_iter, args.tol),
            None => kmeans(
                &data,
                &KMeansConfig {
                    k: args.k,
                    restarts: 1,
                    max_iter: args.max_iter,
                    tol: args.tol,
                    seed: args.seed,
                },
            ),
        }
        .map_err(|e| e.to_string())?;
        best = best.min(start.elapsed().as_secs_f64());
        model = Some(m);
    }
    let model = model.expect("repeats ≥ 1");
    let out = serde_json::json!({
        "implementation": "sextant-segment",
        "seconds": best,
        "inertia": model.inertia,
        "iterations": model.iterations,
        "rows": data.rows,
        "cols": data.cols,
        "k": model.centroids.len(),
        "threads": rayon::current_num_threads(),
        "repeats": args.repeats,
    });
    println!("{out}");
    Ok(())
}
