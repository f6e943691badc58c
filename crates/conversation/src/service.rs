//! [`Assistant`]: one customer message in, one reply out, both turns saved.

use crate::config::AssistantConfig;
use crate::error::{ConversationError as E, Result};
use crate::goals::{GoalView, goal_progress_from, view};
use crate::llm::{LlmClient, LlmOutcome};
use crate::spending;
use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sextant_assistant::entities::{self, Entities, GoalKind, Period, ProductRef};
use sextant_assistant::goal::{self, Assumptions, GoalProfile, GoalRequest, PlanOutcome};
use sextant_assistant::language::{self, Facts, TemplateId, Tone};
use sextant_assistant::nlu::{Intent, IntentClassifier};
use sextant_assistant::sentiment::{self, HandoffReason};
use sextant_core::{
    AccountKind, AuditRecord, ConsentPurpose, CustomerId, CustomerMessage, Decision, DecisionId,
    MessageId,
};
use sextant_embed::Embed;
use sextant_kb::{Document, KnowledgeBase};
use sextant_store::{
    ConversationRow, GoalRow, KbDocumentRow, ReviewCase, ReviewStatus, Store, TurnRow,
};
use std::sync::Arc;

/// Longest customer message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2_000;
/// Channels a conversation may come through.
pub const CHANNELS: &[&str] = &[
    "app", "web", "chat", "email", "sms", "phone", "branch", "advisor",
];

/// Next best actions for the assistant's "what would you recommend?" (implemented by the server
/// over the recommendation engine, so consent, guardrails, review and audit stay in one place).
#[async_trait]
pub trait Advisor: Send + Sync {
    async fn recommend(
        &self,
        customer: &CustomerId,
        channel: &str,
        actor: &str,
    ) -> Result<Vec<Offer>, String>;
}

/// One offer the engine made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Offer {
    pub decision_id: String,
    pub product_id: String,
    pub product_name: String,
    /// The engine's customer-facing explanation.
    pub explanation: String,
}

/// A message from the customer.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Continue this conversation; a new one is started when absent.
    pub conversation_id: Option<String>,
    pub customer_id: CustomerId,
    pub channel: String,
    pub text: String,
    /// Who sent it (key id), for audit entries.
    pub actor: String,
    pub now: DateTime<Utc>,
}

/// A knowledge-base passage an answer used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Citation {
    pub doc_id: String,
    pub title: String,
    pub section: String,
    pub excerpt: String,
    pub score: f32,
}

/// The conversation went to a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Handoff {
    pub review_id: String,
    pub decision_id: String,
    /// `complaint`, `strongly_negative` or `urgent`.
    pub reason: String,
    /// False when the conversation was already with a reviewer (no second case is opened).
    pub new_case: bool,
}

/// How the reply's text was produced.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LanguageInfo {
    /// `template` or `llm`.
    pub backend: String,
    pub tone: String,
    /// The language model's outcome, when one is configured.
    #[schema(value_type = Option<Object>)]
    pub llm: Option<LlmOutcome>,
}

/// The assistant's answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reply {
    pub conversation_id: String,
    /// The assistant turn's number in the conversation.
    pub turn: i64,
    pub intent: String,
    pub confidence: f32,
    /// The customer message's sentiment (VADER compound with banking terms, −1..1).
    pub sentiment: f64,
    pub text: String,
    pub citations: Vec<Citation>,
    /// The facts the text was built from (every number in `text` is one of these).
    #[schema(value_type = Object)]
    pub facts: serde_json::Value,
    /// The goal this turn created, with its roadmap link.
    pub goal: Option<GoalView>,
    pub offers: Vec<Offer>,
    pub handoff: Option<Handoff>,
    pub language: LanguageInfo,
}

/// A stored turn as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TurnView {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub role: String,
    pub channel: String,
    pub text: String,
    pub intent: Option<String>,
    pub sentiment: Option<f64>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// What a conversation remembers between turns (stored as JSON, encrypted at rest).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    /// A goal waiting for its horizon (or amount).
    pending_goal: Option<PendingGoal>,
    last_intent: Option<String>,
    /// The last spending question's slots, for follow-ups ("and in September?").
    last_categories: Vec<sextant_core::Category>,
    last_period: Option<Period>,
    /// The horizon already given for a goal still waiting for its amount.
    pending_horizon: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingGoal {
    kind: GoalKind,
    target_minor: Option<i64>,
}

/// The assistant: models, knowledge base and store handles. Share it behind an `Arc`.
pub struct Assistant {
    store: Arc<dyn Store>,
    embedder: Arc<dyn Embed>,
    kb: KnowledgeBase,
    /// The version of each document in the index, to follow edits made by other processes.
    kb_versions: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    classifier: IntentClassifier,
    catalog: Vec<ProductRef>,
    product_names: Vec<String>,
    llm: Option<LlmClient>,
    advisor: Option<Arc<dyn Advisor>>,
    consent_defaults: Vec<ConsentPurpose>,
    cfg: AssistantConfig,
}

impl std::fmt::Debug for Assistant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assistant")
            .field("kb_passages", &self.kb.len())
            .finish()
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> E {
    E::Invalid {
        field,
        reason: reason.into(),
    }
}

