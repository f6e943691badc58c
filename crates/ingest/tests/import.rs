//! Import end to end on both backends: the seed-002 file, idempotent re-import, and every kind of
//! bad input with its exact error.

use sextant_core::CustomerId;
use sextant_ingest::{ImportOptions, ImportReport, IngestError, import_file};
use sextant_store::{RecordKind, Table};
use sextant_testkit::{TestDb, on_both_backends};
use std::path::{Path, PathBuf};

const SEED_HEADER: &str = "Customer_ID,Name,Age,Income,Spending_Habit,Risk_Profile,Transactions,Sentiment_Score,Engagement_Level";
const SEED: &str = "Customer_ID,Name,Age,Income,Spending_Habit,Risk_Profile,Transactions,Sentiment_Score,Engagement_Level
1,Customer_1,28,68948,Moderate,Low,47,0.1,Medium
2,Customer_2,37,99604,Budget,Low,4,0.08,High
";
const ACCOUNTS: &str = "account_id,customer_id,kind,product_id,currency,opened_on,closed_on,status,limit_minor,balance_minor
a1,1,current,,EUR,2020-01-01,,open,,150000
a2,2,current,,EUR,2021-05-01,,open,,2000
";
const TX_HEADER: &str = "transaction_id,customer_id,account_id,timestamp,amount_minor,currency,merchant,category,mcc,channel,country,balance_after_minor,status";

fn file(dir: &tempfile::TempDir, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, content).unwrap();
    p
}

async fn import(db: &TestDb, kind: RecordKind, path: &Path) -> Result<ImportReport, IngestError> {
    import_file(
        db.store.as_ref(),
        kind,
        path,
        &ImportOptions::default(),
        |_| {},
    )
    .await
}

/// Import with `--skip-invalid` (valid rows written, rejects reported).
async fn import_skipping_invalid(db: &TestDb, kind: RecordKind, path: &Path) -> ImportReport {
    let opts = ImportOptions {
        skip_invalid: true,
        ..Default::default()
    };
    import_file(db.store.as_ref(), kind, path, &opts, |_| {})
        .await
        .unwrap()
}

/// Import expecting rejection; returns the error lines as `Display` strings.
async fn rejected(db: &TestDb, kind: RecordKind, path: &Path) -> Vec<String> {
    match import(db, kind, path).await {
        Err(IngestError::Rejected(r)) => r.errors.iter().map(|e| e.to_string()).collect(),
        other => panic!("expected rejection, got {other:?}"),
    }
}

async fn seeded(db: &TestDb, dir: &tempfile::TempDir) {
    import(db, RecordKind::Customers, &file(dir, "c.csv", SEED))
        .await
        .unwrap();
    import(db, RecordKind::Accounts, &file(dir, "a.csv", ACCOUNTS))
        .await
        .unwrap();
}

