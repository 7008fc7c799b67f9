//! The server's log, read as an operator reads it: every request has an id (in the
//! response header, on the error page, on the request's log lines); JSON lines parse; and
//! with everything logged (RUST_LOG=trace) no password, session cookie or CSRF token
//! appears.

use crate::harness::{Page, client, extract_csrf, fresh_db, session_cookie};
use crate::served::Served;
use portfolio_tracker::domain::auth::{Role, hash_password};

const EMAIL: &str = "log-admin@example.org";
/// Passwords that must never reach the log (no spaces, so that a form-encoded body would
/// show them as they are).
const PASSWORD: &str = "Log-Test-Password-7f3a9c";
const NEW_PASSWORD: &str = "Log-Test-New-Password-2b8d4e";
const WRONG_PASSWORD: &str = "Log-Test-Wrong-Password-5e1c";

/// What a browser session sent that must stay out of the log, and the request ids the
/// server gave back.
struct Exercised {
    secrets: Vec<(&'static str, String)>,
    request_ids: Vec<String>,
}

fn request_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("an x-request-id header")
        .to_string()
}

/// Fails a sign-in, signs in, reads pages, submits forms with the CSRF token (an
/// organisation, a change of password), asks for a page that does not exist and one with
/// secrets in its query string.
async fn exercise(served: &Served) -> Exercised {
    let http = client();
    let url = |path: &str| format!("{}{path}", served.url);
    let mut request_ids = Vec::new();

    let failed = http
        .post(url("/login"))
        .form(&[
            ("email", EMAIL),
            ("password", WRONG_PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(failed.status().as_u16(), 422, "a failed sign-in");
    request_ids.push(request_id(&failed));

    let signed_in = http
        .post(url("/login"))
        .form(&[("email", EMAIL), ("password", PASSWORD), ("next", "/")])
        .send()
        .await
        .expect("request");
    assert_eq!(signed_in.status().as_u16(), 303, "signed in");
    request_ids.push(request_id(&signed_in));
    let cookie = session_cookie(&signed_in).expect("a session cookie");
    let session_value = cookie.split_once('=').expect("name=value").1.to_string();

    let get = |path: &str| http.get(url(path)).header("cookie", &cookie).send();
    let mut csrf = String::new();
    for path in [
        "/",
        "/funding",
        "/admin/organisations/new",
        "/account/password",
    ] {
        let response = get(path).await.expect("request");
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        request_ids.push(request_id(&response));
        csrf = extract_csrf(&response.text().await.expect("body")).expect("a CSRF token");
    }

    let post = |path: &str, fields: Vec<(&'static str, String)>| {
        let mut fields = fields;
        fields.push(("_csrf", csrf.clone()));
        http.post(url(path))
            .header("cookie", &cookie)
            .form(&fields)
            .send()
    };
    let created = post(
        "/admin/organisations",
        vec![
            ("slug", "log-test-org".into()),
            ("name", "Log Test Org".into()),
            ("kind", "government".into()),
            ("version", "0".into()),
        ],
    )
    .await
    .expect("request");
    assert_eq!(created.status().as_u16(), 303, "the organisation is saved");
    request_ids.push(request_id(&created));
    let changed = post(
        "/account/password",
        vec![
            ("current_password", PASSWORD.into()),
            ("new_password", NEW_PASSWORD.into()),
            ("repeat_password", NEW_PASSWORD.into()),
            ("next", "/".into()),
        ],
    )
    .await
    .expect("request");
    assert_eq!(changed.status().as_u16(), 303, "the password is changed");
    request_ids.push(request_id(&changed));

    // A secret in a query string (a link someone pasted) is blanked in the span.
    let leaky = get(&format!(
        "/search?q=guinea&_csrf={csrf}&token=query-token-9d2f"
    ))
    .await
    .expect("request");
    request_ids.push(request_id(&leaky));

    // An error page shows the id that the header and the log carry.
    let missing = get("/no-such-page").await.expect("request");
    assert_eq!(missing.status().as_u16(), 404);
    let id = request_id(&missing);
    let page = Page::parse(&missing.text().await.expect("body"));
    assert_eq!(page.text_of("main code.reference"), id);
    request_ids.push(id);

    // An acceptable incoming id is kept; anything else is replaced by a fresh one.
    let kept = http
        .get(url("/healthz"))
        .header("x-request-id", "from-the-proxy-42")
        .send()
        .await
        .expect("request");
    assert_eq!(request_id(&kept), "from-the-proxy-42");
    request_ids.push(request_id(&kept));
    for hostile in ["has spaces", "<script>alert(1)</script>", &"x".repeat(65)] {
        let replaced = http
            .get(url("/healthz"))
            .header("x-request-id", hostile)
            .send()
            .await
            .expect("request");
        let id = request_id(&replaced);
        assert_ne!(id, hostile);
        assert_eq!(id.len(), 36, "a UUID: {id}");
    }

    Exercised {
        secrets: vec![
            ("the password", PASSWORD.to_string()),
            ("the new password", NEW_PASSWORD.to_string()),
            ("the wrong password", WRONG_PASSWORD.to_string()),
            ("the session cookie", session_value),
            ("the CSRF token", csrf),
            ("the query's token", "query-token-9d2f".to_string()),
        ],
        request_ids,
    }
}

/// A server over a fresh copy of the seeded database with one admin, logging everything.
async fn serve_logging(format: &str) -> Served {
    let db = fresh_db().await;
    let hash = hash_password(PASSWORD).expect("hash");
    portfolio_tracker::store::users::insert(&db.pool, EMAIL, "", Role::Admin, &hash)
        .await
        .expect("create the admin");
    Served::start(&[
        ("DATABASE_URL", &db.url),
        ("DATABASE_OWNER_URL", &db.owner_url),
        ("RUST_LOG", "trace"),
        ("LOG_FORMAT", format),
    ])
}

fn assert_no_secrets(log: &str, exercised: &Exercised) {
    assert!(log.len() > 10_000, "everything was logged: {log}");
    for (what, secret) in &exercised.secrets {
        let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        assert!(
            !log.contains(secret.as_str()) && !log.contains(&encoded),
            "{what} ({secret}) is in the log"
        );
    }
    for id in &exercised.request_ids {
        assert!(log.contains(id.as_str()), "request id {id} is in the log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn text_logs_carry_request_ids_and_no_secrets() {
    let served = serve_logging("text").await;
    let exercised = exercise(&served).await;
    let log = served.stop();
    assert_no_secrets(&log, &exercised);
    // Every line of a request carries its id, the sign-in's database work included.
    let sign_in = &exercised.request_ids[1];
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(sign_in.as_str()))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("sqlx")),
        "the sign-in's queries are logged with its id: {lines:#?}"
    );
    assert!(
        log.contains("[redacted]"),
        "the query string's secrets are blanked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_a_line_with_the_request_id() {
    let served = serve_logging("json").await;
    let exercised = exercise(&served).await;
    let log = served.stop();
    assert_no_secrets(&log, &exercised);
    let mut with_id = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            value["timestamp"].is_string() && value["level"].is_string(),
            "{line}"
        );
        if let Some(id) = value["span"]["request_id"].as_str() {
            assert_eq!(value["span"]["name"], "request", "{line}");
            if exercised.request_ids.iter().any(|r| r == id) {
                with_id += 1;
            }
        }
    }
    assert!(with_id > exercised.request_ids.len(), "{with_id} lines");
}
