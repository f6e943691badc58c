//! The API end to end: the real server on port 0 against a fresh database on each backend.

mod common;

use common::spawn;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sextant_core::Role;
use sextant_testkit::{TestDb, on_both_backends};

async fn health_needs_no_key(db: TestDb) {
    let app = spawn(db).await;
    assert_eq!(
        app.get("/healthz", None).await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let (s, body) = app.get("/readyz", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["status"], "ready");
}

async fn auth_matrix(db: TestDb) {
    let app = spawn(db).await;
    let admin = app.key(Role::Admin, None).await;
    let analyst = app.key(Role::Analyst, None).await;
    let reviewer = app.key(Role::Reviewer, None).await;
    let app_key = app.key(Role::App, None).await;
    let own = app.key(Role::Customer, Some("1")).await;
    let revoked = app.key(Role::Admin, None).await;
    let revoked_id = revoked.split('_').nth(1).unwrap().to_string();
    assert!(app.db.store.revoke_api_key(&revoked_id, 1).await.unwrap());
    let forged = format!("{}{}", &admin[..admin.len() - 4], "0000");

    let reads = [
        "/v1/customers",
        "/v1/customers/1",
        "/v1/customers/1/accounts",
        "/v1/customers/1/transactions",
        "/v1/products",
        "/openapi.json",
    ];
    for path in reads {
        let (s, body) = app.get(path, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} without a key");
        if path != "/openapi.json" {
            assert_eq!(body["status"], 401);
            assert_eq!(body["type"], "https://sextant.dev/problems/unauthorized");
        }
        for bad in [forged.as_str(), "nonsense", revoked.as_str()] {
            assert_eq!(
                app.get(path, Some(bad)).await.0,
                StatusCode::UNAUTHORIZED,
                "{path} with a bad key"
            );
        }
        for staff in [&admin, &analyst, &reviewer, &app_key] {
            assert_eq!(
                app.get(path, Some(staff)).await.0,
                StatusCode::OK,
                "{path} as staff"
            );
        }
    }
    // A customer key sees its own customer and the catalog, nothing else.
    for (path, expect) in [
        ("/v1/customers/1", StatusCode::OK),
        ("/v1/customers/1/transactions", StatusCode::OK),
        ("/v1/customers/1/accounts", StatusCode::OK),
        ("/v1/products", StatusCode::OK),
        ("/v1/customers", StatusCode::FORBIDDEN),
        ("/v1/customers/2", StatusCode::FORBIDDEN),
        ("/v1/customers/2/transactions", StatusCode::FORBIDDEN),
        ("/v1/customers/2/accounts", StatusCode::FORBIDDEN),
        ("/v1/customers/999", StatusCode::FORBIDDEN),
        ("/v1/imports", StatusCode::FORBIDDEN),
    ] {
        assert_eq!(
            app.get(path, Some(&own)).await.0,
            expect,
            "{path} as customer 1"
        );
    }
    let (_, body) = app.get("/v1/customers/2", Some(&own)).await;
    assert_eq!(body["detail"], "this key may only read its own customer");
    // Writes: admin and app only.
    let batch = json!({"transactions": [{"transaction_id": "w1", "customer_id": "2", "account_id": "a2",
        "timestamp": "2026-02-01T09:00:00Z", "amount_minor": -500, "currency": "EUR", "category": "groceries",
        "channel": "card_present", "country": "DE"}]});
    for (key, expect) in [
        (&analyst, 403),
        (&reviewer, 403),
        (&own, 403),
        (&app_key, 201),
        (&admin, 201),
    ] {
        assert_eq!(
            app.post("/v1/transactions", key, None, &batch)
                .await
                .status()
                .as_u16(),
            expect
        );
    }
    assert_eq!(
        app.get("/v1/imports", Some(&analyst)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/customers/999", Some(&admin)).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, body) = app.get("/v1/nowhere", Some(&admin)).await;
    assert_eq!(
        (s, body["status"].clone()),
        (StatusCode::NOT_FOUND, json!(404))
    );
}

async fn transaction_batches_are_validated_and_idempotent(db: TestDb) {
    let app = spawn(db).await;
    let key = app.key(Role::App, None).await;
    let row = |id: &str, amount: Value| {
        json!({"transaction_id": id, "customer_id": "2", "account_id": "a2", "timestamp": "2026-02-01T09:00:00Z",
               "amount_minor": amount, "currency": "EUR", "merchant": "Aral", "category": "fuel", "mcc": "5541",
               "channel": "card_present", "country": "DE"})
    };
    let batch = json!({"transactions": [row("n1", json!(-4200)), row("n2", json!(-1000))]});
    let first = app
        .post("/v1/transactions", &key, Some("abc-1"), &batch)
        .await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        (first["written"].clone(), first["new"].clone()),
        (json!(2), json!(2))
    );
    let replay = app
        .post("/v1/transactions", &key, Some("abc-1"), &batch)
        .await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    let other = json!({"transactions": [row("n3", json!(-1))]});
    let reused = app
        .post("/v1/transactions", &key, Some("abc-1"), &other)
        .await;
    assert_eq!(reused.status(), 422);
    // Without a key the same rows are still idempotent by transaction id.
    let again: Value = app
        .post("/v1/transactions", &key, None, &batch)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (again["written"].clone(), again["new"].clone()),
        (json!(2), json!(0))
    );

    let bad = json!({"transactions": [row("b1", json!(-1)), row("b2", json!("12x")), {"transaction_id": "b3", "colour": 1}]});
    let resp = app.post("/v1/transactions", &key, None, &bad).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["errors"],
        json!([{"field": "transactions[1].amount_minor", "reason": "'12x' is not an integer"},
               {"field": "transactions[2].colour", "reason": "unknown field"}])
    );
    let mut orphan = row("o1", json!(-1));
    orphan["account_id"] = json!("a1");
    let resp = app
        .post(
            "/v1/transactions",
            &key,
            None,
            &json!({"transactions": [row("o0", json!(-1)), orphan]}),
        )
        .await;
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "transactions[1].account_id");
    assert_eq!(
        body["errors"][0]["reason"],
        "account 'a1' does not exist for customer '2'"
    );
    let too_many = json!({"transactions": (0..11).map(|i| row(&format!("m{i}"), json!(-1))).collect::<Vec<_>>()});
    assert_eq!(
        app.post("/v1/transactions", &key, None, &too_many)
            .await
            .status(),
        422
    );
    let raw = app
        .http
        .post(format!("{}/v1/transactions", app.base))
        .bearer_auth(&key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    // Only n1, n2 were ever written for customer 2.
    let (_, page) = app.get("/v1/customers/2/transactions", Some(&key)).await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["n2", "n1"]);
    // Every accepted write is in the audit log, and the chain verifies.
    let audit = app.db.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "transactions.write")
            .count(),
        2
    );
    sextant_core::audit::verify_chain(&audit).unwrap();
}

