//! An account: who may sign in, and with which role.

use serde::Deserialize;

use crate::domain::auth::{Role, email_problem, normalize_email, password_problem};
use crate::domain::forms::{FieldErrors, ticked};
use crate::domain::records::yes_no;
use crate::domain::vocab::Vocabulary;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct AccountForm {
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub disabled: Option<String>,
    pub password: String,
    pub version: String,
}

/// A validated account. `password` is only set for a new account: a changed password
/// goes through its own form.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountFields {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub password: Option<String>,
    /// A new account's owner must change its first password at first sign-in: true when
    /// an administrator chose it (the accounts page), false from `user add`, where the
    /// operator chose it.
    pub must_change_password: bool,
}

const NAME_MAX: usize = 200;

impl AccountForm {
    pub fn blank() -> AccountForm {
        AccountForm {
            role: Role::Viewer.as_str().into(),
            version: "0".into(),
            ..AccountForm::default()
        }
    }

    /// A new account: an email address, a role and a first password.
    pub fn validate_new(&self) -> Result<AccountFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let email = normalize_email(&self.email);
        if let Some(problem) = email_problem(&email) {
            errors.add("email", problem);
        }
        if let Some(problem) = password_problem(&self.password) {
            errors.add("password", problem);
        }
        let fields = AccountFields {
            email,
            display_name: errors.text("display_name", &self.display_name, NAME_MAX),
            role: errors.choice("role", &self.role, "choose a role"),
            disabled: false,
            password: Some(self.password.clone()),
            must_change_password: true,
        };
        errors.into_result(fields)
    }

    /// A change of `email`'s name, role or enabled state; `own_account` when the admin
    /// making it is that account's owner, who may not demote or disable themself (someone
    /// must be left to manage).
    pub fn validate_change(
        &self,
        email: &str,
        own_account: bool,
    ) -> Result<AccountFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let disabled = ticked(&self.disabled);
        let role = Role::parse(self.role.trim());
        if role.is_none() {
            errors.add("role", "choose a role");
        }
        if own_account && (disabled || role != Some(Role::Admin)) {
            errors.add(
                "role",
                "you cannot demote or disable your own account; ask another admin",
            );
        }
        let fields = AccountFields {
            email: email.to_string(),
            display_name: errors.text("display_name", &self.display_name, NAME_MAX),
            role: role.unwrap_or(Role::Viewer),
            disabled,
            password: None,
            must_change_password: false,
        };
        errors.into_result(fields)
    }

    pub fn labelled(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Name", self.display_name.clone()),
            ("Role", Role::label_for(&self.role)),
            ("Disabled", yes_no(ticked(&self.disabled))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_account_needs_an_address_a_role_and_a_good_password() {
        let errors = AccountForm {
            email: "not an address".into(),
            role: "owner".into(),
            password: "short".into(),
            ..AccountForm::blank()
        }
        .validate_new()
        .expect_err("invalid");
        for field in ["email", "role", "password"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn an_admin_cannot_demote_or_disable_themself() {
        let form = AccountForm {
            role: "staff".into(),
            ..AccountForm::blank()
        };
        assert!(form.validate_change("a@x.org", true).is_err());
        assert_eq!(
            form.validate_change("b@x.org", false).map(|f| f.role),
            Ok(Role::Staff)
        );
        let disable = AccountForm {
            role: "admin".into(),
            disabled: Some("on".into()),
            ..AccountForm::blank()
        };
        assert!(disable.validate_change("a@x.org", true).is_err());
    }
}
