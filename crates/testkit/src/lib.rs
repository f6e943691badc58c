//! Test support shared by every crate's integration tests: a fresh database per test on each
//! backend. PostgreSQL comes from `SEXTANT_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`);
//! if it is unreachable the test fails loudly — no backend is ever silently skipped.

use sextant_store::{PgStore, SqliteStore, Store};
use std::sync::Arc;

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn pg_url() -> String {
    std::env::var("SEXTANT_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_string())
}

/// Keeps a test's database alive (the SQLite temp dir) for the test's duration.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    /// The URL another process (the CLI under test) can open the same database with.
    pub url: String,
    pub schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

pub async fn fresh(kind: Kind) -> TestDb {
    match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("sextant.db");
            let store = SqliteStore::open(&path).await.expect("open SQLite");
            TestDb {
                store: Arc::new(store),
                url: path.display().to_string(),
                schema: None,
                _dir: Some(dir),
            }
        }
        Kind::Postgres => {
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let base = pg_url();
            let store = PgStore::connect(&base, Some(schema.clone())).await.unwrap_or_else(|e| {
                panic!("PostgreSQL at {base} is required for this test (run scripts/services.sh): {e}")
            });
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
            TestDb {
                store: Arc::new(store),
                url,
                schema: Some(schema),
                _dir: None,
            }
        }
    }
}

/// Generate `mod case { #[tokio::test] async fn sqlite(); #[tokio::test] async fn postgres(); }`
/// for each `async fn case(db: TestDb)`, so every case runs on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),+ $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$case($crate::fresh($crate::Kind::Sqlite).await).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$case($crate::fresh($crate::Kind::Postgres).await).await
                }
            }
        )+
    };
}
