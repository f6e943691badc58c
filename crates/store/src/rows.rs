//! Row mapping shared by both backends. The two schemas store the same column types (BIGINT
//! microseconds for times, TEXT dates, BIGINT minor units), so one mapping serves both.

use crate::{ApiKeyRecord, ImportRecord, Result, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use sextant_core::{
    Account, AuditEntry, Currency, Customer, Money, Product, SentimentScore, Transaction,
};

/// Column access over a SQLite or PostgreSQL row.
pub(crate) trait Cells {
    fn text(&self, i: usize) -> Result<Option<String>>;
    fn int(&self, i: usize) -> Result<Option<i64>>;
    fn real(&self, i: usize) -> Result<Option<f64>>;
}

impl Cells for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.get(i)?)
    }
    fn int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.get(i)?)
    }
    fn real(&self, i: usize) -> Result<Option<f64>> {
        Ok(self.get(i)?)
    }
}

impl Cells for tokio_postgres::Row {
    fn text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get(i)?)
    }
    fn int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    fn real(&self, i: usize) -> Result<Option<f64>> {
        Ok(self.try_get(i)?)
    }
}

struct Reader<'a> {
    row: &'a dyn Cells,
    table: &'static str,
}

impl Reader<'_> {
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        self.row.text(i)
    }
    fn text(&self, i: usize, col: &'static str) -> Result<String> {
        self.row
            .text(i)?
            .ok_or_else(|| StoreError::corrupt(self.table, col, "NULL"))
    }
    fn int(&self, i: usize, col: &'static str) -> Result<i64> {
        self.row
            .int(i)?
            .ok_or_else(|| StoreError::corrupt(self.table, col, "NULL"))
    }
    fn parse<T: std::str::FromStr>(&self, i: usize, col: &'static str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        self.text(i, col)?
            .parse()
            .map_err(|e| StoreError::corrupt(self.table, col, e))
    }
    fn opt_parse<T: std::str::FromStr>(&self, i: usize, col: &'static str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        match self.row.text(i)? {
            Some(s) => Ok(Some(
                s.parse()
                    .map_err(|e| StoreError::corrupt(self.table, col, e))?,
            )),
            None => Ok(None),
        }
    }
    fn currency(&self, i: usize) -> Result<Currency> {
        Currency::parse(&self.text(i, "currency")?)
            .map_err(|e| StoreError::corrupt(self.table, "currency", e))
    }
    fn time(&self, i: usize, col: &'static str) -> Result<DateTime<Utc>> {
        let v = self.int(i, col)?;
        DateTime::from_timestamp_micros(v)
            .ok_or_else(|| StoreError::corrupt(self.table, col, "timestamp out of range"))
    }
    fn date(&self, i: usize, col: &'static str) -> Result<Option<NaiveDate>> {
        match self.row.text(i)? {
            Some(s) => Ok(Some(
                NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                    .map_err(|e| StoreError::corrupt(self.table, col, e))?,
            )),
            None => Ok(None),
        }
    }
}

pub(crate) const CUSTOMER_COLS: &str = "id, name, age, income_minor, currency, spending_habit, risk_profile, \
     transactions, sentiment_score, engagement_level, email, phone, occupation, joined_on";

pub(crate) fn customer(row: &dyn Cells) -> Result<Customer> {
    let r = Reader {
        row,
        table: "customers",
    };
    let currency = r.currency(4)?;
    let age = r.int(2, "age")?;
    let sentiment = row
        .real(8)?
        .ok_or_else(|| StoreError::corrupt("customers", "sentiment_score", "NULL"))?;
    Ok(Customer {
        id: r.parse(0, "id")?,
        name: r.text(1, "name")?,
        age: u8::try_from(age).map_err(|e| StoreError::corrupt("customers", "age", e))?,
        income: Money::new(r.int(3, "income_minor")?, currency),
        spending_habit: r.parse(5, "spending_habit")?,
        risk_profile: r.parse(6, "risk_profile")?,
        transactions: u32::try_from(r.int(7, "transactions")?)
            .map_err(|e| StoreError::corrupt("customers", "transactions", e))?,
        sentiment_score: SentimentScore::new(sentiment)
            .map_err(|e| StoreError::corrupt("customers", "sentiment_score", e))?,
        engagement_level: r.parse(9, "engagement_level")?,
        email: r.opt_text(10)?,
        phone: r.opt_text(11)?,
        occupation: r.opt_text(12)?,
        joined_on: r.date(13, "joined_on")?,
    })
}

