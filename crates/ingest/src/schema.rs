//! The import schemas (see `docs/data-formats.md`): which columns each record kind has, and how a
//! raw row becomes a checked domain value.

use crate::RowError;
use crate::raw::Fields;
use sextant_core::customer::{parse_age, parse_count, parse_email, parse_phone};
use sextant_core::money::parse_i64;
use sextant_core::transaction::{parse_date, parse_timestamp};
use sextant_core::*;
use sextant_store::{Batch, RecordKind};
use std::borrow::Cow;

/// Longest ordinary field, in bytes.
pub const MAX_FIELD: usize = 1024;

/// `(required, optional)` column names of a record kind.
pub fn columns(kind: RecordKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        RecordKind::Customers => (
            &[
                "Customer_ID",
                "Name",
                "Age",
                "Income",
                "Spending_Habit",
                "Risk_Profile",
                "Transactions",
                "Sentiment_Score",
                "Engagement_Level",
            ],
            &[
                "Currency",
                "Email",
                "Phone",
                "Occupation",
                "Joined_On",
                "Gender",
                "Age_Band",
                "Region",
                "Ethnicity",
            ],
        ),
        RecordKind::Accounts => (
            &[
                "account_id",
                "customer_id",
                "kind",
                "currency",
                "opened_on",
                "status",
                "balance_minor",
            ],
            &["product_id", "closed_on", "limit_minor"],
        ),
        RecordKind::Transactions => (
            &[
                "transaction_id",
                "customer_id",
                "account_id",
                "timestamp",
                "amount_minor",
                "currency",
                "category",
                "channel",
                "country",
            ],
            &["merchant", "mcc", "balance_after_minor", "status"],
        ),
        RecordKind::Products => (
            &["product_id", "name", "family", "risk_level", "currency"],
            &[
                "min_income_minor",
                "rate_bps",
                "annual_fee_minor",
                "description",
                "active",
            ],
        ),
        RecordKind::Messages => (
            &["message_id", "customer_id", "timestamp", "channel", "body"],
            &[],
        ),
        RecordKind::Events => (
            &["event_id", "customer_id", "timestamp", "kind"],
            &["product_id", "decision_id", "value"],
        ),
        RecordKind::Consents => (
            &["consent_id", "customer_id", "purpose", "granted", "at"],
            &["source"],
        ),
    }
}

/// One parsed row of any kind.
pub enum Row {
    Customer(Customer, ProtectedAttributes),
    Account(Account),
    Transaction(Transaction),
    Product(Product),
    Message(CustomerMessage),
    Event(CustomerEvent),
    Consent(sextant_store::ConsentImport),
}

impl Row {
    pub(crate) fn push(self, line: u64, batch: &mut Batch) {
        match (self, batch) {
            (Row::Customer(c, p), Batch::Customers(v)) => v.push((line, c, p)),
            (Row::Account(a), Batch::Accounts(v)) => v.push((line, a)),
            (Row::Transaction(t), Batch::Transactions(v)) => v.push((line, t)),
            (Row::Product(p), Batch::Products(v)) => v.push((line, p)),
            (Row::Message(m), Batch::Messages(v)) => v.push((line, m)),
            (Row::Event(e), Batch::Events(v)) => v.push((line, e)),
            (Row::Consent(c), Batch::Consents(v)) => v.push((line, c)),
            _ => unreachable!("row kind always matches the batch kind"),
        }
    }
}

pub(crate) fn empty_batch(kind: RecordKind, cap: usize) -> Batch {
    match kind {
        RecordKind::Customers => Batch::Customers(Vec::with_capacity(cap)),
        RecordKind::Accounts => Batch::Accounts(Vec::with_capacity(cap)),
        RecordKind::Transactions => Batch::Transactions(Vec::with_capacity(cap)),
        RecordKind::Products => Batch::Products(Vec::with_capacity(cap)),
        RecordKind::Messages => Batch::Messages(Vec::with_capacity(cap)),
        RecordKind::Events => Batch::Events(Vec::with_capacity(cap)),
        RecordKind::Consents => Batch::Consents(Vec::with_capacity(cap)),
    }
}

/// Field access with errors that name the column.
struct Get<'a> {
    f: &'a dyn Fields,
    line: u64,
}

