//! [`AssistantStore`] on SQLite. Writes go through the store's one writer connection (a
//! conversation save is one `BEGIN IMMEDIATE` transaction: the compare-and-swap of the
//! conversation row and its turns); reads use the pooled reader connections.

use crate::assistant::{self, ConversationRow, GoalRow, KbDocumentRow, TurnRow, sql};
use crate::rows;
use crate::rows::sql::sqlite as lite;
use crate::sqlite::{SqliteStore, collect};
use crate::{AssistantStore, Result, StoreError, now_micros};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use sextant_core::{CustomerMessage, MessageId};

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

fn save_on(
    c: &mut Connection,
    conv: &ConversationRow,
    expected: i64,
    turns: &[TurnRow],
) -> Result<i64> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version = if expected == 0 {
        let n = tx
            .prepare_cached(&lite(sql::CONV_INSERT))?
            .execute(params![
                conv.id,
                conv.customer_id,
                conv.channel,
                conv.created_at,
                conv.updated_at,
                conv.state,
                i64::from(conv.handed_off),
            ])?;
        (n == 1).then_some(1)
    } else {
        tx.prepare_cached(&lite(sql::CONV_UPDATE))?
            .query_row(
                params![
                    conv.id,
                    conv.customer_id,
                    conv.channel,
                    conv.updated_at,
                    conv.state,
                    i64::from(conv.handed_off),
                    expected,
                ],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
    };
    let Some(version) = version else {
        let actual = tx
            .prepare_cached(&lite(sql::CONV_VERSION))?
            .query_row([&conv.id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        return Err(assistant::version_conflict(conv, expected, actual));
    };
    {
        let mut insert = tx.prepare_cached(&lite(sql::TURN_INSERT))?;
        for t in turns {
            let res = insert.execute(params![
                t.conversation_id,
                t.seq,
                t.customer_id,
                t.at,
                t.role,
                t.channel,
                t.text,
                t.intent,
                t.sentiment,
                t.payload,
            ]);
            match res {
                Ok(_) => {}
                Err(e) if is_constraint(&e) => return Err(assistant::seq_conflict(conv, turns)),
                Err(e) => return Err(e.into()),
            }
        }
    }
    tx.commit()?;
    Ok(version)
}

fn insert_message_on(c: &mut Connection, m: &CustomerMessage) -> Result<bool> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let known = tx
        .prepare_cached(&lite(sql::CUSTOMER_EXISTS))?
        .query_row([m.customer_id.as_str()], |r| r.get::<_, i64>(0))
        .optional()?
        .is_some();
    if !known {
        return Err(StoreError::UnknownCustomer(m.customer_id.clone()));
    }
    let n = tx
        .prepare_cached(&lite(sql::MESSAGE_INSERT))?
        .execute(params![
            m.id.as_str(),
            m.customer_id.as_str(),
            m.timestamp.timestamp_micros(),
            m.channel,
            m.body,
            m.sentiment,
        ])?;
    tx.commit()?;
    Ok(n == 1)
}

#[async_trait]
impl AssistantStore for SqliteStore {
    async fn kb_put(&self, doc: &KbDocumentRow) -> Result<i64> {
        assistant::validate_kb(doc)?;
        let doc = doc.clone();
        self.write(move |c| {
            Ok(c.prepare_cached(&lite(sql::KB_PUT))?.query_row(
                params![
                    doc.id,
                    doc.title,
                    assistant::tags_json(&doc.tags),
                    doc.body,
                    doc.updated_at,
                    doc.updated_by,
                ],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn kb_delete(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.write(move |c| Ok(c.prepare_cached(&lite(sql::KB_DELETE))?.execute([id])? == 1))
            .await
    }

    async fn kb_list(&self) -> Result<Vec<KbDocumentRow>> {
        self.read(|c| collect(c, sql::KB_LIST, [], assistant::kb_row))
            .await
    }

    async fn kb_get(&self, id: &str) -> Result<Option<KbDocumentRow>> {
        let id = id.to_string();
        self.read(move |c| Ok(collect(c, &lite(sql::KB_GET), [id], assistant::kb_row)?.pop()))
            .await
    }

    async fn kb_versions(&self) -> Result<Vec<(String, i64)>> {
        self.read(|c| collect(c, sql::KB_VERSIONS, [], assistant::kb_version))
            .await
    }

    async fn kb_count(&self) -> Result<u64> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached(sql::KB_COUNT)?
                .query_row([], |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    async fn embeddings_get(
        &self,
        model: &str,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<u8>>> {
        let (model, keys) = (model.to_string(), keys.to_vec());
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT vector FROM embedding_cache WHERE model = ?1 AND key = ?2",
            )?;
            let mut out = std::collections::HashMap::new();
            for k in keys {
                let v: Option<Vec<u8>> = stmt
                    .query_row(rusqlite::params![model, k], |r| r.get(0))
                    .optional()?;
                if let Some(v) = v {
                    out.insert(k, v);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn embeddings_put(&self, model: &str, rows: &[(String, Vec<u8>)]) -> Result<()> {
        let (model, rows) = (model.to_string(), rows.to_vec());
        self.write(move |c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO embedding_cache (model, key, vector) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (model, key) DO NOTHING",
                )?;
                for (k, v) in &rows {
                    stmt.execute(rusqlite::params![model, k, v])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn save_turns(
        &self,
        conv: &ConversationRow,
        expected_version: i64,
        turns: &[TurnRow],
    ) -> Result<i64> {
        assistant::validate_save(conv, turns)?;
        let (conv, turns) = (conv.clone(), turns.to_vec());
        self.write(move |c| save_on(c, &conv, expected_version, &turns))
            .await
    }

    async fn conversation(&self, id: &str) -> Result<Option<ConversationRow>> {
        let id = id.to_string();
        self.read(move |c| {
            Ok(collect(c, &lite(sql::CONV_GET), [id], assistant::conversation_row)?.pop())
        })
        .await
    }

    async fn recent_turns(&self, conversation_id: &str, limit: u32) -> Result<Vec<TurnRow>> {
        let id = conversation_id.to_string();
        self.read(move |c| {
            let mut turns = collect(
                c,
                &lite(sql::TURNS_RECENT),
                params![id, i64::from(limit)],
                assistant::turn_row,
            )?;
            turns.reverse();
            Ok(turns)
        })
        .await
    }

    async fn customer_conversations(
        &self,
        customer_id: &str,
        limit: u32,
    ) -> Result<Vec<ConversationRow>> {
        let id = customer_id.to_string();
        self.read(move |c| {
            collect(
                c,
                &lite(sql::CONV_OF_CUSTOMER),
                params![id, i64::from(limit)],
                assistant::conversation_row,
            )
        })
        .await
    }

    async fn goal_put(&self, g: &GoalRow) -> Result<()> {
        assistant::validate_goal(g)?;
        let g = g.clone();
        self.write(move |c| {
            c.prepare_cached(&lite(sql::GOAL_PUT))?.execute(params![
                g.id,
                g.customer_id,
                g.kind,
                g.name,
                g.target_minor,
                g.currency,
                g.start_date,
                g.target_date,
                g.monthly_contribution_minor,
                g.plan,
                g.saved_minor,
                g.status,
                g.created_at,
                g.updated_at,
            ])?;
            Ok(())
        })
        .await
    }

    async fn goals(&self, customer_id: &str) -> Result<Vec<GoalRow>> {
        let id = customer_id.to_string();
        self.read(move |c| collect(c, &lite(sql::GOALS_OF_CUSTOMER), [id], assistant::goal_row))
            .await
    }

    async fn goal(&self, id: &str) -> Result<Option<GoalRow>> {
        let id = id.to_string();
        self.read(move |c| Ok(collect(c, &lite(sql::GOAL_GET), [id], assistant::goal_row)?.pop()))
            .await
    }

    async fn goal_progress(
        &self,
        id: &str,
        saved_minor: i64,
        status: &str,
        at: i64,
    ) -> Result<bool> {
        assistant::validate_progress(id, status)?;
        let (id, status) = (id.to_string(), status.to_string());
        self.write(move |c| {
            Ok(c.prepare_cached(&lite(sql::GOAL_PROGRESS))?
                .execute(params![id, saved_minor, status, at])?
                == 1)
        })
        .await
    }

    async fn insert_message(&self, m: &CustomerMessage) -> Result<bool> {
        if let Some(s) = m.sentiment {
            assistant::validate_score(&format!("message '{}'", m.id.as_str()), s)?;
        }
        let m = m.clone();
        self.write(move |c| insert_message_on(c, &m)).await
    }

    async fn set_message_sentiment(&self, id: &MessageId, score: f64) -> Result<bool> {
        assistant::validate_score(&format!("message '{}'", id.as_str()), score)?;
        let id = id.as_str().to_string();
        self.write(move |c| {
            Ok(c.prepare_cached(&lite(sql::MESSAGE_SENTIMENT))?
                .execute(params![id, score])?
                == 1)
        })
        .await
    }

    async fn unscored_messages(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CustomerMessage>> {
        let after = after.map(str::to_string);
        self.read(move |c| {
            collect(
                c,
                &lite(sql::UNSCORED),
                params![after, i64::from(limit)],
                rows::message,
            )
        })
        .await
    }

    async fn set_customer_sentiment(&self, customer_id: &str, score: f64) -> Result<bool> {
        assistant::validate_score(&format!("customer '{customer_id}'"), score)?;
        let id = customer_id.to_string();
        self.write(move |c| {
            Ok(c.prepare_cached(&lite(sql::CUSTOMER_SENTIMENT))?
                .execute(params![id, score, now_micros()])?
                == 1)
        })
        .await
    }
}
