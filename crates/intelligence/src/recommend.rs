//! The next-best-action service: gathers what the pure engine (`sextant-recommend`) needs about
//! one customer from the store — consents, profile, holdings, features, segment and persona,
//! feedback history, promoted propensity models with their SHAP reasons — asks it for ranked,
//! guarded recommendations, and records every one as a decision together with one audit entry
//! and any review cases, in one transaction. Feedback updates the LinUCB bandit (persisted per
//! arm with compare-and-swap, so several servers and restarts agree); review outcomes are
//! audited and a rejection teaches the bandit too.
//!
//! Consent: marketing is required for any offer (a guardrail in the engine, reported per
//! product); features, segments and model scores are used only with profiling consent —
//! without it the engine sees the profile and holdings alone and ranks by popularity and rules;
//! credit offers without automated-decisions consent go to a human.

use crate::{IntelError, Policy, Result, bank_models};
use chrono::{DateTime, Utc};
use sextant_core::{
    AuditEntry, AuditRecord, ConsentPurpose, Customer, CustomerEvent, CustomerId, Decision,
    DecisionId, EventKind, ProductFamily,
};
use sextant_recommend::bandit::decision_reward;
use sextant_recommend::{Bandit, BanditConfig, CfModel, Engine, Outcome, Recommendation, Rules};
use sextant_store::{ArmRow, ReviewCase, ReviewOutcome, ReviewStatus, Store};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The bandit policy name under which arms are stored.
pub const POLICY: &str = "nba";
/// The decision kind of a recommendation.
pub const KIND: &str = "next_best_action";
/// The name the collaborative-filtering model is stored under.
pub const CF_MODEL: &str = "cf";
/// How long the in-memory bandit and CF model are trusted before the store is asked again:
/// feedback applied by another server reaches this one's rankings within this time.
pub const REFRESH: Duration = Duration::from_secs(1);

/// The engine with its rules and catalog, and the learned state (bandit arms, CF model) cached
/// in memory and refreshed from the store.
pub struct Recommender {
    rules: Rules,
    catalog: Vec<sextant_core::Product>,
    state: Mutex<Cached>,
    /// Running experiments (refreshed like the bandit).
    pub experiments: crate::experiments::ExperimentCache,
    /// How the contact channel of each offer is chosen.
    pub channels: sextant_outcomes::channel::ChannelPolicy,
}

struct Cached {
    checked: Option<Instant>,
    engine: Arc<Engine>,
    /// The stored CF model this engine was built from (a different body means a retrain).
    cf_body: Option<String>,
    bandit: Arc<Bandit>,
    versions: BTreeMap<String, i64>,
}

/// What one request produced: the recommendations shown (each a recorded decision), those
/// held for a human, what the guardrails blocked, and the audit entry covering them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recommended {
    pub customer_id: CustomerId,
    pub channel: String,
    pub recommendations: Vec<Shown>,
    pub held_for_review: Vec<Held>,
    pub blocked: Vec<sextant_recommend::Blocked>,
    pub cold_start: bool,
    pub rules_version: String,
    pub audit_seq: i64,
}

/// A recommendation the customer sees, with its decision id.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Shown {
    pub decision_id: DecisionId,
    /// True when a reviewer approved it before it was shown.
    pub reviewed: bool,
    /// What the reviewer changed (a modified approval), if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer_changes: Option<serde_json::Value>,
    #[serde(flatten)]
    pub recommendation: Recommendation,
    /// The contact channel chosen for this offer, and why.
    pub contact: sextant_outcomes::channel::ChannelChoice,
}

/// A recommendation sent to a human instead of the customer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Held {
    pub decision_id: DecisionId,
    pub review_id: String,
    pub product_id: sextant_core::ProductId,
    pub reason: sextant_recommend::ReviewReason,
}

