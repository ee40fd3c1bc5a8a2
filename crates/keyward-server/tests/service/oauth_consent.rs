//! Authorization with consent (issue 10, parts 3 to 5): the consent page, what approving and
//! denying send back to the app, the code and token rules, and every refusal — each a clear
//! page or an OAuth error, with nothing changed in the database.

use serde_json::json;

use crate::browser::{REDIRECT, VERIFIER, browser, hidden_inputs};
use crate::common::{PASSWORD, Reply, Service, mcp, read};

/// Asserts a page (not a redirect) that says `words`, and that nothing was stored.
#[track_caller]
fn assert_page(reply: &Reply, status: u16, words: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    assert!(reply.header("location").is_none(), "a page, never a redirect");
    assert!(reply.header("content-type").unwrap().starts_with("text/html"));
    assert!(reply.text.contains(words), "the page should say {words:?}: {}", reply.text);
}

#[tokio::test]
async fn the_consent_page_names_the_app_its_host_and_the_store_and_cannot_be_framed() {
    let svc = Service::start().await;
    svc.store("Acme Candles").await;
    let app = svc.register_app("Claude").await;
    let page = svc.open_consent(&svc.authorization_params(&app, &[])).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let policy = page.header("content-security-policy").unwrap();
    for directive in ["default-src 'none'", "frame-ancestors 'none'", "form-action 'self' http://127.0.0.1:9"] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("script-src") && !page.text.contains("<script"), "works without JavaScript");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    for words in ["Claude", "127.0.0.1", "Acme Candles", "Read only", "Read &amp; write", "name=\"connection_code\"", "name=\"email\"",
        "name=\"password\"", "name=\"decision\" value=\"approve\"", "name=\"decision\" value=\"deny\""] {
        assert!(page.text.contains(words), "{words}: {}", page.text);
    }
    assert!(page.text.contains("value=\"read\" checked"), "Read only is preselected");
    assert!(page.text.contains("Unverified app"), "a self-registered name is only a claim");
    let hidden = hidden_inputs(&page.text);
    let names: Vec<&str> = hidden.iter().map(|(k, _)| k.as_str()).collect();
    for name in ["client_id", "redirect_uri", "response_type", "state", "code_challenge", "code_challenge_method", "resource", "csrf_token"] {
        assert!(names.contains(&name), "hidden input {name}: {names:?}");
    }
}

#[tokio::test]
async fn approving_with_a_sign_in_sends_a_code_state_and_issuer_and_the_merchant_picks_the_scope() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let app = svc.register_app("Claude").await;
    // mcp-remote asks for OIDC scopes, others for offline_access: ignored, not refused.
    let page = svc.open_consent(&svc.authorization_params(&app, &[("scope", "openid email profile offline_access")])).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let answer = svc
        .post_consent(&hidden_inputs(&page.text), &[("email", &owner.email), ("password", PASSWORD), ("scope", "write"), ("decision", "approve")])
        .await;
    let location = answer.header("location").unwrap().to_owned();
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    assert_eq!(answer.redirect_param("state").as_deref(), Some("state-123"));
    assert_eq!(answer.redirect_param("iss").as_deref(), Some(svc.base.as_str()));
    let code = answer.redirect_param("code").unwrap();
    let tokens = svc.exchange(&app, &code).await;
    assert_eq!(tokens.assert_status(200)["scope"], "read write");
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    assert_eq!(tokens.body["token_type"], "Bearer");
    let access = tokens.body["access_token"].as_str().unwrap();
    let tools = mcp(&svc, access, 1, "tools/list", json!({})).await;
    assert!(tools.text.contains("set_stock"), "read & write sees the write tools");

    let read_code = svc.approve_as(&app, &owner, "read").await;
    assert_eq!(svc.exchange(&app, &read_code).await.assert_status(200)["scope"], "read");
}

