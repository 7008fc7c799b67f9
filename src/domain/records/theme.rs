//! A theme of the strategy: its code names it and does not change; only its title is
//! edited (the report does not give every title).

use serde::{Deserialize, Serialize};

use crate::domain::forms::FieldErrors;
use crate::domain::records::result_area::title_or_unknown;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ThemeForm {
    pub title: String,
    pub version: String,
}

/// What a person edits on a theme, with the code it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThemeFields {
    pub code: String,
    pub title: Option<String>,
}

/// A theme code from an address: digits only.
pub fn is_theme_code(code: &str) -> bool {
    (1..=9).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit())
}

impl ThemeForm {
    pub fn validate(&self, code: &str) -> Result<ThemeFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let title = errors.optional("title", &self.title, 300);
        errors.into_result(ThemeFields {
            code: code.to_string(),
            title,
        })
    }

    pub fn labelled(&self) -> Vec<(&'static str, String)> {
        vec![("Title", title_or_unknown(&self.title))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theme_codes_are_digits() {
        assert!(is_theme_code("3"));
        for bad in ["x", "3.1", "", "1234567890"] {
            assert!(!is_theme_code(bad), "{bad}");
        }
    }

    #[test]
    fn an_empty_title_is_unknown_not_empty() {
        let form = |title: &str| ThemeForm {
            title: title.into(),
            version: "1".into(),
        };
        assert_eq!(form("   ").validate("3").map(|f| f.title), Ok(None));
        assert_eq!(
            form(" Prison reform ").validate("3").map(|f| f.title),
            Ok(Some("Prison reform".into()))
        );
        assert!(form(&"x".repeat(301)).validate("3").is_err());
    }
}