impl Recommender {
    /// Validate `rules_toml` against the store's catalog (every error named) and build the
    /// engine. The CF model and bandit arms are read from the store on first use.
    pub async fn load(store: &dyn Store, rules_toml: &str) -> Result<Self> {
        let catalog = store.list_products().await?;
        if catalog.is_empty() {
            return Err(IntelError::NoCatalog);
        }
        let rules =
            Rules::from_toml(rules_toml, &catalog).map_err(|e| IntelError::Rules(e.to_string()))?;
        let engine = Arc::new(Engine::new(
            rules.clone(),
            catalog.clone(),
            CfModel::train(&[]),
        ));
        let bandit = Arc::new(Bandit::new(bandit_config(&rules)));
        Ok(Self {
            rules,
            catalog,
            state: Mutex::new(Cached {
                checked: None,
                engine,
                cf_body: None,
                bandit,
                versions: BTreeMap::new(),
            }),
            experiments: Default::default(),
            channels: Default::default(),
        })
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The engine and bandit to rank with, refreshed from the store at most every [`REFRESH`].
    async fn current(&self, store: &dyn Store) -> Result<(Arc<Engine>, Arc<Bandit>)> {
        {
            let c = self.state.lock().expect("recommender cache poisoned");
            if let Some(at) = c.checked
                && at.elapsed() < REFRESH
            {
                return Ok((c.engine.clone(), c.bandit.clone()));
            }
        }
        let arms = store.bandit_arms(POLICY).await?;
        let cf = store.get_recommender_model(CF_MODEL).await?;
        let mut c = self.state.lock().expect("recommender cache poisoned");
        if cf != c.cf_body {
            let model = match &cf {
                Some(body) => serde_json::from_str(body).map_err(|e| IntelError::Corrupt {
                    what: "collaborative-filtering model",
                    reason: e.to_string(),
                })?,
                None => CfModel::train(&[]),
            };
            c.engine = Arc::new(Engine::new(self.rules.clone(), self.catalog.clone(), model));
            c.cf_body = cf;
        }
        let versions: BTreeMap<String, i64> =
            arms.iter().map(|a| (a.arm.clone(), a.version)).collect();
        if versions != c.versions {
            c.bandit = Arc::new(bandit_from_rows(bandit_config(&self.rules), &arms)?);
            c.versions = versions;
        }
        c.checked = Some(Instant::now());
        Ok((c.engine.clone(), c.bandit.clone()))
    }

    /// Forget the cached state so the next request reads the store (after a local update).
    pub fn invalidate(&self) {
        self.state
            .lock()
            .expect("recommender cache poisoned")
            .checked = None;
    }

    /// Per-arm bandit statistics, as the store holds them now.
    pub async fn arm_stats(&self, store: &dyn Store) -> Result<Vec<sextant_recommend::ArmStats>> {
        self.invalidate();
        let (_, bandit) = self.current(store).await?;
        Ok(bandit.stats())
    }
}

fn bandit_config(rules: &Rules) -> BanditConfig {
    rules.bandit_config()
}

pub(crate) fn bandit_from_rows(config: BanditConfig, rows: &[ArmRow]) -> Result<Bandit> {
    let mut b = Bandit::new(config);
    for r in rows {
        let state = serde_json::from_str(&r.state).map_err(|e| IntelError::Corrupt {
            what: "bandit arm",
            reason: format!("{}: {e}", r.arm),
        })?;
        b.arms.insert(r.arm.clone(), state);
    }
    Ok(b)
}

/// Options of one recommendation request.
#[derive(Debug, Clone)]
pub struct Ask {
    pub channel: String,
    pub limit: usize,
    /// Who asked (key id), for the audit entry.
    pub actor: String,
    /// The customer's pseudonym, for the audit entry.
    pub subject: String,
    pub now: DateTime<Utc>,
}

/// Everything the engine is given about a customer, gathered from the store.
struct Gathered {
    customer: Customer,
    accounts: Vec<sextant_core::Account>,
    consents: sextant_core::ConsentState,
    features: Option<sextant_features::FeatureVector>,
    segment: Option<(i64, String, sextant_recommend::engine::PersonaTags)>,
    history: Vec<CustomerEvent>,
    propensity: BTreeMap<ProductFamily, (f64, String)>,
    shap_reasons: BTreeMap<ProductFamily, Vec<String>>,
    approved: Vec<Decision>,
    /// Offers already waiting for a reviewer: product → decision id.
    waiting: BTreeMap<sextant_core::ProductId, DecisionId>,
}

async fn gather(
    store: &dyn Store,
    segments: &crate::ModelCache,
    bank: &bank_models::BankModelCache,
    id: &CustomerId,
    policy: &Policy,
) -> Result<Gathered> {
    let snap = store
        .customer_snapshot(id, &policy.consent_defaults)
        .await?
        .ok_or_else(|| IntelError::UnknownCustomer(id.clone()))?;
    let sextant_store::CustomerSnapshot {
        customer,
        consents,
        accounts,
        events: history,
        features: feature_row,
        segment: segment_row,
        approved,
        pending_review,
    } = snap;
    let (mut features, mut segment) = (None, None);
    let (mut propensity, mut shap_reasons) = (BTreeMap::new(), BTreeMap::new());
    if consents.allows(ConsentPurpose::Profiling) {
        features = match feature_row {
            Some(row) if row.version == sextant_features::FEATURE_VERSION as i64 => {
                serde_json::from_str::<sextant_features::FeatureVector>(&row.vector).ok()
            }
            _ => None,
        };
        if let Some(row) = segment_row
            && let Ok((version, model)) = segments.promoted(store).await
            && version == row.model_version
            && let Some(p) = model
                .personas
                .iter()
                .find(|p| p.segment_id == row.segment_id)
        {
            segment = Some((
                version,
                row.segment_id.clone(),
                sextant_recommend::engine::PersonaTags {
                    risk_appetite: p.tags.risk_appetite.clone(),
                    spending_style: p.tags.spending_style.clone(),
                    engagement: p.tags.engagement.clone(),
                    life_stage: p.tags.life_stage.clone(),
                },
            ));
        }
        if let Some(f) = &features {
            for s in
                bank_models::score_vector(store, bank, f, &bank_models::Target::PROPENSITY).await?
            {
                if let Some(family) = s.model.strip_prefix("propensity_")
                    && let Ok(family) = family.parse::<ProductFamily>()
                {
                    propensity.insert(
                        family,
                        (s.probability, format!("{}:{}", s.model, s.version)),
                    );
                    shap_reasons.insert(family, s.reasons.clone());
                }
            }
        }
    }
    let waiting = pending_review
        .into_iter()
        .filter_map(|d| {
            let p = d.payload["recommendation"]["product_id"].as_str()?;
            Some((sextant_core::ProductId::parse(p).ok()?, d.id))
        })
        .collect();
    Ok(Gathered {
        waiting,
        approved: if consents.allows(ConsentPurpose::Marketing) {
            approved
        } else {
            Vec::new()
        },
        customer,
        accounts,
        consents,
        features,
        segment,
        history,
        propensity,
        shap_reasons,
    })
}

/// Recommend for one customer now: rank, guard, record every decision (shown or held for
/// review) with one audit entry in one transaction, and return what to show.
pub async fn recommend(
    store: &dyn Store,
    rec: &Recommender,
    segments: &crate::ModelCache,
    bank: &bank_models::BankModelCache,
    id: &CustomerId,
    policy: &Policy,
    ask: &Ask,
) -> Result<Recommended> {
    let g = gather(store, segments, bank, id, policy).await?;
    let (engine, bandit) = rec.current(store).await?;
    let x = sextant_recommend::bandit::Context::from_features(g.features.as_ref(), &g.customer);
    let effects = rec
        .experiments
        .effects(store, id, x.as_slice(), &bandit_config(&rec.rules), ask.now)
        .await?;
    let suppress = effects.iter().any(|e| e.suppress);
    let strategy = effects.iter().find_map(|e| e.strategy).unwrap_or_default();
    let forced_channel = effects
        .iter()
        .find_map(|e| e.channel.clone().map(|c| (c, e)));
    let message = effects.iter().find_map(|e| e.message.clone());
    // Cases a reviewer approved are shown first, once (not to an experiment's holdout).
    let approved = if suppress {
        Vec::new()
    } else {
        g.approved.clone()
    };
    let salt = salt_of(id, ask.now);
    let ctx = sextant_recommend::CustomerContext {
        customer: &g.customer,
        features: g.features.as_ref(),
        segment: g.segment.as_ref().map(|(_, s, _)| s.as_str()),
        persona_tags: g.segment.as_ref().map(|(_, _, t)| t),
        holdings: &g.accounts,
        consents: &g.consents,
        history: &g.history,
        propensity: &g.propensity,
        shap_reasons: &g.shap_reasons,
        now: ask.now,
        salt,
    };
    // Ask for the most the engine gives: offers held for a human do not take a customer's slot,
    // so the ranking is walked until `limit` offers can be shown (those held on the way are
    // queued for review).
    let mut outcome: Outcome = engine.recommend(
        &ctx,
        &bandit,
        &sextant_recommend::Request {
            limit: 10,
            channel: ask.channel.clone(),
            strategy,
        },
    );
    if suppress {
        outcome.recommendations.clear();
    }
    if let Some(m) = &message {
        for r in &mut outcome.recommendations {
            r.explanation = m
                .replace("{product}", &r.product_name)
                .replace("{reason}", &r.explanation);
        }
    }
    let contact_base = contact_context(store, &g, ask).await?;
    let contact_of = |r: &Recommendation| match &forced_channel {
        Some((c, e)) => forced_choice(c, e),
        None => {
            let mut cx = contact_base.clone();
            cx.high_value = matches!(
                r.family,
                ProductFamily::Mortgage | ProductFamily::Investment
            );
            sextant_outcomes::channel::choose(&cx, &rec.channels)
        }
    };
    let experiments: Vec<serde_json::Value> = effects
        .iter()
        .map(|e| serde_json::json!({"experiment": e.experiment, "arm": e.arm}))
        .collect();
    let versions = serde_json::json!({
        "rules": outcome.rules_version,
        "features": g.features.as_ref().map(|f| f.version),
        "segment_model": g.segment.as_ref().map(|(v, _, _)| v),
        "models": g.propensity.values().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        "bandit": POLICY,
    });
    let mut decisions = Vec::new();
    let mut reviews = Vec::new();
    let mut shown = Vec::new();
    let mut held = Vec::new();
    let at = ask.now;
    for d in &approved {
        if let Ok(r) = serde_json::from_value::<Recommendation>(d.payload["recommendation"].clone())
        {
            shown.push(Shown {
                contact: contact_of(&r),
                decision_id: d.id.clone(),
                reviewed: true,
                reviewer_changes: d
                    .payload
                    .get("recommendation")
                    .and_then(|r| r.get("reviewer_changes"))
                    .cloned(),
                recommendation: r,
            });
        }
    }
    let approved_products: Vec<_> = shown
        .iter()
        .map(|s| s.recommendation.product_id.clone())
        .collect();
    // Reviewed offers come first; new ones fill the rest of the limit (and only those shown, or
    // held for review, become decisions).
    shown.truncate(ask.limit);
    for r in outcome.recommendations.iter() {
        if shown.len() >= ask.limit {
            break;
        }
        if approved_products.contains(&r.product_id) {
            continue;
        }
        // An offer already waiting for a reviewer is not queued again on every request.
        if let (Some(reason), Some(decision_id)) = (&r.review, g.waiting.get(&r.product_id)) {
            held.push(Held {
                decision_id: decision_id.clone(),
                review_id: review_id_of(decision_id),
                product_id: r.product_id.clone(),
                reason: reason.clone(),
            });
            continue;
        }
        let decision_id = DecisionId::generate();
        let contact = contact_of(r);
        let status = if r.review.is_some() {
            "pending_review"
        } else {
            "shown"
        };
        decisions.push(Decision {
            id: decision_id.clone(),
            customer_id: id.clone(),
            at,
            kind: KIND.into(),
            versions: versions.clone(),
            payload: serde_json::json!({
                "channel": ask.channel,
                "recommendation": r,
                "contact": contact,
                "experiments": experiments,
            }),
            status: status.into(),
        });
        match &r.review {
            Some(reason) => {
                let review_id = review_id_of(&decision_id);
                reviews.push(ReviewCase {
                    id: review_id.clone(),
                    decision_id: decision_id.clone(),
                    customer_id: id.clone(),
                    created_at: at.timestamp_micros(),
                    reason: serde_json::to_value(reason).unwrap_or_default(),
                    status: ReviewStatus::Pending,
                    reviewer: None,
                    note: None,
                    resolved_at: None,
                    modified_payload: None,
                });
                held.push(Held {
                    decision_id,
                    review_id,
                    product_id: r.product_id.clone(),
                    reason: reason.clone(),
                });
            }
            None => shown.push(Shown {
                contact,
                decision_id,
                reviewed: false,
                reviewer_changes: None,
                recommendation: r.clone(),
            }),
        }
    }
    let audit = AuditRecord {
        actor: ask.actor.clone(),
        action: "decision.recommend".into(),
        subject: ask.subject.clone(),
        details: serde_json::json!({
            "shown": shown.iter().map(|s| s.decision_id.as_str()).collect::<Vec<_>>(),
            "held_for_review": held.iter().map(|h| h.decision_id.as_str()).collect::<Vec<_>>(),
            "blocked": outcome.blocked.iter().map(|b| serde_json::json!({"product": b.product_id, "guardrail": b.guardrail})).collect::<Vec<_>>(),
            "channel": ask.channel,
            "versions": versions,
            "experiments": experiments,
        }),
    }
    // What the engine was given: enough to re-run the decision and show it is this one.
    .with_inputs(&serde_json::json!({
        "customer": g.customer.id,
        "profile": {
            "age": g.customer.age,
            "income_minor": g.customer.income.minor,
            "risk_profile": g.customer.risk_profile,
            "engagement": g.customer.engagement_level,
        },
        "features": g.features.as_ref().map(|f| &f.values),
        "segment": g.segment.as_ref().map(|(v, s, _)| (v, s)),
        "consents": g.consents,
        "holdings": g.accounts.iter().map(|a| (a.id.as_str(), a.product_id.as_ref().map(|p| p.as_str()))).collect::<Vec<_>>(),
        "history": g.history.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        "propensity": g.propensity.iter().map(|(f, (p, v))| (f.as_str(), p, v)).collect::<Vec<_>>(),
        "experiments": experiments,
        "channel": ask.channel,
        "now": ask.now,
    }));
    let entry: AuditEntry = store.record_decisions(&decisions, &reviews, audit).await?;
    rec.experiments
        .expose_new(
            store,
            &effects,
            id,
            decisions.first().map(|d| d.id.as_str()),
            at,
        )
        .await?;
    for s in shown.iter().filter(|s| s.reviewed) {
        // Delivered now: shown once, like any other offer.
        store.set_decision_status(&s.decision_id, "shown").await?;
    }
    Ok(Recommended {
        customer_id: id.clone(),
        channel: ask.channel.clone(),
        recommendations: shown,
        held_for_review: held,
        blocked: outcome.blocked,
        cold_start: outcome.cold_start,
        rules_version: outcome.rules_version,
        audit_seq: entry.seq,
    })
}

/// What the channel orchestrator knows of this customer now: who can be reached where (the
/// app for everyone with app activity or asking through the app, email and phone when on
/// file), marketing consent, the customer's stated preferences and time zone, and the last 30
/// days of offers per channel with the customer's responses.
async fn contact_context(
    store: &dyn Store,
    g: &Gathered,
    ask: &Ask,
) -> Result<sextant_outcomes::channel::ChannelContext> {
    use sextant_outcomes::channel::{ChannelContext, ChannelStats, ContactChannel, Urgency};
    let mut reachable = std::collections::BTreeSet::new();
    reachable.insert(ContactChannel::InApp);
    if ask.channel == "app" || !g.history.is_empty() {
        reachable.insert(ContactChannel::AppPush);
    }
    if g.customer.email.is_some() {
        reachable.insert(ContactChannel::Email);
    }
    if g.customer.phone.is_some() {
        reachable.insert(ContactChannel::Sms);
        reachable.insert(ContactChannel::AdvisorCall);
    }
    let since = ask.now - chrono::Duration::days(30);
    let week = ask.now - chrono::Duration::days(7);
    let acted: std::collections::HashSet<&str> = g
        .history
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Accept | EventKind::Click))
        .filter_map(|e| e.decision_id.as_ref().map(|d| d.as_str()))
        .collect();
    let mut history: BTreeMap<ContactChannel, ChannelStats> = BTreeMap::new();
    let week = week.timestamp_micros();
    for d in store
        .outcomes()
        .recent_contacts(g.customer.id.as_str(), KIND, since.timestamp_micros())
        .await?
    {
        let Some(ch) = d
            .channel
            .and_then(|c| serde_json::from_value::<ContactChannel>(c.into()).ok())
        else {
            continue;
        };
        let s = history.entry(ch).or_default();
        s.sent_30d += 1;
        if d.at >= week {
            s.sent_7d += 1;
        }
        if acted.contains(d.decision_id.as_str()) {
            s.acted_30d += 1;
            s.opened_30d += 1;
        }
    }
    let prefs: sextant_outcomes::channel::ContactPreferences = match store
        .outcomes()
        .contact_preferences(g.customer.id.as_str())
        .await?
    {
        Some(body) => serde_json::from_str(&body).map_err(|e| IntelError::Corrupt {
            what: "contact preferences",
            reason: e.to_string(),
        })?,
        None => Default::default(),
    };
    Ok(ChannelContext {
        now_local: (ask.now + chrono::Duration::minutes(i64::from(prefs.utc_offset_minutes)))
            .naive_utc(),
        reachable,
        marketing_consent: g.consents.allows(ConsentPurpose::Marketing),
        is_marketing: true,
        preferred: prefs.preferred,
        opted_out: prefs.opted_out,
        history,
        urgency: Urgency::Normal,
        high_value: false,
    })
}

