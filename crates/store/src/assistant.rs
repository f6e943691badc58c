//! The assistant's storage: knowledge-base documents (public; the retrieval index is rebuilt from
//! these rows), conversations with their turns (the conversation row is moved by compare-and-swap
//! together with its new turns in one transaction), savings goals, and the customer messages the
//! assistant writes and scores for sentiment. Reached through [`crate::Store::assistant`]; both
//! backends implement it and pass the same tests (`tests/assistant.rs`).
//!
//! Every table carries the customer's id, so erasure and export need no join
//! ([`crate::rows::CUSTOMER_TABLES`]). Customer ids carry no foreign key (as on the event stream):
//! a conversation may be held for a customer who is not, or not yet, imported.

use crate::rows::{Cells, req_int, req_text};
use crate::{Result, StoreError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A knowledge-base document as stored (the KB index is rebuilt from these rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KbDocumentRow {
    pub id: String,
    pub title: String,
    /// Stored as a JSON array of strings.
    pub tags: Vec<String>,
    pub body: String,
    /// 1 on insert, +1 on every update (set by the store; ignored on write).
    pub version: i64,
    /// µs since the epoch.
    pub updated_at: i64,
    pub updated_by: String,
}

/// One conversation with the assistant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationRow {
    pub id: String,
    pub customer_id: String,
    pub channel: String,
    /// µs since the epoch.
    pub created_at: i64,
    /// µs since the epoch.
    pub updated_at: i64,
    /// The dialogue state as JSON text, opaque to the store (sealed at rest).
    pub state: String,
    /// Whether a human has taken over.
    pub handed_off: bool,
    /// Compare-and-swap version: 1 after the first save, +1 on every save (set by the store).
    pub version: i64,
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TurnRow {
    pub conversation_id: String,
    /// 1, 2, 3… within the conversation.
    pub seq: i64,
    pub customer_id: String,
    /// µs since the epoch.
    pub at: i64,
    /// `customer`, `assistant` or `system`.
    pub role: String,
    pub channel: String,
    /// What was said (sealed at rest).
    pub text: String,
    pub intent: Option<String>,
    pub sentiment: Option<f64>,
    /// JSON text: citations, figures, plan id…
    pub payload: String,
}

/// A savings goal and its plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GoalRow {
    pub id: String,
    pub customer_id: String,
    pub kind: String,
    pub name: String,
    /// Minor units of `currency`.
    pub target_minor: i64,
    /// ISO 4217 (the bank's is EUR).
    pub currency: String,
    /// `YYYY-MM-DD`.
    pub start_date: String,
    /// `YYYY-MM-DD`.
    pub target_date: String,
    /// Minor units of `currency`.
    pub monthly_contribution_minor: i64,
    /// The goal plan as JSON text.
    pub plan: String,
    /// Minor units of `currency`.
    pub saved_minor: i64,
    /// `active`, `achieved` or `cancelled`.
    pub status: String,
    /// µs since the epoch.
    pub created_at: i64,
    /// µs since the epoch.
    pub updated_at: i64,
}

/// The assistant's storage. Every method is one round trip or one transaction.
#[async_trait]
pub trait AssistantStore: Send + Sync {
    /// Insert a document at version 1, or replace it and increment its version; returns the
    /// version now stored. `doc.version` is ignored.
    async fn kb_put(&self, doc: &KbDocumentRow) -> Result<i64>;
    /// False if there was no such document.
    async fn kb_delete(&self, id: &str) -> Result<bool>;
    /// Every document, by id.
    async fn kb_list(&self) -> Result<Vec<KbDocumentRow>>;
    async fn kb_get(&self, id: &str) -> Result<Option<KbDocumentRow>>;
    async fn kb_count(&self) -> Result<u64>;
    /// Every document's id and version, by id (cheap: for followers checking for edits).
    async fn kb_versions(&self) -> Result<Vec<(String, i64)>>;

    /// Cached embeddings of `model` for these keys (text digests): key → vector bytes. Only
    /// knowledge-base passages and intent examples are cached, never customer text.
    async fn embeddings_get(
        &self,
        model: &str,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<u8>>>;
    /// Cache embeddings (an existing key is kept).
    async fn embeddings_put(&self, model: &str, rows: &[(String, Vec<u8>)]) -> Result<()>;

    /// In ONE transaction: write the conversation row — insert it when `expected_version` is 0,
    /// otherwise update it where its stored version is `expected_version` (its id, customer and
    /// creation time never change) — with version + 1, and insert `turns`. A stale expected
    /// version (or a conversation that already exists when 0 is expected) is
    /// [`StoreError::Conflict`] and writes nothing. Returns the new version. Every turn must
    /// belong to `conv` (same conversation and customer id), have a role `customer`,
    /// `assistant` or `system`, and seqs ≥ 1 increasing; a seq already stored is a conflict.
    async fn save_turns(
        &self,
        conv: &ConversationRow,
        expected_version: i64,
        turns: &[TurnRow],
    ) -> Result<i64>;
    async fn conversation(&self, id: &str) -> Result<Option<ConversationRow>>;
    /// The last `limit` turns of a conversation, oldest first.
    async fn recent_turns(&self, conversation_id: &str, limit: u32) -> Result<Vec<TurnRow>>;
    /// A customer's conversations, most recently updated first (then newest created, then id
    /// descending).
    async fn customer_conversations(
        &self,
        customer_id: &str,
        limit: u32,
    ) -> Result<Vec<ConversationRow>>;

    /// Insert or replace a goal by id (its creation time is kept on replace).
    async fn goal_put(&self, g: &GoalRow) -> Result<()>;
    /// A customer's goals by creation time (then id).
    async fn goals(&self, customer_id: &str) -> Result<Vec<GoalRow>>;
    async fn goal(&self, id: &str) -> Result<Option<GoalRow>>;
    /// Record progress: amount saved, status, time. False if there is no such goal.
    async fn goal_progress(
        &self,
        id: &str,
        saved_minor: i64,
        status: &str,
        at: i64,
    ) -> Result<bool>;

    /// Store a message; false (and nothing changed) if one with the id exists. A message for an
    /// unknown customer is [`StoreError::UnknownCustomer`].
    async fn insert_message(&self, m: &sextant_core::CustomerMessage) -> Result<bool>;
    /// Set a message's sentiment (finite, in [-1, 1]). False if there is no such message.
    async fn set_message_sentiment(&self, id: &sextant_core::MessageId, score: f64)
    -> Result<bool>;
    /// Messages without a sentiment, by id, strictly after `after` (for backfill).
    async fn unscored_messages(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<sextant_core::CustomerMessage>>;
    /// Set `customers.sentiment_score` (finite, in [-1, 1]). False if the customer is unknown.
    async fn set_customer_sentiment(&self, customer_id: &str, score: f64) -> Result<bool>;
}

/// Roles a turn may have.
pub const ROLES: [&str; 3] = ["customer", "assistant", "system"];
/// Statuses a goal may have.
pub const GOAL_STATUSES: [&str; 3] = ["active", "achieved", "cancelled"];

fn invalid(what: String) -> StoreError {
    // The store has no "invalid input" variant; a write the store refuses is a conflict with
    // its rules, and the message names the row, the field and the reason.
    StoreError::Conflict(what)
}

pub(crate) fn validate_kb(doc: &KbDocumentRow) -> Result<()> {
    if doc.id.trim().is_empty() {
        return Err(invalid(
            "knowledge-base document: field 'id' is empty".into(),
        ));
    }
    Ok(())
}

/// Check a save before anything is written (see [`AssistantStore::save_turns`]).
pub(crate) fn validate_save(conv: &ConversationRow, turns: &[TurnRow]) -> Result<()> {
    if conv.id.trim().is_empty() {
        return Err(invalid("conversation: field 'id' is empty".into()));
    }
    if conv.customer_id.trim().is_empty() {
        return Err(invalid(format!(
            "conversation '{}': field 'customer_id' is empty",
            conv.id
        )));
    }
    let mut last = 0;
    for (i, t) in turns.iter().enumerate() {
        let at = || format!("conversation '{}', turn {} (seq {})", conv.id, i, t.seq);
        if t.conversation_id != conv.id {
            return Err(invalid(format!(
                "{}: field 'conversation_id' is '{}', not the conversation saved",
                at(),
                t.conversation_id
            )));
        }
        if t.customer_id != conv.customer_id {
            return Err(invalid(format!(
                "{}: field 'customer_id' is '{}', not the conversation's '{}'",
                at(),
                t.customer_id,
                conv.customer_id
            )));
        }
        if !ROLES.contains(&t.role.as_str()) {
            return Err(invalid(format!(
                "{}: field 'role' is '{}', not one of customer, assistant, system",
                at(),
                t.role
            )));
        }
        if t.seq <= last {
            return Err(invalid(format!(
                "{}: field 'seq' must be at least 1 and greater than the previous turn's {}",
                at(),
                last
            )));
        }
        if let Some(s) = t.sentiment
            && !s.is_finite()
        {
            return Err(invalid(format!("{}: field 'sentiment' is {s}", at())));
        }
        last = t.seq;
    }
    Ok(())
}

fn valid_status(what: &str, status: &str) -> Result<()> {
    if GOAL_STATUSES.contains(&status) {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what}: field 'status' is '{status}', not one of active, achieved, cancelled"
        )))
    }
}

