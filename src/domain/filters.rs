//! Dashboard filters: what a reader can narrow a view to. Parsed from the query string,
//! so every view is a bookmarkable URL; an unknown value is an error, never ignored.

use crate::domain::funding::Funding;
use crate::domain::vocab::{ItemKind, ItemStatus, Vocabulary};
use chrono::NaiveDate;

/// The two bienniums of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Biennium {
    B2008,
    B2010,
}

impl Biennium {
    pub const ALL: [Biennium; 2] = [Biennium::B2008, Biennium::B2010];

    pub fn as_str(self) -> &'static str {
        match self {
            Biennium::B2008 => "2008-2009",
            Biennium::B2010 => "2010-2011",
        }
    }

    /// A biennium is named by its years, in the address and on the page alike.
    pub fn label(self) -> &'static str {
        self.as_str()
    }

    fn range(self) -> (NaiveDate, NaiveDate) {
        let (from, to) = match self {
            Biennium::B2008 => (2008, 2009),
            Biennium::B2010 => (2010, 2011),
        };
        (
            NaiveDate::from_ymd_opt(from, 1, 1).unwrap_or_default(),
            NaiveDate::from_ymd_opt(to, 12, 31).unwrap_or_default(),
        )
    }

    /// Whether a period (either end may be open) overlaps the biennium. An item with no
    /// dates at all belongs to no biennium: the source does not say.
    pub fn overlaps(self, start: Option<NaiveDate>, end: Option<NaiveDate>) -> bool {
        if start.is_none() && end.is_none() {
            return false;
        }
        let (from, to) = self.range();
        start.is_none_or(|s| s <= to) && end.is_none_or(|e| e >= from)
    }
}

crate::domain::vocab::vocabulary_by_inherent!(Biennium);

/// Where an item stands against its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FundingState {
    FullyFunded,
    PartlyFunded,
    Unfunded,
    BudgetUnknown,
}

impl FundingState {
    pub const ALL: [FundingState; 4] = [
        FundingState::FullyFunded,
        FundingState::PartlyFunded,
        FundingState::Unfunded,
        FundingState::BudgetUnknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FundingState::FullyFunded => "fully-funded",
            FundingState::PartlyFunded => "partly-funded",
            FundingState::Unfunded => "unfunded",
            FundingState::BudgetUnknown => "budget-unknown",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FundingState::FullyFunded => "Fully funded",
            FundingState::PartlyFunded => "Partly funded",
            FundingState::Unfunded => "Unfunded",
            FundingState::BudgetUnknown => "Budget not stated",
        }
    }

    /// Coverage is judged on the parts whose budget is stated (money pledged to a part
    /// without a budget does not fund a budgeted one), but "unfunded" means that nothing
    /// at all is pledged: an item whose only pledges go to parts of unstated budget is
    /// partly funded, not unfunded.
    pub fn of(f: &Funding) -> FundingState {
        match f.budget_usd {
            None => FundingState::BudgetUnknown,
            _ if f.is_fully_funded() => FundingState::FullyFunded,
            // money pledged in a currency without a rate is money all the same
            _ if !f.unconverted.pledged().is_empty() => FundingState::PartlyFunded,
            Some(_) if f.pledged_usd.is_zero() => FundingState::Unfunded,
            Some(_) => FundingState::PartlyFunded,
        }
    }

    /// The CSS class that styles the state's label (the label itself carries the meaning).
    pub fn class(self) -> &'static str {
        match self {
            FundingState::FullyFunded => "state-funded",
            FundingState::PartlyFunded => "state-gap",
            FundingState::Unfunded => "state-unfunded",
            FundingState::BudgetUnknown => "state-unknown",
        }
    }
}

crate::domain::vocab::vocabulary_by_inherent!(FundingState);

