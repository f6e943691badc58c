//! Raw rows from CSV or JSON Lines, read as bytes so that bad encoding is a row error with a
//! line number rather than a crash, and headers checked before anything is written.

use crate::schema::{Row, columns, empty_batch, parse_row};
use crate::{Format, IngestError, Msg, Progress, RowError};
use sextant_core::FieldError;
use sextant_store::RecordKind;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Named access to one raw row's fields. `Ok(None)` means the field is absent.
pub trait Fields {
    fn get(&self, col: &str) -> Result<Option<Cow<'_, str>>, FieldError>;
}

fn utf8(b: &[u8]) -> Result<&str, FieldError> {
    std::str::from_utf8(b).map_err(|e| {
        FieldError::new(format!(
            "not valid UTF-8 (bad byte at offset {})",
            e.valid_up_to()
        ))
    })
}

struct CsvRow<'a> {
    rec: &'a csv::ByteRecord,
    /// Column name → position; a short list, where a linear scan beats hashing.
    index: &'a [(String, usize)],
}

impl Fields for CsvRow<'_> {
    fn get(&self, col: &str) -> Result<Option<Cow<'_, str>>, FieldError> {
        let pos = self
            .index
            .iter()
            .find(|(name, _)| name == col)
            .map(|(_, i)| *i);
        match pos.and_then(|i| self.rec.get(i)) {
            Some(b) => Ok(Some(Cow::Borrowed(utf8(b)?))),
            None => Ok(None),
        }
    }
}

struct JsonRow(serde_json::Map<String, serde_json::Value>);

impl Fields for JsonRow {
    fn get(&self, col: &str) -> Result<Option<Cow<'_, str>>, FieldError> {
        use serde_json::Value;
        match self.0.get(col) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(Cow::Borrowed(s))),
            Some(Value::Number(n)) => Ok(Some(Cow::Owned(n.to_string()))),
            Some(Value::Bool(b)) => Ok(Some(Cow::Owned(b.to_string()))),
            Some(_) => Err(FieldError::new(
                "expected a string or a number, found an array or object",
            )),
        }
    }
}

pub(crate) enum Reader {
    Csv {
        rdr: csv::Reader<BufReader<std::fs::File>>,
        index: Vec<(String, usize)>,
    },
    Jsonl {
        rdr: BufReader<std::fs::File>,
        known: Vec<&'static str>,
    },
}

/// Longest JSON line accepted (a row is far smaller; this bounds memory on garbage input).
const MAX_JSON_LINE: usize = 64 * 1024;

