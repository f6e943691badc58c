//! Encryption at rest for PII columns: a [`Store`] decorator that encrypts customer names,
//! e-mail addresses, phone numbers, message bodies, reviewers' notes on review cases, the
//! stream's `message` events and dead-letter payloads, and the assistant's conversation turns
//! and dialogue states with AES-256-GCM on the way in and decrypts them on the way out, so
//! neither backend ever sees the plaintext. Ids, amounts and categories stay in the clear (they
//! are needed for joins and ranges, and are not contact data).
//!
//! Values written before encryption was enabled are read as they are and re-encrypted by
//! [`rotate`] (customers and messages; stream events, dead letters, turns and dialogue states
//! are not re-sealed by it and stay readable while the cipher holds the older key). Lookups by
//! customer id are unaffected.

use crate::{
    ApiKeyRecord, ArmRow, Backend, Batch, EventInsert, FeedbackWrite, IdempotentResponse,
    ImportRecord, ImportSink, RecordKind, Result, ReviewCase, ReviewOutcome, ReviewStatus,
    RowReject, SpendGroup, SpendRowOwned, Store, StoreError, Table,
};
use async_trait::async_trait;
use sextant_core::secrets::PiiCipher;
use sextant_core::{
    Account, AuditEntry, AuditRecord, ConsentPurpose, ConsentRecord, ConsentState, Customer,
    CustomerEvent, CustomerId, CustomerMessage, Decision, DecisionId, MessageId, Product,
    ProductId, ProtectedAttributes, Transaction, TransactionId,
};
use std::sync::Arc;

/// The decorator. Holds the current key (and, during rotation, older ones for reading).
pub struct EncryptedStore {
    inner: Arc<dyn Store>,
    cipher: PiiCipher,
    stream: EncryptedStream,
    assistant: EncryptedAssistant,
}

impl EncryptedStore {
    pub fn new(inner: Arc<dyn Store>, cipher: PiiCipher) -> Self {
        Self {
            stream: EncryptedStream {
                inner: inner.clone(),
                cipher: cipher.clone(),
            },
            assistant: EncryptedAssistant {
                inner: inner.clone(),
                cipher: cipher.clone(),
            },
            inner,
            cipher,
        }
    }
}

/// The assistant's tables through the same key: what was said in a turn and the conversation's
/// dialogue state are sealed, and messages written by the assistant are sealed like imported
/// ones (so `list_messages` opens them). Knowledge-base documents are public and goals hold
/// amounts and dates: both stay as they are.
struct EncryptedAssistant {
    inner: Arc<dyn Store>,
    cipher: PiiCipher,
}

impl EncryptedAssistant {
    fn open_conversation(&self, mut c: crate::ConversationRow) -> Result<crate::ConversationRow> {
        c.state = open_field(&self.cipher, "conversations", "state", c.state)?;
        Ok(c)
    }
}

