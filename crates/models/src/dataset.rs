//! Tabular data with a binary target: loaded from any reasonably clean CSV file
//! ([`Dataset::from_csv`]) or built from numbers ([`Dataset::from_parts`]).
//!
//! Column types are detected, not declared: a column is **numeric** when every non-missing value
//! parses as a finite `f64`, otherwise **categorical**. A categorical column with at most
//! [`MAX_LEVELS`] distinct values is one-hot encoded (one 0/1 feature `column=level` per level,
//! levels sorted); one with more (free text, identifiers) is dropped and a warning says so.
//! Missing values — an empty field, `NA`, `N/A`, `NaN`, `null`, `None` or `?` in any case —
//! become NaN (in every indicator of a categorical column); the boosted trees route NaN down their
//! own branch and the logistic baseline imputes the training mean. One-hot rather than
//! perpetual's native categorical splits so that both models see the same features and a SHAP
//! value is always about one readable feature.
//!
//! The target must be binary: `0/1`, `true/false`, `yes/no` (any case; the second is the positive
//! class), two numbers (the greater is positive) or exactly two other strings (the
//! lexicographically greater is positive). [`Schema`] records what was detected so that new rows
//! can be encoded the same way ([`Schema::encode`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ModelError;

/// A categorical column with more distinct values than this is dropped (with a warning).
pub const MAX_LEVELS: usize = 50;

/// How a source column is turned into features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ColumnKind {
    /// One feature, the parsed number.
    Numeric,
    /// One 0/1 feature per level, in this order.
    Categorical {
        /// The levels seen in training, sorted.
        levels: Vec<String>,
    },
}

/// One source column that contributes features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// The header name.
    pub name: String,
    /// Detected type.
    pub kind: ColumnKind,
}

/// One model feature and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureInfo {
    /// `column` for numeric columns, `column=level` for one-hot indicators.
    pub name: String,
    /// The source column.
    pub column: String,
    /// The level this indicator stands for, for categorical columns.
    pub level: Option<String>,
}

/// What was detected when a dataset was loaded: enough to encode new rows identically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Feature columns in feature order.
    pub columns: Vec<ColumnSpec>,
    /// The target column.
    pub target: String,
    /// The raw target value taken as the positive class (y = 1).
    pub positive_label: String,
    /// The raw target value taken as the negative class (y = 0).
    pub negative_label: String,
    /// The id column, if any.
    pub id: Option<String>,
}

impl Schema {
    /// The features, in model order.
    pub fn features(&self) -> Vec<FeatureInfo> {
        let mut out = Vec::new();
        for c in &self.columns {
            match &c.kind {
                ColumnKind::Numeric => out.push(FeatureInfo {
                    name: c.name.clone(),
                    column: c.name.clone(),
                    level: None,
                }),
                ColumnKind::Categorical { levels } => {
                    for l in levels {
                        out.push(FeatureInfo {
                            name: format!("{}={}", c.name, l),
                            column: c.name.clone(),
                            level: Some(l.clone()),
                        });
                    }
                }
            }
        }
        out
    }

    /// Encode one raw row, looking values up by column name (`None` = missing). A numeric value
    /// that does not parse, and a level not seen in training, become NaN / all-zero indicators.
    pub fn encode<'a>(&self, value_of: impl Fn(&str) -> Option<&'a str>) -> Vec<f64> {
        let mut out = Vec::new();
        for c in &self.columns {
            let raw = value_of(&c.name).filter(|v| !is_missing(v));
            match &c.kind {
                ColumnKind::Numeric => out.push(raw.and_then(parse_number).unwrap_or(f64::NAN)),
                ColumnKind::Categorical { levels } => match raw {
                    None => out.extend(std::iter::repeat_n(f64::NAN, levels.len())),
                    Some(v) => {
                        let v = v.trim();
                        out.extend(levels.iter().map(|l| if l == v { 1.0 } else { 0.0 }));
                    }
                },
            }
        }
        out
    }
}

/// A feature matrix with a binary target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Feature names, one per column of `x`.
    pub feature_names: Vec<String>,
    /// Where each feature came from.
    pub features: Vec<FeatureInfo>,
    /// Number of rows.
    pub rows: usize,
    /// Number of features.
    pub cols: usize,
    /// Row-major values, `rows * cols`, NaN = missing.
    pub x: Vec<f64>,
    /// Target, 0.0 or 1.0.
    pub y: Vec<f64>,
    /// Row identifiers, when an id column was given.
    pub ids: Option<Vec<String>>,
    /// What was detected.
    pub schema: Schema,
    /// Columns dropped and other things the analyst should know.
    pub warnings: Vec<String>,
}