#[tokio::test]
async fn a_read_only_connection_cannot_see_or_call_write_tools() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let grant = svc.connect_app(&session, "Claude", json!({"scopes": ["read"]})).await;
    let tools = mcp(&svc, &grant.access, 1, "tools/list", json!({})).await;
    assert!(!tools.assert_status(200).to_string().contains("set_stock"));
    let before = svc.snapshot().await;
    let call = mcp(&svc, &grant.access, 2, "tools/call", json!({"name": "set_stock", "arguments": {"id": 1, "stock": 5}})).await;
    call.assert_error(403, "insufficient_scope");
    let challenge = format!("Bearer error=\"insufficient_scope\", scope=\"read write\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"", svc.base);
    assert_eq!(call.header("www-authenticate"), Some(challenge.as_str()));
    let rest = read(svc.http.post(format!("{}/v1/raw-materials", svc.base)).bearer_auth(&grant.access).json(&json!({"name": "x", "unit": "kg"})).send().await.unwrap()).await;
    assert_eq!(rest.status, 401, "and the token is for /mcp only: {}", rest.text);
    assert_eq!(svc.snapshot().await.lines().filter(|l| l.starts_with("raw_materials")).count(), before.lines().filter(|l| l.starts_with("raw_materials")).count());
    mcp(&svc, &grant.access, 3, "tools/call", json!({"name": "list_raw_materials", "arguments": {}})).await.assert_status(200);
}

#[tokio::test]
async fn deny_sends_access_denied_with_state_and_issuer_and_stores_nothing() {
    let svc = Service::start().await;
    svc.store("Acme").await;
    let app = svc.register_app("Claude").await;
    let before = svc.snapshot().await;
    let answer = svc.consent(&app, &[("decision", "deny")]).await;
    assert_eq!(answer.redirect_param("error").as_deref(), Some("access_denied"));
    assert_eq!(answer.redirect_param("state").as_deref(), Some("state-123"));
    assert_eq!(answer.redirect_param("iss").as_deref(), Some(svc.base.as_str()));
    assert!(answer.redirect_param("code").is_none());
    assert_eq!(svc.snapshot().await, before);
}

#[tokio::test]
async fn problems_before_the_redirect_uri_is_trusted_are_pages_never_redirects() {
    let svc = Service::start().await;
    let app = svc.register_app("Claude").await;
    let before = svc.snapshot().await;
    let evil = svc.open_consent(&svc.authorization_params(&app, &[("redirect_uri", "https://evil.example/cb")])).await;
    assert_page(&evil, 400, "did not register");
    let unknown = svc.open_consent(&svc.authorization_params(&app, &[("client_id", "cli_nobody")])).await;
    assert_page(&unknown, 400, "not registered");
    let missing = svc.open_consent(&svc.authorization_params(&app, &[("client_id", "")])).await;
    assert_page(&missing, 400, "client_id");
    let private = svc.open_consent(&svc.authorization_params(&app, &[("client_id", "https://127.0.0.1/client.json")])).await;
    assert_eq!(private.status, 400, "a metadata document on this machine is not fetched: {}", private.text);
    assert!(private.header("location").is_none());
    assert_eq!(svc.snapshot().await, before);
}

