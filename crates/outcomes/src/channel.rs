//! Choosing the channel that delivers a next best action: app push, in-app message, email, SMS
//! or an advisor's call.
//!
//! [`choose`] first decides which channels are *eligible* — each ineligible one with the first
//! rule it breaks — then scores the eligible ones by how this customer responds on them and
//! picks the best. Everything it decided is returned ([`ChannelChoice::considered`]) together
//! with a one-sentence reason, so the console and the audit log can show why.
//!
//! Consent: `marketing_consent` is the customer's marketing consent as
//! `sextant_core::ConsentState::allows(ConsentPurpose::Marketing)` reports it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};

/// Why a channel policy is invalid; names the field and the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChannelError {
    #[error("{field}: {reason}")]
    InvalidPolicy { field: &'static str, reason: String },
}

/// A way of reaching a customer. Declaration order is the fixed tie-break order of [`choose`]
/// (and the order of [`ChannelChoice::considered`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactChannel {
    AppPush,
    InApp,
    Email,
    Sms,
    AdvisorCall,
}

impl ContactChannel {
    /// Every channel, in tie-break order.
    pub const ALL: [ContactChannel; 5] = [
        ContactChannel::AppPush,
        ContactChannel::InApp,
        ContactChannel::Email,
        ContactChannel::Sms,
        ContactChannel::AdvisorCall,
    ];

    /// The wire name (`snake_case`, as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            ContactChannel::AppPush => "app_push",
            ContactChannel::InApp => "in_app",
            ContactChannel::Email => "email",
            ContactChannel::Sms => "sms",
            ContactChannel::AdvisorCall => "advisor_call",
        }
    }

    /// The name in a sentence.
    pub fn label(self) -> &'static str {
        match self {
            ContactChannel::AppPush => "app push",
            ContactChannel::InApp => "in-app message",
            ContactChannel::Email => "email",
            ContactChannel::Sms => "SMS",
            ContactChannel::AdvisorCall => "advisor call",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            ContactChannel::AppPush => "pushes",
            ContactChannel::InApp => "in-app messages",
            ContactChannel::Email => "emails",
            ContactChannel::Sms => "SMS messages",
            ContactChannel::AdvisorCall => "advisor calls",
        }
    }

    /// Push, SMS and calls interrupt the customer, so they respect quiet hours; email and
    /// in-app messages wait until the customer looks.
    pub fn is_interruptive(self) -> bool {
        matches!(
            self,
            ContactChannel::AppPush | ContactChannel::Sms | ContactChannel::AdvisorCall
        )
    }

    /// The engagement rate assumed without enough history (fewer than
    /// `min_sends_for_history` sends in 30 days): in-app 0.08, push 0.05, email 0.03,
    /// SMS 0.04, advisor call 0.15.
    pub fn prior_rate(self) -> f64 {
        match self {
            ContactChannel::InApp => 0.08,
            ContactChannel::AppPush => 0.05,
            ContactChannel::Email => 0.03,
            ContactChannel::Sms => 0.04,
            ContactChannel::AdvisorCall => 0.15,
        }
    }

    /// The default frequency cap per 7 days: push 3, in-app 20, email 2, SMS 1, call 1.
    pub fn default_cap_7d(self) -> u32 {
        match self {
            ContactChannel::AppPush => 3,
            ContactChannel::InApp => 20,
            ContactChannel::Email => 2,
            ContactChannel::Sms => 1,
            ContactChannel::AdvisorCall => 1,
        }
    }
}

/// How urgent the message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Low,
    Normal,
    High,
}

/// What was sent on a channel recently and how the customer responded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelStats {
    pub sent_7d: u32,
    pub sent_30d: u32,
    pub opened_30d: u32,
    pub acted_30d: u32,
}

/// What a customer told the bank about being contacted: channels in order of preference,
/// channels never to use, and their time zone (minutes east of UTC), so quiet hours are theirs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPreferences {
    #[serde(default)]
    pub preferred: Vec<ContactChannel>,
    #[serde(default)]
    pub opted_out: BTreeSet<ContactChannel>,
    #[serde(default)]
    pub utc_offset_minutes: i32,
}

