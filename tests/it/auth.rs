//! Sign-in, sessions, throttling, cross-site protections, security headers, and the
//! `user` command line, against the real server and database.

use crate::harness::{DbUrls, PASSWORD, Page, TestApp, location, session_cookie, set_cookies};
use portfolio_tracker::config::WebSettings;
use portfolio_tracker::domain::auth::Role;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const WRONG: &str = "Wrong email address or password.";

/// The sign-in form's error summary.
const ERROR: &str = "main .error-summary[role=\"alert\"]";

/// The text of a sign-in page's error summary.
async fn sign_in_error(response: reqwest::Response) -> String {
    Page::parse(&response.text().await.expect("body")).text_of(ERROR)
}

/// The `Set-Cookie` header that starts with `name=`.
fn cookie_header(response: &reqwest::Response, name: &str) -> String {
    set_cookies(response)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("a {name} cookie in {:?}", set_cookies(response)))
}

fn attributes(cookie: &str) -> Vec<String> {
    cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

async fn login(app: &TestApp, email: &str, password: &str, next: &str) -> reqwest::Response {
    app.post_login(
        &[("email", email), ("password", password), ("next", next)],
        None,
        &[],
    )
    .await
}

#[tokio::test]
async fn sign_in_sets_an_http_only_lax_session_cookie() {
    let app = TestApp::spawn().await;
    app.create_user("ana@example.org", Role::Viewer).await;
    let response = login(&app, "ana@example.org", PASSWORD, "/").await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), "/");
    let cookie = cookie_header(&response, "pt_session");
    let attrs = attributes(&cookie);
    assert!(attrs.contains(&"httponly".into()), "{cookie}");
    assert!(attrs.contains(&"samesite=lax".into()), "{cookie}");
    assert!(attrs.contains(&"path=/".into()), "{cookie}");
    assert!(
        !attrs.contains(&"secure".into()),
        "not Secure by default: {cookie}"
    );
    let session = app
        .session_for(session_cookie(&response).expect("cookie"))
        .await;
    assert_eq!(session.get("/").await.0, 200, "the cookie signs in");
}

#[tokio::test]
async fn with_cookie_secure_the_cookie_is_host_prefixed_and_secure() {
    let app = TestApp::spawn_with(WebSettings {
        cookie_secure: true,
        ..WebSettings::default()
    })
    .await;
    app.create_user("ana@example.org", Role::Viewer).await;
    let response = login(&app, "ana@example.org", PASSWORD, "/").await;
    assert_eq!(response.status().as_u16(), 303);
    let cookie = cookie_header(&response, "__Host-pt_session");
    let attrs = attributes(&cookie);
    for wanted in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(attrs.contains(&wanted.into()), "{wanted} in {cookie}");
    }
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain=")),
        "__Host- cookies have no Domain: {cookie}"
    );
    assert!(
        set_cookies(&response)
            .iter()
            .all(|c| !c.starts_with("pt_session=")),
        "no unprefixed cookie"
    );
    let value = cookie.split(';').next().expect("name=value").to_string();
    let session = app.session_for(value).await;
    assert_eq!(session.get("/").await.0, 200, "the __Host- cookie signs in");
}