#[tokio::test]
async fn problems_after_the_redirect_uri_is_trusted_go_back_to_the_app_at_once_only_if_it_is_verified() {
    let svc = Service::start().await;
    let registered = svc.register_app("Claude").await;
    let secret_hash = keyward_server::auth::tokens::digest("kwcs_unused");
    let partner = svc.state.db.register_partner("Acme Analytics".into(), vec![REDIRECT.into()], secret_hash).await.unwrap();
    let partner = crate::browser::App { client_id: partner.id, redirect_uri: REDIRECT.into() };
    let before = svc.snapshot().await;
    let reply = read(browser().get(format!("{}/oauth/authorize", svc.base)).send().await.unwrap()).await;
    assert_page(&reply, 400, "client_id");
    for (changes, error) in [
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", ""), ("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge", "too-short")], "invalid_request"),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("resource", "https://elsewhere.example/mcp")], "invalid_target"),
    ] {
        // A partner the operator registered is sent the error at once (RFC 6749 §4.1.2.1).
        let reply = svc.open_consent(&svc.authorization_params(&partner, &changes)).await;
        assert_eq!(reply.redirect_param("error").as_deref(), Some(error), "{changes:?}");
        assert_eq!(reply.redirect_param("state").as_deref(), Some("state-123"));
        assert_eq!(reply.redirect_param("iss").as_deref(), Some(svc.base.as_str()));
        assert!(reply.redirect_param("error_description").unwrap().ends_with('.'));
        assert!(reply.header("location").unwrap().starts_with(REDIRECT));
        // A self-registered client could point anywhere: the merchant sees the error and a
        // link back, so the service is no open redirector.
        let page = svc.open_consent(&svc.authorization_params(&registered, &changes)).await;
        assert_page(&page, 400, "Nothing was approved");
        let link = page.text.split("<a href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
        assert!(link.starts_with(REDIRECT) && link.contains(&format!("error={error}")) && link.contains("state=state-123"), "{link}");
    }
    assert_eq!(svc.snapshot().await, before);
}

#[tokio::test]
async fn a_wrong_code_or_password_shows_the_page_again_with_the_reason_and_approves_nothing() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let app = svc.register_app("Claude").await;
    let before = svc.snapshot().await;
    let wrong_code = svc.consent(&app, &[("connection_code", "kwcode_made_up"), ("decision", "approve")]).await;
    assert_page(&wrong_code, 400, "connection code is not valid");
    assert!(wrong_code.text.contains("<form method=\"post\""), "the form is shown again");
    let wrong_password = svc.consent(&app, &[("email", &owner.email), ("password", "wrong wrong"), ("decision", "approve")]).await;
    assert_page(&wrong_password, 400, "email or password is wrong");
    assert!(wrong_password.text.contains(&format!("value=\"{}\"", owner.email)), "the email is kept");
    assert!(!wrong_password.text.contains("wrong wrong"), "the password is not");
    let nothing = svc.consent(&app, &[("decision", "approve")]).await;
    assert_page(&nothing, 400, "Paste a connection code, or sign in");
    let bad_scope = svc.consent(&app, &[("email", &owner.email), ("password", PASSWORD), ("scope", "admin"), ("decision", "approve")]).await;
    assert_page(&bad_scope, 400, "Read only or Read &amp; write");
    assert_eq!(svc.snapshot().await, before);
}

#[tokio::test]
async fn a_forged_or_tampered_form_approves_nothing() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let app = svc.register_app("Claude").await;
    let page = svc.open_consent(&svc.authorization_params(&app, &[])).await;
    let hidden = hidden_inputs(&page.text);
    let signed_in = [("email", owner.email.as_str()), ("password", PASSWORD), ("decision", "approve")];
    let before = svc.snapshot().await;

    let forged: Vec<(String, String)> = hidden.iter().map(|(k, v)| if k == "csrf_token" { (k.clone(), "9999999999.Zm9yZ2Vk".into()) } else { (k.clone(), v.clone()) }).collect();
    assert_page(&svc.post_consent(&forged, &signed_in).await, 400, "not made by this service");
    let without: Vec<(String, String)> = hidden.iter().filter(|(k, _)| k != "csrf_token").cloned().collect();
    assert_page(&svc.post_consent(&without, &signed_in).await, 400, "not made by this service");
    // The token is bound to the request: another PKCE challenge (an attacker's) does not fit.
    let swapped: Vec<(String, String)> = hidden.iter().map(|(k, v)| if k == "code_challenge" { (k.clone(), "A".repeat(43)) } else { (k.clone(), v.clone()) }).collect();
    assert_page(&svc.post_consent(&swapped, &signed_in).await, 400, "not made by this service");
    // A cross-site post, as a browser labels it.
    let mut form = hidden.clone();
    form.extend(signed_in.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let cross = read(browser().post(format!("{}/oauth/authorize", svc.base)).header("origin", "https://evil.example").form(&form).send().await.unwrap()).await;
    assert_page(&cross, 403, "another website");
    // Malformed and oversized forms.
    let repeated = read(browser().post(format!("{}/oauth/authorize", svc.base)).header("content-type", "application/x-www-form-urlencoded").body("client_id=a&client_id=b").send().await.unwrap()).await;
    assert_page(&repeated, 400, "could not be read");
    let huge = read(browser().post(format!("{}/oauth/authorize", svc.base)).form(&[("state", "x".repeat(100_000))]).send().await.unwrap()).await;
    assert_eq!(huge.status, 413, "{}", huge.text);
    assert_eq!(svc.snapshot().await, before);

    let sandboxed = read(browser().post(format!("{}/oauth/authorize", svc.base)).header("origin", "null").form(&form).send().await.unwrap()).await;
    assert_page(&sandboxed, 403, "another website");
    assert_eq!(svc.snapshot().await, before);

    // The genuine form still works, as a browser posts it from the page (its own origin).
    assert_eq!(page.header("referrer-policy"), Some("same-origin"), "so the browser sends the page's origin with the post");
    let answer = read(browser().post(format!("{}/oauth/authorize", svc.base)).header("origin", &svc.base).form(&form).send().await.unwrap()).await;
    assert!(answer.redirect_param("code").is_some());
}

