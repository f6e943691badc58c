//! [`AssistantStore`] on PostgreSQL. A conversation save is one transaction: the conversation
//! row's compare-and-swap (`UPDATE … WHERE version = expected`; a concurrent saver waits on the
//! row lock, then finds the version moved and writes nothing), then its turns in one statement
//! (`unnest` over arrays, never one statement per turn).

use crate::assistant::{self, ConversationRow, GoalRow, KbDocumentRow, TurnRow, sql};
use crate::postgres::PgStore;
use crate::{AssistantStore, Result, StoreError, now_micros, rows};
use async_trait::async_trait;
use sextant_core::{CustomerMessage, MessageId};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

const INSERT_TURNS: &str = "INSERT INTO conversation_turns (conversation_id, seq, customer_id, at, role, channel, \
    text, intent, sentiment, payload) \
    SELECT $1::text, s, $2::text, a, r, ch, t, i, se, p FROM unnest($3::bigint[], $4::bigint[], $5::text[], \
    $6::text[], $7::text[], $8::text[], $9::float8[], $10::text[]) AS u(s, a, r, ch, t, i, se, p)";

/// One round trip: whether the customer exists, and whether the message was inserted (only if
/// the customer exists and the id is new).
const INSERT_MESSAGE: &str = "WITH known AS (SELECT 1 FROM customers WHERE id = $2), \
    ins AS (INSERT INTO messages (id, customer_id, ts, channel, body, sentiment) \
    SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM known) \
    ON CONFLICT (id) DO NOTHING RETURNING 1) \
    SELECT EXISTS (SELECT 1 FROM known), EXISTS (SELECT 1 FROM ins)";

impl PgStore {
    async fn assistant_exec(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.execute(&stmt, params).await?)
    }
}

#[async_trait]
impl AssistantStore for PgStore {
    async fn kb_put(&self, doc: &KbDocumentRow) -> Result<i64> {
        assistant::validate_kb(doc)?;
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql::KB_PUT).await?;
        let row = client
            .query_one(
                &stmt,
                &[
                    &doc.id,
                    &doc.title,
                    &assistant::tags_json(&doc.tags),
                    &doc.body,
                    &doc.updated_at,
                    &doc.updated_by,
                ],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn kb_delete(&self, id: &str) -> Result<bool> {
        Ok(self.assistant_exec(sql::KB_DELETE, &[&id]).await? == 1)
    }

    async fn kb_list(&self) -> Result<Vec<KbDocumentRow>> {
        self.query(sql::KB_LIST, &[], assistant::kb_row).await
    }

    async fn kb_get(&self, id: &str) -> Result<Option<KbDocumentRow>> {
        Ok(self
            .query(sql::KB_GET, &[&id], assistant::kb_row)
            .await?
            .pop())
    }

    async fn kb_versions(&self) -> Result<Vec<(String, i64)>> {
        self.query(sql::KB_VERSIONS, &[], assistant::kb_version)
            .await
    }

    async fn kb_count(&self) -> Result<u64> {
        let client = self.client().await?;
        let n: i64 = client.query_one(sql::KB_COUNT, &[]).await?.try_get(0)?;
        Ok(n as u64)
    }

    async fn embeddings_get(
        &self,
        model: &str,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<u8>>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT key, vector FROM embedding_cache WHERE model = $1 AND key = ANY($2)",
                &[&model, &keys],
            )
            .await?;
        let mut out = std::collections::HashMap::new();
        for r in rows {
            out.insert(r.try_get::<_, String>(0)?, r.try_get::<_, Vec<u8>>(1)?);
        }
        Ok(out)
    }

    async fn embeddings_put(&self, model: &str, rows: &[(String, Vec<u8>)]) -> Result<()> {
        let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
        let vectors: Vec<&[u8]> = rows.iter().map(|(_, v)| v.as_slice()).collect();
        self.client()
            .await?
            .execute(
                "INSERT INTO embedding_cache (model, key, vector) \
                 SELECT $1, k, v FROM UNNEST($2::text[], $3::bytea[]) AS t(k, v) \
                 ON CONFLICT (model, key) DO NOTHING",
                &[&model, &keys, &vectors],
            )
            .await?;
        Ok(())
    }