#[tokio::test]
async fn the_session_id_is_rotated_at_sign_in() {
    let app = TestApp::spawn().await;
    app.create_user("ana@example.org", Role::Viewer).await;
    let first =
        session_cookie(&login(&app, "ana@example.org", PASSWORD, "/").await).expect("first cookie");
    let again = app
        .post_login(
            &[
                ("email", "ana@example.org"),
                ("password", PASSWORD),
                ("next", "/"),
            ],
            Some(&first),
            &[],
        )
        .await;
    assert_eq!(again.status().as_u16(), 303);
    let second = session_cookie(&again).expect("second cookie");
    assert_ne!(first, second, "a new session id at each sign-in");

    let old = app.session_for(first).await;
    let response = old.get_response("/").await;
    assert_eq!(response.status().as_u16(), 303, "the first session ended");
    assert!(location(&response).starts_with("/login"));
    let new = app.session_for(second).await;
    assert_eq!(new.get("/").await.0, 200);
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let (email, session) = app.signed_in_with_email(Role::Staff).await;
    assert!(!session.csrf.is_empty(), "the layout carries a CSRF token");
    let (status, to, _) = session.post("/logout", &[]).await;
    assert_eq!(status, 303);
    assert_eq!(to, "/login");

    let response = session.get_response("/").await;
    assert_eq!(response.status().as_u16(), 303, "the old cookie is dead");
    assert_eq!(location(&response), "/login?next=%2F");
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1",
    )
    .bind(&email)
    .fetch_one(&app.db.pool)
    .await
    .expect("count sessions");
    assert_eq!(live, 0, "no session row is left");
}