pub(crate) const ACCOUNT_COLS: &str = "id, customer_id, kind, product_id, currency, opened_on, closed_on, status, limit_minor, balance_minor";

pub(crate) fn account(row: &dyn Cells) -> Result<Account> {
    let r = Reader {
        row,
        table: "accounts",
    };
    let currency = r.currency(4)?;
    Ok(Account {
        id: r.parse(0, "id")?,
        customer_id: r.parse(1, "customer_id")?,
        kind: r.parse(2, "kind")?,
        product_id: r.opt_parse(3, "product_id")?,
        currency,
        opened_on: r
            .date(5, "opened_on")?
            .ok_or_else(|| StoreError::corrupt("accounts", "opened_on", "NULL"))?,
        closed_on: r.date(6, "closed_on")?,
        status: r.parse(7, "status")?,
        limit: row.int(8)?.map(|m| Money::new(m, currency)),
        balance: Money::new(r.int(9, "balance_minor")?, currency),
    })
}

pub(crate) const TRANSACTION_COLS: &str = "id, customer_id, account_id, ts, amount_minor, currency, merchant, \
     category, mcc, channel, country, balance_after_minor, status";

pub(crate) fn transaction(row: &dyn Cells) -> Result<Transaction> {
    let r = Reader {
        row,
        table: "transactions",
    };
    let currency = r.currency(5)?;
    let mcc = match row.int(8)? {
        Some(v) => Some(
            u16::try_from(v)
                .ok()
                .and_then(|v| sextant_core::Mcc::try_from(v).ok())
                .ok_or_else(|| StoreError::corrupt("transactions", "mcc", v))?,
        ),
        None => None,
    };
    Ok(Transaction {
        id: r.parse(0, "id")?,
        customer_id: r.parse(1, "customer_id")?,
        account_id: r.parse(2, "account_id")?,
        timestamp: r.time(3, "ts")?,
        amount: Money::new(r.int(4, "amount_minor")?, currency),
        merchant: r.opt_text(6)?,
        category: r.parse(7, "category")?,
        mcc,
        channel: r.parse(9, "channel")?,
        country: sextant_core::CountryCode::parse(&r.text(10, "country")?)
            .map_err(|e| StoreError::corrupt("transactions", "country", e))?,
        balance_after: row.int(11)?.map(|m| Money::new(m, currency)),
        status: r.parse(12, "status")?,
    })
}

pub(crate) const PRODUCT_COLS: &str = "id, name, family, risk_level, currency, min_income_minor, rate_bps, annual_fee_minor, description, active";

pub(crate) fn product(row: &dyn Cells) -> Result<Product> {
    let r = Reader {
        row,
        table: "products",
    };
    let currency = r.currency(4)?;
    Ok(Product {
        id: r.parse(0, "id")?,
        name: r.text(1, "name")?,
        family: r.parse(2, "family")?,
        risk_level: r.parse(3, "risk_level")?,
        min_income: row.int(5)?.map(|m| Money::new(m, currency)),
        rate_bps: row.int(6)?.map(|v| v as i32),
        annual_fee: row.int(7)?.map(|m| Money::new(m, currency)),
        description: r.text(8, "description")?,
        active: r.int(9, "active")? != 0,
    })
}

pub(crate) const AUDIT_COLS: &str = "seq, at, actor, action, subject, details, prev_hash, hash";

pub(crate) fn audit(row: &dyn Cells) -> Result<AuditEntry> {
    let r = Reader {
        row,
        table: "audit_log",
    };
    Ok(AuditEntry {
        seq: r.int(0, "seq")?,
        at: r.time(1, "at")?,
        actor: r.text(2, "actor")?,
        action: r.text(3, "action")?,
        subject: r.text(4, "subject")?,
        details: serde_json::from_str(&r.text(5, "details")?)
            .map_err(|e| StoreError::corrupt("audit_log", "details", e))?,
        prev_hash: r.text(6, "prev_hash")?,
        hash: r.text(7, "hash")?,
    })
}

