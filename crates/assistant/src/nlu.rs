//! Intent classification over sentence embeddings (all-MiniLM-L6-v2 from `sextant-embed`; this
//! crate only receives the vectors, so it stays pure).
//!
//! ## Design
//! 1. **Similarity.** For each intent the score is `knn_weight × mean of the k most similar
//!    training examples + (1 − knn_weight) × similarity to the intent's centroid` (cosine; the
//!    vectors are re-normalised on the way in). The nearest neighbours capture specific phrasings,
//!    the centroid the intent's general direction.
//! 2. **Lexical cues.** A few high-precision phrases add `cue_boost` to their intent: "how much
//!    did I spend", "my balance", "when was my last ...", or a question starting "did/has ..."
//!    about money arriving ("come through", "landed") (spending); "save for", "put aside", "how
//!    much a month", or an amount together with a horizon and no borrowing words (goal);
//!    "recommend", "which ... should I", "should we", "makes sense for me" (recommendation);
//!    "what is the fee", "how do I", "where do I find", "what happens if" (product) — these two
//!    only when the message also contains a banking word (account, card, fee, transfer, ...), so
//!    "how do I make pancakes" stays out of scope; "complain", "speak to a human", "charged
//!    twice", "still isn't", a complaint/urgent flag or compound ≤ −0.5 from
//!    [`crate::sentiment`] (complaint); a message of at most eight words made only of greeting /
//!    thanks / goodbye words (greeting). Contractions typed without an apostrophe ("whats",
//!    "dont") are read as if they had one. [`lexical_cues`] lists the cues that fire.
//! 3. **Decision.** The scores go through a softmax with temperature `temperature`; the top
//!    intent's probability is the confidence, so it grows with the margin over the runner-up.
//!    When the best similarity without cues is below `min_similarity` and no cue fired, or the
//!    text has no letters, the answer is [`Intent::Fallback`] (fallback also has its own
//!    out-of-scope training examples).
//!
//! Training examples live in `data/intent_train.jsonl` (one `{"intent", "text"}` per line,
//! written for Sextant, independent of the evaluation set in `eval/intents.jsonl`).

use crate::sentiment;
use crate::text::{Kind, Token, phrase_at, tokenize};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::OnceLock;

/// What the customer wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    GoalPlanning,
    ProductQuestion,
    SpendingQuestion,
    RecommendationRequest,
    Complaint,
    Greeting,
    Fallback,
}

impl Intent {
    pub const ALL: [Intent; 7] = [
        Intent::GoalPlanning,
        Intent::ProductQuestion,
        Intent::SpendingQuestion,
        Intent::RecommendationRequest,
        Intent::Complaint,
        Intent::Greeting,
        Intent::Fallback,
    ];

    /// The serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::GoalPlanning => "goal_planning",
            Intent::ProductQuestion => "product_question",
            Intent::SpendingQuestion => "spending_question",
            Intent::RecommendationRequest => "recommendation_request",
            Intent::Complaint => "complaint",
            Intent::Greeting => "greeting",
            Intent::Fallback => "fallback",
        }
    }

    fn index(self) -> usize {
        Intent::ALL.iter().position(|&i| i == self).unwrap_or(0)
    }
}

impl std::fmt::Display for Intent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown intent name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown intent `{0}` (expected one of goal_planning, product_question, spending_question, recommendation_request, complaint, greeting, fallback)"
)]
pub struct UnknownIntent(pub String);

impl std::str::FromStr for Intent {
    type Err = UnknownIntent;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Intent::ALL
            .iter()
            .copied()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| UnknownIntent(s.to_string()))
    }
}

const TRAINING_JSONL: &str = include_str!("../data/intent_train.jsonl");

#[derive(Deserialize)]
struct Row<'a> {
    intent: Intent,
    #[serde(borrow)]
    text: Cow<'a, str>,
}