impl ContactPreferences {
    /// Every problem as `(field, reason)`: a channel listed twice, a channel both preferred and
    /// opted out, an offset outside −12:00…+14:00.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut bad = Vec::new();
        for (i, c) in self.preferred.iter().enumerate() {
            if self.preferred[..i].contains(c) {
                bad.push((
                    format!("preferred[{i}]"),
                    format!("{} is listed twice", c.as_str()),
                ));
            }
            if self.opted_out.contains(c) {
                bad.push((
                    format!("preferred[{i}]"),
                    format!("{} is also opted out", c.as_str()),
                ));
            }
        }
        if !(-720..=840).contains(&self.utc_offset_minutes) {
            bad.push((
                "utc_offset_minutes".into(),
                format!("{} is not between -720 and 840", self.utc_offset_minutes),
            ));
        }
        bad
    }
}

/// Everything [`choose`] knows about the customer and the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelContext {
    /// The customer's local time (the caller converts).
    pub now_local: NaiveDateTime,
    /// Channels the customer can be reached on: has the app (push; in-app), an email address,
    /// a phone number. In-app needs the app, so it counts as reachable when either `in_app` or
    /// `app_push` is listed.
    pub reachable: BTreeSet<ContactChannel>,
    /// The customer's marketing consent. Push, email, SMS and calls carrying an offer need it.
    pub marketing_consent: bool,
    /// An offer (`true`) or a service message such as a fraud alert or a low-balance warning
    /// (`false`).
    pub is_marketing: bool,
    /// The customer's stated order of preference (may be empty).
    pub preferred: Vec<ContactChannel>,
    pub opted_out: BTreeSet<ContactChannel>,
    /// Recent sends per channel; a channel not listed has sent nothing.
    pub history: BTreeMap<ContactChannel, ChannelStats>,
    pub urgency: Urgency,
    /// A high-value matter (e.g. mortgage or investment advice): an advisor call is allowed.
    pub high_value: bool,
}

/// Contact rules, loaded from configuration (missing fields keep their defaults).
///
/// Quiet hours are `[quiet_start_hour, quiet_end_hour)` of the customer's local time, wrapping
/// midnight when start > end (default 21:00–08:00); start = end means no quiet hours.
///
/// ```toml
/// [channel]
/// quiet_start_hour = 22
/// max_per_7d = { app_push = 2 }   # channels not listed keep their default cap
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelPolicy {
    pub quiet_start_hour: u32,
    pub quiet_end_hour: u32,
    /// Sends per 7 days after which a channel is not used; channels not listed keep
    /// [`ContactChannel::default_cap_7d`]. 0 turns a channel off.
    pub max_per_7d: BTreeMap<ContactChannel, u32>,
    /// Below this many sends in 30 days a channel's own rate is not trusted and its prior is
    /// used.
    pub min_sends_for_history: u32,
}

impl Default for ChannelPolicy {
    fn default() -> Self {
        ChannelPolicy {
            quiet_start_hour: 21,
            quiet_end_hour: 8,
            max_per_7d: ContactChannel::ALL
                .iter()
                .map(|c| (*c, c.default_cap_7d()))
                .collect(),
            min_sends_for_history: 5,
        }
    }
}

impl ChannelPolicy {
    /// Checks that the quiet hours are hours of a day (0–23).
    pub fn validate(&self) -> Result<(), ChannelError> {
        for (field, hour) in [
            ("quiet_start_hour", self.quiet_start_hour),
            ("quiet_end_hour", self.quiet_end_hour),
        ] {
            if hour > 23 {
                return Err(ChannelError::InvalidPolicy {
                    field,
                    reason: format!("{hour} is not an hour of the day (0 to 23)"),
                });
            }
        }
        Ok(())
    }

    /// The 7-day cap of `channel`.
    pub fn cap_7d(&self, channel: ContactChannel) -> u32 {
        self.max_per_7d
            .get(&channel)
            .copied()
            .unwrap_or_else(|| channel.default_cap_7d())
    }

    /// Whether `t` falls in the quiet hours.
    pub fn is_quiet(&self, t: NaiveDateTime) -> bool {
        let (h, start, end) = (t.hour(), self.quiet_start_hour, self.quiet_end_hour);
        match start.cmp(&end) {
            std::cmp::Ordering::Equal => false,
            std::cmp::Ordering::Less => start <= h && h < end,
            std::cmp::Ordering::Greater => h >= start || h < end,
        }
    }
}

/// What [`choose`] decided about one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelVerdict {
    pub channel: ContactChannel,
    pub eligible: bool,
    /// For an ineligible channel, the first rule it broke; for an eligible one, its score's
    /// factors.
    pub reason: String,
    /// The score of an eligible channel.
    pub score: Option<f64>,
}