#[tokio::test]
async fn logout_tells_the_browser_to_forget_the_cookie() {
    let app = TestApp::spawn().await;
    let session = app.signed_in(Role::Viewer).await;
    let response = session
        .post_raw("/logout", &[("_csrf", &session.csrf)], &[])
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let removal = cookie_header(&response, "pt_session");
    let attrs = attributes(&removal);
    assert!(
        attrs.contains(&"max-age=0".into()) || attrs.iter().any(|a| a.starts_with("expires=")),
        "{removal}"
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer_after_a_real_hash_check() {
    let app = TestApp::spawn().await;
    app.create_user("ana@example.org", Role::Viewer).await;
    for (email, password) in [
        ("ana@example.org", "not the password at all"),
        ("nobody@example.org", PASSWORD),
    ] {
        let started = Instant::now();
        let response = login(&app, email, password, "/").await;
        let took = started.elapsed();
        assert_eq!(response.status().as_u16(), 422, "{email}");
        assert!(session_cookie(&response).is_none(), "{email}: no session");
        let page = Page::parse(&response.text().await.expect("body"));
        assert_eq!(page.text_of(ERROR), WRONG, "{email}");
        assert_eq!(
            page.attr("main form input#email[name=\"email\"]", "value")
                .as_deref(),
            Some(email),
            "{email}: the email is kept in the form"
        );
        assert_eq!(
            page.attr("main form input#password[name=\"password\"]", "value"),
            None,
            "{email}: the password is not sent back"
        );
        assert!(
            took > Duration::from_millis(5),
            "{email}: a password hash was verified ({took:?})"
        );
    }
}

#[tokio::test]
async fn an_empty_form_is_a_422_with_a_message() {
    let app = TestApp::spawn().await;
    let response = app.post_login(&[], None, &[]).await;
    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(
        sign_in_error(response).await,
        "Enter your email address and your password."
    );
}

#[tokio::test]
async fn five_failures_lock_the_address_for_fifteen_minutes() {
    let app = TestApp::spawn().await;
    app.create_user("ana@example.org", Role::Admin).await;
    for attempt in 1..=4 {
        let response = login(&app, "ana@example.org", "wrong password!!", "/").await;
        assert_eq!(response.status().as_u16(), 422, "attempt {attempt}");
    }
    let fifth = login(&app, "ana@example.org", "wrong password!!", "/").await;
    assert!(
        matches!(fifth.status().as_u16(), 422 | 429),
        "attempt 5: {}",
        fifth.status()
    );

    let sixth = login(&app, "ana@example.org", PASSWORD, "/").await;
    assert_eq!(
        sixth.status().as_u16(),
        429,
        "refused even with the password"
    );
    assert!(session_cookie(&sixth).is_none(), "no session while locked");
    let message = sign_in_error(sixth).await;

    let (minutes, until): (f64, String) = sqlx::query_as(
        "SELECT extract(epoch FROM locked_until - now())::float8 / 60,
                to_char(locked_until AT TIME ZONE 'UTC', 'HH24:MI')
           FROM login_throttle WHERE email = 'ana@example.org'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("the lock is stored in login_throttle");
    assert!(
        (14.0..=15.0).contains(&minutes),
        "locked for 15 minutes, {minutes} left"
    );
    assert!(message.contains("locked"), "{message}");
    assert!(
        message.contains(&format!("until {until} UTC")),
        "says until when: {message}"
    );

    let failures: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'login_failure' AND actor_email = 'ana@example.org'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("count");
    assert_eq!(failures, 5, "each failure is in the audit trail");

    // Once the lock has passed, the right password works again.
    sqlx::query("UPDATE login_throttle SET locked_until = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await
        .expect("expire the lock");
    let after = login(&app, "ana@example.org", PASSWORD, "/").await;
    assert_eq!(after.status().as_u16(), 303);
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_and_its_session_ends_at_once() {
    let app = TestApp::spawn().await;
    let (email, session) = app.signed_in_with_email(Role::Admin).await;
    assert_eq!(session.get("/admin").await.0, 200);
    sqlx::query("UPDATE users SET disabled_at = now() WHERE email = $1")
        .bind(&email)
        .execute(&app.db.pool)
        .await
        .expect("disable");

    let response = session.get_response("/").await;
    assert_eq!(
        response.status().as_u16(),
        303,
        "the session stopped working"
    );
    assert!(location(&response).starts_with("/login"));
    assert_eq!(session.get_response("/admin").await.status().as_u16(), 303);

    let again = login(&app, &email, PASSWORD, "/").await;
    assert_eq!(again.status().as_u16(), 422);
    assert!(session_cookie(&again).is_none());
    assert_eq!(sign_in_error(again).await, WRONG);
}

#[tokio::test]
async fn next_only_follows_local_paths() {
    let app = TestApp::spawn().await;
    app.create_user("ana@example.org", Role::Viewer).await;
    for (next, expected) in [
        ("/programmes/guinea-bissau", "/programmes/guinea-bissau"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil", "/"),
        ("", "/"),
    ] {
        let response = login(&app, "ana@example.org", PASSWORD, next).await;
        assert_eq!(response.status().as_u16(), 303, "{next:?}");
        assert_eq!(location(&response), expected, "next = {next:?}");
    }
}

#[tokio::test]
async fn the_sign_in_form_keeps_only_a_local_next() {
    let app = TestApp::spawn().await;
    let next = "main form[action=\"/login\"] input[type=\"hidden\"][name=\"next\"]";
    let (_, good) = app.page("/login?next=%2Fresult-areas").await;
    assert_eq!(good.attr(next, "value").as_deref(), Some("/result-areas"));
    let (status, bad) = app.page("/login?next=https%3A%2F%2Fevil.example").await;
    assert_eq!(status, 200);
    let kept = bad.attr(next, "value").unwrap_or_default();
    assert!(
        kept.is_empty() || kept == "/",
        "only a local next: {kept:?}"
    );
    assert!(!bad.body.contains("evil.example"));
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let app = TestApp::spawn().await;
    app.create_user("ana@example.org", Role::Admin).await;
    let fields = [
        ("email", "ana@example.org"),
        ("password", PASSWORD),
        ("next", "/"),
    ];
    for header in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = app.post_login(&fields, None, &[header]).await;
        assert_eq!(
            response.status().as_u16(),
            403,
            "POST /login with {header:?}"
        );
        assert!(session_cookie(&response).is_none());
    }
    // The same form from this very site goes through.
    let own_origin = format!("http://{}", app.addr);
    let response = app
        .post_login(&fields, None, &[("origin", &own_origin)])
        .await;
    assert_eq!(response.status().as_u16(), 303, "same-origin sign-in works");
    let response = app
        .post_login(&fields, None, &[("sec-fetch-site", "same-origin")])
        .await;
    assert_eq!(response.status().as_u16(), 303);

    let admin = app
        .session_for(session_cookie(&response).expect("cookie"))
        .await;
    let org = [
        ("slug", "cross-site-org"),
        ("name", "Cross-site Org"),
        ("kind", "government"),
        ("version", "0"),
        ("_csrf", &admin.csrf),
    ];
    for header in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = admin
            .post_raw("/admin/organisations", &org, &[header])
            .await;
        assert_eq!(
            response.status().as_u16(),
            403,
            "admin POST with {header:?}"
        );
    }
    let created: i64 =
        sqlx::query_scalar("SELECT count(*) FROM organisations WHERE slug = 'cross-site-org'")
            .fetch_one(&app.db.pool)
            .await
            .expect("count");
    assert_eq!(created, 0, "nothing was created");
}

#[tokio::test]
async fn admin_posts_need_the_sessions_csrf_token() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let base = [
        ("slug", "no-token-org"),
        ("name", "No Token Org"),
        ("kind", "government"),
        ("version", "0"),
    ];
    let response = admin.post_raw("/admin/organisations", &base, &[]).await;
    assert_eq!(response.status().as_u16(), 403, "no _csrf field");
    let page = Page::parse(&response.text().await.expect("body"));
    assert_eq!(page.text_of("main h1"), "Request refused");

    let mut wrong = base.to_vec();
    wrong.push(("_csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    let response = admin.post_raw("/admin/organisations", &wrong, &[]).await;
    assert_eq!(response.status().as_u16(), 403, "someone else's token");

    // Another admin's token is not this session's token either.
    let other = app.signed_in(Role::Admin).await;
    let mut borrowed = base.to_vec();
    borrowed.push(("_csrf", &other.csrf));
    let response = admin.post_raw("/admin/organisations", &borrowed, &[]).await;
    assert_eq!(response.status().as_u16(), 403);

    let created: i64 =
        sqlx::query_scalar("SELECT count(*) FROM organisations WHERE slug = 'no-token-org'")
            .fetch_one(&app.db.pool)
            .await
            .expect("count");
    assert_eq!(created, 0);
    let (status, _, _) = admin.post("/admin/organisations", &base).await;
    assert_eq!(status, 303, "with the token it works");
}

#[tokio::test]
async fn logout_needs_the_csrf_token_too() {
    let app = TestApp::spawn().await;
    let session = app.signed_in(Role::Viewer).await;
    let response = session.post_raw("/logout", &[], &[]).await;
    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(session.get("/").await.0, 200, "still signed in");
}

fn assert_security_headers(response: &reqwest::Response, what: &str) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: {name} header"))
            .to_string()
    };
    let csp = header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-eval"), "{what}: {csp}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert!(!header("referrer-policy").is_empty(), "{what}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let session = app.signed_in(Role::Admin).await;
    for path in [
        "/login",
        "/no/such/page",
        "/healthz",
        "/",
        "/static/style.css",
    ] {
        let response = app.client.get(app.url(path)).send().await.expect("request");
        assert_security_headers(&response, &format!("anonymous GET {path}"));
    }
    for path in ["/", "/programmes/guinea-bissau", "/admin", "/no/such/page"] {
        let response = session.get_response(path).await;
        assert_security_headers(&response, &format!("admin GET {path}"));
    }
    let refused = app
        .post_login(&[], None, &[("origin", "https://evil.example")])
        .await;
    assert_security_headers(&refused, "a refused cross-site POST");
}

#[tokio::test]
async fn anonymous_readers_are_sent_to_sign_in() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/")).send().await.expect("request");
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), "/login?next=%2F");
    let response = app
        .client
        .get(app.url("/programmes/guinea-bissau?x=1"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        location(&response),
        "/login?next=%2Fprogrammes%2Fguinea-bissau%3Fx%3D1",
        "comes back to the same page"
    );
    let (status, _) = app.get("/api/v1/programmes").await;
    assert_eq!(status, 401);
    let (status, page) = app.page("/login").await;
    assert_eq!(status, 200);
    assert_eq!(page.text_of("main h1"), "Sign in");
    assert!(page.has("main form[method=\"post\"][action=\"/login\"] input[name=\"email\"]"));
    assert!(page.has(
        "main form[method=\"post\"][action=\"/login\"] input[name=\"password\"][type=\"password\"]"
    ));
}

#[tokio::test]
async fn public_read_lets_anonymous_visitors_read_but_not_edit() {
    let app = TestApp::spawn_public().await;
    assert_eq!(app.get("/").await.0, 200);
    assert_eq!(app.get("/programmes/guinea-bissau").await.0, 200);
    assert_eq!(app.get("/api/v1/programmes").await.0, 200);
    let response = app
        .client
        .get(app.url("/admin"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status().as_u16(),
        303,
        "admin still needs a sign-in"
    );
    assert_eq!(
        app.get("/programmes/guinea-bissau/history").await.0,
        303,
        "history still needs a sign-in"
    );
}

// --- The `user` command line -------------------------------------------------------

fn cli(urls: &DbUrls, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portfolio-tracker"));
    command
        .args(args)
        .envs(urls.env())
        .env("RUST_LOG", "warn")
        .env("USER", "tester")
        .env_remove("SUDO_USER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run the binary");
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(pipe);
    child.wait_with_output().expect("wait for the binary")
}

/// Runs the binary off the async runtime (the app under test keeps serving meanwhile).
async fn run_cli(urls: &DbUrls, args: &[&str], stdin: Option<&str>) -> Output {
    let url = urls.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let stdin = stdin.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&url, &args, stdin.as_deref())
    })
    .await
    .expect("join")
}