#[tokio::test]
async fn a_code_is_bound_to_its_verifier_client_redirect_and_resource() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let app = svc.register_app("Claude").await;
    let other = svc.register_app("Other").await;
    let code = svc.approve_as(&app, &owner, "read").await;
    let resource = svc.resource();
    let before = svc.snapshot().await;
    let attempt = |verifier: &'static str, client: String, redirect: &'static str, resource: String| {
        let code = code.clone();
        let svc = &svc;
        async move {
            svc.token_request(&[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", verifier), ("client_id", &client),
                ("redirect_uri", redirect), ("resource", &resource)]).await
        }
    };
    attempt("wrong-verifier-wrong-verifier-wrong-verifier-wrong", app.client_id.clone(), REDIRECT, resource.clone()).await.assert_oauth_error(400, "invalid_grant");
    attempt(VERIFIER, other.client_id.clone(), REDIRECT, resource.clone()).await.assert_oauth_error(400, "invalid_grant");
    attempt(VERIFIER, app.client_id.clone(), "http://127.0.0.1:9/elsewhere", resource.clone()).await.assert_oauth_error(400, "invalid_grant");
    attempt(VERIFIER, app.client_id.clone(), REDIRECT, "https://elsewhere.example/mcp".into()).await.assert_oauth_error(400, "invalid_target");
    assert_eq!(svc.snapshot().await, before, "a refused exchange changes nothing (the code still works)");
    svc.exchange(&app, &code).await.assert_status(200);
}

#[tokio::test]
async fn a_code_expires_after_a_minute() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let app = svc.register_app("Claude").await;
    let code = svc.approve_as(&app, &owner, "read").await;
    let lifetime: i64 = svc.sql_value("SELECT expires_at - (SELECT MAX(created_at) FROM oauth_clients) FROM authorization_codes", &[]).await.unwrap();
    assert!(lifetime <= 61, "codes live at most 60 seconds: {lifetime}");
    svc.sql("UPDATE authorization_codes SET expires_at = expires_at - 61", &[]).await;
    let before = svc.snapshot().await;
    let expired = svc.exchange(&app, &code).await;
    expired.assert_oauth_error(400, "invalid_grant");
    assert!(expired.body["error_description"].as_str().unwrap().contains("expired"));
    assert_eq!(svc.snapshot().await, before);
}

#[tokio::test]
async fn a_connection_code_used_twice_on_the_consent_page_revokes_what_it_made() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let app = svc.register_app("Claude").await;
    let connection_code = svc.post("/api/connections/codes", &session, json!({})).await.body["code"].as_str().unwrap().to_owned();
    let first = svc.consent(&app, &[("connection_code", &connection_code), ("decision", "approve")]).await;
    let tokens = svc.exchange(&app, &first.redirect_param("code").unwrap()).await;
    let access = tokens.assert_status(200)["access_token"].as_str().unwrap().to_owned();
    mcp(&svc, &access, 1, "tools/list", json!({})).await.assert_status(200);
    let again = svc.consent(&app, &[("connection_code", &connection_code), ("decision", "approve")]).await;
    assert_page(&again, 400, "already used");
    mcp(&svc, &access, 2, "tools/list", json!({})).await.assert_error(401, "connection_revoked");
}