/// A validated set of filters. Text-valued ones (codes, slugs) are checked against the
/// portfolio by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub kind: Option<ItemKind>,
    pub status: Option<ItemStatus>,
    pub theme: Option<String>,
    pub result_area: Option<String>,
    pub organisation: Option<String>,
    pub place: Option<String>,
    pub biennium: Option<Biennium>,
    pub funding: Option<FundingState>,
}

/// The raw query-string values, as received.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct RawFilters {
    pub kind: String,
    pub status: String,
    pub theme: String,
    pub result_area: String,
    pub organisation: String,
    pub place: String,
    pub biennium: String,
    pub funding: String,
}

/// A value of a closed vocabulary, or none when the parameter is empty; anything else
/// is an error that lists the values there are.
fn closed<V: Vocabulary>(name: &str, raw: &str) -> Result<Option<V>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    V::parse(raw).map(Some).ok_or_else(|| {
        let allowed: Vec<&str> = V::all().iter().map(|v| v.as_str()).collect();
        format!(
            "Unknown {name} “{raw}”. Use one of: {}.",
            allowed.join(", ")
        )
    })
}

fn open(raw: &str) -> Option<String> {
    Some(raw.trim().to_string()).filter(|s| !s.is_empty())
}

impl RawFilters {
    /// Checks the closed vocabularies; open ones (codes, slugs) are passed on trimmed.
    pub fn parse(&self) -> Result<Filters, String> {
        Ok(Filters {
            kind: closed("kind", &self.kind)?,
            status: closed("status", &self.status)?,
            biennium: closed("biennium", &self.biennium)?,
            funding: closed("funding state", &self.funding)?,
            theme: open(&self.theme),
            result_area: open(&self.result_area),
            organisation: open(&self.organisation),
            place: open(&self.place),
        })
    }
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }

    /// The filters as query-string pairs, for links that keep them (CSV, sorting, pages).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut push = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                pairs.push((k, v));
            }
        };
        push("kind", self.kind.map(|k| k.as_str().to_string()));
        push("status", self.status.map(|s| s.as_str().to_string()));
        push("theme", self.theme.clone());
        push("result_area", self.result_area.clone());
        push("organisation", self.organisation.clone());
        push("place", self.place.clone());
        push("biennium", self.biennium.map(|b| b.as_str().to_string()));
        push("funding", self.funding.map(|f| f.as_str().to_string()));
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn bienniums_overlap_periods() {
        assert!(Biennium::B2008.overlaps(date(2008, 1, 1), date(2010, 12, 31)));
        assert!(Biennium::B2010.overlaps(date(2008, 1, 1), date(2010, 12, 31)));
        assert!(!Biennium::B2010.overlaps(date(2008, 1, 1), date(2008, 12, 31)));
        assert!(Biennium::B2010.overlaps(date(2009, 6, 1), None));
        assert!(
            !Biennium::B2008.overlaps(None, None),
            "no dates: no biennium"
        );
    }

    #[test]
    fn unknown_values_are_errors_not_ignored() {
        let raw = RawFilters {
            kind: "programme".into(),
            funding: "unfunded".into(),
            ..Default::default()
        };
        let f = raw.parse().unwrap();
        assert_eq!(f.kind, Some(ItemKind::Programme));
        assert_eq!(f.funding, Some(FundingState::Unfunded));
        let bad = RawFilters {
            status: "finished".into(),
            ..Default::default()
        };
        assert!(
            bad.parse()
                .unwrap_err()
                .contains("Unknown status “finished”")
        );
        let bad = RawFilters {
            biennium: "2012-2013".into(),
            ..Default::default()
        };
        assert!(bad.parse().is_err());
    }

    #[test]
    fn pairs_round_trip_what_is_set() {
        let f = Filters {
            theme: Some("3".into()),
            biennium: Some(Biennium::B2008),
            ..Default::default()
        };
        assert_eq!(
            f.pairs(),
            vec![
                ("theme", "3".to_string()),
                ("biennium", "2008-2009".to_string())
            ]
        );
    }
}
