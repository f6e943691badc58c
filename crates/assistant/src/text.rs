//! Shared text scanning for entity extraction, the lexical intent cues and the fact guard: a
//! tokenizer that keeps byte spans into the original text, exact decimal numbers (digits with
//! thousands separators and decimals in English or European style, glued suffixes such as `20k`,
//! and number words such as "twenty thousand"), month names and phrase search.
//!
//! Numbers are kept as an exact decimal ([`Dec`]: an integer mantissa and a power-of-ten scale),
//! never as a float, so "€1,234.56" becomes 123456 cents exactly.

use std::cmp::Ordering;

/// An exact decimal: `mant / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dec {
    pub mant: i128,
    pub scale: u32,
}

/// Largest mantissa we accept; longer digit strings are not treated as numbers.
const MAX_MANT: i128 = 10_i128.pow(30);

fn pow10(n: u32) -> Option<i128> {
    10_i128.checked_pow(n)
}

impl Dec {
    pub(crate) const fn int(n: i128) -> Dec {
        Dec { mant: n, scale: 0 }
    }

    /// The value times an integer.
    pub(crate) fn mul_int(self, k: i128) -> Option<Dec> {
        let mant = self.mant.checked_mul(k)?;
        (mant.abs() <= MAX_MANT).then_some(Dec {
            mant,
            scale: self.scale,
        })
    }

    pub(crate) fn add(self, other: Dec) -> Option<Dec> {
        let scale = self.scale.max(other.scale);
        let a = self.mant.checked_mul(pow10(scale - self.scale)?)?;
        let b = other.mant.checked_mul(pow10(scale - other.scale)?)?;
        Some(Dec {
            mant: a.checked_add(b)?,
            scale,
        })
    }

    /// The value in hundredths (minor units), rounded half away from zero.
    pub(crate) fn to_minor(self) -> Option<i64> {
        let scaled = self.mant.checked_mul(100)?;
        let div = pow10(self.scale)?;
        let q = scaled / div;
        let r = scaled % div;
        let q = if r.abs() * 2 >= div {
            q + scaled.signum()
        } else {
            q
        };
        i64::try_from(q).ok()
    }

    /// The integer value if there is no fractional part.
    pub(crate) fn as_integer(self) -> Option<i128> {
        let div = pow10(self.scale)?;
        (self.mant % div == 0).then(|| self.mant / div)
    }

    pub(crate) fn as_f64(self) -> f64 {
        // Only for display and approximate comparisons; exact paths use the mantissa.
        self.mant as f64 / 10f64.powi(i32::try_from(self.scale).unwrap_or(i32::MAX))
    }

    /// Compare two decimals exactly.
    pub(crate) fn cmp_value(self, other: Dec) -> Ordering {
        let scale = self.scale.max(other.scale);
        let a = pow10(scale - self.scale).and_then(|p| self.mant.checked_mul(p));
        let b = pow10(scale - other.scale).and_then(|p| other.mant.checked_mul(p));
        match (a, b) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.as_f64().total_cmp(&other.as_f64()),
        }
    }
}

/// A number written with digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NumLit {
    pub value: Dec,
    /// Letters glued to the digits ("k" in `20k`, "th" in `5th`, "y" in `10y`), lower-case.
    pub suffix: String,
    /// Thousands separators were used.
    pub grouped: bool,
    /// Integer digits when written without any separator (for year detection).
    pub plain_digits: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Word,
    Number(NumLit),
    Symbol(char),
}

/// One token with its byte span in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub start: usize,
    pub end: usize,
    /// Lower-cased word (curly apostrophes made straight), the digits as written, or the symbol.
    pub norm: String,
    pub kind: Kind,
}

impl Token {
    pub(crate) fn is_word(&self, w: &str) -> bool {
        matches!(self.kind, Kind::Word) && self.norm == w
    }
    pub(crate) fn word(&self) -> Option<&str> {
        matches!(self.kind, Kind::Word).then_some(self.norm.as_str())
    }
    pub(crate) fn number(&self) -> Option<&NumLit> {
        match &self.kind {
            Kind::Number(n) => Some(n),
            _ => None,
        }
    }
    pub(crate) fn is_symbol(&self, c: char) -> bool {
        self.kind == Kind::Symbol(c)
    }
}