pub(crate) fn validate_goal(g: &GoalRow) -> Result<()> {
    let what = format!("goal '{}'", g.id);
    if g.id.trim().is_empty() {
        return Err(invalid("goal: field 'id' is empty".into()));
    }
    if g.customer_id.trim().is_empty() {
        return Err(invalid(format!("{what}: field 'customer_id' is empty")));
    }
    valid_status(&what, &g.status)?;
    sextant_core::Currency::parse(&g.currency)
        .map_err(|e| invalid(format!("{what}: field 'currency': {e}")))?;
    for (field, v) in [
        ("start_date", &g.start_date),
        ("target_date", &g.target_date),
    ] {
        chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|e| {
            invalid(format!(
                "{what}: field '{field}' is '{v}', not a YYYY-MM-DD date: {e}"
            ))
        })?;
    }
    Ok(())
}

pub(crate) fn validate_progress(id: &str, status: &str) -> Result<()> {
    valid_status(&format!("goal '{id}'"), status)
}

/// A sentiment score to store: finite and in [-1, 1].
pub(crate) fn validate_score(what: &str, score: f64) -> Result<()> {
    sextant_core::SentimentScore::new(score)
        .map(|_| ())
        .map_err(|e| invalid(format!("{what}: field 'sentiment': {e}")))
}

