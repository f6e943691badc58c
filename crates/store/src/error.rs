//! The store's one error type.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL: {0}")]
    Url(String),
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("migration {version} failed: {reason}")]
    Migration { version: u32, reason: String },
    #[error("stored value in {table}.{column} is invalid: {reason}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        reason: String,
    },
    #[error("{0}")]
    Conflict(String),
    /// A write referred to a customer that does not exist; nothing was written.
    #[error("unknown customer '{0}'")]
    UnknownCustomer(sextant_core::CustomerId),
    #[error("background task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// The database cannot take the request now but may later: unreachable, busy, out of disk
    /// space, or failing I/O. Nothing was written; the caller should retry later (the API
    /// answers 503 with `Retry-After`), not treat it as a bug.
    pub fn is_transient(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            Self::Unavailable(_) => true,
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                C::DiskFull
                    | C::SystemIoFailure
                    | C::DatabaseBusy
                    | C::DatabaseLocked
                    | C::CannotOpen
            ),
            Self::Postgres(e) => pg_transient(e),
            _ => false,
        }
    }

    /// A group commit's failure, told to each of the callers it held: `Unavailable` when the
    /// cause is transient (see [`Self::is_transient`]), so they can retry; `Task` otherwise.
    pub(crate) fn group_failed(what: &str, cause: &StoreError) -> Self {
        let msg = format!("{what} failed (nothing of it written): {cause}");
        if cause.is_transient() {
            Self::Unavailable(msg)
        } else {
            Self::Task(msg)
        }
    }

    pub(crate) fn corrupt(
        table: &'static str,
        column: &'static str,
        reason: impl ToString,
    ) -> Self {
        Self::Corrupt {
            table,
            column,
            reason: reason.to_string(),
        }
    }
}

/// A PostgreSQL failure worth retrying: the connection is gone (closed, reset, the backend
/// terminated or the server shutting down or starting), the server is out of resources (disk
/// full, memory, connections), or the transaction lost a serialization or deadlock race. The
/// transaction did not commit — except when the connection broke during COMMIT itself, where the
/// outcome is unknown; the store's writes are idempotent by id, so the caller's retry is safe
/// either way.
fn pg_transient(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    if e.is_closed() {
        return true;
    }
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        return code.code().starts_with("08") // connection exception
            || code.code().starts_with("53") // insufficient resources: disk full, memory, connections
            || [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
            ]
            .contains(code);
    }
    // A broken socket mid-query surfaces as an I/O error with no database error attached.
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Task(e.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: i32) -> StoreError {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(code),
            None,
        ))
    }

    #[test]
    fn out_of_space_io_and_busy_are_transient_and_bugs_are_not() {
        use rusqlite::ffi;
        for code in [
            ffi::SQLITE_FULL,
            ffi::SQLITE_IOERR,
            ffi::SQLITE_IOERR_WRITE,
            ffi::SQLITE_BUSY,
            ffi::SQLITE_LOCKED,
            ffi::SQLITE_CANTOPEN,
        ] {
            assert!(sqlite(code).is_transient(), "code {code}");
            assert!(matches!(
                StoreError::group_failed("stream write", &sqlite(code)),
                StoreError::Unavailable(_)
            ));
        }
        assert!(StoreError::Unavailable("pool".into()).is_transient());
        for code in [
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY,
            ffi::SQLITE_ERROR,
            ffi::SQLITE_CORRUPT,
        ] {
            assert!(!sqlite(code).is_transient(), "code {code}");
            assert!(matches!(
                StoreError::group_failed("stream write", &sqlite(code)),
                StoreError::Task(_)
            ));
        }
        assert!(!StoreError::Conflict("offset".into()).is_transient());
    }
}
