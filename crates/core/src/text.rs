//! Bounded free text: every string that enters Sextant has a length limit and no control characters.

use crate::error::FieldError;

/// Longest free-text field accepted anywhere (a message body); shorter limits apply per field.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// Check a free-text field: non-empty when required, at most `max` bytes, no control characters
/// other than newline and tab. Returns the trimmed text.
pub fn bounded(input: &str, max: usize) -> Result<&str, FieldError> {
    let s = input.trim();
    if s.len() > max {
        return Err(FieldError::new(format!(
            "too long: {} bytes, at most {max} allowed",
            s.len()
        )));
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        return Err(FieldError::new(format!(
            "contains control character U+{:04X}",
            c as u32
        )));
    }
    Ok(s)
}

/// Like [`bounded`] but the result must not be empty.
pub fn required(input: &str, max: usize) -> Result<&str, FieldError> {
    let s = bounded(input, max)?;
    if s.is_empty() {
        return Err(FieldError::new("must not be empty"));
    }
    Ok(s)
}

/// A short, safe preview of a bad value for an error message (never a whole field).
pub fn preview(s: &str) -> String {
    const MAX: usize = 40;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_long_and_control() {
        assert!(
            bounded(&"x".repeat(11), 10)
                .unwrap_err()
                .reason
                .contains("11 bytes")
        );
        assert!(
            bounded("a\u{0}b", 10)
                .unwrap_err()
                .reason
                .contains("U+0000")
        );
        assert_eq!(bounded("  ok \n", 10).unwrap(), "ok");
        assert!(required("   ", 10).is_err());
        assert_eq!(preview(&"é".repeat(30)).chars().count(), 21);
    }
}
