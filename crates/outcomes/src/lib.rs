//! Outcomes: is Sextant helping customers, are its models still right, and how should it reach
//! a customer?
//!
//! * [`kpi`] — engagement KPIs from customer activity: an engagement score, retention by monthly
//!   cohort, NPS with a confidence interval, customer lifetime value, per-group summaries
//!   (overall, by segment, by experiment arm) and a weekly "share active" series for the console.
//! * [`drift`] — model monitoring: population stability index (PSI) of each input against a
//!   stored [`drift::Reference`], and performance decay (ROC-AUC against the AUC at training,
//!   with a Hanley–McNeil interval).
//! * [`channel`] — which channel (app push, in-app, email, SMS, advisor call) delivers a next best
//!   action: eligibility rules (reachability, opt-outs, consent, quiet hours, frequency caps)
//!   and a score from the customer's own response history.
//!
//! Every formula is written out in the doc comment of the function that computes it; the API
//! documentation links there. Every output is serde-serialisable (the API returns it as JSON and
//! the web console draws it).
//!
//! **Invariant:** pure. No I/O, no async, no clock (callers pass `now`), no randomness, no
//! network; the same input always gives the same output.
//!
//! **Boundary:** plain Rust values in; serde types out; one `thiserror` error per module
//! ([`kpi::KpiError`], [`drift::DriftError`], [`channel::ChannelError`]), each naming the field
//! and the reason. (Per module rather than per crate: the three modules are independent APIs and
//! each error type says exactly what can go wrong in it.)

pub mod channel;
pub mod drift;
pub mod kpi;

pub use channel::{
    ChannelChoice, ChannelContext, ChannelError, ChannelPolicy, ChannelStats, ChannelVerdict,
    ContactChannel, ContactPreferences, Urgency, choose,
};
pub use drift::{
    BinShare, Decay, DriftError, DriftLevel, DriftReport, Psi, Reference, Thresholds, decay, psi,
    psi_with, report,
};
pub use kpi::{
    CohortRow, CustomerActivity, EngagementScore, Feature, GroupBy, KpiError, KpiRow, Ltv, Nps,
    engagement_score, engagement_series, lifetime_value, nps, retention_by_cohort, summarize,
};
