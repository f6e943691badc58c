//! Next best actions, as pure functions: the bank's declarative catalog rules ([`rules`]),
//! candidate generation from persona rules, content matching and collaborative filtering
//! ([`cf`]), ranking by propensity × value with family diversity, hard guardrails after
//! ranking, a LinUCB contextual bandit that learns from feedback ([`bandit`]), explanations for
//! the customer and the regulator, and offline evaluation ([`eval`]).
//!
//! Architecture invariant: no I/O, no async, no clock (the caller passes `now`). Everything the
//! engine decides is returned with its reasons; nothing is silently dropped — a product that a
//! guardrail removes comes back in [`Outcome::blocked`] with the guardrail and the reason.

pub mod bandit;
pub mod cf;
pub mod engine;
pub mod eval;
pub mod rules;

pub use bandit::{
    ArmState, ArmStats, Bandit, BanditConfig, BanditScore, Context as BanditContext, reward,
};
pub use cf::{CfEvidence, CfModel};
pub use engine::{
    Blocked, CustomerContext, Engine, Guardrail, Outcome, PersonaTags, Reason, Recommendation,
    RegulatorDetail, Request, ReviewReason, Scores, Source, Strategy,
};
pub use rules::{DEMO_RULES, ProductRule, Rules, RulesError};
