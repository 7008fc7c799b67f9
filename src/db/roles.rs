//! Least privilege in the database. Two roles:
//!
//! - the **owner** runs the migrations and owns every table, view, function and sequence:
//!   the embedded cluster's superuser `postgres`, or the role of `DATABASE_OWNER_URL`;
//! - the **application role** is what the web server and every command but the
//!   migrations connect as: [`APP_ROLE`] in the embedded cluster, the role of
//!   `DATABASE_URL` otherwise. It is no superuser, may not create roles or databases, owns
//!   nothing, and holds only what [`rights_for`] gives it: on `audit_log` only `SELECT` and
//!   `INSERT`, so neither `UPDATE`, `DELETE`, `TRUNCATE`, `ALTER TABLE … DISABLE TRIGGER`
//!   (the owner's right) nor `SET session_replication_role` (a superuser's) can rewrite the
//!   audit trail through the application's connections.
//!
//! [`grant_app_rights`] runs after every migration run, as the owner: a table that a later
//! migration adds gets its rights at the next start. It compares what the role holds with
//! what it should hold and changes only what differs, so a start against an unchanged
//! database writes nothing. (`ALTER DEFAULT PRIVILEGES` would not do: it applies only to
//! objects the role that ran it creates afterwards, never to the tables of an existing
//! database, and it cannot make an exception of `audit_log`.)

use anyhow::Context;
use sqlx::PgPool;
use std::collections::BTreeSet;

/// The application role of the embedded cluster, created at its first start (and in a
/// cluster made before there was one, at the next). The cluster trusts its Unix socket,
/// which only its OS user and root can open, so the role needs no password.
pub const APP_ROLE: &str = "portfolio_app";

/// Serialises role and rights changes of processes that start together: two `GRANT`s on
/// one table at once fail ("tuple concurrently updated").
const RIGHTS_LOCK: i64 = 0x0070_745f_7269_6768;

/// What the application role may do with a table not named in [`TABLE_RIGHTS`].
const TABLE_DEFAULT: &[&str] = &["SELECT", "INSERT", "UPDATE", "DELETE"];

/// Tables on which the application role may do less than [`TABLE_DEFAULT`].
const TABLE_RIGHTS: &[(&str, &[&str])] = &[
    // The audit trail: read and append, never rewrite.
    ("audit_log", &["SELECT", "INSERT"]),
    // Who imported which spreadsheet: a record of what happened, like the audit trail.
    ("contribution_imports", &["SELECT", "INSERT"]),
    // Progress toward a target: a correction is a new update, so the history stays.
    ("target_updates", &["SELECT", "INSERT"]),
    // A contribution's events: a correction is a new event (a reduction, say).
    ("contribution_events", &["SELECT", "INSERT"]),
    // Which migrations ran: the owner's record.
    ("_sqlx_migrations", &["SELECT"]),
    // One row, counted up by the tables' triggers (which run as the application role).
    ("portfolio_revision", &["SELECT", "UPDATE"]),
];

/// What the application role may do with relation `name` of kind `kind`
/// (`pg_class.relkind`): sequences are used, views read, tables as [`TABLE_RIGHTS`] says.
pub fn rights_for(name: &str, kind: &str) -> &'static [&'static str] {
    match kind {
        "S" => &["USAGE"],
        "v" | "m" => &["SELECT"],
        _ => TABLE_RIGHTS
            .iter()
            .find(|(table, _)| *table == name)
            .map_or(TABLE_DEFAULT, |(_, rights)| rights),
    }
}

/// A relation of the owner's schema and what the application role holds on it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    /// `pg_class.relkind`: `r` table, `p` partitioned table, `v` view, `m` materialised
    /// view, `f` foreign table, `S` sequence.
    pub kind: String,
    /// Schema-qualified and quoted for SQL.
    pub quoted: String,
    /// The privileges the role holds on it (`SELECT`, `INSERT`, …).
    pub held: Vec<String>,
}