async fn cursor_pagination(db: TestDb) {
    let app = spawn(db).await;
    let key = app.key(Role::Analyst, None).await;
    let mut ids = Vec::new();
    let mut path = "/v1/customers?limit=2".to_string();
    loop {
        let (s, page) = app.get(&path, Some(&key)).await;
        assert_eq!(s, StatusCode::OK);
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/customers?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(ids, ["1", "2", "3"]);
    let mut tx = Vec::new();
    let mut path = "/v1/customers/1/transactions?limit=2".to_string();
    loop {
        let (_, page) = app.get(&path, Some(&key)).await;
        tx.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/customers/1/transactions?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(tx, ["t4", "t3", "t2", "t1", "t0"]);
    let (s, body) = app.get("/v1/customers?limit=0", Some(&key)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "limit");
    let (s, body) = app.get("/v1/customers?cursor=zz", Some(&key)).await;
    assert_eq!(
        (s, body["errors"][0]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("cursor"))
    );
}

async fn docs_and_openapi(db: TestDb) {
    let app = spawn(db).await;
    let key = app.key(Role::Analyst, None).await;
    let (s, spec) = app.get("/openapi.json", Some(&key)).await;
    assert_eq!(s, StatusCode::OK);
    for p in [
        "/v1/customers",
        "/v1/customers/{id}",
        "/v1/customers/{id}/transactions",
        "/v1/transactions",
        "/v1/products",
        "/healthz",
    ] {
        assert!(
            spec["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }
    assert!(spec["components"]["securitySchemes"]["api_key"].is_object());
    // A browser without a session is sent to the login form; with one it gets Swagger UI.
    let resp = app
        .http
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/login?next=/docs/");
    let login = app
        .http
        .post(format!("{}/login", app.base))
        .form(&[("key", key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let session = cookie.split(';').next().unwrap();
    let page = app
        .http
        .get(format!("{}/docs/", app.base))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("swagger"));
    let bad = app
        .http
        .post(format!("{}/login", app.base))
        .form(&[("key", "sx_nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
}

/// Many requests at once with a key not verified yet (one argon2 verification serves them
/// all): every good key is let in, every forged one is refused.
async fn concurrent_first_use_of_a_key(db: TestDb) {
    let app = spawn(db).await;
    let key = app.key(Role::Analyst, None).await;
    let last = if key.ends_with('0') { "1" } else { "0" };
    let forged = format!("{}{last}", &key[..key.len() - 1]);
    let calls = (0..24).map(|i| {
        let k = if i % 3 == 2 {
            forged.clone()
        } else {
            key.clone()
        };
        let app = &app;
        async move {
            (
                i % 3 == 2,
                app.get("/v1/customers?limit=1", Some(&k)).await.0,
            )
        }
    });
    for (is_forged, status) in futures_util::future::join_all(calls).await {
        let want = if is_forged {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        assert_eq!(status, want);
    }
}

/// PostgreSQL dropping the connection in the middle of a request (here: the server backend is
/// terminated while the query waits for a lock) is back-pressure, not a bug: 503 with
/// `Retry-After`, nothing written, and the client's retry — same `Idempotency-Key` — succeeds
/// once the pool has replaced the dead connection. Reads answer the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dropped_mid_request_is_503_and_the_retry_writes_once() {
    let name = format!(
        "sx_drop_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let db = sextant_testkit::fresh_postgres_named(&name).await;
    let schema = db.schema.clone().expect("postgres");
    let app = spawn(db).await;
    let key = app.key(Role::App, None).await;
    let admin = sextant_testkit::pg_client().await;
    let row = json!({"transaction_id": "drop-1", "customer_id": "2", "account_id": "a2",
        "timestamp": "2026-02-01T09:00:00Z", "amount_minor": -4200, "currency": "EUR",
        "merchant": "Aral", "category": "fuel", "channel": "card_present", "country": "DE"});
    let batch = json!({"transactions": [row]});

    // Terminate the store's backend once it waits on the lock `admin` holds on the ledger.
    let terminate_waiting = async || {
        let start = std::time::Instant::now();
        loop {
            let rows = admin
                .query(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
                    &[&name],
                )
                .await
                .unwrap();
            if let Some(r) = rows.first() {
                let pid: i32 = r.get(0);
                admin
                    .query("SELECT pg_terminate_backend($1)", &[&pid])
                    .await
                    .unwrap();
                return;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "the request never waited on the lock"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let lock = format!("BEGIN; LOCK TABLE {schema}.transactions IN ACCESS EXCLUSIVE MODE");

    admin.batch_execute(&lock).await.unwrap();
    let write = tokio::spawn(
        app.http
            .post(format!("{}/v1/transactions", app.base))
            .bearer_auth(&key)
            .header("Idempotency-Key", "drop-batch-1")
            .json(&batch)
            .send(),
    );
    terminate_waiting().await;
    let resp = write.await.unwrap().unwrap();
    assert_eq!(resp.status(), 503, "{:?}", resp.text().await);
    assert_eq!(resp.headers()["retry-after"], "1");
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(problem["status"], 503, "{problem}");
    admin.batch_execute("ROLLBACK").await.unwrap();

    // The client honours Retry-After (the pool notices the dead connection meanwhile).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let retry = app
        .post("/v1/transactions", &key, Some("drop-batch-1"), &batch)
        .await;
    assert_eq!(retry.status(), 201);
    let retry: Value = retry.json().await.unwrap();
    assert_eq!((&retry["written"], &retry["new"]), (&json!(1), &json!(1)));

    admin.batch_execute(&lock).await.unwrap();
    let read = tokio::spawn(
        app.http
            .get(format!("{}/v1/customers/2/transactions", app.base))
            .bearer_auth(&key)
            .send(),
    );
    terminate_waiting().await;
    let resp = read.await.unwrap().unwrap();
    assert_eq!(resp.status(), 503, "{:?}", resp.text().await);
    admin.batch_execute("ROLLBACK").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let (status, page) = app.get("/v1/customers/2/transactions", Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let ids: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .filter(|id| *id == "drop-1")
        .collect();
    assert_eq!(ids, ["drop-1"], "{page}");
}

on_both_backends!(
    concurrent_first_use_of_a_key,
    health_needs_no_key,
    auth_matrix,
    transaction_batches_are_validated_and_idempotent,
    cursor_pagination,
    docs_and_openapi,
);