fn is_space_sep(c: char) -> bool {
    matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}')
}

/// Split text into words, numbers and single-character symbols. Whitespace is dropped; hyphens
/// are symbols (so "twenty-five" is three tokens); apostrophes stay inside words ("don't").
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte_at = |k: usize| chars.get(k).map_or(text.len(), |&(b, _)| b);
    let mut out = Vec::new();
    let mut k = 0;
    while let Some(&(start, c)) = chars.get(k) {
        if c.is_whitespace() {
            k += 1;
        } else if c.is_ascii_digit() {
            let (next, lit) = scan_number(&chars, k);
            let end = byte_at(next);
            out.push(Token {
                start,
                end,
                norm: text[start..end].to_lowercase(),
                kind: Kind::Number(lit),
            });
            k = next;
        } else if c.is_alphabetic() {
            let mut j = k + 1;
            while let Some(&(_, d)) = chars.get(j) {
                let apostrophe = matches!(d, '\'' | '\u{2019}')
                    && chars.get(j + 1).is_some_and(|&(_, e)| e.is_alphabetic());
                if d.is_alphanumeric() || apostrophe {
                    j += 1;
                } else {
                    break;
                }
            }
            let end = byte_at(j);
            let norm = text[start..end].to_lowercase().replace('\u{2019}', "'");
            out.push(Token {
                start,
                end,
                norm: expand_contraction(&norm).map_or(norm, str::to_string),
                kind: Kind::Word,
            });
            k = j;
        } else {
            let end = byte_at(k + 1);
            out.push(Token {
                start,
                end,
                norm: c.to_string(),
                kind: Kind::Symbol(c),
            });
            k += 1;
        }
    }
    out
}

/// Contractions typed without the apostrophe ("whats", "dont", "im") in their usual spelling.
fn expand_contraction(w: &str) -> Option<&'static str> {
    Some(match w {
        "whats" => "what's",
        "hows" => "how's",
        "wheres" => "where's",
        "thats" => "that's",
        "im" => "i'm",
        "ive" => "i've",
        "dont" => "don't",
        "doesnt" => "doesn't",
        "didnt" => "didn't",
        "cant" => "can't",
        "wont" => "won't",
        "isnt" => "isn't",
        "wasnt" => "wasn't",
        "arent" => "aren't",
        "hasnt" => "hasn't",
        "havent" => "haven't",
        "shouldnt" => "shouldn't",
        "couldnt" => "couldn't",
        "wouldnt" => "wouldn't",
        _ => return None,
    })
}

/// Scan a number starting at `chars[k]` (an ASCII digit). Returns the index after it.
fn scan_number(chars: &[(usize, char)], k: usize) -> (usize, NumLit) {
    let digit_run = |from: usize| {
        let mut j = from;
        while chars.get(j).is_some_and(|&(_, c)| c.is_ascii_digit()) {
            j += 1;
        }
        j
    };
    // Groups of digits and the separator before each (None for the first).
    let mut groups: Vec<(Option<char>, String)> = Vec::new();
    let mut j = digit_run(k);
    groups.push((None, chars[k..j].iter().map(|&(_, c)| c).collect()));
    while let Some(&(_, sep)) = chars.get(j) {
        let next_is_digit = chars.get(j + 1).is_some_and(|&(_, c)| c.is_ascii_digit());
        if !next_is_digit {
            break;
        }
        let end = digit_run(j + 1);
        let len = end - (j + 1);
        let ok = match sep {
            ',' | '.' => true,
            '\'' => len == 3,
            s if is_space_sep(s) => {
                len == 3
                    && groups.iter().all(|(s, _)| s.is_none_or(is_space_sep))
                    && groups[0].1.len() <= 3
            }
            _ => false,
        };
        if !ok {
            break;
        }
        groups.push((
            Some(sep),
            chars[j + 1..end].iter().map(|&(_, c)| c).collect(),
        ));
        j = end;
    }
    // Letters glued to the number.
    let mut suffix = String::new();
    while let Some(&(_, c)) = chars.get(j) {
        if c.is_alphabetic() {
            suffix.extend(c.to_lowercase());
            j += 1;
        } else {
            break;
        }
    }
    let followed_by_percent = chars.get(j).is_some_and(|&(_, c)| c == '%');
    let lit = interpret(&groups, &suffix, followed_by_percent);
    (j, lit)
}

