//! The store's lifecycle: subscription state, uninstall, and the OpenAPI document.

use serde_json::json;

use crate::common::{Service, read};

#[tokio::test]
async fn an_inactive_subscription_stops_keys_and_connected_apps_with_403_until_renewed() {
    let (svc, owner, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (_, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    let app = svc.connect_app(&session, "Claude", json!({})).await;
    svc.with_key("/v1/whoami", &key).await.assert_status(200);
    svc.state.db.set_subscription(owner.store_id.clone(), false).await.unwrap();
    svc.with_key("/v1/raw-materials", &key).await.assert_error(403, "subscription_inactive");
    crate::common::mcp(&svc, &app.access, 1, "tools/list", json!({})).await.assert_error(403, "subscription_inactive");
    // Managing keys still works, so a merchant can clean up while renewing.
    svc.get("/api/keys", &session).await.assert_status(200);
    svc.state.db.set_subscription(owner.store_id.clone(), true).await.unwrap();
    svc.with_key("/v1/whoami", &key).await.assert_status(200);
    crate::common::mcp(&svc, &app.access, 2, "tools/list", json!({})).await.assert_status(200);
}

#[tokio::test]
async fn uninstall_invalidates_every_key_connection_and_session() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let staff = svc.staff(&owner, "Sam Staff").await;
    let other = svc.store("Other").await;
    let session = svc.login(&owner, "laptop").await;
    let staff_session = svc.login(&staff, "pc").await;
    let other_session = svc.login(&other, "laptop").await;
    let (_, key) = svc.create_key(&session, json!({"name": "bot"})).await;
    let (_, other_key) = svc.create_key(&other_session, json!({"name": "bot"})).await;
    let grant = svc.connect_app(&session, "Claude", json!({})).await;

    svc.delete("/api/store", &staff_session).await.assert_error(403, "owner_only");
    svc.with_key("/v1/whoami", &key).await.assert_status(200);
    svc.delete("/api/store", &session).await.assert_status(204);

    svc.with_key("/v1/whoami", &key).await.assert_error(401, "store_uninstalled");
    crate::common::mcp(&svc, &grant.access, 1, "tools/list", json!({})).await.assert_error(401, "store_uninstalled");
    svc.refresh(&grant.app, &grant.refresh).await.assert_oauth_error(400, "invalid_grant");
    svc.get("/api/keys", &session).await.assert_error(401, "invalid_session");
    svc.get("/api/keys", &staff_session).await.assert_error(401, "invalid_session");
    let relogin = svc
        .call(reqwest::Method::POST, "/api/session", None, Some(json!({"email": owner.email, "password": crate::common::PASSWORD, "device_name": "x"})))
        .await;
    relogin.assert_error(403, "store_uninstalled");
    // Other stores are untouched.
    svc.with_key("/v1/whoami", &other_key).await.assert_status(200);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let svc = Service::start().await;
    let reply = read(svc.http.get(format!("{}/openapi.json", svc.base)).send().await.unwrap()).await;
    let doc = reply.assert_status(200);
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/session", "/api/devices", "/api/devices/{id}", "/api/keys", "/api/keys/{id}", "/api/keys/{id}/rotate",
        "/api/audit", "/api/connections", "/api/connections/{id}", "/api/connections/codes", "/api/mirror", "/api/store",
        "/oauth/token", "/oauth/authorize", "/oauth/revoke", "/oauth/register", "/.well-known/oauth-authorization-server",
        "/v1/whoami", "/v1/raw-materials", "/v1/raw-materials/{id}", "/v1/boms", "/v1/boms/{id}",
    ] {
        assert!(paths.contains_key(path), "{path} is missing from /openapi.json");
    }
    assert!(paths["/api/keys"]["post"]["responses"]["409"].is_object());
    assert!(doc["components"]["schemas"]["KeyRecord"].is_object());
    assert!(paths["/mcp"]["post"].is_object(), "/mcp is documented beside its route");
}

#[tokio::test]
async fn the_openapi_document_describes_every_time_as_an_rfc_3339_string() {
    let svc = Service::start().await;
    let doc = read(svc.http.get(format!("{}/openapi.json", svc.base)).send().await.unwrap()).await.assert_status(200).clone();
    let schemas = &doc["components"]["schemas"];
    // A time is written in place or refers to the one Timestamp schema; either way a string
    // in date-time format.
    let resolve = |schema: &serde_json::Value| -> serde_json::Value {
        let found = match schema["oneOf"].as_array() {
            Some(choices) => choices.iter().find(|s| s["type"] != "null").cloned().unwrap_or_default(),
            None => schema.clone(),
        };
        match found["$ref"].as_str() {
            Some(reference) => schemas[reference.trim_start_matches("#/components/schemas/")].clone(),
            None => found,
        }
    };
    for (schema, field) in [("KeyRecord", "created_at"), ("KeyRecord", "revoked_at"), ("AuditEvent", "at"), ("Device", "last_seen_at")] {
        let time = resolve(&schemas[schema]["properties"][field]);
        // `"string"`, or `["string", "null"]` for a time that may be absent.
        let string = time["type"] == "string" || time["type"].as_array().is_some_and(|types| types.iter().any(|t| t == "string"));
        assert!(string && time["format"] == "date-time", "{schema}.{field}: {time}");
    }
}
