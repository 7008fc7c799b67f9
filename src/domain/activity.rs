//! How a change of the audit trail reads for people: what was done (published, not
//! "edited", when the published flag is what changed) and to which record, named by its
//! title rather than its id. Rows written before publishing had an action of its own are
//! read from their before/after snapshots, so the whole trail reads alike.

use rust_decimal::Decimal;
use serde_json::Value;

use crate::domain::money::format_money;

/// The record types of the activity page (sign-ins and accounts are not portfolio
/// changes: they stay in the admins' audit trail), as stored in `audit_log.entity`, with
/// their labels, in menu order.
pub const RECORD_TYPES: &[(&str, &str)] = &[
    ("item", "Programmes, initiatives and components"),
    ("budget", "Budgets"),
    ("contribution", "Contributions"),
    ("alignment", "Alignments with result areas"),
    ("organisation", "Organisations"),
    ("result_area", "Result areas"),
    ("theme", "Themes"),
    ("exchange_rate", "Exchange rates"),
];

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Created,
    Edited,
    Published,
    Unpublished,
    Archived,
    Restored,
    Deleted,
    /// Anything else the trail records (account changes, sign-ins).
    Other,
}

impl Verb {
    /// The verb of an audit row: its action, except that an `update` whose snapshots
    /// show the `published` flag turned is a publish or an unpublish (rows written before
    /// those had actions of their own).
    pub fn of(action: &str, before: Option<&Value>, after: Option<&Value>) -> Verb {
        match action {
            "create" => Verb::Created,
            "publish" => Verb::Published,
            "unpublish" => Verb::Unpublished,
            "archive" => Verb::Archived,
            "restore" => Verb::Restored,
            "delete" => Verb::Deleted,
            "update" => {
                let published = |v: Option<&Value>| v.and_then(|v| v.get("published")?.as_bool());
                match (published(before), published(after)) {
                    (Some(false), Some(true)) => Verb::Published,
                    (Some(true), Some(false)) => Verb::Unpublished,
                    _ => Verb::Edited,
                }
            }
            _ => Verb::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verb::Created => "Created",
            Verb::Edited => "Edited",
            Verb::Published => "Published",
            Verb::Unpublished => "Unpublished",
            Verb::Archived => "Archived",
            Verb::Restored => "Restored",
            Verb::Deleted => "Deleted",
            Verb::Other => "Changed",
        }
    }
}

/// The sentence that says what happened: the stored summary, except that an older
/// row's "Edited programme “X”" for what was a publish says "Published programme “X”";
/// a row without a summary says the verb and the record.
pub fn headline(verb: Verb, summary: &str, record: &str) -> String {
    if matches!(verb, Verb::Published | Verb::Unpublished)
        && let Some(rest) = summary.strip_prefix("Edited ")
    {
        return format!("{} {rest}", verb.label());
    }
    if summary.is_empty() {
        format!("{} {record}", verb.label())
    } else {
        summary.to_string()
    }
}

/// What the database still knows of the record a change was about (None when it is gone
/// or the change was about another kind of record).
#[derive(Debug, Default, Clone, Copy)]
pub struct Known<'a> {
    pub item_title: Option<&'a str>,
    pub item_kind: Option<&'a str>,
    /// An organisation's name.
    pub org_name: Option<&'a str>,
    /// A result area's code.
    pub area_code: Option<&'a str>,
}

