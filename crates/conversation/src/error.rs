//! Errors of the assistant runtime; the HTTP layer maps each to a status.

use sextant_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    /// Bad input: the field and the reason.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("no customer '{0}'")]
    UnknownCustomer(String),
    #[error("no conversation '{0}'")]
    UnknownConversation(String),
    /// The conversation belongs to another customer (reported as not found to callers).
    #[error("conversation '{0}' belongs to another customer")]
    NotYours(String),
    #[error("no goal '{0}'")]
    UnknownGoal(String),
    #[error("no knowledge-base document '{0}'")]
    UnknownDocument(String),
    /// Another turn of the same conversation was saved meanwhile; retry.
    #[error("conversation '{0}' changed meanwhile; send the message again")]
    Conflict(String),
    #[error("knowledge base: {0}")]
    Kb(#[from] sextant_kb::KbError),
    #[error("embeddings: {0}")]
    Embed(#[from] sextant_embed::EmbedError),
    #[error("language: {0}")]
    Language(String),
    #[error("next best actions: {0}")]
    Advisor(String),
    #[error("store: {0}")]
    Store(StoreError),
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt { what: &'static str, reason: String },
}

impl From<StoreError> for ConversationError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownCustomer(c) => ConversationError::UnknownCustomer(c.to_string()),
            other => ConversationError::Store(other),
        }
    }
}

pub type Result<T, E = ConversationError> = std::result::Result<T, E>;
