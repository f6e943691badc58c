//! Sentiment of a customer message: VADER (the `vader_sentiment` crate) extended with a banking
//! lexicon, plus two flags — `complaint` (the customer complains or asks for a person) and
//! `urgent` (fraud, theft, a lost card) — and the hand-off decision.
//!
//! ## Combining VADER with the banking lexicon
//! VADER's compound is `x / √(x² + 15)` of a raw valence sum `x`. We invert that to recover `x`,
//! add the valences of the banking phrases found (e.g. "charged twice" −2.0, "still waiting"
//! −2.0, "declined" −1.5, "hidden fees" −1.8, "ombudsman" −2.0; a phrase preceded within three
//! words by a negation — "no hidden fees" — is flipped and damped by VADER's factor −0.74), and
//! normalise again with the same formula. Banking words VADER reads as sentiment but which are
//! neutral here ("interest", "save", "credit", "risk", "emergency fund") have VADER's own valence
//! taken out the same way, and "no" loses its negative valence when it negates a banking
//! problem ("no hidden fees" is good news). The positive/negative/neutral proportions are VADER's
//! re-weighted approximately: each banking hit adds `|valence| + 1` to its side's mass (VADER's
//! own rule), taking the phrase's words out of the neutral mass, with the word count as the
//! total. Outputs are rounded to 4 decimals (VADER iterates hash maps, so the last bits could
//! otherwise vary between runs). Texts are scored on their first 4,000 characters.
//!
//! ## Flags and hand-off
//! `complaint`: a complaint cue ("complaint", "unacceptable", "speak to a human", "worst",
//! "charged twice", "still waiting", ...), or compound ≤ −0.35 together with a banking problem
//! phrase (a problem reported with a negative tone counts as a complaint). `urgent`: fraud,
//! theft, scams, unauthorised payments, hacking, a lost or stolen card, "urgent", "it's an
//! emergency" — unless the word follows "against", "prevent", "protect(ion)" or "avoid" within
//! three words (a question about protection is not an emergency). [`needs_handoff`] gives, in this order: `Urgent`,
//! `Complaint` (complaint intent or flag), `StronglyNegative` (compound ≤ −0.6).

use crate::nlu::Intent;
use crate::text::{Kind, Token, phrase_at, phrase_len, tokenize};
use serde::{Deserialize, Serialize};

/// Scores for one message.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// −1 (most negative) to 1.
    pub compound: f64,
    pub positive: f64,
    pub negative: f64,
    pub neutral: f64,
    pub complaint: bool,
    pub urgent: bool,
}

/// Why a person should take over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    Complaint,
    StronglyNegative,
    Urgent,
}

/// Weight of the newest message in the rolling sentiment.
pub const ROLLING_WEIGHT: f64 = 0.4;
const MAX_CHARS: usize = 4_000;
const ALPHA: f64 = 15.0;
const NEGATION_SCALAR: f64 = -0.74;

/// Banking phrases VADER does not know (or under-weights), with their valence.
const BANKING: &[(&str, f64)] = &[
    ("charged twice", -2.0),
    ("charged me twice", -2.0),
    ("double charged", -2.0),
    ("charged double", -2.0),
    ("declined", -1.5),
    ("rejected", -1.0),
    ("blocked", -0.6),
    ("frozen", -1.2),
    ("locked out", -1.5),
    ("scammed", -2.5),
    ("unauthorised", -2.0),
    ("unauthorized", -2.0),
    ("phishing", -2.0),
    ("identity theft", -2.5),
    ("don't recognise", -1.5),
    ("don't recognize", -1.5),
    ("didn't make", -1.2),
    ("did not make", -1.2),
    ("overdraft", -0.6),
    ("overdrawn", -1.2),
    ("fees", -0.6),
    ("fee", -0.4),
    ("hidden fees", -1.8),
    ("hidden charges", -1.8),
    ("late fee", -1.2),
    ("still waiting", -2.0),
    ("still not", -1.2),
    ("still no", -1.2),
    ("still haven't", -1.5),
    ("still hasn't", -1.5),
    ("still isn't", -1.5),
    ("still nothing", -1.5),
    ("what is going on", -1.0),
    ("what's going on", -1.0),
    ("no response", -1.5),
    ("no reply", -1.5),
    ("no answer", -1.2),
    ("on hold", -1.0),
    ("worst bank", -1.0),
    ("ombudsman", -2.0),
    ("rip off", -2.5),
    ("ripoff", -2.5),
    ("not working", -1.5),
    ("doesn't work", -1.5),
    ("does not work", -1.5),
    ("isn't working", -1.5),
    ("won't let me", -1.2),
    ("can't log in", -1.5),
    ("cannot log in", -1.5),
    ("can't access", -1.5),
    ("crashing", -1.5),
    ("crashes", -1.3),
    ("missing", -1.0),
    ("disappeared", -1.5),
    ("lost my card", -1.5),
    ("bounced", -1.2),
    ("debt collector", -1.5),
    ("debt collectors", -1.5),
    ("compensation", -0.8),
    ("close my account", -1.2),
    ("cancel my account", -1.2),
    ("switch banks", -1.0),
    ("switching banks", -1.0),
    ("waste of time", -2.0),
    ("taking forever", -1.5),
    ("takes forever", -1.5),
    ("sorted it", 1.2),
    ("resolved", 1.0),
];