#[tokio::test]
async fn a_token_reaches_only_the_store_that_approved_it() {
    let svc = Service::start().await;
    let a = svc.store("Store A").await;
    let b = svc.store("Store B").await;
    let session_b = svc.login(&b, "laptop").await;
    svc.post("/v1/raw-materials", &svc.create_key(&session_b, json!({"name": "w", "scopes": ["read", "write"]})).await.1, json!({"name": "B's secret flour", "unit": "kg"})).await;
    let app = svc.register_app("Claude").await;
    let code = svc.approve_as(&app, &a, "write").await;
    let access = svc.exchange(&app, &code).await.body["access_token"].as_str().unwrap().to_owned();
    let listed = mcp(&svc, &access, 1, "tools/call", json!({"name": "list_raw_materials", "arguments": {}})).await;
    assert!(!listed.assert_status(200).to_string().contains("B's secret flour"));
    let b_id: i64 = svc.sql_value("SELECT id FROM raw_materials WHERE store_id = $1", &[&b.store_id]).await.unwrap();
    let reached = mcp(&svc, &access, 2, "tools/call", json!({"name": "set_stock", "arguments": {"id": b_id, "stock": 0}})).await;
    assert_eq!(reached.body["result"]["isError"], true, "{}", reached.text);
}

#[tokio::test]
async fn a_retried_refresh_is_answered_again_and_retires_the_first_answer_so_one_chain_lives() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let grant = svc.connect_app(&session, "Claude", json!({})).await;
    let first = svc.refresh(&grant.app, &grant.refresh).await;
    let (first_access, first_refresh) = (first.assert_status(200)["access_token"].as_str().unwrap().to_owned(), first.body["refresh_token"].as_str().unwrap().to_owned());
    // The answer was lost on the way; the app retries at once with the same token.
    let retry = svc.refresh(&grant.app, &grant.refresh).await;
    let access = retry.assert_status(200)["access_token"].as_str().unwrap().to_owned();
    let next = retry.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(access, first_access);
    mcp(&svc, &access, 1, "tools/list", json!({})).await.assert_status(200);
    mcp(&svc, &first_access, 2, "tools/list", json!({})).await.assert_status(401);
    // Another client cannot use the live token at all (and does not end the connection).
    let other = svc.register_app("Other").await;
    svc.refresh(&other, &next).await.assert_oauth_error(400, "invalid_grant");
    mcp(&svc, &access, 3, "tools/list", json!({})).await.assert_status(200);
    // Whoever holds the first answer's refresh token holds a retired one: using it is a
    // replay, and the connection ends.
    svc.refresh(&grant.app, &first_refresh).await.assert_oauth_error(400, "invalid_grant");
    mcp(&svc, &access, 4, "tools/list", json!({})).await.assert_error(401, "connection_revoked");

    // Once the chain has moved on, the old token is a replay even inside the window.
    let grant = svc.connect_app(&session, "Claude", json!({})).await;
    let moved = svc.refresh(&grant.app, &grant.refresh).await;
    let moved_on = svc.refresh(&grant.app, moved.body["refresh_token"].as_str().unwrap()).await;
    let latest = moved_on.assert_status(200)["access_token"].as_str().unwrap().to_owned();
    svc.refresh(&grant.app, &grant.refresh).await.assert_oauth_error(400, "invalid_grant");
    mcp(&svc, &latest, 5, "tools/list", json!({})).await.assert_error(401, "connection_revoked");
}

