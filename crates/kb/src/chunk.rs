//! Splitting a document into passages: the unit that is indexed, embedded and returned.
//!
//! A passage never crosses a heading, so each carries the heading path it sits under
//! (`"Goal Saver > Example"`). Within a section, blocks (paragraphs, lists, tables, code fences —
//! anything between blank lines) are packed greedily up to [`MAX_WORDS`] words. A block that is
//! itself too long is cut into units: list items or table rows for lists and tables, sentences
//! for prose, and as a last resort runs of whole words. A passage is therefore at most
//! [`MAX_WORDS`] whitespace-separated words and never splits a word.
//!
//! 120 words (about 160 word pieces plus the title and heading) stays well inside the 256 word
//! pieces MiniLM reads, and is short enough that one passage is about one thing, which is what
//! both BM25 length normalisation and a single sentence embedding reward.

use crate::Document;

/// The most whitespace-separated words in one passage's text.
pub const MAX_WORDS: usize = 120;

/// A retrievable piece of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// The document's id.
    pub doc_id: String,
    /// The document's title.
    pub title: String,
    /// The heading path, e.g. `"Savings > Goal Saver"`; a level-1 heading equal to the title is
    /// left out (it says nothing the title does not), so text right under it has `""`.
    pub section: String,
    /// The passage's Markdown.
    pub text: String,
    /// 0-based position within the document.
    pub ordinal: u32,
}

/// Split `doc` into passages of at most [`MAX_WORDS`] words.
pub fn chunk(doc: &Document) -> Vec<Passage> {
    chunk_with_limit(doc, MAX_WORDS)
}

/// [`chunk`] with another word limit (at least 1).
pub fn chunk_with_limit(doc: &Document, max_words: usize) -> Vec<Passage> {
    let max_words = max_words.max(1);
    let mut out = Vec::new();
    for section in sections(doc) {
        let mut packer = Packer {
            max_words,
            text: String::new(),
            words: 0,
            done: Vec::new(),
        };
        for block in &section.blocks {
            for (i, unit) in units(block, max_words).into_iter().enumerate() {
                let joiner = if i == 0 { "\n\n" } else { unit.joiner };
                packer.push(&unit.text, unit.words, joiner);
            }
        }
        packer.flush();
        for text in packer.done {
            out.push(Passage {
                doc_id: doc.id.clone(),
                title: doc.title.clone(),
                section: section.path.clone(),
                text,
                ordinal: u32::try_from(out.len()).unwrap_or(u32::MAX),
            });
        }
    }
    out
}

/// Number of whitespace-separated words.
pub(crate) fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

struct Section<'a> {
    path: String,
    blocks: Vec<Vec<&'a str>>,
}

fn end_block<'a>(block: &mut Vec<&'a str>, out: &mut [Section<'a>]) {
    if !block.is_empty()
        && let Some(s) = out.last_mut()
    {
        s.blocks.push(std::mem::take(block));
    }
}

/// Headings (outside code fences) start sections; blank lines (outside fences) separate blocks.
fn sections(doc: &Document) -> Vec<Section<'_>> {
    let mut out = vec![Section {
        path: String::new(),
        blocks: Vec::new(),
    }];
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    let mut fence: Option<&str> = None;
    for line in doc.body.lines() {
        let trimmed = line.trim_start();
        if let Some(marker) = fence {
            block.push(line);
            if trimmed.starts_with(marker) {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
            block.push(line);
            continue;
        }
        if let Some((level, text)) = heading(line) {
            end_block(&mut block, &mut out);
            while stack.last().is_some_and(|(l, _)| *l >= level) {
                stack.pop();
            }
            stack.push((level, text.to_string()));
            let path: Vec<&str> = stack
                .iter()
                .filter(|(l, t)| !(*l == 1 && t.eq_ignore_ascii_case(doc.title.trim())))
                .map(|(_, t)| t.as_str())
                .collect();
            out.push(Section {
                path: path.join(" > "),
                blocks: Vec::new(),
            });
            continue;
        }
        if line.trim().is_empty() {
            end_block(&mut block, &mut out);
        } else {
            block.push(line);
        }
    }
    end_block(&mut block, &mut out);
    out
}

/// An ATX heading: 1–6 `#`, a space, text (trailing `#`s dropped). Up to 3 spaces of indent.
fn heading(line: &str) -> Option<(usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.len() - rest.trim_start_matches('#').len();
    if !(1..=6).contains(&level) {
        return None;
    }
    let text = &rest[level..];
    if !text.is_empty() && !text.starts_with([' ', '\t']) {
        return None;
    }
    let text = text.trim().trim_end_matches('#').trim_end();
    (!text.is_empty()).then_some((level, text))
}

struct Unit {
    text: String,
    words: usize,
    /// How this unit joins the previous unit of the same block inside one passage.
    joiner: &'static str,
}

/// A block as one unit if it fits, else cut into items/rows, sentences, or word runs.
fn units(block: &[&str], max_words: usize) -> Vec<Unit> {
    let text = block.join("\n");
    let words = word_count(&text);
    if words <= max_words {
        return vec![Unit {
            text,
            words,
            joiner: "\n\n",
        }];
    }
    if block.first().is_some_and(|l| is_item_start(l)) {
        let mut items: Vec<String> = Vec::new();
        for line in block {
            match items.last_mut() {
                Some(item) if !is_item_start(line) => {
                    item.push('\n');
                    item.push_str(line);
                }
                _ => items.push((*line).to_string()),
            }
        }
        let mut out = Vec::new();
        for item in items {
            let words = word_count(&item);
            if words <= max_words {
                out.push(Unit {
                    text: item,
                    words,
                    joiner: "\n",
                });
            } else {
                // An over-long item: its first piece starts a new line, the rest continue it.
                for (i, mut u) in prose_units(&item, max_words).into_iter().enumerate() {
                    if i == 0 {
                        u.joiner = "\n";
                    }
                    out.push(u);
                }
            }
        }
        return out;
    }
    prose_units(&text, max_words)
}