/// Banking words VADER reads as sentiment but which are neutral here ("interest rate", "save",
/// "credit card", "emergency fund", "low risk"), with VADER's own valence for them (lexicon of
/// vader_sentiment 0.1.1; a unit test checks the values). Their contribution is taken out.
const NEUTRALISE: &[(&str, f64)] = &[
    ("interest", 2.0),
    ("save", 2.2),
    ("saved", 1.8),
    ("credit", 1.6),
    ("growth", 1.6),
    ("security", 1.4),
    ("share", 1.2),
    ("shares", 1.2),
    ("risk", -1.1),
    ("risky", -0.8),
    ("emergency fund", -1.6),
    ("emergency savings", -1.6),
    ("emergency pot", -1.6),
];

/// VADER's valence of "no", taken out when "no" negates a banking problem ("no hidden fees").
const VADER_NO: f64 = -1.2;

const COMPLAINT_CUES: &[&str] = &[
    "complain",
    "complaint",
    "complaints",
    "complaining",
    "unacceptable",
    "ombudsman",
    "speak to a manager",
    "talk to a manager",
    "speak to a human",
    "talk to a human",
    "speak to a person",
    "talk to a person",
    "speak to someone",
    "real person",
    "human being",
    "worst",
    "ridiculous",
    "disgusting",
    "disgraceful",
    "disgrace",
    "appalling",
    "shocking",
    "terrible service",
    "awful service",
    "poor service",
    "rip off",
    "ripoff",
    "still waiting",
    "charged twice",
    "charged me twice",
    "double charged",
    "refund me",
    "never again",
    "useless",
    "incompetent",
    "fed up",
    "sick of",
    "had enough",
    "waste of time",
    "not good enough",
    "furious",
    "how dare",
];

const URGENT_CUES: &[&str] = &[
    "fraud",
    "fraudulent",
    "stolen",
    "stole",
    "scam",
    "scammed",
    "scammer",
    "unauthorised",
    "unauthorized",
    "hacked",
    "phishing",
    "identity theft",
    "don't recognise",
    "don't recognize",
    "didn't make this",
    "did not make this",
    "lost my card",
    "lost my wallet",
    "lost my phone",
    "someone used my",
    "someone has used my",
    "someone took",
    "is an emergency",
    "it's an emergency",
    "urgent",
    "urgently",
];

const NOT_URGENT_BEFORE: &[&str] = &[
    "against",
    "prevent",
    "protect",
    "protection",
    "avoid",
    "protected",
];

fn is_negator(w: &str) -> bool {
    matches!(
        w,
        "not" | "no" | "never" | "without" | "nothing" | "none" | "cannot" | "zero"
    ) || w.ends_with("n't")
}

fn round4(x: f64) -> f64 {
    if x.is_finite() {
        (x * 10_000.0).round() / 10_000.0
    } else {
        0.0
    }
}

/// Word tokens only (symbols dropped), so "rip-off" matches "rip off".
fn words(text: &str) -> Vec<Token> {
    tokenize(text)
        .into_iter()
        .filter(|t| !matches!(t.kind, Kind::Symbol(_)))
        .collect()
}

fn find_all(words: &[Token], phrases: &[&str]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut sorted: Vec<&&str> = phrases.iter().collect();
    sorted.sort_by_key(|p| std::cmp::Reverse(phrase_len(p)));
    let mut i = 0;
    while i < words.len() {
        match sorted.iter().find(|p| phrase_at(words, i, p)) {
            Some(p) => {
                out.push((i, phrase_len(p)));
                i += phrase_len(p);
            }
            None => i += 1,
        }
    }
    out
}