/// The statements that bring the application role (`role`, quoted) to its rights: the
/// schema's `USAGE` if it lacks it (`schema` quoted), and for each relation whose rights
/// differ from [`rights_for`], a `REVOKE ALL` and the `GRANT` of exactly those.
pub fn plan(role: &str, schema: &str, schema_usable: bool, relations: &[Relation]) -> Vec<String> {
    let mut statements = Vec::new();
    if !schema_usable {
        statements.push(format!("GRANT USAGE ON SCHEMA {schema} TO {role}"));
    }
    for relation in relations {
        let wanted = rights_for(&relation.name, &relation.kind);
        let held: BTreeSet<&str> = relation.held.iter().map(String::as_str).collect();
        if held == wanted.iter().copied().collect() {
            continue;
        }
        let on = match relation.kind.as_str() {
            "S" => "SEQUENCE",
            _ => "TABLE",
        };
        let what = &relation.quoted;
        statements.push(format!("REVOKE ALL ON {on} {what} FROM {role}"));
        statements.push(format!(
            "GRANT {} ON {on} {what} TO {role}",
            wanted.join(", ")
        ));
    }
    statements
}

/// Creates the embedded cluster's [`APP_ROLE`] if it is missing, and takes back any
/// attribute it should not have. `admin` is a superuser's pool (any database).
pub async fn ensure_app_role(admin: &PgPool) -> anyhow::Result<()> {
    let mut tx = admin.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", RIGHTS_LOCK)
        .execute(&mut *tx)
        .await?;
    let existing = sqlx::query!(
        r#"SELECT rolcanlogin AND NOT (rolsuper OR rolcreaterole OR rolcreatedb
                                       OR rolreplication OR rolbypassrls) AS "least!"
             FROM pg_roles WHERE rolname = $1"#,
        APP_ROLE
    )
    .fetch_optional(&mut *tx)
    .await?;
    // Identifiers cannot be bound; APP_ROLE is our constant.
    let attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";
    let statement = match &existing {
        None => format!("CREATE ROLE {APP_ROLE} {attributes}"),
        Some(role) if !role.least => format!("ALTER ROLE {APP_ROLE} {attributes}"),
        Some(_) => return Ok(tx.commit().await?),
    };
    sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
        .execute(&mut *tx)
        .await
        .with_context(|| statement.clone())?;
    tx.commit().await?;
    match existing {
        None => tracing::info!(role = APP_ROLE, "created the application's database role"),
        Some(_) => tracing::warn!(
            role = APP_ROLE,
            "the application's database role had rights it must not have; taken back"
        ),
    }
    Ok(())
}

/// Grants the role that `app` connects as exactly its rights on the owner's schema (see
/// the module docs); `owner` is the owner's pool. Run after every migration run.
pub async fn grant_app_rights(owner: &PgPool, app: &PgPool) -> anyhow::Result<()> {
    let role = sqlx::query_scalar!(r#"SELECT current_user AS "role!""#)
        .fetch_one(app)
        .await
        .context("asking the application's connection for its role")?;
    let mut tx = owner.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", RIGHTS_LOCK)
        .execute(&mut *tx)
        .await?;
    let me = sqlx::query!(
        r#"SELECT current_user AS "owner!", quote_ident($1) AS "role!",
                  quote_ident(current_schema()) AS "schema!",
                  has_schema_privilege($1, current_schema(), 'USAGE') AS "usable!""#,
        role
    )
    .fetch_one(&mut *tx)
    .await?;
    if me.owner == role {
        tracing::warn!(
            role,
            "DATABASE_URL and DATABASE_OWNER_URL connect as the same role: the application \
             keeps the owner's rights"
        );
        return Ok(());
    }
    let relations = sqlx::query_as!(
        Relation,
        r#"SELECT c.relname::text AS "name!", c.relkind::text AS "kind!",
                  format('%I.%I', n.nspname, c.relname) AS "quoted!",
                  ARRAY(SELECT a.privilege_type FROM aclexplode(c.relacl) a
                         WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
                         ORDER BY 1) AS "held!"
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
            ORDER BY c.relname"#,
        role
    )
    .fetch_all(&mut *tx)
    .await?;
    let statements = plan(&me.role, &me.schema, me.usable, &relations);
    for statement in &statements {
        // Built from quote_ident and format('%I'): identifiers cannot be bound.
        sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("granting the application role its rights: {statement}"))?;
    }
    tx.commit().await?;
    if !statements.is_empty() {
        tracing::info!(
            role,
            statements = statements.len(),
            "granted the application's database role its rights"
        );
    }
    Ok(())
}