/// The chosen channel and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelChoice {
    /// `None` when no channel is eligible.
    pub channel: Option<ContactChannel>,
    /// One sentence: why this channel, and why the others were skipped.
    pub reason: String,
    /// The chosen channel's score (0 when none).
    pub score: f64,
    /// Every channel in [`ContactChannel::ALL`] order.
    pub considered: Vec<ChannelVerdict>,
}

/// Scores closer than this are a tie.
const TIE: f64 = 1e-12;

/// Picks the channel for one message.
///
/// **Eligibility**, rules in this order; an ineligible channel's reason is the first it breaks:
/// 1. *not reachable* — not in `reachable` (in-app: neither `in_app` nor `app_push` is);
/// 2. *opted out* — in `opted_out`;
/// 3. *no marketing consent* — an offer (`is_marketing`) without `marketing_consent` on push,
///    email, SMS or call. In-app stays allowed: it is shown only when the customer opens the app
///    themselves, inside a session they started, so it is not an unsolicited contact;
/// 4. *quiet hours* — push, SMS and calls interrupt, so not during the quiet hours, unless the
///    urgency is High and the message is not marketing (a fraud alert goes out at night, an
///    offer never does); email and in-app are never held;
/// 5. *frequency cap* — `sent_7d ≥ policy.cap_7d(channel)`;
/// 6. *advisor call* — only for a `high_value` matter or High urgency.
///
/// **Score** of an eligible channel:
///
/// ```text
/// score = rate × preference × urgency_fit
/// rate        = (acted_30d + 1) / (sent_30d + 2)     Laplace-smoothed, when sent_30d ≥ min_sends_for_history
///             = prior(channel)                       otherwise: in_app 0.08, push 0.05, email 0.03,
///                                                    sms 0.04, call 0.15
/// preference  = 1.5 for the first channel in `preferred`, 1.25 for the second, 1.0 otherwise
/// urgency_fit = High: push, SMS × 1.5; in-app × 0.5   Low: in-app, email × 1.2   else 1.0
/// ```
///
/// The highest score wins; ties go to the earlier channel in [`ContactChannel::ALL`]. The
/// result is `None` (with the reasons) when nothing is eligible. Deterministic: the same input
/// always gives the same choice and the same text. Call [`ChannelPolicy::validate`] when the
/// policy is loaded.
pub fn choose(ctx: &ChannelContext, policy: &ChannelPolicy) -> ChannelChoice {
    let considered: Vec<ChannelVerdict> = ContactChannel::ALL
        .iter()
        .map(|&ch| match ineligible_reason(ch, ctx, policy) {
            Some(reason) => ChannelVerdict {
                channel: ch,
                eligible: false,
                reason,
                score: None,
            },
            None => {
                let s = score(ch, ctx, policy);
                ChannelVerdict {
                    channel: ch,
                    eligible: true,
                    reason: format!(
                        "score {:.4} = rate {:.3} ({}) × preference {} × urgency {}",
                        s.value,
                        s.rate,
                        if s.from_history { "history" } else { "prior" },
                        s.preference,
                        s.urgency
                    ),
                    score: Some(s.value),
                }
            }
        })
        .collect();

    let mut best: Option<(ContactChannel, f64)> = None;
    for v in &considered {
        if let Some(s) = v.score
            && best.is_none_or(|(_, b)| s > b + TIE)
        {
            best = Some((v.channel, s));
        }
    }

    let skipped = considered
        .iter()
        .filter(|v| !v.eligible)
        .map(|v| format!("{} skipped: {}", v.channel.label(), v.reason))
        .collect::<Vec<_>>();
    match best {
        Some((channel, value)) => {
            let mut reason = format!("{}: {}", channel.label(), why(channel, ctx, policy));
            for s in &skipped {
                let _ = write!(reason, "; {s}");
            }
            ChannelChoice {
                channel: Some(channel),
                reason,
                score: value,
                considered,
            }
        }
        None => ChannelChoice {
            channel: None,
            reason: format!("no channel is eligible: {}", skipped.join("; ")),
            score: 0.0,
            considered,
        },
    }
}

