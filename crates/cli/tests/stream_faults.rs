//! The event stream under faults, with real processes: a server killed with SIGKILL mid-stream
//! (embedded SQLite), and two NATS JetStream workers sharing PostgreSQL, one of them killed
//! with SIGKILL and restarted. In both, every acknowledged event is applied exactly once: the
//! stored alerts are exactly those a single uninterrupted engine raises on the same events, and
//! the ledger holds each streamed transaction of a known account once.
//! Also: the embedded server's disk filling up mid-stream (back-pressure, then exactly once), and
//! `sextant replay` plays a generated bank into a running server, idempotently.

use serde_json::{Value, json};
use sextant_stream::{AlertKind, DEMO_RULES, Engine, RuleSet, parse_event};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn sextant(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sextant"));
    c.current_dir(dir)
        .env("RUST_LOG", "warn")
        .env_remove("SEXTANT_DATABASE");
    c
}

/// Run `sextant ARGS` in `dir`, which must succeed; its stdout.
fn sextant_ok(dir: &Path, args: &[&str]) -> String {
    let out = sextant(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// 40 customers × 60 debits in time order; from the 15th debit on, every 20th is 40× the usual.
fn events(run: &str) -> Vec<Value> {
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-02-01T00:00:00Z").unwrap();
    let mut out = Vec::new();
    for i in 0..60i64 {
        for c in 0..40i64 {
            let usual = 1_000 + 100 * c;
            let amount = if i >= 15 && (i + c) % 20 == 0 {
                usual * 40
            } else {
                usual + (i * 37 + c * 11) % 300
            };
            out.push(json!({
                "event_id": format!("{run}-{c}-{i}"), "type": "transaction",
                "customer_id": format!("k{c}"),
                "timestamp": (t0 + chrono::Duration::minutes(i * 90 + c)).to_rfc3339(),
                "transaction_id": format!("{run}-t-{c}-{i}"), "account_id": format!("a{c}"),
                "amount_minor": -amount, "currency": "EUR", "merchant": "Shop",
                "category": "groceries", "channel": "card_present", "country": "DE",
                "status": "approved",
            }));
        }
    }
    out
}

/// The alert ids one uninterrupted engine raises (fraud only: no consent in the store allows
/// anything else).
fn reference(evs: &[Value]) -> BTreeSet<String> {
    let mut e = Engine::new(Arc::new(RuleSet::from_toml(DEMO_RULES).unwrap()));
    let mut ids = BTreeSet::new();
    for v in evs {
        for a in e.apply(&parse_event(v).unwrap()) {
            if a.kind == AlertKind::Fraud {
                ids.insert(a.id);
            }
        }
    }
    assert!(ids.len() >= 40, "the fixture plants enough anomalies");
    ids
}

fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line
}

fn serve(dir: &Path) -> (Child, String) {
    let mut c = sextant(dir);
    c.args(["serve", "--bind", "127.0.0.1:0"]);
    spawn_server(c)
}

/// Start a server (`cmd` runs `sextant serve`); its process and base URL.
fn spawn_server(mut cmd: Command) -> (Child, String) {
    let mut child = cmd
        .env("SEXTANT__STREAM__CHECKPOINT_SECS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = first_line(&mut child);
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    (child, format!("http://{addr}"))
}

fn kill9(child: &mut Child) {
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
}

/// `GET url` with `key`: the JSON body.
async fn get_json(http: &reqwest::Client, url: &str, key: &str) -> Value {
    http.get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn all_alert_ids(http: &reqwest::Client, base: &str, key: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/alerts?limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let v = get_json(http, &url, key).await;
        for a in v["alerts"].as_array().unwrap() {
            assert!(
                ids.insert(a["id"].as_str().unwrap().to_string()),
                "an alert listed twice"
            );
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return ids,
        }
    }
}

/// An embedded store in `dir` with an admin key (returned) and half the customers of
/// [`events`] with their accounts, so their streamed transactions reach the ledger (the
/// others' are skipped).
fn embedded_fixture(dir: &Path) -> String {
    let out = sextant(dir)
        .args(["keys", "create", "--role", "admin"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let mut customers = String::from(
        "Customer_ID,Name,Age,Income,Spending_Habit,Risk_Profile,Transactions,Sentiment_Score,Engagement_Level\n",
    );
    let mut accounts = String::from(
        "account_id,customer_id,kind,product_id,currency,opened_on,closed_on,status,limit_minor,balance_minor\n",
    );
    for c in 0..20 {
        customers.push_str(&format!(
            "k{c},Customer_{c},40,50000,Moderate,Low,60,0.1,Medium\n"
        ));
        accounts.push_str(&format!("a{c},k{c},current,,EUR,2024-01-01,,open,,0\n"));
    }
    std::fs::write(dir.join("customers.csv"), customers).unwrap();
    std::fs::write(dir.join("accounts.csv"), accounts).unwrap();
    for kind in ["customers", "accounts"] {
        sextant_ok(dir, &["import", kind, &format!("{kind}.csv")]);
    }
    key
}

/// A running embedded server as a test talks to it.
#[derive(Clone)]
struct Server {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Server {
    /// `POST /v1/events` with `batch`.
    async fn post(&self, batch: &[Value]) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{}/v1/events", self.base))
            .bearer_auth(&self.key)
            .json(&json!({ "events": batch }))
            .send()
            .await
    }

    /// Once the processor has applied every event in the log (at least `n`): the stored alerts
    /// are `expected` (an uninterrupted run's); then, the server stopped, the ledger holds each
    /// known customer's transactions of run `run` once.
    async fn assert_applied_once(
        &self,
        n: usize,
        expected: &BTreeSet<String>,
        child: &mut Child,
        dir: &Path,
        run: &str,
    ) {
        wait_caught_up(&self.http, &self.base, &self.key, n).await;
        let stored = all_alert_ids(&self.http, &self.base, &self.key).await;
        assert_eq!(&stored, expected, "alerts differ from an uninterrupted run");
        kill9(child);
        assert_ledger(dir, run).await;
    }
}

/// Wait until the processor has applied every event in the log and the log holds at least `n`.
async fn wait_caught_up(http: &reqwest::Client, base: &str, key: &str, n: usize) {
    let start = Instant::now();
    loop {
        let v = get_json(http, &format!("{base}/v1/stream/status"), key).await;
        // Sequence numbers may skip (a duplicate uses one up), so "caught up" is offset = head.
        if v["offset"] == v["log_head"] && v["log_head"].as_i64().unwrap() >= n as i64 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not caught up: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ledger in `dir` holds each known customer's 60 streamed transactions of run `run` once,
/// the others' none.
async fn assert_ledger(dir: &Path, run: &str) {
    let store = sextant_store::open(dir.join("sextant.db").to_str().unwrap())
        .await
        .unwrap();
    for c in 0..40 {
        let id = sextant_core::CustomerId::parse(&format!("k{c}")).unwrap();
        let ids: BTreeSet<String> = store
            .list_transactions(&id, None, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.id.as_str().to_string())
            .collect();
        let want: BTreeSet<String> = if c < 20 {
            (0..60).map(|i| format!("{run}-t-{c}-{i}")).collect()
        } else {
            BTreeSet::new()
        };
        assert_eq!(ids, want, "customer k{c}'s ledger");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_server_killed_mid_stream_loses_and_repeats_nothing() {
    let t = tempfile::tempdir().unwrap();
    let key = embedded_fixture(t.path());
    let evs = events("e");
    let expected = reference(&evs);
    let batches: Vec<&[Value]> = evs.chunks(40).collect();
    sextant_outbound::install_tls_provider();
    let http = reqwest::Client::new();

    let (mut child, base) = serve(t.path());
    let server = Server { http, base, key };
    // A producer sends as fast as the server acknowledges; the server is killed with SIGKILL
    // while it does (a batch may be in flight, half-written or not).
    let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let producer = {
        let (acked, server) = (acked.clone(), server.clone());
        let batches: Vec<Vec<Value>> = batches.iter().map(|b| b.to_vec()).collect();
        tokio::spawn(async move {
            for b in &batches {
                match server.post(b).await {
                    Ok(r) if r.status().as_u16() == 202 => {
                        acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    _ => return,
                }
            }
        })
    };
    while acked.load(std::sync::atomic::Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    kill9(&mut child);
    producer.await.unwrap();
    let acked = acked.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        acked < batches.len(),
        "the kill stopped the stream mid-way ({acked} batches acknowledged)"
    );

    // Restart and re-send from the first unacknowledged batch (an at-least-once producer also
    // re-sends the batch in flight; duplicates are dropped by event id).
    let (mut child, base) = serve(t.path());
    let server = Server { base, ..server };
    for b in &batches[acked..] {
        let r = server.post(b).await.unwrap();
        assert_eq!(r.status().as_u16(), 202);
    }
    server
        .assert_applied_once(evs.len(), &expected, &mut child, t.path(), "e")
        .await;
}

/// The disk fills up under a running embedded server (a soft file-size limit on the process,
/// `RLIMIT_FSIZE`, with `SIGXFSZ` ignored: every write past the limit fails as on a full disk):
/// ingestion answers 503 with `Retry-After` instead of acknowledging, the processor keeps
/// retrying, the server stays up; once space is back (the limit lifted) the producer re-sends
/// what was not acknowledged and every event is applied exactly once.
/// SIGTERM stops the server gracefully even while a client holds the live alert stream open
/// (Server-Sent Events never end on their own): the stream ends and the process exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_live_alert_streams_and_exits() {
    let t = tempfile::tempdir().unwrap();
    let key = embedded_fixture(t.path());
    let (mut child, base) = serve(t.path());
    sextant_outbound::install_tls_provider();
    let http = reqwest::Client::new();
    let mut sse = http
        .get(format!("{base}/v1/alerts/stream"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    // The stream ends (no more chunks) rather than hanging.
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(_)) = sse.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the live stream did not end on SIGTERM");
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the server did not exit after SIGTERM with a live stream open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_disk_full_is_back_pressure_not_loss() {
    let t = tempfile::tempdir().unwrap();
    let key = embedded_fixture(t.path());
    // Filler first (customers the store does not know, long merchant names: a few MB), then
    // the fixture's events; the disk fills up somewhere in between.
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let mut evs: Vec<Value> = (0..8000i64)
        .map(|i| {
            json!({
                "event_id": format!("fill-{i}"), "type": "transaction",
                "customer_id": format!("z{}", i % 100),
                "timestamp": (t0 + chrono::Duration::seconds(i)).to_rfc3339(),
                "transaction_id": format!("fill-t-{i}"), "account_id": format!("az{}", i % 100),
                "amount_minor": -1_000, "currency": "EUR", "merchant": "M".repeat(200),
                "category": "groceries", "channel": "card_present", "country": "DE",
                "status": "approved",
            })
        })
        .collect();
    evs.extend(events("f"));
    let expected = reference(&evs);
    let batches: Vec<&[Value]> = evs.chunks(40).collect();
    sextant_outbound::install_tls_provider();
    let http = reqwest::Client::new();

    // A first start does the one-off writes (the assistant's embedding cache); the limit then
    // leaves the largest database file 256 KiB to grow (`ulimit -f` counts 512-byte blocks).
    let (mut child, _) = serve(t.path());
    kill9(&mut child);
    let largest = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("sextant.db"))
        .map(|e| e.metadata().unwrap().len())
        .max()
        .unwrap();
    let blocks = (largest + 256 * 1024) / 512;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -S -f {blocks}; exec \"$0\" serve --bind 127.0.0.1:0"
        ))
        .arg(env!("CARGO_BIN_EXE_sextant"))
        .current_dir(t.path())
        .env("RUST_LOG", "warn")
        .env_remove("SEXTANT_DATABASE");
    let (mut child, base) = spawn_server(cmd);
    let server = Server { http, base, key };
    let mut acked = 0;
    let mut refused = None;
    for b in &batches {
        let r = server.post(b).await.unwrap();
        if r.status().as_u16() != 202 {
            refused = Some((r.status().as_u16(), r.headers().contains_key("retry-after")));
            break;
        }
        acked += 1;
    }
    assert_eq!(
        refused,
        Some((503, true)),
        "the disk filled up mid-stream and ingestion refused with 503 + Retry-After ({acked} of {} batches acknowledged)",
        batches.len()
    );
    assert!(acked > 0, "the limit left room for some batches");
    // Still full: still refused, and the server is still up and answering reads.
    assert_eq!(
        server.post(batches[acked]).await.unwrap().status().as_u16(),
        503
    );
    let health = server
        .http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert!(child.try_wait().unwrap().is_none(), "the server is running");

    // Space comes back: lift the limit; the producer re-sends from the first refused batch.
    let lifted = Command::new("prlimit")
        .args(["--pid", &child.id().to_string(), "--fsize=unlimited"])
        .status()
        .unwrap();
    assert!(lifted.success());
    for b in &batches[acked..] {
        let mut tries = 0;
        loop {
            let status = server.post(b).await.unwrap().status().as_u16();
            if status == 202 {
                break;
            }
            // A commit that failed while the disk was full may still be retrying: back off.
            assert_eq!(status, 503);
            tries += 1;
            assert!(tries < 50, "still refused after the disk has room again");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    server
        .assert_applied_once(evs.len(), &expected, &mut child, t.path(), "f")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nats_workers_share_the_stream_and_survive_a_sigkill() {
    let db = sextant_testkit::fresh(sextant_testkit::Kind::Postgres).await;
    let schema = db.schema.clone().unwrap();
    let t = tempfile::tempdir().unwrap();
    let run = format!("w{}", std::process::id());
    // Half the customers and their accounts are in the store: their transactions reach the
    // ledger, the others' are skipped (their events still count in the windows and rules).
    let known: Vec<String> = (0..20).map(|c| format!("k{c}")).collect();
    let known_ids: Vec<&str> = known.iter().map(String::as_str).collect();
    let accounts: Vec<(String, &str)> = known_ids
        .iter()
        .map(|c| (format!("a{}", &c[1..]), *c))
        .collect();
    let account_pairs: Vec<(&str, &str)> = accounts.iter().map(|(a, c)| (a.as_str(), *c)).collect();
    sextant_testkit::import_customers(db.store.as_ref(), &known_ids).await;
    sextant_testkit::import_accounts(db.store.as_ref(), &account_pairs).await;
    let stream_name = format!("TEST_{run}");
    let prefix = format!("test{run}.events");
    let worker = |name: &str| {
        let mut c = sextant(t.path());
        c.arg("worker")
            .env("SEXTANT__DATABASE", &db.url)
            .env("SEXTANT__STREAM__NATS_URL", "nats://127.0.0.1:4222")
            .env("SEXTANT__STREAM__NATS_STREAM", &stream_name)
            .env("SEXTANT__STREAM__NATS_SUBJECT_PREFIX", &prefix)
            .env("SEXTANT__STREAM__PARTITIONS", "8")
            .env("SEXTANT__STREAM__CHECKPOINT_SECS", "1")
            .env("SEXTANT__STREAM__BATCH", "64")
            .env("SEXTANT_WORKER_NAME", name)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        let line = first_line(&mut child);
        assert!(line.contains("worker running"), "{line}");
        child
    };
    let mut a = worker("a");
    let mut b = worker("b");

    let bus = sextant_bus::Bus::connect(sextant_bus::BusConfig {
        url: "nats://127.0.0.1:4222".into(),
        stream: stream_name.clone(),
        subject_prefix: prefix.clone(),
        partitions: 8,
        ..Default::default()
    })
    .await
    .unwrap();
    let evs = events(&run);
    let expected = reference(&evs);
    let publish = |chunk: &[Value]| {
        let msgs: Vec<sextant_bus::Outgoing> = chunk
            .iter()
            .map(|v| sextant_bus::Outgoing {
                partition: sextant_stream::partition_of(v["customer_id"].as_str().unwrap(), 8),
                msg_id: v["event_id"].as_str().unwrap().to_string(),
                payload: v.to_string().into_bytes().into(),
            })
            .collect();
        msgs
    };
    let client = sextant_testkit::pg_client().await;
    let applied = || async {
        client
            .query_one(
                &format!("SELECT count(*) FROM {schema}.stream_applied"),
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let half = evs.len() / 2;
    for chunk in evs[..half].chunks(200) {
        bus.publish_batch(&publish(chunk)).await.unwrap();
    }
    // Wait until some of it is being applied, then kill a worker mid-stream.
    let start = Instant::now();
    while applied().await < 200 {
        assert!(start.elapsed() < Duration::from_secs(30), "workers idle");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill9(&mut a);
    for chunk in evs[half..].chunks(200) {
        bus.publish_batch(&publish(chunk)).await.unwrap();
    }
    // A re-publication of already-sent events (a producer retrying) changes nothing.
    bus.publish_batch(&publish(&evs[..100])).await.unwrap();
    let mut a = worker("a2");
    let start = Instant::now();
    while applied().await < evs.len() as i64 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {} of {} applied",
            applied().await,
            evs.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(applied().await, evs.len() as i64, "each event applied once");
    let rows = client
        .query(&format!("SELECT id FROM {schema}.alerts"), &[])
        .await
        .unwrap();
    let got: BTreeSet<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    assert_eq!(got, expected, "alerts differ from an uninterrupted run");
    let ledger = client
        .query_one(
            &format!("SELECT count(*), count(DISTINCT id) FROM {schema}.transactions"),
            &[],
        )
        .await
        .unwrap();
    let (rows, distinct): (i64, i64) = (ledger.get(0), ledger.get(1));
    assert_eq!(
        (rows, distinct),
        (evs.len() as i64 / 2, evs.len() as i64 / 2),
        "each known customer's streamed transaction in the ledger once"
    );
    kill9(&mut a);
    kill9(&mut b);
    let _ = bus.delete_stream().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_synthetic_bank_replays_as_a_live_stream() {
    let t = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| sextant_ok(t.path(), args);
    run(&[
        "generate",
        "--customers",
        "30",
        "--months",
        "3",
        "--out",
        "bank",
    ]);
    run(&["import", "bank", "bank", "--quiet"]);
    let key = run(&["keys", "create", "--role", "app"]).trim().to_string();
    // A rules file is validated before it is used.
    std::fs::write(
        t.path().join("bad.toml"),
        "[[rule]]\nid = \"x\"\nkind = \"nope\"\n",
    )
    .unwrap();
    let out = sextant(t.path())
        .args(["stream", "check-rules", "bad.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    assert!(run(&["stream", "check-rules"]).contains("stream rules OK"));

    let (mut child, base) = serve(t.path());
    let replay = |extra: &[&str]| {
        let mut args = vec!["replay", "--url", &base, "--speed", "0", "--quiet"];
        args.extend_from_slice(extra);
        let out = sextant(t.path())
            .args(&args)
            .env("SEXTANT_API_KEY", &key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = replay(&[]);
    let sent: u64 = first
        .split("done: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{first}"));
    assert!(sent > 100, "{first}");
    assert!(
        first.contains(&format!("({sent} accepted, 0 duplicates, 0 rejected)")),
        "{first}"
    );
    // Replaying again only counts duplicates: event ids are the transaction ids.
    let again = replay(&[]);
    assert!(
        again.contains(&format!("(0 accepted, {sent} duplicates, 0 rejected)")),
        "{again}"
    );

    sextant_outbound::install_tls_provider();
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let v: Value = http
            .get(format!("{base}/v1/stream/status"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["processed"] == json!(sent) && v["lag"] == json!(0) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill9(&mut child);
}
