//! Time a generation run: `cargo run --release --example gen -p sextant-synth -- CUSTOMERS MONTHS [OUT]`.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let customers = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let months = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(12);
    let out = std::path::PathBuf::from(
        args.get(3)
            .cloned()
            .unwrap_or_else(|| "/tmp/sextant-synth-gen".into()),
    );
    let cfg = sextant_synth::Config {
        customers,
        months,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let s = sextant_synth::generate(&cfg, &out, &|_| {}).expect("generate");
    let secs = t.elapsed().as_secs_f64();
    let bytes: u64 = walk(&out);
    println!("{s:?}");
    println!(
        "{customers} customers x {months} months in {secs:.2}s: {} transactions ({:.1}/customer-month), {:.2} GB written to {}",
        s.transactions,
        s.transactions as f64 / customers as f64 / f64::from(months),
        bytes as f64 / 1e9,
        out.display()
    );
}

fn walk(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let m = e.metadata().expect("metadata");
                    if m.is_dir() { walk(&e.path()) } else { m.len() }
                })
                .sum()
        })
        .unwrap_or(0)
}