fn row_to_doc(r: &KbDocumentRow) -> Document {
    Document {
        id: r.id.clone(),
        title: r.title.clone(),
        tags: r.tags.clone(),
        body: r.body.clone(),
    }
}

impl Assistant {
    /// Build the assistant: embed the intent examples, load the knowledge base from the store
    /// (seeding an empty one from `cfg.kb_dir`) and index it.
    pub async fn open(
        store: Arc<dyn Store>,
        embedder: Arc<dyn Embed>,
        cfg: AssistantConfig,
        consent_defaults: Vec<ConsentPurpose>,
        advisor: Option<Arc<dyn Advisor>>,
    ) -> Result<Self> {
        cfg.validate().map_err(|r| invalid("config", r))?;
        let mut rows = store.assistant().kb_list().await?;
        if rows.is_empty()
            && let Some(dir) = cfg.kb_dir.clone().or_else(|| {
                let d = std::path::PathBuf::from("kb");
                d.is_dir().then_some(d)
            })
        {
            let docs = sextant_kb::load_dir(&dir)?;
            let now = sextant_store::now_micros();
            for d in &docs {
                store
                    .assistant()
                    .kb_put(&KbDocumentRow {
                        id: d.id.clone(),
                        title: d.title.clone(),
                        tags: d.tags.clone(),
                        body: d.body.clone(),
                        version: 0,
                        updated_at: now,
                        updated_by: "seed".into(),
                    })
                    .await?;
            }
            tracing::info!(documents = docs.len(), dir = %dir.display(), "knowledge base seeded");
            rows = store.assistant().kb_list().await?;
        }
        let docs: Vec<Document> = rows.iter().map(row_to_doc).collect();

        // Vectors computed by an earlier start come from the store; the model computes the rest.
        let examples = sextant_assistant::nlu::training_examples();
        let mut texts: Vec<String> = examples.iter().map(|(_, t)| t.to_string()).collect();
        for d in &docs {
            texts.extend(sextant_kb::chunk(d).iter().map(sextant_kb::embedding_input));
        }
        let model_id = embedder.model_id().to_string();
        let keys: Vec<String> = texts.iter().map(|t| crate::cache::digest(t)).collect();
        let stored = store.assistant().embeddings_get(&model_id, &keys).await?;
        let known = texts
            .iter()
            .zip(&keys)
            .filter_map(|(t, k)| {
                Some((
                    t.clone(),
                    crate::cache::decode(stored.get(k)?, embedder.dim())?,
                ))
            })
            .collect();
        let pre = Arc::new(crate::cache::Preloaded::new(embedder.clone(), known));
        let (classifier, kb) = {
            let pre = pre.clone();
            tokio::task::spawn_blocking(move || -> Result<(IntentClassifier, KnowledgeBase)> {
                let train: Vec<&str> = examples.iter().map(|(_, t)| *t).collect();
                let vectors = pre.embed(&train)?;
                let classifier =
                    IntentClassifier::new(examples.iter().map(|(i, _)| *i).zip(vectors).collect());
                let kb = KnowledgeBase::new(pre)?;
                kb.upsert(&docs)?;
                Ok((classifier, kb))
            })
            .await
            .map_err(|e| E::Language(e.to_string()))??
        };
        let fresh = pre.finish_startup();
        if !fresh.is_empty() {
            store.assistant().embeddings_put(&model_id, &fresh).await?;
        }
        tracing::info!(
            cached = pre.hits(),
            computed = fresh.len(),
            "embeddings at start-up"
        );

        let products = store.list_products().await?;
        let catalog: Vec<ProductRef> = products
            .iter()
            .map(|p| ProductRef {
                id: p.id.as_str().to_string(),
                name: p.name.clone(),
                family: p.family,
            })
            .collect();
        let product_names = products.iter().map(|p| p.name.clone()).collect();
        let llm = match &cfg.llm {
            Some(l) => Some(LlmClient::new(l).map_err(|r| invalid("assistant.llm", r))?),
            None => None,
        };
        tracing::info!(
            passages = kb.len(),
            intents = texts.len(),
            "assistant ready"
        );
        Ok(Self {
            store,
            embedder,
            kb,
            kb_versions: std::sync::Mutex::new(
                rows.iter().map(|r| (r.id.clone(), r.version)).collect(),
            ),
            classifier,
            catalog,
            product_names,
            llm,
            advisor,
            consent_defaults,
            cfg,
        })
    }

    /// The knowledge base (for search and evaluation).
    pub fn kb(&self) -> &KnowledgeBase {
        &self.kb
    }

    /// Answer one message. See the crate docs for the steps.
    pub async fn message(&self, m: Incoming) -> Result<Reply> {
        let text = m.text.trim();
        if text.is_empty() {
            return Err(invalid("text", "must not be empty"));
        }
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(invalid(
                "text",
                format!("longer than {MAX_MESSAGE_CHARS} characters"),
            ));
        }
        if !CHANNELS.contains(&m.channel.as_str()) {
            return Err(invalid(
                "channel",
                format!(
                    "'{}' is not one of {}",
                    sextant_core::text::preview(&m.channel),
                    CHANNELS.join(", ")
                ),
            ));
        }
        let consents = self
            .store
            .consent_state(&m.customer_id, &self.consent_defaults)
            .await?
            .ok_or_else(|| E::UnknownCustomer(m.customer_id.to_string()))?;
        let profiling = consents.allows(ConsentPurpose::Profiling);