async fn seed_002_schema_imports_unchanged(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let report = import(&db, RecordKind::Customers, &file(&dir, "c.csv", SEED))
        .await
        .unwrap();
    let rec = report.import.unwrap();
    assert_eq!(
        (report.rows_read, rec.rows_written, rec.rows_new),
        (2, 2, 2)
    );
    let c = db
        .store
        .get_customer(&CustomerId::parse("1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.name, "Customer_1");
    assert_eq!(c.age, 28);
    assert_eq!(c.income.minor, 6_894_800);
    assert_eq!(c.income.currency.as_str(), "EUR");
    assert_eq!(c.spending_habit.as_str(), "Moderate");
    assert_eq!(c.transactions, 47);
    assert_eq!(c.sentiment_score.value(), 0.1);
    assert_eq!(c.engagement_level.as_str(), "Medium");
}

async fn re_import_is_idempotent(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    seeded(&db, &dir).await;
    let tx = format!(
        "{TX_HEADER}\nt1,1,a1,2026-01-05T10:00:00Z,-1299,EUR,Rewe,groceries,5411,card_present,DE,148701,approved\n\
         t2,1,a1,2026-01-06T10:00:00Z,250000,EUR,ACME GmbH,salary,,transfer,DE,398701,\n"
    );
    let path = file(&dir, "t.csv", tx);
    let first = import(&db, RecordKind::Transactions, &path)
        .await
        .unwrap()
        .import
        .unwrap();
    let second = import(&db, RecordKind::Transactions, &path)
        .await
        .unwrap()
        .import
        .unwrap();
    assert_eq!((first.rows_written, first.rows_new), (2, 2));
    assert_eq!((second.rows_written, second.rows_new), (2, 0));
    assert_eq!(db.store.count(Table::Transactions).await.unwrap(), 2);
    let again = import(&db, RecordKind::Customers, &file(&dir, "c.csv", SEED))
        .await
        .unwrap()
        .import
        .unwrap();
    assert_eq!(again.rows_new, 0);
    assert_eq!(db.store.count(Table::Customers).await.unwrap(), 2);
    let txs = db
        .store
        .list_transactions(&CustomerId::parse("1").unwrap(), None, 10)
        .await
        .unwrap();
    assert_eq!(
        txs.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["t2", "t1"]
    );
    assert_eq!(txs[1].amount.minor, -1299);
    assert_eq!(txs[1].mcc.unwrap().value(), 5411);
}

async fn every_bad_customer_row_is_named(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(5000);
    let mut content = format!(
        "{SEED_HEADER}\n\
         1,Customer_1,abc,68948,Moderate,Low,47,0.1,Medium\n\
         2,Customer_2,37,99604,Budget,Huge,4,0.08,High\n\
         3,Customer_3,37,99604,Budget\n\
         4,,37,99604,Budget,Low,4,0.08,High\n\
         5,{long},37,99604,Budget,Low,4,0.08,High\n\
         6,Customer_6,40,1.234,Budget,Low,4,0.08,High\n\
         7,Customer_7,40,1000,Budget,Low,4,1.5,High\n\
         8,Customer_8,40,1000,Budget,Low,4,0.5,High\n\
         8,Customer_8b,40,1000,Budget,Low,4,0.5,High\n"
    )
    .into_bytes();
    content.extend_from_slice(b"9,Cu\xff\xfe,40,1000,Budget,Low,4,0.5,High\n");
    let errors = rejected(&db, RecordKind::Customers, &file(&dir, "bad.csv", content)).await;
    assert_eq!(
        errors,
        [
            "line 2, column Age: 'abc' is not a whole number of years",
            "line 3, column Risk_Profile: unknown risk profile 'Huge': expected one of Low, Medium, High",
            "line 4: expected 9 fields as in the header, found 5",
            "line 5, column Name: required value is missing",
            "line 6, column Name: too long: 5000 bytes, at most 1024 allowed",
            "line 7, column Income: '1.234' has 3 decimal places; the currency allows 2",
            "line 8, column Sentiment_Score: 1.5 is outside [-1, 1]",
            "line 11, column Name: not valid UTF-8 (bad byte at offset 2)",
        ]
    );
    // All-or-nothing: the two valid rows were not written either.
    assert_eq!(db.store.count(Table::Customers).await.unwrap(), 0);
}

async fn duplicate_ids_in_one_file_are_rejected(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let content = format!(
        "{SEED_HEADER}\n8,A,40,1000,Budget,Low,4,0.5,High\n9,B,40,1000,Budget,Low,4,0.5,High\n8,C,40,1000,Budget,Low,4,0.5,High\n"
    );
    let errors = rejected(&db, RecordKind::Customers, &file(&dir, "dup.csv", content)).await;
    assert_eq!(
        errors,
        ["line 4: duplicate Customer_ID '8': it appears earlier in this import"]
    );
    assert_eq!(db.store.count(Table::Customers).await.unwrap(), 0);
}

async fn bad_headers_are_fatal(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let missing = "Customer_ID,Name,Age,Income,Spending_Habit,Risk_Profile,Transactions,Sentiment_Score\n1,a,2,3,Budget,Low,1,0\n";
    let err = import(&db, RecordKind::Customers, &file(&dir, "m.csv", missing))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("missing required column(s): Engagement_Level"),
        "{err}"
    );
    let unknown = format!("{SEED_HEADER},Shoe_Size\n");
    let err = import(&db, RecordKind::Customers, &file(&dir, "u.csv", unknown))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown column 'Shoe_Size' in the header"),
        "{err}"
    );
    let err = import(&db, RecordKind::Customers, &file(&dir, "e.csv", ""))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("the file is empty"), "{err}");
}