#[tokio::test]
async fn a_confidential_client_must_authenticate_and_may_use_basic_or_the_form() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let registered = read(svc.http.post(format!("{}/oauth/register", svc.base))
        .json(&json!({"client_name": "Claude", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post"}))
        .send().await.unwrap()).await;
    let id = registered.assert_status(201)["client_id"].as_str().unwrap().to_owned();
    let secret = registered.body["client_secret"].as_str().unwrap().to_owned();
    let app = crate::browser::App { client_id: id.clone(), redirect_uri: REDIRECT.into() };
    let code = svc.approve_as(&app, &owner, "read").await;
    let resource = svc.resource();
    let exchange = |auth: Option<(&str, &str)>, form_secret: Option<&str>| {
        let mut form = vec![("grant_type", "authorization_code".to_owned()), ("code", code.clone()), ("code_verifier", VERIFIER.to_owned()),
            ("redirect_uri", REDIRECT.to_owned()), ("resource", resource.clone())];
        if let Some(secret) = form_secret {
            form.push(("client_id", id.clone()));
            form.push(("client_secret", secret.to_owned()));
        }
        let mut request = svc.http.post(format!("{}/oauth/token", svc.base));
        match auth {
            Some((user, password)) => request = request.basic_auth(user, Some(password)),
            None if form_secret.is_none() => form.push(("client_id", id.clone())),
            None => {}
        }
        async move { read(request.form(&form).send().await.unwrap()).await }
    };
    let before = svc.snapshot().await;
    exchange(None, None).await.assert_oauth_error(401, "invalid_client");
    exchange(None, Some("kwcs_wrong")).await.assert_oauth_error(401, "invalid_client");
    let basic_wrong = exchange(Some((&id, "kwcs_wrong")), None).await;
    basic_wrong.assert_oauth_error(401, "invalid_client");
    assert_eq!(basic_wrong.header("www-authenticate"), Some("Basic realm=\"keyward\""));
    exchange(Some((&id, &secret)), Some(&secret)).await.assert_oauth_error(400, "invalid_request");
    assert_eq!(svc.snapshot().await, before);
    let tokens = exchange(Some((&id, &secret)), None).await;
    tokens.assert_status(200);
    let refresh = tokens.body["refresh_token"].as_str().unwrap();
    let refreshed = read(svc.http.post(format!("{}/oauth/token", svc.base))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", &id), ("client_secret", &secret)])
        .send().await.unwrap()).await;
    refreshed.assert_status(200);
}

#[tokio::test]
async fn an_app_can_give_its_tokens_back() {
    let (svc, _, session) = Service::with_owner_signed_in("Acme", "laptop").await;
    let grant = svc.connect_app(&session, "Claude", json!({})).await;
    let revoke = |token: String, client: String| {
        let svc = &svc;
        async move { read(svc.http.post(format!("{}/oauth/revoke", svc.base)).form(&[("token", token), ("client_id", client)]).send().await.unwrap()).await }
    };
    // Another client's revocation of this token is refused and does nothing.
    let other = svc.register_app("Other").await;
    revoke(grant.refresh.clone(), other.client_id.clone()).await.assert_oauth_error(400, "unauthorized_client");
    mcp(&svc, &grant.access, 1, "tools/list", json!({})).await.assert_status(200);
    // An unknown token: 200, nothing happens.
    assert_eq!(revoke("kwrt_unknown".into(), grant.app.client_id.clone()).await.status, 200);
    // The access token alone.
    assert_eq!(revoke(grant.access.clone(), grant.app.client_id.clone()).await.status, 200);
    mcp(&svc, &grant.access, 2, "tools/list", json!({})).await.assert_status(401);
    let refreshed = svc.refresh(&grant.app, &grant.refresh).await;
    let access = refreshed.assert_status(200)["access_token"].as_str().unwrap().to_owned();
    let refresh = refreshed.body["refresh_token"].as_str().unwrap().to_owned();
    // The refresh token ends the connection.
    assert_eq!(revoke(refresh.clone(), grant.app.client_id.clone()).await.status, 200);
    mcp(&svc, &access, 3, "tools/list", json!({})).await.assert_error(401, "connection_revoked");
    svc.refresh(&grant.app, &refresh).await.assert_oauth_error(400, "invalid_grant");
    let listed = svc.get("/api/connections", &session).await;
    assert!(listed.body["connections"][0]["revoked_at"].is_string());
    read(svc.http.post(format!("{}/oauth/revoke", svc.base)).form(&[("token", "x")]).send().await.unwrap()).await.assert_oauth_error(401, "invalid_client");
}

#[tokio::test]
async fn claude_ai_and_chatgpt_are_known_without_fetching_their_documents() {
    let svc = Service::start().await;
    svc.store("Acme").await;
    for (client_id, redirect, name) in [
        ("https://claude.ai/oauth/mcp-oauth-client-metadata", "https://claude.ai/api/mcp/auth_callback", "Claude"),
        ("https://claude.ai/oauth/mcp-oauth-client-metadata", "https://claude.com/api/mcp/auth_callback", "Claude"),
        ("https://chatgpt.com/oauth/client.json", "https://chatgpt.com/connector_platform_oauth_redirect", "ChatGPT"),
    ] {
        let app = crate::browser::App { client_id: client_id.into(), redirect_uri: redirect.into() };
        let page = svc.open_consent(&svc.authorization_params(&app, &[])).await;
        assert_eq!(page.status, 200, "{client_id}: {}", page.text);
        assert!(page.text.contains(name) && page.text.contains(url::Url::parse(redirect).unwrap().host_str().unwrap()));
        assert!(!page.text.contains("Unverified app"), "pinned clients are who they say");
        let elsewhere = svc.open_consent(&svc.authorization_params(&app, &[("redirect_uri", "https://evil.example/callback")])).await;
        assert_page(&elsewhere, 400, "did not register");
    }
}

#[tokio::test]
async fn a_partner_gets_a_per_store_token_through_the_same_consent_and_is_listed_as_a_partner() {
    let svc = Service::start().await;
    let a = svc.store("Store A").await;
    let b = svc.store("Store B").await;
    let session_a = svc.login(&a, "laptop").await;
    let session_b = svc.login(&b, "laptop").await;
    let (_, key_b) = svc.create_key(&session_b, json!({"name": "w", "scopes": ["read", "write"]})).await;
    svc.post("/v1/raw-materials", &key_b, json!({"name": "B's flour", "unit": "kg"})).await.assert_status(201);
    let secret = "kwcs_partner_secret_for_the_test_0123456789abcdef";
    let partner = svc.state.db.register_partner("Acme Analytics".into(), vec![REDIRECT.into()], keyward_server::auth::tokens::digest(secret)).await.unwrap();
    let app = crate::browser::App { client_id: partner.id.clone(), redirect_uri: REDIRECT.into() };

    let page = svc.open_consent(&svc.authorization_params(&app, &[])).await;
    assert!(page.text.contains("a partner app registered by the operator"), "{}", page.text);
    let code = svc.approve_as(&app, &a, "write").await;
    let resource = svc.resource();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("code_verifier", VERIFIER), ("redirect_uri", REDIRECT), ("resource", resource.as_str())];
    let no_secret = svc.token_request(&[form.as_slice(), &[("client_id", partner.id.as_str())]].concat()).await;
    no_secret.assert_oauth_error(401, "invalid_client");
    let tokens = read(svc.http.post(format!("{}/oauth/token", svc.base)).basic_auth(&partner.id, Some(secret)).form(&form).send().await.unwrap()).await;
    let access = tokens.assert_status(200)["access_token"].as_str().unwrap().to_owned();

    let listed = mcp(&svc, &access, 1, "tools/call", json!({"name": "list_raw_materials", "arguments": {}})).await;
    assert!(!listed.assert_status(200).to_string().contains("B's flour"), "store A's token sees only store A");
    let connection = svc.get("/api/connections", &session_a).await.body["connections"][0].clone();
    assert_eq!(connection["app_name"], "Acme Analytics");
    assert_eq!(connection["kind"], "partner");
    assert_eq!(connection["redirect_host"], "127.0.0.1");
    assert_eq!(svc.get("/api/connections", &session_b).await.body["connections"], json!([]));
    svc.delete(&format!("/api/connections/{}", connection["id"].as_str().unwrap()), &session_a).await.assert_status(200);
    mcp(&svc, &access, 2, "tools/list", json!({})).await.assert_error(401, "connection_revoked");
}

#[tokio::test]
async fn one_address_cannot_make_the_service_fetch_client_documents_in_bulk() {
    let svc = Service::start().await;
    let app = crate::browser::App { client_id: "https://10.0.0.1/client.json".into(), redirect_uri: "https://app.example/cb".into() };
    for _ in 0..20 {
        let refused = svc.open_consent(&svc.authorization_params(&app, &[])).await;
        assert_page(&refused, 400, "");
    }
    assert_page(&svc.open_consent(&svc.authorization_params(&app, &[])).await, 429, "Too many apps were looked up from this address");
    // Pinned clients are never fetched, so they are not limited.
    let claude = crate::browser::App { client_id: "https://claude.ai/oauth/mcp-oauth-client-metadata".into(), redirect_uri: "https://claude.ai/api/mcp/auth_callback".into() };
    assert_eq!(svc.open_consent(&svc.authorization_params(&claude, &[])).await.status, 200);
}

#[tokio::test]
async fn a_sign_in_approval_made_stale_by_a_password_change_or_removal_approves_nothing() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let staff = svc.staff(&owner, "Sam Staff").await;
    let staff_id: String = svc.sql_value("SELECT id FROM users WHERE email = $1", &[&staff.email]).await.unwrap();
    let checked: String = svc.sql_value("SELECT password_hash FROM users WHERE email = $1", &[&staff.email]).await.unwrap();
    let code = |n: u8| keyward_server::db::NewAuthorizationCode {
        code_hash: vec![n; 32],
        client_id: "cli_x".into(),
        app_name: "Claude".into(),
        kind: "web_chat",
        redirect_uri: REDIRECT.into(),
        code_challenge: crate::browser::CHALLENGE.into(),
        resource: svc.resource(),
    };
    let approve = |hash: String, n: u8| svc.state.db.approve_as_member(staff_id.clone(), hash, owner.store_id.clone(), keyward_core::Scopes::read_write(), code(n));
    // The password changed while the one typed on the consent page was being checked.
    let stale = approve("$argon2id$v=19$m=19456,t=2,p=1$b2xk$b2xk".into(), 1).await;
    assert!(matches!(stale, Err(keyward_server::db::DbError::CredentialsChanged)), "{stale:?}");
    // The member was removed meanwhile.
    svc.sql("UPDATE users SET removed_at = 1 WHERE id = $1", &[&staff_id]).await;
    let removed = approve(checked.clone(), 2).await;
    assert!(matches!(removed, Err(keyward_server::db::DbError::CredentialsChanged)), "{removed:?}");
    let codes: i64 = svc.sql_value("SELECT COUNT(*) FROM authorization_codes", &[]).await.unwrap();
    assert_eq!(codes, 0, "nothing was approved");
    svc.sql("UPDATE users SET removed_at = NULL WHERE id = $1", &[&staff_id]).await;
    approve(checked, 3).await.unwrap();
}

