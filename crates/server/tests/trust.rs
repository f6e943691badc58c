//! The trust layer through the API on both backends: consent changes with history, do-not-sell,
//! export, rectification, and erasure that leaves no PII in the database files or tables.

mod common;

use common::{master, spawn};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sextant_core::{CustomerId, Role};
use sextant_ingest::{ImportOptions, import_file};
use sextant_store::RecordKind;
use sextant_testkit::{TestDb, on_both_backends};

async fn consent_changes_take_effect_with_history_and_audit(db: TestDb) {
    let app = spawn(db).await;
    let own = app.key(Role::Customer, Some("1")).await;
    let analyst = app.key(Role::Analyst, None).await;
    let admin = app.key(Role::Admin, None).await;

    let (s, v) = app.get("/v1/customers/1/consents", Some(&own)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["current"]["marketing"], false,
        "opt-in: nothing granted by default"
    );

    let change = json!({"consents": {"marketing": true, "profiling": true}});
    let (s, v) = app
        .send(Method::PUT, "/v1/customers/1/consents", &own, Some(&change))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            v["current"]["marketing"].clone(),
            v["current"]["profiling"].clone()
        ),
        (json!(true), json!(true))
    );
    let withdraw = json!({"consents": {"marketing": false}});
    let (_, v) = app
        .send(
            Method::PUT,
            "/v1/customers/1/consents",
            &admin,
            Some(&withdraw),
        )
        .await;
    assert_eq!(
        v["current"]["marketing"], false,
        "the latest change wins at once"
    );
    let history = v["history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[0]["source"], "customer");
    assert!(history[2]["source"].as_str().unwrap().starts_with("admin:"));

    // Who may change what.
    assert_eq!(
        app.send(Method::PUT, "/v1/customers/2/consents", &own, Some(&change))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.send(
            Method::PUT,
            "/v1/customers/1/consents",
            &analyst,
            Some(&change)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/v1/customers/1/consents", Some(&analyst)).await.0,
        StatusCode::OK
    );
    let (s, v) = app
        .send(
            Method::PUT,
            "/v1/customers/1/consents",
            &own,
            Some(&json!({"consents": {"spam": true, "marketing": "yes"}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["consents.marketing", "consents.spam"]);
    assert_eq!(
        app.send(
            Method::PUT,
            "/v1/customers/999/consents",
            &admin,
            Some(&change)
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    // Do-not-sell overrides data sharing.
    let share = json!({"consents": {"data_sharing": true}});
    app.send(Method::PUT, "/v1/customers/1/consents", &own, Some(&share))
        .await;
    let (s, v) = app
        .send(
            Method::PUT,
            "/v1/customers/1/do-not-sell",
            &own,
            Some(&json!({"do_not_sell": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            v["current"]["data_sharing"].clone(),
            v["current"]["do_not_sell"].clone()
        ),
        (json!(true), json!(true))
    );
    let state = app
        .db
        .store
        .consent_state(&CustomerId::parse("1").unwrap(), &[])
        .await
        .unwrap()
        .unwrap();
    assert!(!state.allows(sextant_core::ConsentPurpose::DataSharing));

    // Audited under a pseudonym, never the id; the chain verifies.
    let audit = app.db.store.audit_entries(0, 100).await.unwrap();
    let consent: Vec<_> = audit
        .iter()
        .filter(|e| e.action.starts_with("consent."))
        .collect();
    assert_eq!(consent.len(), 5);
    let pseudonym = master()
        .pseudonymizer()
        .customer(&CustomerId::parse("1").unwrap());
    assert!(consent.iter().all(|e| e.subject == pseudonym));
    sextant_core::audit::verify_chain(&audit).unwrap();
    let (s, page) = app
        .get("/v1/audit?from=2000-01-01T00:00:00Z", Some(&admin))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), audit.len());
    assert_eq!(
        app.get("/v1/audit", Some(&analyst)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/v1/audit?from=yesterday", Some(&admin)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

async fn export_and_rectify(db: TestDb) {
    let app = spawn(db).await;
    let own = app.key(Role::Customer, Some("1")).await;
    let analyst = app.key(Role::Analyst, None).await;
    let (s, v) = app.get("/v1/customers/1/export", Some(&own)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["customer"]["name"], "Customer_1");
    assert_eq!(v["transactions"].as_array().unwrap().len(), 5);
    assert_eq!(v["accounts"].as_array().unwrap().len(), 1);
    for section in [
        "consents",
        "consent_history",
        "messages",
        "events",
        "decisions",
        "protected_attributes",
    ] {
        assert!(v.get(section).is_some(), "export lacks {section}");
    }
    assert_eq!(
        app.get("/v1/customers/2/export", Some(&own)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/v1/customers/1/export", Some(&analyst)).await.0,
        StatusCode::FORBIDDEN
    );

    let patch = json!({"name": "Jane Q. Public", "email": "jane@example.org", "age": 29});
    let (s, v) = app
        .send(Method::PATCH, "/v1/customers/1", &own, Some(&patch))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["name"].clone(), v["email"].clone(), v["age"].clone()),
        (
            json!("Jane Q. Public"),
            json!("jane@example.org"),
            json!(29)
        )
    );
    let bad = json!({"email": "not-an-email", "income": 1});
    let (s, v) = app
        .send(Method::PATCH, "/v1/customers/1", &own, Some(&bad))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["errors"],
        json!([{"field": "email", "reason": "not an e-mail address"}, {"field": "income", "reason": "unknown or read-only field"}])
    );
    let (_, c) = app.get("/v1/customers/1", Some(&own)).await;
    assert_eq!(
        c["email"], "jane@example.org",
        "a rejected patch changes nothing"
    );
}

const NAME: &str = "Zebediah Quartermaine";
const EMAIL: &str = "zebediah.q@example.org";
const MESSAGE: &str = "xyzzy my secret complaint about the overdraft";

/// Every place `needle` could survive: the SQLite file and its WAL, or every text column of every
/// table in the PostgreSQL schema.
async fn pii_left(db: &TestDb, needle: &str) -> Vec<String> {
    match &db.schema {
        None => {
            let mut found = Vec::new();
            for suffix in ["", "-wal"] {
                let path = format!("{}{suffix}", db.url);
                if let Ok(bytes) = std::fs::read(&path)
                    && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
                {
                    found.push(path);
                }
            }
            found
        }
        Some(schema) => {
            let client = sextant_testkit::pg_client().await;
            let cols = client
                .query(
                    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1 \
                     AND data_type IN ('text', 'character varying')",
                    &[schema],
                )
                .await
                .unwrap();
            let mut found = Vec::new();
            for c in cols {
                let (t, col): (String, String) = (c.get(0), c.get(1));
                let sql =
                    format!("SELECT count(*) FROM {schema}.{t} WHERE {col} LIKE '%' || $1 || '%'");
                let n: i64 = client.query_one(&sql, &[&needle]).await.unwrap().get(0);
                if n > 0 {
                    found.push(format!("{t}.{col}"));
                }
            }
            found
        }
    }
}

async fn erasure_leaves_no_pii(db: TestDb) {
    let app = spawn(db).await;
    let admin = app.key(Role::Admin, None).await;
    let own = app.key(Role::Customer, Some("1")).await;
    let msgs = app.files.path().join("m.csv");
    std::fs::write(&msgs, format!("message_id,customer_id,timestamp,channel,body\nm1,1,2026-03-01T10:00:00Z,chat,{MESSAGE}\n")).unwrap();
    import_file(
        app.db.store.as_ref(),
        RecordKind::Messages,
        &msgs,
        &ImportOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    let patch = json!({"name": NAME, "email": EMAIL, "phone": "+49 30 1234567"});
    assert_eq!(
        app.send(Method::PATCH, "/v1/customers/1", &own, Some(&patch))
            .await
            .0,
        StatusCode::OK
    );
    app.send(
        Method::PUT,
        "/v1/customers/1/consents",
        &own,
        Some(&json!({"consents": {"marketing": true}})),
    )
    .await;
    for needle in [NAME, EMAIL, MESSAGE] {
        assert!(
            !pii_left(&app.db, needle).await.is_empty(),
            "the scan must be able to find {needle} before erasure"
        );
    }

    assert_eq!(
        app.send(Method::DELETE, "/v1/customers/1", &own, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (s, v) = app
        .send(Method::DELETE, "/v1/customers/1", &admin, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["deleted"]["transactions"], 5);
    assert_eq!(v["deleted"]["messages"], 1);
    assert_eq!(v["deleted"]["customers"], 1);
    assert_eq!(
        v["unlearned_decisions"], 0,
        "no recommendation had feedback"
    );
    assert_eq!(v["not_unlearned"], 0);
    let tombstone = master()
        .pseudonymizer()
        .customer(&CustomerId::parse("1").unwrap());
    assert_eq!(v["tombstone"], tombstone);

    for needle in [NAME, EMAIL, MESSAGE, "+49 30 1234567"] {
        assert_eq!(
            pii_left(&app.db, needle).await,
            Vec::<String>::new(),
            "{needle} survived erasure"
        );
    }
    assert_eq!(
        app.get("/v1/customers/1", Some(&admin)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/customers/1", Some(&own)).await.0,
        StatusCode::UNAUTHORIZED,
        "the customer's keys go too"
    );
    assert_eq!(
        app.send(Method::DELETE, "/v1/customers/1", &admin, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // The audit log keeps the tombstone, and still verifies.
    let audit = app.db.store.audit_entries(0, 100).await.unwrap();
    let erase = audit.iter().find(|e| e.action == "dsr.erase").unwrap();
    assert_eq!(erase.subject, tombstone);
    assert!(audit.iter().all(|e| !e.details.to_string().contains(NAME)));
    sextant_core::audit::verify_chain(&audit).unwrap();
    let _: Value = Value::Null;
}

async fn private_reports_charge_a_budget(db: TestDb) {
    let app = spawn(db).await;
    let analyst = app.key(Role::Analyst, None).await;
    let other = app.key(Role::Analyst, None).await;
    let own = app.key(Role::Customer, Some("1")).await;
    let (s, v) = app
        .get(
            "/v1/reports/spend?epsilon=4&group_by=spending_habit",
            Some(&analyst),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["epsilon_spent_total"], 4.0);
    assert_eq!(v["epsilon_budget"], 10.0);
    let cells = v["report"]["cells"].as_array().unwrap();
    assert_eq!(
        cells.len(),
        3 * 17,
        "every group x category cell is reported, released or withheld"
    );
    assert!(
        cells
            .iter()
            .all(|c| c["status"] == "withheld" || c["status"] == "released")
    );
    assert_eq!(
        app.get("/v1/reports/spend?epsilon=4", Some(&analyst))
            .await
            .0,
        StatusCode::OK
    );
    let (s, v) = app.get("/v1/reports/spend?epsilon=4", Some(&analyst)).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let analyst_id = analyst.split('_').nth(1).unwrap();
    assert_eq!(
        v["detail"],
        format!(
            "privacy budget exhausted for analyst \"{analyst_id}\": requested epsilon 4, already spent 8 of 10"
        )
    );
    assert_eq!(
        app.get("/v1/reports/spend?epsilon=2", Some(&analyst))
            .await
            .0,
        StatusCode::OK,
        "what is left can be spent"
    );
    assert_eq!(
        app.get("/v1/reports/spend?epsilon=4", Some(&other)).await.0,
        StatusCode::OK,
        "budgets are per analyst"
    );
    assert_eq!(
        app.get("/v1/reports/spend", Some(&own)).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, v) = app.get("/v1/reports/spend?epsilon=-1", Some(&other)).await;
    assert_eq!(
        (s, v["errors"][0]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("epsilon"))
    );
    let (s, v) = app
        .get("/v1/reports/spend?group_by=gender", Some(&other))
        .await;
    assert_eq!(
        (s, v["errors"][0]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("group_by")),
        "never by a protected attribute"
    );
}

async fn peer_comparison_needs_personalization_consent(db: TestDb) {
    let app = spawn(db).await;
    let own = app.key(Role::Customer, Some("1")).await;
    let (s, v) = app.get("/v1/customers/1/peers", Some(&own)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["type"], "https://sextant.dev/problems/consent-required");
    assert_eq!(
        v["detail"],
        "the customer has not consented to personalization"
    );
    let grant = json!({"consents": {"personalization": true}});
    assert_eq!(
        app.send(Method::PUT, "/v1/customers/1/consents", &own, Some(&grant))
            .await
            .0,
        StatusCode::OK
    );
    let (s, first) = app.get("/v1/customers/1/peers", Some(&own)).await;
    assert_eq!(s, StatusCode::OK, "consent takes effect at once: {first}");
    assert_eq!(first["peer_group"], "Moderate");
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (
            items[0]["category"].clone(),
            items[0]["your_spend_minor"].clone()
        ),
        (json!("groceries"), json!(1500))
    );
    // With three customers the peer figure is mostly noise: withheld, or a clamped noisy mean.
    let peers = &items[0]["peers_mean_minor"];
    assert!(
        peers.is_null() || (0.0..=2_000_000.0).contains(&peers.as_f64().unwrap()),
        "{peers}"
    );
    let (_, second) = app.get("/v1/customers/1/peers", Some(&own)).await;
    assert_eq!(first, second, "one release per period, reused");
    let withdraw = json!({"consents": {"personalization": false}});
    app.send(
        Method::PUT,
        "/v1/customers/1/consents",
        &own,
        Some(&withdraw),
    )
    .await;
    assert_eq!(
        app.get("/v1/customers/1/peers", Some(&own)).await.0,
        StatusCode::FORBIDDEN,
        "withdrawal takes effect at once"
    );
    assert_eq!(
        app.get("/v1/customers/2/peers", Some(&own)).await.0,
        StatusCode::FORBIDDEN
    );
}

on_both_backends!(
    peer_comparison_needs_personalization_consent,
    private_reports_charge_a_budget,
    consent_changes_take_effect_with_history_and_audit,
    export_and_rectify,
    erasure_leaves_no_pii,
);