/// The first eligibility rule `ch` breaks, if any.
fn ineligible_reason(
    ch: ContactChannel,
    ctx: &ChannelContext,
    policy: &ChannelPolicy,
) -> Option<String> {
    let reachable = ctx.reachable.contains(&ch)
        || (ch == ContactChannel::InApp && ctx.reachable.contains(&ContactChannel::AppPush));
    if !reachable {
        return Some(
            match ch {
                ContactChannel::AppPush | ContactChannel::InApp => {
                    "not reachable (the app is not installed)"
                }
                ContactChannel::Email => "not reachable (no email address on file)",
                ContactChannel::Sms | ContactChannel::AdvisorCall => {
                    "not reachable (no phone number on file)"
                }
            }
            .into(),
        );
    }
    if ctx.opted_out.contains(&ch) {
        return Some("the customer opted out of it".into());
    }
    if ctx.is_marketing && !ctx.marketing_consent && ch != ContactChannel::InApp {
        return Some("an offer needs marketing consent, which the customer has not given".into());
    }
    // An urgent service message (a fraud alert) may interrupt at night; nothing else may.
    let may_interrupt_at_night = ctx.urgency == Urgency::High && !ctx.is_marketing;
    if ch.is_interruptive() && policy.is_quiet(ctx.now_local) && !may_interrupt_at_night {
        return Some(format!(
            "quiet hours ({:02}:{:02})",
            ctx.now_local.hour(),
            ctx.now_local.minute()
        ));
    }
    let sent_7d = ctx.history.get(&ch).map_or(0, |s| s.sent_7d);
    let cap = policy.cap_7d(ch);
    if sent_7d >= cap {
        return Some(format!(
            "frequency cap reached ({sent_7d} sent in 7 days, at most {cap})"
        ));
    }
    if ch == ContactChannel::AdvisorCall && !ctx.high_value && ctx.urgency != Urgency::High {
        return Some("advisor calls are only for high-value or urgent matters".into());
    }
    None
}

struct Score {
    value: f64,
    rate: f64,
    from_history: bool,
    preference: f64,
    urgency: f64,
}

fn preference_rank(ch: ContactChannel, ctx: &ChannelContext) -> Option<usize> {
    let mut seen = Vec::new();
    for c in &ctx.preferred {
        if !seen.contains(c) {
            seen.push(*c);
        }
    }
    seen.iter().position(|c| *c == ch)
}

fn score(ch: ContactChannel, ctx: &ChannelContext, policy: &ChannelPolicy) -> Score {
    let stats = ctx.history.get(&ch).copied().unwrap_or_default();
    let from_history = stats.sent_30d >= policy.min_sends_for_history;
    let rate = if from_history {
        (stats.acted_30d as f64 + 1.0) / (stats.sent_30d as f64 + 2.0)
    } else {
        ch.prior_rate()
    };
    let preference = match preference_rank(ch, ctx) {
        Some(0) => 1.5,
        Some(1) => 1.25,
        _ => 1.0,
    };
    let urgency = match (ctx.urgency, ch) {
        (Urgency::High, ContactChannel::AppPush | ContactChannel::Sms) => 1.5,
        (Urgency::High, ContactChannel::InApp) => 0.5,
        (Urgency::Low, ContactChannel::InApp | ContactChannel::Email) => 1.2,
        _ => 1.0,
    };
    Score {
        value: rate * preference * urgency,
        rate,
        from_history,
        preference,
        urgency,
    }
}

/// The chosen channel's case, e.g. "preferred channel, 12% of recent pushes acted on (3 of 25)".
fn why(ch: ContactChannel, ctx: &ChannelContext, policy: &ChannelPolicy) -> String {
    let mut parts = Vec::new();
    match preference_rank(ch, ctx) {
        Some(0) => parts.push("preferred channel".to_string()),
        Some(1) => parts.push("second preferred channel".to_string()),
        _ => {}
    }
    let stats = ctx.history.get(&ch).copied().unwrap_or_default();
    if stats.sent_30d >= policy.min_sends_for_history {
        let pct = (100.0 * stats.acted_30d as f64 / stats.sent_30d as f64).round();
        parts.push(format!(
            "{pct}% of recent {} acted on ({} of {} in 30 days)",
            ch.plural(),
            stats.acted_30d,
            stats.sent_30d
        ));
    } else {
        parts.push(format!(
            "little recent history ({} sent in 30 days), typical response rate {}%",
            stats.sent_30d,
            (100.0 * ch.prior_rate()).round()
        ));
    }
    match (ctx.urgency, ch) {
        (Urgency::High, ContactChannel::AppPush | ContactChannel::Sms) => {
            parts.push("fast enough for an urgent message".into())
        }
        (Urgency::Low, ContactChannel::InApp | ContactChannel::Email) => {
            parts.push("suits a message that can wait".into())
        }
        _ => {}
    }
    if ch == ContactChannel::AdvisorCall {
        parts.push(if ctx.high_value {
            "a high-value matter".into()
        } else {
            "an urgent matter".into()
        });
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests;