/// The error for a save whose expected version is not the stored one. `actual` is the stored
/// `(version, customer_id)`, `None` if there is no such conversation.
pub(crate) fn version_conflict(
    conv: &ConversationRow,
    expected: i64,
    actual: Option<(i64, String)>,
) -> StoreError {
    StoreError::Conflict(match actual {
        None => format!(
            "conversation '{}' does not exist, but version {expected} was expected",
            conv.id
        ),
        Some((_, customer)) if customer != conv.customer_id => format!(
            "conversation '{}' belongs to customer '{customer}', not '{}'",
            conv.id, conv.customer_id
        ),
        Some((version, _)) => format!(
            "conversation '{}' is at version {version}, not the expected {expected} (another save came first)",
            conv.id
        ),
    })
}

/// The error for a turn whose seq is already stored (the whole save is rolled back).
pub(crate) fn seq_conflict(conv: &ConversationRow, turns: &[TurnRow]) -> StoreError {
    let seqs: Vec<String> = turns.iter().map(|t| t.seq.to_string()).collect();
    StoreError::Conflict(format!(
        "conversation '{}': a turn with one of the seqs [{}] is already stored (nothing was written)",
        conv.id,
        seqs.join(", ")
    ))
}

/// Tags as stored: a JSON array.
pub(crate) fn tags_json(tags: &[String]) -> String {
    serde_json::Value::from(tags.to_vec()).to_string()
}

/// Whether any assistant table holds rows about the customer (erasure also applies to customers
/// known only from their conversations or goals).
pub(crate) const HAS_ASSISTANT_ROWS: &str = "SELECT EXISTS (SELECT 1 FROM conversations WHERE customer_id = $1) \
    OR EXISTS (SELECT 1 FROM goals WHERE customer_id = $1)";

