//! The closed vocabularies of the portfolio. The database checks the same values with
//! CHECK constraints; these types give them labels for people.

/// [`Vocabulary`] for a type whose own `ALL`, `as_str` and `label` already define it:
/// the types of `vocabulary!`, and closed lists written out by hand (roles, filters).
macro_rules! vocabulary_by_inherent {
    ($name:ty) => {
        impl $crate::domain::vocab::Vocabulary for $name {
            fn all() -> &'static [$name] {
                &<$name>::ALL
            }
            fn as_str(self) -> &'static str {
                <$name>::as_str(self)
            }
            fn label(self) -> &'static str {
                <$name>::label(self)
            }
        }
    };
}
pub(crate) use vocabulary_by_inherent;

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => ($db:literal, $label:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value stored in the database and used in URLs and JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $db),+ }
            }

            /// The label shown to people.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn parse(value: &str) -> Option<$name> {
                match value { $($db => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }

        vocabulary_by_inherent!($name);

        text_column!($name);
    };
}

/// A vocabulary as a `text` column: `sqlx::Type`, `Encode` and `Decode` by its
/// `as_str`/`parse`, so the query macros read and bind it directly (`kind AS "kind: ItemKind"`,
/// `kind as ItemKind`). The columns are `text` with a CHECK constraint, not PostgreSQL enum
/// types (see migrations/). This is what `#[derive(sqlx::Type)]` with
/// `#[sqlx(type_name = "text", rename_all = "snake_case")]` generates, written out for two
/// reasons: the values come from the one table in `vocabulary!` rather than a second
/// spelling by `rename_all`, and the type is PostgreSQL's built-in `text` by OID, where
/// the derive names it (`PgTypeInfo::with_name`) and so costs each connection a type
/// lookup the first time it binds one.
macro_rules! text_column {
    ($name:ty) => {
        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <str as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
            }

            fn array_compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::postgres::PgHasArrayType>::array_compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }

            fn size_hint(&self) -> usize {
                self.as_str().len()
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                <$name>::parse(text)
                    .ok_or_else(|| format!("{text:?} is not a {}", stringify!($name)).into())
            }
        }
    };
}

/// A closed list of values with a stored spelling and a label: what forms offer as a
/// menu and validate with `FieldErrors::choice`.
pub trait Vocabulary: Copy + 'static {
    fn all() -> &'static [Self];
    /// The value stored in the database and used in URLs and JSON.
    fn as_str(self) -> &'static str;
    /// The label shown to people.
    fn label(self) -> &'static str;

    fn parse(value: &str) -> Option<Self> {
        Self::all().iter().copied().find(|v| v.as_str() == value)
    }

    /// The label for a stored value, or the value itself when it is not one of ours.
    fn label_for(raw: &str) -> String {
        Self::parse(raw).map_or_else(|| raw.to_string(), |v| v.label().to_string())
    }
}

vocabulary! {
    /// What an item of the portfolio is.
    ItemKind {
        Programme => ("programme", "Programme"),
        Initiative => ("initiative", "Initiative"),
        Component => ("component", "Component"),
    }
}

vocabulary! {
    /// Where an item stands.
    ItemStatus {
        Planned => ("planned", "Planned"),
        InDevelopment => ("in_development", "In development"),
        SeekingFunding => ("seeking_funding", "Seeking funding"),
        Ongoing => ("ongoing", "Ongoing"),
        Completed => ("completed", "Completed"),
    }
}

vocabulary! {
    /// How far a contribution has come. Firm money is committed or paid.
    ContributionStatus {
        Pledged => ("pledged", "Pledged"),
        Committed => ("committed", "Committed"),
        Paid => ("paid", "Paid"),
        Cancelled => ("cancelled", "Cancelled"),
    }
}

