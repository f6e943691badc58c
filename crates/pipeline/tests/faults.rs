//! The database goes away under a running stream (PostgreSQL behind a TCP proxy that is cut
//! and restored): submissions fail instead of being acknowledged, the processor retries without
//! losing its place, and once the database is back every event the producer re-sends is applied
//! exactly once — the alerts are those of an uninterrupted run.

use serde_json::{Value, json};
use sextant_pipeline::{Stream, StreamConfig};
use sextant_store::{PgStore, Store};
use sextant_stream::{DEMO_RULES, Engine, RuleSet, parse_event};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused).
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (u, c, target) = (up.clone(), conns.clone(), target.to_string());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !u.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused by closing
                }
                let target = target.clone();
                let h = tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                c.lock().unwrap().push(h);
            }
        });
        Proxy { port, up, conns }
    }
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }
    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn debit(id: &str, minute: i64, amount: i64) -> Value {
    let ts = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap()
        + chrono::Duration::minutes(minute * 20);
    json!({
        "event_id": id, "type": "transaction", "customer_id": "c1", "timestamp": ts.to_rfc3339(),
        "transaction_id": format!("t-{id}"), "account_id": "a1", "amount_minor": -amount,
        "currency": "EUR", "merchant": "Rewe", "category": "groceries", "channel": "card_present",
        "country": "DE", "status": "approved",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_back_pressure_not_loss() {
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let url = format!("postgres://postgres@127.0.0.1:{}/test", proxy.port);
    let store: Arc<dyn Store> =
        Arc::new(PgStore::connect(&url, Some(schema.clone())).await.unwrap());
    let rules = Arc::new(RuleSet::from_toml(DEMO_RULES).unwrap());
    let s = Stream::new(store.clone(), rules.clone(), StreamConfig::default(), None);
    let (stop, rx) = watch::channel(false);
    let task = s.spawn_processor(rx);

    let all: Vec<Value> = (0..30)
        .map(|i| {
            let amount = if i == 14 || i == 27 {
                90_000
            } else {
                2_000 + 10 * i
            };
            debit(&format!("e{i}"), i, amount)
        })
        .collect();
    let r = s.submit(&all[..15], "test").await.unwrap();
    assert_eq!(r.accepted, 15);

    // The database goes away: nothing more is acknowledged.
    proxy.cut();
    let mut refused = 0;
    for chunk in all[15..].chunks(5) {
        match s.submit(chunk, "test").await {
            Ok(r) => panic!("acknowledged while the database is down: {r:?}"),
            Err(_) => refused += 1,
        }
    }
    assert_eq!(refused, 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        s.status().last_error.is_some(),
        "the processor reports the outage: {:?}",
        s.status()
    );

    // Back: the producer re-sends what was refused; everything is applied exactly once.
    proxy.restore();
    let mut sent = 0;
    for chunk in all[15..].chunks(5) {
        for attempt in 0.. {
            match s.submit(chunk, "test").await {
                Ok(r) => {
                    assert_eq!(r.accepted + r.duplicates, chunk.len());
                    sent += r.accepted;
                    break;
                }
                Err(e) => {
                    assert!(attempt < 100, "the store did not come back: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    assert!(sent <= 15);
    let head = store.stream().log_head().await.unwrap();
    for _ in 0..300 {
        if s.status().offset == Some(head) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.status().offset, Some(head), "{:?}", s.status());
    let log = store.stream().read_log(0, 1000).await.unwrap();
    let ids: BTreeSet<String> = log.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(
        (log.len(), ids.len()),
        (30, 30),
        "each event in the log once"
    );

    let mut engine = Engine::new(rules);
    let expected: BTreeSet<String> = all
        .iter()
        .flat_map(|v| engine.apply(&parse_event(v).unwrap()))
        .map(|a| a.id)
        .collect();
    assert_eq!(expected.len(), 2);
    let got: BTreeSet<String> = store
        .stream()
        .list_alerts(None, None, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(got, expected);

    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    let client = sextant_testkit::pg_client().await;
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
