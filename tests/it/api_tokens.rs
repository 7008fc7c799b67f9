//! Personal API tokens: created on the account page and shown once, stored hashed,
//! listed with their last use, revocable; a token authenticates as its person with their
//! current role, and a dead token is a 401 with the API's error body.

use crate::harness::{Page, TestApp};
use portfolio_tracker::domain::auth::Role;
use portfolio_tracker::domain::records::api_token::TokenForm;
use portfolio_tracker::store::audit::Actor;
use portfolio_tracker::store::tokens;
use sha2::{Digest, Sha256};

/// Mints a token for `email` as the account page would.
pub async fn token_for(app: &TestApp, email: &str, role: Role, write: bool) -> (i64, String) {
    let user_id = app.user_id(email).await;
    let form = TokenForm {
        name: "test script".into(),
        days: "30".into(),
        write: write.then(|| "on".into()),
    };
    let fields = form.validate(role).expect("a valid token form");
    let actor = Actor {
        id: Some(user_id),
        email: email.to_string(),
        token_id: None,
    };
    let made = tokens::create(&app.db.pool, &actor, user_id, &fields)
        .await
        .expect("create a token");
    (made.row.id, made.secret)
}

/// GET with a bearer token: status and JSON body.
pub async fn get_with(app: &TestApp, token: &str, path: &str) -> (u16, serde_json::Value) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_token_is_shown_once_and_only_its_hash_is_stored() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let (status, _, body) = admin
        .post(
            "/account/tokens",
            &[("name", "nightly report"), ("days", "30"), ("write", "on")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let secret = Page::parse(&body).text_of("#new-token");
    assert!(secret.starts_with("pt_") && secret.len() == 46, "{secret}");

    let (hash, prefix, can_write): (Vec<u8>, String, bool) =
        sqlx::query_as("SELECT token_hash, prefix, can_write FROM api_tokens")
            .fetch_one(&app.db.pool)
            .await
            .expect("one token row");
    assert_eq!(hash, Sha256::digest(secret.as_bytes()).to_vec());
    assert!(secret.starts_with(&prefix) && prefix.len() < 12);
    assert!(can_write);
    let dump: String = sqlx::query_scalar("SELECT string_agg(t::text, ' ') FROM api_tokens t")
        .fetch_one(&app.db.pool)
        .await
        .expect("dump");
    assert!(!dump.contains(&secret[3..]), "the secret is not stored");
    let (entity, summary): (String, String) = sqlx::query_as(
        "SELECT entity, summary FROM audit_log WHERE summary LIKE 'Created API token%'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("the creation is audited");
    assert_eq!(entity, "user", "an account matter, not a portfolio change");
    assert!(summary.contains("nightly report") && summary.contains("read-write"));

    let (_, listed) = admin.get("/account/tokens").await;
    assert!(!listed.contains(&secret), "shown once only");
    let page = Page::parse(&listed);
    assert!(page.text_of("#tokens").contains("nightly report"));
    assert!(page.text_of("#tokens").contains("read-write"));
    assert!(page.text_of("#tokens").contains("never"), "not used yet");

    let (status, _) = crate::api_tokens::get_with(&app, &secret, "/api/v1/items").await;
    assert_eq!(status, 200);
    let (_, listed) = admin.get("/account/tokens").await;
    assert!(
        !Page::parse(&listed).text_of("#tokens").contains("never"),
        "its last use is listed"
    );
}

#[tokio::test]
async fn a_viewer_cannot_have_a_read_write_token() {
    let app = TestApp::spawn().await;
    let viewer = app.signed_in(Role::Viewer).await;
    let (status, _, body) = viewer
        .post(
            "/account/tokens",
            &[("name", "sneaky"), ("days", "30"), ("write", "on")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("only administrators edit records"), "{body}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM api_tokens")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_token_reads_as_its_person() {
    let app = TestApp::spawn().await;
    let email = "script@example.org";
    app.create_user(email, Role::Viewer).await;
    let (_, token) = token_for(&app, email, Role::Viewer, false).await;
    let (status, body) = get_with(&app, &token, "/api/v1/items/guinea-bissau").await;
    assert_eq!(status, 200);
    assert_eq!(body["budget_usd"], "19000000.00");
    assert!(body.get("internal_notes").is_none(), "a viewer's token");
}

#[tokio::test]
async fn revoked_expired_and_unknown_tokens_are_refused_with_401() {
    let app = TestApp::spawn().await;
    let (email, viewer) = app.signed_in_with_email(Role::Viewer).await;
    let (id, token) = token_for(&app, &email, Role::Viewer, false).await;
    let (_, expiring) = token_for(&app, &email, Role::Viewer, false).await;
    assert_eq!(get_with(&app, &token, "/api/v1/places").await.0, 200);

    let (status, location, _) = viewer
        .post(&format!("/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/account/tokens?done=revoked")
    );
    let (status, body) = get_with(&app, &token, "/api/v1/places").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");

    sqlx::query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id <> $1")
        .bind(id)
        .execute(&app.db.pool)
        .await
        .expect("expire");
    assert_eq!(get_with(&app, &expiring, "/api/v1/places").await.0, 401);
    let unknown = format!("pt_{}", "A".repeat(43));
    assert_eq!(get_with(&app, &unknown, "/api/v1/places").await.0, 401);
    assert_eq!(get_with(&app, "nonsense", "/api/v1/places").await.0, 401);
}

#[tokio::test]
async fn a_token_never_outlives_its_persons_access() {
    let app = TestApp::spawn().await;
    let email = "leaver@example.org";
    app.create_user(email, Role::Staff).await;
    let (_, token) = token_for(&app, email, Role::Staff, false).await;
    sqlx::query("UPDATE items SET published = false WHERE slug = 'smart'")
        .execute(&app.db.pool)
        .await
        .expect("make a draft");
    app.dashboards_rebuilt().await;
    assert_eq!(
        get_with(&app, &token, "/api/v1/items/smart").await.0,
        200,
        "staff"
    );

    sqlx::query("UPDATE users SET role = 'viewer' WHERE email = $1")
        .bind(email)
        .execute(&app.db.pool)
        .await
        .expect("demote");
    assert_eq!(
        get_with(&app, &token, "/api/v1/items/smart").await.0,
        404,
        "now a viewer: the draft does not exist"
    );

    sqlx::query("UPDATE users SET disabled_at = now() WHERE email = $1")
        .bind(email)
        .execute(&app.db.pool)
        .await
        .expect("disable");
    assert_eq!(get_with(&app, &token, "/api/v1/items").await.0, 401);
}