/// Decide which separator (if any) is the decimal point and build the value.
fn interpret(groups: &[(Option<char>, String)], suffix: &str, percent: bool) -> NumLit {
    let seps: Vec<char> = groups.iter().filter_map(|(s, _)| *s).collect();
    let count = |c: char| seps.iter().filter(|&&s| s == c).count();
    let (commas, dots) = (count(','), count('.'));
    let last_of = |c: char| groups.iter().rposition(|(s, _)| *s == Some(c));
    let decimal_at: Option<usize> = if commas > 0 && dots > 0 {
        // The later of the two is the decimal separator if it occurs once.
        let (lc, ld) = (last_of(','), last_of('.'));
        let (c, idx) = if ld > lc { ('.', ld) } else { (',', lc) };
        if count(c) == 1 { idx } else { None }
    } else if commas == 1 || dots == 1 {
        let c = if commas == 1 { ',' } else { '.' };
        let idx = last_of(c);
        let after = idx.and_then(|i| groups.get(i)).map_or(0, |(_, g)| g.len());
        let first_len = groups[0].1.len();
        let thousands = after == 3
            && first_len <= 3
            && !(c == '.' && (percent || !suffix.is_empty()))
            && !(c == '.' && groups[0].1 == "0");
        if thousands { None } else { idx }
    } else {
        None
    };
    let mut digits = String::new();
    let mut scale = 0u32;
    for (i, (_, g)) in groups.iter().enumerate() {
        digits.push_str(g);
        if decimal_at.is_some_and(|d| i >= d) {
            scale += u32::try_from(g.len()).unwrap_or(u32::MAX);
        }
    }
    let mant = if digits.len() > 30 {
        None
    } else {
        digits.parse::<i128>().ok()
    };
    let value = match mant {
        Some(m) => Dec { mant: m, scale },
        // Absurdly long digit strings: keep a marker value that no fact will ever equal.
        None => Dec {
            mant: MAX_MANT,
            scale: 0,
        },
    };
    let grouped = groups.len() - 1 > usize::from(decimal_at.is_some());
    NumLit {
        value,
        suffix: suffix.to_string(),
        grouped,
        plain_digits: if groups.len() == 1 {
            groups[0].1.len()
        } else {
            0
        },
    }
}

/// A number written in words, e.g. "twenty five thousand", starting at token `i`.
/// Returns the value and the index after the last token used. "a"/"an" count only before a
/// scale word ("a thousand"); "and" only between number words.
pub(crate) fn number_words(toks: &[Token], i: usize) -> Option<(Dec, usize)> {
    let mut total: i128 = 0;
    let mut current: i128 = 0;
    let mut seen = false;
    let mut j = i;
    let mut end = i;
    while let Some(t) = toks.get(j) {
        let Some(w) = t.word() else {
            // A hyphen between two number words ("twenty-five").
            if seen
                && t.is_symbol('-')
                && toks
                    .get(j + 1)
                    .and_then(Token::word)
                    .is_some_and(|w| small_number(w).is_some())
            {
                j += 1;
                continue;
            }
            break;
        };
        if let Some(v) = small_number(w) {
            current += v;
            seen = true;
        } else if w == "hundred" {
            current = current.max(1) * 100;
            seen = true;
        } else if let Some(s) = scale_word(w) {
            total += current.max(1) * s;
            current = 0;
            seen = true;
        } else if (w == "a" || w == "an") && !seen {
            let next = toks.get(j + 1).and_then(Token::word);
            if !next.is_some_and(|n| n == "hundred" || scale_word(n).is_some()) {
                break;
            }
        } else if w == "and" && seen {
            let next = toks.get(j + 1).and_then(Token::word);
            if next.is_none_or(|n| small_number(n).is_none()) {
                break;
            }
        } else {
            break;
        }
        j += 1;
        if seen {
            end = j;
        }
    }
    seen.then(|| (Dec::int(total + current), end))
}