#[async_trait]
impl crate::AssistantStore for EncryptedAssistant {
    async fn kb_put(&self, doc: &crate::KbDocumentRow) -> Result<i64> {
        self.inner.assistant().kb_put(doc).await
    }
    async fn kb_delete(&self, id: &str) -> Result<bool> {
        self.inner.assistant().kb_delete(id).await
    }
    async fn kb_list(&self) -> Result<Vec<crate::KbDocumentRow>> {
        self.inner.assistant().kb_list().await
    }
    async fn kb_get(&self, id: &str) -> Result<Option<crate::KbDocumentRow>> {
        self.inner.assistant().kb_get(id).await
    }
    async fn kb_count(&self) -> Result<u64> {
        self.inner.assistant().kb_count().await
    }
    async fn kb_versions(&self) -> Result<Vec<(String, i64)>> {
        self.inner.assistant().kb_versions().await
    }
    async fn embeddings_get(
        &self,
        model: &str,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<u8>>> {
        self.inner.assistant().embeddings_get(model, keys).await
    }
    async fn embeddings_put(&self, model: &str, rows: &[(String, Vec<u8>)]) -> Result<()> {
        self.inner.assistant().embeddings_put(model, rows).await
    }
    async fn save_turns(
        &self,
        conv: &crate::ConversationRow,
        expected_version: i64,
        turns: &[crate::TurnRow],
    ) -> Result<i64> {
        let sealed_conv = crate::ConversationRow {
            state: self.cipher.encrypt(&conv.state),
            ..conv.clone()
        };
        let sealed: Vec<crate::TurnRow> = turns
            .iter()
            .map(|t| crate::TurnRow {
                text: self.cipher.encrypt(&t.text),
                ..t.clone()
            })
            .collect();
        self.inner
            .assistant()
            .save_turns(&sealed_conv, expected_version, &sealed)
            .await
    }
    async fn conversation(&self, id: &str) -> Result<Option<crate::ConversationRow>> {
        self.inner
            .assistant()
            .conversation(id)
            .await?
            .map(|c| self.open_conversation(c))
            .transpose()
    }
    async fn recent_turns(&self, conversation_id: &str, limit: u32) -> Result<Vec<crate::TurnRow>> {
        self.inner
            .assistant()
            .recent_turns(conversation_id, limit)
            .await?
            .into_iter()
            .map(|mut t| {
                t.text = open_field(&self.cipher, "conversation_turns", "text", t.text)?;
                Ok(t)
            })
            .collect()
    }
    async fn customer_conversations(
        &self,
        customer_id: &str,
        limit: u32,
    ) -> Result<Vec<crate::ConversationRow>> {
        self.inner
            .assistant()
            .customer_conversations(customer_id, limit)
            .await?
            .into_iter()
            .map(|c| self.open_conversation(c))
            .collect()
    }
    async fn goal_put(&self, g: &crate::GoalRow) -> Result<()> {
        self.inner.assistant().goal_put(g).await
    }
    async fn goals(&self, customer_id: &str) -> Result<Vec<crate::GoalRow>> {
        self.inner.assistant().goals(customer_id).await
    }
    async fn goal(&self, id: &str) -> Result<Option<crate::GoalRow>> {
        self.inner.assistant().goal(id).await
    }
    async fn goal_progress(
        &self,
        id: &str,
        saved_minor: i64,
        status: &str,
        at: i64,
    ) -> Result<bool> {
        self.inner
            .assistant()
            .goal_progress(id, saved_minor, status, at)
            .await
    }
    async fn insert_message(&self, m: &CustomerMessage) -> Result<bool> {
        // Sealed exactly as the import path seals message bodies (`SealingSink`).
        let sealed = CustomerMessage {
            body: self.cipher.encrypt(&m.body),
            ..m.clone()
        };
        self.inner.assistant().insert_message(&sealed).await
    }
    async fn set_message_sentiment(&self, id: &MessageId, score: f64) -> Result<bool> {
        self.inner
            .assistant()
            .set_message_sentiment(id, score)
            .await
    }
    async fn unscored_messages(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CustomerMessage>> {
        self.inner
            .assistant()
            .unscored_messages(after, limit)
            .await?
            .into_iter()
            .map(|m| open_message(&self.cipher, m))
            .collect()
    }
    async fn set_customer_sentiment(&self, customer_id: &str, score: f64) -> Result<bool> {
        self.inner
            .assistant()
            .set_customer_sentiment(customer_id, score)
            .await
    }
}

/// The event stream's tables through the same key: the body of a `message` event (the
/// customer's own words) and every dead-letter payload (anything a producer sent) are sealed;
/// transactions, alerts and offsets stay as they are (ids, amounts, categories and merchants,
/// like the transactions table).
struct EncryptedStream {
    inner: Arc<dyn Store>,
    cipher: PiiCipher,
}

impl EncryptedStream {
    fn open(&self, table: &'static str, column: &'static str, v: String) -> Result<String> {
        open_field(&self.cipher, table, column, v)
    }
}

#[async_trait]
impl crate::StreamStore for EncryptedStream {
    async fn append_events(&self, events: &[crate::NewLogEvent]) -> Result<Vec<crate::Appended>> {
        self.append_events_then(events, Box::new(|_, _| {})).await
    }
    async fn append_events_then(
        &self,
        events: &[crate::NewLogEvent],
        then: crate::AppendHook,
    ) -> Result<Vec<crate::Appended>> {
        if events.iter().all(|e| e.kind != "message") {
            return self.inner.stream().append_events_then(events, then).await;
        }
        let sealed: Vec<crate::NewLogEvent> = events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                if e.kind == "message" {
                    e.body = self.cipher.encrypt(&e.body);
                }
                e
            })
            .collect();
        self.inner.stream().append_events_then(&sealed, then).await
    }
    async fn read_log(&self, after_seq: i64, limit: u32) -> Result<Vec<crate::LogEvent>> {
        let mut rows = self.inner.stream().read_log(after_seq, limit).await?;
        for r in &mut rows {
            if PiiCipher::is_ciphertext(&r.body) {
                r.body = self.open("event_log", "body", std::mem::take(&mut r.body))?;
            }
        }
        Ok(rows)
    }
    async fn log_head(&self) -> Result<i64> {
        self.inner.stream().log_head().await
    }
    async fn stream_offset(&self, source: &str) -> Result<i64> {
        self.inner.stream().stream_offset(source).await
    }
    async fn commit_processed(&self, b: &crate::ProcessedBatch) -> Result<usize> {
        if b.holds.iter().all(|h| h.review.note.is_none()) {
            return self.inner.stream().commit_processed(b).await;
        }
        // Review notes are sealed, as `record_decisions` does.
        let mut sealed = b.clone();
        for h in &mut sealed.holds {
            h.review.note = h.review.note.as_deref().map(|n| self.cipher.encrypt(n));
        }
        self.inner.stream().commit_processed(&sealed).await
    }
    async fn applied_events(
        &self,
        event_ids: &[String],
    ) -> Result<std::collections::HashMap<String, (String, i64)>> {
        self.inner.stream().applied_events(event_ids).await
    }
    async fn save_checkpoint(&self, source: &str, offset: i64, snapshot: &[u8]) -> Result<()> {
        self.inner
            .stream()
            .save_checkpoint(source, offset, snapshot)
            .await
    }
    async fn load_checkpoint(&self, source: &str) -> Result<Option<(i64, Vec<u8>)>> {
        self.inner.stream().load_checkpoint(source).await
    }
    async fn dead_letter(&self, rows: &[crate::DeadLetter]) -> Result<()> {
        let sealed: Vec<crate::DeadLetter> = rows
            .iter()
            .map(|d| {
                let mut d = d.clone();
                // Truncate first (as the store would), then seal, so the ciphertext is whole.
                d.payload = self
                    .cipher
                    .encrypt(crate::stream::truncate_payload(&d.payload));
                d
            })
            .collect();
        self.inner.stream().dead_letter(&sealed).await
    }
    async fn list_dead_letters(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, crate::DeadLetter)>> {
        let mut rows = self
            .inner
            .stream()
            .list_dead_letters(after_id, limit)
            .await?;
        for (_, d) in &mut rows {
            d.payload = self.open("dead_letters", "payload", std::mem::take(&mut d.payload))?;
        }
        Ok(rows)
    }
    async fn list_alerts(
        &self,
        customer: Option<&str>,
        kind: Option<&str>,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<crate::AlertRow>> {
        self.inner
            .stream()
            .list_alerts(customer, kind, before, limit)
            .await
    }
    async fn get_alert(&self, id: &str) -> Result<Option<crate::AlertRow>> {
        self.inner.stream().get_alert(id).await
    }
    async fn count_alerts(&self) -> Result<u64> {
        self.inner.stream().count_alerts().await
    }
    async fn due_deliveries(&self, now_micros: i64, limit: u32) -> Result<Vec<crate::Delivery>> {
        self.inner.stream().due_deliveries(now_micros, limit).await
    }
    async fn delivery_done(
        &self,
        id: i64,
        ok: bool,
        next_at_micros: Option<i64>,
        error: Option<&str>,
    ) -> Result<()> {
        self.inner
            .stream()
            .delivery_done(id, ok, next_at_micros, error)
            .await
    }
    async fn heartbeat(&self, worker: &str, now_micros: i64, ttl_micros: i64) -> Result<u32> {
        self.inner
            .stream()
            .heartbeat(worker, now_micros, ttl_micros)
            .await
    }
    async fn lease_session(&self) -> Result<Box<dyn crate::LeaseSession>> {
        self.inner.stream().lease_session().await
    }
}

fn open_field(
    cipher: &PiiCipher,
    table: &'static str,
    column: &'static str,
    v: String,
) -> Result<String> {
    if PiiCipher::is_ciphertext(&v) {
        cipher
            .decrypt(&v)
            .map_err(|e| StoreError::corrupt(table, column, e))
    } else {
        Ok(v) // written before encryption was enabled; `rotate` encrypts it
    }
}

fn seal_customer(cipher: &PiiCipher, c: &mut Customer) {
    c.name = cipher.encrypt(&c.name);
    c.email = c.email.as_deref().map(|v| cipher.encrypt(v));
    c.phone = c.phone.as_deref().map(|v| cipher.encrypt(v));
}

fn open_customer(cipher: &PiiCipher, mut c: Customer) -> Result<Customer> {
    c.name = open_field(cipher, "customers", "name", c.name)?;
    c.email = c
        .email
        .map(|v| open_field(cipher, "customers", "email", v))
        .transpose()?;
    c.phone = c
        .phone
        .map(|v| open_field(cipher, "customers", "phone", v))
        .transpose()?;
    Ok(c)
}

fn open_message(cipher: &PiiCipher, mut m: CustomerMessage) -> Result<CustomerMessage> {
    m.body = open_field(cipher, "messages", "body", m.body)?;
    Ok(m)
}

fn open_review(cipher: &PiiCipher, mut r: ReviewCase) -> Result<ReviewCase> {
    r.note = r
        .note
        .map(|v| open_field(cipher, "reviews", "note", v))
        .transpose()?;
    Ok(r)
}

/// Re-encrypt every PII value under `to` (reading values sealed under any key `from` holds, or
/// plaintext). Idempotent and resumable: run it again after an interruption. Returns the number
/// of customers and messages rewritten.
pub async fn rotate(inner: &dyn Store, from: &PiiCipher, to: &PiiCipher) -> Result<(u64, u64)> {
    let (customers, messages) = rotate_core(inner, from, to).await?;
    let mut others = 0u64;
    for column in crate::SealedColumn::ALL {
        let mut after = (String::new(), i64::MIN);
        loop {
            let page = inner.sealed_page(column, (&after.0, after.1), 500).await?;
            let Some(last) = page.last() else { break };
            after = (last.0.clone(), last.1);
            for (text, n, value) in page {
                // Values that were never sealed (written before encryption was on) are sealed now.
                let plain = match from.decrypt(&value) {
                    Ok(p) => p,
                    Err(sextant_core::secrets::SecretError::NotCiphertext) => value,
                    Err(e) => {
                        return Err(StoreError::corrupt(column.name(), "sealed value", e));
                    }
                };
                inner
                    .reseal(column, (&text, n), &to.encrypt(&plain))
                    .await?;
                others += 1;
            }
        }
    }
    Ok((customers, messages + others))
}

/// Customers and messages (the original rotation).
async fn rotate_core(inner: &dyn Store, from: &PiiCipher, to: &PiiCipher) -> Result<(u64, u64)> {
    let (mut customers, mut messages) = (0u64, 0u64);
    let mut after: Option<CustomerId> = None;
    loop {
        let page = inner.list_customers(after.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for c in page {
            let mut plain = open_customer(from, c)?;
            seal_customer(to, &mut plain);
            inner.update_customer(&plain).await?;
            customers += 1;
        }
    }
    let mut after: Option<MessageId> = None;
    loop {
        let page = inner.scan_messages(after.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for m in page {
            let body = open_field(from, "messages", "body", m.body)?;
            inner.set_message_body(&m.id, &to.encrypt(&body)).await?;
            messages += 1;
        }
    }
    Ok((customers, messages))
}

/// Encrypts PII in batches on their way into the wrapped import.
struct SealingSink {
    inner: Box<dyn ImportSink>,
    cipher: PiiCipher,
}

#[async_trait]
impl ImportSink for SealingSink {
    async fn write(&mut self, mut batch: Batch) -> Result<Vec<RowReject>> {
        match &mut batch {
            Batch::Customers(rows) => rows
                .iter_mut()
                .for_each(|(_, c, _)| seal_customer(&self.cipher, c)),
            Batch::Messages(rows) => rows
                .iter_mut()
                .for_each(|(_, m)| m.body = self.cipher.encrypt(&m.body)),
            _ => {}
        }
        self.inner.write(batch).await
    }
    async fn finish(&mut self) -> Result<Vec<RowReject>> {
        self.inner.finish().await
    }
    async fn commit(self: Box<Self>, rejected: u64) -> Result<ImportRecord> {
        self.inner.commit(rejected).await
    }
    async fn rollback(self: Box<Self>) -> Result<()> {
        self.inner.rollback().await
    }
}

#[async_trait]
impl Store for EncryptedStore {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
    fn stream(&self) -> &dyn crate::StreamStore {
        &self.stream
    }
    fn assistant(&self) -> &dyn crate::AssistantStore {
        &self.assistant
    }
    /// Nothing personal is stored here (ids, arms, counts), so nothing to seal.
    fn outcomes(&self) -> &dyn crate::OutcomeStore {
        self.inner.outcomes()
    }
    async fn get_customer(&self, id: &CustomerId) -> Result<Option<Customer>> {
        self.inner
            .get_customer(id)
            .await?
            .map(|c| open_customer(&self.cipher, c))
            .transpose()
    }
    async fn list_customers(
        &self,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<Vec<Customer>> {
        self.inner
            .list_customers(after, limit)
            .await?
            .into_iter()
            .map(|c| open_customer(&self.cipher, c))
            .collect()
    }
    async fn count(&self, table: Table) -> Result<u64> {
        self.inner.count(table).await
    }
    async fn customer_snapshot(
        &self,
        id: &CustomerId,
        defaults: &[sextant_core::ConsentPurpose],
    ) -> Result<Option<crate::CustomerSnapshot>> {
        match self.inner.customer_snapshot(id, defaults).await? {
            None => Ok(None),
            Some(mut snap) => {
                snap.customer = open_customer(&self.cipher, snap.customer)?;
                Ok(Some(snap))
            }
        }
    }
    async fn list_accounts(&self, customer: &CustomerId) -> Result<Vec<Account>> {
        self.inner.list_accounts(customer).await
    }
    async fn list_transactions(
        &self,
        customer: &CustomerId,
        before: Option<(i64, TransactionId)>,
        limit: u32,
    ) -> Result<Vec<Transaction>> {
        self.inner.list_transactions(customer, before, limit).await
    }
    async fn list_products(&self) -> Result<Vec<Product>> {
        self.inner.list_products().await
    }
    async fn begin_import(&self, kind: RecordKind, source: &str) -> Result<Box<dyn ImportSink>> {
        let inner = self.inner.begin_import(kind, source).await?;
        Ok(Box::new(SealingSink {
            inner,
            cipher: self.cipher.clone(),
        }))
    }
    async fn list_imports(&self, limit: u32) -> Result<Vec<ImportRecord>> {
        self.inner.list_imports(limit).await
    }
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        self.inner.insert_api_key(key).await
    }
    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>> {
        self.inner.get_api_key(id).await
    }
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        self.inner.list_api_keys().await
    }
    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool> {
        self.inner.revoke_api_key(id, at).await
    }
    async fn idempotency_get(&self, scope: &str, key: &str) -> Result<Option<IdempotentResponse>> {
        self.inner.idempotency_get(scope, key).await
    }
    async fn idempotency_put(
        &self,
        scope: &str,
        key: &str,
        resp: &IdempotentResponse,
    ) -> Result<()> {
        self.inner.idempotency_put(scope, key, resp).await
    }
    async fn append_consent(&self, rec: &ConsentRecord) -> Result<bool> {
        self.inner.append_consent(rec).await
    }
    async fn consent_history(&self, id: &CustomerId) -> Result<Vec<ConsentRecord>> {
        self.inner.consent_history(id).await
    }
    async fn do_not_sell(&self, id: &CustomerId) -> Result<Option<bool>> {
        self.inner.do_not_sell(id).await
    }
    async fn set_do_not_sell(&self, id: &CustomerId, value: bool) -> Result<bool> {
        self.inner.set_do_not_sell(id, value).await
    }
    async fn consent_state(
        &self,
        id: &CustomerId,
        defaults: &[ConsentPurpose],
    ) -> Result<Option<ConsentState>> {
        self.inner.consent_state(id, defaults).await
    }
    async fn update_customer(&self, c: &Customer) -> Result<bool> {
        let mut sealed = c.clone();
        seal_customer(&self.cipher, &mut sealed);
        self.inner.update_customer(&sealed).await
    }
    async fn get_protected(&self, id: &CustomerId) -> Result<Option<ProtectedAttributes>> {
        self.inner.get_protected(id).await
    }
    async fn list_messages(&self, id: &CustomerId) -> Result<Vec<CustomerMessage>> {
        self.inner
            .list_messages(id)
            .await?
            .into_iter()
            .map(|m| open_message(&self.cipher, m))
            .collect()
    }
    async fn scan_messages(
        &self,
        after: Option<&MessageId>,
        limit: u32,
    ) -> Result<Vec<CustomerMessage>> {
        self.inner
            .scan_messages(after, limit)
            .await?
            .into_iter()
            .map(|m| open_message(&self.cipher, m))
            .collect()
    }
    async fn set_message_body(&self, id: &MessageId, body: &str) -> Result<bool> {
        self.inner
            .set_message_body(id, &self.cipher.encrypt(body))
            .await
    }
    async fn sealed_page(
        &self,
        column: crate::SealedColumn,
        after: (&str, i64),
        limit: u32,
    ) -> Result<Vec<(String, i64, String)>> {
        self.inner.sealed_page(column, after, limit).await
    }
    async fn reseal(
        &self,
        column: crate::SealedColumn,
        key: (&str, i64),
        value: &str,
    ) -> Result<bool> {
        self.inner.reseal(column, key, value).await
    }
    async fn list_events(&self, id: &CustomerId) -> Result<Vec<CustomerEvent>> {
        self.inner.list_events(id).await
    }
    async fn list_decisions(&self, id: &CustomerId) -> Result<Vec<Decision>> {
        self.inner.list_decisions(id).await
    }
    async fn erase_customer(
        &self,
        id: &CustomerId,
        unlearn: &[crate::ArmWrite],
    ) -> Result<Option<Vec<(String, u64)>>> {
        self.inner.erase_customer(id, unlearn).await
    }
    async fn offer_outcomes(&self) -> Result<Vec<(ProtectedAttributes, bool)>> {
        self.inner.offer_outcomes().await
    }
    async fn spend_rows(&self, group: SpendGroup) -> Result<Vec<SpendRowOwned>> {
        self.inner.spend_rows(group).await
    }
    async fn privacy_charge(
        &self,
        analyst: &str,
        epsilon: u64,
        budget: u64,
        query: &str,
    ) -> Result<Result<u64, u64>> {
        self.inner
            .privacy_charge(analyst, epsilon, budget, query)
            .await
    }
    async fn customer_spend(&self, id: &CustomerId) -> Result<Vec<(String, i64)>> {
        self.inner.customer_spend(id).await
    }
    async fn dp_release_get(&self, key: &str) -> Result<Option<String>> {
        self.inner.dp_release_get(key).await
    }
    async fn dp_release_put(&self, key: &str, epsilon: u64, body: &str) -> Result<String> {
        self.inner.dp_release_put(key, epsilon, body).await
    }
    async fn put_features(&self, rows: &[crate::FeatureRow]) -> Result<()> {
        self.inner.put_features(rows).await
    }
    async fn get_features(&self, id: &CustomerId) -> Result<Option<crate::FeatureRow>> {
        self.inner.get_features(id).await
    }
    async fn features_written_since(
        &self,
        after: (i64, Option<&CustomerId>),
        limit: u32,
    ) -> Result<Vec<(i64, crate::FeatureRow)>> {
        self.inner.features_written_since(after, limit).await
    }
    async fn scan_features(
        &self,
        version: i64,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<Vec<crate::FeatureRow>> {
        self.inner.scan_features(version, after, limit).await
    }
    async fn delete_profiling(&self, id: &CustomerId) -> Result<()> {
        self.inner.delete_profiling(id).await
    }
    async fn save_segment_model(&self, m: &crate::SegmentModelRecord) -> Result<i64> {
        self.inner.save_segment_model(m).await
    }
    async fn segment_model(
        &self,
        version: Option<i64>,
    ) -> Result<Option<crate::SegmentModelRecord>> {
        self.inner.segment_model(version).await
    }
    async fn list_segment_models(&self) -> Result<Vec<crate::SegmentModelRecord>> {
        self.inner.list_segment_models().await
    }
    async fn promote_segment_model(&self, version: i64) -> Result<bool> {
        self.inner.promote_segment_model(version).await
    }
    async fn put_segments(&self, rows: &[crate::SegmentRow]) -> Result<()> {
        self.inner.put_segments(rows).await
    }
    async fn get_segment(&self, id: &CustomerId) -> Result<Option<crate::SegmentRow>> {
        self.inner.get_segment(id).await
    }
    async fn segment_sizes(&self, model_version: i64) -> Result<Vec<(String, u64)>> {
        self.inner.segment_sizes(model_version).await
    }
    async fn save_model(
        &self,
        name: &str,
        created_at: i64,
        card: &str,
        model: &str,
    ) -> Result<i64> {
        self.inner.save_model(name, created_at, card, model).await
    }
    async fn get_model(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<crate::ModelRecord>> {
        self.inner.get_model(name, version).await
    }
    async fn list_models(&self) -> Result<Vec<crate::ModelRecord>> {
        self.inner.list_models().await
    }
    async fn promote_model(&self, name: &str, version: i64) -> Result<bool> {
        self.inner.promote_model(name, version).await
    }
    async fn insert_decision(&self, d: &Decision) -> Result<bool> {
        self.inner.insert_decision(d).await
    }
    async fn promoted_model_version(&self, name: &str) -> Result<Option<i64>> {
        self.inner.promoted_model_version(name).await
    }
    async fn insert_event(&self, e: &CustomerEvent) -> Result<EventInsert> {
        self.inner.insert_event(e).await
    }
    async fn decision_events(&self, id: &DecisionId) -> Result<Vec<CustomerEvent>> {
        self.inner.decision_events(id).await
    }
    async fn get_decision(&self, id: &DecisionId) -> Result<Option<Decision>> {
        self.inner.get_decision(id).await
    }
    async fn record_decisions(
        &self,
        decisions: &[Decision],
        reviews: &[ReviewCase],
        audit: AuditRecord,
    ) -> Result<AuditEntry> {
        let sealed: Vec<ReviewCase> = reviews
            .iter()
            .map(|r| ReviewCase {
                note: r.note.as_deref().map(|n| self.cipher.encrypt(n)),
                ..r.clone()
            })
            .collect();
        self.inner.record_decisions(decisions, &sealed, audit).await
    }
    async fn list_reviews(
        &self,
        status: Option<ReviewStatus>,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<ReviewCase>> {
        self.inner
            .list_reviews(status, after, limit)
            .await?
            .into_iter()
            .map(|r| open_review(&self.cipher, r))
            .collect()
    }
    async fn customer_reviews(&self, customer: &CustomerId) -> Result<Vec<ReviewCase>> {
        self.inner
            .customer_reviews(customer)
            .await?
            .into_iter()
            .map(|r| open_review(&self.cipher, r))
            .collect()
    }
    async fn get_review(&self, id: &str) -> Result<Option<ReviewCase>> {
        self.inner
            .get_review(id)
            .await?
            .map(|r| open_review(&self.cipher, r))
            .transpose()
    }
    async fn resolve_review(
        &self,
        id: &str,
        outcome: &ReviewOutcome,
        audit: AuditRecord,
    ) -> Result<Option<Result<AuditEntry, ReviewStatus>>> {
        let sealed = ReviewOutcome {
            note: outcome.note.as_deref().map(|n| self.cipher.encrypt(n)),
            ..outcome.clone()
        };
        self.inner.resolve_review(id, &sealed, audit).await
    }
    async fn approved_undelivered(&self, customer: &CustomerId) -> Result<Vec<Decision>> {
        self.inner.approved_undelivered(customer).await
    }
    async fn set_decision_status(&self, id: &DecisionId, status: &str) -> Result<bool> {
        self.inner.set_decision_status(id, status).await
    }
    async fn bandit_arms(&self, policy: &str) -> Result<Vec<ArmRow>> {
        self.inner.bandit_arms(policy).await
    }
    async fn bandit_put(
        &self,
        policy: &str,
        arm: &str,
        state: &str,
        expected: i64,
    ) -> Result<bool> {
        self.inner.bandit_put(policy, arm, state, expected).await
    }
    async fn record_feedback(
        &self,
        e: &CustomerEvent,
        policy: &str,
        arm: &str,
        state: &str,
        expected: i64,
    ) -> Result<FeedbackWrite> {
        self.inner
            .record_feedback(e, policy, arm, state, expected)
            .await
    }
    async fn put_recommender_model(&self, name: &str, body: &str) -> Result<()> {
        self.inner.put_recommender_model(name, body).await
    }
    async fn get_recommender_model(&self, name: &str) -> Result<Option<String>> {
        self.inner.get_recommender_model(name).await
    }
    async fn product_sets(
        &self,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<Vec<(CustomerId, Vec<ProductId>)>> {
        self.inner.product_sets(after, limit).await
    }
    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        self.inner.append_audit(record).await
    }
    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        self.inner.audit_entries(after, limit).await
    }
    async fn audit_range(
        &self,
        from: i64,
        to: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        self.inner.audit_range(from, to, after, limit).await
    }
}
