//! An item of the portfolio: a programme, an initiative, or a component of one.

use serde::Deserialize;

use crate::domain::dates::PartialDate;

use crate::domain::forms::{FieldErrors, ticked};
use crate::domain::records::yes_no;
use crate::domain::vocab::{ItemKind, ItemStatus, Vocabulary};

/// Longest title, and longest text of any other field.
pub const MAX_TITLE: usize = 300;
pub const MAX_TEXT: usize = 20_000;
/// Longest place name.
pub const MAX_PLACE: usize = 200;

pub const PARENT_NEEDED: &str =
    "a component belongs to a programme or an initiative: choose which one";
pub const PARENT_FORBIDDEN: &str = "only components have a parent: leave this empty for a programme or an initiative, or make it a component";
pub const PARENT_CYCLE: &str =
    "an item cannot sit under itself or under one of its own components: choose another parent";
pub const PARENT_GONE: &str = "that item is archived or no longer exists: choose another parent";
pub const END_BEFORE_START: &str = "the end date cannot be before the start date";

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ItemForm {
    pub title: String,
    pub slug: String,
    pub kind: String,
    pub parent: String,
    pub report_section: String,
    pub status: String,
    pub status_note: String,
    pub summary: String,
    pub description: String,
    pub period: String,
    pub start_date: String,
    pub end_date: String,
    pub places: String,
    pub source_paras: String,
    pub published: Option<String>,
    /// Ticked: publishing the item publishes its unpublished components too.
    pub publish_components: Option<String>,
    pub internal_notes: String,
    pub version: String,
}

/// The editable fields of an item, as validated from a form.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemFields {
    pub title: String,
    pub slug: String,
    pub kind: ItemKind,
    pub parent_id: Option<i64>,
    pub report_section: Option<String>,
    pub status: ItemStatus,
    pub status_note: Option<String>,
    pub summary: String,
    pub description: String,
    pub period: Option<String>,
    pub start_date: Option<PartialDate>,
    pub end_date: Option<PartialDate>,
    pub places: Vec<String>,
    pub source_paras: Option<String>,
    pub published: bool,
    /// Publish the unpublished components as well (only with `published`).
    pub publish_components: bool,
    pub internal_notes: String,
}

impl ItemForm {
    pub fn blank() -> ItemForm {
        ItemForm {
            kind: ItemKind::Programme.as_str().into(),
            status: ItemStatus::Planned.as_str().into(),
            version: "0".into(),
            ..ItemForm::default()
        }
    }

    pub fn validate(&self) -> Result<ItemFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let kind = ItemKind::parse(self.kind.trim());
        let fields = ItemFields {
            title: errors.required("title", &self.title, MAX_TITLE, "enter the title"),
            slug: errors.slug_or_from(
                "slug",
                &self.slug,
                &self.title,
                "use lowercase letters, digits and single hyphens, at most 100 characters, e.g. west-africa-guinea-bissau",
            ),
            kind: errors.choice(
                "kind",
                &self.kind,
                "choose whether it is a programme, an initiative or a component",
            ),
            parent_id: parent_id(&mut errors, kind, &self.parent),
            report_section: errors.optional("report_section", &self.report_section, MAX_TEXT),
            status: errors.choice("status", &self.status, "choose where it stands"),
            status_note: errors.optional("status_note", &self.status_note, MAX_TEXT),
            summary: errors.text("summary", &self.summary, MAX_TEXT),
            description: errors.text("description", &self.description, MAX_TEXT),
            period: errors.optional("period", &self.period, MAX_TEXT),
            start_date: errors.partial_date("start_date", &self.start_date),
            end_date: errors.partial_date("end_date", &self.end_date),
            places: place_names(&mut errors, &self.places),
            source_paras: errors.optional("source_paras", &self.source_paras, MAX_TEXT),
            published: ticked(&self.published),
            publish_components: ticked(&self.published) && ticked(&self.publish_components),
            internal_notes: errors.text("internal_notes", &self.internal_notes, MAX_TEXT),
        };
        if let (Some(start), Some(end)) = (fields.start_date, fields.end_date)
            && end.last_day() < start.first_day()
        {
            errors.add("end_date", END_BEFORE_START);
        }
        errors.into_result(fields)
    }

    /// The values as people read them; `parent` is the parent's name.
    pub fn labelled(&self, parent: String) -> Vec<(&'static str, String)> {
        vec![
            ("Title", self.title.clone()),
            ("Slug", self.slug.clone()),
            ("Kind", ItemKind::label_for(&self.kind)),
            ("Parent", parent),
            ("Report section", self.report_section.clone()),
            ("Status", ItemStatus::label_for(&self.status)),
            ("Status note", self.status_note.clone()),
            ("Summary", self.summary.clone()),
            ("Description", self.description.clone()),
            ("Period", self.period.clone()),
            ("Start date", self.start_date.clone()),
            ("End date", self.end_date.clone()),
            ("Countries and regions", self.places.clone()),
            ("Source paragraphs", self.source_paras.clone()),
            ("Published", yes_no(ticked(&self.published))),
            ("Internal notes", self.internal_notes.clone()),
        ]
    }
}