fn is_item_start(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with('|') || t.starts_with("- ") || t.starts_with("* ") || t.starts_with("+ ") {
        return true;
    }
    let digits = t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    digits > 0 && (t[digits..].starts_with(". ") || t[digits..].starts_with(") "))
}

/// Sentences, each cut into runs of at most `max_words` words if needed, joined by spaces.
fn prose_units(text: &str, max_words: usize) -> Vec<Unit> {
    let mut out = Vec::new();
    let mut sentence: Vec<&str> = Vec::new();
    let mut emit = |sentence: &mut Vec<&str>| {
        for run in sentence.chunks(max_words) {
            out.push(Unit {
                text: run.join(" "),
                words: run.len(),
                joiner: " ",
            });
        }
        sentence.clear();
    };
    for word in text.split_whitespace() {
        sentence.push(word);
        if ends_sentence(word) {
            emit(&mut sentence);
        }
    }
    emit(&mut sentence);
    out
}

/// A word ending in `.`, `!` or `?`, possibly followed by closing quotes, brackets or emphasis.
fn ends_sentence(word: &str) -> bool {
    let core = word.trim_end_matches(['"', '\'', ')', ']', '*', '_', '\u{201d}', '\u{2019}']);
    core.ends_with(['.', '!', '?'])
}

struct Packer {
    max_words: usize,
    text: String,
    words: usize,
    done: Vec<String>,
}

impl Packer {
    fn push(&mut self, unit: &str, words: usize, joiner: &str) {
        if self.words > 0 && self.words + words > self.max_words {
            self.flush();
        }
        if !self.text.is_empty() {
            self.text.push_str(joiner);
        }
        self.text.push_str(unit);
        self.words += words;
    }

    fn flush(&mut self) {
        let text = self.text.trim();
        if !text.is_empty() {
            self.done.push(text.to_string());
        }
        self.text.clear();
        self.words = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(body: &str) -> Document {
        Document {
            id: "d".into(),
            title: "Savings".into(),
            tags: vec![],
            body: body.into(),
        }
    }

    fn words_of(body: &str) -> Vec<String> {
        body.lines()
            .filter(|l| heading(l).is_none())
            .flat_map(|l| l.split_whitespace())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn keeps_heading_paths_and_skips_the_title_heading() {
        let d = doc(
            "# Savings\n\nIntro.\n\n## Goal Saver\n\nPots.\n\n### Example\n\nEUR 3,000.\n\n## Easy Access\n\nAny time.\n",
        );
        let p = chunk(&d);
        let got: Vec<(&str, &str)> = p
            .iter()
            .map(|p| (p.section.as_str(), p.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("", "Intro."),
                ("Goal Saver", "Pots."),
                ("Goal Saver > Example", "EUR 3,000."),
                ("Easy Access", "Any time.")
            ]
        );
        assert_eq!(
            p.iter().map(|p| p.ordinal).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert!(p.iter().all(|p| p.doc_id == "d" && p.title == "Savings"));
    }

    #[test]
    fn headings_in_code_fences_are_text() {
        let d = doc("## A\n\n```\n# not a heading\n\nstill code\n```\n");
        let p = chunk(&d);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].section, "A");
        assert!(p[0].text.contains("# not a heading\n\nstill code"));
    }

    #[test]
    fn never_exceeds_the_limit_and_never_splits_a_word() {
        // Prose with sentences of varied length, one run-on sentence, a long list and a table.
        let mut body = String::from("# Savings\n\n## Long\n\n");
        for i in 0..40 {
            body.push_str(&format!(
                "Sentence number {i} has {} words in it. ",
                3 + i % 9
            ));
        }
        body.push_str("\n\n");
        body.push_str(&"runon ".repeat(300));
        body.push_str("\n\n");
        for i in 0..60 {
            body.push_str(&format!("- item {i} with a few words\n"));
        }
        body.push_str("\n| a | b |\n|---|---|\n");
        for i in 0..50 {
            body.push_str(&format!("| row {i} | value {i} |\n"));
        }
        let d = doc(&body);
        for limit in [1, 7, 50, MAX_WORDS] {
            let passages = chunk_with_limit(&d, limit);
            for p in &passages {
                let n = word_count(&p.text);
                assert!(n <= limit && n > 0, "{n} words > {limit}: {:?}", p.text);
                assert_eq!(p.section, "Long");
            }
            let got: Vec<String> = passages
                .iter()
                .flat_map(|p| {
                    p.text
                        .split_whitespace()
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(
                got,
                words_of(&body),
                "limit {limit}: words lost, split or reordered"
            );
        }
    }

    #[test]
    fn small_blocks_are_packed_and_long_prose_splits_at_sentences() {
        let d = doc("## S\n\nOne two.\n\nThree four.\n");
        let p = chunk(&d);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].text, "One two.\n\nThree four.");

        let d = doc("## S\n\nAa bb cc. Dd ee ff. Gg hh ii.\n");
        let p = chunk_with_limit(&d, 7);
        let texts: Vec<&str> = p.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["Aa bb cc. Dd ee ff.", "Gg hh ii."]);
    }

    #[test]
    fn heading_syntax() {
        assert_eq!(heading("## Goal Saver ##"), Some((2, "Goal Saver")));
        assert_eq!(heading("   # x"), Some((1, "x")));
        assert_eq!(heading("#hashtag"), None);
        assert_eq!(heading("####### seven"), None);
        assert_eq!(heading("    # indented code"), None);
    }
}