impl Dataset {
    /// Build a dataset from numbers: all features numeric, `y` must hold only 0.0 and 1.0.
    pub fn from_parts(
        feature_names: Vec<String>,
        x: Vec<f64>,
        y: Vec<f64>,
    ) -> Result<Dataset, ModelError> {
        let cols = feature_names.len();
        let rows = y.len();
        if cols == 0 {
            return Err(ModelError::NoFeatures {
                detail: String::new(),
            });
        }
        if x.len() != rows * cols {
            return Err(ModelError::InvalidInput(format!(
                "x has {} values, expected {rows} rows × {cols} features",
                x.len()
            )));
        }
        if let Some(v) = y.iter().find(|v| **v != 0.0 && **v != 1.0) {
            return Err(ModelError::InvalidInput(format!(
                "y must be 0 or 1, found {v}"
            )));
        }
        let schema = Schema {
            columns: feature_names
                .iter()
                .map(|n| ColumnSpec {
                    name: n.clone(),
                    kind: ColumnKind::Numeric,
                })
                .collect(),
            target: "y".into(),
            positive_label: "1".into(),
            negative_label: "0".into(),
            id: None,
        };
        Ok(Dataset {
            features: schema.features(),
            feature_names,
            rows,
            cols,
            x,
            y,
            ids: None,
            schema,
            warnings: Vec::new(),
        })
    }