        let a = self.store.assistant();
        let (mut conv, expected) = match &m.conversation_id {
            Some(id) => {
                let c = a
                    .conversation(id)
                    .await?
                    .ok_or_else(|| E::UnknownConversation(id.clone()))?;
                if c.customer_id != m.customer_id.as_str() {
                    return Err(E::NotYours(id.clone()));
                }
                let v = c.version;
                (c, v)
            }
            None => (
                ConversationRow {
                    id: format!("conv_{}", uuid::Uuid::now_v7().simple()),
                    customer_id: m.customer_id.as_str().to_string(),
                    channel: m.channel.clone(),
                    created_at: m.now.timestamp_micros(),
                    updated_at: m.now.timestamp_micros(),
                    state: "{}".into(),
                    handed_off: false,
                    version: 0,
                },
                0,
            ),
        };
        let mut state: State = serde_json::from_str(&conv.state).unwrap_or_default();
        let last_seq = if expected == 0 {
            0
        } else {
            a.recent_turns(&conv.id, 1)
                .await?
                .last()
                .map(|t| t.seq)
                .unwrap_or(0)
        };

        // Understand.
        let senti = sentiment::score(text);
        let embedding = {
            let e = self.embedder.clone();
            let t = text.to_string();
            tokio::task::spawn_blocking(move || e.embed_one(&t))
                .await
                .map_err(|e| E::Language(e.to_string()))??
        };
        let class = self.classifier.classify(text, &embedding);
        let today = m.now.date_naive();
        let ents = entities::extract(text, today, &self.catalog);
        let intent = route(class.intent, &ents, &state);
        let tone = language::tone_for(Some(senti.compound));

        // Act.
        let mut out = Draft::default();
        match intent {
            Intent::GoalPlanning => {
                self.goal(&m, &ents, &mut state, profiling, &mut out)
                    .await?
            }
            Intent::ProductQuestion => self.product_answer(text, &mut out)?,
            Intent::SpendingQuestion => self.spending(&m, &ents, &mut state, &mut out).await?,
            Intent::RecommendationRequest => self.recommend(&m, &mut out).await?,
            Intent::Complaint => {}
            Intent::Greeting => out.template(TemplateId::Greeting, Facts::new()),
            Intent::Fallback => out.template(TemplateId::Fallback, Facts::new()),
        }
        if intent != Intent::GoalPlanning {
            state.pending_goal = None;
        }
        let reason = sentiment::needs_handoff(&senti, intent).or_else(|| {
            (senti.compound <= self.cfg.handoff_sentiment)
                .then_some(HandoffReason::StronglyNegative)
        });
        if let Some(reason) = reason {
            let h = self
                .handoff(&m, &mut conv, reason, intent, senti.compound)
                .await?;
            // The hand-off message leads; an answer already drafted (e.g. the fee asked about)
            // follows it.
            out.prefix = Some((
                TemplateId::Handoff,
                Facts::new().text("reference", &h.review_id),
            ));
            out.handoff = Some(h);
        }

        // Phrase.
        let draft = out.render(tone, variant(&conv.id, last_seq))?;
        let all_facts = out.facts();
        let (text_out, llm) = match &self.llm {
            Some(client) => {
                let (t, o) = client
                    .rephrase(&draft, &all_facts, &self.product_names)
                    .await;
                (t, Some(o))
            }
            None => (draft, None),
        };
        let backend = if matches!(llm, Some(LlmOutcome::Accepted)) {
            "llm"
        } else {
            "template"
        };

        // Remember.
        state.last_intent = Some(intent.as_str().into());
        conv.state = serde_json::to_string(&state).map_err(|e| E::Language(e.to_string()))?;
        conv.updated_at = m.now.timestamp_micros();
        let at = m.now.timestamp_micros();
        let facts_json = serde_json::to_value(&all_facts).unwrap_or_default();
        let payload = serde_json::json!({
            "citations": out.citations, "facts": facts_json,
            "goal_id": out.goal.as_ref().map(|g| g.id.clone()),
            "offers": out.offers, "handoff": out.handoff, "backend": backend,
        });
        let turns = [
            TurnRow {
                conversation_id: conv.id.clone(),
                seq: last_seq + 1,
                customer_id: conv.customer_id.clone(),
                at,
                role: "customer".into(),
                channel: m.channel.clone(),
                text: text.to_string(),
                intent: Some(intent.as_str().into()),
                sentiment: Some(senti.compound),
                payload: serde_json::json!({ "confidence": class.confidence, "entities": ents })
                    .to_string(),
            },
            TurnRow {
                conversation_id: conv.id.clone(),
                seq: last_seq + 2,
                customer_id: conv.customer_id.clone(),
                at,
                role: "assistant".into(),
                channel: m.channel.clone(),
                text: text_out.clone(),
                intent: Some(intent.as_str().into()),
                sentiment: None,
                payload: payload.to_string(),
            },
        ];
        match a.save_turns(&conv, expected, &turns).await {
            Ok(_) => {}
            Err(sextant_store::StoreError::Conflict(_)) => {
                return Err(E::Conflict(conv.id.clone()));
            }
            Err(e) => return Err(e.into()),
        }
        // The customer's words are a customer message like any other (the churn features and
        // the rolling profile sentiment read them).
        let msg_id = MessageId::parse(&format!("msg_{}_{}", conv.id, last_seq + 1))
            .map_err(|e| invalid("conversation_id", e.to_string()))?;
        a.insert_message(&CustomerMessage {
            id: msg_id,
            customer_id: m.customer_id.clone(),
            timestamp: m.now,
            channel: m.channel.clone(),
            body: text.to_string(),
            sentiment: Some(senti.compound),
        })
        .await?;
        if profiling {
            let previous = self
                .store
                .get_customer(&m.customer_id)
                .await?
                .map(|c| c.sentiment_score.value());
            a.set_customer_sentiment(
                m.customer_id.as_str(),
                sentiment::rolling(previous, senti.compound),
            )
            .await?;
        }

