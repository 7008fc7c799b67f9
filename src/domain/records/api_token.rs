//! A personal API token as its person asks for it (account page or `user token`): a
//! name, how many days it lives, and whether it may write. A token never grants more
//! than its person's role: only admins edit, so only an admin may ask for a read-write
//! token.

use serde::Deserialize;

use crate::domain::auth::Role;
use crate::domain::forms::{FieldErrors, ticked};

/// A token name's length limit (the table checks it too).
pub const NAME_MAX: usize = 100;
/// The longest a token may live, and what the form offers first.
pub const MAX_DAYS: i64 = 366;
pub const DEFAULT_DAYS: i64 = 90;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    pub name: String,
    pub days: String,
    /// Ticked for a read-write token.
    pub write: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFields {
    pub name: String,
    pub days: i64,
    pub can_write: bool,
}

impl TokenForm {
    /// The token `role` may have, or a message per field.
    pub fn validate(&self, role: Role) -> Result<TokenFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.required(
            "name",
            &self.name,
            NAME_MAX,
            "name the token after what uses it, e.g. “nightly report”",
        );
        let days = match self.days.trim() {
            "" => DEFAULT_DAYS,
            raw => match raw.parse::<i64>() {
                Ok(days) if (1..=MAX_DAYS).contains(&days) => days,
                _ => {
                    errors.add(
                        "days",
                        format!("enter a whole number of days from 1 to {MAX_DAYS}"),
                    );
                    DEFAULT_DAYS
                }
            },
        };
        let can_write = ticked(&self.write);
        if can_write && role < Role::Admin {
            errors.add(
                "write",
                "only administrators edit records, so only they can have read-write tokens",
            );
        }
        errors.into_result(TokenFields {
            name,
            days,
            can_write,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, days: &str, write: bool) -> TokenForm {
        TokenForm {
            name: name.into(),
            days: days.into(),
            write: write.then(|| "on".into()),
        }
    }

    #[test]
    fn a_token_needs_a_name_and_a_sane_lifetime() {
        let errors = form(" ", "0", false).validate(Role::Admin).unwrap_err();
        assert!(errors.get("name").is_some());
        assert!(errors.get("days").is_some());
        assert!(form("x", "367", false).validate(Role::Admin).is_err());
        let fields = form(" report ", "", false).validate(Role::Viewer).unwrap();
        assert_eq!(fields.name, "report");
        assert_eq!(fields.days, DEFAULT_DAYS);
    }

    #[test]
    fn only_admins_get_write_tokens() {
        for role in [Role::Viewer, Role::Staff] {
            let errors = form("x", "30", true).validate(role).unwrap_err();
            assert!(errors.get("write").is_some(), "{role}");
        }
        assert!(
            form("x", "30", true)
                .validate(Role::Admin)
                .unwrap()
                .can_write
        );
    }
}
