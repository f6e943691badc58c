//! Knowledge-base documents as Markdown files with a small front matter:
//!
//! ```text
//! ---
//! id: savings-accounts
//! title: Savings accounts and term deposits
//! tags: [savings, rates]
//! ---
//! # Savings accounts and term deposits
//! ...
//! ```
//!
//! The front matter is a deliberately tiny subset of YAML — `key: value` lines, `#` comments, a
//! double-quoted or plain title, a flow list of tags — parsed by hand so every error can name its
//! line and field. Unknown and repeated keys are errors (a typo such as `titel:` must not pass
//! silently). Everything after the closing `---` line is the body, kept byte for byte, so
//! [`to_markdown`] and [`parse_markdown`] round-trip.

use crate::KbError;
use std::collections::BTreeMap;
use std::path::Path;

/// One knowledge-base article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// `[a-z0-9-]+`, unique; equals the file stem when loaded from a folder.
    pub id: String,
    /// One line of plain text.
    pub title: String,
    /// Each `[a-z0-9-]+`.
    pub tags: Vec<String>,
    /// The Markdown after the front matter.
    pub body: String,
}

/// Whether `s` is a valid document id or tag: non-empty, lowercase ASCII letters, digits and `-`.
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parse one document. Errors name the 1-based line and the field at fault: a missing or
/// unterminated front matter, a missing `id` or `title`, an id or tag with characters outside
/// `[a-z0-9-]`, an empty title, an unknown or repeated key.
pub fn parse_markdown(text: &str) -> Result<Document, KbError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if trim_eol(first).trim_end() != "---" {
        return Err(KbError::MissingFrontMatter { line: 1 });
    }
    let mut offset = first.len();
    let mut id: Option<String> = None;
    let mut title: Option<String> = None;
    let mut tags: Option<Vec<String>> = None;
    let mut line_no = 1;
    for raw in lines {
        line_no += 1;
        offset += raw.len();
        let line = trim_eol(raw);
        if line.trim_end() == "---" {
            let closing = line_no;
            let id = id.ok_or(KbError::MissingField {
                line: closing,
                field: "id".into(),
            })?;
            let title = title.ok_or(KbError::MissingField {
                line: closing,
                field: "title".into(),
            })?;
            return Ok(Document {
                id,
                title,
                tags: tags.unwrap_or_default(),
                body: text[offset..].to_string(),
            });
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(KbError::invalid(
                line_no,
                "front matter",
                "expected `key: value`",
            ));
        };
        let key = key.trim();
        let value = value.trim();
        match key {
            "id" => {
                if id.is_some() {
                    return Err(KbError::invalid(line_no, key, "given twice"));
                }
                let v = strip_comment(value);
                if !is_valid_id(v) {
                    return Err(KbError::invalid(
                        line_no,
                        key,
                        format!("`{v}` must be non-empty and use only a-z, 0-9 and -"),
                    ));
                }
                id = Some(v.to_string());
            }
            "title" => {
                if title.is_some() {
                    return Err(KbError::invalid(line_no, key, "given twice"));
                }
                let v = parse_title(value).map_err(|r| KbError::invalid(line_no, key, r))?;
                if v.trim().is_empty() {
                    return Err(KbError::invalid(line_no, key, "is empty"));
                }
                title = Some(v);
            }
            "tags" => {
                if tags.is_some() {
                    return Err(KbError::invalid(line_no, key, "given twice"));
                }
                tags = Some(parse_tags(value).map_err(|r| KbError::invalid(line_no, key, r))?);
            }
            other => {
                return Err(KbError::invalid(
                    line_no,
                    other,
                    "unknown key (expected id, title or tags)",
                ));
            }
        }
    }
    Err(KbError::UnterminatedFrontMatter { line: 1 })
}