        Ok(Reply {
            conversation_id: conv.id,
            turn: last_seq + 2,
            intent: intent.as_str().into(),
            confidence: class.confidence,
            sentiment: senti.compound,
            text: text_out,
            citations: out.citations,
            facts: facts_json,
            goal: out.goal,
            offers: out.offers,
            handoff: out.handoff,
            language: LanguageInfo {
                backend: backend.into(),
                tone: tone_name(tone).into(),
                llm,
            },
        })
    }

    async fn goal(
        &self,
        m: &Incoming,
        ents: &Entities,
        state: &mut State,
        profiling: bool,
        out: &mut Draft,
    ) -> Result<()> {
        let pending = state.pending_goal.take();
        let kind = ents
            .goal
            .or(pending.as_ref().map(|p| p.kind))
            .unwrap_or(GoalKind::Other);
        let target = ents
            .amounts
            .iter()
            .map(|a| a.minor)
            .max()
            .or(pending.as_ref().and_then(|p| p.target_minor));
        let horizon = ents.horizon_months.or(state.pending_horizon.take());
        let req = GoalRequest {
            kind,
            target_minor: target,
            horizon_months: horizon,
        };
        let profile = self.goal_profile(&m.customer_id, profiling).await?;
        let today = m.now.date_naive();
        match goal::plan(&req, &profile, today, &Assumptions::default()) {
            PlanOutcome::NeedsHorizon { kind, target_minor } => {
                state.pending_goal = Some(PendingGoal { kind, target_minor });
                let mut f = Facts::new().text("goal", kind.label());
                if let Some(t) = target_minor {
                    f = f.money("target", t, "EUR");
                }
                out.template(TemplateId::GoalNeedsHorizon, f);
            }
            PlanOutcome::NeedsTarget {
                kind,
                horizon_months,
            } => {
                state.pending_goal = Some(PendingGoal {
                    kind,
                    target_minor: None,
                });
                state.pending_horizon = horizon_months;
                let mut f = Facts::new().text("goal", kind.label());
                if let Some(h) = horizon_months {
                    f = f.months("horizon", h);
                }
                out.template(TemplateId::GoalNeedsTarget, f);
            }
            PlanOutcome::Plan(plan) => {
                state.pending_horizon = None;
                let id = format!("goal_{}", uuid::Uuid::now_v7().simple());
                let row = GoalRow {
                    id: id.clone(),
                    customer_id: m.customer_id.as_str().to_string(),
                    kind: serde_json::to_value(plan.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_else(|| "other".into()),
                    name: plan.kind.label().to_string(),
                    target_minor: plan.target_minor,
                    currency: "EUR".into(),
                    start_date: plan.start.format("%Y-%m-%d").to_string(),
                    target_date: plan.target_date.format("%Y-%m-%d").to_string(),
                    monthly_contribution_minor: plan.monthly_contribution_minor,
                    plan: serde_json::to_string(&plan).map_err(|e| E::Language(e.to_string()))?,
                    saved_minor: plan.start_minor,
                    status: "active".into(),
                    created_at: m.now.timestamp_micros(),
                    updated_at: m.now.timestamp_micros(),
                };
                self.store.assistant().goal_put(&row).await?;
                out.template(TemplateId::GoalPlan, plan.facts());
                // Said plainly when the target was estimated, and when the profile was not used
                // (sentences built here from text, never by a model; no figure of their own
                // except the estimate's stated basis).
                // (The template states an estimated target's basis.)
                if !profiling {
                    out.extra.push(
                        "I did not use your profile (you have not allowed profiling), so I could not check what you can afford.".into(),
                    );
                } else if !plan.affordable {
                    out.extra.push(
                        "This is more than your usual monthly surplus. A longer time frame or a smaller target would make it easier.".into(),
                    );
                }
                out.goal = Some(view(&row, plan.start_minor, today));
            }
        }
        Ok(())
    }

    /// Income, spending and savings for goal planning; zeros (and a note) without profiling.
    async fn goal_profile(&self, id: &CustomerId, profiling: bool) -> Result<GoalProfile> {
        let customer = self
            .store
            .get_customer(id)
            .await?
            .ok_or_else(|| E::UnknownCustomer(id.to_string()))?;
        if !profiling {
            return Ok(GoalProfile {
                monthly_income_minor: 0,
                monthly_essential_spend_minor: 0,
                monthly_free_cash_minor: 0,
                current_savings_minor: 0,
                risk: customer.risk_profile,
                age: None,
            });
        }
        let features =
            self.store.get_features(id).await?.and_then(|r| {
                serde_json::from_str::<sextant_features::FeatureVector>(&r.vector).ok()
            });
        let get = |n: &str| features.as_ref().and_then(|f| f.get(n));
        let income = get("monthly_income")
            .or_else(|| Some(customer.income.minor as f64 / 100.0 / 12.0))
            .unwrap_or(0.0);
        let spend = get("monthly_spend").unwrap_or(0.0);
        let essential = spend * (1.0 - get("discretionary_share").unwrap_or(0.3));
        let savings: i64 = self
            .store
            .list_accounts(id)
            .await?
            .iter()
            .filter(|a| a.kind == AccountKind::Savings)
            .map(|a| a.balance.minor.max(0))
            .sum();
        Ok(GoalProfile {
            monthly_income_minor: (income * 100.0).round() as i64,
            monthly_essential_spend_minor: (essential * 100.0).round() as i64,
            monthly_free_cash_minor: ((income - spend) * 100.0).round() as i64,
            current_savings_minor: savings,
            risk: customer.risk_profile,
            age: Some(u32::from(customer.age)),
        })
    }

    fn product_answer(&self, text: &str, out: &mut Draft) -> Result<()> {
        let hits = self.kb.search(text, self.cfg.citations)?;
        if hits.is_empty() {
            out.template(TemplateId::Fallback, Facts::new());
            return Ok(());
        }
        for h in &hits {
            out.citations.push(Citation {
                doc_id: h.passage.doc_id.clone(),
                title: h.passage.title.clone(),
                section: h.passage.section.clone(),
                excerpt: excerpt(&plain(&h.passage.text)),
                score: h.score,
            });
        }
        // The answer quotes the best passage; the others are cited for the customer to open.
        let best = &hits[0].passage;
        let topic = best.section.rsplit(" > ").next().unwrap_or(&best.title);
        let answer = format!("About {topic}: {}", excerpt(&plain(&best.text)));
        let mut facts = Facts::new().text("answer", &answer);
        if let Some(p) = self
            .catalog
            .iter()
            .find(|p| hits[0].passage.text.contains(&p.name))
        {
            facts = facts.product("product", &p.id, &p.name);
        }
        out.template(TemplateId::ProductAnswer, facts);
        Ok(())
    }

    async fn spending(
        &self,
        m: &Incoming,
        ents: &Entities,
        state: &mut State,
        out: &mut Draft,
    ) -> Result<()> {
        let today = m.now.date_naive();
        let period = ents
            .period
            .clone()
            .or_else(|| state.last_period.clone())
            .unwrap_or_else(|| last_month(today));
        let categories = if ents.categories.is_empty() && ents.period.is_some() {
            state.last_categories.clone()
        } else {
            ents.categories.clone()
        };
        let txs = self.store.all_transactions(&m.customer_id).await?;
        let f = spending::figures(&txs, period.from, period.to, &categories);
        state.last_period = Some(period.clone());
        state.last_categories = categories.clone();
        if f.transactions == 0 {
            let name = categories
                .first()
                .map(|c| c.to_string().replace('_', " "))
                .unwrap_or_else(|| "card or account".into());
            out.template(
                TemplateId::SpendingNone,
                Facts::new()
                    .text("category", &name)
                    .text("period", &period.label),
            );
            return Ok(());
        }
        let cur = f.currency.clone();
        let label = period.label.clone();
        if categories.is_empty() {
            if f.total_spend_minor == 0 {
                out.template(
                    TemplateId::SpendingNone,
                    Facts::new()
                        .text("category", "card or account")
                        .text("period", &label),
                );
            } else {
                out.template(
                    TemplateId::SpendingAnswer,
                    Facts::new()
                        .money("amount", f.total_spend_minor, &cur)
                        .text("category", "everything")
                        .text("period", &label),
                );
                if let Some(top) = f.top.first() {
                    out.template(
                        TemplateId::InsightSummary,
                        Facts::new()
                            .text("category", &top.category.to_string().replace('_', " "))
                            .money("amount", top.minor, &cur)
                            .text("period", &label),
                    );
                }
            }
        } else {
            for c in f.asked.iter().take(3) {
                let name = c.category.to_string().replace('_', " ");
                if c.transactions == 0 {
                    out.template(
                        TemplateId::SpendingNone,
                        Facts::new().text("category", &name).text("period", &label),
                    );
                } else {
                    out.template(
                        TemplateId::SpendingAnswer,
                        Facts::new()
                            .money("amount", c.minor, &cur)
                            .text("category", &name)
                            .text("period", &label)
                            .count("count", i64::from(c.transactions)),
                    );
                }
            }
        }
        Ok(())
    }

    async fn recommend(&self, m: &Incoming, out: &mut Draft) -> Result<()> {
        let offers = match &self.advisor {
            Some(a) => a
                .recommend(&m.customer_id, &m.channel, &m.actor)
                .await
                .map_err(E::Advisor)?,
            None => Vec::new(),
        };
        if offers.is_empty() {
            out.template(TemplateId::NoRecommendation, Facts::new());
            return Ok(());
        }
        for o in offers.iter().take(2) {
            out.template(
                TemplateId::Recommendation,
                Facts::new()
                    .product("product", &o.product_id, &o.product_name)
                    .text("reason", &o.explanation),
            );
        }
        out.offers = offers;
        Ok(())
    }

    /// Open a review case (one per conversation), with an audit entry; the reviewer reads the
    /// turns (encrypted at rest) through the conversation, so no message text is copied into
    /// the decision.
    async fn handoff(
        &self,
        m: &Incoming,
        conv: &mut ConversationRow,
        reason: HandoffReason,
        intent: Intent,
        sentiment: f64,
    ) -> Result<Handoff> {
        let reason_name = match reason {
            HandoffReason::Complaint => "complaint",
            HandoffReason::StronglyNegative => "strongly_negative",
            HandoffReason::Urgent => "urgent",
        };
        let short = &conv.id[conv.id.len().saturating_sub(26)..];
        let decision_id = DecisionId::parse(&format!("dec_handoff_{short}"))
            .map_err(|e| invalid("conversation_id", e.to_string()))?;
        let review_id = format!("rev_handoff_{short}");
        if conv.handed_off || self.store.get_decision(&decision_id).await?.is_some() {
            conv.handed_off = true;
            return Ok(Handoff {
                review_id,
                decision_id: decision_id.to_string(),
                reason: reason_name.into(),
                new_case: false,
            });
        }
        let decision = Decision {
            id: decision_id.clone(),
            customer_id: m.customer_id.clone(),
            at: m.now,
            kind: "assistant_handoff".into(),
            versions: serde_json::json!({ "embedding_model": self.embedder.model_id() }),
            payload: serde_json::json!({
                "conversation_id": conv.id, "reason": reason_name,
                "intent": intent.as_str(), "sentiment": sentiment, "channel": m.channel,
            }),
            status: "pending_review".into(),
        };
        let review = ReviewCase {
            id: review_id.clone(),
            decision_id: decision_id.clone(),
            customer_id: m.customer_id.clone(),
            created_at: m.now.timestamp_micros(),
            reason: serde_json::json!({
                "kind": "assistant_handoff", "reason": reason_name, "conversation_id": conv.id,
                "sentiment": sentiment, "intent": intent.as_str(),
            }),
            status: ReviewStatus::Pending,
            reviewer: None,
            note: None,
            resolved_at: None,
            modified_payload: None,
        };
        let audit = AuditRecord {
            actor: m.actor.clone(),
            action: "assistant.handoff".into(),
            subject: m.customer_id.as_str().to_string(),
            details: serde_json::json!({ "conversation_id": conv.id, "review_id": review_id, "reason": reason_name }),
        };
        self.store
            .record_decisions(&[decision], &[review], audit)
            .await?;
        conv.handed_off = true;
        Ok(Handoff {
            review_id,
            decision_id: decision_id.to_string(),
            reason: reason_name.into(),
            new_case: true,
        })
    }

    /// A conversation's turns (oldest first), for the customer it belongs to or staff.
    pub async fn conversation(
        &self,
        id: &str,
        customer: Option<&CustomerId>,
    ) -> Result<(ConversationRow, Vec<TurnView>)> {
        let a = self.store.assistant();
        let c = a
            .conversation(id)
            .await?
            .ok_or_else(|| E::UnknownConversation(id.into()))?;
        if let Some(cu) = customer
            && cu.as_str() != c.customer_id
        {
            return Err(E::NotYours(id.into()));
        }
        let turns = a
            .recent_turns(id, 1_000)
            .await?
            .into_iter()
            .map(|t| TurnView {
                seq: t.seq,
                at: DateTime::from_timestamp_micros(t.at).unwrap_or_default(),
                role: t.role,
                channel: t.channel,
                text: t.text,
                intent: t.intent,
                sentiment: t.sentiment,
                payload: serde_json::from_str(&t.payload).unwrap_or_default(),
            })
            .collect();
        Ok((c, turns))
    }

    /// The customer's goals with progress measured from their transactions now (and stored).
    pub async fn goals(&self, id: &CustomerId, today: NaiveDate) -> Result<Vec<GoalView>> {
        if self.store.get_customer(id).await?.is_none() {
            return Err(E::UnknownCustomer(id.to_string()));
        }
        let a = self.store.assistant();
        let rows = a.goals(id.as_str()).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let accounts = self.store.list_accounts(id).await?;
        let txs = self.store.all_transactions(id).await?;
        let mut out = Vec::with_capacity(rows.len());
        for g in rows {
            let start = NaiveDate::parse_from_str(&g.start_date, "%Y-%m-%d").unwrap_or(today);
            // The plan starts from the savings already held; contributions since add to them.
            let start_minor = serde_json::from_str::<serde_json::Value>(&g.plan)
                .ok()
                .and_then(|p| p["start_minor"].as_i64())
                .unwrap_or(0);
            let saved = start_minor + goal_progress_from(&accounts, &txs, start);
            let status = if g.status == "active" && saved >= g.target_minor {
                "achieved".to_string()
            } else {
                g.status.clone()
            };
            if saved != g.saved_minor || status != g.status {
                a.goal_progress(&g.id, saved, &status, sextant_store::now_micros())
                    .await?;
            }
            let mut g = g;
            g.saved_minor = saved;
            g.status = status;
            out.push(view(&g, saved, today));
        }
        Ok(out)
    }

    /// The roadmap chart of one goal (SVG).
    pub async fn roadmap(&self, id: &CustomerId, goal_id: &str) -> Result<String> {
        let g = self
            .store
            .assistant()
            .goal(goal_id)
            .await?
            .filter(|g| g.customer_id == id.as_str())
            .ok_or_else(|| E::UnknownGoal(goal_id.into()))?;
        let plan: goal::GoalPlan = serde_json::from_str(&g.plan).map_err(|e| E::Corrupt {
            what: "goal plan",
            reason: e.to_string(),
        })?;
        Ok(goal::roadmap_svg(&plan))
    }

    /// Add or replace a knowledge-base document (store first, then the index).
    pub async fn kb_put(&self, doc: Document, by: &str) -> Result<i64> {
        let version = self
            .store
            .assistant()
            .kb_put(&KbDocumentRow {
                id: doc.id.clone(),
                title: doc.title.clone(),
                tags: doc.tags.clone(),
                body: doc.body.clone(),
                version: 0,
                updated_at: sextant_store::now_micros(),
                updated_by: by.into(),
            })
            .await?;
        let id = doc.id.clone();
        self.kb.upsert(&[doc])?;
        self.versions().insert(id, version);
        Ok(version)
    }

    /// Delete a knowledge-base document; false if there was none.
    pub async fn kb_delete(&self, id: &str) -> Result<bool> {
        let gone = self.store.assistant().kb_delete(id).await?;
        self.kb.delete(id)?;
        self.versions().remove(id);
        Ok(gone)
    }

    fn versions(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, i64>> {
        self.kb_versions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bring the index up to date with the store: documents another process (or `sextant kb`)
    /// added, changed or deleted. Returns (re-indexed, removed).
    pub async fn refresh_kb(&self) -> Result<(usize, usize)> {
        let a = self.store.assistant();
        // Versions only: a follower checks often, and documents rarely change.
        let versions = a.kb_versions().await?;
        let (stale, gone): (Vec<String>, Vec<String>) = {
            let known = self.versions();
            let stored: std::collections::HashSet<&str> =
                versions.iter().map(|(id, _)| id.as_str()).collect();
            (
                versions
                    .iter()
                    .filter(|(id, v)| known.get(id) != Some(v))
                    .map(|(id, _)| id.clone())
                    .collect(),
                known
                    .keys()
                    .filter(|k| !stored.contains(k.as_str()))
                    .cloned()
                    .collect(),
            )
        };
        let mut rows = Vec::with_capacity(stale.len());
        for id in &stale {
            // Deleted since the version list was read: the next check removes it.
            if let Some(r) = a.kb_get(id).await? {
                rows.push(r);
            }
        }
        let changed: Vec<Document> = rows.iter().map(row_to_doc).collect();
        if !changed.is_empty() {
            self.kb.upsert(&changed)?;
        }
        for id in &gone {
            self.kb.delete(id)?;
        }
        let mut known = self.versions();
        for r in &rows {
            known.insert(r.id.clone(), r.version);
        }
        for id in &gone {
            known.remove(id);
        }
        if !changed.is_empty() || !gone.is_empty() {
            tracing::info!(
                reindexed = changed.len(),
                removed = gone.len(),
                "knowledge base refreshed from the store"
            );
        }
        Ok((changed.len(), gone.len()))
    }

    /// Refresh the index from the store every `every` until the task is aborted (scale-out:
    /// an edit through one server reaches the others within that time).
    pub fn spawn_kb_refresh(
        self: &Arc<Self>,
        every: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(a) = me.upgrade() else { return };
                if let Err(e) = a.refresh_kb().await {
                    tracing::warn!(error = %e, "knowledge base refresh failed; retrying later");
                }
            }
        })
    }

    /// Score every stored message that has no sentiment yet; returns how many were scored.
    pub async fn score_messages(&self) -> Result<u64> {
        score_unscored(self.store.as_ref()).await
    }
}

