//! Records from any CSV file with a header row: the one place this crate does I/O.

use std::path::Path;

use crate::{FairnessError, Record};

/// The group of a record whose protected value is empty.
pub const MISSING_GROUP: &str = "(missing)";

/// Read a CSV file (with a header row) into records, one list per protected column, in the
/// order of `protected`.
///
/// * `pred_col` holds the decision, `label_col` the ground truth (optional). Both accept `1`/`0`,
///   `true`/`false` and `yes`/`no` in any case, with surrounding spaces ignored. An empty label
///   cell means the label is unknown; an empty decision is an error.
/// * An empty protected value (after trimming) becomes the group `"(missing)"`.
/// * Header names are matched exactly, after trimming spaces. Missing columns are reported
///   together; a requested column that appears twice in the header is an error.
/// * Errors name the file line (the header is line 1) and the column, e.g.
///   `line 7, column approved: 'maybe' is not 0/1/true/false/yes/no`.
pub fn from_csv(
    path: impl AsRef<Path>,
    pred_col: &str,
    label_col: Option<&str>,
    protected: &[&str],
) -> Result<Vec<(String, Vec<Record>)>, FairnessError> {
    if protected.is_empty() {
        return Err(FairnessError::InvalidArgument(
            "name at least one protected column".to_string(),
        ));
    }
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| FairnessError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(std::io::BufReader::new(file));

    let header: Vec<String> = reader
        .byte_headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let mut wanted: Vec<&str> = vec![pred_col];
    wanted.extend(label_col);
    wanted.extend(protected.iter().copied());
    let mut missing = Vec::new();
    for &w in &wanted {
        match header.iter().filter(|h| *h == w).count() {
            0 if !missing.contains(&w.to_string()) => missing.push(w.to_string()),
            0 | 1 => {}
            _ => return Err(FairnessError::DuplicateColumn(w.to_string())),
        }
    }
    if !missing.is_empty() {
        return Err(FairnessError::MissingColumns { missing, header });
    }
    let index = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .expect("checked above")
    };
    let pred_i = index(pred_col);
    let label_i = label_col.map(index);
    let protected_i: Vec<usize> = protected.iter().map(|p| index(p)).collect();

    let mut out: Vec<(String, Vec<Record>)> = protected
        .iter()
        .map(|p| (p.to_string(), Vec::new()))
        .collect();
    let mut row = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, e)),
        }
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        let cell = |i: usize| -> Result<&str, FairnessError> {
            std::str::from_utf8(&row[i])
                .map(str::trim)
                .map_err(|_| FairnessError::BadValue {
                    line,
                    column: header[i].clone(),
                    reason: "not valid UTF-8".to_string(),
                })
        };
        let pred = match parse_bool(cell(pred_i)?) {
            Ok(Some(b)) => b,
            Ok(None) => {
                return Err(bad(
                    line,
                    &header[pred_i],
                    "is empty (expected 0/1/true/false/yes/no)".to_string(),
                ));
            }
            Err(reason) => return Err(bad(line, &header[pred_i], reason)),
        };
        let label = match label_i {
            None => None,
            Some(i) => parse_bool(cell(i)?).map_err(|reason| bad(line, &header[i], reason))?,
        };
        for (&i, (_, records)) in protected_i.iter().zip(out.iter_mut()) {
            let v = cell(i)?;
            records.push(Record {
                group: if v.is_empty() { MISSING_GROUP } else { v }.to_string(),
                pred,
                label,
            });
        }
    }
    Ok(out)
}

fn bad(line: u64, column: &str, reason: String) -> FairnessError {
    FairnessError::BadValue {
        line,
        column: column.to_string(),
        reason,
    }
}

/// `Ok(None)` for an empty (trimmed) cell.
fn parse_bool(v: &str) -> Result<Option<bool>, String> {
    match v.to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "1" | "true" | "yes" => Ok(Some(true)),
        "0" | "false" | "no" => Ok(Some(false)),
        _ => Err(format!("'{}' is not 0/1/true/false/yes/no", preview(v))),
    }
}

/// At most 40 characters of a value, for messages.
fn preview(v: &str) -> String {
    if v.chars().count() <= 40 {
        v.to_string()
    } else {
        format!("{}…", v.chars().take(40).collect::<String>())
    }
}

fn csv_error(path: &Path, e: csv::Error) -> FairnessError {
    let line = e.position().map(|p| p.line());
    if let csv::ErrorKind::UnequalLengths {
        expected_len, len, ..
    } = e.kind()
    {
        return FairnessError::Csv {
            line,
            message: format!("{len} fields, but the header has {expected_len}"),
        };
    }
    let message = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(source) => FairnessError::Io {
            path: path.to_path_buf(),
            source,
        },
        _ => FairnessError::Csv { line, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for t in ["1", "true", "TRUE", "Yes", "yes"] {
            assert_eq!(parse_bool(t), Ok(Some(true)), "{t}");
        }
        for f in ["0", "false", "False", "NO"] {
            assert_eq!(parse_bool(f), Ok(Some(false)), "{f}");
        }
        assert_eq!(parse_bool(""), Ok(None));
        assert_eq!(
            parse_bool("2"),
            Err("'2' is not 0/1/true/false/yes/no".to_string())
        );
    }
}
