//! A result area of the strategy (`3.4`), under a theme (`3`).

use serde::{Deserialize, Serialize};

use crate::domain::forms::FieldErrors;
use crate::domain::vocab::TITLE_NOT_GIVEN;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct AreaForm {
    pub code: String,
    pub theme: String,
    pub title: String,
    pub source_para: String,
    pub version: String,
}

/// The fields a person edits on a result area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaFields {
    pub code: String,
    pub theme_code: String,
    pub title: Option<String>,
    pub source_para: Option<String>,
}

/// `3.4`: theme number, dot, area number; at most three digits each and no leading
/// zeros, so codes sort as numbers and `3.04` cannot pose as a second `3.4`.
pub fn is_area_code(code: &str) -> bool {
    code.split_once('.')
        .is_some_and(|(theme, area)| is_number(theme) && is_number(area))
}

fn is_number(part: &str) -> bool {
    (1..=3).contains(&part.len())
        && part.bytes().all(|b| b.is_ascii_digit())
        && !part.starts_with('0')
}

/// A title, or that the source gives none.
pub fn title_or_unknown(title: &str) -> String {
    match title.trim() {
        "" => format!("({TITLE_NOT_GIVEN})"),
        t => t.to_string(),
    }
}

impl AreaForm {
    /// `themes`: the codes of the themes it may belong to.
    pub fn validate(&self, themes: &[String]) -> Result<AreaFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let code = self.code.trim().to_string();
        let theme = self.theme.trim().to_string();
        if !is_area_code(&code) {
            errors.add(
                "code",
                "use the theme's number, a dot and the area's number, e.g. 3.4",
            );
        }
        if !themes.contains(&theme) {
            errors.add("theme", "choose the theme the result area belongs to");
        } else if is_area_code(&code) && !code.starts_with(&format!("{theme}.")) {
            errors.add(
                "code",
                format!("a result area of theme {theme} has a code starting with “{theme}.”"),
            );
        }
        let fields = AreaFields {
            code,
            theme_code: theme,
            title: errors.optional("title", &self.title, 300),
            source_para: errors.optional("source_para", &self.source_para, 100),
        };
        errors.into_result(fields)
    }

    pub fn labelled(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Code", self.code.clone()),
            ("Theme", self.theme.clone()),
            ("Title", title_or_unknown(&self.title)),
            ("Source paragraph", self.source_para.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_codes_are_theme_dot_number() {
        for good in ["3.4", "1.1", "3.10", "12.345"] {
            assert!(is_area_code(good), "{good}");
        }
        for bad in [
            "", "3", "3.", ".4", "3.4.1", "3.04", "03.4", "3,4", "a.b", "1.1234", "3.4 ",
        ] {
            assert!(!is_area_code(bad), "{bad}");
        }
    }

    #[test]
    fn the_code_starts_with_its_theme() {
        let form = AreaForm {
            code: "2.4".into(),
            theme: "3".into(),
            title: "  ".into(),
            ..AreaForm::default()
        };
        let themes = vec!["3".to_string()];
        assert!(
            form.validate(&themes)
                .is_err_and(|e| e.get("code").is_some())
        );
        let fields = AreaForm {
            code: "3.4".into(),
            ..form
        }
        .validate(&themes)
        .expect("valid");
        assert_eq!(fields.title, None, "an empty title is unknown, not empty");
    }
}