    async fn save_turns(
        &self,
        conv: &ConversationRow,
        expected_version: i64,
        turns: &[TurnRow],
    ) -> Result<i64> {
        assistant::validate_save(conv, turns)?;
        let handed_off = i64::from(conv.handed_off);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let version = if expected_version == 0 {
            let stmt = tx.prepare_cached(sql::CONV_INSERT).await?;
            let n = tx
                .execute(
                    &stmt,
                    &[
                        &conv.id,
                        &conv.customer_id,
                        &conv.channel,
                        &conv.created_at,
                        &conv.updated_at,
                        &conv.state,
                        &handed_off,
                    ],
                )
                .await?;
            (n == 1).then_some(1)
        } else {
            let stmt = tx.prepare_cached(sql::CONV_UPDATE).await?;
            match tx
                .query_opt(
                    &stmt,
                    &[
                        &conv.id,
                        &conv.customer_id,
                        &conv.channel,
                        &conv.updated_at,
                        &conv.state,
                        &handed_off,
                        &expected_version,
                    ],
                )
                .await?
            {
                Some(r) => Some(r.try_get::<_, i64>(0)?),
                None => None,
            }
        };
        let Some(version) = version else {
            let stmt = tx.prepare_cached(sql::CONV_VERSION).await?;
            let actual = match tx.query_opt(&stmt, &[&conv.id]).await? {
                Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
                None => None,
            };
            return Err(assistant::version_conflict(conv, expected_version, actual));
        };
        if !turns.is_empty() {
            let seqs: Vec<i64> = turns.iter().map(|t| t.seq).collect();
            let ats: Vec<i64> = turns.iter().map(|t| t.at).collect();
            let roles: Vec<&str> = turns.iter().map(|t| t.role.as_str()).collect();
            let channels: Vec<&str> = turns.iter().map(|t| t.channel.as_str()).collect();
            let texts: Vec<&str> = turns.iter().map(|t| t.text.as_str()).collect();
            let intents: Vec<Option<&str>> = turns.iter().map(|t| t.intent.as_deref()).collect();
            let sentiments: Vec<Option<f64>> = turns.iter().map(|t| t.sentiment).collect();
            let payloads: Vec<&str> = turns.iter().map(|t| t.payload.as_str()).collect();
            let stmt = tx.prepare_cached(INSERT_TURNS).await?;
            let res = tx
                .execute(
                    &stmt,
                    &[
                        &conv.id,
                        &conv.customer_id,
                        &seqs,
                        &ats,
                        &roles,
                        &channels,
                        &texts,
                        &intents,
                        &sentiments,
                        &payloads,
                    ],
                )
                .await;
            match res {
                Ok(_) => {}
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    return Err(assistant::seq_conflict(conv, turns));
                }
                Err(e) => return Err(e.into()),
            }
        }
        tx.commit().await?;
        Ok(version)
    }

    async fn conversation(&self, id: &str) -> Result<Option<ConversationRow>> {
        Ok(self
            .query(sql::CONV_GET, &[&id], assistant::conversation_row)
            .await?
            .pop())
    }

    async fn recent_turns(&self, conversation_id: &str, limit: u32) -> Result<Vec<TurnRow>> {
        let mut turns = self
            .query(
                sql::TURNS_RECENT,
                &[&conversation_id, &i64::from(limit)],
                assistant::turn_row,
            )
            .await?;
        turns.reverse();
        Ok(turns)
    }

    async fn customer_conversations(
        &self,
        customer_id: &str,
        limit: u32,
    ) -> Result<Vec<ConversationRow>> {
        self.query(
            sql::CONV_OF_CUSTOMER,
            &[&customer_id, &i64::from(limit)],
            assistant::conversation_row,
        )
        .await
    }

    async fn goal_put(&self, g: &GoalRow) -> Result<()> {
        assistant::validate_goal(g)?;
        self.assistant_exec(
            sql::GOAL_PUT,
            &[
                &g.id,
                &g.customer_id,
                &g.kind,
                &g.name,
                &g.target_minor,
                &g.currency,
                &g.start_date,
                &g.target_date,
                &g.monthly_contribution_minor,
                &g.plan,
                &g.saved_minor,
                &g.status,
                &g.created_at,
                &g.updated_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn goals(&self, customer_id: &str) -> Result<Vec<GoalRow>> {
        self.query(sql::GOALS_OF_CUSTOMER, &[&customer_id], assistant::goal_row)
            .await
    }

    async fn goal(&self, id: &str) -> Result<Option<GoalRow>> {
        Ok(self
            .query(sql::GOAL_GET, &[&id], assistant::goal_row)
            .await?
            .pop())
    }

    async fn goal_progress(
        &self,
        id: &str,
        saved_minor: i64,
        status: &str,
        at: i64,
    ) -> Result<bool> {
        assistant::validate_progress(id, status)?;
        Ok(self
            .assistant_exec(sql::GOAL_PROGRESS, &[&id, &saved_minor, &status, &at])
            .await?
            == 1)
    }

    async fn insert_message(&self, m: &CustomerMessage) -> Result<bool> {
        if let Some(s) = m.sentiment {
            assistant::validate_score(&format!("message '{}'", m.id.as_str()), s)?;
        }
        let client = self.client().await?;
        let stmt = client.prepare_cached(INSERT_MESSAGE).await?;
        let res = client
            .query_one(
                &stmt,
                &[
                    &m.id.as_str(),
                    &m.customer_id.as_str(),
                    &m.timestamp.timestamp_micros(),
                    &m.channel,
                    &m.body,
                    &m.sentiment,
                ],
            )
            .await;
        let row = match res {
            Ok(row) => row,
            // The customer was erased between the check and the insert.
            Err(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                return Err(StoreError::UnknownCustomer(m.customer_id.clone()));
            }
            Err(e) => return Err(e.into()),
        };
        let (known, inserted): (bool, bool) = (row.try_get(0)?, row.try_get(1)?);
        if !known {
            return Err(StoreError::UnknownCustomer(m.customer_id.clone()));
        }
        Ok(inserted)
    }

    async fn set_message_sentiment(&self, id: &MessageId, score: f64) -> Result<bool> {
        assistant::validate_score(&format!("message '{}'", id.as_str()), score)?;
        Ok(self
            .assistant_exec(sql::MESSAGE_SENTIMENT, &[&id.as_str(), &score])
            .await?
            == 1)
    }

    async fn unscored_messages(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CustomerMessage>> {
        self.query(sql::UNSCORED, &[&after, &i64::from(limit)], rows::message)
            .await
    }

    async fn set_customer_sentiment(&self, customer_id: &str, score: f64) -> Result<bool> {
        assistant::validate_score(&format!("customer '{customer_id}'"), score)?;
        Ok(self
            .assistant_exec(
                sql::CUSTOMER_SENTIMENT,
                &[&customer_id, &score, &now_micros()],
            )
            .await?
            == 1)
    }
}