/// Score a message.
pub fn score(text: &str) -> Sentiment {
    let text = match text.char_indices().nth(MAX_CHARS) {
        Some((b, _)) => &text[..b],
        None => text,
    };
    let analyzer = vader_sentiment::SentimentIntensityAnalyzer::new();
    let v = analyzer.polarity_scores(text);
    let get = |k: &str| v.get(k).copied().filter(|x| x.is_finite()).unwrap_or(0.0);
    let (c, pos, neg, neu) = (get("compound"), get("pos"), get("neg"), get("neu"));
    let words = words(text);
    // Banking valences (flipped when negated) and neutralised VADER words.
    let mut extra = 0.0;
    let n_words = words.len().max(1) as f64;
    let (mut pos_m, mut neg_m, mut neu_m) = (pos * n_words, neg * n_words, neu * n_words);
    let table: Vec<&str> = BANKING.iter().chain(NEUTRALISE).map(|(p, _)| *p).collect();
    let hits = find_all(&words, &table);
    let mut problem = false;
    for &(i, len) in &hits {
        let lookup = |t: &'static [(&'static str, f64)]| {
            t.iter()
                .find(|(p, _)| phrase_len(p) == len && phrase_at(&words, i, p))
                .map(|&(_, v)| v)
        };
        let negator = (i.saturating_sub(3)..i).find(|&k| is_negator(&words[k].norm));
        if let Some(mut val) = lookup(BANKING) {
            if let Some(k) = negator {
                val *= NEGATION_SCALAR;
                if words[k].norm == "no" && val > 0.0 {
                    extra -= VADER_NO;
                }
            }
            problem |= val < 0.0;
            extra += val;
            neu_m = (neu_m - len as f64).max(0.0);
            if val > 0.0 {
                pos_m += val + 1.0;
            } else {
                neg_m += -val + 1.0;
            }
        } else if let Some(vader) = lookup(NEUTRALISE) {
            let contributed = if negator.is_some() {
                vader * NEGATION_SCALAR
            } else {
                vader
            };
            extra -= contributed;
            if contributed > 0.0 {
                pos_m = (pos_m - contributed - 1.0).max(0.0);
            } else {
                neg_m = (neg_m + contributed - 1.0).max(0.0);
            }
            neu_m += len as f64;
        }
    }
    let c0 = c.clamp(-0.9999, 0.9999);
    let raw = c0 * (ALPHA / (1.0 - c0 * c0)).sqrt() + extra;
    let compound = if hits.is_empty() {
        c
    } else {
        raw / (raw * raw + ALPHA).sqrt()
    };
    let total = pos_m + neg_m + neu_m;
    let (positive, negative, neutral) = if hits.is_empty() || total <= 0.0 {
        (pos, neg, neu)
    } else {
        (pos_m / total, neg_m / total, neu_m / total)
    };
    let complaint = !find_all(&words, COMPLAINT_CUES).is_empty() || (compound <= -0.35 && problem);
    let urgent = find_all(&words, URGENT_CUES).iter().any(|&(i, _)| {
        !(i.saturating_sub(3)..i).any(|k| NOT_URGENT_BEFORE.contains(&words[k].norm.as_str()))
    });
    Sentiment {
        compound: round4(compound.clamp(-1.0, 1.0)),
        positive: round4(positive),
        negative: round4(negative),
        neutral: round4(neutral),
        complaint,
        urgent,
    }
}

/// Exponential moving average of the conversation's sentiment: the newest message weighs
/// [`ROLLING_WEIGHT`] (0.4), the history 0.6. The first message is taken as is; non-finite
/// values are ignored; the result stays in [−1, 1].
pub fn rolling(previous: Option<f64>, new: f64) -> f64 {
    let prev = previous.filter(|p| p.is_finite());
    let out = match (prev, new.is_finite()) {
        (Some(p), true) => (1.0 - ROLLING_WEIGHT) * p + ROLLING_WEIGHT * new,
        (Some(p), false) => p,
        (None, true) => new,
        (None, false) => 0.0,
    };
    out.clamp(-1.0, 1.0)
}