/// Score every stored message without a sentiment (imports carry none), in pages.
pub async fn score_unscored(store: &dyn Store) -> Result<u64> {
    let a = store.assistant();
    let mut after: Option<String> = None;
    let mut n = 0u64;
    loop {
        let page = a.unscored_messages(after.as_deref(), 1_000).await?;
        if page.is_empty() {
            return Ok(n);
        }
        for msg in &page {
            a.set_message_sentiment(&msg.id, sentiment::score(&msg.body).compound)
                .await?;
            n += 1;
        }
        after = page.last().map(|m| m.id.as_str().to_string());
    }
}

/// Context beats a weak classification: a horizon or amount right after "what's your
/// timeline?" continues the goal; a bare period or category after a spending answer is a
/// follow-up question.
fn route(intent: Intent, ents: &Entities, state: &State) -> Intent {
    let answering_goal =
        state.pending_goal.is_some() && (ents.horizon_months.is_some() || !ents.amounts.is_empty());
    if answering_goal
        && matches!(
            intent,
            Intent::Fallback | Intent::Greeting | Intent::GoalPlanning | Intent::SpendingQuestion
        )
    {
        return Intent::GoalPlanning;
    }
    let follow_up = state.last_intent.as_deref() == Some("spending_question")
        && (ents.period.is_some() || !ents.categories.is_empty());
    if follow_up && matches!(intent, Intent::Fallback | Intent::Greeting) {
        return Intent::SpendingQuestion;
    }
    intent
}