/// The channel an experiment's arm prescribes.
fn forced_choice(
    channel: &str,
    e: &crate::experiments::ArmEffect,
) -> sextant_outcomes::channel::ChannelChoice {
    sextant_outcomes::channel::ChannelChoice {
        channel: serde_json::from_value(channel.into()).ok(),
        reason: format!(
            "{channel}: set by arm '{}' of experiment '{}'",
            e.arm, e.experiment
        ),
        score: 0.0,
        considered: Vec::new(),
    }
}

/// The review case of a decision held for a human: one case per decision, named after it.
fn review_id_of(decision: &DecisionId) -> String {
    let id = decision.as_str();
    format!("rev_{}", id.strip_prefix("dec_").unwrap_or(id))
}

/// The salt of the engine's deterministic active-learning sample: per customer and day, so
/// repeated requests on one day sample the same offers (and queue them once).
fn salt_of(id: &CustomerId, now: DateTime<Utc>) -> u64 {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{}|{}", id.as_str(), now.date_naive()));
    u64::from_le_bytes(h[..8].try_into().expect("8 bytes"))
}

/// A feedback signal about a shown recommendation.
#[derive(Debug, Clone)]
pub struct Feedback {
    pub event_id: sextant_core::EventId,
    pub decision_id: DecisionId,
    pub kind: EventKind,
    pub at: DateTime<Utc>,
}