/// Write a document in the format [`parse_markdown`] reads; for any document that
/// `parse_markdown` accepts, `parse_markdown(&to_markdown(&d)) == Ok(d)`.
pub fn to_markdown(doc: &Document) -> String {
    let mut out = String::with_capacity(doc.body.len() + 128);
    out.push_str("---\nid: ");
    out.push_str(&doc.id);
    out.push_str("\ntitle: ");
    if title_needs_quotes(&doc.title) {
        out.push('"');
        for c in doc.title.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push(c),
            }
        }
        out.push('"');
    } else {
        out.push_str(&doc.title);
    }
    out.push_str("\ntags: [");
    out.push_str(&doc.tags.join(", "));
    out.push_str("]\n---\n");
    out.push_str(&doc.body);
    out
}

/// Load every `*.md` file of `dir` (not recursing), sorted by id. Each id must equal its file
/// stem; duplicate ids are rejected. Errors name the file and, for parse errors, the line.
pub fn load_dir(dir: &Path) -> Result<Vec<Document>, KbError> {
    let io = |source| KbError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "md") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut docs = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| KbError::Io {
            path: path.clone(),
            source,
        })?;
        let doc = parse_markdown(&text).map_err(|e| KbError::File {
            path: path.clone(),
            source: Box::new(e),
        })?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if doc.id != stem {
            return Err(KbError::IdMismatch {
                path,
                id: doc.id,
                stem,
            });
        }
        let shown = path.display().to_string();
        if let Some(first) = seen.insert(doc.id.clone(), shown.clone()) {
            return Err(KbError::DuplicateId {
                id: doc.id,
                first,
                second: shown,
            });
        }
        docs.push(doc);
    }
    docs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(docs)
}

fn trim_eol(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// A plain (unquoted) value ends at ` #`, as in YAML.
fn strip_comment(value: &str) -> &str {
    match value.find(" #") {
        Some(i) => value[..i].trim_end(),
        None => value,
    }
}

fn title_needs_quotes(title: &str) -> bool {
    title.trim() != title
        || title.starts_with(['"', '#'])
        || title.contains(" #")
        || title.contains(['\n', '\r', '\t'])
}

fn parse_title(value: &str) -> Result<String, String> {
    let Some(rest) = value.strip_prefix('"') else {
        return Ok(strip_comment(value).to_string());
    };
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let tail = chars.as_str().trim();
                if !tail.is_empty() && !tail.starts_with('#') {
                    return Err(format!("unexpected `{tail}` after the closing quote"));
                }
                return Ok(out);
            }
            '\\' => match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(other) => return Err(format!("unknown escape `\\{other}`")),
                None => return Err("ends inside an escape".into()),
            },
            c => out.push(c),
        }
    }
    Err("the opening quote is never closed".into())
}