fn last_month(today: NaiveDate) -> Period {
    let first_this = today.with_day(1).unwrap_or(today);
    let to = first_this.pred_opt().unwrap_or(first_this);
    let from = to.with_day(1).unwrap_or(to);
    Period {
        from,
        to,
        label: "last month".into(),
    }
}

/// Markdown passage → plain sentences: list markers and emphasis dropped, each line a sentence.
fn plain(markdown: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in markdown.lines() {
        let mut l = line.trim();
        for marker in ["- ", "* ", "+ "] {
            if let Some(rest) = l.strip_prefix(marker) {
                l = rest;
            }
        }
        if let Some((n, rest)) = l.split_once(". ")
            && !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit())
        {
            l = rest;
        }
        let l = l
            .trim_start_matches('#')
            .trim()
            .replace("**", "")
            .replace('`', "");
        if l.is_empty() || l.starts_with('|') {
            continue;
        }
        if l.ends_with(['.', '!', '?', ':']) {
            out.push(l);
        } else {
            out.push(format!("{l}."));
        }
    }
    out.join(" ")
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 400;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX).collect();
    match cut.rfind(". ") {
        Some(i) if i > MAX / 2 => cut[..=i].to_string(),
        _ => format!("{}…", cut.trim_end()),
    }
}

fn variant(conversation: &str, seq: i64) -> u64 {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{conversation}:{seq}").as_bytes());
    u64::from_le_bytes(h[..8].try_into().expect("8 bytes"))
}