/// What the role that `pool` connects as may do beyond its rights, in words; empty when
/// it holds least privilege (and before the migrations made `audit_log`).
pub async fn excess_rights(pool: &PgPool) -> anyhow::Result<Vec<&'static str>> {
    let Some(role) = sqlx::query!(
        r#"SELECT r.rolsuper AS "superuser!", r.rolcreaterole AS "createrole!",
                  r.rolcreatedb AS "createdb!",
                  pg_has_role(c.relowner, 'USAGE') AS "owner!",
                  has_table_privilege(c.oid, 'UPDATE, DELETE, TRUNCATE') AS "rewrite!"
             FROM pg_roles r, pg_class c
            WHERE r.rolname = current_user AND c.oid = to_regclass('audit_log')"#
    )
    .fetch_optional(pool)
    .await
    .context("reading the application role's rights")?
    else {
        return Ok(Vec::new());
    };
    let mut excess = Vec::new();
    if role.superuser {
        excess.push("is a superuser");
    }
    if role.owner {
        excess.push("owns the tables");
    }
    if role.rewrite {
        excess.push("may update, delete or truncate the audit trail");
    }
    if role.createrole {
        excess.push("may create roles");
    }
    if role.createdb {
        excess.push("may create databases");
    }
    Ok(excess)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relation(name: &str, kind: &str, held: &[&str]) -> Relation {
        Relation {
            name: name.into(),
            kind: kind.into(),
            quoted: format!("public.{name}"),
            held: held.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_audit_trail_is_read_and_appended_only() {
        assert_eq!(rights_for("audit_log", "r"), ["SELECT", "INSERT"]);
        assert_eq!(rights_for("_sqlx_migrations", "r"), ["SELECT"]);
        assert_eq!(
            rights_for("items", "r"),
            ["SELECT", "INSERT", "UPDATE", "DELETE"]
        );
        assert_eq!(rights_for("a_future_table", "r"), TABLE_DEFAULT);
        assert_eq!(rights_for("budgets_usd", "v"), ["SELECT"]);
        assert_eq!(rights_for("items_id_seq", "S"), ["USAGE"]);
        for (_, rights) in TABLE_RIGHTS {
            assert!(
                !rights.contains(&"TRUNCATE") && !rights.contains(&"TRIGGER"),
                "never truncate or triggers"
            );
        }
    }

    #[test]
    fn the_plan_changes_only_what_differs() {
        let relations = [
            relation("items", "r", &["DELETE", "INSERT", "SELECT", "UPDATE"]),
            relation("audit_log", "r", &["DELETE", "INSERT", "SELECT", "UPDATE"]),
            relation("budgets_usd", "v", &[]),
            relation("items_id_seq", "S", &["USAGE"]),
        ];
        assert_eq!(
            plan("app", "public", true, &relations),
            [
                "REVOKE ALL ON TABLE public.audit_log FROM app",
                "GRANT SELECT, INSERT ON TABLE public.audit_log TO app",
                "REVOKE ALL ON TABLE public.budgets_usd FROM app",
                "GRANT SELECT ON TABLE public.budgets_usd TO app",
            ]
        );
        let done = [
            relation("items", "r", &["DELETE", "INSERT", "SELECT", "UPDATE"]),
            relation("audit_log", "r", &["INSERT", "SELECT"]),
            relation("items_id_seq", "S", &["USAGE"]),
        ];
        assert!(plan("app", "public", true, &done).is_empty());
        assert_eq!(
            plan("app", "s", false, &[]),
            ["GRANT USAGE ON SCHEMA s TO app"]
        );
        // More than its rights (TRUNCATE granted by hand) is taken back too.
        let more = [relation(
            "items",
            "r",
            &["DELETE", "INSERT", "SELECT", "TRUNCATE", "UPDATE"],
        )];
        assert_eq!(plan("app", "public", true, &more).len(), 2);
    }
}