/// Statements both backends run, with `$n` placeholders (SQLite gets them through
/// [`crate::rows::sql::sqlite`]).
pub(crate) mod sql {
    pub const KB_PUT: &str = "INSERT INTO kb_documents (id, title, tags, body, version, updated_at, updated_by) \
        VALUES ($1, $2, $3, $4, 1, $5, $6) ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
        tags = excluded.tags, body = excluded.body, version = kb_documents.version + 1, \
        updated_at = excluded.updated_at, updated_by = excluded.updated_by RETURNING version";
    pub const KB_DELETE: &str = "DELETE FROM kb_documents WHERE id = $1";
    pub const KB_LIST: &str = "SELECT id, title, tags, body, version, updated_at, updated_by FROM kb_documents ORDER BY id";
    pub const KB_GET: &str = "SELECT id, title, tags, body, version, updated_at, updated_by FROM kb_documents WHERE id = $1";
    pub const KB_COUNT: &str = "SELECT count(*) FROM kb_documents";
    pub const KB_VERSIONS: &str = "SELECT id, version FROM kb_documents ORDER BY id";

    pub const CONV_INSERT: &str = "INSERT INTO conversations (id, customer_id, channel, created_at, updated_at, state, \
        handed_off, version) VALUES ($1, $2, $3, $4, $5, $6, $7, 1) ON CONFLICT (id) DO NOTHING";
    pub const CONV_UPDATE: &str = "UPDATE conversations SET channel = $3, updated_at = $4, state = $5, handed_off = $6, \
        version = version + 1 WHERE id = $1 AND customer_id = $2 AND version = $7 RETURNING version";
    pub const CONV_VERSION: &str = "SELECT version, customer_id FROM conversations WHERE id = $1";
    pub const CONV_GET: &str = "SELECT id, customer_id, channel, created_at, updated_at, state, handed_off, version \
        FROM conversations WHERE id = $1";
    pub const CONV_OF_CUSTOMER: &str = "SELECT id, customer_id, channel, created_at, updated_at, state, handed_off, \
        version FROM conversations WHERE customer_id = $1 \
        ORDER BY updated_at DESC, created_at DESC, id DESC LIMIT $2";
    pub const TURN_INSERT: &str = "INSERT INTO conversation_turns (conversation_id, seq, customer_id, at, role, channel, \
        text, intent, sentiment, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    pub const TURNS_RECENT: &str = "SELECT conversation_id, seq, customer_id, at, role, channel, text, intent, sentiment, \
        payload FROM conversation_turns WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2";

    pub const GOAL_PUT: &str = "INSERT INTO goals (id, customer_id, kind, name, target_minor, currency, start_date, \
        target_date, monthly_contribution_minor, plan, saved_minor, status, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (id) DO UPDATE SET \
        customer_id = excluded.customer_id, kind = excluded.kind, name = excluded.name, \
        target_minor = excluded.target_minor, currency = excluded.currency, start_date = excluded.start_date, \
        target_date = excluded.target_date, monthly_contribution_minor = excluded.monthly_contribution_minor, \
        plan = excluded.plan, saved_minor = excluded.saved_minor, status = excluded.status, \
        updated_at = excluded.updated_at";
    pub const GOALS_OF_CUSTOMER: &str = "SELECT id, customer_id, kind, name, target_minor, currency, start_date, \
        target_date, monthly_contribution_minor, plan, saved_minor, status, created_at, updated_at \
        FROM goals WHERE customer_id = $1 ORDER BY created_at, id";
    pub const GOAL_GET: &str = "SELECT id, customer_id, kind, name, target_minor, currency, start_date, target_date, \
        monthly_contribution_minor, plan, saved_minor, status, created_at, updated_at FROM goals WHERE id = $1";
    pub const GOAL_PROGRESS: &str =
        "UPDATE goals SET saved_minor = $2, status = $3, updated_at = $4 WHERE id = $1";

