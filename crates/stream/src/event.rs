//! The event envelope: one JSON object per event (`POST /v1/events`, NATS messages, replay),
//! parsed at the boundary into a checked [`StreamEvent`], and written back by
//! [`StreamEvent::to_json`] so that `parse_event(&e.to_json()) == Ok(e)`.
//!
//! ```json
//! {"event_id":"e-123","type":"transaction","customer_id":"42","timestamp":"2026-03-01T10:00:00Z",
//!  "transaction_id":"t-9","account_id":"a-1","amount_minor":-1250,"category":"groceries",
//!  "channel":"card_present","country":"DE"}
//! ```
//!
//! Every field is checked; an unknown field is an error naming it, and so is a missing or
//! malformed one (`field 'amount_minor': must be an integer`). `null` counts as absent.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use sextant_core::transaction::parse_timestamp;
use sextant_core::{
    AccountId, Category, Channel, CountryCode, Currency, CustomerId, DecisionId, EventKind,
    FieldError, Mcc, Money, ProductId, Transaction, TransactionId, TxStatus,
};
use std::fmt;

/// Longest event id accepted.
pub const MAX_EVENT_ID: usize = 128;
/// Longest message text accepted, in bytes.
pub const MAX_MESSAGE_TEXT: usize = 4000;
/// Longest app event name accepted.
pub const MAX_APP_NAME: usize = 64;
/// Longest merchant name accepted (as the importer).
pub const MAX_MERCHANT: usize = 200;

/// Declare a closed enum of wire names (this crate's own; `sextant_core`'s macro is private).
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }
        impl std::str::FromStr for $name {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, FieldError> {
                let t = s.trim();
                $(if t.eq_ignore_ascii_case($wire) { return Ok($name::$variant); })+
                Err(FieldError::new(format!(
                    "unknown {} '{}': expected one of {}",
                    $what,
                    sextant_core::text::preview(t),
                    [$($wire),+].join(", ")
                )))
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// Where a customer logged in.
    LoginChannel, "login channel" { App => "app", Web => "web", Phone => "phone", Branch => "branch" }
);
wire_enum!(
    /// How a customer wrote to the bank (`sextant_core::CustomerMessage` keeps it as text).
    MessageChannel, "message channel" {
        Chat => "chat", Email => "email", App => "app", Phone => "phone", Branch => "branch",
    }
);

/// One event of the stream, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    pub event_id: String,
    pub customer_id: CustomerId,
    pub timestamp: DateTime<Utc>,
    pub body: EventBody,
}

/// What happened; the envelope's `type` names the variant.
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    /// A posted or declined transaction (its timestamp and customer are the envelope's).
    Transaction(Transaction),
    /// An account's balance as reported by the core banking system.
    Balance {
        account_id: AccountId,
        balance: Money,
    },
    Login {
        channel: LoginChannel,
        country: Option<CountryCode>,
        success: bool,
    },
    /// An in-app action, such as `budget_opened`.
    App { name: String },
    Message {
        channel: MessageChannel,
        text: String,
    },
    /// A response to something Sextant showed.
    Feedback {
        kind: EventKind,
        decision_id: Option<DecisionId>,
        product_id: Option<ProductId>,
        value: Option<i32>,
    },
}

/// Why an event was rejected, naming the field when one is to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EventError {
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field '{field}': {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl EventError {
    fn at(field: &str, reason: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_string()),
            reason: reason.into(),
        }
    }
    fn whole(reason: impl Into<String>) -> Self {
        Self {
            field: None,
            reason: reason.into(),
        }
    }
}

const ENVELOPE: &[&str] = &["event_id", "type", "customer_id", "timestamp"];

/// Fields each event type may carry, besides the envelope's.
fn fields_of(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "transaction" => &[
            "transaction_id",
            "account_id",
            "amount_minor",
            "currency",
            "merchant",
            "category",
            "mcc",
            "channel",
            "country",
            "balance_after_minor",
            "status",
        ],
        "balance" => &["account_id", "balance_minor", "currency"],
        "login" => &["channel", "country", "success"],
        "app" => &["name"],
        "message" => &["channel", "text"],
        "feedback" => &["kind", "decision_id", "product_id", "value"],
        _ => return None,
    })
}

/// Event types, as the envelope's `type` names them.
pub const EVENT_TYPES: &[&str] = &[
    "transaction",
    "balance",
    "login",
    "app",
    "message",
    "feedback",
];