fn ok(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

async fn audit_actions(app: &TestApp, user_id: i64) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT action, coalesce(actor_email, '') FROM audit_log
          WHERE entity = 'user' AND entity_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(&app.db.pool)
    .await
    .expect("audit rows")
}

#[tokio::test]
async fn the_user_cli_manages_accounts_that_then_sign_in() {
    let app = TestApp::spawn().await;
    let url = app.db.urls();
    let first = "first password for a";
    let add = run_cli(
        &url,
        &[
            "user",
            "add",
            "--email",
            "a@x.org",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some(&format!("{first}\n")),
    )
    .await;
    assert!(ok(&add, "user add").contains("a@x.org"));
    let admin = app
        .sign_in("a@x.org", first)
        .await
        .unwrap_or_else(|r| panic!("sign-in with the CLI's account: {}", r.status()));
    assert_eq!(admin.get("/admin").await.0, 200, "an admin");

    let list = ok(&run_cli(&url, &["user", "list"], None).await, "user list");
    let line = list
        .lines()
        .find(|l| l.contains("a@x.org"))
        .unwrap_or_else(|| panic!("listed: {list}"));
    assert!(line.contains("admin") && line.contains("active"), "{line}");

    let set_role = run_cli(
        &url,
        &["user", "set-role", "--email", "a@x.org", "--role", "viewer"],
        None,
    )
    .await;
    ok(&set_role, "user set-role");
    assert_eq!(
        admin.get_response("/").await.status().as_u16(),
        303,
        "a role change ends the sessions"
    );
    let viewer = app.sign_in("a@x.org", first).await.expect("sign in again");
    assert_eq!(viewer.get("/admin").await.0, 403, "now a viewer");

    let second = "second password for a";
    let reset = run_cli(
        &url,
        &[
            "user",
            "reset-password",
            "--email",
            "a@x.org",
            "--password-stdin",
        ],
        Some(&format!("{second}\n")),
    )
    .await;
    ok(&reset, "user reset-password");
    assert_eq!(viewer.get_response("/").await.status().as_u16(), 303);
    assert!(app.sign_in("a@x.org", first).await.is_err(), "old password");
    let viewer = app.sign_in("a@x.org", second).await.expect("new password");

    let disable = run_cli(&url, &["user", "disable", "--email", "a@x.org"], None).await;
    ok(&disable, "user disable");
    assert_eq!(viewer.get_response("/").await.status().as_u16(), 303);
    assert!(app.sign_in("a@x.org", second).await.is_err(), "disabled");
    let list = ok(&run_cli(&url, &["user", "list"], None).await, "user list");
    assert!(
        list.lines()
            .any(|l| l.contains("a@x.org") && l.contains("disabled")),
        "{list}"
    );

    let id = app.user_id("a@x.org").await;
    let actions = audit_actions(&app, id).await;
    let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        names,
        ["create", "role_change", "password_reset", "disable"],
        "one audit row per command"
    );
    assert!(
        actions
            .iter()
            .all(|(_, who)| who == "command line (tester)"),
        "{actions:?}"
    );
    let (before, after): (serde_json::Value, serde_json::Value) = sqlx::query_as(
        "SELECT before, after FROM audit_log WHERE entity = 'user' AND entity_id = $1
            AND action = 'role_change'",
    )
    .bind(id)
    .fetch_one(&app.db.pool)
    .await
    .expect("role change row");
    assert_eq!(before["role"], "admin");
    assert_eq!(after["role"], "viewer");
    for row in [&before, &after] {
        assert!(
            row.get("password_hash").is_none(),
            "no hash in the audit trail"
        );
    }
}

