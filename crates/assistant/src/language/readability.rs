//! Flesch reading ease, to keep messages plain:
//! `206.835 − 1.015 × words/sentences − 84.6 × syllables/words` (60+ is plain English).
//!
//! Heuristics: a sentence ends at `.`, `!` or `?` followed by a space or the end (so "€1,234.56"
//! and "3.5%" do not end sentences); a word is a whitespace-separated piece with a letter or
//! digit; a piece with digits ("€1,234", "57%", "2031") counts as two syllables; other words
//! count vowel groups (a, e, i, o, u, y), minus a silent final "e" (but not "-le"), minus "-es"
//! / "-ed" endings that add no syllable, with at least one per word.

/// Syllables in one word by the vowel-group heuristic.
pub fn syllables(word: &str) -> usize {
    let w: String = word
        .chars()
        .filter(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect();
    if w.is_empty() {
        return 0;
    }
    if w.chars().count() <= 3 {
        return 1;
    }
    let is_vowel = |c: char| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
    let chars: Vec<char> = w.chars().collect();
    let mut groups = 0usize;
    let mut prev = false;
    for &c in &chars {
        let v = is_vowel(c);
        if v && !prev {
            groups += 1;
        }
        prev = v;
    }
    let n = chars.len();
    let last = chars[n - 1];
    let before = chars[n - 2];
    // Silent endings: "make", "plans" are fine; "saved", "takes", "homes".
    if last == 'e' && before != 'l' && !is_vowel(before) {
        groups = groups.saturating_sub(1);
    } else if (w.ends_with("es") || w.ends_with("ed")) && n > 3 {
        let stem_end = chars[n - 3];
        let adds = matches!(stem_end, 't' | 'd') && w.ends_with("ed")
            || matches!(stem_end, 's' | 'x' | 'z' | 'c' | 'g') && w.ends_with("es")
            || w.ends_with("hes");
        if !adds && !is_vowel(stem_end) {
            groups = groups.saturating_sub(1);
        }
    }
    groups.max(1)
}

/// Flesch reading ease of a text (100 for an empty text).
pub fn flesch_reading_ease(text: &str) -> f64 {
    let mut words = 0usize;
    let mut syl = 0usize;
    for piece in text.split_whitespace() {
        if !piece.chars().any(char::is_alphanumeric) {
            continue;
        }
        words += 1;
        syl += if piece.chars().any(|c| c.is_ascii_digit()) {
            2
        } else {
            syllables(piece)
        };
    }
    if words == 0 {
        return 100.0;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut sentences = 0usize;
    for (i, &c) in chars.iter().enumerate() {
        if matches!(c, '.' | '!' | '?') {
            let next = chars.get(i + 1);
            if next.is_none_or(|n| n.is_whitespace()) {
                sentences += 1;
            }
        }
    }
    let sentences = sentences.max(1) as f64;
    let words_f = words as f64;
    206.835 - 1.015 * (words_f / sentences) - 84.6 * (syl as f64 / words_f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllable_heuristic() {
        assert_eq!(syllables("cat"), 1);
        assert_eq!(syllables("save"), 1);
        assert_eq!(syllables("money"), 2);
        assert_eq!(syllables("table"), 2);
        assert_eq!(syllables("probability"), 5);
        assert_eq!(syllables("saved"), 1);
        assert_eq!(syllables("wanted"), 2);
        assert_eq!(syllables("payments"), 2);
    }

    #[test]
    fn plain_beats_dense() {
        let plain = "Save a bit each month. You will reach your goal.";
        let dense = "Consequently, the aforementioned probabilistic simulation methodology \
                     demonstrates considerable uncertainty regarding eventual accumulation.";
        assert!(flesch_reading_ease(plain) > 80.0);
        assert!(flesch_reading_ease(dense) < 20.0);
        assert_eq!(
            flesch_reading_ease("You have €1,234.56 left."),
            flesch_reading_ease("You have €1,234 left.")
        );
    }
}