async fn bad_transactions_are_named(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    seeded(&db, &dir).await;
    let content = format!(
        "{TX_HEADER}\n\
         t1,1,a1,2026-01-05T10:00:00Z,99999999999999999999,EUR,Rewe,groceries,5411,card_present,DE,,\n\
         t2,1,a9,2026-01-05T10:00:00Z,-100,EUR,Rewe,groceries,5411,card_present,DE,,\n\
         t3,2,a1,2026-01-05T10:00:00Z,-100,EUR,Rewe,groceries,5411,card_present,DE,,\n\
         t4,1,a1,yesterday,-100,EUR,Rewe,groceries,5411,card_present,DE,,\n\
         t5,1,a1,2026-01-05T10:00:00Z,-100,EUR,Rewe,gambling,5411,card_present,DE,,\n\
         t6,1,a1,2026-01-05T10:00:00Z,-100,XYZ,Rewe,groceries,5411,card_present,DE,,\n\
         t7,1,a1,2026-01-05T10:00:00Z,-100,EUR,Rewe,groceries,5411,card_present,DE,,\n"
    );
    let errors = rejected(&db, RecordKind::Transactions, &file(&dir, "t.csv", content)).await;
    assert_eq!(
        errors,
        [
            "line 2, column amount_minor: '99999999999999999999' overflows a 64-bit amount (limit ±9223372036854775807 minor units)",
            "line 5, column timestamp: 'yesterday' is not an RFC 3339 timestamp (premature end of input)",
            "line 6, column category: unknown category 'gambling': expected one of salary, other_income, housing, groceries, restaurants, utilities, subscriptions, travel, transport, fuel, shopping, entertainment, health, education, childcare, insurance, cash, loan_repayment, savings, transfer, fees, other",
            "line 7, column currency: unknown currency 'XYZ': expected an ISO 4217 code such as EUR, USD, GBP",
        ]
    );
    // Reference errors come from the store; they show once the parse errors are fixed.
    let refs = format!(
        "{TX_HEADER}\n\
         t2,1,a9,2026-01-05T10:00:00Z,-100,EUR,Rewe,groceries,5411,card_present,DE,,\n\
         t3,2,a1,2026-01-05T10:00:00Z,-100,EUR,Rewe,groceries,5411,card_present,DE,,\n\
         t7,1,a1,2026-01-05T10:00:00Z,-100,EUR,Rewe,groceries,5411,card_present,DE,,\n"
    );
    let errors = rejected(&db, RecordKind::Transactions, &file(&dir, "r.csv", refs)).await;
    assert_eq!(
        errors,
        [
            "line 2, column account_id: account 'a9' does not exist for customer '1'",
            "line 3, column account_id: account 'a1' does not exist for customer '2'",
        ]
    );
    assert_eq!(db.store.count(Table::Transactions).await.unwrap(), 0);
}

/// Whether the `(customer, time)` index on transactions exists, read from the catalogue.
async fn customer_time_index_exists(db: &TestDb) -> bool {
    let n: i64 = match &db.schema {
        None => rusqlite::Connection::open(&db.url)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'transactions_customer_ts'",
                [],
                |r| r.get(0),
            )
            .unwrap(),
        Some(schema) => {
            let client = sextant_testkit::pg_client().await;
            client
                .query_one(
                    "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'transactions_customer_ts'",
                    &[schema],
                )
                .await
                .unwrap()
                .get(0)
        }
    };
    n == 1
}

