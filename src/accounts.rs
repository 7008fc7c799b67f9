//! Accounts as a service: the one module the `user …` commands and the admin accounts
//! pages both go through. Creating and changing an account are saves of the `Accounts`
//! record through the save pipeline (`store::editing`); a new password has its own path
//! (`set_new_password`), as it is never shown or compared.

use sqlx::{PgConnection, PgPool};

use crate::domain::auth::{self, Role, password_problem};
use crate::domain::forms::FieldErrors;
use crate::domain::records::account::{AccountFields, AccountForm};
use crate::store::audit::{self, Actor, Entry};
use crate::store::editing::{self, Change, Creatable, Editable, Saved, keyed_by_id};
use crate::store::sessions;
use crate::store::throttle;
use crate::store::users::{self, User};

/// Accounts as the save pipeline edits them.
pub struct Accounts;

impl Editable for Accounts {
    const ENTITY: &'static str = "user";
    type Record = User;
    type Owner = ();
    type Fields = AccountFields;

    keyed_by_id!(users::by_id, update);

    async fn refusal(
        _: &PgPool,
        constraint: &str,
        _: &AccountFields,
    ) -> sqlx::Result<Option<FieldErrors>> {
        Ok((constraint == "users_email_key").then(|| {
            FieldErrors::one("email", "an account with this email address exists already")
        }))
    }

    /// A disabled account or a changed role takes effect now, not at next sign-in.
    async fn after_save(
        db: &mut PgConnection,
        _: &Actor,
        _: &AccountFields,
        before: Option<&User>,
        after: &User,
    ) -> sqlx::Result<()> {
        if let Some(before) = before
            && (after.disabled_at.is_some() || before.role != after.role)
        {
            sessions::delete_for_user(db, after.id).await?;
        }
        Ok(())
    }

    /// An update is named for what it did to the account (disabled it, changed its role).
    fn audit(before: Option<&User>, after: &User) -> Change {
        let Some(before) = before else {
            let summary = format!("Created account {} ({})", after.email, after.role);
            return Change::of(None, after, summary);
        };
        let action = match (before.disabled_at.is_some(), after.disabled_at.is_some()) {
            (false, true) => "disable",
            (true, false) => "enable",
            _ if before.role != after.role => "role_change",
            _ => "update",
        };
        let summary = format!("{} account {}", action.replace('_', " "), after.email);
        Change {
            action,
            ..Change::of(Some(before), after, summary)
        }
    }

    fn audit_ids(user: &User) -> (Option<i64>, Option<i64>) {
        (Some(user.id), None)
    }
}

impl Creatable for Accounts {
    /// Hashing is slow on purpose: it runs off the async runtime.
    async fn insert(db: &mut PgConnection, _: &(), f: &AccountFields) -> sqlx::Result<i64> {
        let password = f.password.clone().unwrap_or_default();
        let hash = hash(password)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        users::insert_with(
            db,
            &f.email,
            f.display_name.trim(),
            f.role,
            &hash,
            f.must_change_password,
        )
        .await
    }
}

/// The form's part of an account, saved if `version` is still current (the email and
/// password are not changed this way).
async fn update(
    db: &mut PgConnection,
    id: i64,
    version: i32,
    f: &AccountFields,
) -> sqlx::Result<bool> {
    users::update(db, id, version, f.display_name.trim(), f.role, f.disabled).await
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

/// Why an account change was not made.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// What the person entered is not acceptable; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> Self {
        AccountError::Failed(e.into())
    }
}

/// A refusal's messages as one sentence, for the command line.
fn refused(errors: &FieldErrors, fields: &[&str]) -> AccountError {
    let messages: Vec<&str> = fields.iter().filter_map(|f| errors.get(f)).collect();
    AccountError::Refused(messages.join("; "))
}