/// Typed access to the fields of one JSON object, each error naming its field.
struct Obj<'a>(&'a Map<String, Value>);

impl<'a> Obj<'a> {
    /// The value of `f`, `None` when absent or `null`.
    fn get(&self, f: &str) -> Option<&'a Value> {
        self.0.get(f).filter(|v| !v.is_null())
    }

    fn opt_str(&self, f: &str) -> Result<Option<&'a str>, EventError> {
        match self.get(f) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(EventError::at(f, "must be a string")),
        }
    }

    fn str(&self, f: &str) -> Result<&'a str, EventError> {
        self.opt_str(f)?
            .ok_or_else(|| EventError::at(f, "is required"))
    }

    fn parsed<T>(
        &self,
        f: &str,
        p: impl Fn(&str) -> Result<T, FieldError>,
    ) -> Result<T, EventError> {
        p(self.str(f)?).map_err(|e| EventError::at(f, e.reason))
    }

    fn opt_parsed<T>(
        &self,
        f: &str,
        p: impl Fn(&str) -> Result<T, FieldError>,
    ) -> Result<Option<T>, EventError> {
        self.opt_str(f)?
            .map(|s| p(s).map_err(|e| EventError::at(f, e.reason)))
            .transpose()
    }

    fn opt_i64(&self, f: &str) -> Result<Option<i64>, EventError> {
        match self.get(f) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                EventError::at(f, format!("{n} is not an integer that fits in 64 bits"))
            }),
            Some(_) => Err(EventError::at(f, "must be an integer")),
        }
    }

    fn i64(&self, f: &str) -> Result<i64, EventError> {
        self.opt_i64(f)?
            .ok_or_else(|| EventError::at(f, "is required"))
    }

    fn opt_bool(&self, f: &str) -> Result<Option<bool>, EventError> {
        match self.get(f) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(EventError::at(f, "must be true or false")),
        }
    }

    fn currency(&self) -> Result<Currency, EventError> {
        Ok(self
            .opt_parsed("currency", Currency::parse)?
            .unwrap_or(Currency::EUR))
    }
}