/// `n` transactions alternating between customers 1 (account a1) and 2 (a2), one second apart;
/// `bad_last`: one more row whose account belongs to another customer.
fn bulk_transactions(n: usize, bad_last: bool) -> String {
    use std::fmt::Write;
    let mut s = format!("{TX_HEADER}\n");
    let ts = |i: usize| {
        format!(
            "2026-01-01T{:02}:{:02}:{:02}Z",
            i / 3600,
            i / 60 % 60,
            i % 60
        )
    };
    for i in 0..n {
        let (c, a) = if i % 2 == 0 { ("1", "a1") } else { ("2", "a2") };
        writeln!(
            s,
            "bulk{i},{c},{a},{},-{},EUR,Rewe,groceries,5411,card_present,DE,,",
            ts(i),
            100 + i
        )
        .unwrap();
    }
    if bad_last {
        writeln!(
            s,
            "bulkbad,1,a2,{},-1,EUR,,groceries,,card_online,DE,,",
            ts(n)
        )
        .unwrap();
    }
    s
}

/// A bulk load into an empty table drops the `(customer, time)` index and rebuilds it before
/// COMMIT: afterwards it exists and serves queries; a failed bulk load leaves it in place; a
/// re-import is idempotent.
async fn bulk_load_rebuilds_the_customer_time_index(db: TestDb) {
    const N: usize = 12_000; // above PostgreSQL's bulk-load threshold (10 000 staged rows)
    let dir = tempfile::tempdir().unwrap();
    seeded(&db, &dir).await;
    assert!(customer_time_index_exists(&db).await);

    let bad = file(&dir, "bad.csv", bulk_transactions(N, true));
    assert_eq!(
        rejected(&db, RecordKind::Transactions, &bad).await,
        [format!(
            "line {}, column account_id: account 'a2' does not exist for customer '1'",
            N + 2
        )]
    );
    assert_eq!(db.store.count(Table::Transactions).await.unwrap(), 0);
    assert!(
        customer_time_index_exists(&db).await,
        "a failed import keeps the index"
    );

    let good = file(&dir, "good.csv", bulk_transactions(N, false));
    let rec = import(&db, RecordKind::Transactions, &good)
        .await
        .unwrap()
        .import
        .unwrap();
    assert_eq!((rec.rows_written, rec.rows_new), (N as u64, N as u64));
    assert!(
        customer_time_index_exists(&db).await,
        "rebuilt before COMMIT"
    );
    let newest = db
        .store
        .list_transactions(&CustomerId::parse("2").unwrap(), None, 3)
        .await
        .unwrap();
    assert_eq!(
        newest.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        [N - 1, N - 3, N - 5].map(|i| format!("bulk{i}"))
    );
    assert_eq!(newest[0].amount.minor, -(100 + N as i64 - 1));

    let again = import(&db, RecordKind::Transactions, &good)
        .await
        .unwrap()
        .import
        .unwrap();
    assert_eq!((again.rows_written, again.rows_new), (N as u64, 0));
    assert_eq!(db.store.count(Table::Transactions).await.unwrap(), N as u64);
    assert!(customer_time_index_exists(&db).await);
}