/// Should a person take over? See the module docs for the order.
pub fn needs_handoff(s: &Sentiment, intent: Intent) -> Option<HandoffReason> {
    if s.urgent {
        Some(HandoffReason::Urgent)
    } else if intent == Intent::Complaint || s.complaint {
        Some(HandoffReason::Complaint)
    } else if s.compound <= -0.6 {
        Some(HandoffReason::StronglyNegative)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, expected sign: -1, 0 or 1, complaint flag)
    const CASES: &[(&str, i8, bool)] = &[
        ("I was charged twice for the same purchase", -1, true),
        (
            "My card keeps getting declined at the supermarket",
            -1,
            true,
        ),
        ("This is the worst bank I have ever used", -1, true),
        (
            "I'm still waiting for my refund after three weeks",
            -1,
            true,
        ),
        ("Your hidden fees are a rip-off", -1, true),
        ("I will take this to the ombudsman", -1, true),
        (
            "My account has been blocked and nobody will tell me why",
            -1,
            true,
        ),
        ("The app is not working again", -1, true),
        ("I want to speak to a human right now", 0, true),
        ("Thanks, that was really helpful!", 1, false),
        ("Great, the transfer went through quickly", 1, false),
        ("I love the new savings feature", 1, false),
        ("What is the interest rate on the Goal Saver?", 0, false),
        ("How much did I spend on groceries last month?", 0, false),
        ("Good morning", 1, false),
        ("No hidden fees is exactly what I wanted", 1, false),
        ("The overdraft fees are ridiculous", -1, true),
        (
            "Someone used my card, I don't recognise these payments",
            -1,
            true,
        ),
        (
            "I'm so frustrated, the app crashes every time I log in",
            -1,
            true,
        ),
        ("I want to build an emergency fund with low risk", 0, false),
        ("Can I save on interest with a credit card?", 0, false),
        ("Perfect, problem resolved, thank you", 1, false),
    ];

    #[test]
    fn banking_sentences_have_the_expected_sign_and_flag() {
        for &(text, sign, complaint) in CASES {
            let s = score(text);
            match sign {
                1 => assert!(s.compound > 0.05, "{text}: {s:?}"),
                -1 => assert!(s.compound < -0.05, "{text}: {s:?}"),
                _ => assert!(s.compound.abs() <= 0.35, "{text}: {s:?}"),
            }
            assert_eq!(s.complaint, complaint, "{text}: {s:?}");
            let sum = s.positive + s.negative + s.neutral;
            assert!(sum == 0.0 || (sum - 1.0).abs() < 0.01, "{text}: {s:?}");
        }
    }

    #[test]
    fn banking_lexicon_moves_vader() {
        // VADER alone sees nothing negative in "declined".
        let analyzer = vader_sentiment::SentimentIntensityAnalyzer::new();
        let plain = analyzer.polarity_scores("my payment was declined");
        assert!(plain.get("compound").copied().unwrap_or(0.0) > -0.05);
        assert!(score("my payment was declined").compound < -0.2);
    }

    #[test]
    fn neutralised_values_match_vader_lexicon() {
        for &(word, valence) in NEUTRALISE.iter().chain([("no", VADER_NO)].iter()) {
            let head = word.split(' ').next().unwrap_or(word);
            let found = vader_sentiment::LEXICON
                .iter()
                .find(|(k, _)| {
                    let k: &str = k.as_ref();
                    k == head
                })
                .map(|(_, v)| *v);
            assert_eq!(found, Some(valence), "{word}");
        }
    }

    #[test]
    fn urgent_flags() {
        assert!(score("My card was stolen last night").urgent);
        assert!(score("there are unauthorised payments on my account").urgent);
        assert!(score("I think I've been scammed").urgent);
        assert!(!score("How do you protect me against fraud?").urgent);
        assert!(!score("What is the rate on the Goal Saver?").urgent);
        assert!(!score("help me build an emergency fund").urgent);
    }

    #[test]
    fn handoff_order() {
        let s = score("My card was stolen and this is unacceptable");
        assert_eq!(
            needs_handoff(&s, Intent::Complaint),
            Some(HandoffReason::Urgent)
        );
        let s = score("hello");
        assert_eq!(
            needs_handoff(&s, Intent::Complaint),
            Some(HandoffReason::Complaint)
        );
        assert_eq!(needs_handoff(&s, Intent::Greeting), None);
        let s = Sentiment {
            compound: -0.7,
            positive: 0.0,
            negative: 1.0,
            neutral: 0.0,
            complaint: false,
            urgent: false,
        };
        assert_eq!(
            needs_handoff(&s, Intent::SpendingQuestion),
            Some(HandoffReason::StronglyNegative)
        );
    }

    #[test]
    fn rolling_average() {
        assert_eq!(rolling(None, -0.5), -0.5);
        assert!((rolling(Some(0.5), -0.5) - 0.1).abs() < 1e-12);
        assert_eq!(rolling(Some(0.2), f64::NAN), 0.2);
        assert_eq!(rolling(Some(f64::NAN), 0.3), 0.3);
    }

    #[test]
    fn odd_input_does_not_panic() {
        for t in [
            "",
            " ",
            "!!!",
            "😡😡",
            "a",
            &"no ".repeat(5000),
            "NOT GOOD!!!",
        ] {
            let s = score(t);
            assert!((-1.0..=1.0).contains(&s.compound));
        }
    }
}
