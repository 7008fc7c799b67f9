//! A contribution (pledge) of an organisation to an item.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::forms::{FieldErrors, ticked};
use crate::domain::records::budget::{
    AS_OF_MISSING, NOTE_MAX, NoRate, SOURCE_MAX, comparable_amount, decimal_string,
};
use crate::domain::records::yes_no;
use crate::domain::vocab::{ContributionStatus, Vocabulary};

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ContributionForm {
    pub organisation: String,
    pub amount: String,
    pub currency: String,
    pub status: String,
    pub pledged_on: String,
    pub as_of: String,
    pub approximate: Option<String>,
    pub self_financing: Option<String>,
    pub source_para: String,
    pub note: String,
    /// Ticked to save although no exchange rate converts the amount yet.
    pub without_rate: Option<String>,
    pub version: String,
}

/// The fields a person edits; with the organisation's name, the audit record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContributionFields {
    pub org_id: i64,
    #[serde(serialize_with = "decimal_string")]
    pub amount: Decimal,
    pub currency: String,
    pub status: ContributionStatus,
    pub pledged_on: Option<NaiveDate>,
    pub as_of: NaiveDate,
    pub approximate: bool,
    pub self_financing: bool,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

/// What a contribution form offers: the currencies and the organisations (id, name)
/// that can be chosen; and whether the typed currency has a rate for the typed date.
#[derive(Debug, Clone, Default)]
pub struct ContributionChoices {
    pub currencies: Vec<String>,
    pub organisations: Vec<(i64, String)>,
    pub no_rate: Option<NoRate>,
}

impl ContributionChoices {
    pub fn organisation_name(&self, id: &str) -> Option<&str> {
        self.organisations
            .iter()
            .find(|(o, _)| o.to_string() == id.trim())
            .map(|(_, name)| name.as_str())
    }
}

impl ContributionForm {
    pub fn is_approximate(&self) -> bool {
        ticked(&self.approximate)
    }

    pub fn is_self_financing(&self) -> bool {
        ticked(&self.self_financing)
    }

    pub fn validate(
        &self,
        choices: &ContributionChoices,
    ) -> Result<ContributionFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        const CHOOSE: &str = "choose the organisation that gives the money";
        let org_id = errors.id("organisation", &self.organisation, CHOOSE);
        if org_id > 0 && !choices.organisations.iter().any(|(o, _)| *o == org_id) {
            errors.add("organisation", CHOOSE);
        }
        let fields = ContributionFields {
            org_id,
            amount: errors.money("amount", &self.amount),
            currency: errors.currency("currency", &self.currency, &choices.currencies),
            status: errors.choice("status", &self.status, "choose pledged, committed or paid"),
            pledged_on: errors.date("pledged_on", &self.pledged_on),
            as_of: errors.required_date("as_of", &self.as_of, AS_OF_MISSING),
            approximate: self.is_approximate(),
            self_financing: self.is_self_financing(),
            source_para: errors.optional("source_para", &self.source_para, SOURCE_MAX),
            note: errors.optional("note", &self.note, NOTE_MAX),
        };
        if fields.amount.is_zero() && errors.get("amount").is_none() {
            // A budget of 0 can be a fact; a pledge of nothing is a mistake.
            errors.add(
                "amount",
                "enter an amount above 0: a contribution of 0 records nothing",
            );
        }
        errors.into_result(fields)
    }

    /// With the organisation's name rather than its id.
    pub fn labelled(&self, choices: &ContributionChoices) -> Vec<(&'static str, String)> {
        let organisation = choices
            .organisation_name(&self.organisation)
            .map_or_else(|| self.organisation.clone(), str::to_string);
        vec![
            ("Organisation", organisation),
            ("Amount", comparable_amount(&self.amount)),
            ("Currency", self.currency.clone()),
            ("Status", ContributionStatus::label_for(&self.status)),
            ("Pledged on", self.pledged_on.clone()),
            ("As of", self.as_of.clone()),
            ("Approximate", yes_no(self.is_approximate())),
            ("Self-financing", yes_no(self.is_self_financing())),
            ("Source paragraph", self.source_para.clone()),
            ("Note", self.note.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contribution_of_zero_is_refused() {
        let choices = ContributionChoices {
            currencies: vec!["USD".into()],
            organisations: vec![(1, "Canada".into())],
            no_rate: None,
        };
        for zero in ["0", "0.00", "0,000"] {
            let form = ContributionForm {
                organisation: "1".into(),
                amount: zero.into(),
                currency: "USD".into(),
                status: "pledged".into(),
                as_of: "2008-02-07".into(),
                ..ContributionForm::default()
            };
            let errors = form.validate(&choices).expect_err(zero);
            assert_eq!(
                errors.get("amount"),
                Some("enter an amount above 0: a contribution of 0 records nothing")
            );
        }
    }

    #[test]
    fn the_organisation_must_be_one_offered() {
        let choices = ContributionChoices {
            currencies: vec!["USD".into()],
            organisations: vec![(4, "Norway".into())],
            no_rate: None,
        };
        let form = ContributionForm {
            organisation: "5".into(),
            amount: "1,000".into(),
            currency: "usd".into(),
            status: "pledged".into(),
            as_of: "2008-02-07".into(),
            ..ContributionForm::default()
        };
        assert!(
            form.validate(&choices)
                .is_err_and(|e| e.get("organisation").is_some())
        );
        let fields = ContributionForm {
            organisation: "4".into(),
            ..form
        }
        .validate(&choices)
        .expect("valid");
        assert_eq!(fields.status, ContributionStatus::Pledged);
        assert_eq!(fields.amount, Decimal::from(1000));
    }
}
