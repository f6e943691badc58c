//! The knowledge base quotes the product catalog correctly: every product in
//! `crates/synth/src/catalog.rs` (read as text, its `p(...)` rows parsed here) is named in some
//! article, and an article naming it also quotes its interest rate (`rate_bps` 365 → "3.65%"),
//! its annual fee ("EUR 96") and its minimum income ("EUR 40,000") where it has them.

use sextant_kb::load_dir;
use std::path::PathBuf;

struct Row {
    id: String,
    name: String,
    min_income_major: i64,
    rate_bps: Option<i64>,
    annual_fee_cents: i64,
}

/// Split the text inside `p(`…`)` into top-level arguments (commas inside strings or brackets
/// do not count).
fn args(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut in_str, mut esc) =
        (Vec::new(), String::new(), 0, false, false);
    for c in s.chars() {
        if in_str {
            cur.push(c);
            match c {
                _ if esc => esc = false,
                '\\' => esc = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                cur.push(c);
            }
            '(' | '[' => {
                depth += 1;
                cur.push(c);
            }
            ')' | ']' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn string(a: &str) -> String {
    a.trim_matches('"').to_string()
}

fn int(a: &str) -> i64 {
    a.replace('_', "")
        .parse()
        .unwrap_or_else(|e| panic!("{a}: {e}"))
}

fn catalog() -> Vec<Row> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../synth/src/catalog.rs");
    let src = std::fs::read_to_string(&path).unwrap();
    let start = src
        .find("PRODUCTS: &[Product] = &[")
        .expect("the PRODUCTS table");
    let table = &src[start..];
    let table = &table[..table.find("\n];").expect("end of the PRODUCTS table")];
    let mut rows = Vec::new();
    let mut rest = table;
    while let Some(i) = rest.find("p(") {
        // Find the matching close paren of this call.
        let body_start = i + 2;
        let mut depth = 1;
        let mut in_str = false;
        let mut end = None;
        for (j, c) in rest[body_start..].char_indices() {
            match c {
                '"' => in_str = !in_str,
                '(' if !in_str => depth += 1,
                ')' if !in_str => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(body_start + j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end.expect("p( without )");
        let a = args(&rest[body_start..end]);
        assert_eq!(a.len(), 8, "a catalog row has 8 arguments: {a:?}");
        rows.push(Row {
            id: string(&a[0]),
            name: string(&a[1]),
            min_income_major: int(&a[4]),
            rate_bps: match a[5].as_str() {
                "None" => None,
                s => Some(int(s.trim_start_matches("Some(").trim_end_matches(')'))),
            },
            annual_fee_cents: int(&a[6]),
        });
        rest = &rest[end..];
    }
    rows
}

/// "EUR 40,000" for 40000.
fn eur(major: i64) -> String {
    let digits = major.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("EUR {out}")
}

/// `needle` occurs in `hay` not followed by another digit or a decimal part.
fn quotes(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        let after = &hay[i + needle.len()..];
        let mut chars = after.chars();
        match (chars.next(), chars.next()) {
            (Some(c), _) if c.is_ascii_digit() => false,
            (Some(',' | '.'), Some(d)) if d.is_ascii_digit() => false,
            _ => true,
        }
    })
}

#[test]
fn parser_reads_the_catalog() {
    let rows = catalog();
    assert!(rows.len() >= 10, "{} rows", rows.len());
    assert!(
        rows.iter()
            .all(|r| r.id.starts_with("P-") && !r.name.is_empty())
    );
    assert!(rows.iter().any(|r| r.rate_bps.is_some()) && rows.iter().any(|r| r.rate_bps.is_none()));
    assert_eq!(eur(40_000), "EUR 40,000");
    assert_eq!(eur(96), "EUR 96");
    assert!(quotes("a fee of EUR 96 a year", "EUR 96"));
    assert!(!quotes("EUR 960", "EUR 96") && !quotes("EUR 96,500", "EUR 96"));
}

#[test]
fn every_product_is_named_with_its_rate_fee_and_minimum_income() {
    let docs = load_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../kb")).unwrap();
    let mut problems = Vec::new();
    for r in catalog() {
        let naming: Vec<_> = docs
            .iter()
            .filter(|d| d.body.contains(&r.name) || d.title.contains(&r.name))
            .collect();
        if naming.is_empty() {
            problems.push(format!("{} ({}): not named in any document", r.id, r.name));
            continue;
        }
        let mut wanted = Vec::new();
        if let Some(bps) = r.rate_bps {
            wanted.push(format!("{}.{:02}%", bps / 100, bps % 100));
        }
        if r.annual_fee_cents > 0 {
            assert_eq!(r.annual_fee_cents % 100, 0, "{}: fee in whole euros", r.id);
            wanted.push(eur(r.annual_fee_cents / 100));
        }
        if r.min_income_major > 0 {
            wanted.push(eur(r.min_income_major));
        }
        for w in wanted {
            if !naming.iter().any(|d| quotes(&d.body, &w)) {
                let ids: Vec<_> = naming.iter().map(|d| d.id.as_str()).collect();
                problems.push(format!("{} ({}): `{w}` not in {ids:?}", r.id, r.name));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the KB disagrees with the catalog:\n{}",
        problems.join("\n")
    );
}
