//! `POST /mcp`: the Model Context Protocol for keys. A read-only key neither sees nor can call
//! write tools; revocation holds on the next call.

use serde_json::json;

use crate::common::{Service, mcp};

fn tool_names(reply: &crate::common::Reply) -> Vec<String> {
    reply.body["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn initialize_then_list_and_call_tools_over_streamable_http() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (_, key) = svc.create_key(&session, json!({"name": "assistant", "scopes": ["read", "write"]})).await;

    let init = mcp(&svc, &key, 1, "initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}})).await;
    init.assert_status(200);
    assert_eq!(init.body["id"], 1);
    assert_eq!(init.body["result"]["serverInfo"]["name"], "keyward");
    assert!(init.body["result"]["capabilities"]["tools"].is_object());

    let listed = mcp(&svc, &key, 2, "tools/list", json!({})).await;
    let names = tool_names(&listed);
    for expected in ["list_raw_materials", "get_bom", "create_raw_material", "set_stock", "create_bom"] {
        assert!(names.contains(&expected.to_owned()), "{names:?}");
    }

    let created = mcp(&svc, &key, 3, "tools/call", json!({"name": "create_raw_material", "arguments": {"name": "Cork", "unit": "kg", "stock": 7}})).await;
    assert_eq!(created.body["result"]["isError"], false, "{}", created.text);
    let id = created.body["result"]["structuredContent"]["result"]["id"].as_i64().unwrap();
    let set = mcp(&svc, &key, 4, "tools/call", json!({"name": "set_stock", "arguments": {"id": id, "stock": 2}})).await;
    assert_eq!(set.body["result"]["structuredContent"]["result"]["stock"], 2.0);
    let got = mcp(&svc, &key, 5, "tools/call", json!({"name": "list_raw_materials", "arguments": {}})).await;
    assert!(got.body["result"]["content"][0]["text"].as_str().unwrap().contains("Cork"));

    // A tool's own failure is a result the assistant can read, not a protocol error.
    let bad = mcp(&svc, &key, 6, "tools/call", json!({"name": "set_stock", "arguments": {"id": id, "stock": -1}})).await;
    assert_eq!(bad.body["result"]["isError"], true);
    assert!(bad.body["result"]["content"][0]["text"].as_str().unwrap().contains("zero or more"));
}

#[tokio::test]
async fn a_read_only_key_neither_sees_nor_calls_write_tools() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (_, key) = svc.create_key(&session, json!({"name": "assistant"})).await;
    let listed = mcp(&svc, &key, 1, "tools/list", json!({})).await;
    let names = tool_names(&listed);
    assert_eq!(names, vec!["list_raw_materials", "get_raw_material", "list_boms", "get_bom"]);
    let before = svc.snapshot().await;
    let refused = mcp(&svc, &key, 2, "tools/call", json!({"name": "create_raw_material", "arguments": {"name": "X", "unit": "kg"}})).await;
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("read only"), "{}", refused.text);
    assert!(refused.body.get("result").is_none());
    assert_eq!(svc.snapshot().await, before);
}

#[tokio::test]
async fn mcp_needs_a_key_and_honours_revocation_on_the_next_call() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (id, key) = svc.create_key(&session, json!({"name": "assistant"})).await;
    mcp(&svc, "", 1, "tools/list", json!({})).await.assert_error(401, "missing_credentials");
    mcp(&svc, &key, 1, "tools/list", json!({})).await.assert_status(200);
    svc.delete(&format!("/api/keys/{id}"), &session).await.assert_status(200);
    mcp(&svc, &key, 2, "tools/call", json!({"name": "list_boms", "arguments": {}})).await.assert_error(401, "key_revoked");
}

#[tokio::test]
async fn transport_errors_on_mcp_get_the_json_error_body() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let (_, key) = svc.create_key(&session, json!({"name": "assistant"})).await;
    let post = |body: &'static str, accept: &'static str, content_type: &'static str| {
        let request = svc
            .http
            .post(format!("{}/mcp", svc.base))
            .header("x-api-key", key.clone())
            .header("accept", accept)
            .header("content-type", content_type)
            .body(body);
        async move { crate::common::read(request.send().await.unwrap()).await }
    };
    let both = "application/json, text/event-stream";
    post("garbage", both, "application/json").await.assert_error(415, "invalid_mcp_request");
    post("[]", both, "application/json").await.assert_error(415, "invalid_mcp_request");
    post("{}", both, "text/plain").await.assert_error(415, "invalid_mcp_request");
    post(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, "application/json", "application/json").await.assert_error(406, "not_acceptable");
    let huge: &'static str = Box::leak(format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"x":"{}"}}}}"#, "a".repeat(100_000)).into_boxed_str());
    post(huge, both, "application/json").await.assert_error(413, "payload_too_large");
    let get = crate::common::read(svc.http.get(format!("{}/mcp", svc.base)).header("x-api-key", &key).header("accept", both).send().await.unwrap()).await;
    get.assert_error(405, "method_not_allowed");
    // A JSON-RPC notification is accepted without a body.
    let note = post(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, both, "application/json").await;
    assert_eq!(note.status.as_u16(), 202);
}
