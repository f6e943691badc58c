//! Sextant's domain model: the bank's records as checked types.
//!
//! Architecture invariant: this crate does no I/O and has no async runtime, database or HTTP
//! dependency. Everything here is parsed at the boundary ("parse, don't validate"): once a value
//! has one of these types it is valid, and no other layer re-checks it.

pub mod account;
pub mod audit;
pub mod auth;
pub mod consent;
pub mod customer;
pub mod decision;
pub mod error;
pub mod event;
pub mod ids;
pub mod message;
pub mod money;
pub mod product;
pub mod secrets;
pub mod text;
pub mod transaction;

pub use account::{Account, AccountKind, AccountStatus};
pub use audit::{AuditEntry, AuditRecord};
pub use auth::Role;
pub use consent::{ConsentPurpose, ConsentRecord, ConsentRefused, ConsentState};
pub use customer::{
    Customer, EngagementLevel, ProtectedAttributes, RiskProfile, SentimentScore, SpendingHabit,
};
pub use decision::Decision;
pub use error::FieldError;
pub use event::{CustomerEvent, EventKind};
pub use ids::{AccountId, CustomerId, DecisionId, EventId, MessageId, ProductId, TransactionId};
pub use message::CustomerMessage;
pub use money::{Currency, Money};
pub use product::{Product, ProductFamily};
pub use transaction::{Category, Channel, CountryCode, Mcc, Transaction, TxStatus};