/// A bulk load into an empty table whose second batch repeats ids (one loaded in the first
/// batch, one within the batch) and names accounts of another customer (one of them under an id
/// a later, valid row uses): every bad row is named as for any other import, all-or-nothing
/// writes nothing, `skip_invalid` writes exactly the good rows, the index is back, and a
/// re-import is idempotent. (On PostgreSQL the first batch goes straight into the table and
/// the duplicate sends the rest through staging.)
async fn bulk_load_with_duplicates_and_bad_owners(db: TestDb) {
    const N: usize = 12_000; // two batches of the default 10 000 rows
    let dir = tempfile::tempdir().unwrap();
    seeded(&db, &dir).await;
    let row = |id: &str, c: &str, a: &str| {
        format!("{id},{c},{a},2026-02-01T00:00:00Z,-1,EUR,,groceries,,card_online,DE,,\n")
    };
    let content = [
        bulk_transactions(N, false),
        row("bulk5", "1", "a1"),
        row("bad", "1", "a2"),
        row("extra", "2", "a2"),
        row("extra", "2", "a2"),
        row("zz", "1", "a2"),
        row("zz", "1", "a1"),
    ]
    .concat();
    let path = file(&dir, "dups.csv", content);
    let errors = [
        format!(
            "line {}: duplicate transaction_id 'bulk5': it appears earlier in this import",
            N + 2
        ),
        format!(
            "line {}, column account_id: account 'a2' does not exist for customer '1'",
            N + 3
        ),
        format!(
            "line {}: duplicate transaction_id 'extra': it appears earlier in this import",
            N + 5
        ),
        format!(
            "line {}, column account_id: account 'a2' does not exist for customer '1'",
            N + 6
        ),
    ];
    assert_eq!(rejected(&db, RecordKind::Transactions, &path).await, errors);
    assert_eq!(db.store.count(Table::Transactions).await.unwrap(), 0);
    assert!(customer_time_index_exists(&db).await);

    let report = import_skipping_invalid(&db, RecordKind::Transactions, &path).await;
    let rec = report.import.unwrap();
    assert_eq!(report.rows_rejected, 4);
    assert_eq!(
        (rec.rows_written, rec.rows_new),
        (N as u64 + 2, N as u64 + 2)
    );
    assert_eq!(
        db.store.count(Table::Transactions).await.unwrap(),
        N as u64 + 2
    );
    assert!(customer_time_index_exists(&db).await);
    let newest = db
        .store
        .list_transactions(&CustomerId::parse("1").unwrap(), None, 2)
        .await
        .unwrap();
    assert_eq!(
        newest
            .iter()
            .map(|t| (t.id.as_str(), t.amount.minor))
            .collect::<Vec<_>>(),
        [("zz", -1), ("bulk11998", -(100 + N as i64 - 2))]
    );
    let bulk5 = db
        .store
        .list_transactions(&CustomerId::parse("2").unwrap(), None, N as u32)
        .await
        .unwrap();
    assert_eq!(bulk5.iter().filter(|t| t.id.as_str() == "bulk5").count(), 1);
    assert!(bulk5.iter().any(|t| t.id.as_str() == "extra"));

    let again = import_skipping_invalid(&db, RecordKind::Transactions, &path).await;
    assert_eq!(again.rows_rejected, 4);
    let again = again.import.unwrap();
    assert_eq!((again.rows_written, again.rows_new), (N as u64 + 2, 0));
    assert_eq!(
        db.store.count(Table::Transactions).await.unwrap(),
        N as u64 + 2
    );
}

async fn skip_invalid_writes_valid_rows_and_a_rejects_file(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    seeded(&db, &dir).await;
    let content = format!(
        "{TX_HEADER}\n\
         t1,1,a1,2026-01-05T10:00:00Z,-100,EUR,Rewe,groceries,5411,card_present,DE,,\n\
         t2,1,a1,2026-01-05T10:00:00Z,abc,EUR,Rewe,groceries,5411,card_present,DE,,\n\
         t3,1,a9,2026-01-05T10:00:00Z,-100,EUR,Rewe,groceries,5411,card_present,DE,,\n\
         t1,1,a1,2026-01-05T10:00:00Z,-100,EUR,Rewe,groceries,5411,card_present,DE,,\n\
         t4,2,a2,2026-01-05T11:00:00Z,-300,EUR,Aral,fuel,5541,card_present,DE,,\n"
    );
    let path = file(&dir, "t.csv", content);
    let report = import_skipping_invalid(&db, RecordKind::Transactions, &path).await;
    assert_eq!(report.rows_read, 5);
    assert_eq!(report.rows_rejected, 3);
    assert_eq!(report.import.as_ref().unwrap().rows_written, 2);
    assert_eq!(db.store.count(Table::Transactions).await.unwrap(), 2);
    let rejects = std::fs::read_to_string(report.rejects_file.unwrap()).unwrap();
    let mut lines: Vec<&str> = rejects.lines().collect();
    lines[1..].sort();
    assert_eq!(
        lines,
        [
            "line,column,reason",
            "3,\"amount_minor\",\"'abc' is not an integer\"",
            "4,\"account_id\",\"account 'a9' does not exist for customer '1'\"",
            "5,,\"duplicate transaction_id 't1': it appears earlier in this import\"",
        ]
    );
}