pub(crate) const API_KEY_COLS: &str = "id, hash, role, customer_id, label, created_at, revoked_at";

pub(crate) fn api_key(row: &dyn Cells) -> Result<ApiKeyRecord> {
    let r = Reader {
        row,
        table: "api_keys",
    };
    Ok(ApiKeyRecord {
        id: r.text(0, "id")?,
        hash: r.text(1, "hash")?,
        role: r.parse(2, "role")?,
        customer_id: r.opt_parse(3, "customer_id")?,
        label: r.text(4, "label")?,
        created_at: r.int(5, "created_at")?,
        revoked_at: row.int(6)?,
    })
}

pub(crate) const IMPORT_COLS: &str =
    "id, kind, source, started_at, finished_at, status, rows_written, rows_new, rows_rejected";

pub(crate) fn import(row: &dyn Cells) -> Result<ImportRecord> {
    let r = Reader {
        row,
        table: "imports",
    };
    Ok(ImportRecord {
        id: r.text(0, "id")?,
        kind: r.text(1, "kind")?,
        source: r.text(2, "source")?,
        started_at: r.int(3, "started_at")?,
        finished_at: row.int(4)?,
        status: r.text(5, "status")?,
        rows_written: r.int(6, "rows_written")? as u64,
        rows_new: r.int(7, "rows_new")? as u64,
        rows_rejected: r.int(8, "rows_rejected")? as u64,
    })
}

pub(crate) const CONSENT_COLS: &str = "customer_id, purpose, granted, at, source";

pub(crate) fn consent(row: &dyn Cells) -> Result<sextant_core::ConsentRecord> {
    let r = Reader {
        row,
        table: "consents",
    };
    Ok(sextant_core::ConsentRecord {
        customer_id: r.parse(0, "customer_id")?,
        purpose: r.parse(1, "purpose")?,
        granted: r.int(2, "granted")? != 0,
        at: r.time(3, "at")?,
        source: r.text(4, "source")?,
    })
}

pub(crate) const MESSAGE_COLS: &str = "id, customer_id, ts, channel, body, sentiment";

pub(crate) fn message(row: &dyn Cells) -> Result<sextant_core::CustomerMessage> {
    let r = Reader {
        row,
        table: "messages",
    };
    Ok(sextant_core::CustomerMessage {
        id: r.parse(0, "id")?,
        customer_id: r.parse(1, "customer_id")?,
        timestamp: r.time(2, "ts")?,
        channel: r.text(3, "channel")?,
        body: r.text(4, "body")?,
        sentiment: row.real(5)?,
    })
}

pub(crate) const EVENT_COLS: &str = "id, customer_id, ts, kind, product_id, decision_id, value";

pub(crate) fn event(row: &dyn Cells) -> Result<sextant_core::CustomerEvent> {
    let r = Reader {
        row,
        table: "events",
    };
    Ok(sextant_core::CustomerEvent {
        id: r.parse(0, "id")?,
        customer_id: r.parse(1, "customer_id")?,
        timestamp: r.time(2, "ts")?,
        kind: r.parse(3, "kind")?,
        product_id: r.opt_parse(4, "product_id")?,
        decision_id: r.opt_parse(5, "decision_id")?,
        value: row.int(6)?.map(|v| v as i32),
    })
}

pub(crate) const DECISION_COLS: &str = "id, customer_id, at, kind, versions, payload, status";

pub(crate) fn decision(row: &dyn Cells) -> Result<sextant_core::Decision> {
    let r = Reader {
        row,
        table: "decisions",
    };
    let json = |i: usize, col: &'static str| -> Result<serde_json::Value> {
        serde_json::from_str(&r.text(i, col)?).map_err(|e| StoreError::corrupt("decisions", col, e))
    };
    Ok(sextant_core::Decision {
        id: r.parse(0, "id")?,
        customer_id: r.parse(1, "customer_id")?,
        at: r.time(2, "at")?,
        kind: r.text(3, "kind")?,
        versions: json(4, "versions")?,
        payload: json(5, "payload")?,
        status: r.text(6, "status")?,
    })
}

pub(crate) const PROTECTED_COLS: &str = "gender, age_band, region, ethnicity";