    pub const CUSTOMER_EXISTS: &str = "SELECT 1 FROM customers WHERE id = $1";
    pub const MESSAGE_INSERT: &str = "INSERT INTO messages (id, customer_id, ts, channel, body, sentiment) \
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING";
    pub const MESSAGE_SENTIMENT: &str = "UPDATE messages SET sentiment = $2 WHERE id = $1";
    pub const UNSCORED: &str = "SELECT id, customer_id, ts, channel, body, sentiment FROM messages \
        WHERE sentiment IS NULL AND ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2";
    pub const CUSTOMER_SENTIMENT: &str =
        "UPDATE customers SET sentiment_score = $2, updated_at = $3 WHERE id = $1";
}

/// A row of [`sql::KB_VERSIONS`].
pub(crate) fn kb_version(r: &dyn Cells) -> Result<(String, i64)> {
    Ok((
        req_text(r, 0, "kb_documents", "id")?,
        req_int(r, 1, "kb_documents", "version")?,
    ))
}

/// A row of [`sql::KB_GET`] / [`sql::KB_LIST`].
pub(crate) fn kb_row(r: &dyn Cells) -> Result<KbDocumentRow> {
    const T: &str = "kb_documents";
    Ok(KbDocumentRow {
        id: req_text(r, 0, T, "id")?,
        title: req_text(r, 1, T, "title")?,
        tags: serde_json::from_str(&req_text(r, 2, T, "tags")?)
            .map_err(|e| StoreError::corrupt(T, "tags", e))?,
        body: req_text(r, 3, T, "body")?,
        version: req_int(r, 4, T, "version")?,
        updated_at: req_int(r, 5, T, "updated_at")?,
        updated_by: req_text(r, 6, T, "updated_by")?,
    })
}

/// A row of [`sql::CONV_GET`] / [`sql::CONV_OF_CUSTOMER`].
pub(crate) fn conversation_row(r: &dyn Cells) -> Result<ConversationRow> {
    const T: &str = "conversations";
    Ok(ConversationRow {
        id: req_text(r, 0, T, "id")?,
        customer_id: req_text(r, 1, T, "customer_id")?,
        channel: req_text(r, 2, T, "channel")?,
        created_at: req_int(r, 3, T, "created_at")?,
        updated_at: req_int(r, 4, T, "updated_at")?,
        state: req_text(r, 5, T, "state")?,
        handed_off: req_int(r, 6, T, "handed_off")? != 0,
        version: req_int(r, 7, T, "version")?,
    })
}

/// A row of [`sql::TURNS_RECENT`].
pub(crate) fn turn_row(r: &dyn Cells) -> Result<TurnRow> {
    const T: &str = "conversation_turns";
    Ok(TurnRow {
        conversation_id: req_text(r, 0, T, "conversation_id")?,
        seq: req_int(r, 1, T, "seq")?,
        customer_id: req_text(r, 2, T, "customer_id")?,
        at: req_int(r, 3, T, "at")?,
        role: req_text(r, 4, T, "role")?,
        channel: req_text(r, 5, T, "channel")?,
        text: req_text(r, 6, T, "text")?,
        intent: r.text(7)?,
        sentiment: r.real(8)?,
        payload: req_text(r, 9, T, "payload")?,
    })
}