/// Creates an account with a first password; its owner must change it at first sign-in
/// when `must_change_password`.
pub async fn create(
    pool: &PgPool,
    actor: &Actor,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
    must_change_password: bool,
) -> Result<User, AccountError> {
    let form = AccountForm {
        email: email.into(),
        display_name: name.into(),
        role: role.as_str().into(),
        password: password.into(),
        ..AccountForm::blank()
    };
    let all = ["email", "display_name", "role", "password"];
    let fields = AccountFields {
        must_change_password,
        ..form.validate_new().map_err(|e| refused(&e, &all))?
    };
    match editing::create::<Accounts>(pool, actor, &(), &fields).await? {
        Saved::Done(user) => Ok(user),
        Saved::Refused(errors) => Err(refused(&errors, &all)),
        Saved::Stale(_) | Saved::Missing => Err(anyhow::anyhow!("the account vanished").into()),
    }
}

/// Changes an account's role and enabled state; its sessions end at once.
pub async fn change(
    pool: &PgPool,
    actor: &Actor,
    user: &User,
    role: Option<Role>,
    disabled: Option<bool>,
) -> Result<User, AccountError> {
    let fields = AccountFields {
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        role: role.unwrap_or(user.role()),
        disabled: disabled.unwrap_or(user.disabled_at.is_some()),
        password: None,
        must_change_password: false,
    };
    match editing::update::<Accounts>(pool, actor, &user.id, user.version, &fields).await? {
        Saved::Done(user) => Ok(user),
        Saved::Refused(errors) => Err(refused(&errors, &["email", "role"])),
        Saved::Stale(_) => Err(AccountError::Refused(
            "the account changed while this command ran; run it again".into(),
        )),
        Saved::Missing => Err(AccountError::Refused(format!("no account {}", user.email))),
    }
}

/// A new password for an account, as both `user reset-password` and the admin accounts
/// page set it: checked, hashed, and in one transaction stored, every session of the
/// account ended, every sign-in lock on the address lifted (the owner is about to use the
/// new password) and the change audited. With `must_change` (the accounts page: an admin
/// chose it) the owner must change it at their next sign-in. Not a save of the account's
/// form: a password is never shown, compared in a conflict, or kept in the audit trail.
pub async fn set_new_password(
    pool: &PgPool,
    actor: &Actor,
    user: &User,
    password: &str,
    must_change: bool,
) -> Result<(), AccountError> {
    if let Some(problem) = password_problem(password) {
        return Err(AccountError::Refused(problem));
    }
    let hash = hash(password.to_string()).await?;
    let mut tx = pool.begin().await?;
    users::set_password(&mut *tx, user.id, &hash, must_change).await?;
    sessions::delete_for_user(&mut *tx, user.id).await?;
    throttle::clear_address(&mut *tx, &user.email).await?;
    let entry = Entry {
        action: "password_reset",
        entity: "user",
        entity_id: Some(user.id),
        item_id: None,
        summary: format!("Reset the password of {}", user.email),
        before: None,
        after: None,
    };
    audit::record(&mut *tx, actor, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// A person's own change of password, after their current one was checked (see
/// `web::pages::account`): the new one (already checked against the rules) is hashed and,
/// in one transaction, stored with the must-change mark cleared, every other session of
/// the account ended (this one, `keep_session`, stays signed in), every sign-in lock on
/// the address lifted, and the change audited.
pub async fn change_own_password(
    pool: &PgPool,
    actor: &Actor,
    user_id: i64,
    email: &str,
    new_password: &str,
    keep_session: &str,
) -> Result<(), AccountError> {
    if let Some(problem) = password_problem(new_password) {
        return Err(AccountError::Refused(problem));
    }
    let hash = hash(new_password.to_string()).await?;
    let mut tx = pool.begin().await?;
    users::set_password(&mut *tx, user_id, &hash, false).await?;
    sessions::delete_others(&mut *tx, user_id, keep_session).await?;
    throttle::clear_address(&mut *tx, email).await?;
    let entry = Entry {
        action: "password_change",
        entity: "user",
        entity_id: Some(user_id),
        item_id: None,
        summary: format!("{email} changed their password"),
        before: None,
        after: None,
    };
    audit::record(&mut *tx, actor, entry).await?;
    tx.commit().await?;
    Ok(())
}