pub(crate) fn protected(row: &dyn Cells) -> Result<sextant_core::ProtectedAttributes> {
    Ok(sextant_core::ProtectedAttributes {
        gender: row.text(0)?,
        age_band: row.text(1)?,
        region: row.text(2)?,
        ethnicity: row.text(3)?,
    })
}

/// Tables holding a customer's rows, children first: the order erasure deletes in.
pub(crate) const CUSTOMER_TABLES: &[(&str, &str)] = &[
    ("experiment_exposures", "customer_id"),
    ("contact_preferences", "customer_id"),
    ("conversation_turns", "customer_id"),
    ("conversations", "customer_id"),
    ("goals", "customer_id"),
    ("features", "customer_id"),
    ("customer_segments", "customer_id"),
    ("transactions", "customer_id"),
    ("accounts", "customer_id"),
    ("messages", "customer_id"),
    ("events", "customer_id"),
    ("reviews", "customer_id"),
    ("decisions", "customer_id"),
    ("consents", "customer_id"),
    ("customer_protected", "customer_id"),
    ("api_keys", "customer_id"),
    ("customers", "id"),
];

/// Offers shown, with protected attributes and whether they were accepted.
pub(crate) const OFFER_OUTCOMES: &str = "SELECT p.gender, p.age_band, p.region, p.ethnicity, \
     CASE WHEN EXISTS (SELECT 1 FROM events a WHERE a.customer_id = i.customer_id AND a.product_id = i.product_id \
     AND a.kind = 'accept') THEN 1 ELSE 0 END \
     FROM events i JOIN customer_protected p ON p.customer_id = i.customer_id WHERE i.kind = 'impression' ORDER BY i.id";

pub(crate) fn offer_outcome(row: &dyn Cells) -> Result<(sextant_core::ProtectedAttributes, bool)> {
    Ok((protected(row)?, row.int(4)?.unwrap_or(0) != 0))
}

/// Debits per customer and category, with the customer's group value (`{group}` is a column
/// name from `SpendGroup`, never user input).
pub(crate) fn spend_rows_sql(group: crate::SpendGroup) -> String {
    format!(
        "SELECT t.customer_id, c.{g}, t.category, CAST(SUM(-t.amount_minor) AS BIGINT) FROM transactions t \
         JOIN customers c ON c.id = t.customer_id WHERE t.amount_minor < 0 AND t.status = 'approved' \
         AND t.category NOT IN ('transfer', 'savings', 'loan_repayment') \
         GROUP BY t.customer_id, c.{g}, t.category ORDER BY t.customer_id, t.category",
        g = group.column()
    )
}

/// One customer's debits per category (same filters as `spend_rows_sql`).
pub(crate) const CUSTOMER_SPEND: &str = "SELECT category, CAST(SUM(-amount_minor) AS BIGINT) FROM transactions \
     WHERE customer_id = $1 AND amount_minor < 0 AND status = 'approved' \
     AND category NOT IN ('transfer', 'savings', 'loan_repayment') GROUP BY category ORDER BY category";

pub(crate) fn category_spend(row: &dyn Cells) -> Result<(String, i64)> {
    let r = Reader {
        row,
        table: "transactions",
    };
    Ok((r.text(0, "category")?, r.int(1, "spend")?))
}

pub(crate) fn spend_row(row: &dyn Cells) -> Result<crate::SpendRowOwned> {
    let r = Reader {
        row,
        table: "transactions",
    };
    Ok((
        r.text(0, "customer_id")?,
        r.text(1, "group")?,
        r.text(2, "category")?,
        r.int(3, "spend")?,
    ))
}

pub(crate) fn feature_row(row: &dyn Cells) -> Result<crate::FeatureRow> {
    let r = Reader {
        row,
        table: "features",
    };
    Ok(crate::FeatureRow {
        customer_id: r.parse(0, "customer_id")?,
        version: r.int(1, "version")?,
        computed_at: r.int(2, "computed_at")?,
        vector: r.text(3, "vector")?,
    })
}

/// A feature row with its `written_at` (column 4).
pub(crate) fn written_feature_row(row: &dyn Cells) -> Result<(i64, crate::FeatureRow)> {
    let r = Reader {
        row,
        table: "features",
    };
    Ok((r.int(4, "written_at")?, feature_row(row)?))
}