/// zero..ninety-nine as single words.
pub(crate) fn small_number(w: &str) -> Option<i128> {
    const UNITS: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    if let Some(p) = UNITS.iter().position(|&u| u == w) {
        return i128::try_from(p).ok();
    }
    TENS.iter()
        .position(|&t| t == w)
        .and_then(|p| i128::try_from(p).ok())
        .map(|p| (p + 2) * 10)
}

/// thousand / million / billion.
pub(crate) fn scale_word(w: &str) -> Option<i128> {
    match w {
        "thousand" => Some(1_000),
        "million" => Some(1_000_000),
        "billion" => Some(1_000_000_000),
        _ => None,
    }
}

/// A month name or common abbreviation → 1..=12. "may" is included; callers that care about the
/// modal verb check the context.
pub(crate) fn month_number(w: &str) -> Option<u32> {
    let m = match w {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ => return None,
    };
    Some(m)
}

/// Full English month name.
pub(crate) fn month_name(m: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES
        .get(usize::try_from(m.saturating_sub(1)).unwrap_or(0))
        .copied()
        .unwrap_or("January")
}

/// Does the word-token sequence `phrase` (space separated) start at token `i`?
/// Symbols between words are not skipped; "#" in the phrase matches any number token.
pub(crate) fn phrase_at(toks: &[Token], i: usize, phrase: &str) -> bool {
    phrase.split(' ').enumerate().all(|(k, p)| {
        toks.get(i + k).is_some_and(|t| {
            if p == "#" {
                t.number().is_some()
            } else {
                t.norm == p
            }
        })
    })
}

/// Number of tokens in a phrase.
pub(crate) fn phrase_len(phrase: &str) -> usize {
    phrase.split(' ').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(text: &str) -> NumLit {
        let toks = tokenize(text);
        toks.into_iter()
            .find_map(|t| t.number().cloned())
            .unwrap_or_else(|| panic!("no number in {text}"))
    }

    #[test]
    fn separators() {
        assert_eq!(num("20,000").value.to_minor(), Some(2_000_000));
        assert_eq!(num("1,234.56").value.to_minor(), Some(123_456));
        assert_eq!(num("1.234,56").value.to_minor(), Some(123_456));
        assert_eq!(num("20.000 EUR").value.to_minor(), Some(2_000_000));
        assert_eq!(num("20 000 EUR").value.to_minor(), Some(2_000_000));
        assert_eq!(num("1.5m").value.to_minor(), Some(150));
        assert_eq!(num("1.5m").suffix, "m");
        assert_eq!(
            num("3.5%").value.cmp_value(Dec { mant: 35, scale: 1 }),
            Ordering::Equal
        );
        assert_eq!(
            num("1,5").value.cmp_value(Dec { mant: 15, scale: 1 }),
            Ordering::Equal
        );
        assert_eq!(num("2030").plain_digits, 4);
        assert!(num("1,000,000").grouped);
        assert_eq!(num("1,000,000").value.as_integer(), Some(1_000_000));
    }

    #[test]
    fn words() {
        let toks = tokenize("twenty-five thousand and three hundred euros");
        let (v, end) = number_words(&toks, 0).expect("number");
        assert_eq!(v.as_integer(), Some(25_300));
        assert!(toks[end].is_word("euros"));
        let toks = tokenize("a thousand");
        assert_eq!(
            number_words(&toks, 0).map(|x| x.0.as_integer()),
            Some(Some(1000))
        );
        let toks = tokenize("a car");
        assert!(number_words(&toks, 0).is_none());
    }

    #[test]
    fn spans_survive_unicode() {
        let text = "Ünïcode €1,5 straße";
        for t in tokenize(text) {
            assert!(text.get(t.start..t.end).is_some());
        }
    }
}