/// What feedback did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FeedbackApplied {
    pub event_id: sextant_core::EventId,
    pub decision_id: DecisionId,
    pub customer_id: CustomerId,
    /// False when this event id was seen before (nothing changed: feedback is idempotent).
    pub applied: bool,
    pub arm: String,
    /// The arm after the update (absent when nothing was applied).
    pub arm_stats: Option<sextant_recommend::ArmStats>,
}

/// The recommendation a decision recorded (what was offered, its context and prior).
pub fn recommendation_of(d: &Decision) -> Result<Recommendation> {
    serde_json::from_value(d.payload["recommendation"].clone()).map_err(|e| IntelError::Corrupt {
        what: "recommendation decision",
        reason: e.to_string(),
    })
}

/// The decision a feedback event refers to, if it is a recommendation; `None` otherwise.
pub async fn feedback_decision(store: &dyn Store, id: &DecisionId) -> Result<Option<Decision>> {
    Ok(store.get_decision(id).await?.filter(|d| d.kind == KIND))
}

/// Record feedback and update the bandit in one transaction (idempotent by event id; a
/// concurrent update of the same arm is retried).
pub async fn feedback(
    store: &dyn Store,
    rec: &Recommender,
    decision: &Decision,
    fb: &Feedback,
) -> Result<FeedbackApplied> {
    let r = recommendation_of(decision)?;
    let arm = r.product_id.as_str().to_string();
    let event = CustomerEvent {
        id: fb.event_id.clone(),
        customer_id: decision.customer_id.clone(),
        timestamp: fb.at,
        kind: fb.kind,
        product_id: Some(r.product_id.clone()),
        decision_id: Some(decision.id.clone()),
        value: None,
    };
    let config = bandit_config(&rec.rules);
    let answer = |applied: bool, arm_stats: Option<sextant_recommend::ArmStats>| FeedbackApplied {
        event_id: fb.event_id.clone(),
        decision_id: decision.id.clone(),
        customer_id: decision.customer_id.clone(),
        applied,
        arm: arm.clone(),
        arm_stats,
    };
    for _attempt in 0..16 {
        let previous = store.decision_events(&decision.id).await?;
        if previous.iter().any(|e| e.id == fb.event_id) {
            return Ok(answer(false, None));
        }
        let rows = store.bandit_arms(POLICY).await?;
        let row = rows.iter().find(|a| a.arm == arm);
        let mut bandit =
            bandit_from_rows(config.clone(), row.map(std::slice::from_ref).unwrap_or(&[]))?;
        let prev_kinds: Vec<EventKind> = previous.iter().map(|e| e.kind).collect();
        bandit.apply_feedback(&arm, &r.context, r.prior, &prev_kinds, fb.kind);
        let state = serde_json::to_string(&bandit.arms[&arm]).map_err(|e| IntelError::Corrupt {
            what: "bandit arm",
            reason: e.to_string(),
        })?;
        match store
            .record_feedback(&event, POLICY, &arm, &state, row.map_or(0, |r| r.version))
            .await?
        {
            sextant_store::FeedbackWrite::Written => {
                rec.invalidate();
                // Bandit-allocated experiments this decision was made under learn the change of
                // its reward (their pull was counted at assignment).
                let delta = decision_reward(&[prev_kinds.as_slice(), &[fb.kind]].concat())
                    - decision_reward(&prev_kinds);
                if delta != 0.0 {
                    let running = rec.experiments.running(store).await?;
                    for e in decision.payload["experiments"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        let (Some(exp), Some(arm)) = (e["experiment"].as_str(), e["arm"].as_str())
                        else {
                            continue;
                        };
                        if running.iter().any(|s| {
                            s.id == exp && s.allocation == sextant_experiment::Allocation::Bandit
                        }) && arm != crate::experiments::HOLDOUT
                        {
                            crate::experiments::learn(
                                store, &config, exp, arm, &r.context, delta, false,
                            )
                            .await?;
                        }
                    }
                }
                let stats = bandit.stats().into_iter().find(|s| s.arm == arm);
                return Ok(answer(true, stats));
            }
            sextant_store::FeedbackWrite::Duplicate => return Ok(answer(false, None)),
            sextant_store::FeedbackWrite::Conflict => continue,
        }
    }
    Err(IntelError::Busy("the bandit arm kept changing; try again"))
}

