//! Experiments, KPIs, drift and metrics through the API on both backends: keys and roles on
//! every route, validation errors that name the field, an experiment created, assigned through
//! the recommendation route (with the arm recorded on the decision and the contact channel
//! chosen), analysed and stopped, KPIs, the monitor, and a Prometheus scrape.

mod common;

use common::spawn;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sextant_core::Role;
use sextant_store::RecordKind;
use sextant_testkit::{TestDb, on_both_backends};

async fn experiments_kpis_monitor_and_metrics(db: TestDb) {
    let app = spawn(db).await;
    let _dir = sextant_testkit::import_generated(
        app.db.store.as_ref(),
        2,
        1,
        1,
        &[(RecordKind::Products, "products.csv")],
    )
    .await;
    let admin = app.key(Role::Admin, None).await;
    let analyst = app.key(Role::Analyst, None).await;
    let customer = app.key(Role::Customer, Some("1")).await;

    // No key, wrong role.
    for path in ["/v1/experiments", "/v1/kpis", "/v1/monitor", "/metrics"] {
        let s = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
        let (s, _) = app.send(Method::GET, path, &customer, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }

    // Validation names the fields.
    let bad = json!({"id": "Bad Id", "name": "x", "kind": "strategy",
        "arms": [{"name": "a", "weight": 0}, {"name": "b", "weight": 1, "config": {"colour": "red"}}]});
    let (s, v) = app
        .send(Method::POST, "/v1/experiments", &analyst, Some(&bad))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"id") && fields.contains(&"arms[0].weight"),
        "{v}"
    );
    let (s, _) = app
        .send(
            Method::POST,
            "/v1/experiments",
            &analyst,
            Some(&json!({"id": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Everyone in one arm that prescribes the channel and the message.
    let spec = json!({"id": "msg", "name": "Message test", "kind": "message",
        "arms": [{"name": "plain", "weight": 1e-9, "config": {"message": "{product}: {reason}"}},
                 {"name": "friendly", "weight": 1, "config": {"message": "Good news — {product} could suit you", "channel": "email"}}]});
    let (s, v) = app
        .send(Method::POST, "/v1/experiments", &analyst, Some(&spec))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "running");
    let (s, _) = app
        .send(Method::POST, "/v1/experiments", &analyst, Some(&spec))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    let (s, _) = app
        .send(
            Method::PUT,
            "/v1/customers/1/consents",
            &admin,
            Some(&json!({"consents": {"marketing": true, "profiling": true}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .send(
            Method::GET,
            "/v1/customers/1/recommendations?limit=2",
            &admin,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let recs = v["recommendations"].as_array().unwrap();
    assert!(!recs.is_empty(), "{v}");
    for r in recs {
        assert!(
            r["explanation"]
                .as_str()
                .unwrap()
                .starts_with("Good news — "),
            "{r}"
        );
        assert_eq!(r["contact"]["channel"], "email", "{r}");
    }
    let (_, e) = app
        .send(Method::GET, "/v1/experiments/msg", &analyst, None)
        .await;
    assert_eq!(e["exposures"]["friendly"], 1, "{e}");
    let (s, a) = app
        .send(Method::GET, "/v1/experiments/msg/analysis", &analyst, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["data"][1]["exposures"], 1);
    assert!(!a["analysis"]["warnings"].as_array().unwrap().is_empty());
    let (s, _) = app
        .send(Method::GET, "/v1/experiments/nope/analysis", &analyst, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Contact preferences: validated, customer-settable, used by the orchestrator.
    let (s, v) = app
        .send(
            Method::PUT,
            "/v1/customers/1/contact-preferences",
            &customer,
            Some(&json!({"preferred": ["sms", "sms"], "opted_out": ["sms"], "utc_offset_minutes": 2000})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"].as_array().unwrap().len(), 4, "{v}");
    let (s, _) = app
        .send(
            Method::PUT,
            "/v1/customers/2/contact-preferences",
            &customer,
            Some(&json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "another customer's");
    let (s, v) = app
        .send(
            Method::PUT,
            "/v1/customers/1/contact-preferences",
            &customer,
            Some(&json!({"preferred": ["in_app"], "opted_out": ["app_push", "email"], "utc_offset_minutes": 60})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = app
        .send(
            Method::GET,
            "/v1/customers/1/contact-preferences",
            &admin,
            None,
        )
        .await;
    assert_eq!(v["opted_out"], json!(["app_push", "email"]));

    // Stopped: the orchestrator picks the channel again, with its reason.
    let (s, v) = app
        .send(Method::POST, "/v1/experiments/msg/stop", &analyst, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "stopped");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, v) = app
        .send(
            Method::GET,
            "/v1/customers/1/recommendations?limit=1",
            &admin,
            None,
        )
        .await;
    let r = &v["recommendations"][0];
    assert!(!r["explanation"].as_str().unwrap().starts_with("Good news"));
    assert!(r["contact"]["reason"].as_str().unwrap().len() > 10, "{r}");
    assert!(
        r["contact"]["considered"].as_array().unwrap().len() == 5,
        "{r}"
    );
    assert_eq!(
        r["contact"]["channel"], "in_app",
        "the stated preference: {r}"
    );
    let email = r["contact"]["considered"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "email")
        .unwrap();
    assert_eq!(email["eligible"], false, "{email}");
    let (_, list) = app
        .send(Method::GET, "/v1/experiments", &analyst, None)
        .await;
    assert_eq!(list["items"][0]["id"], "msg");

    // KPIs and the monitor answer (nothing promoted yet: no models).
    let (s, k) = app.send(Method::GET, "/v1/kpis", &analyst, None).await;
    assert_eq!(s, StatusCode::OK, "{k}");
    assert_eq!(k["rows"][0]["group"], "all");
    assert!(k["definitions"]["engagement_score"].is_string());
    let (s, _) = app
        .send(Method::GET, "/v1/kpis?group_by=colour", &analyst, None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .send(Method::GET, "/v1/kpis?group_by=arm", &analyst, None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, k) = app
        .send(
            Method::GET,
            "/v1/kpis?group_by=arm&experiment=msg",
            &analyst,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{k}");
    assert_eq!(k["rows"][0]["group"], "friendly");
    let (s, m) = app.send(Method::GET, "/v1/monitor", &analyst, None).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert!(m["models"].as_array().unwrap().is_empty());

    // The scrape: OpenMetrics text with the request histogram under route templates only.
    let resp = app
        .http
        .get(format!("{}/metrics", app.base))
        .bearer_auth(&analyst)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("sextant_http_request_duration_seconds_bucket{")
            && text.contains("route=\"/v1/customers/{id}/recommendations\""),
        "{text}"
    );
    assert!(
        !text.contains("/v1/customers/1/"),
        "ids never become labels"
    );
    assert!(text.contains("sextant_experiments_running 0"), "{text}");
    assert!(
        text.contains("sextant_model_promoted_version{model=\"churn\"} 0"),
        "{text}"
    );
    assert!(text.contains("# EOF"));
}

on_both_backends!(experiments_kpis_monitor_and_metrics);