pub(crate) const SEGMENT_MODEL_COLS: &str =
    "version, created_at, feature_version, trained_on, data_hash, model, promoted";

pub(crate) fn segment_model(row: &dyn Cells) -> Result<crate::SegmentModelRecord> {
    let r = Reader {
        row,
        table: "segment_models",
    };
    Ok(crate::SegmentModelRecord {
        version: r.int(0, "version")?,
        created_at: r.int(1, "created_at")?,
        feature_version: r.int(2, "feature_version")?,
        trained_on: r.int(3, "trained_on")?,
        data_hash: r.text(4, "data_hash")?,
        model: r.text(5, "model")?,
        promoted: r.int(6, "promoted")? != 0,
    })
}

pub(crate) fn segment_row(row: &dyn Cells) -> Result<crate::SegmentRow> {
    let r = Reader {
        row,
        table: "customer_segments",
    };
    Ok(crate::SegmentRow {
        customer_id: r.parse(0, "customer_id")?,
        model_version: r.int(1, "model_version")?,
        segment_id: r.text(2, "segment_id")?,
        distance: row
            .real(3)?
            .ok_or_else(|| StoreError::corrupt("customer_segments", "distance", "NULL"))?,
        assigned_at: r.int(4, "assigned_at")?,
    })
}

pub(crate) fn segment_size(row: &dyn Cells) -> Result<(String, u64)> {
    let r = Reader {
        row,
        table: "customer_segments",
    };
    Ok((r.text(0, "segment_id")?, r.int(1, "count")? as u64))
}

/// SQL shared by both backends, written with `$n` placeholders (SQLite gets `?n`).
pub(crate) mod sql {
    pub const UPSERT_FEATURES: &str = "INSERT INTO features (customer_id, version, computed_at, vector, written_at) VALUES ($1, $2, $3, $4, $5) \
        ON CONFLICT (customer_id) DO UPDATE SET version = excluded.version, computed_at = excluded.computed_at, \
        vector = excluded.vector, written_at = excluded.written_at";
    /// Rows written after the keyset cursor `(written_at, customer_id)`, oldest write first.
    pub const FEATURES_WRITTEN: &str = "SELECT customer_id, version, computed_at, vector, written_at FROM features \
        WHERE written_at > $1 OR (written_at = $1 AND customer_id > $2) ORDER BY written_at, customer_id LIMIT $3";
    pub const GET_FEATURES: &str =
        "SELECT customer_id, version, computed_at, vector FROM features WHERE customer_id = $1";
    pub const SCAN_FEATURES: &str = "SELECT customer_id, version, computed_at, vector FROM features \
        WHERE version = $1 AND ($2::text IS NULL OR customer_id > $2) ORDER BY customer_id LIMIT $3";
    pub const NEXT_MODEL_VERSION: &str = "SELECT COALESCE(MAX(version), 0) + 1 FROM segment_models";
    pub const INSERT_MODEL: &str = "INSERT INTO segment_models (version, created_at, feature_version, trained_on, data_hash, model, promoted) \
        VALUES ($1, $2, $3, $4, $5, $6, 0)";
    pub const UNPROMOTE: &str = "UPDATE segment_models SET promoted = 0 WHERE promoted = 1";
    pub const PROMOTE: &str = "UPDATE segment_models SET promoted = 1 WHERE version = $1";
    pub const UPSERT_SEGMENT: &str = "INSERT INTO customer_segments (customer_id, model_version, segment_id, distance, assigned_at) \
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (customer_id) DO UPDATE SET model_version = excluded.model_version, \
        segment_id = excluded.segment_id, distance = excluded.distance, assigned_at = excluded.assigned_at";
    pub const GET_SEGMENT: &str = "SELECT customer_id, model_version, segment_id, distance, assigned_at FROM customer_segments \
        WHERE customer_id = $1";
    pub const SEGMENT_SIZES: &str = "SELECT segment_id, COUNT(*) FROM customer_segments WHERE model_version = $1 \
        GROUP BY segment_id ORDER BY segment_id";

    /// The same statement for SQLite: `?n` placeholders, no PostgreSQL casts.
    pub fn sqlite(pg: &str) -> String {
        pg.replace("::text", "").replace('$', "?")
    }
}