fn parse_tags(value: &str) -> Result<Vec<String>, String> {
    let value = strip_comment(value);
    let inner = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .ok_or_else(|| format!("`{value}` must be a list like [savings, rates]"))?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .map(|t| {
            let t = t.trim();
            let t = t
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(t);
            if is_valid_id(t) {
                Ok(t.to_string())
            } else {
                Err(format!(
                    "tag `{t}` must be non-empty and use only a-z, 0-9 and -"
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\nid: savings\ntitle: Savings: the basics\ntags: [savings, rates]\n---\n# Savings\n\nText.\n";

    fn doc(title: &str, tags: &[&str], body: &str) -> Document {
        Document {
            id: "a-1".into(),
            title: title.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            body: body.into(),
        }
    }

    #[test]
    fn parses_front_matter_and_keeps_the_body() {
        let d = parse_markdown(GOOD).unwrap();
        assert_eq!(d.id, "savings");
        assert_eq!(d.title, "Savings: the basics");
        assert_eq!(d.tags, ["savings", "rates"]);
        assert_eq!(d.body, "# Savings\n\nText.\n");
    }

    #[test]
    fn accepts_comments_quotes_crlf_and_no_tags() {
        let d = parse_markdown(
            "---\r\n# a comment\r\nid: x-1   # stem\r\ntitle: \"Fees #1 \\\"new\\\"\"\r\n---\r\nbody",
        )
        .unwrap();
        assert_eq!(d.id, "x-1");
        assert_eq!(d.title, "Fees #1 \"new\"");
        assert!(d.tags.is_empty());
        assert_eq!(d.body, "body");
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let e = parse_markdown("# no front matter\n").unwrap_err();
        assert!(matches!(e, KbError::MissingFrontMatter { line: 1 }), "{e}");

        let e = parse_markdown("---\nid: a\ntitle: T\n# body but no close\n").unwrap_err();
        assert!(
            matches!(e, KbError::UnterminatedFrontMatter { line: 1 }),
            "{e}"
        );

        let e = parse_markdown("---\ntitle: T\ntags: []\n---\nbody\n").unwrap_err();
        match &e {
            KbError::MissingField { line, field } => assert_eq!((*line, field.as_str()), (4, "id")),
            other => panic!("unexpected {other}"),
        }
        assert_eq!(
            e.to_string(),
            "line 4: field `id`: missing from the front matter"
        );

        let e = parse_markdown("---\nid: a\n---\n").unwrap_err();
        assert!(
            matches!(&e, KbError::MissingField { line: 3, field } if field == "title"),
            "{e}"
        );

        let e = parse_markdown("---\ntitle: T\nid: Savings_Accounts\n---\n").unwrap_err();
        assert!(
            matches!(&e, KbError::InvalidField { line: 3, field, .. } if field == "id"),
            "{e}"
        );
        assert!(e.to_string().starts_with("line 3: field `id`"), "{e}");

        let e = parse_markdown("---\nid: a\ntitle:   \n---\n").unwrap_err();
        assert!(matches!(&e, KbError::InvalidField { line: 3, field, .. } if field == "title"));

        let e = parse_markdown("---\nid: a\ntitle: T\ntags: [ok, Not OK]\n---\n").unwrap_err();
        assert!(matches!(&e, KbError::InvalidField { line: 4, field, .. } if field == "tags"));

        let e = parse_markdown("---\nid: a\ntitel: T\n---\n").unwrap_err();
        assert!(matches!(&e, KbError::InvalidField { line: 3, field, .. } if field == "titel"));

        let e = parse_markdown("---\nid: a\nid: b\ntitle: T\n---\n").unwrap_err();
        assert!(matches!(&e, KbError::InvalidField { line: 3, field, .. } if field == "id"));

        let e = parse_markdown("---\nid: a\njust words\n---\n").unwrap_err();
        assert!(matches!(e, KbError::InvalidField { line: 3, .. }), "{e}");
    }

    #[test]
    fn round_trips() {
        for d in [
            doc("Plain title", &["a", "b-2"], "# H\n\npara\n"),
            doc(" padded ", &[], ""),
            doc("Has \"quotes\", a #hash and \\ slash", &["x"], "no newline"),
            doc("#starts with hash", &["x"], "\n\n---\nnot front matter\n"),
            doc("Line\nbreak\tand tab", &[], "body\r\nwith crlf\r\n"),
        ] {
            let text = to_markdown(&d);
            assert_eq!(parse_markdown(&text).unwrap(), d, "{text}");
        }
        let d = parse_markdown(GOOD).unwrap();
        assert_eq!(parse_markdown(&to_markdown(&d)).unwrap(), d);
    }

    #[test]
    fn load_dir_checks_stems_and_sorts() {
        let dir = std::env::temp_dir().join(format!("sextant-kb-md-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.md"), "---\nid: b\ntitle: B\n---\nb\n").unwrap();
        std::fs::write(dir.join("a.md"), "---\nid: a\ntitle: A\n---\na\n").unwrap();
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
        let ids: Vec<_> = load_dir(&dir).unwrap().into_iter().map(|d| d.id).collect();
        assert_eq!(ids, ["a", "b"]);

        std::fs::write(dir.join("c.md"), "---\nid: see\ntitle: C\n---\n").unwrap();
        let e = load_dir(&dir).unwrap_err();
        assert!(matches!(&e, KbError::IdMismatch { id, stem, .. } if id == "see" && stem == "c"));
        std::fs::write(dir.join("c.md"), "---\nid: c\n---\n").unwrap();
        let e = load_dir(&dir).unwrap_err();
        assert!(e.to_string().contains("c.md: line 3: field `title`"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