impl<'a> Get<'a> {
    fn err(&self, col: &str, e: FieldError) -> RowError {
        RowError {
            line: self.line,
            column: Some(col.to_string()),
            reason: e.reason,
        }
    }
    fn opt(&self, col: &str) -> Result<Option<Cow<'a, str>>, RowError> {
        let limit = if col == "body" {
            text::MAX_TEXT_BYTES
        } else {
            MAX_FIELD
        };
        match self.f.get(col).map_err(|e| self.err(col, e))? {
            Some(s) if s.len() > limit => Err(self.err(
                col,
                FieldError::new(format!(
                    "too long: {} bytes, at most {limit} allowed",
                    s.len()
                )),
            )),
            Some(s) if s.trim().is_empty() => Ok(None),
            other => Ok(other),
        }
    }
    fn req(&self, col: &str) -> Result<Cow<'a, str>, RowError> {
        self.opt(col)?
            .ok_or_else(|| self.err(col, FieldError::new("required value is missing")))
    }
    fn parse<T>(
        &self,
        col: &str,
        p: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Result<T, RowError> {
        let v = self.req(col)?;
        p(&v).map_err(|e| self.err(col, e))
    }
    fn parse_opt<T>(
        &self,
        col: &str,
        p: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Result<Option<T>, RowError> {
        match self.opt(col)? {
            Some(v) => p(&v).map(Some).map_err(|e| self.err(col, e)),
            None => Ok(None),
        }
    }
    fn text(&self, col: &str, max: usize) -> Result<String, RowError> {
        self.parse(col, |s| text::required(s, max).map(str::to_string))
    }
    fn opt_text(&self, col: &str, max: usize) -> Result<Option<String>, RowError> {
        self.parse_opt(col, |s| text::bounded(s, max).map(str::to_string))
    }
    fn minor(&self, col: &str, c: Currency) -> Result<Money, RowError> {
        self.parse(col, |s| Money::parse_minor(s, c))
    }
    fn opt_minor(&self, col: &str, c: Currency) -> Result<Option<Money>, RowError> {
        self.parse_opt(col, |s| Money::parse_minor(s, c))
    }
}

fn parse_bool(s: &str) -> Result<bool, FieldError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(FieldError::new(format!(
            "'{}' is not true or false",
            text::preview(other)
        ))),
    }
}

fn parse_i32(s: &str) -> Result<i32, FieldError> {
    let v = parse_i64(s)?;
    i32::try_from(v).map_err(|_| FieldError::new(format!("{v} is out of range")))
}

const MESSAGE_CHANNELS: &[&str] = &["chat", "email", "app", "phone", "branch"];

