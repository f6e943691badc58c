//! The assistant through the API on both backends: keys, roles and customer scope on messages,
//! conversations and goals; the roadmap chart; the knowledge base edited by admins only and
//! searched by anyone with a key, the index following every change; named validation errors.

mod common;

use common::spawn_assistant;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sextant_core::Role;
use sextant_testkit::{TestDb, on_both_backends};

async fn messages_conversations_and_goals_are_scoped(db: TestDb) {
    let app = spawn_assistant(db).await;
    let admin = app.key(Role::Admin, None).await;
    let analyst = app.key(Role::Analyst, None).await;
    let own = app.key(Role::Customer, Some("1")).await;
    let other = app.key(Role::Customer, Some("2")).await;
    let msg = json!({ "customer_id": "1", "text": "I want to save €15,000 for a car in 2 years" });

    let resp = app
        .http
        .post(format!("{}/v1/assistant/messages", app.base))
        .json(&msg)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .send(Method::POST, "/v1/assistant/messages", &analyst, Some(&msg))
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "analysts do not talk as customers"
    );
    let (s, _) = app
        .send(Method::POST, "/v1/assistant/messages", &other, Some(&msg))
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a customer key speaks only for its customer"
    );

    let (s, r) = app
        .send(Method::POST, "/v1/assistant/messages", &own, Some(&msg))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["intent"], "goal_planning", "{r}");
    let conv = r["conversation_id"].as_str().unwrap().to_string();
    let roadmap = r["goal"]["roadmap_url"]
        .as_str()
        .expect("a goal with a roadmap")
        .to_string();

    // The chart is SVG, for the customer and staff, not for another customer.
    let resp = app
        .http
        .get(format!("{}{roadmap}", app.base))
        .bearer_auth(&own)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml")
    );
    assert!(resp.text().await.unwrap().contains("<svg"));
    let (s, _) = app.get(&roadmap, Some(&other)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, g) = app.get("/v1/customers/1/goals", Some(&analyst)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(g["goals"].as_array().unwrap().len(), 1);

    // The conversation: its customer and admin read it; another customer sees "not found".
    let (s, c) = app
        .get(&format!("/v1/assistant/conversations/{conv}"), Some(&own))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["turns"].as_array().unwrap().len(), 2);
    let (s, _) = app
        .get(&format!("/v1/assistant/conversations/{conv}"), Some(&other))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .get(
            &format!("/v1/assistant/conversations/{conv}"),
            Some(&analyst),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "analysts do not read conversation text"
    );
    let steal = json!({ "customer_id": "2", "conversation_id": conv, "text": "hello" });
    let (s, _) = app
        .send(Method::POST, "/v1/assistant/messages", &admin, Some(&steal))
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a conversation cannot change customer"
    );

    // Validation names the field.
    for (body, field) in [
        (json!({ "customer_id": "1", "text": "" }), "text"),
        (
            json!({ "customer_id": "1", "text": "hi", "channel": "fax" }),
            "channel",
        ),
    ] {
        let (s, v) = app
            .send(Method::POST, "/v1/assistant/messages", &admin, Some(&body))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["errors"][0]["field"], field, "{v}");
    }
    let (s, _) = app
        .send(
            Method::POST,
            "/v1/assistant/messages",
            &admin,
            Some(&json!({ "customer_id": "1", "txt": "hi" })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app
        .send(
            Method::POST,
            "/v1/assistant/messages",
            &admin,
            Some(&json!({ "customer_id": "404", "text": "hi" })),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn the_knowledge_base_follows_admin_edits(db: TestDb) {
    let app = spawn_assistant(db).await;
    let admin = app.key(Role::Admin, None).await;
    let appkey = app.key(Role::App, None).await;
    let own = app.key(Role::Customer, Some("1")).await;

    let (s, list) = app.get("/v1/kb/documents", Some(&own)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        list["documents"].as_array().unwrap().len() >= 20,
        "the shipped KB is seeded"
    );

    let doc = json!({ "title": "Pet insurance", "tags": ["insurance"],
        "body": "# Pet insurance\n\n## Cover\n\nOur pet insurance covers vet bills for cats and dogs up to the policy limit." });
    let (s, _) = app
        .send(
            Method::PUT,
            "/v1/kb/documents/pet-insurance",
            &appkey,
            Some(&doc),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "only admins edit the knowledge base"
    );
    let (s, v) = app
        .send(
            Method::PUT,
            "/v1/kb/documents/pet-insurance",
            &admin,
            Some(&doc),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 1);
    let (s, hits) = app
        .get(
            "/v1/kb/search?q=does%20insurance%20pay%20the%20vet%20for%20my%20dog",
            Some(&own),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hits["hits"][0]["doc_id"], "pet-insurance", "{hits}");

    // Markdown with front matter replaces it; the old text is gone from the index.
    let md = "---\nid: pet-insurance\ntitle: Pet insurance\ntags: [insurance]\n---\n# Pet insurance\n\n## Cover\n\nPet insurance now also covers rabbits and parrots.\n";
    let resp = app
        .http
        .put(format!("{}/v1/kb/documents/pet-insurance", app.base))
        .bearer_auth(&admin)
        .header("content-type", "text/markdown")
        .body(md)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["version"], 2);
    let (_, hits) = app
        .get("/v1/kb/search?q=rabbits%20and%20parrots&k=1", Some(&own))
        .await;
    assert_eq!(hits["hits"][0]["doc_id"], "pet-insurance");
    assert!(
        !hits["hits"][0]["text"]
            .as_str()
            .unwrap()
            .contains("cats and dogs")
    );
    // A front-matter id that disagrees with the URL is refused, naming the field.
    let resp = app
        .http
        .put(format!("{}/v1/kb/documents/other-id", app.base))
        .bearer_auth(&admin)
        .header("content-type", "text/markdown")
        .body(md)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let (s, _) = app
        .send(
            Method::DELETE,
            "/v1/kb/documents/pet-insurance",
            &admin,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app
        .send(
            Method::DELETE,
            "/v1/kb/documents/pet-insurance",
            &admin,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, hits) = app
        .get("/v1/kb/search?q=rabbits%20and%20parrots&k=3", Some(&own))
        .await;
    assert!(
        hits["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["doc_id"] != "pet-insurance")
    );
    let (s, v) = app.get("/v1/kb/search?q=&k=3", Some(&own)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app.get("/v1/kb/search?q=fees&k=99", Some(&own)).await;
    assert_eq!(v["errors"][0]["field"], "k", "{s} {v}");

    // Every change is audited.
    let (_, audit) = app.get("/v1/audit?limit=100", Some(&admin)).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        actions.iter().filter(|a| **a == "kb.put").count(),
        2,
        "{audit}"
    );
    assert_eq!(actions.iter().filter(|a| **a == "kb.delete").count(), 1);
}

on_both_backends!(
    messages_conversations_and_goals_are_scoped,
    the_knowledge_base_follows_admin_edits
);