impl Reader {
    pub(crate) fn new(
        file: std::fs::File,
        format: Format,
        kind: RecordKind,
        path: &Path,
    ) -> Result<Self, IngestError> {
        let (required, optional) = columns(kind);
        let header_err = |reason: String| IngestError::Header {
            path: PathBuf::from(path),
            reason,
        };
        match format {
            Format::Jsonl => Ok(Reader::Jsonl {
                rdr: BufReader::with_capacity(1 << 20, file),
                known: required.iter().chain(optional).copied().collect(),
            }),
            Format::Csv => {
                let mut rdr = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(false)
                    .buffer_capacity(1 << 20)
                    .from_reader(BufReader::with_capacity(1 << 20, file));
                let headers = rdr
                    .byte_headers()
                    .map_err(|e| header_err(format!("cannot read the header row: {e}")))?;
                if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
                    return Err(header_err(
                        "the file is empty: expected a header row".into(),
                    ));
                }
                let mut index = HashMap::new();
                for (i, h) in headers.iter().enumerate() {
                    let name = utf8(h)
                        .map_err(|e| header_err(format!("header column {}: {e}", i + 1)))?
                        .trim();
                    if !required.contains(&name) && !optional.contains(&name) {
                        return Err(header_err(format!(
                            "unknown column '{}' in the header; expected {} (optional: {})",
                            sextant_core::text::preview(name),
                            required.join(","),
                            optional.join(",")
                        )));
                    }
                    if index.insert(name.to_string(), i).is_some() {
                        return Err(header_err(format!(
                            "column '{name}' appears twice in the header"
                        )));
                    }
                }
                let missing: Vec<&str> = required
                    .iter()
                    .copied()
                    .filter(|c| !index.contains_key(*c))
                    .collect();
                if !missing.is_empty() {
                    return Err(header_err(format!(
                        "missing required column(s): {}",
                        missing.join(", ")
                    )));
                }
                Ok(Reader::Csv {
                    rdr,
                    index: index.into_iter().collect(),
                })
            }
        }
    }

    /// Parse the whole file, sending batches of `batch_size` rows (good and bad together).
    pub(crate) fn run(
        self,
        path: &Path,
        kind: RecordKind,
        batch_size: usize,
        total: u64,
        tx: &tokio::sync::mpsc::Sender<Msg>,
        progress: &dyn Fn(Progress),
    ) {
        let mut batch = empty_batch(kind, batch_size);
        let mut errors: Vec<RowError> = Vec::new();
        let mut rows_read = 0u64;
        let mut bytes_read = 0u64;
        // Returns false when the receiver has gone away (the import failed): stop parsing.
        let emit = |batch: &mut sextant_store::Batch,
                    errors: &mut Vec<RowError>,
                    bytes: u64,
                    rows: u64|
         -> bool {
            let b = std::mem::replace(batch, empty_batch(kind, batch_size));
            let ok = tx
                .blocking_send(Msg::Batch(b, std::mem::take(errors)))
                .is_ok();
            progress(Progress {
                bytes_read: bytes,
                bytes_total: total,
                rows_read: rows,
            });
            ok
        };
        let accept = |res: Result<Row, RowError>,
                      line: u64,
                      batch: &mut sextant_store::Batch,
                      errors: &mut Vec<RowError>| {
            match res {
                Ok(row) => row.push(line, batch),
                Err(e) => errors.push(e),
            }
        };
        match self {
            Reader::Csv { mut rdr, index } => {
                let mut rec = csv::ByteRecord::new();
                loop {
                    match rdr.read_byte_record(&mut rec) {
                        Ok(false) => break,
                        Ok(true) => {
                            let line = rec.position().map(|p| p.line()).unwrap_or(0);
                            bytes_read = rec.position().map(|p| p.byte()).unwrap_or(bytes_read);
                            let res = parse_row(
                                kind,
                                &CsvRow {
                                    rec: &rec,
                                    index: &index,
                                },
                                line,
                            );
                            accept(res, line, &mut batch, &mut errors);
                        }
                        Err(e) => match e.kind() {
                            csv::ErrorKind::UnequalLengths {
                                pos,
                                expected_len,
                                len,
                            } => errors.push(RowError {
                                line: pos.as_ref().map(|p| p.line()).unwrap_or(0),
                                column: None,
                                reason: format!(
                                    "expected {expected_len} fields as in the header, found {len}"
                                ),
                            }),
                            _ => {
                                let _ = tx.blocking_send(Msg::Fatal(IngestError::Read {
                                    path: path.to_path_buf(),
                                    source: std::io::Error::other(e.to_string()),
                                }));
                                return;
                            }
                        },
                    }
                    rows_read += 1;
                    if batch.len() + errors.len() >= batch_size
                        && !emit(&mut batch, &mut errors, bytes_read, rows_read)
                    {
                        return;
                    }
                }
            }
            Reader::Jsonl { mut rdr, known } => {
                let mut buf = Vec::new();
                let mut line = 0u64;
                loop {
                    buf.clear();
                    let n = match (&mut rdr)
                        .take(MAX_JSON_LINE as u64 + 1)
                        .read_until(b'\n', &mut buf)
                    {
                        Ok(n) => n,
                        Err(e) => {
                            let _ = tx.blocking_send(Msg::Fatal(IngestError::Read {
                                path: path.to_path_buf(),
                                source: e,
                            }));
                            return;
                        }
                    };
                    if n == 0 {
                        break;
                    }
                    line += 1;
                    bytes_read += n as u64;
                    if buf.len() > MAX_JSON_LINE && !buf.ends_with(b"\n") {
                        // Skip the rest of the over-long line.
                        let mut rest = Vec::new();
                        loop {
                            rest.clear();
                            match (&mut rdr)
                                .take(MAX_JSON_LINE as u64)
                                .read_until(b'\n', &mut rest)
                            {
                                Ok(0) => break,
                                Ok(m) => {
                                    bytes_read += m as u64;
                                    if rest.ends_with(b"\n") {
                                        break;
                                    }
                                }
                                Err(_) => break,
                            }
                        }
                        errors.push(RowError {
                            line,
                            column: None,
                            reason: format!("line longer than {MAX_JSON_LINE} bytes"),
                        });
                    } else if buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    } else {
                        let res = parse_json_line(kind, &buf, line, &known);
                        accept(res, line, &mut batch, &mut errors);
                    }
                    rows_read += 1;
                    if batch.len() + errors.len() >= batch_size
                        && !emit(&mut batch, &mut errors, bytes_read, rows_read)
                    {
                        return;
                    }
                }
            }
        }
        emit(&mut batch, &mut errors, bytes_read.max(total), rows_read);
    }
}

fn parse_json_line(
    kind: RecordKind,
    buf: &[u8],
    line: u64,
    known: &[&'static str],
) -> Result<Row, RowError> {
    let err = |column: Option<String>, reason: String| RowError {
        line,
        column,
        reason,
    };
    let text = utf8(buf).map_err(|e| err(None, e.reason))?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| err(None, format!("malformed JSON: {e}")))?;
    parse_json_record(kind, value, line, known)
}

/// Parse one JSON object of `kind` (the same schema as a JSON Lines import); `line` is the
/// record's number for error messages. Used by the API for JSON batches.
pub fn parse_json_record(
    kind: RecordKind,
    value: serde_json::Value,
    line: u64,
    known: &[&str],
) -> Result<Row, RowError> {
    let serde_json::Value::Object(map) = value else {
        return Err(RowError {
            line,
            column: None,
            reason: "expected a JSON object".into(),
        });
    };
    if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(RowError {
            line,
            column: Some(sextant_core::text::preview(k)),
            reason: "unknown field".into(),
        });
    }
    parse_row(kind, &JsonRow(map), line)
}
