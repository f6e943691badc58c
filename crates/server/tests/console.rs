//! The web console and customer app on both backends: pages need a session and send customer
//! keys to the app, assets carry their content types, caching rules and a strict CSP, the login
//! form keeps `next` local; and the console's read endpoints (`/v1/me`, `/v1/models`,
//! `/v1/audit/verify`, the audit filters, `/v1/segments/map`, a customer's sentiment) check
//! keys, roles and customer scope.

mod common;

use common::{master, spawn};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sextant_core::{ConsentPurpose, CustomerId, Role};
use sextant_ingest::{ImportOptions, import_file};
use sextant_store::RecordKind;
use sextant_testkit::{TestDb, on_both_backends};

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn raw(app: &common::App, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(format!("{}{path}", app.base));
    if let Some(c) = cookie {
        req = req.header("cookie", format!("sextant_key={c}"));
    }
    req.send().await.unwrap()
}

async fn login(app: &common::App, key: &str, next: Option<&str>) -> reqwest::Response {
    let mut form = vec![("key", key)];
    if let Some(n) = next {
        form.push(("next", n));
    }
    app.http
        .post(format!("{}/login", app.base))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn pages_need_a_session_and_assets_are_locked_down(db: TestDb) {
    let app = spawn(db).await;
    let analyst = app.key(Role::Analyst, None).await;
    let reviewer = app.key(Role::Reviewer, None).await;
    let own = app.key(Role::Customer, Some("1")).await;

    // No session: the pages send a browser to the login form, remembering where it was going.
    for (path, next) in [("/console/", "%2Fconsole%2F"), ("/app/", "%2Fapp%2F")] {
        let r = raw(&app, path, None).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(header(&r, "location"), format!("/login?next={next}"));
    }
    let r = raw(&app, "/console/", Some("sx_forged")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = raw(&app, "/console", None).await;
    assert_eq!(header(&r, "location"), "/console/");

    // With a session: the page, uncached, under the CSP.
    for key in [&analyst, &reviewer] {
        let r = raw(&app, "/console/", Some(key)).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&r, "cache-control"), "no-store");
        let csp = header(&r, "content-security-policy");
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("http"));
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        let html = r.text().await.unwrap();
        assert!(html.contains("/console/assets/js/console.js"));
        assert!(!html.contains("<script>"), "no inline script");
    }
    // A customer key belongs in the app, and gets it.
    let r = raw(&app, "/console/", Some(&own)).await;
    assert_eq!(
        (r.status(), header(&r, "location")),
        (StatusCode::SEE_OTHER, "/app/".into())
    );
    let r = raw(&app, "/app/", Some(&own)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        header(&r, "content-security-policy").contains("default-src 'self'"),
        "the app is under the CSP too"
    );
    assert!(r.text().await.unwrap().contains("bank-app.js"));

    // Assets: public (no data), typed, revalidated with an ETag, under the CSP.
    for (path, ctype) in [
        ("/console/assets/app.css", "text/css; charset=utf-8"),
        (
            "/console/assets/js/console.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/console/assets/js/charts.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/console/assets/js/bank-app.js",
            "text/javascript; charset=utf-8",
        ),
        ("/console/assets/favicon.svg", "image/svg+xml"),
    ] {
        let r = raw(&app, path, None).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&r, "content-type"), ctype, "{path}");
        assert_eq!(header(&r, "cache-control"), "no-cache");
        assert!(header(&r, "content-security-policy").starts_with("default-src 'self'"));
        let etag = header(&r, "etag");
        assert!(etag.starts_with('"') && etag.len() > 10);
        let again = app
            .http
            .get(format!("{}{path}", app.base))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    for path in [
        "/console/assets/nope.js",
        "/console/assets/../../Cargo.toml",
        "/console/assets/js/../app.css.map",
    ] {
        assert_eq!(
            raw(&app, path, None).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }

    // The login form: staff land in the console, customers in the app, `next` only if local.
    let page = raw(&app, "/login?next=%22%3E%3Cscript%3E", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(header(&page, "content-security-policy").starts_with("default-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(!html.contains("\"><script>"), "next is dropped or escaped");
    let r = login(&app, &analyst, None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&r, "location"), "/console/");
    let cookie = header(&r, "set-cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    for (next, to) in [
        ("/docs/", "/docs/"),
        ("/console/", "/console/"),
        ("https://evil.example/", "/console/"),
        ("//evil.example/", "/console/"),
    ] {
        let r = login(&app, &analyst, Some(next)).await;
        assert_eq!(header(&r, "location"), to, "next={next}");
    }
    let r = login(&app, &own, Some("/console/")).await;
    assert_eq!(header(&r, "location"), "/app/");
    let bad = login(&app, "sx_nope", Some("/docs/")).await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let html = bad.text().await.unwrap();
    assert!(html.contains("role=\"alert\"") && html.contains("value=\"/docs/\""));
    // The docs still work through the same session.
    let r = raw(&app, "/docs/", None).await;
    assert_eq!(header(&r, "location"), "/login?next=/docs/");

    // Who am I: role and scope, never the secret.
    let (s, me) = app.get("/v1/me", Some(&own)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (me["role"].as_str(), me["customer_id"].as_str()),
        (Some("customer"), Some("1"))
    );
    assert!(!me.to_string().contains(&own[20..]));
    let (s, me) = app.get("/v1/me", Some(&analyst)).await;
    assert_eq!((s, me["role"].as_str()), (StatusCode::OK, Some("analyst")));
    assert!(me["customer_id"].is_null());
    assert_eq!(app.get("/v1/me", None).await.0, StatusCode::UNAUTHORIZED);

    // The new read endpoints are in the OpenAPI document.
    let (_, spec) = app.get("/openapi.json", Some(&analyst)).await;
    for path in [
        "/v1/me",
        "/v1/stats",
        "/v1/models",
        "/v1/segments/map",
        "/v1/customers/{id}/sentiment",
        "/v1/audit/verify",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }

    // The overview's counts: staff only.
    let (s, c) = app.get("/v1/stats", Some(&reviewer)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (c["customers"].as_u64(), c["accounts"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(c["transactions"], 5);
    assert_eq!(
        app.get("/v1/stats", Some(&own)).await.0,
        StatusCode::FORBIDDEN
    );
}

async fn registry_and_audit_endpoints_check_roles(db: TestDb) {
    let app = spawn(db).await;
    let admin = app.key(Role::Admin, None).await;
    let analyst = app.key(Role::Analyst, None).await;
    let reviewer = app.key(Role::Reviewer, None).await;
    let own = app.key(Role::Customer, Some("1")).await;

    // The registry: empty, then a model with its card's metrics and the stored fairness audit.
    let (s, r) = app.get("/v1/models", Some(&analyst)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["models"], json!([]));
    let card = json!({"version": "churn", "rows": 120, "positives": 14, "data_hash": "ab12",
        "feature_names": ["age", "income"], "metrics": {"models": [{"name": "gbdt", "metrics": {"roc_auc": 0.81}}]},
        "fairness": [{"attribute": "gender", "groups": [], "four_fifths_violation": false}]});
    let v = app
        .db
        .store
        .save_model("churn", 1, &card.to_string(), "{}")
        .await
        .unwrap();
    app.db.store.promote_model("churn", v).await.unwrap();
    let (_, r) = app.get("/v1/models", Some(&admin)).await;
    let m = &r["models"][0];
    assert_eq!(
        (m["name"].as_str(), m["version"].as_i64()),
        (Some("churn"), Some(v))
    );
    assert_eq!(m["promoted"], true);
    assert_eq!(m["rows"], 120);
    assert_eq!(m["features"], json!(["age", "income"]));
    assert_eq!(m["metrics"]["models"][0]["metrics"]["roc_auc"], 0.81);
    assert_eq!(m["fairness"][0]["attribute"], "gender");
    assert!(m.get("model").is_none(), "the serialized model is not sent");
    for k in [&reviewer, &own] {
        assert_eq!(
            app.get("/v1/models", Some(k)).await.0,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        app.get("/v1/models", None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Audit entries about customers 1 and 2 (consent changes are audited under pseudonyms).
    for (c, purpose) in [("1", "marketing"), ("2", "marketing"), ("1", "profiling")] {
        let (s, _) = app
            .send(
                Method::PUT,
                &format!("/v1/customers/{c}/consents"),
                &admin,
                Some(&json!({"consents": {purpose: true}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let pseudonym = master()
        .pseudonymizer()
        .customer(&CustomerId::parse("1").unwrap());
    let (s, page) = app.get("/v1/audit?customer_id=1", Some(&admin)).await;
    assert_eq!(s, StatusCode::OK);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert!(items.iter().all(|e| e["subject"] == pseudonym.as_str()));
    let (_, page) = app
        .get("/v1/audit?customer_id=2&action=consent.", Some(&admin))
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = app
        .get("/v1/audit?customer_id=1&limit=1", Some(&admin))
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let after = page["next_after"].as_i64().expect("a next page");
    let (_, next) = app
        .get(
            &format!("/v1/audit?customer_id=1&limit=1&after={after}"),
            Some(&admin),
        )
        .await;
    assert_eq!(next["items"].as_array().unwrap().len(), 1);
    assert_ne!(next["items"][0]["seq"], page["items"][0]["seq"]);
    let (_, none) = app.get("/v1/audit?actor=nobody", Some(&admin)).await;
    assert_eq!(none["items"], json!([]));
    let (s, body) = app
        .get("/v1/audit?customer_id=not%20an%20id", Some(&admin))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        app.get("/v1/audit?customer_id=1", Some(&analyst)).await.0,
        StatusCode::FORBIDDEN
    );

    // Verification: the same check as `sextant audit verify`, for admins and analysts.
    for k in [&admin, &analyst] {
        let (s, v) = app.get("/v1/audit/verify", Some(k)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["intact"], true, "{v}");
        assert!(v["entries"].as_u64().unwrap() >= 3);
        assert!(v["broken_at"].is_null());
    }
    for k in [&reviewer, &own] {
        assert_eq!(
            app.get("/v1/audit/verify", Some(k)).await.0,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        app.get("/v1/audit/verify", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn segment_map_and_sentiment(db: TestDb) {
    let app = spawn(db).await;
    let admin = app.key(Role::Admin, None).await;
    let analyst = app.key(Role::Analyst, None).await;
    let reviewer = app.key(Role::Reviewer, None).await;
    let own = app.key(Role::Customer, Some("1")).await;

    // No model yet: a conflict that says what to do.
    let (s, _) = app.get("/v1/segments/map", Some(&analyst)).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // A small generated bank (ids prefixed, as the fixture already has 1–3), features, segments.
    let dir = tempfile::tempdir().unwrap();
    let cfg = sextant_synth::Config {
        customers: 60,
        months: 2,
        seed: 5,
        ..Default::default()
    };
    sextant_synth::generate(&cfg, dir.path(), &|_| {}).unwrap();
    for (kind, f) in [
        (RecordKind::Customers, "customers_full.csv"),
        (RecordKind::Accounts, "accounts.csv"),
        (RecordKind::Transactions, "transactions.csv"),
        (RecordKind::Consents, "consents.csv"),
    ] {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        let mut lines = text.lines();
        let mut out = format!("{}\n", lines.next().unwrap());
        for l in lines {
            let mut cols: Vec<String> = l.split(',').map(str::to_string).collect();
            let i = if kind == RecordKind::Customers { 0 } else { 1 };
            cols[i] = format!("m{}", cols[i]);
            if kind == RecordKind::Transactions {
                cols[2] = format!("m{}", cols[2]);
            }
            if kind == RecordKind::Accounts {
                cols[0] = format!("m{}", cols[0]);
            }
            out.push_str(&cols.join(","));
            out.push('\n');
        }
        let path = dir.path().join(format!("m_{f}"));
        std::fs::write(&path, out).unwrap();
        import_file(
            app.db.store.as_ref(),
            kind,
            &path,
            &ImportOptions::default(),
            |_| {},
        )
        .await
        .unwrap();
    }
    let policy = sextant_intelligence::Policy::default();
    let summary = sextant_intelligence::refresh_features(
        app.db.store.as_ref(),
        &policy,
        chrono::Utc::now(),
        &|_, _| {},
    )
    .await
    .unwrap();
    let seg = sextant_segment::SegmentConfig {
        macro_k: Some(2),
        micro_k: Some(2),
        seed: 1,
        ..Default::default()
    };
    sextant_intelligence::train_segments(app.db.store.as_ref(), &seg, true)
        .await
        .unwrap();

    let (s, map) = app.get("/v1/segments/map", Some(&analyst)).await;
    assert_eq!(s, StatusCode::OK, "{map}");
    let points = map["points"].as_array().unwrap();
    assert_eq!(
        points.len() as u64,
        summary.computed,
        "everyone with features"
    );
    assert_eq!(map["truncated"], false);
    let (_, list) = app.get("/v1/segments", Some(&analyst)).await;
    let segments: Vec<&str> = list["personas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["segment_id"].as_str().unwrap())
        .collect();
    for p in points {
        assert!(segments.contains(&p["segment_id"].as_str().unwrap()), "{p}");
        assert!(p["x"].as_f64().unwrap().is_finite() && p["y"].as_f64().unwrap().is_finite());
    }
    // Customers without profiling consent have no feature row, so they are not on the map.
    let without: Vec<String> = {
        let mut v = Vec::new();
        for p in points {
            let id = p["customer_id"].as_str().unwrap();
            let state = app
                .db
                .store
                .consent_state(&CustomerId::parse(id).unwrap(), &[])
                .await
                .unwrap()
                .unwrap();
            if !state.allows(ConsentPurpose::Profiling) {
                v.push(id.to_string());
            }
        }
        v
    };
    assert!(without.is_empty(), "{without:?}");
    let explained: Vec<f64> = map["explained_variance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(explained.len(), 2);
    assert!(explained[0] >= explained[1] && explained[0] + explained[1] <= 1.0 + 1e-9);
    assert!(!map["axes"][0].as_array().unwrap().is_empty());
    let (_, small) = app.get("/v1/segments/map?limit=5", Some(&admin)).await;
    assert_eq!(small["points"].as_array().unwrap().len(), 5);
    assert_eq!(small["truncated"], true);
    for bad in ["0", "10001", "x"] {
        let (s, _) = app
            .get(&format!("/v1/segments/map?limit={bad}"), Some(&analyst))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "limit={bad}");
    }
    for k in [&reviewer, &own] {
        assert_eq!(
            app.get("/v1/segments/map", Some(k)).await.0,
            StatusCode::FORBIDDEN
        );
    }

    // Sentiment over time: staff only, with profiling consent, without the message text.
    let (s, body) = app.get("/v1/customers/1/sentiment", Some(&analyst)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body["type"].as_str().unwrap().ends_with("consent-required"));
    app.send(
        Method::PUT,
        "/v1/customers/1/consents",
        &admin,
        Some(&json!({"consents": {"profiling": true}})),
    )
    .await;
    let (s, body) = app.get("/v1/customers/1/sentiment", Some(&reviewer)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["points"], json!([]));
    assert_eq!(
        app.get("/v1/customers/1/sentiment", Some(&own)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/v1/customers/nobody/sentiment", Some(&analyst))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

on_both_backends!(
    pages_need_a_session_and_assets_are_locked_down,
    registry_and_audit_endpoints_check_roles,
    segment_map_and_sentiment,
);
