//! Sign-in and devices: every session is a device that can be listed and signed out from
//! elsewhere, optionally taking the keys it created with it (the lost laptop).

use reqwest::Method;
use serde_json::json;

use crate::common::{PASSWORD, Service};

#[tokio::test]
async fn sign_in_returns_a_token_user_store_and_device() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let reply = svc
        .call(Method::POST, "/api/session", None, Some(json!({"email": owner.email, "password": PASSWORD, "device_name": "Work laptop"})))
        .await;
    let body = reply.assert_status(201);
    assert!(body["token"].as_str().unwrap().starts_with("kwsess_"));
    assert_eq!(body["user"]["role"], "owner");
    assert_eq!(body["store"]["name"], "Acme");
    assert_eq!(body["store"]["brand"], "asmk");
    assert_eq!(body["device"]["name"], "Work laptop");
    assert_eq!(body["device"]["current"], true);
}

#[tokio::test]
async fn a_wrong_password_or_unknown_email_gets_the_same_401() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let wrong = svc
        .call(Method::POST, "/api/session", None, Some(json!({"email": owner.email, "password": "nope nope", "device_name": "x"})))
        .await;
    let unknown = svc
        .call(Method::POST, "/api/session", None, Some(json!({"email": "nobody@x.test", "password": PASSWORD, "device_name": "x"})))
        .await;
    wrong.assert_error(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
}

#[tokio::test]
async fn management_needs_a_live_session() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    svc.call(Method::GET, "/api/keys", None, None).await.assert_error(401, "missing_session");
    svc.get("/api/keys", "kwsess_not-a-real-token").await.assert_error(401, "invalid_session");
    let session = svc.login(&owner, "laptop").await;
    svc.get("/api/keys", &session).await.assert_status(200);
    svc.delete("/api/session", &session).await.assert_status(204);
    svc.get("/api/keys", &session).await.assert_error(401, "invalid_session");
}

#[tokio::test]
async fn a_lost_laptop_is_signed_out_from_another_device_with_its_keys() {
    let (svc, owner, laptop) = Service::with_owner_signed_in("Acme", "Lost laptop").await;
    let desktop = svc.login(&owner, "Desktop").await;
    let (_, laptop_key) = svc.create_key(&laptop, json!({"name": "laptop agent"})).await;
    let (_, desktop_key) = svc.create_key(&desktop, json!({"name": "desktop agent"})).await;

    let devices = svc.get("/api/devices", &desktop).await;
    let list = devices.assert_status(200)["devices"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    let lost = list.iter().find(|d| d["name"] == "Lost laptop").unwrap();
    assert_eq!(lost["current"], false);
    assert_eq!(list.iter().find(|d| d["name"] == "Desktop").unwrap()["current"], true);
    let lost_id = lost["id"].as_str().unwrap();

    let reply = svc.delete(&format!("/api/devices/{lost_id}?revoke_keys=true"), &desktop).await;
    let body = reply.assert_status(200);
    assert_eq!(body["revoked_keys"], 1);
    assert!(body["device"]["signed_out_at"].is_string());

    svc.get("/api/keys", &laptop).await.assert_error(401, "invalid_session");
    svc.with_key("/v1/whoami", &laptop_key).await.assert_error(401, "key_revoked");
    svc.with_key("/v1/whoami", &desktop_key).await.assert_status(200);
    svc.get("/api/keys", &desktop).await.assert_status(200);
}

#[tokio::test]
async fn signing_out_a_device_keeps_its_keys_unless_asked() {
    let (svc, owner, laptop) = Service::with_owner_signed_in("Acme", "laptop").await;
    let desktop = svc.login(&owner, "desktop").await;
    let (_, key) = svc.create_key(&laptop, json!({"name": "agent"})).await;
    let devices = svc.get("/api/devices", &desktop).await;
    let laptop_id = devices.body["devices"].as_array().unwrap().iter().find(|d| d["name"] == "laptop").unwrap()["id"].as_str().unwrap().to_owned();
    let body = svc.delete(&format!("/api/devices/{laptop_id}"), &desktop).await;
    assert_eq!(body.assert_status(200)["revoked_keys"], 0);
    svc.get("/api/keys", &laptop).await.assert_error(401, "invalid_session");
    svc.with_key("/v1/whoami", &key).await.assert_status(200);
    svc.delete("/api/devices/dev_doesnotexist", &desktop).await.assert_error(404, "not_found");
}

/// Both backends compare emails alike: ASCII letters whatever their case (SQLite's `NOCASE`),
/// other letters as written, so the same people can sign in after a move to PostgreSQL.
#[tokio::test]
async fn emails_match_whatever_the_case_of_ascii_letters_and_other_letters_as_written() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let db = &svc.state.db;
    let hash = keyward_core::hashing::hash_secret(PASSWORD).unwrap();
    db.add_staff(owner.store_id.clone(), "Émile".into(), "émile@acme.test".into(), hash.clone()).await.unwrap();
    let taken = db.add_staff(owner.store_id.clone(), "Emile".into(), "éMILE@ACME.TEST".into(), hash.clone()).await;
    assert!(taken.is_err(), "the same address with its ASCII letters in capitals is taken");
    db.add_staff(owner.store_id.clone(), "Other Émile".into(), "Émile@acme.test".into(), hash).await.unwrap();
    for (typed, name) in [("ÉMILE@ACME.TEST", "Other Émile"), ("émile@Acme.Test", "Émile")] {
        let reply = svc
            .call(Method::POST, "/api/session", None, Some(json!({"email": typed, "password": PASSWORD, "device_name": "x"})))
            .await;
        assert_eq!(reply.assert_status(201)["user"]["name"], name, "{typed}");
    }
}