async fn jsonl_transactions(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    seeded(&db, &dir).await;
    let good = r#"{"transaction_id":"j1","customer_id":"1","account_id":"a1","timestamp":"2026-02-01T08:00:00Z","amount_minor":-450,"currency":"EUR","merchant":"Café \"Blau\"","category":"restaurants","mcc":5812,"channel":"card_present","country":"FR"}
{"transaction_id":"j2","customer_id":"2","account_id":"a2","timestamp":"2026-02-01T09:00:00Z","amount_minor":-990,"currency":"EUR","category":"subscriptions","channel":"card_online","country":"DE"}
"#;
    let report = import(&db, RecordKind::Transactions, &file(&dir, "t.jsonl", good))
        .await
        .unwrap();
    assert_eq!(report.import.unwrap().rows_new, 2);
    let t = db
        .store
        .list_transactions(&CustomerId::parse("1").unwrap(), None, 1)
        .await
        .unwrap();
    assert_eq!(t[0].merchant.as_deref(), Some("Café \"Blau\""));
    let bad =
        "{\"transaction_id\":\"j3\",\n[1,2]\n{\"transaction_id\":\"j4\",\"colour\":\"red\"}\n";
    let errors = rejected(&db, RecordKind::Transactions, &file(&dir, "b.jsonl", bad)).await;
    assert_eq!(errors.len(), 3);
    assert!(
        errors[0].starts_with("line 1: malformed JSON: EOF while parsing"),
        "{}",
        errors[0]
    );
    assert_eq!(errors[1], "line 2: expected a JSON object");
    assert_eq!(errors[2], "line 3, column colour: unknown field");
}

async fn cursor_pagination_is_stable(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mut content = format!("{SEED_HEADER}\n");
    for i in 0..25 {
        content.push_str(&format!(
            "c{i:03},Customer_{i},30,50000,Budget,Low,1,0,Low\n"
        ));
    }
    import(&db, RecordKind::Customers, &file(&dir, "c.csv", content))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after: Option<CustomerId> = None;
    loop {
        let page = db.store.list_customers(after.as_ref(), 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|c| c.id.clone());
        seen.extend(page.into_iter().map(|c| c.id.to_string()));
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen.first().unwrap(), "c000");
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
}

async fn consents_import_with_history(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    seeded(&db, &dir).await;
    let content = "consent_id,customer_id,purpose,granted,at,source\n\
         k1,1,marketing,true,2026-01-01T00:00:00Z,crm\n\
         k2,1,marketing,false,2026-02-01T00:00:00Z,\n\
         k3,2,profiling,yes,2026-01-01T00:00:00Z,crm\n";
    let path = file(&dir, "k.csv", content);
    let first = import(&db, RecordKind::Consents, &path)
        .await
        .unwrap()
        .import
        .unwrap();
    let again = import(&db, RecordKind::Consents, &path)
        .await
        .unwrap()
        .import
        .unwrap();
    assert_eq!((first.rows_new, again.rows_new), (3, 0));
    let id = CustomerId::parse("1").unwrap();
    let history = db.store.consent_history(&id).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].source, "import");
    let state = db.store.consent_state(&id, &[]).await.unwrap().unwrap();
    assert!(!state.marketing, "the latest record wins");
    let bad = "consent_id,customer_id,purpose,granted,at\nk9,1,spam,true,2026-01-01T00:00:00Z\nk10,9,marketing,maybe,2026-01-01T00:00:00Z\nk11,9,marketing,true,2026-01-01T00:00:00Z\n";
    let errors = rejected(&db, RecordKind::Consents, &file(&dir, "b.csv", bad)).await;
    assert_eq!(
        errors,
        [
            "line 2, column purpose: unknown consent purpose 'spam': expected one of personalization, marketing, profiling, automated_decisions, data_sharing",
            "line 3, column granted: 'maybe' is not true or false",
        ]
    );
}

on_both_backends!(
    bulk_load_rebuilds_the_customer_time_index,
    bulk_load_with_duplicates_and_bad_owners,
    consents_import_with_history,
    seed_002_schema_imports_unchanged,
    re_import_is_idempotent,
    every_bad_customer_row_is_named,
    duplicate_ids_in_one_file_are_rejected,
    bad_headers_are_fatal,
    bad_transactions_are_named,
    skip_invalid_writes_valid_rows_and_a_rejects_file,
    jsonl_transactions,
    cursor_pagination_is_stable,
);