    /// Load a CSV file with a header row. `target` is the binary target column, `id` an optional
    /// identifier column (kept in `ids`, never a feature), `exclude` columns to leave out.
    pub fn from_csv(
        path: impl AsRef<Path>,
        target: &str,
        id: Option<&str>,
        exclude: &[&str],
    ) -> Result<Dataset, ModelError> {
        let path = path.as_ref();
        let (header, records) = read_csv(path)?;
        let find = |role: &'static str, name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| ModelError::MissingColumn {
                    role,
                    name: name.to_string(),
                    available: header.join(", "),
                })
        };
        let target_idx = find("target", target)?;
        let id_idx = id.map(|n| find("id", n)).transpose()?;
        let mut skip: HashSet<usize> = HashSet::from([target_idx]);
        skip.extend(id_idx);
        for e in exclude {
            skip.insert(find("excluded", e)?);
        }

        // Target.
        let mut distinct = BTreeSet::new();
        for (line, rec) in &records {
            let v = rec[target_idx].trim();
            if v.is_empty() {
                return Err(ModelError::MissingTarget {
                    line: *line,
                    column: target.to_string(),
                });
            }
            distinct.insert(v.to_string());
        }
        let (negative_label, positive_label) = binary_labels(target, &distinct)?;
        let y: Vec<f64> = records
            .iter()
            .map(|(_, r)| f64::from(u8::from(r[target_idx].trim() == positive_label)))
            .collect();

        // Feature columns.
        let mut columns = Vec::new();
        let mut source = Vec::new();
        let mut warnings = Vec::new();
        let mut dropped = Vec::new();
        for (j, name) in header.iter().enumerate() {
            if skip.contains(&j) {
                continue;
            }
            let present: Vec<&str> = records
                .iter()
                .map(|(_, r)| r[j].as_str())
                .filter(|v| !is_missing(v))
                .collect();
            if present.is_empty() {
                warnings.push(format!("column `{name}` dropped: every value is missing"));
                dropped.push(name.clone());
                continue;
            }
            let kind = if present.iter().all(|v| parse_number(v).is_some()) {
                ColumnKind::Numeric
            } else {
                let levels: BTreeSet<&str> = present.iter().map(|v| v.trim()).collect();
                if levels.len() > MAX_LEVELS {
                    warnings.push(format!(
                        "column `{name}` dropped: {} distinct text values (at most {MAX_LEVELS} \
                         are one-hot encoded); exclude it or recode it",
                        levels.len()
                    ));
                    dropped.push(name.clone());
                    continue;
                }
                ColumnKind::Categorical {
                    levels: levels.into_iter().map(str::to_string).collect(),
                }
            };
            columns.push(ColumnSpec {
                name: name.clone(),
                kind,
            });
            source.push(j);
        }
        if columns.is_empty() {
            let detail = if dropped.is_empty() {
                " (the file has only the target, id and excluded columns)".to_string()
            } else {
                format!(" (dropped: {})", dropped.join(", "))
            };
            return Err(ModelError::NoFeatures { detail });
        }
        let schema = Schema {
            columns,
            target: target.to_string(),
            positive_label,
            negative_label,
            id: id.map(str::to_string),
        };
        let features = schema.features();
        let cols = features.len();
        let by_name: BTreeMap<&str, usize> = schema
            .columns
            .iter()
            .zip(&source)
            .map(|(c, j)| (c.name.as_str(), *j))
            .collect();
        let mut x = Vec::with_capacity(records.len() * cols);
        for (_, r) in &records {
            x.extend(schema.encode(|name| by_name.get(name).map(|j| r[*j].as_str())));
        }
        let ids = id_idx.map(|k| records.iter().map(|(_, r)| r[k].clone()).collect());
        Ok(Dataset {
            feature_names: features.iter().map(|f| f.name.clone()).collect(),
            features,
            rows: records.len(),
            cols,
            x,
            y,
            ids,
            schema,
            warnings,
        })
    }

    /// Row `i` of the feature matrix.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.cols..(i + 1) * self.cols]
    }

    /// A new dataset holding the given rows, in the given order.
    pub fn subset(&self, rows: &[usize]) -> Dataset {
        let mut x = Vec::with_capacity(rows.len() * self.cols);
        for &i in rows {
            x.extend_from_slice(self.row(i));
        }
        Dataset {
            feature_names: self.feature_names.clone(),
            features: self.features.clone(),
            rows: rows.len(),
            cols: self.cols,
            x,
            y: rows.iter().map(|&i| self.y[i]).collect(),
            ids: self
                .ids
                .as_ref()
                .map(|ids| rows.iter().map(|&i| ids[i].clone()).collect()),
            schema: self.schema.clone(),
            warnings: self.warnings.clone(),
        }
    }

    /// The feature matrix in column-major order (what the boosting library takes).
    pub fn column_major(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.x.len()];
        for i in 0..self.rows {
            for j in 0..self.cols {
                out[j * self.rows + i] = self.x[i * self.cols + j];
            }
        }
        out
    }

    /// Number of positive rows.
    pub fn positives(&self) -> usize {
        self.y.iter().filter(|v| **v == 1.0).count()
    }

    /// SHA-256 (hex) of the dataset's content: feature names, shape, every value's bits and the
    /// target. Two loads of the same file give the same hash; any changed value changes it.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        for n in &self.feature_names {
            h.update((n.len() as u64).to_le_bytes());
            h.update(n.as_bytes());
        }
        h.update((self.rows as u64).to_le_bytes());
        h.update((self.cols as u64).to_le_bytes());
        for v in self.x.iter().chain(&self.y) {
            // One canonical NaN, so equal data hashes equal whatever NaN payload it carries.
            let bits = if v.is_nan() {
                f64::NAN.to_bits()
            } else {
                v.to_bits()
            };
            h.update(bits.to_le_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// Tokens read as a missing value (compared case-insensitively after trimming).
const MISSING: [&str; 7] = ["", "na", "n/a", "nan", "null", "none", "?"];

fn is_missing(v: &str) -> bool {
    let t = v.trim();
    MISSING.iter().any(|m| t.eq_ignore_ascii_case(m))
}

fn parse_number(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// (negative, positive) from the two distinct target values.
fn binary_labels(
    column: &str,
    distinct: &BTreeSet<String>,
) -> Result<(String, String), ModelError> {
    let vals: Vec<&String> = distinct.iter().collect();
    match vals.len() {
        0 => unreachable!("records are non-empty and target values non-empty"),
        1 => Err(ModelError::TargetOneClass {
            column: column.to_string(),
            value: vals[0].clone(),
        }),
        2 => {
            let (a, b) = (vals[0].clone(), vals[1].clone());
            let (la, lb) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
            for (neg, pos) in [("0", "1"), ("false", "true"), ("no", "yes")] {
                if la == neg && lb == pos {
                    return Ok((a, b));
                }
                if la == pos && lb == neg {
                    return Ok((b, a));
                }
            }
            if let (Ok(x), Ok(z)) = (a.parse::<f64>(), b.parse::<f64>())
                && z < x
            {
                return Ok((b, a));
            }
            Ok((a, b))
        }
        n => Err(ModelError::TargetNotBinary {
            column: column.to_string(),
            count: n,
            examples: vals
                .iter()
                .take(5)
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
                + if n > 5 { ", …" } else { "" },
        }),
    }
}

type Records = Vec<(u64, Vec<String>)>;

fn read_csv(path: &Path) -> Result<(Vec<String>, Records), ModelError> {
    let file = std::fs::File::open(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(std::io::BufReader::new(file));
    let mut header: Option<Vec<String>> = None;
    let mut records = Vec::new();
    let mut rec = csv::ByteRecord::new();
    loop {
        let more = rdr
            .read_byte_record(&mut rec)
            .map_err(|e| csv_error(path, e))?;
        if !more {
            break;
        }
        let line = rec.position().map_or(0, |p| p.line());
        let mut fields = Vec::with_capacity(rec.len());
        for f in rec.iter() {
            let s = std::str::from_utf8(f).map_err(|_| ModelError::NotUtf8 { line })?;
            fields.push(s.to_string());
        }
        match &header {
            None => {
                if let Some(first) = fields.first_mut() {
                    *first = first.trim_start_matches('\u{feff}').to_string();
                }
                let names: Vec<String> = fields.iter().map(|f| f.trim().to_string()).collect();
                let mut seen = HashSet::new();
                for n in &names {
                    if !seen.insert(n.as_str()) {
                        return Err(ModelError::DuplicateColumn { name: n.clone() });
                    }
                }
                header = Some(names);
            }
            Some(h) => {
                if fields.len() != h.len() {
                    return Err(ModelError::RaggedRow {
                        line,
                        expected: h.len(),
                        found: fields.len(),
                    });
                }
                records.push((line, fields));
            }
        }
    }
    let Some(header) = header else {
        return Err(ModelError::EmptyFile {
            path: path.to_path_buf(),
            what: "no header row",
        });
    };
    if records.is_empty() {
        return Err(ModelError::EmptyFile {
            path: path.to_path_buf(),
            what: "no data rows",
        });
    }
    Ok((header, records))
}

fn csv_error(path: &Path, e: csv::Error) -> ModelError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => ModelError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => ModelError::Csv {
            line,
            reason: format!("{other:?}"),
        },
    }
}