/// A reviewer's decision on a case.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub status: ReviewStatus,
    pub reviewer: String,
    pub note: Option<String>,
    /// For `Modified`: the recommendation as the reviewer changed it (e.g. a lower amount).
    pub modified: Option<serde_json::Value>,
    pub subject: String,
}

/// Resolve a pending review: audited; an approved or modified case is delivered on the
/// customer's next request; a rejection is a negative label for the bandit.
pub async fn resolve(
    store: &dyn Store,
    rec: &Recommender,
    review_id: &str,
    res: &Resolution,
) -> Result<std::result::Result<(ReviewCase, AuditEntry), ReviewStatus>> {
    let case = store
        .get_review(review_id)
        .await?
        .ok_or_else(|| IntelError::UnknownReview(review_id.to_string()))?;
    let decision = store
        .get_decision(&case.decision_id)
        .await?
        .ok_or_else(|| IntelError::UnknownReview(review_id.to_string()))?;
    let modified_payload = match (&res.status, &res.modified) {
        (ReviewStatus::Modified, Some(m)) => {
            let mut p = decision.payload.clone();
            p["recommendation"]["reviewer_changes"] = m.clone();
            Some(p)
        }
        _ => None,
    };
    let outcome = ReviewOutcome {
        status: res.status,
        reviewer: res.reviewer.clone(),
        note: res.note.clone(),
        modified_payload,
        at: sextant_store::now_micros(),
    };
    let audit = AuditRecord {
        actor: res.reviewer.clone(),
        action: format!("review.{}", res.status.as_str()),
        subject: res.subject.clone(),
        details: serde_json::json!({
            "review_id": review_id,
            "decision_id": case.decision_id.as_str(),
            "reason": case.reason,
            "has_note": res.note.is_some(),
        }),
    }
    // The reviewer's whole input (the note and changes are digested, not stored here).
    .with_inputs(&serde_json::json!({
        "review_id": review_id,
        "decision_id": case.decision_id.as_str(),
        "status": res.status.as_str(),
        "note": res.note,
        "modified_payload": outcome.modified_payload,
    }));
    match store.resolve_review(review_id, &outcome, audit).await? {
        None => Err(IntelError::UnknownReview(review_id.to_string())),
        Some(Err(status)) => Ok(Err(status)),
        Some(Ok(entry)) => {
            if res.status == ReviewStatus::Rejected {
                // A reviewer's rejection is a label: the bandit learns "not for this context".
                let fb = Feedback {
                    event_id: sextant_core::EventId::parse(&format!("review-{review_id}"))
                        .map_err(|e| IntelError::Corrupt {
                            what: "review id",
                            reason: e.to_string(),
                        })?,
                    decision_id: case.decision_id.clone(),
                    kind: EventKind::Dismiss,
                    at: Utc::now(),
                };
                feedback(store, rec, &decision, &fb).await?;
            }
            let case = store.get_review(review_id).await?.unwrap_or(case);
            Ok(Ok((case, entry)))
        }
    }
}