/// A line of the training file that does not parse (reported by [`check_training_data`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data/intent_train.jsonl line {line}: {reason}")]
pub struct TrainingDataError {
    pub line: usize,
    pub reason: String,
}

/// Validate every line of the embedded training file.
pub fn check_training_data() -> Result<usize, Vec<TrainingDataError>> {
    let mut errors = Vec::new();
    let mut n = 0;
    for (i, line) in TRAINING_JSONL.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Row<'_>>(line) {
            Ok(r) if r.text.trim().is_empty() => errors.push(TrainingDataError {
                line: i + 1,
                reason: "empty text".into(),
            }),
            Ok(_) => n += 1,
            Err(e) => errors.push(TrainingDataError {
                line: i + 1,
                reason: e.to_string(),
            }),
        }
    }
    if errors.is_empty() {
        Ok(n)
    } else {
        Err(errors)
    }
}

/// The built-in training examples (lines that fail to parse are skipped; a unit test checks there
/// are none).
pub fn training_examples() -> Vec<(Intent, &'static str)> {
    static EXAMPLES: OnceLock<Vec<(Intent, &'static str)>> = OnceLock::new();
    EXAMPLES
        .get_or_init(|| {
            TRAINING_JSONL
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter_map(|l| serde_json::from_str::<Row<'static>>(l).ok())
                .map(|r| {
                    let text: &'static str = match r.text {
                        Cow::Borrowed(s) => s,
                        // Escaped strings are unescaped once per process and kept for its life.
                        Cow::Owned(s) => Box::leak(s.into_boxed_str()),
                    };
                    (r.intent, text)
                })
                .collect()
        })
        .clone()
}

/// Tunable parameters; [`ClassifierConfig::default`] is what the accuracy test measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    /// Neighbours averaged per intent.
    pub k: usize,
    /// Weight of the k-NN mean against the centroid similarity.
    pub knn_weight: f32,
    /// Added to an intent's score when one of its cues fires.
    pub cue_boost: f32,
    /// Below this best similarity (and with no cue) the answer is Fallback.
    pub min_similarity: f32,
    /// Softmax temperature for the scores and confidence.
    pub temperature: f32,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            k: 3,
            knn_weight: 0.7,
            cue_boost: 0.08,
            min_similarity: 0.3,
            temperature: 0.05,
        }
    }
}

/// The result for one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub intent: Intent,
    /// Softmax probability of `intent` (0..1).
    pub confidence: f32,
    /// Every intent with its probability, best first.
    pub scores: Vec<(Intent, f32)>,
}

/// k-NN + centroid classifier over embedded training examples.
#[derive(Debug, Clone)]
pub struct IntentClassifier {
    examples: Vec<(Intent, Vec<f32>)>,
    centroids: Vec<(Intent, Vec<f32>)>,
    config: ClassifierConfig,
}

fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter().map(|x| x / norm).collect()
    } else {
        vec![0.0; v.len()]
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl IntentClassifier {
    /// Build from embedded training examples with the default configuration.
    pub fn new(examples: Vec<(Intent, Vec<f32>)>) -> Self {
        Self::with_config(examples, ClassifierConfig::default())
    }

    pub fn with_config(examples: Vec<(Intent, Vec<f32>)>, config: ClassifierConfig) -> Self {
        let examples: Vec<(Intent, Vec<f32>)> = examples
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(i, v)| (i, normalized(&v)))
            .collect();
        let dim = examples.first().map_or(0, |(_, v)| v.len());
        let centroids = Intent::ALL
            .iter()
            .filter_map(|&intent| {
                let mut sum = vec![0f32; dim];
                let mut n = 0;
                for (_, v) in examples
                    .iter()
                    .filter(|(i, v)| *i == intent && v.len() == dim)
                {
                    for (s, x) in sum.iter_mut().zip(v) {
                        *s += x;
                    }
                    n += 1;
                }
                (n > 0).then(|| (intent, normalized(&sum)))
            })
            .collect();
        IntentClassifier {
            examples,
            centroids,
            config,
        }
    }

    pub fn config(&self) -> &ClassifierConfig {
        &self.config
    }

    /// Classify `text` whose embedding (same model as the training examples) is `embedding`.
    pub fn classify(&self, text: &str, embedding: &[f32]) -> Classification {
        let q = normalized(embedding);
        let cfg = &self.config;
        // Similarity per intent.
        let mut sims: [Vec<f32>; 7] = Default::default();
        for (intent, v) in &self.examples {
            if v.len() == q.len() {
                sims[intent.index()].push(dot(&q, v));
            }
        }
        let mut base = [f32::NEG_INFINITY; 7];
        for intent in Intent::ALL {
            let s = &mut sims[intent.index()];
            if s.is_empty() {
                continue;
            }
            s.sort_by(|a, b| b.total_cmp(a));
            let k = cfg.k.max(1).min(s.len());
            let knn = s[..k].iter().sum::<f32>() / k as f32;
            let centroid = self
                .centroids
                .iter()
                .find(|(i, _)| *i == intent)
                .map_or(knn, |(_, c)| dot(&q, c));
            base[intent.index()] = cfg.knn_weight * knn + (1.0 - cfg.knn_weight) * centroid;
        }
        let cues = cues(text);
        let mut total = base;
        for intent in Intent::ALL {
            if cues[intent.index()] && total[intent.index()].is_finite() {
                total[intent.index()] += cfg.cue_boost;
            } else if cues[intent.index()] {
                total[intent.index()] = cfg.cue_boost;
            }
        }
        let best_base = base.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let any_cue = cues.iter().any(|&c| c);
        let has_letters = text.chars().any(char::is_alphabetic);
        // NaN-safe: a missing similarity counts as too low.
        let similar_enough = best_base
            .partial_cmp(&cfg.min_similarity)
            .is_some_and(|o| o.is_ge());
        let forced_fallback = !has_letters || (!any_cue && !similar_enough);
        // Softmax.
        let t = cfg.temperature.max(1e-4);
        let max = total.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f32> = total
            .iter()
            .map(|&s| {
                if s.is_finite() && max.is_finite() {
                    ((s - max) / t).exp()
                } else {
                    0.0
                }
            })
            .collect();
        let z: f32 = exps.iter().sum();
        let mut scores: Vec<(Intent, f32)> = Intent::ALL
            .iter()
            .map(|&i| (i, if z > 0.0 { exps[i.index()] / z } else { 0.0 }))
            .collect();
        if forced_fallback {
            for (i, p) in &mut scores {
                *p = if *i == Intent::Fallback { 1.0 } else { 0.0 };
            }
        }
        scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let (intent, confidence) = scores.first().copied().unwrap_or((Intent::Fallback, 0.0));
        Classification {
            intent,
            confidence,
            scores,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lexical cues

/// The intents whose lexical cues fire for `text` (for explanations and debugging).
pub fn lexical_cues(text: &str) -> Vec<Intent> {
    let c = cues(text);
    Intent::ALL
        .iter()
        .copied()
        .filter(|i| c[i.index()])
        .collect()
}

const SPENDING_CUES: &[&str] = &[
    "how much did i spend",
    "how much have i spent",
    "how much do i spend",
    "how much did i pay",
    "how much have i paid",
    "how much did we spend",
    "did i spend",
    "have i spent",
    "i spent",
    "my spending",
    "my spend",
    "my transactions",
    "my balance",
    "my income",
    "my salary",
    "my outgoings",
    "my expenses",
    "my last payment",
    "my biggest",
    "where does my money go",
    "where did my money go",
    "how much came in",
    "how much did i earn",
    "how much money do i have",
    "spent on",
    "spending on",
    "did my salary",
    "when was my",
    "when did i last",
    "my last",
    "my statement",
];

/// "did my refund arrive", "has the transfer come through": a question about the customer's own
/// money moving (spending cue when it starts with one of `ARRIVAL_STARTS`).
const ARRIVAL: &[&str] = &[
    "arrive",
    "arrived",
    "come through",
    "came through",
    "come in",
    "land",
    "landed",
    "cleared",
    "gone through",
    "go through",
    "gone out",
    "go out",
    "been paid",
    "been taken",
    "been credited",
    "show up",
    "shown up",
    "hit my account",
    "reached my account",
];
const ARRIVAL_STARTS: &[&str] = &["did", "has", "have", "is", "was", "when", "where"];

/// Words that place a question in banking; product and recommendation cues need one.
const BANK_TERMS: &[&str] = &[
    "account",
    "accounts",
    "card",
    "cards",
    "loan",
    "loans",
    "mortgage",
    "savings",
    "saver",
    "deposit",
    "transfer",
    "transfers",
    "payment",
    "payments",
    "pay",
    "fee",
    "fees",
    "rate",
    "rates",
    "interest",
    "bank",
    "banking",
    "app",
    "online",
    "iban",
    "pin",
    "statement",
    "statements",
    "overdraft",
    "overdrawn",
    "limit",
    "atm",
    "cash",
    "money",
    "credit",
    "debit",
    "invest",
    "investing",
    "investment",
    "portfolio",
    "fund",
    "funds",
    "insurance",
    "branch",
    "cashback",
    "euro",
    "euros",
    "€",
    "balance",
    "withdrawal",
    "withdraw",
    "borrow",
    "apr",
    "standing",
    "direct",
    "contactless",
    "wallet",
    "iban",
    "swift",
    "bic",
    "currency",
    "exchange",
    "abroad",
    "term",
    "product",
    "products",
    "saving",
    "save",
    "pension",
    "cheque",
    "sepa",
    "giro",
    "portfolio",
];

/// Borrowing words: an amount and a horizon with these is a loan question, not a goal.
const BORROW_TERMS: &[&str] = &[
    "borrow",
    "loan",
    "loans",
    "mortgage",
    "finance",
    "financing",
    "repay",
    "repayment",
    "credit",
];

const GOAL_CUES: &[&str] = &[
    "save for",
    "saving for",
    "save up",
    "saving up",
    "put aside",
    "set aside",
    "savings goal",
    "my goal",
    "saving towards",
    "save towards",
    "how long will it take me to save",
    "how much should i save",
    "how much do i need to save",
    "how much to save",
    "emergency fund",
    "down payment",
    "save enough",
    "how much a month",
    "how much per month",
    "how much each month",
    "how much every month",
    "a month to get",
    "a month to reach",
    "a month to have",
];

const RECOMMEND_CUES: &[&str] = &[
    "recommend",
    "recommendation",
    "suggest",
    "which card should",
    "which account should",
    "which loan should",
    "what should i",
    "should i get",
    "should i open",
    "should i choose",
    "should i take",
    "should i switch",
    "best for me",
    "suit me",
    "suits me",
    "right for me",
    "good for me",
    "which one is better",
    "which is better",
    "better for me",
    "what would you",
    "advise me",
    "your advice",
    "which product",
    "what product",
    "should we",
    "make sense for me",
    "makes sense for me",
    "worth it for me",
    "for someone like me",
    "for my situation",
    "offers for me",
    "deals for me",
];

const PRODUCT_CUES: &[&str] = &[
    "what is the fee",
    "what's the fee",
    "what are the fees",
    "annual fee",
    "interest rate",
    "what is the rate",
    "what's the rate",
    "how do i",
    "how can i",
    "how does the",
    "how does a",
    "do you offer",
    "can i open",
    "how long does it take",
    "what documents",
    "eligible",
    "eligibility",
    "minimum deposit",
    "is there a limit",
    "what is the limit",
    "apply for",
    "requirements",
    "where do i find",
    "where can i find",
    "where can i see",
    "how many days",
    "how long until",
    "what happens if",
    "what if i",
    "is there a fee",
    "is there a charge",
    "do you charge",
];

const COMPLAINT_CUES: &[&str] = &[
    "complain",
    "complaint",
    "speak to a human",
    "talk to a human",
    "speak to a person",
    "talk to a person",
    "speak to someone",
    "talk to someone",
    "speak to a manager",
    "real person",
    "human please",
    "a human",
    "unacceptable",
    "charged twice",
    "double charged",
    "still waiting",
    "ombudsman",
    "worst",
    "ridiculous",
    "disgusting",
    "useless",
    "still isn't",
    "still hasn't",
    "still haven't",
    "still not",
    "still no",
    "still nothing",
    "still waiting",
    "what is going on",
    "what's going on",
    "where is my money",
];

const GREETING_WORDS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "hiya",
    "howdy",
    "yo",
    "greetings",
    "morning",
    "afternoon",
    "evening",
    "good",
    "thanks",
    "thank",
    "you",
    "cheers",
    "ta",
    "bye",
    "goodbye",
    "see",
    "ya",
    "later",
    "cya",
    "ok",
    "okay",
    "great",
    "cool",
    "perfect",
    "that's",
    "it",
    "all",
    "for",
    "now",
    "much",
    "very",
    "so",
    "appreciated",
    "appreciate",
    "night",
    "there",
    "take",
    "care",
    "have",
    "a",
    "nice",
    "day",
    "lovely",
    "awesome",
    "brilliant",
    "helpful",
    "was",
    "that",
    "again",
    "many",
    "thx",
    "ty",
    "bot",
    "assistant",
    "sextant",
    "team",
    "folks",
    "everyone",
    "how",
    "are",
    "doing",
    "what's",
    "up",
    "sup",
    "fine",
    "is",
    "the",
    "weekend",
    "soon",
    "talk",
    "wonderful",
    "amazing",
    "excellent",
    "done",
    "everything",
    "set",
    "lot",
];

const GREETING_CORE: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "hiya",
    "howdy",
    "yo",
    "greetings",
    "morning",
    "afternoon",
    "evening",
    "thanks",
    "thank",
    "cheers",
    "ta",
    "bye",
    "goodbye",
    "cya",
    "thx",
    "ty",
    "night",
];

fn any_phrase(words: &[Token], phrases: &[&str]) -> bool {
    (0..words.len()).any(|i| phrases.iter().any(|p| phrase_at(words, i, p)))
}

/// Classification has no "today": the amount-and-horizon cue only needs to know that a horizon
/// is present, for which any fixed date before the years customers name will do.
fn cue_reference_date() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

/// Which intents' cues fire, indexed like [`Intent::ALL`].
fn cues(text: &str) -> [bool; 7] {
    let words: Vec<Token> = tokenize(text)
        .into_iter()
        .filter(|t| matches!(t.kind, Kind::Word | Kind::Number(_)))
        .map(|mut t| {
            // "i'm" → "i'm", "I" → "i"; straight apostrophes already.
            t.norm = t.norm.replace('’', "'");
            t
        })
        .collect();
    let mut out = [false; 7];
    let has = |list: &[&str]| words.iter().any(|t| list.contains(&t.norm.as_str()));
    let banking = has(BANK_TERMS);
    let arrival = words
        .first()
        .is_some_and(|t| ARRIVAL_STARTS.contains(&t.norm.as_str()))
        && any_phrase(&words, ARRIVAL);
    out[Intent::SpendingQuestion.index()] = any_phrase(&words, SPENDING_CUES) || arrival;
    let e = crate::entities::extract(text, cue_reference_date(), &[]);
    let amount_and_horizon =
        !e.amounts.is_empty() && e.horizon_months.is_some() && !has(BORROW_TERMS);
    out[Intent::GoalPlanning.index()] = any_phrase(&words, GOAL_CUES) || amount_and_horizon;
    out[Intent::RecommendationRequest.index()] = banking && any_phrase(&words, RECOMMEND_CUES);
    out[Intent::ProductQuestion.index()] = banking && any_phrase(&words, PRODUCT_CUES);
    let s = sentiment::score(text);
    out[Intent::Complaint.index()] =
        any_phrase(&words, COMPLAINT_CUES) || s.complaint || s.urgent || s.compound <= -0.5;
    out[Intent::Greeting.index()] = !words.is_empty()
        && words.len() <= 8
        && words
            .iter()
            .all(|t| GREETING_WORDS.contains(&t.norm.as_str()))
        && words
            .iter()
            .any(|t| GREETING_CORE.contains(&t.norm.as_str()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_file_is_valid_and_balanced() {
        let n = check_training_data().unwrap_or_else(|e| panic!("{e:?}"));
        let ex = training_examples();
        assert_eq!(ex.len(), n);
        for intent in Intent::ALL {
            let count = ex.iter().filter(|(i, _)| *i == intent).count();
            assert!(count >= 25, "{intent}: only {count} examples");
        }
        let mut texts: Vec<String> = ex.iter().map(|(_, t)| t.to_lowercase()).collect();
        texts.sort();
        let before = texts.len();
        texts.dedup();
        assert_eq!(before, texts.len(), "duplicate training texts");
    }

    #[test]
    fn serde_names() {
        for i in Intent::ALL {
            let json = serde_json::to_string(&i).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", i.as_str()));
            assert_eq!(i.as_str().parse::<Intent>(), Ok(i));
        }
        assert!("nope".parse::<Intent>().is_err());
    }

    /// Toy 3-d embeddings: the classifier logic without the model.
    fn toy() -> IntentClassifier {
        IntentClassifier::new(vec![
            (Intent::GoalPlanning, vec![1.0, 0.0, 0.0]),
            (Intent::GoalPlanning, vec![0.9, 0.1, 0.0]),
            (Intent::SpendingQuestion, vec![0.0, 1.0, 0.0]),
            (Intent::SpendingQuestion, vec![0.1, 0.9, 0.0]),
            (Intent::Fallback, vec![0.0, 0.0, 1.0]),
        ])
    }

    #[test]
    fn nearest_intent_wins_and_confidence_tracks_margin() {
        let c = toy();
        let clear = c.classify("plan", &[1.0, 0.05, 0.0]);
        assert_eq!(clear.intent, Intent::GoalPlanning);
        let unclear = c.classify("plan", &[0.7, 0.65, 0.0]);
        assert!(clear.confidence > unclear.confidence);
        let sum: f32 = clear.scores.iter().map(|(_, p)| p).sum();
        assert!((sum - 1.0).abs() < 1e-4);
    }

    #[test]
    fn cues_tip_the_balance() {
        let c = toy();
        let v = [0.7, 0.7, 0.0];
        assert_eq!(
            c.classify("how much did I spend", &v).intent,
            Intent::SpendingQuestion
        );
        assert_eq!(
            c.classify("I want to save for it", &v).intent,
            Intent::GoalPlanning
        );
    }

    #[test]
    fn low_similarity_or_no_letters_is_fallback() {
        let c = toy();
        assert_eq!(
            c.classify("zzz", &[-1.0, -1.0, 0.0]).intent,
            Intent::Fallback
        );
        assert_eq!(
            c.classify("12345 !!!", &[1.0, 0.0, 0.0]).intent,
            Intent::Fallback
        );
        assert_eq!(c.classify("", &[]).intent, Intent::Fallback);
    }

    #[test]
    fn greeting_cue_only_for_pure_greetings() {
        assert!(cues("hi there!")[Intent::Greeting.index()]);
        assert!(
            cues("thanks a lot")[Intent::Greeting.index()]
                || cues("thank you so much")[Intent::Greeting.index()]
        );
        assert!(!cues("hi, how much did I spend on food?")[Intent::Greeting.index()]);
    }
}
