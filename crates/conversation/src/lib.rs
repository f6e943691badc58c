//! The assistant at run time. [`Assistant`] answers one customer message at a time:
//!
//! 1. validate the message and the conversation (it must belong to the customer);
//! 2. score its sentiment and store it as a customer message (the churn features read those);
//! 3. understand it — intent from MiniLM embeddings ([`sextant_assistant::nlu`]), entities, and
//!    the conversation's state, so "3 years" after "I want to buy a house" continues the plan;
//! 4. act — a goal plan (saved as a tracked goal with a roadmap), a knowledge-base answer with
//!    citations, the customer's own spending figures, next best actions from the engine, or a
//!    hand-off to a human reviewer (complaints, strongly negative or urgent messages);
//! 5. phrase the answer from templates, or from a language model whose text must pass the fact
//!    guard ([`llm`]), and save both turns in one transaction (compare-and-swap on the
//!    conversation, so two devices writing at once cannot interleave).
//!
//! Consent: the customer's own figures are read at their request; the rolling profile
//! sentiment and the profile-based goal estimates need `profiling`; offers go through the
//! next-best-action engine, which checks `personalization` and `marketing` itself.

mod cache;
mod config;
mod error;
pub mod eval;
mod goals;
pub mod llm;
mod service;
pub mod spending;

pub use config::{AssistantConfig, LlmConfig};
pub use error::{ConversationError, Result};
pub use goals::{GoalView, goal_progress_from};
pub use service::{
    Advisor, Assistant, CHANNELS, Citation, Handoff, Incoming, LanguageInfo, MAX_MESSAGE_CHARS,
    Offer, Reply, TurnView, score_unscored,
};