fn tone_name(t: Tone) -> &'static str {
    match t {
        Tone::Warm => "warm",
        Tone::Neutral => "neutral",
        Tone::Reassuring => "reassuring",
    }
}

/// The answer being built: template parts with their facts, fixed extra sentences, and what the
/// API returns beside the text.
#[derive(Default)]
struct Draft {
    parts: Vec<(TemplateId, Facts)>,
    extra: Vec<String>,
    prefix: Option<(TemplateId, Facts)>,
    citations: Vec<Citation>,
    goal: Option<GoalView>,
    offers: Vec<Offer>,
    handoff: Option<Handoff>,
}

impl Draft {
    fn template(&mut self, id: TemplateId, facts: Facts) {
        self.parts.push((id, facts));
    }

    /// Every fact of every part: what the guard checks the final text against. Parts may use
    /// the same keys ("amount" in two spending answers), so all are kept side by side rather
    /// than one replacing another.
    fn facts(&self) -> Facts {
        Facts(
            self.prefix
                .iter()
                .chain(&self.parts)
                .flat_map(|(_, f)| f.0.iter().cloned())
                .collect(),
        )
    }

    /// Every part in the neutral wording, then one tone opening and closing around the whole
    /// (greetings and fallbacks alone are not wrapped: they are already conversational).
    fn render(&self, tone: Tone, variant: u64) -> Result<String> {
        let mut out: Vec<String> = Vec::new();
        let mut toned = false;
        for (i, (t, f)) in self.prefix.iter().chain(&self.parts).enumerate() {
            toned |= !matches!(t, TemplateId::Greeting | TemplateId::Fallback);
            out.push(
                language::render(*t, f, Tone::Neutral, variant.wrapping_add(i as u64))
                    .map_err(|e| E::Language(e.to_string()))?,
            );
        }
        out.extend(self.extra.iter().cloned());
        let body = out.join(" ");
        Ok(if toned {
            language::with_tone(&body, tone, variant)
        } else {
            body
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passages_become_plain_sentences() {
        let md = "- Interest rate: 1.75% a year, variable\n- **No fees**.\n\n1. Open the app\n## Heading\nDone!";
        assert_eq!(
            plain(md),
            "Interest rate: 1.75% a year, variable. No fees. Open the app. Heading. Done!"
        );
    }

    #[test]
    fn several_parts_get_one_tone_opening_and_closing() {
        let mut d = Draft::default();
        for (cat, minor) in [("restaurants", 4_100), ("groceries", 31_000)] {
            d.template(
                TemplateId::SpendingAnswer,
                Facts::new()
                    .money("amount", minor, "EUR")
                    .text("category", cat)
                    .text("period", "last month"),
            );
        }
        let neutral = d.render(Tone::Neutral, 0).unwrap();
        let warm = d.render(Tone::Warm, 0).unwrap();
        assert!(warm.len() > neutral.len());
        assert!(warm.contains(&neutral), "{warm} / {neutral}");
        let openers = ["Happy to help.", "Glad you asked.", "Sure thing."];
        assert_eq!(
            openers
                .iter()
                .map(|o| warm.matches(o).count())
                .sum::<usize>(),
            1,
            "{warm}"
        );
        let guarded = language::guard(&warm, &d.facts(), &[]);
        assert!(guarded.is_ok(), "{warm}: {guarded:?}");
    }

    #[test]
    fn long_excerpts_end_on_a_sentence() {
        let long = "A short sentence. ".repeat(40);
        let e = excerpt(&long);
        assert!(e.len() <= 400 && e.ends_with('.'), "{e}");
    }
}
