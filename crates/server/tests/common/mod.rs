//! Shared test support: the real server on port 0 over a fresh database with a few customers.

#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::Value;
use sextant_core::{CustomerId, Role};
use sextant_ingest::{ImportOptions, import_file};
use sextant_server::{AppState, ServerConfig, generate_key};
use sextant_store::RecordKind;
use sextant_testkit::TestDb;

/// The master key every test server uses.
pub fn master() -> sextant_core::secrets::MasterKey {
    sextant_core::secrets::MasterKey::from_bytes([7; 32])
}

pub struct App {
    pub base: String,
    pub http: reqwest::Client,
    pub db: TestDb,
    pub files: tempfile::TempDir,
}

impl App {
    pub async fn key(&self, role: Role, customer: Option<&str>) -> String {
        let k = generate_key(
            role,
            customer.map(|c| CustomerId::parse(c).unwrap()),
            "test",
        )
        .unwrap();
        self.db.store.insert_api_key(&k.record).await.unwrap();
        k.plaintext
    }
    pub async fn get(&self, path: &str, key: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
    /// Any method with a JSON body; returns status and JSON (Null if none).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(
        &self,
        path: &str,
        key: &str,
        idem: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(body);
        if let Some(i) = idem {
            req = req.header("Idempotency-Key", i);
        }
        req.send().await.unwrap()
    }
}

pub async fn spawn(db: TestDb) -> App {
    spawn_with(db, false, false, None).await.0
}

/// The fixture app with the assistant (the real MiniLM model and the shipped knowledge base).
#[allow(dead_code)]
pub async fn spawn_assistant(db: TestDb) -> App {
    spawn_with(db, false, true, None).await.0
}

/// The fixture app with an embedded event stream whose processor runs (demo rules).
#[allow(dead_code)]
pub async fn spawn_streaming(db: TestDb) -> (App, sextant_pipeline::Stream) {
    let (app, s) = spawn_with(db, true, false, None).await;
    (app, s.expect("stream"))
}

/// The fixture app in NATS mode: events go to `bus` (the real JetStream server) and a worker in
/// this process applies them.
#[allow(dead_code)]
pub async fn spawn_nats(
    db: TestDb,
    bus: std::sync::Arc<sextant_bus::Bus>,
) -> (App, sextant_pipeline::Stream) {
    let (app, s) = spawn_with(db, true, false, Some(bus)).await;
    (app, s.expect("stream"))
}

async fn spawn_with(
    db: TestDb,
    streaming: bool,
    assistant: bool,
    bus: Option<std::sync::Arc<sextant_bus::Bus>>,
) -> (App, Option<sextant_pipeline::Stream>) {
    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, s: &str| {
        let p = files.path().join(name);
        std::fs::write(&p, s).unwrap();
        p
    };
    let customers = write(
        "c.csv",
        "Customer_ID,Name,Age,Income,Spending_Habit,Risk_Profile,Transactions,Sentiment_Score,Engagement_Level\n\
         1,Customer_1,28,68948,Moderate,Low,47,0.1,Medium\n2,Customer_2,37,99604,Budget,Low,4,0.08,High\n\
         3,Customer_3,45,51000,Lavish,High,9,-0.2,Low\n",
    );
    let accounts = write(
        "a.csv",
        "account_id,customer_id,kind,product_id,currency,opened_on,closed_on,status,limit_minor,balance_minor\n\
         a1,1,current,,EUR,2020-01-01,,open,,100000\na2,2,current,,EUR,2020-01-01,,open,,5000\n",
    );
    let mut tx = String::from(
        "transaction_id,customer_id,account_id,timestamp,amount_minor,currency,merchant,category,mcc,channel,country,balance_after_minor,status\n",
    );
    for i in 0..5 {
        tx.push_str(&format!(
            "t{i},1,a1,2026-01-0{}T10:00:00Z,-{}00,EUR,Rewe,groceries,5411,card_present,DE,,\n",
            i + 1,
            i + 1
        ));
    }
    let transactions = write("t.csv", &tx);
    for (kind, path) in [
        (RecordKind::Customers, customers),
        (RecordKind::Accounts, accounts),
        (RecordKind::Transactions, transactions),
    ] {
        import_file(
            db.store.as_ref(),
            kind,
            &path,
            &ImportOptions::default(),
            |_| {},
        )
        .await
        .unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(
        db.store.clone(),
        ServerConfig {
            max_batch: 10,
            ..Default::default()
        },
        &master(),
    );
    let mut stream = None;
    let state = if streaming {
        let rules = std::sync::Arc::new(
            sextant_stream::RuleSet::from_toml(sextant_stream::DEMO_RULES).unwrap(),
        );
        let partitions = bus.as_ref().map_or(1, |b| b.partitions());
        let nats = bus.is_some();
        let s = sextant_pipeline::Stream::new(
            db.store.clone(),
            rules,
            sextant_pipeline::StreamConfig {
                partitions,
                ..Default::default()
            },
            bus,
        );
        // The state first (it registers its recommender for streamed feedback), then the
        // processor, as `sextant serve` does.
        let state = state.with_stream(s.clone());
        let (stop, rx) = tokio::sync::watch::channel(false);
        if nats {
            std::mem::forget(s.spawn_worker("test".into(), rx));
        } else {
            s.spawn_processor(rx);
        }
        // The processor runs as long as the test's runtime.
        std::mem::forget(stop);
        stream = Some(s);
        state
    } else {
        state
    };
    let state = if assistant {
        static MODEL: std::sync::OnceLock<std::sync::Arc<sextant_embed::MiniLm>> =
            std::sync::OnceLock::new();
        let model = MODEL
            .get_or_init(|| {
                std::sync::Arc::new(
                    sextant_embed::MiniLm::load_default().expect("run scripts/setup-models.sh"),
                )
            })
            .clone();
        let cfg = sextant_conversation::AssistantConfig {
            kb_dir: Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb")),
            ..Default::default()
        };
        state.with_assistant(model, cfg).await.unwrap()
    } else {
        state
    };
    tokio::spawn(sextant_server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    sextant_outbound::install_tls_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (
        App {
            base,
            http,
            db,
            files,
        },
        stream,
    )
}
