//! Next best actions through the API on both backends: the marketing-consent guardrail, offers
//! with their reasons and regulator detail, suitability, customer scoping, feedback changing the
//! next answer (idempotently, also when it arrives as a stream event), credit offers held for a human and delivered once approved, and
//! every decision covered by an audit entry.

mod common;

use common::{spawn, spawn_streaming};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sextant_core::Role;
use sextant_ingest::{ImportOptions, import_file};
use sextant_store::RecordKind;
use sextant_testkit::{TestDb, on_both_backends};

/// The fixture's three customers plus the demo catalog (the products file of a tiny generated
/// bank).
async fn app_with_catalog(db: TestDb) -> common::App {
    let app = spawn(db).await;
    import_catalog(&app).await;
    app
}

async fn import_catalog(app: &common::App) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sextant_synth::Config {
        customers: 2,
        months: 1,
        seed: 1,
        ..Default::default()
    };
    sextant_synth::generate(&cfg, dir.path(), &|_| {}).unwrap();
    import_file(
        app.db.store.as_ref(),
        RecordKind::Products,
        &dir.path().join("products.csv"),
        &ImportOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
}

async fn consent(app: &common::App, admin: &str, id: &str, purposes: &[(&str, bool)]) {
    let map: serde_json::Map<String, Value> = purposes
        .iter()
        .map(|(p, g)| (p.to_string(), Value::Bool(*g)))
        .collect();
    let body = json!({ "consents": map });
    let (s, v) = app
        .send(
            Method::PUT,
            &format!("/v1/customers/{id}/consents"),
            admin,
            Some(&body),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

fn products(v: &Value) -> Vec<String> {
    v["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["product_id"].as_str().unwrap().to_string())
        .collect()
}

fn blocked_by(v: &Value, product: &str) -> Option<String> {
    v["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["product_id"] == product)
        .map(|b| b["guardrail"].as_str().unwrap().to_string())
}

async fn recommendations_are_guarded_explained_learned_reviewed_and_audited(db: TestDb) {
    let app = app_with_catalog(db).await;
    let admin = app.key(Role::Admin, None).await;
    let app_key = app.key(Role::App, None).await;
    let reviewer = app.key(Role::Reviewer, None).await;
    let url = "/v1/customers/1/recommendations?channel=app&limit=3";

    // No marketing consent: nothing is offered, and every candidate says why.
    let (s, v) = app.get(url, Some(&app_key)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(products(&v).is_empty(), "{v}");
    let blocked = v["blocked"].as_array().unwrap();
    assert!(!blocked.is_empty());
    assert!(
        blocked.iter().all(|b| b["guardrail"] == "consent"
            || b["guardrail"] == "already_held"
            || b["guardrail"] == "eligibility"
            || b["guardrail"] == "suitability"
            || b["guardrail"] == "affordability"),
        "{v}"
    );
    assert!(blocked.iter().any(
        |b| b["guardrail"] == "consent" && b["reason"].as_str().unwrap().contains("marketing")
    ));

    // With marketing consent (but not automated decisions): offers, each a decision with its
    // reasons; credit offers wait for a human.
    consent(
        &app,
        &admin,
        "1",
        &[("marketing", true), ("profiling", true)],
    )
    .await;
    let (s, v) = app.get(url, Some(&app_key)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let shown = v["recommendations"].as_array().unwrap().clone();
    assert!(!shown.is_empty(), "{v}");
    assert!(shown.len() <= 3);
    let mut families = std::collections::HashSet::new();
    for r in &shown {
        assert!(r["decision_id"].as_str().unwrap().starts_with("dec_"));
        assert!(r["score"].as_f64().unwrap() > 0.0);
        let c = r["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c));
        assert!(!r["explanation"].as_str().unwrap().is_empty());
        assert!(!r["reasons"].as_array().unwrap().is_empty());
        assert!(!r["detail"]["rules_passed"].as_array().unwrap().is_empty());
        assert!(
            families.insert(r["family"].as_str().unwrap().to_string()),
            "one per family: {v}"
        );
        assert!(
            !["credit_card", "personal_loan", "mortgage", "auto_loan"]
                .contains(&r["family"].as_str().unwrap()),
            "credit offers need automated-decision consent or a human: {v}"
        );
    }
    // Customer 1 is a low-risk investor: never a high-risk investment.
    assert!(!products(&v).contains(&"P-INV-HIGH".to_string()));
    if let Some(g) = blocked_by(&v, "P-INV-HIGH") {
        assert_eq!(g, "suitability");
    }
    let held = v["held_for_review"].as_array().unwrap().clone();
    assert!(!held.is_empty(), "credit offers are held for review: {v}");
    // Nobody can give feedback on an offer the customer never saw.
    let (s, p) = app
        .send(
            Method::POST,
            "/v1/feedback",
            &app_key,
            Some(&json!({"decision_id": held[0]["decision_id"], "kind": "accept"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");

    // Every decision is covered by an audit entry.
    let (_, audit) = app.get("/v1/audit?limit=500", Some(&admin)).await;
    let audited: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "decision.recommend")
        .flat_map(|e| {
            let d = &e["details"];
            d["shown"]
                .as_array()
                .unwrap()
                .iter()
                .chain(d["held_for_review"].as_array().unwrap())
                .map(|x| x.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    for r in shown.iter().chain(held.iter()) {
        assert!(
            audited.contains(&r["decision_id"].as_str().unwrap().to_string()),
            "decision {} has no audit entry",
            r["decision_id"]
        );
    }

    // Customer keys: their own offers without the regulator detail; nobody else's.
    let own = app.key(Role::Customer, Some("1")).await;
    let (s, mine) = app.get(url, Some(&own)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(mine.get("blocked").is_none());
    assert!(mine["recommendations"][0].get("detail").is_none());
    let (s, _) = app.get("/v1/customers/2/recommendations", Some(&own)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Feedback: a dismiss is applied once, and the product is not offered again.
    let first = &shown[0];
    let product = first["product_id"].as_str().unwrap().to_string();
    let fb = json!({"event_id": "fb-1", "decision_id": first["decision_id"], "kind": "dismiss"});
    let (s, r) = app
        .send(Method::POST, "/v1/feedback", &app_key, Some(&fb))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["applied"], true);
    let (s, r) = app
        .send(Method::POST, "/v1/feedback", &app_key, Some(&fb))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        r["applied"], false,
        "the same event id twice changes nothing"
    );
    let (_, arms) = app.get("/v1/recommendations/arms", Some(&admin)).await;
    let arm = arms["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["arm"] == product.as_str())
        .unwrap_or_else(|| panic!("{arms}"))
        .clone();
    assert_eq!(arm["pulls"], 1);
    assert_eq!(arm["dismisses"], 1);
    let (_, v2) = app.get(url, Some(&app_key)).await;
    assert!(!products(&v2).contains(&product), "{v2}");
    // Reached by the ranking or not, it is never offered; when reached, the guardrail says why.
    if let Some(g) = blocked_by(&v2, &product) {
        assert_eq!(g, "not_interested", "{v2}");
    }

    // Bad feedback and bad parameters are named.
    for (body, field) in [
        (json!({"decision_id": "dec_nope", "kind": "dismiss"}), None),
        (
            json!({"decision_id": first["decision_id"], "kind": "love"}),
            Some("kind"),
        ),
        (
            json!({"decision_id": first["decision_id"], "kind": "accept", "timestamp": "yesterday"}),
            Some("timestamp"),
        ),
    ] {
        let (s, p) = app
            .send(Method::POST, "/v1/feedback", &app_key, Some(&body))
            .await;
        match field {
            None => assert_eq!(s, StatusCode::NOT_FOUND, "{p}"),
            Some(f) => {
                assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
                assert_eq!(p["errors"][0]["field"], f, "{p}");
            }
        }
    }
    let (s, p) = app
        .get("/v1/customers/1/recommendations?limit=0", Some(&app_key))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["errors"][0]["field"], "limit");
    let (s, p) = app
        .get(
            "/v1/customers/1/recommendations?channel=fax",
            Some(&app_key),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["errors"][0]["field"], "channel");

    // The review queue: reviewers only; approve one case, reject another.
    let (s, _) = app.get("/v1/reviews", Some(&app_key)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, q) = app.get("/v1/reviews?status=pending", Some(&reviewer)).await;
    assert_eq!(s, StatusCode::OK, "{q}");
    let cases = q["reviews"].as_array().unwrap().clone();
    assert!(cases.len() >= 2, "{q}");
    let case = &cases[0];
    let (s, full) = app
        .get(
            &format!("/v1/reviews/{}", case["id"].as_str().unwrap()),
            Some(&reviewer),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        full["decision"]["payload"]["recommendation"]["explanation"].is_string(),
        "{full}"
    );
    let approved_product = full["decision"]["payload"]["recommendation"]["product_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/reviews/{}", case["id"].as_str().unwrap());
    let (s, r) = app
        .send(
            Method::POST,
            &path,
            &reviewer,
            Some(&json!({"outcome": "approve"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "approved");
    let (s, r) = app
        .send(
            Method::POST,
            &path,
            &reviewer,
            Some(&json!({"outcome": "reject", "note": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{r}");
    let (s, r) = app
        .send(
            Method::POST,
            &path,
            &reviewer,
            Some(&json!({"outcome": "reject"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rejection needs a note: {r}"
    );
    // The approved offer is delivered on the next request, once.
    let (_, v3) = app.get(url, Some(&app_key)).await;
    let delivered: Vec<&Value> = v3["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["reviewed"] == true)
        .collect();
    assert_eq!(delivered.len(), 1, "{v3}");
    assert_eq!(delivered[0]["product_id"], approved_product.as_str());
    assert_eq!(delivered[0]["decision_id"], full["decision_id"]);
    let (_, audit) = app.get("/v1/audit?limit=500", Some(&admin)).await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "review.approved" && e["details"]["review_id"] == case["id"]),
        "review outcome audited"
    );
    // An offer waiting for a reviewer is not queued again by later requests.
    let (_, q2) = app.get("/v1/reviews?status=pending", Some(&reviewer)).await;
    let mut pending_products = std::collections::HashSet::new();
    for c in q2["reviews"].as_array().unwrap() {
        let (_, full) = app
            .get(
                &format!("/v1/reviews/{}", c["id"].as_str().unwrap()),
                Some(&reviewer),
            )
            .await;
        let product = full["decision"]["payload"]["recommendation"]["product_id"].clone();
        assert!(
            pending_products.insert(product.to_string()),
            "repeated requests queue {product} once: {q2}"
        );
    }
    {
        let other = &cases[1];
        // Modify: approved with the reviewer's changes, delivered with them.
        let (s, r) = app
            .send(
                Method::POST,
                &format!("/v1/reviews/{}", other["id"].as_str().unwrap()),
                &reviewer,
                Some(&json!({"outcome": "modify", "note": "lower limit", "changes": {"credit_amount": 1500}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "modified");
        let (_, v4) = app.get(url, Some(&app_key)).await;
        let modified = v4["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["decision_id"] == other["decision_id"])
            .unwrap_or_else(|| panic!("{v4}"));
        assert_eq!(modified["reviewer_changes"]["credit_amount"], 1500);
    }
    if let Some(third) = cases.get(2) {
        let (s, r) = app
            .send(
                Method::POST,
                &format!("/v1/reviews/{}", third["id"].as_str().unwrap()),
                &reviewer,
                Some(&json!({"outcome": "reject", "note": "not affordable in my judgement"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "rejected");
    }
    // Resolved cases come back as labels for retraining: approved and modified 1, rejected 0.
    let labels = sextant_intelligence::recommend::review_labels(app.db.store.as_ref())
        .await
        .unwrap();
    let by_id = |id: &Value| {
        labels
            .iter()
            .find(|l| l.review_id == id.as_str().unwrap())
            .unwrap_or_else(|| panic!("no label for {id}: {labels:?}"))
            .clone()
    };
    assert!(by_id(&case["id"]).label);
    assert!(by_id(&cases[1]["id"]).label);
    if let Some(third) = cases.get(2) {
        assert!(!by_id(&third["id"]).label);
    }
    assert!(labels.iter().all(|l| l.context.len() == 8));
    // The audit chain is intact after all of this.
    let entries = app.db.store.audit_entries(0, 100_000).await.unwrap();
    sextant_core::audit::verify_chain(&entries).unwrap();
}

/// Feedback that arrives as a stream event teaches the bandit as `POST /v1/feedback` does —
/// but only about the customer's own recommendation.
async fn streamed_feedback_teaches_the_bandit(db: TestDb) {
    let (app, _stream) = spawn_streaming(db).await;
    import_catalog(&app).await;
    let admin = app.key(Role::Admin, None).await;
    let app_key = app.key(Role::App, None).await;
    consent(
        &app,
        &admin,
        "1",
        &[("marketing", true), ("profiling", true)],
    )
    .await;
    let (s, v) = app
        .get(
            "/v1/customers/1/recommendations?channel=app&limit=3",
            Some(&app_key),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let first = v["recommendations"][0].clone();
    let product = first["product_id"].as_str().expect("an offer").to_string();
    let feedback = |id: &str, customer: &str| {
        json!({ "event_id": id, "type": "feedback", "customer_id": customer,
                "timestamp": "2026-03-01T10:00:00Z", "kind": "dismiss",
                "decision_id": first["decision_id"] })
    };
    // Another customer's event naming this decision comes first: it must change nothing.
    let events = json!({ "events": [feedback("sfb-other", "2"), feedback("sfb-1", "1")] });
    let (s, r) = app
        .send(Method::POST, "/v1/events", &app_key, Some(&events))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["accepted"], 2, "{r}");
    let mut arm = Value::Null;
    for _ in 0..500 {
        let (_, arms) = app.get("/v1/recommendations/arms", Some(&admin)).await;
        if let Some(a) = arms["arms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["arm"] == product.as_str() && a["dismisses"] != 0)
        {
            arm = a.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        arm["dismisses"], 1,
        "applied once, for the customer's own decision: {arm}"
    );
    assert_eq!(arm["pulls"], 1, "{arm}");
    // The same feedback again through the API: already applied (same event id).
    let (s, r) = app
        .send(
            Method::POST,
            "/v1/feedback",
            &app_key,
            Some(&json!({"event_id": "sfb-1", "decision_id": first["decision_id"], "kind": "dismiss"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["applied"], false, "{r}");
}

on_both_backends!(
    recommendations_are_guarded_explained_learned_reviewed_and_audited,
    streamed_feedback_teaches_the_bandit
);
