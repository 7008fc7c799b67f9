//! Roles, what each may see, and the rules for emails and passwords. Hashing is here
//! too: CPU work with no IO (callers run it off the async runtime).

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use std::sync::LazyLock;

/// Who someone is to the portfolio. Ordered: each role can do what the ones before can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A commission delegate: published items and figures only.
    Viewer,
    /// Office staff: everything, drafts and internal notes included; edits nothing.
    Staff,
    /// Edits every record, manages accounts and rates, reads the audit trail.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Staff, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "Viewer (delegate)",
            Role::Staff => "Staff",
            Role::Admin => "Admin",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

/// The stored value (`admin`), as the command line and the accounts list show it.
impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::domain::vocab::vocabulary_by_inherent!(Role);

/// What a reader may see of the portfolio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Published items only, without internal notes: viewers and anonymous public readers.
    Published,
    /// Every item that is not archived, with internal notes: staff and admins.
    Internal,
}

impl Audience {
    pub fn of(role: Option<Role>) -> Audience {
        match role {
            Some(Role::Staff | Role::Admin) => Audience::Internal,
            Some(Role::Viewer) | None => Audience::Published,
        }
    }
}

/// Emails are compared trimmed and lowercased everywhere.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A plausible address: one `@` with text on both sides, no spaces, a sane length.
pub fn email_problem(email: &str) -> Option<&'static str> {
    let parts: Vec<&str> = email.split('@').collect();
    if email.is_empty() {
        Some("enter an email address")
    } else if email.len() > 254 {
        Some("an email address has at most 254 characters")
    } else if parts.len() != 2
        || parts.iter().any(|p| p.is_empty())
        || email.chars().any(char::is_whitespace)
    {
        Some("enter an address like name@example.org")
    } else {
        None
    }
}

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Why a new password is refused, or None: too short, too long, or one of the commonly
/// used passwords (ASVS 2.1.1, 2.1.7). Every path that sets a password goes through this:
/// `user add` and `user reset-password`, the admin accounts page, and the person's own
/// change of password.
pub fn password_problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Some(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        ))
    } else if chars > MAX_PASSWORD_CHARS {
        Some(format!(
            "a password has at most {MAX_PASSWORD_CHARS} characters"
        ))
    } else if is_common_password(password) {
        Some(
            "this password is on a list of commonly used passwords, which attackers try first: choose another (a few unrelated words make a good one)"
                .to_string(),
        )
    } else {
        None
    }
}

/// The list of common passwords, embedded in the binary (`common_passwords.txt` says where
/// it comes from). Lowercased, as the list is.
static COMMON_PASSWORDS: LazyLock<std::collections::HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .filter(|line| !line.starts_with("# ") && !line.is_empty())
        .collect()
});

/// Whether `password` (compared lowercased and trimmed) is on the embedded list.
pub fn is_common_password(password: &str) -> bool {
    COMMON_PASSWORDS.contains(password.trim().to_lowercase().as_str())
}

/// A plausible address as the sign-in form needs it: the same rule as for accounts, so a
/// malformed one is refused before any password is hashed. Its message for the form.
pub fn sign_in_email_problem(email: &str) -> Option<&'static str> {
    email_problem(email).map(|_| {
        if email.len() > 254 {
            "An email address has at most 254 characters: check the address you typed."
        } else {
            "Enter your email address in the form name@example.org."
        }
    })
}

/// Argon2id with the crate's defaults (m=19456 KiB, t=2, p=1); the salt is drawn inside.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

/// True when `password` matches the stored PHC string. A malformed stored hash is a
/// mismatch, never a panic.
pub fn verify_password(password: &str, stored: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), stored)
        .is_ok()
}

/// A real hash with the same parameters, verified when the email is unknown so that an
/// unknown email costs the same time as a wrong password.
pub static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_password("no account has this password")
        .unwrap_or_else(|_| String::from("$argon2id$v=19$invalid"))
});

/// Verifies against the stored hash, or against [`DUMMY_HASH`] when there is none.
pub fn verify_or_dummy(password: &str, stored: Option<&str>) -> bool {
    match stored {
        Some(hash) => verify_password(password, hash),
        None => {
            let _ = verify_password(password, &DUMMY_HASH);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Viewer < Role::Staff && Role::Staff < Role::Admin);
        assert_eq!(Role::parse("staff"), Some(Role::Staff));
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Audience::of(None), Audience::Published);
        assert_eq!(Audience::of(Some(Role::Viewer)), Audience::Published);
        assert_eq!(Audience::of(Some(Role::Staff)), Audience::Internal);
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert!(!verify_or_dummy("anything", None));
    }

    #[test]
    fn emails_and_passwords() {
        assert_eq!(normalize_email("  Ana@Example.ORG "), "ana@example.org");
        assert_eq!(email_problem("ana@example.org"), None);
        assert!(email_problem("ana").is_some());
        assert!(email_problem("a b@c").is_some());
        assert!(email_problem("@c").is_some());
        assert!(password_problem("short").is_some());
        assert!(password_problem("long enough password").is_none());
        for common in ["qwerty123456", "Q1W2E3R4T5Y6", "1qaz2wsx3edc"] {
            let problem = password_problem(common).unwrap_or_default();
            assert!(problem.contains("commonly used"), "{common}: {problem}");
        }
        for kept in [
            "a-long-password-123",
            "a long enough password",
            "correct horse battery staple",
        ] {
            assert_eq!(password_problem(kept), None, "{kept}");
        }
        assert!(COMMON_PASSWORDS.len() > 19_000, "the whole list is loaded");
        assert!(!COMMON_PASSWORDS.iter().any(|p| p.starts_with("# ")));
    }
}