/// A row of [`sql::GOAL_GET`] / [`sql::GOALS_OF_CUSTOMER`].
pub(crate) fn goal_row(r: &dyn Cells) -> Result<GoalRow> {
    const T: &str = "goals";
    Ok(GoalRow {
        id: req_text(r, 0, T, "id")?,
        customer_id: req_text(r, 1, T, "customer_id")?,
        kind: req_text(r, 2, T, "kind")?,
        name: req_text(r, 3, T, "name")?,
        target_minor: req_int(r, 4, T, "target_minor")?,
        currency: req_text(r, 5, T, "currency")?,
        start_date: req_text(r, 6, T, "start_date")?,
        target_date: req_text(r, 7, T, "target_date")?,
        monthly_contribution_minor: req_int(r, 8, T, "monthly_contribution_minor")?,
        plan: req_text(r, 9, T, "plan")?,
        saved_minor: req_int(r, 10, T, "saved_minor")?,
        status: req_text(r, 11, T, "status")?,
        created_at: req_int(r, 12, T, "created_at")?,
        updated_at: req_int(r, 13, T, "updated_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv() -> ConversationRow {
        ConversationRow {
            id: "c1".into(),
            customer_id: "42".into(),
            channel: "chat".into(),
            created_at: 1,
            updated_at: 1,
            state: "{}".into(),
            handed_off: false,
            version: 0,
        }
    }

    fn turn(seq: i64) -> TurnRow {
        TurnRow {
            conversation_id: "c1".into(),
            seq,
            customer_id: "42".into(),
            at: seq,
            role: "customer".into(),
            channel: "chat".into(),
            text: "hi".into(),
            intent: None,
            sentiment: None,
            payload: "{}".into(),
        }
    }

    fn goal() -> GoalRow {
        GoalRow {
            id: "g1".into(),
            customer_id: "42".into(),
            kind: "savings".into(),
            name: "Holiday".into(),
            target_minor: 100_000,
            currency: "EUR".into(),
            start_date: "2025-01-01".into(),
            target_date: "2025-12-31".into(),
            monthly_contribution_minor: 8_400,
            plan: "{}".into(),
            saved_minor: 0,
            status: "active".into(),
            created_at: 1,
            updated_at: 1,
        }
    }

    fn reason(r: Result<()>) -> String {
        match r {
            Err(StoreError::Conflict(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn saves_are_checked_before_writing() {
        validate_save(&conv(), &[turn(1), turn(2), turn(5)]).unwrap();
        validate_save(&conv(), &[]).unwrap();
        let m = reason(validate_save(&conv(), &[turn(2), turn(2)]));
        assert!(m.contains("turn 1 (seq 2)") && m.contains("'seq'"), "{m}");
        assert!(reason(validate_save(&conv(), &[turn(0)])).contains("'seq'"));
        let mut t = turn(1);
        t.role = "bot".into();
        assert!(reason(validate_save(&conv(), &[t])).contains("role' is 'bot'"));
        let mut t = turn(1);
        t.customer_id = "43".into();
        assert!(reason(validate_save(&conv(), &[t])).contains("'customer_id' is '43'"));
        let mut t = turn(1);
        t.conversation_id = "c2".into();
        assert!(reason(validate_save(&conv(), &[t])).contains("'conversation_id' is 'c2'"));
        let mut t = turn(1);
        t.sentiment = Some(f64::NAN);
        assert!(reason(validate_save(&conv(), &[t])).contains("'sentiment'"));
        let mut c = conv();
        c.customer_id = " ".into();
        assert!(reason(validate_save(&c, &[])).contains("'customer_id' is empty"));
    }

    #[test]
    fn goals_and_scores_are_checked() {
        validate_goal(&goal()).unwrap();
        let mut g = goal();
        g.status = "done".into();
        assert!(reason(validate_goal(&g)).contains("'status' is 'done'"));
        let mut g = goal();
        g.target_date = "2025-13-01".into();
        assert!(reason(validate_goal(&g)).contains("'target_date' is '2025-13-01'"));
        let mut g = goal();
        g.currency = "euro".into();
        assert!(reason(validate_goal(&g)).contains("'currency'"));
        validate_progress("g1", "achieved").unwrap();
        assert!(reason(validate_progress("g1", "paused")).contains("goal 'g1'"));
        validate_score("message 'm1'", -1.0).unwrap();
        assert!(reason(validate_score("message 'm1'", 1.5)).contains("message 'm1'"));
        assert!(validate_score("x", f64::INFINITY).is_err());
    }

    #[test]
    fn conflicts_name_the_versions() {
        let c = conv();
        assert!(
            version_conflict(&c, 3, None)
                .to_string()
                .contains("does not exist")
        );
        let m = version_conflict(&c, 3, Some((4, "42".into()))).to_string();
        assert!(m.contains("version 4") && m.contains("expected 3"), "{m}");
        let m = version_conflict(&c, 3, Some((3, "7".into()))).to_string();
        assert!(m.contains("customer '7'"), "{m}");
        assert_eq!(tags_json(&["a".into(), "b\"c".into()]), r#"["a","b\"c"]"#);
    }
}