pub(crate) const REVIEW_COLS: &str = "id, decision_id, customer_id, created_at, reason, status, reviewer, note, \
     resolved_at, modified_payload";

pub(crate) fn review(row: &dyn Cells) -> Result<crate::ReviewCase> {
    let r = Reader {
        row,
        table: "reviews",
    };
    let status = r.text(5, "status")?;
    Ok(crate::ReviewCase {
        id: r.text(0, "id")?,
        decision_id: r.parse(1, "decision_id")?,
        customer_id: r.parse(2, "customer_id")?,
        created_at: r.int(3, "created_at")?,
        reason: serde_json::from_str(&r.text(4, "reason")?)
            .map_err(|e| StoreError::corrupt("reviews", "reason", e))?,
        status: crate::ReviewStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt("reviews", "status", status))?,
        reviewer: r.opt_text(6)?,
        note: r.opt_text(7)?,
        resolved_at: row.int(8)?,
        modified_payload: match r.opt_text(9)? {
            Some(s) => Some(
                serde_json::from_str(&s)
                    .map_err(|e| StoreError::corrupt("reviews", "modified_payload", e))?,
            ),
            None => None,
        },
    })
}

pub(crate) fn arm(row: &dyn Cells) -> Result<crate::ArmRow> {
    let r = Reader {
        row,
        table: "bandit_arms",
    };
    Ok(crate::ArmRow {
        arm: r.text(0, "arm")?,
        state: r.text(1, "state")?,
        version: r.int(2, "version")?,
    })
}

pub(crate) fn customer_product(
    row: &dyn Cells,
) -> Result<(sextant_core::CustomerId, sextant_core::ProductId)> {
    let r = Reader {
        row,
        table: "accounts",
    };
    Ok((r.parse(0, "customer_id")?, r.parse(1, "product_id")?))
}

/// Group `(customer, product)` pairs, sorted by customer, into one product list per customer.
pub(crate) fn group_products(
    pairs: Vec<(sextant_core::CustomerId, sextant_core::ProductId)>,
) -> Vec<(sextant_core::CustomerId, Vec<sextant_core::ProductId>)> {
    let mut out: Vec<(sextant_core::CustomerId, Vec<sextant_core::ProductId>)> = Vec::new();
    for (c, p) in pairs {
        match out.last_mut() {
            Some((last, ps)) if *last == c => ps.push(p),
            _ => out.push((c, vec![p])),
        }
    }
    out
}

/// The decision status a review outcome sets; `Pending` is not an outcome.
pub(crate) fn resolved_decision_status(s: crate::ReviewStatus) -> Result<&'static str> {
    match s {
        crate::ReviewStatus::Approved | crate::ReviewStatus::Modified => Ok("approved"),
        crate::ReviewStatus::Rejected => Ok("rejected"),
        crate::ReviewStatus::Pending => Err(StoreError::Conflict(
            "a review outcome must be approved, modified or rejected".into(),
        )),
    }
}