#[tokio::test]
async fn the_user_cli_refuses_duplicates_and_short_passwords() {
    let app = TestApp::spawn().await;
    let url = app.db.urls();
    let add = |email: &'static str, password: &'static str| {
        let url = url.clone();
        async move {
            run_cli(
                &url,
                &[
                    "user",
                    "add",
                    "--email",
                    email,
                    "--role",
                    "staff",
                    "--password-stdin",
                ],
                Some(password),
            )
            .await
        }
    };
    ok(
        &add("b@x.org", "a long enough password\n").await,
        "first add",
    );

    let again = add("B@X.org", "another long password\n").await;
    assert!(
        !again.status.success(),
        "a second account with the same email"
    );
    assert_ne!(again.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("exists already"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let short = add("c@x.org", "short\n").await;
    assert!(!short.status.success());
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(stderr.contains("at least 12 characters"), "{stderr}");

    let reset_short = run_cli(
        &url,
        &[
            "user",
            "reset-password",
            "--email",
            "b@x.org",
            "--password-stdin",
        ],
        Some("tiny\n"),
    )
    .await;
    assert!(!reset_short.status.success());
    assert!(String::from_utf8_lossy(&reset_short.stderr).contains("at least 12 characters"));

    let unknown = run_cli(&url, &["user", "disable", "--email", "nobody@x.org"], None).await;
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account"));

    let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users ORDER BY email")
        .fetch_all(&app.db.pool)
        .await
        .expect("emails");
    assert_eq!(emails, ["b@x.org"], "only the first account exists");
    assert!(
        app.sign_in("b@x.org", "a long enough password")
            .await
            .is_ok(),
        "the failed reset changed nothing"
    );
}

#[tokio::test]
async fn sessions_end_after_30_idle_minutes_and_after_12_hours() {
    let app = TestApp::spawn().await;
    let (idle_email, idle) = app.signed_in_with_email(Role::Viewer).await;
    let (old_email, old) = app.signed_in_with_email(Role::Viewer).await;
    assert_eq!(idle.get("/").await.0, 200);
    assert_eq!(old.get("/").await.0, 200);
    let expire = |sql: &'static str, email: String| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query(sql)
                .bind(email)
                .execute(&pool)
                .await
                .expect("age the session");
        }
    };
    expire(
        "UPDATE sessions SET last_seen_at = now() - interval '31 minutes'
          WHERE user_id = (SELECT id FROM users WHERE email = $1)",
        idle_email,
    )
    .await;
    expire(
        "UPDATE sessions SET expires_at = now() - interval '1 second'
          WHERE user_id = (SELECT id FROM users WHERE email = $1)",
        old_email,
    )
    .await;
    for (what, session) in [("idle", &idle), ("expired", &old)] {
        let response = session.get_response("/").await;
        assert_eq!(response.status().as_u16(), 303, "{what} session");
        assert!(location(&response).starts_with("/login"), "{what}");
    }
}

