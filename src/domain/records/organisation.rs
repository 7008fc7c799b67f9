//! An organisation: a donor, a government, a UN entity, a bank, a regional body.

use serde::{Deserialize, Serialize};

use crate::domain::forms::FieldErrors;
use crate::domain::vocab::{OrgKind, Vocabulary};

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct OrganisationForm {
    pub slug: String,
    pub name: String,
    pub acronym: String,
    pub kind: String,
    pub source_paras: String,
    pub version: String,
}

/// The fields a person edits, as stored (and as the audit trail records them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrganisationFields {
    pub slug: String,
    pub name: String,
    pub acronym: Option<String>,
    pub kind: OrgKind,
    pub source_paras: Option<String>,
}

impl OrganisationForm {
    pub fn blank() -> OrganisationForm {
        OrganisationForm {
            kind: OrgKind::Government.as_str().into(),
            version: "0".into(),
            ..OrganisationForm::default()
        }
    }

    pub fn validate(&self) -> Result<OrganisationFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let fields = OrganisationFields {
            slug: errors.slug_or_from(
                "slug",
                &self.slug,
                &self.name,
                "use lowercase letters, digits and single hyphens, e.g. government-of-canada",
            ),
            name: errors.required("name", &self.name, 300, "enter the organisation's name"),
            acronym: errors.optional("acronym", &self.acronym, 30),
            kind: errors.choice("kind", &self.kind, "choose what kind of body it is"),
            source_paras: errors.optional("source_paras", &self.source_paras, 300),
        };
        errors.into_result(fields)
    }

    /// The values as people read them, for the side-by-side view of a conflict.
    pub fn labelled(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Slug", self.slug.clone()),
            ("Name", self.name.clone()),
            ("Acronym", self.acronym.clone()),
            ("Kind", OrgKind::label_for(&self.kind)),
            ("Source paragraphs", self.source_paras.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_slug_is_made_from_the_name() {
        let form = OrganisationForm {
            name: "Government of Norway".into(),
            kind: "government".into(),
            ..OrganisationForm::default()
        };
        assert_eq!(form.validate().expect("valid").slug, "government-of-norway");
        let typed = OrganisationForm {
            slug: "norway".into(),
            ..form
        };
        assert_eq!(typed.validate().expect("valid").slug, "norway");
    }

    #[test]
    fn a_form_becomes_fields_or_messages() {
        let form = OrganisationForm {
            slug: " government-of-canada ".into(),
            name: "Government of Canada".into(),
            kind: "government".into(),
            ..OrganisationForm::blank()
        };
        let fields = form.validate().expect("valid");
        assert_eq!(fields.slug, "government-of-canada");
        assert_eq!(fields.acronym, None);
        let errors = OrganisationForm {
            slug: "Canada!".into(),
            kind: "planet".into(),
            acronym: "x".repeat(31),
            ..OrganisationForm::blank()
        }
        .validate()
        .expect_err("invalid");
        for field in ["slug", "name", "kind", "acronym"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }
}