/// Next-best-action statements with `$n` placeholders (SQLite gets `?n` through `sql::sqlite`).
pub(crate) mod nba {
    pub const INSERT_EVENT: &str = "INSERT INTO events (id, customer_id, ts, kind, product_id, decision_id, value) \
        VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING";
    pub const CUSTOMER_EXISTS: &str = "SELECT 1 FROM customers WHERE id = $1";
    pub const INSERT_DECISION: &str = "INSERT INTO decisions (id, customer_id, at, kind, versions, payload, status) \
        VALUES ($1, $2, $3, $4, $5, $6, $7)";
    pub const INSERT_REVIEW: &str = "INSERT INTO reviews (id, decision_id, customer_id, created_at, reason, status, \
        reviewer, note, resolved_at, modified_payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    pub const RESOLVE_REVIEW: &str = "UPDATE reviews SET status = $2, reviewer = $3, note = $4, resolved_at = $5, \
        modified_payload = $6 WHERE id = $1 AND status = 'pending'";
    pub const RESOLVE_DECISION: &str =
        "UPDATE decisions SET status = $2, payload = COALESCE($3, payload) WHERE id = $1";
    pub const SET_DECISION_STATUS: &str = "UPDATE decisions SET status = $2 WHERE id = $1";
    pub const ARMS: &str =
        "SELECT arm, state, version FROM bandit_arms WHERE policy = $1 ORDER BY arm";
    pub const ARM_INSERT: &str = "INSERT INTO bandit_arms (policy, arm, state, version, updated_at) \
        VALUES ($1, $2, $3, 1, $4) ON CONFLICT (policy, arm) DO NOTHING";
    pub const ARM_UPDATE: &str = "UPDATE bandit_arms SET state = $3, version = version + 1, updated_at = $4 \
        WHERE policy = $1 AND arm = $2 AND version = $5";
    pub const PUT_MODEL: &str = "INSERT INTO recommender_models (name, created_at, body) VALUES ($1, $2, $3) \
        ON CONFLICT (name) DO UPDATE SET created_at = excluded.created_at, body = excluded.body";
    pub const GET_MODEL: &str = "SELECT body FROM recommender_models WHERE name = $1";
    /// Products held (open accounts) or accepted, for a page of customers in id order.
    /// One page of customers holding or having accepted at least one product, walked in
    /// customer-id order through the primary key (each page costs index lookups for its own
    /// customers only, not a scan of every holding).
    pub const PRODUCT_SETS: &str = "WITH page AS (SELECT c.id FROM customers c \
        WHERE ($1::text IS NULL OR c.id > $1) \
        AND (EXISTS (SELECT 1 FROM accounts a WHERE a.customer_id = c.id AND a.status = 'open' \
                     AND a.product_id IS NOT NULL) \
          OR EXISTS (SELECT 1 FROM events e WHERE e.customer_id = c.id AND e.kind = 'accept' \
                     AND e.product_id IS NOT NULL)) \
        ORDER BY c.id LIMIT $2) \
        SELECT a.customer_id, a.product_id FROM accounts a JOIN page p ON a.customer_id = p.id \
        WHERE a.status = 'open' AND a.product_id IS NOT NULL \
        UNION SELECT e.customer_id, e.product_id FROM events e JOIN page p ON e.customer_id = p.id \
        WHERE e.kind = 'accept' AND e.product_id IS NOT NULL \
        ORDER BY 1, 2";
}

pub(crate) fn model(row: &dyn Cells) -> Result<crate::ModelRecord> {
    let r = Reader {
        row,
        table: "models",
    };
    Ok(crate::ModelRecord {
        name: r.text(0, "name")?,
        version: r.int(1, "version")?,
        created_at: r.int(2, "created_at")?,
        card: r.text(3, "card")?,
        model: r.text(4, "model")?,
        promoted: r.int(5, "promoted")? != 0,
    })
}

/// Registry statements with `$n` placeholders (SQLite gets `?n` through `sql::sqlite`).
pub(crate) mod registry {
    pub const NEXT_VERSION: &str =
        "SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE name = $1";
    pub const INSERT: &str = "INSERT INTO models (name, version, created_at, card, model, promoted) VALUES ($1, $2, $3, $4, $5, 0)";
    pub const GET: &str = "SELECT name, version, created_at, card, model, promoted FROM models \
        WHERE name = $1 AND (($2::bigint IS NULL AND promoted = 1) OR version = $2)";
    pub const LIST: &str = "SELECT name, version, created_at, card, '' AS model, promoted FROM models ORDER BY name, version";
    pub const EXISTS: &str = "SELECT 1 FROM models WHERE name = $1 AND version = $2";
    pub const UNPROMOTE: &str = "UPDATE models SET promoted = 0 WHERE name = $1 AND promoted = 1";
    pub const PROMOTE: &str = "UPDATE models SET promoted = 1 WHERE name = $1 AND version = $2";
}

/// A NOT NULL text column, or a corruption error naming it.
pub(crate) fn req_text(
    r: &dyn Cells,
    i: usize,
    table: &'static str,
    col: &'static str,
) -> Result<String> {
    r.text(i)?
        .ok_or_else(|| StoreError::corrupt(table, col, "NULL"))
}

/// A NOT NULL integer column, or a corruption error naming it.
pub(crate) fn req_int(
    r: &dyn Cells,
    i: usize,
    table: &'static str,
    col: &'static str,
) -> Result<i64> {
    r.int(i)?
        .ok_or_else(|| StoreError::corrupt(table, col, "NULL"))
}
