//! The audit trail: who (name and email) did what to which key, connection or device, when,
//! from which device; newest first, paged.

use serde_json::json;

use crate::common::Service;

#[tokio::test]
async fn audit_shows_who_did_what_from_which_device() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let staff = svc.staff(&owner, "Sam Staff").await;
    let owner_session = svc.login(&owner, "Owner laptop").await;
    let staff_session = svc.login(&staff, "Shop PC").await;
    let (id, _) = svc.create_key(&staff_session, json!({"name": "Codex", "scopes": ["read", "write"]})).await;
    svc.patch(&format!("/api/keys/{id}"), &owner_session, json!({"name": "Codex CI"})).await.assert_status(200);
    svc.delete(&format!("/api/keys/{id}"), &owner_session).await.assert_status(200);

    let page = svc.get("/api/audit", &owner_session).await;
    let events = page.assert_status(200)["events"].as_array().unwrap().clone();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[..3], &["key.revoked", "key.renamed", "key.created"]);
    let created = &events[2];
    assert_eq!(created["actor"], json!({"name": "Sam Staff", "email": "sam.staff@staff.test"}));
    assert_eq!(created["target_type"], "key");
    assert_eq!(created["target_id"], id.as_str());
    let summary = created["summary"].as_str().unwrap();
    assert!(summary.contains("Codex") && summary.contains("read & write") && summary.contains(&format!("asmk_{id}")), "{summary}");
    assert!(created["at"].is_string());
    assert!(created["actor_device"].as_str().unwrap().starts_with("dev_"));
    assert_eq!(events[0]["actor"]["email"], "owner@acme.test");
    assert_ne!(events[0]["actor_device"], created["actor_device"]);
}

#[tokio::test]
async fn audit_pages_go_back_in_time_without_overlap() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    for i in 0..5 {
        svc.create_key(&session, json!({"name": format!("k{i}")})).await;
    }
    let first = svc.get("/api/audit?limit=3", &session).await;
    let before = first.body["next_before"].as_i64().unwrap();
    let second = svc.get(&format!("/api/audit?limit=3&before={before}"), &session).await;
    let ids = |r: &crate::common::Reply| r.body["events"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect::<Vec<_>>();
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!(a.len(), 3);
    assert!(a.iter().all(|x| b.iter().all(|y| y < x)));
    svc.get("/api/audit?limit=0", &session).await.assert_error(400, "invalid_limit");
}