#[tokio::test]
async fn an_admin_changing_a_role_or_disabling_ends_that_persons_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let (email, staff) = app.signed_in_with_email(Role::Staff).await;
    let id = app.user_id(&email).await;
    assert_eq!(staff.get("/programmes/guinea-bissau/history").await.0, 200);

    let (_, form) = admin.page(&format!("/admin/users/{id}/edit")).await;
    let version = form
        .attr("main form input[name=\"version\"]", "value")
        .expect("a version field with a value");
    let (status, _, _) = admin
        .post(
            &format!("/admin/users/{id}"),
            &[("role", "viewer"), ("version", &version)],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        staff.get_response("/").await.status().as_u16(),
        303,
        "signed out at once"
    );
    let viewer = app.sign_in(&email, PASSWORD).await.expect("sign in again");
    assert_eq!(
        viewer.get("/programmes/guinea-bissau/history").await.0,
        403,
        "the new role applies"
    );
    let action: String = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE entity = 'user' AND entity_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(id)
    .fetch_one(&app.db.pool)
    .await
    .expect("audit row");
    assert_eq!(action, "role_change");
}

/// Letters from a fixed pseudo-random sequence: text PostgreSQL cannot compress.
fn incompressible(len: usize) -> String {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from(b'a' + ((state >> 33) % 26) as u8)
        })
        .collect()
}

