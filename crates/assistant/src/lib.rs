//! The assistant's pure core: understanding a customer message ([`nlu`] intents over sentence
//! embeddings, [`entities`], [`sentiment`]), planning savings goals ([`goal`]: estimates,
//! allocation, Monte Carlo, milestones, an SVG roadmap) and writing the reply ([`language`]:
//! templates, tone, readability and the fact guard that lets no unbacked number, date or product
//! through).
//!
//! **Invariant:** no I/O (the training data is compiled in with `include_str!`), no async, no
//! clock (today's date is a parameter), no database or HTTP; random draws come from a ChaCha RNG
//! with an explicit seed, so the same inputs give the same outputs. Embeddings are computed by
//! the caller (`sextant-embed`) and passed in. Money is `i64` minor units.

pub mod entities;
pub mod goal;
pub mod language;
pub mod nlu;
pub mod sentiment;
mod text;

pub use entities::{Amount, Entities, GoalKind, Period, ProductRef, extract};
pub use goal::{
    Allocation, Assumptions, GoalPlan, GoalProfile, GoalProgress, GoalRequest, Milestone,
    PathPoint, PlanOutcome, plan, progress, roadmap_svg,
};
pub use language::{
    Fact, Facts, LanguageError, TemplateId, Tone, Violation, ViolationKind, format_money, guard,
    render, tone_for,
};
pub use nlu::{Classification, ClassifierConfig, Intent, IntentClassifier, training_examples};
pub use sentiment::{HandoffReason, Sentiment, needs_handoff, rolling, score};