vocabulary! {
    /// What happened to a contribution on a date (domain::contribution_events).
    EventKind {
        Pledged => ("pledged", "Pledged"),
        Committed => ("committed", "Committed"),
        Paid => ("paid", "Paid"),
        Reduced => ("reduced", "Reduced"),
        Cancelled => ("cancelled", "Cancelled"),
    }
}

vocabulary! {
    /// Where a milestone stands. Overdue is not a status: it is a planned milestone whose
    /// due period is over (domain::delivery).
    MilestoneStatus {
        Planned => ("planned", "Planned"),
        Done => ("done", "Done"),
        Slipped => ("slipped", "Slipped"),
        Cancelled => ("cancelled", "Cancelled"),
    }
}

vocabulary! {
    /// What kind of body an organisation is.
    OrgKind {
        Government => ("government", "Government"),
        UnEntity => ("un_entity", "UN entity"),
        Bank => ("bank", "Bank"),
        RegionalBody => ("regional_body", "Regional body"),
        Intergovernmental => ("intergovernmental", "Intergovernmental body"),
        Ngo => ("ngo", "Non-governmental organisation"),
        DonorGroup => ("donor_group", "Group of donors"),
        Other => ("other", "Other"),
    }
}

vocabulary! {
    /// An organisation's part in an item.
    OrgRole {
        Lead => ("lead", "Lead"),
        ExecutingAgency => ("executing_agency", "Executing agency"),
        Partner => ("partner", "Partner"),
        Beneficiary => ("beneficiary", "Beneficiary"),
        RequestedBy => ("requested_by", "Requested by"),
    }
}

vocabulary! {
    /// Countries and regions.
    PlaceKind {
        Country => ("country", "Country"),
        Region => ("region", "Region"),
    }
}

/// The label of a vocabulary value recorded under `field` in a record's saved JSON (the
/// audit trail's before and after), so a change reads "Regional body", not
/// `regional_body`. The field names are the records' (`kind` of an item, organisation or
/// place; `status` of an item or contribution; `role` of an alignment or account); the
/// stored spellings differ across the vocabularies that share a field name.
pub fn label_of_field(field: &str, raw: &str) -> Option<&'static str> {
    fn of<V: Vocabulary>(raw: &str) -> Option<&'static str> {
        V::parse(raw).map(V::label)
    }
    match field {
        "kind" => of::<ItemKind>(raw)
            .or_else(|| of::<OrgKind>(raw))
            .or_else(|| of::<PlaceKind>(raw)),
        "status" => of::<ItemStatus>(raw)
            .or_else(|| of::<ContributionStatus>(raw))
            .or_else(|| of::<MilestoneStatus>(raw)),
        "role" => of::<OrgRole>(raw).or_else(|| of::<crate::domain::auth::Role>(raw)),
        _ => None,
    }
}

// A user's role (users.role), defined with the rules of access in `domain::auth`.
text_column!(crate::domain::auth::Role);

/// Shown wherever a title the source does not give would go.
pub const TITLE_NOT_GIVEN: &str = "title not given in the source";

/// A title as pages print it: the source's, or [`TITLE_NOT_GIVEN`] where it gives none.
pub fn title_or_not_given(title: &Option<String>) -> &str {
    title.as_deref().unwrap_or(TITLE_NOT_GIVEN)
}

impl ContributionStatus {
    /// Firm money is committed or paid: the one definition every figure uses.
    pub fn is_firm(self) -> bool {
        matches!(
            self,
            ContributionStatus::Committed | ContributionStatus::Paid
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_value() {
        for kind in ItemKind::ALL {
            assert_eq!(ItemKind::parse(kind.as_str()), Some(*kind));
        }
        for status in ContributionStatus::ALL {
            assert_eq!(ContributionStatus::parse(status.as_str()), Some(*status));
        }
        assert_eq!(
            ItemStatus::parse("seeking_funding").map(|s| s.label()),
            Some("Seeking funding")
        );
        assert_eq!(ItemStatus::parse("bogus"), None);
    }
}