#[tokio::test]
async fn an_absurdly_long_email_is_refused_without_a_server_error() {
    let app = TestApp::spawn().await;
    let email = format!("{}@example.org", incompressible(3000));
    let response = login(&app, &email, "some password or other", "/").await;
    let status = response.status().as_u16();
    assert!(
        matches!(status, 400 | 422),
        "a sign-in form can never cause a server error, got {status}"
    );
    if status == 422 {
        assert_eq!(
            sign_in_error(response).await,
            "An email address has at most 254 characters: check the address you typed."
        );
    }
}

#[tokio::test]
async fn a_password_reset_lifts_the_sign_in_lock() {
    let app = TestApp::spawn().await;
    app.create_user("ana@example.org", Role::Staff).await;
    for _ in 1..=5 {
        login(&app, "ana@example.org", "wrong password!!", "/").await;
    }
    let locked = login(&app, "ana@example.org", PASSWORD, "/").await;
    assert_eq!(locked.status().as_u16(), 429, "locked after five failures");
    let message = sign_in_error(locked).await;
    assert!(
        message.contains("ask an administrator to reset your password"),
        "the message names what lifts the lock: {message}"
    );

    let admin = app.signed_in(Role::Admin).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = 'ana@example.org'")
        .fetch_one(&app.db.pool)
        .await
        .expect("the account");
    let new_password = "a brand new passphrase";
    let (status, location, _) = admin
        .post(
            &format!("/admin/users/{id}/password"),
            &[("password", new_password)],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/users?done=saved")
    );

    let after = login(&app, "ana@example.org", new_password, "/").await;
    assert_eq!(
        after.status().as_u16(),
        303,
        "the new password works at once"
    );
    assert_eq!(
        crate::harness::location(&after),
        "/account/password?next=%2F",
        "and leads to choosing one's own, since an admin chose it"
    );
    let locks: i64 =
        sqlx::query_scalar("SELECT count(*) FROM login_throttle WHERE email = 'ana@example.org'")
            .fetch_one(&app.db.pool)
            .await
            .expect("count");
    assert_eq!(locks, 0);
}