/// The record a change was about, for people: `programme “Guinea-Bissau”`, `contribution
/// of USD 1,000,000 from Canada to “Guinea-Bissau”`. Current names come first (an item
/// renamed since is named as it is now); the snapshots of the change fill in the rest.
pub fn record_name(
    entity: &str,
    known: Known<'_>,
    before: Option<&Value>,
    after: Option<&Value>,
) -> String {
    // The latest snapshot that has the field: a deletion has only `before`.
    let field = |name: &str| -> Option<String> {
        [after, before]
            .into_iter()
            .flatten()
            .find_map(|v| v.get(name)?.as_str().map(str::to_string))
    };
    let item = || {
        known
            .item_title
            .map(str::to_string)
            .or_else(|| (entity == "item").then(|| field("title")).flatten())
            .map(|t| format!("“{t}”"))
            .unwrap_or_else(|| "an item".to_string())
    };
    let money = || match (field("amount"), field("currency")) {
        (Some(amount), Some(currency)) => {
            let shown = match amount.parse::<Decimal>() {
                Ok(amount) => format_money(amount, &currency),
                Err(_) => format!("{currency} {amount}"),
            };
            format!(" of {shown}")
        }
        _ => String::new(),
    };
    match entity {
        "item" => {
            let kind = known
                .item_kind
                .map(str::to_string)
                .or_else(|| field("kind"))
                .unwrap_or_else(|| "item".to_string());
            format!("{kind} {}", item())
        }
        "budget" => format!("budget{} for {}", money(), item()),
        "contribution" => {
            let from = field("organisation")
                .map(|o| format!(" from {o}"))
                .unwrap_or_default();
            format!("contribution{}{from} to {}", money(), item())
        }
        "alignment" => match field("result_area") {
            Some(area) => format!("alignment of {} with result area {area}", item()),
            None => format!("alignment of {}", item()),
        },
        "organisation" => match known.org_name.map(str::to_string).or_else(|| field("name")) {
            Some(name) => format!("organisation {name}"),
            None => "an organisation".to_string(),
        },
        "result_area" => match known
            .area_code
            .map(str::to_string)
            .or_else(|| field("code"))
        {
            Some(code) => format!("result area {code}"),
            None => "a result area".to_string(),
        },
        "theme" => match field("code") {
            Some(code) => format!("theme {code}"),
            None => "a theme".to_string(),
        },
        "exchange_rate" => match (field("currency"), field("month")) {
            (Some(currency), Some(month)) => format!("exchange rate of {currency} for {month}"),
            _ => "an exchange rate".to_string(),
        },
        other => other.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_turned_published_flag_is_a_publish() {
        let draft = json!({"title": "A", "published": false});
        let public = json!({"title": "B", "published": true});
        assert_eq!(
            Verb::of("update", Some(&draft), Some(&public)),
            Verb::Published
        );
        assert_eq!(
            Verb::of("update", Some(&public), Some(&draft)),
            Verb::Unpublished
        );
        assert_eq!(
            Verb::of("update", Some(&public), Some(&public)),
            Verb::Edited
        );
        assert_eq!(Verb::of("update", None, Some(&public)), Verb::Edited);
        assert_eq!(Verb::of("publish", None, None), Verb::Published);
        assert_eq!(Verb::of("archive", None, None), Verb::Archived);
        assert_eq!(Verb::of("login_failure", None, None), Verb::Other);
    }

    #[test]
    fn an_older_publish_reads_as_one() {
        assert_eq!(
            headline(Verb::Published, "Edited programme “X”", "programme “X”"),
            "Published programme “X”"
        );
        assert_eq!(
            headline(Verb::Edited, "Edited programme “X”", "programme “X”"),
            "Edited programme “X”"
        );
        assert_eq!(headline(Verb::Created, "", "theme 1"), "Created theme 1");
    }

    #[test]
    fn records_are_named_by_title() {
        let known = Known {
            item_title: Some("Guinea-Bissau"),
            item_kind: Some("programme"),
            ..Known::default()
        };
        assert_eq!(
            record_name("item", known, None, Some(&json!({"title": "Old"}))),
            "programme “Guinea-Bissau”"
        );
        let pledge = json!({"amount": "1000000.00", "currency": "USD", "organisation": "Canada"});
        assert_eq!(
            record_name("contribution", known, None, Some(&pledge)),
            "contribution of USD 1,000,000 from Canada to “Guinea-Bissau”"
        );
        assert_eq!(
            record_name("budget", known, Some(&pledge), None),
            "budget of USD 1,000,000 for “Guinea-Bissau”"
        );
        assert_eq!(
            record_name(
                "item",
                Known::default(),
                None,
                Some(&json!({"title": "Gone", "kind": "initiative"}))
            ),
            "initiative “Gone”"
        );
        assert_eq!(
            record_name(
                "organisation",
                Known::default(),
                Some(&json!({"name": "Canada"})),
                None
            ),
            "organisation Canada"
        );
    }
}