/// One resolved review case as a training label: the decision's scores and bandit context, and
/// whether the reviewer let it through (approved or modified) or not (rejected).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LabelRow {
    pub review_id: String,
    pub decision_id: String,
    pub product_id: String,
    pub family: String,
    /// Why it went to a human (`high_impact`, `low_confidence`, ...).
    pub reason: String,
    pub prior: f64,
    pub propensity: f64,
    pub confidence: f64,
    pub value: f64,
    pub context: Vec<f64>,
    pub label: bool,
}

/// Every resolved review case, oldest first, as a label for retraining (active learning: the
/// queue's uncertain samples come back here with a human's answer).
pub async fn review_labels(store: &dyn Store) -> Result<Vec<LabelRow>> {
    let (mut after, mut out) = (None, Vec::new());
    loop {
        let page = store.list_reviews(None, after.clone(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.id.clone()));
        for case in page {
            let label = match case.status {
                ReviewStatus::Pending => continue,
                ReviewStatus::Approved | ReviewStatus::Modified => true,
                ReviewStatus::Rejected => false,
            };
            let Some(d) = store.get_decision(&case.decision_id).await? else {
                continue;
            };
            let r = recommendation_of(&d)?;
            out.push(LabelRow {
                review_id: case.id,
                decision_id: d.id.to_string(),
                product_id: r.product_id.to_string(),
                family: r.family.as_str().to_string(),
                reason: case.reason["kind"].as_str().unwrap_or_default().to_string(),
                prior: r.prior,
                propensity: r.propensity,
                confidence: r.confidence,
                value: r.value,
                context: r.context,
                label,
            });
        }
    }
    Ok(out)
}
