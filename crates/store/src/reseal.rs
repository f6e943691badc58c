//! Key rotation for the columns sealed outside the customer and message tables: conversation
//! turns and states, reviewers' notes, streamed message events and dead letters. Each column is
//! read in pages by its key and rewritten one row at a time; [`crate::crypt::rotate`] drives it.
//!
//! Keys are `(text, integer)` pairs so one pair of methods serves every table: tables keyed by
//! text use the integer half as 0, tables keyed by an integer use the text half as "". The unused
//! half still appears in each statement (`CAST(.. AS ..)`) so PostgreSQL can type every
//! parameter; both halves are compared with row values, which both backends index.

/// A column that holds values sealed by `crypt::EncryptedStore`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    TurnText,
    ConversationState,
    ReviewNote,
    EventLogBody,
    DeadLetterPayload,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 5] = [
        SealedColumn::TurnText,
        SealedColumn::ConversationState,
        SealedColumn::ReviewNote,
        SealedColumn::EventLogBody,
        SealedColumn::DeadLetterPayload,
    ];

    /// `table.column`, for reports.
    pub fn name(self) -> &'static str {
        match self {
            SealedColumn::TurnText => "conversation_turns.text",
            SealedColumn::ConversationState => "conversations.state",
            SealedColumn::ReviewNote => "reviews.note",
            SealedColumn::EventLogBody => "event_log.body",
            SealedColumn::DeadLetterPayload => "dead_letters.payload",
        }
    }

    /// Rows after `($1, $2)` in key order, at most `$3`: `(text key, integer key, value)`.
    /// Only rows that hold a value (and, for the event log, only message events: the others are
    /// stored in the clear).
    pub(crate) fn page_sql(self) -> &'static str {
        match self {
            SealedColumn::TurnText => {
                "SELECT conversation_id, seq, text FROM conversation_turns \
                 WHERE (conversation_id, seq) > ($1, CAST($2 AS BIGINT)) ORDER BY conversation_id, seq LIMIT $3"
            }
            SealedColumn::ConversationState => {
                "SELECT id, CAST(0 AS BIGINT), state FROM conversations \
                 WHERE (id, CAST(0 AS BIGINT)) > ($1, CAST($2 AS BIGINT)) ORDER BY id LIMIT $3"
            }
            SealedColumn::ReviewNote => {
                "SELECT id, CAST(0 AS BIGINT), note FROM reviews \
                 WHERE (id, CAST(0 AS BIGINT)) > ($1, CAST($2 AS BIGINT)) AND note IS NOT NULL ORDER BY id LIMIT $3"
            }
            SealedColumn::EventLogBody => {
                "SELECT CAST('' AS TEXT), seq, body FROM event_log \
                 WHERE (CAST('' AS TEXT), seq) > (CAST($1 AS TEXT), CAST($2 AS BIGINT)) AND kind = 'message' ORDER BY seq LIMIT $3"
            }
            SealedColumn::DeadLetterPayload => {
                "SELECT CAST('' AS TEXT), id, payload FROM dead_letters \
                 WHERE (CAST('' AS TEXT), id) > (CAST($1 AS TEXT), CAST($2 AS BIGINT)) ORDER BY id LIMIT $3"
            }
        }
    }

    /// Replace the value of row `($1, $2)` with `$3`.
    pub(crate) fn update_sql(self) -> &'static str {
        match self {
            SealedColumn::TurnText => {
                "UPDATE conversation_turns SET text = $3 WHERE conversation_id = $1 AND seq = CAST($2 AS BIGINT)"
            }
            SealedColumn::ConversationState => {
                "UPDATE conversations SET state = $3 WHERE id = $1 AND CAST($2 AS BIGINT) = 0"
            }
            SealedColumn::ReviewNote => {
                "UPDATE reviews SET note = $3 WHERE id = $1 AND CAST($2 AS BIGINT) = 0"
            }
            SealedColumn::EventLogBody => {
                "UPDATE event_log SET body = $3 WHERE seq = CAST($2 AS BIGINT) AND CAST($1 AS TEXT) = ''"
            }
            SealedColumn::DeadLetterPayload => {
                "UPDATE dead_letters SET payload = $3 WHERE id = CAST($2 AS BIGINT) AND CAST($1 AS TEXT) = ''"
            }
        }
    }
}