/// The parent chosen: required for a component, refused for anything else.
fn parent_id(errors: &mut FieldErrors, kind: Option<ItemKind>, raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let parsed = raw.parse::<i64>().ok().filter(|id| *id > 0);
    match kind {
        Some(ItemKind::Component) if raw.is_empty() => errors.add("parent", PARENT_NEEDED),
        Some(ItemKind::Component) if parsed.is_none() => {
            errors.add("parent", "choose the parent from the list")
        }
        Some(ItemKind::Programme | ItemKind::Initiative) if !raw.is_empty() => {
            errors.add("parent", PARENT_FORBIDDEN)
        }
        _ => {}
    }
    parsed.filter(|_| kind == Some(ItemKind::Component))
}

/// Comma-separated place names, trimmed, without blanks or repeats (ignoring case).
fn place_names(errors: &mut FieldErrors, raw: &str) -> Vec<String> {
    if raw.chars().count() > MAX_TEXT {
        errors.add("places", "use at most 20,000 characters");
        return Vec::new();
    }
    let mut names: Vec<String> = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.chars().count() > MAX_PLACE {
            let start: String = name.chars().take(30).collect();
            errors.add(
                "places",
                format!("“{start}…” is too long for a place name (at most {MAX_PLACE} characters); separate places with commas"),
            );
        } else if !names
            .iter()
            .any(|n| n.to_lowercase() == name.to_lowercase())
        {
            names.push(name.to_string());
        }
    }
    names
}

/// The add-an-alignment form on an item's edit page.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct AlignForm {
    pub result_area: String,
    pub source_para: String,
    pub note: String,
}

/// A validated alignment: the result area's id, the source paragraph and a note.
pub struct AlignFields {
    pub result_area_id: i64,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

impl AlignForm {
    pub fn validate(&self) -> Result<AlignFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let fields = AlignFields {
            result_area_id: errors.id(
                "result_area",
                &self.result_area,
                "choose a result area from the list",
            ),
            source_para: errors.optional("align_source_para", &self.source_para, MAX_TEXT),
            note: errors.optional("align_note", &self.note, MAX_TEXT),
        };
        errors.into_result(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ItemForm {
        ItemForm {
            title: "A programme".into(),
            slug: "a-programme".into(),
            kind: "programme".into(),
            status: "planned".into(),
            version: "1".into(),
            ..ItemForm::default()
        }
    }

    #[test]
    fn a_component_needs_a_parent_and_nothing_else_may_have_one() {
        let component = ItemForm {
            kind: "component".into(),
            ..valid()
        };
        assert_eq!(
            component
                .validate()
                .err()
                .and_then(|e| e.get("parent").map(str::to_string)),
            Some(PARENT_NEEDED.to_string())
        );
        let with_parent = ItemForm {
            parent: "3".into(),
            ..component
        };
        assert_eq!(
            with_parent.validate().ok().and_then(|f| f.parent_id),
            Some(3)
        );
        let programme = ItemForm {
            parent: "3".into(),
            ..valid()
        };
        assert!(
            programme
                .validate()
                .is_err_and(|e| e.get("parent").is_some())
        );
    }

    #[test]
    fn dates_lengths_and_places_are_checked() {
        let form = ItemForm {
            start_date: "2010-01-01".into(),
            end_date: "2009-12-31".into(),
            title: "x".repeat(301),
            description: "y".repeat(20_001),
            ..valid()
        };
        let errors = form.validate().err().unwrap_or_default();
        assert_eq!(errors.get("end_date"), Some(END_BEFORE_START));
        assert!(errors.get("title").is_some());
        assert!(errors.get("description").is_some());
        assert!(
            ItemForm {
                start_date: "31/01/2008".into(),
                ..valid()
            }
            .validate()
            .is_err_and(|e| e.get("start_date").is_some())
        );
        let places = ItemForm {
            places: " Guinea-Bissau, West Africa,, guinea-bissau ,".into(),
            ..valid()
        };
        assert_eq!(
            places.validate().map(|f| f.places).unwrap_or_default(),
            vec!["Guinea-Bissau".to_string(), "West Africa".to_string()]
        );
    }
}