/// Parse one raw row of `kind`.
pub fn parse_row(kind: RecordKind, f: &dyn Fields, line: u64) -> Result<Row, RowError> {
    let g = Get { f, line };
    Ok(match kind {
        RecordKind::Customers => {
            let currency = g
                .parse_opt("Currency", Currency::parse)?
                .unwrap_or(Currency::EUR);
            let c = Customer {
                id: g.parse("Customer_ID", CustomerId::parse)?,
                name: g.text("Name", 200)?,
                age: g.parse("Age", parse_age)?,
                income: g.parse("Income", |s| Money::parse_major(s, currency))?,
                spending_habit: g.parse("Spending_Habit", str::parse)?,
                risk_profile: g.parse("Risk_Profile", str::parse)?,
                transactions: g.parse("Transactions", parse_count)?,
                sentiment_score: g.parse("Sentiment_Score", SentimentScore::parse)?,
                engagement_level: g.parse("Engagement_Level", str::parse)?,
                email: g.parse_opt("Email", parse_email)?,
                phone: g.parse_opt("Phone", parse_phone)?,
                occupation: g.opt_text("Occupation", 100)?,
                joined_on: g.parse_opt("Joined_On", parse_date)?,
            };
            if c.income.minor < 0 {
                return Err(g.err("Income", FieldError::new("must not be negative")));
            }
            let p = ProtectedAttributes {
                gender: g.opt_text("Gender", 64)?,
                age_band: g.opt_text("Age_Band", 64)?,
                region: g.opt_text("Region", 64)?,
                ethnicity: g.opt_text("Ethnicity", 64)?,
            };
            Row::Customer(c, p)
        }
        RecordKind::Accounts => {
            let currency = g.parse("currency", Currency::parse)?;
            let a = Account {
                id: g.parse("account_id", AccountId::parse)?,
                customer_id: g.parse("customer_id", CustomerId::parse)?,
                kind: g.parse("kind", str::parse)?,
                product_id: g.parse_opt("product_id", ProductId::parse)?,
                currency,
                opened_on: g.parse("opened_on", parse_date)?,
                closed_on: g.parse_opt("closed_on", parse_date)?,
                status: g.parse("status", str::parse)?,
                limit: g.opt_minor("limit_minor", currency)?,
                balance: g.minor("balance_minor", currency)?,
            };
            if let Some(closed) = a.closed_on
                && closed < a.opened_on
            {
                return Err(g.err("closed_on", FieldError::new("is before opened_on")));
            }
            Row::Account(a)
        }
        RecordKind::Transactions => {
            let currency = g.parse("currency", Currency::parse)?;
            Row::Transaction(Transaction {
                id: g.parse("transaction_id", TransactionId::parse)?,
                customer_id: g.parse("customer_id", CustomerId::parse)?,
                account_id: g.parse("account_id", AccountId::parse)?,
                timestamp: g.parse("timestamp", parse_timestamp)?,
                amount: g.minor("amount_minor", currency)?,
                merchant: g.opt_text("merchant", 200)?,
                category: g.parse("category", str::parse)?,
                mcc: g.parse_opt("mcc", Mcc::parse)?,
                channel: g.parse("channel", str::parse)?,
                country: g.parse("country", CountryCode::parse)?,
                balance_after: g.opt_minor("balance_after_minor", currency)?,
                status: g
                    .parse_opt("status", str::parse)?
                    .unwrap_or(TxStatus::Approved),
            })
        }
        RecordKind::Products => {
            let currency = g.parse("currency", Currency::parse)?;
            Row::Product(Product {
                id: g.parse("product_id", ProductId::parse)?,
                name: g.text("name", 200)?,
                family: g.parse("family", str::parse)?,
                risk_level: g.parse("risk_level", str::parse)?,
                min_income: g.opt_minor("min_income_minor", currency)?,
                rate_bps: g.parse_opt("rate_bps", parse_i32)?,
                annual_fee: g.opt_minor("annual_fee_minor", currency)?,
                description: g.opt_text("description", MAX_FIELD)?.unwrap_or_default(),
                active: g.parse_opt("active", parse_bool)?.unwrap_or(true),
            })
        }
        RecordKind::Messages => Row::Message(CustomerMessage {
            id: g.parse("message_id", MessageId::parse)?,
            customer_id: g.parse("customer_id", CustomerId::parse)?,
            timestamp: g.parse("timestamp", parse_timestamp)?,
            channel: g.parse("channel", |s| {
                let s = s.trim().to_ascii_lowercase();
                if MESSAGE_CHANNELS.contains(&s.as_str()) {
                    Ok(s)
                } else {
                    Err(FieldError::new(format!(
                        "unknown message channel '{}': expected one of {}",
                        text::preview(&s),
                        MESSAGE_CHANNELS.join(", ")
                    )))
                }
            })?,
            body: g.text("body", text::MAX_TEXT_BYTES)?,
            sentiment: None,
        }),
        RecordKind::Consents => Row::Consent(sextant_store::ConsentImport {
            id: g.parse("consent_id", |s| {
                sextant_core::ids::ConsentId::parse(s).map(String::from)
            })?,
            record: ConsentRecord {
                customer_id: g.parse("customer_id", CustomerId::parse)?,
                purpose: g.parse("purpose", str::parse)?,
                granted: g.parse("granted", parse_bool)?,
                at: g.parse("at", parse_timestamp)?,
                source: g.opt_text("source", 64)?.unwrap_or_else(|| "import".into()),
            },
        }),
        RecordKind::Events => {
            let kind: EventKind = g.parse("kind", str::parse)?;
            let value = g.parse_opt("value", parse_i32)?;
            if kind == EventKind::Survey {
                match value {
                    Some(0..=10) => {}
                    Some(v) => {
                        return Err(g.err(
                            "value",
                            FieldError::new(format!("NPS score {v} is outside 0–10")),
                        ));
                    }
                    None => {
                        return Err(g.err(
                            "value",
                            FieldError::new("required for survey events (NPS 0–10)"),
                        ));
                    }
                }
            }
            Row::Event(CustomerEvent {
                id: g.parse("event_id", EventId::parse)?,
                customer_id: g.parse("customer_id", CustomerId::parse)?,
                timestamp: g.parse("timestamp", parse_timestamp)?,
                kind,
                product_id: g.parse_opt("product_id", ProductId::parse)?,
                decision_id: g.parse_opt("decision_id", DecisionId::parse)?,
                value,
            })
        }
    })
}