fn check_event_id(s: &str) -> Result<(), FieldError> {
    if s.is_empty() {
        return Err(FieldError::new("must not be empty"));
    }
    if s.len() > MAX_EVENT_ID {
        return Err(FieldError::new(format!(
            "too long: {} bytes, at most {MAX_EVENT_ID} allowed",
            s.len()
        )));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
    {
        return Err(FieldError::new(format!(
            "invalid character {c:?}: event ids use letters, digits and _ - . : only"
        )));
    }
    Ok(())
}

fn check_app_name(s: &str) -> Result<String, FieldError> {
    if s.is_empty() || s.len() > MAX_APP_NAME {
        return Err(FieldError::new(format!(
            "must be 1 to {MAX_APP_NAME} characters, got {}",
            s.len()
        )));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.')))
    {
        return Err(FieldError::new(format!(
            "invalid character {c:?}: app event names use a-z, 0-9, _ and . only"
        )));
    }
    Ok(s.to_string())
}

fn parse_mcc(v: &Value) -> Result<Mcc, FieldError> {
    match v {
        Value::String(s) => Mcc::parse(s),
        Value::Number(n) => match n.as_u64() {
            Some(u) if u <= 9999 => Mcc::try_from(u as u16),
            _ => Err(FieldError::new(format!("{n} is not a four-digit MCC"))),
        },
        _ => Err(FieldError::new(
            "must be four digits, as a string or a number",
        )),
    }
}

/// Parse one event from its JSON envelope.
pub fn parse_event(v: &Value) -> Result<StreamEvent, EventError> {
    let Value::Object(map) = v else {
        return Err(EventError::whole("an event must be a JSON object"));
    };
    let o = Obj(map);
    let kind = o.str("type")?;
    let Some(fields) = fields_of(kind) else {
        return Err(EventError::at(
            "type",
            format!(
                "unknown event type '{}': expected one of {}",
                sextant_core::text::preview(kind),
                EVENT_TYPES.join(", ")
            ),
        ));
    };
    // Unknown fields first, in the object's order, so a typo is named even if others are missing.
    if let Some(k) = map
        .keys()
        .find(|k| !ENVELOPE.contains(&k.as_str()) && !fields.contains(&k.as_str()))
    {
        return Err(EventError::at(
            k,
            format!("unknown field for a '{kind}' event"),
        ));
    }
    let event_id = o.str("event_id")?.trim();
    check_event_id(event_id).map_err(|e| EventError::at("event_id", e.reason))?;
    let customer_id = o.parsed("customer_id", CustomerId::parse)?;
    let timestamp = o.parsed("timestamp", parse_timestamp)?;
    let body = match kind {
        "transaction" => {
            let currency = o.currency()?;
            let merchant = o
                .opt_parsed("merchant", |s| {
                    sextant_core::text::bounded(s, MAX_MERCHANT).map(str::to_string)
                })?
                .filter(|m| !m.is_empty());
            let mcc = o
                .get("mcc")
                .map(|v| parse_mcc(v).map_err(|e| EventError::at("mcc", e.reason)))
                .transpose()?;
            EventBody::Transaction(Transaction {
                id: o.parsed("transaction_id", TransactionId::parse)?,
                customer_id: customer_id.clone(),
                account_id: o.parsed("account_id", AccountId::parse)?,
                timestamp,
                amount: Money::new(o.i64("amount_minor")?, currency),
                merchant,
                category: o.parsed("category", str::parse::<Category>)?,
                mcc,
                channel: o.parsed("channel", str::parse::<Channel>)?,
                country: o.parsed("country", CountryCode::parse)?,
                balance_after: o
                    .opt_i64("balance_after_minor")?
                    .map(|m| Money::new(m, currency)),
                status: o
                    .opt_parsed("status", str::parse::<TxStatus>)?
                    .unwrap_or(TxStatus::Approved),
            })
        }
        "balance" => {
            let currency = o.currency()?;
            EventBody::Balance {
                account_id: o.parsed("account_id", AccountId::parse)?,
                balance: Money::new(o.i64("balance_minor")?, currency),
            }
        }
        "login" => EventBody::Login {
            channel: o.parsed("channel", str::parse::<LoginChannel>)?,
            country: o.opt_parsed("country", CountryCode::parse)?,
            success: o.opt_bool("success")?.unwrap_or(true),
        },
        "app" => EventBody::App {
            name: o.parsed("name", |s| check_app_name(s.trim()))?,
        },
        "message" => EventBody::Message {
            channel: o.parsed("channel", str::parse::<MessageChannel>)?,
            text: o.parsed("text", |s| {
                sextant_core::text::required(s, MAX_MESSAGE_TEXT).map(str::to_string)
            })?,
        },
        "feedback" => EventBody::Feedback {
            kind: o.parsed("kind", str::parse::<EventKind>)?,
            decision_id: o.opt_parsed("decision_id", DecisionId::parse)?,
            product_id: o.opt_parsed("product_id", ProductId::parse)?,
            value: o
                .opt_i64("value")?
                .map(|v| {
                    i32::try_from(v).map_err(|_| {
                        EventError::at("value", format!("{v} does not fit in 32 bits"))
                    })
                })
                .transpose()?,
        },
        _ => unreachable!("fields_of accepted the type"),
    };
    Ok(StreamEvent {
        event_id: event_id.to_string(),
        customer_id,
        timestamp,
        body,
    })
}

/// Parse one event from raw bytes (a request body, a bus message): UTF-8 JSON.
pub fn parse_event_bytes(b: &[u8]) -> Result<StreamEvent, EventError> {
    let text = std::str::from_utf8(b)
        .map_err(|e| EventError::whole(format!("the event is not UTF-8 ({e})")))?;
    let v: Value = serde_json::from_str(text)
        .map_err(|e| EventError::whole(format!("the event is not valid JSON ({e})")))?;
    parse_event(&v)
}

impl StreamEvent {
    /// The envelope's `type`.
    pub fn kind(&self) -> &'static str {
        match self.body {
            EventBody::Transaction(_) => "transaction",
            EventBody::Balance { .. } => "balance",
            EventBody::Login { .. } => "login",
            EventBody::App { .. } => "app",
            EventBody::Message { .. } => "message",
            EventBody::Feedback { .. } => "feedback",
        }
    }

    /// The wire form; [`parse_event`] reads it back to an equal event. Optional fields that are
    /// absent are left out.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("events serialize")
    }

    /// [`Self::to_json`] as text, written directly (no intermediate `Value`: this is on the
    /// ingestion path of every event).
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).expect("events serialize")
    }
}

