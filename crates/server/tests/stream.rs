//! The event stream through the API on both backends: keys and roles, validation with named
//! fields, live alerts over Server-Sent Events, stored alerts scoped to the customer's own key,
//! fraud held for a human, consent deciding which alerts exist, live windows, and erasure — in
//! NATS mode including the customer's events retained by JetStream.

mod common;

use common::{spawn_nats, spawn_streaming};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sextant_core::Role;
use sextant_testkit::{TestDb, on_both_backends};
use std::time::Duration;

fn tx(id: &str, c: &str, minute: i64, amount: i64, category: &str) -> Value {
    let ts = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap()
        + chrono::Duration::minutes(minute * 30);
    json!({
        "event_id": id, "type": "transaction", "customer_id": c, "timestamp": ts.to_rfc3339(),
        "transaction_id": format!("t-{id}"), "account_id": "a1", "amount_minor": amount,
        "currency": "EUR", "merchant": "Rewe", "category": category, "channel": "card_present",
        "country": "DE", "status": "approved",
    })
}

/// POST a batch of events; they must be accepted (202). The submission report.
async fn post_events(app: &common::App, key: &str, events: Vec<Value>) -> Value {
    let (s, v) = app
        .send(
            Method::POST,
            "/v1/events",
            key,
            Some(&json!({ "events": events })),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v
}

async fn next_sse_alert(resp: &mut reqwest::Response, buf: &mut String) -> Value {
    loop {
        if let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if let Some(line) = frame.lines().find(|l| l.starts_with("data:"))
                && frame.contains("event: alert")
            {
                return serde_json::from_str(line.trim_start_matches("data:").trim()).unwrap();
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("an SSE frame in time")
            .unwrap()
            .expect("stream open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn events_become_scoped_consented_alerts(db: TestDb) {
    let (app, stream) = spawn_streaming(db).await;
    let admin = app.key(Role::Admin, None).await;
    let analyst = app.key(Role::Analyst, None).await;
    let own = app.key(Role::Customer, Some("1")).await;
    let other = app.key(Role::Customer, Some("2")).await;

    let body = json!({ "events": [tx("x", "1", 0, -100, "groceries")] });
    let (s, _) = app
        .send(Method::POST, "/v1/events", &analyst, Some(&body))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "analysts read, they do not write");
    let (s, _) = app
        .send(Method::POST, "/v1/events", &own, Some(&body))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let resp = app
        .http
        .post(format!("{}/v1/events", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (s, v) = app
        .send(
            Method::POST,
            "/v1/events",
            &admin,
            Some(&json!({"events": "no"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // Live subscribers first.
    let mut sse = app
        .http
        .get(format!("{}/v1/alerts/stream", app.base))
        .bearer_auth(&analyst)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), StatusCode::OK);
    let mut buf = String::new();

    let mut events: Vec<Value> = (0..12)
        .map(|i| tx(&format!("h{i}"), "1", i, -(2_000 + 10 * i), "groceries"))
        .collect();
    events.push(tx("big", "1", 12, -150_000, "groceries"));
    let mut bad = tx("bad", "1", 13, -1, "groceries");
    bad["country"] = json!("Germany");
    events.push(bad);
    let v = post_events(&app, &admin, events).await;
    assert_eq!(v["accepted"], 13);
    assert_eq!(v["rejected"][0]["index"], 13);
    assert_eq!(v["rejected"][0]["field"], "country");

    let alert = next_sse_alert(&mut sse, &mut buf).await;
    assert_eq!(alert["rule"], "large_vs_baseline");
    assert_eq!(alert["customer_id"], "1");
    let id = alert["id"].as_str().unwrap().to_string();
    assert!(
        alert["reason"].as_str().unwrap().contains("1,500.00"),
        "{alert}"
    );

    // Stored, and scoped.
    let (s, v) = app.get("/v1/alerts?customer_id=1", Some(&analyst)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["alerts"][0]["id"], id.as_str());
    let (s, v) = app.get(&format!("/v1/alerts/{id}"), Some(&own)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        v.get("events").is_none(),
        "internal event ids stay with the bank"
    );
    let (s, _) = app.get(&format!("/v1/alerts/{id}"), Some(&other)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = app.get("/v1/alerts", Some(&other)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["alerts"].as_array().unwrap().len(), 0);
    let (s, _) = app.get("/v1/alerts?customer_id=1", Some(&other)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Held for a human, with the alert as the reason.
    let (s, v) = app.get("/v1/reviews?status=pending", Some(&admin)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        v.to_string().contains(&id),
        "the fraud alert opened a review case: {v}"
    );

    // Consent decides which alerts exist: a salary nudge needs marketing consent.
    let salary = |id: &str, c: &str| {
        let mut e = tx(id, c, 20, 300_000, "salary");
        e["merchant"] = json!("Employer");
        e["channel"] = json!("transfer");
        e
    };
    let before = stream.status().suppressed_by_consent;
    let (s, _) = app
        .send(
            Method::POST,
            "/v1/events",
            &admin,
            Some(&json!({"events": [salary("s2", "2")]})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = app
        .send(
            Method::PUT,
            "/v1/customers/3/consents",
            &admin,
            Some(&json!({"consents": {"marketing": true, "personalization": true}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .send(
            Method::POST,
            "/v1/events",
            &admin,
            Some(&json!({"events": [salary("s3", "3")]})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let nudge = next_sse_alert(&mut sse, &mut buf).await;
    assert_eq!(nudge["rule"], "salary_nudge");
    assert_eq!(
        nudge["customer_id"], "3",
        "customer 2 has no marketing consent"
    );
    assert_eq!(stream.status().suppressed_by_consent, before + 1);

    // Live windows: a profile, so only with profiling consent.
    let (s, v) = app.get("/v1/customers/1/stream", Some(&own)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(v.to_string().contains("profiling"), "{v}");
    let (s, _) = app
        .send(
            Method::PUT,
            "/v1/customers/1/consents",
            &admin,
            Some(&json!({"consents": {"profiling": true}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app.get("/v1/customers/1/stream", Some(&own)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v.to_string().contains("\"count\":13"), "{v}");
    let (s, v) = app.get("/v1/stream/status", Some(&analyst)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["mode"], "embedded");
    let (s, v) = app.get("/v1/dead-letters", Some(&admin)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["dead_letters"].as_array().unwrap().len(), 1);

    // Erasure removes the alerts and the live state.
    let (s, _) = app
        .send(Method::DELETE, "/v1/customers/1", &admin, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app.get("/v1/alerts?customer_id=1", Some(&analyst)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["alerts"].as_array().unwrap().len(), 0);
    let (s, _) = app.get("/v1/customers/1/stream", Some(&analyst)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

on_both_backends!(events_become_scoped_consented_alerts);

/// NATS mode through the API: an erasure deletes the customer's events still retained by the
/// JetStream stream (reported as `stream_messages`) and leaves another customer's; a retry finds
/// nothing left and answers 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_in_nats_mode_deletes_the_customers_stream_events() {
    let db = sextant_testkit::fresh(sextant_testkit::Kind::Postgres).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let bus = std::sync::Arc::new(
        sextant_bus::Bus::connect(sextant_bus::BusConfig {
            stream: format!("SRV_{run}"),
            subject_prefix: format!("srv{run}.events"),
            partitions: 2,
            ..Default::default()
        })
        .await
        .unwrap(),
    );
    let (app, stream) = spawn_nats(db, bus.clone()).await;
    let admin = app.key(Role::Admin, None).await;
    let mut events: Vec<Value> = (0..3)
        .map(|i| tx(&format!("e1-{i}"), "1", i, -1_000, "groceries"))
        .collect();
    let mut theirs = tx("e2-0", "2", 0, -1_000, "groceries");
    theirs["account_id"] = json!("a2");
    events.push(theirs);
    let v = post_events(&app, &admin, events).await;
    assert_eq!(v["accepted"], 4, "{v}");
    for _ in 0..400 {
        if stream.status().processed == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(stream.status().processed, 4);
    let p2 = sextant_stream::partition_of("2", 2);
    let last2 = bus.last_seq(p2).await.unwrap();

    let (s, v) = app
        .send(Method::DELETE, "/v1/customers/1", &admin, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["deleted"]["stream_messages"], 3, "{v}");
    assert_eq!(v["deleted"]["customers"], 1, "{v}");
    assert_eq!(
        bus.last_seq(p2).await.unwrap(),
        last2,
        "customer 2's event stays"
    );
    let p1 = sextant_stream::partition_of("1", 2);
    let is_1 = |p: &[u8]| serde_json::from_slice::<Value>(p).unwrap()["customer_id"] == "1";
    assert_eq!(
        bus.erase_messages(p1, is_1).await.unwrap(),
        0,
        "none of 1's left"
    );
    assert_eq!(
        app.send(Method::DELETE, "/v1/customers/1", &admin, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    bus.delete_stream().await.unwrap();
}
