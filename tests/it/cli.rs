//! The command line, run as a user would run it.

use crate::harness::fresh_db;
use std::process::Command;

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portfolio-tracker"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_OWNER_URL")
        .env("RUST_LOG", "warn");
    command
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["seed", "--help"],
        vec!["generate", "--help"],
        vec!["backup", "--help"],
        vec!["restore", "--help"],
        vec!["export", "--help"],
        vec!["import", "--help"],
        vec!["import-contributions", "--help"],
    ] {
        let output = binary().args(&args).output().expect("run the binary");
        assert!(output.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("Usage:"), "{args:?} prints usage");
    }
    let output = binary().arg("--help").output().expect("run");
    let text = String::from_utf8_lossy(&output.stdout);
    for documented in [
        "DATABASE_URL",
        "DATA_DIR",
        "LOG_FORMAT",
        "serve",
        "migrate",
        "seed",
        "backup",
        "restore",
    ] {
        assert!(text.contains(documented), "--help mentions {documented}");
    }
}

#[tokio::test]
async fn migrate_and_seed_against_database_url_are_idempotent() {
    let db = fresh_db().await;
    let migrate = binary()
        .arg("migrate")
        .envs(db.urls().env())
        .output()
        .expect("run migrate");
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let seed = binary()
        .arg("seed")
        .envs(db.urls().env())
        .output()
        .expect("run seed");
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    assert!(String::from_utf8_lossy(&seed.stdout).contains("nothing changed"));
}

#[test]
fn a_bad_database_url_is_a_clear_error_not_a_panic() {
    let output = binary()
        .arg("migrate")
        .env("DATABASE_URL", "not a url")
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("DATABASE_URL"),
        "names the setting: {stderr}"
    );
    assert!(!stderr.contains("panicked"));
}

#[tokio::test]
async fn database_url_alone_is_the_owner_and_the_app_says_the_audit_trail_is_unprotected() {
    let db = fresh_db().await;
    // One URL, the owner's, as before there were two roles: it works, with a warning.
    let migrate = binary()
        .arg("migrate")
        .env("DATABASE_URL", &db.owner_url)
        .output()
        .expect("run migrate");
    let stderr = String::from_utf8_lossy(&migrate.stderr);
    assert!(migrate.status.success(), "{stderr}");
    assert!(
        stderr.contains("could rewrite the audit trail") && stderr.contains("DATABASE_OWNER_URL"),
        "warns and says what to do: {stderr}"
    );

    // Two URLs: no warning.
    let migrate = binary()
        .arg("migrate")
        .envs(db.urls().env())
        .output()
        .expect("run migrate");
    let stderr = String::from_utf8_lossy(&migrate.stderr);
    assert!(migrate.status.success(), "{stderr}");
    assert!(!stderr.contains("audit trail"), "{stderr}");

    // The application role alone cannot run the migrations, and is told why.
    let refused = binary()
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run migrate");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("set DATABASE_OWNER_URL"),
        "names the missing setting: {stderr}"
    );
}
