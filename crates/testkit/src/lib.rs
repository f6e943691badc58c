//! Test support shared by every crate's integration tests: a fresh database per test on each
//! backend. PostgreSQL comes from `SEXTANT_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`);
//! if it is unreachable the test fails loudly — no backend is ever silently skipped.

use sextant_store::{PgStore, SqliteStore, Store};
use std::sync::Arc;

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn pg_url() -> String {
    std::env::var("SEXTANT_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_string())
}

/// A direct connection to the test PostgreSQL server, for tests that look at (or tamper with)
/// tables behind the store's back; the connection task runs on the current runtime.
pub async fn pg_client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL server");
    tokio::spawn(conn);
    client
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
        Kind::Postgres => fresh_postgres(pg_url()).await,
    }
}

/// A fresh PostgreSQL schema whose connections carry `application_name` (so a test can find
/// its store's server backends in `pg_stat_activity`, e.g. to terminate them).
pub async fn fresh_postgres_named(application_name: &str) -> TestDb {
    let base = pg_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    fresh_postgres(format!("{base}{sep}application_name={application_name}")).await
}

async fn fresh_postgres(base: String) -> TestDb {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let store = PgStore::connect(&base, Some(schema.clone()))
        .await
        .unwrap_or_else(|e| {
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

/// Import [`customer_fixture`]s with these ids through the production import sink (all or
/// nothing; panics on any reject).
pub async fn import_customers(store: &dyn sextant_store::Store, ids: &[&str]) {
    let rows = ids
        .iter()
        .map(|id| (1, customer_fixture(id), Default::default()))
        .collect();
    import_batch(store, sextant_store::Batch::Customers(rows)).await;
}

/// Import current EUR accounts `(account id, owner)` through the production import sink (all or
/// nothing; panics on any reject).
pub async fn import_accounts(store: &dyn sextant_store::Store, accounts: &[(&str, &str)]) {
    let rows = accounts
        .iter()
        .enumerate()
        .map(|(i, (id, owner))| (i as u64 + 1, account_fixture(id, owner)))
        .collect();
    import_batch(store, sextant_store::Batch::Accounts(rows)).await;
}

/// One import of one batch, committed; panics on any reject.
async fn import_batch(store: &dyn sextant_store::Store, batch: sextant_store::Batch) {
    use sextant_store::{Batch, RecordKind};
    let (kind, file) = match &batch {
        Batch::Customers(_) => (RecordKind::Customers, "c.csv"),
        Batch::Accounts(_) => (RecordKind::Accounts, "a.csv"),
        _ => unimplemented!("testkit imports customers and accounts"),
    };
    let mut sink = store.begin_import(kind, file).await.expect("begin import");
    assert!(sink.write(batch).await.expect("write").is_empty());
    assert!(sink.finish().await.expect("finish").is_empty());
    sink.commit(0).await.expect("commit");
}

/// A customer's ledger as `(transaction id, amount in minor units)`, sorted by id.
pub async fn ledger(store: &dyn sextant_store::Store, customer: &str) -> Vec<(String, i64)> {
    let id = sextant_core::CustomerId::parse(customer).expect("a valid id");
    let mut rows: Vec<(String, i64)> = store
        .list_transactions(&id, None, 1000)
        .await
        .expect("list transactions")
        .into_iter()
        .map(|t| (t.id.as_str().to_string(), t.amount.minor))
        .collect();
    rows.sort();
    rows
}

/// An open current account in EUR, balance 0, opened 2024-01-01.
pub fn account_fixture(id: &str, owner: &str) -> sextant_core::Account {
    sextant_core::Account {
        id: sextant_core::AccountId::parse(id).expect("a valid id"),
        customer_id: sextant_core::CustomerId::parse(owner).expect("a valid id"),
        kind: sextant_core::AccountKind::Current,
        product_id: None,
        currency: sextant_core::Currency::EUR,
        opened_on: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date"),
        closed_on: None,
        status: sextant_core::AccountStatus::Open,
        limit: None,
        balance: sextant_core::Money::new(0, sextant_core::Currency::EUR),
    }
}

/// A plain customer for store tests: `Customer_<id>`, 30, 50 000 EUR, budget, low risk.
pub fn customer_fixture(id: &str) -> sextant_core::Customer {
    sextant_core::Customer {
        id: sextant_core::CustomerId::parse(id).expect("a valid id"),
        name: format!("Customer_{id}"),
        age: 30,
        income: sextant_core::Money::new(5_000_000, sextant_core::Currency::EUR),
        spending_habit: sextant_core::SpendingHabit::Budget,
        risk_profile: sextant_core::RiskProfile::Low,
        transactions: 1,
        sentiment_score: sextant_core::SentimentScore::new(0.0).expect("in range"),
        engagement_level: sextant_core::EngagementLevel::Low,
        email: None,
        phone: None,
        occupation: None,
        joined_on: None,
    }
}

/// A generated synthetic bank parsed into core types, grouped by customer.
pub struct SyntheticBank {
    pub customers: Vec<sextant_core::Customer>,
    pub accounts: std::collections::HashMap<sextant_core::CustomerId, Vec<sextant_core::Account>>,
    pub transactions:
        std::collections::HashMap<sextant_core::CustomerId, Vec<sextant_core::Transaction>>,
}

/// Read a directory written by `sextant generate` (`customers_full.csv`, `accounts.csv`,
/// `transactions.csv`) with the production row parser, so tests see exactly what an import would.
pub fn load_bank(dir: &std::path::Path) -> SyntheticBank {
    use sextant_ingest::{Row, known_columns, parse_json_record};
    use sextant_store::RecordKind;
    let rows = |kind: RecordKind, file: &str| -> Vec<Row> {
        let known = known_columns(kind);
        let mut r = csv::Reader::from_path(dir.join(file)).expect("generated file");
        let headers = r.headers().expect("header").clone();
        r.records()
            .enumerate()
            .map(|(i, rec)| {
                let rec = rec.expect("record");
                let map: serde_json::Map<String, serde_json::Value> = headers
                    .iter()
                    .zip(rec.iter())
                    .map(|(h, v)| (h.to_string(), serde_json::Value::String(v.to_string())))
                    .collect();
                parse_json_record(kind, serde_json::Value::Object(map), i as u64 + 2, &known)
                    .unwrap_or_else(|e| panic!("{file}: {e}"))
            })
            .collect()
    };
    let mut bank = SyntheticBank {
        customers: Vec::new(),
        accounts: Default::default(),
        transactions: Default::default(),
    };
    for row in rows(RecordKind::Customers, "customers_full.csv") {
        if let Row::Customer(c, _) = row {
            bank.customers.push(c);
        }
    }
    for row in rows(RecordKind::Accounts, "accounts.csv") {
        if let Row::Account(a) = row {
            bank.accounts
                .entry(a.customer_id.clone())
                .or_default()
                .push(a);
        }
    }
    for row in rows(RecordKind::Transactions, "transactions.csv") {
        if let Row::Transaction(t) = row {
            bank.transactions
                .entry(t.customer_id.clone())
                .or_default()
                .push(t);
        }
    }
    bank
}

/// A freshly generated synthetic bank, loaded: keep `dir` alive while the files are needed.
pub struct GeneratedBank {
    pub dir: tempfile::TempDir,
    pub bank: SyntheticBank,
    /// The instant just after the last day of data (a natural `as_of`).
    pub end: chrono::DateTime<chrono::Utc>,
}

/// Generate `customers` × `months` with `seed` into a temporary directory and load it.
pub fn generate_bank(customers: u64, months: u32, seed: u64) -> GeneratedBank {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = sextant_synth::Config {
        customers,
        months,
        seed,
        ..Default::default()
    };
    sextant_synth::generate(&cfg, dir.path(), &|_| {}).expect("generate");
    let bank = load_bank(dir.path());
    let end = cfg
        .end_date
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("valid end date")
        .and_utc();
    GeneratedBank { dir, bank, end }
}

/// Generate a synthetic bank (`customers` × `months`, `seed`) and import its products,
/// customers, accounts and transactions into `store` with the production importer. Keep the
/// returned directory alive while the files are needed.
pub async fn import_synthetic_bank(
    store: &dyn sextant_store::Store,
    customers: u64,
    months: u32,
    seed: u64,
) -> tempfile::TempDir {
    use sextant_store::RecordKind;
    import_generated(
        store,
        customers,
        months,
        seed,
        &[
            (RecordKind::Products, "products.csv"),
            (RecordKind::Customers, "customers_full.csv"),
            (RecordKind::Accounts, "accounts.csv"),
            (RecordKind::Transactions, "transactions.csv"),
        ],
    )
    .await
}

/// Generate a synthetic bank and import just `files` (kind, file name in the bank) with the
/// production importer, in that order. Keep the returned directory alive while the files are
/// needed (the generator's labels are in it).
pub async fn import_generated(
    store: &dyn sextant_store::Store,
    customers: u64,
    months: u32,
    seed: u64,
    files: &[(sextant_store::RecordKind, &str)],
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = sextant_synth::Config {
        customers,
        months,
        seed,
        ..Default::default()
    };
    sextant_synth::generate(&cfg, dir.path(), &|_| {}).expect("generate");
    for &(kind, f) in files {
        sextant_ingest::import_file(
            store,
            kind,
            &dir.path().join(f),
            &sextant_ingest::ImportOptions::default(),
            |_| {},
        )
        .await
        .unwrap_or_else(|e| panic!("importing {f}: {e}"));
    }
    dir
}