impl serde::Serialize for StreamEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("event_id", &self.event_id)?;
        m.serialize_entry("type", self.kind())?;
        m.serialize_entry("customer_id", self.customer_id.as_str())?;
        m.serialize_entry(
            "timestamp",
            &self.timestamp.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        )?;
        match &self.body {
            EventBody::Transaction(t) => {
                m.serialize_entry("transaction_id", t.id.as_str())?;
                m.serialize_entry("account_id", t.account_id.as_str())?;
                m.serialize_entry("amount_minor", &t.amount.minor)?;
                m.serialize_entry("currency", t.amount.currency.as_str())?;
                if let Some(mer) = &t.merchant {
                    m.serialize_entry("merchant", mer)?;
                }
                m.serialize_entry("category", t.category.as_str())?;
                if let Some(mcc) = t.mcc {
                    m.serialize_entry("mcc", &format!("{:04}", mcc.value()))?;
                }
                m.serialize_entry("channel", t.channel.as_str())?;
                m.serialize_entry("country", t.country.as_str())?;
                if let Some(b) = t.balance_after {
                    m.serialize_entry("balance_after_minor", &b.minor)?;
                }
                m.serialize_entry("status", t.status.as_str())?;
            }
            EventBody::Balance {
                account_id,
                balance,
            } => {
                m.serialize_entry("account_id", account_id.as_str())?;
                m.serialize_entry("balance_minor", &balance.minor)?;
                m.serialize_entry("currency", balance.currency.as_str())?;
            }
            EventBody::Login {
                channel,
                country,
                success,
            } => {
                m.serialize_entry("channel", channel.as_str())?;
                if let Some(c) = country {
                    m.serialize_entry("country", c.as_str())?;
                }
                m.serialize_entry("success", success)?;
            }
            EventBody::App { name } => m.serialize_entry("name", name)?,
            EventBody::Message { channel, text } => {
                m.serialize_entry("channel", channel.as_str())?;
                m.serialize_entry("text", text)?;
            }
            EventBody::Feedback {
                kind,
                decision_id,
                product_id,
                value,
            } => {
                m.serialize_entry("kind", kind.as_str())?;
                if let Some(d) = decision_id {
                    m.serialize_entry("decision_id", d.as_str())?;
                }
                if let Some(p) = product_id {
                    m.serialize_entry("product_id", p.as_str())?;
                }
                if let Some(v) = value {
                    m.serialize_entry("value", v)?;
                }
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tx() -> Value {
        json!({"event_id":"e-1","type":"transaction","customer_id":"42",
               "timestamp":"2026-03-01T10:00:00+01:00","transaction_id":"t-1","account_id":"a-1",
               "amount_minor":-1250,"merchant":"Bakery","category":"groceries","mcc":5411,
               "channel":"card_present","country":"de","balance_after_minor":98750})
    }

    fn err(v: Value) -> EventError {
        parse_event(&v).unwrap_err()
    }

    #[test]
    fn parses_a_transaction_with_defaults() {
        let e = parse_event(&tx()).unwrap();
        assert_eq!(e.kind(), "transaction");
        assert_eq!(e.timestamp.to_rfc3339(), "2026-03-01T09:00:00+00:00");
        let EventBody::Transaction(t) = &e.body else {
            panic!("a transaction")
        };
        assert_eq!(t.amount, Money::new(-1250, Currency::EUR));
        assert_eq!(t.status, TxStatus::Approved);
        assert_eq!(t.country.as_str(), "DE");
        assert_eq!(t.mcc.unwrap().value(), 5411);
        assert_eq!(t.balance_after.unwrap().minor, 98750);
        assert_eq!(t.customer_id.as_str(), "42");
        assert_eq!(t.timestamp, e.timestamp);
    }

    #[test]
    fn every_type_round_trips() {
        let events = [
            tx(),
            json!({"event_id":"e-2","type":"balance","customer_id":"42","timestamp":"2026-03-01T10:00:00.250Z",
                   "account_id":"a-1","balance_minor":-5,"currency":"JPY"}),
            json!({"event_id":"e-3","type":"login","customer_id":"42","timestamp":"2026-03-01T10:00:00Z",
                   "channel":"web","country":"FR","success":false}),
            json!({"event_id":"e-4","type":"login","customer_id":"42","timestamp":"2026-03-01T10:00:00Z","channel":"app"}),
            json!({"event_id":"e-5","type":"app","customer_id":"42","timestamp":"2026-03-01T10:00:00Z","name":"budget_opened"}),
            json!({"event_id":"e-6","type":"message","customer_id":"42","timestamp":"2026-03-01T10:00:00Z",
                   "channel":"chat","text":"Why was I charged twice?"}),
            json!({"event_id":"e-7","type":"feedback","customer_id":"42","timestamp":"2026-03-01T10:00:00Z",
                   "kind":"survey","decision_id":"dec_1","product_id":"P-1","value":9}),
        ];
        for v in events {
            let e = parse_event(&v).unwrap();
            let back = parse_event(&e.to_json()).unwrap();
            assert_eq!(back, e, "{v}");
            assert_eq!(back.to_json(), e.to_json());
            assert_eq!(parse_event_bytes(e.to_json_string().as_bytes()), Ok(e));
        }
    }

    #[test]
    fn errors_name_the_field() {
        let mut v = tx();
        v["amount_minor"] = json!(12.5);
        assert_eq!(
            err(v).to_string(),
            "field 'amount_minor': 12.5 is not an integer that fits in 64 bits"
        );
        let mut v = tx();
        v["colour"] = json!("red");
        let e = err(v);
        assert_eq!(e.field.as_deref(), Some("colour"));
        assert!(e.reason.contains("unknown field"));
        let mut v = tx();
        v.as_object_mut().unwrap().remove("category");
        assert_eq!(err(v).to_string(), "field 'category': is required");
        let mut v = tx();
        v["category"] = json!("ufo");
        assert!(
            err(v)
                .to_string()
                .starts_with("field 'category': unknown category 'ufo'")
        );
        let mut v = tx();
        v["mcc"] = json!("54111");
        assert_eq!(err(v).field.as_deref(), Some("mcc"));
        let mut v = tx();
        v["timestamp"] = json!("yesterday");
        assert_eq!(err(v).field.as_deref(), Some("timestamp"));
        let mut v = tx();
        v["event_id"] = json!("e 1");
        assert_eq!(err(v).field.as_deref(), Some("event_id"));
        let mut v = tx();
        v["event_id"] = json!("e".repeat(129));
        assert!(err(v).reason.contains("129 bytes"));
        let mut v = tx();
        v["customer_id"] = json!(42);
        assert_eq!(err(v).to_string(), "field 'customer_id': must be a string");
        let mut v = tx();
        v["type"] = json!("telepathy");
        assert!(err(v).reason.starts_with("unknown event type 'telepathy'"));
        // A field valid for another type is unknown for this one.
        let v = json!({"event_id":"e","type":"app","customer_id":"1","timestamp":"2026-03-01T10:00:00Z",
                       "name":"x","text":"hi"});
        assert_eq!(err(v).field.as_deref(), Some("text"));
        let v = json!({"event_id":"e","type":"app","customer_id":"1","timestamp":"2026-03-01T10:00:00Z","name":"Budget"});
        assert!(err(v).reason.contains("invalid character 'B'"));
        let v = json!({"event_id":"e","type":"message","customer_id":"1","timestamp":"2026-03-01T10:00:00Z",
                       "channel":"chat","text":"x".repeat(4001)});
        assert!(err(v).reason.contains("4001 bytes"));
        let v = json!({"event_id":"e","type":"login","customer_id":"1","timestamp":"2026-03-01T10:00:00Z",
                       "channel":"pigeon"});
        assert!(
            err(v)
                .to_string()
                .starts_with("field 'channel': unknown login channel")
        );
        let v = json!({"event_id":"e","type":"feedback","customer_id":"1","timestamp":"2026-03-01T10:00:00Z",
                       "kind":"click","value":5_000_000_000i64});
        assert_eq!(err(v).field.as_deref(), Some("value"));
    }

    #[test]
    fn bytes_must_be_utf8_json_objects() {
        assert!(
            parse_event_bytes(b"\xff\xfe")
                .unwrap_err()
                .reason
                .contains("UTF-8")
        );
        assert!(
            parse_event_bytes(b"{")
                .unwrap_err()
                .reason
                .contains("not valid JSON")
        );
        let e = parse_event_bytes(b"[1]").unwrap_err();
        assert_eq!(
            (e.field, e.reason.as_str()),
            (None, "an event must be a JSON object")
        );
        let ok = serde_json::to_vec(&tx()).unwrap();
        assert_eq!(parse_event_bytes(&ok).unwrap().event_id, "e-1");
    }
}