#[tokio::test]
async fn a_code_approved_by_a_device_or_person_gone_before_the_exchange_is_refused() {
    let svc = Service::start().await;
    let owner = svc.store("Acme").await;
    let staff = svc.staff(&owner, "Sam Staff").await;
    let laptop = svc.login(&owner, "Lost laptop").await;
    let desktop = svc.login(&owner, "Desktop").await;
    let app = svc.register_app("Claude").await;

    // Approved with a code the laptop made; the laptop is signed out (lost) before the app trades it.
    let code = svc.approve_with_new_code(&app, &laptop, json!({})).await;
    let devices = svc.get("/api/devices", &desktop).await.body["devices"].clone();
    let lost = devices.as_array().unwrap().iter().find(|d| d["name"] == "Lost laptop").unwrap()["id"].as_str().unwrap().to_owned();
    svc.delete(&format!("/api/devices/{lost}?revoke_keys=true"), &desktop).await.assert_status(200);
    svc.exchange(&app, &code).await.assert_oauth_error(400, "invalid_grant");

    // Approved by a member who signed in on the page, then was removed from the staff.
    let code = svc.approve_as(&app, &staff, "read").await;
    let members = svc.get("/api/staff", &desktop).await.body.clone();
    let sam = members.to_string();
    let sam_id = members["staff"].as_array().unwrap().iter().find(|m| m["email"] == staff.email).unwrap_or_else(|| panic!("{sam}"))["id"].as_str().unwrap().to_owned();
    svc.delete(&format!("/api/staff/{sam_id}"), &desktop).await.assert_status(200);
    svc.exchange(&app, &code).await.assert_oauth_error(400, "invalid_grant");
    assert_eq!(svc.get("/api/connections", &desktop).await.body["connections"], json!([]), "nothing was connected");
}
