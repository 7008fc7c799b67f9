//! IATI 2.03 publishing: every published item as an `iati-activity`, written with
//! quick-xml one activity at a time (see README, "IATI publishing").

use crate::domain::vocab::{ContributionStatus, ItemStatus, OrgRole, PlaceKind};
use crate::store::portfolio::{ItemRecord, PlaceRecord, PortfolioData};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};

/// Who reports: the identifier prefix and the reporting organisation.
#[derive(Debug, Clone)]
pub struct Settings {
    pub organisation_ref: String,
    pub organisation_name: String,
    pub organisation_type: String,
    /// The app's public address, for the result areas' vocabulary-uri.
    pub base_url: String,
}

impl Settings {
    /// From `IATI_ORGANISATION_REF`, `IATI_ORGANISATION_NAME` and `PUBLIC_BASE_URL`.
    pub fn from_env() -> Settings {
        let get = |k: &str, d: &str| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| d.to_string())
        };
        Settings {
            organisation_ref: get("IATI_ORGANISATION_REF", "XM-DAC-41123"),
            organisation_name: get(
                "IATI_ORGANISATION_NAME",
                "United Nations Office on Drugs and Crime",
            ),
            organisation_type: "40".to_string(),
            base_url: get("PUBLIC_BASE_URL", "http://localhost:8080"),
        }
    }
}

/// The ISO 3166-1 code a place is published under as a `recipient-country`. A country
/// without a stored code is published as a region of this publisher's own vocabulary,
/// since `recipient-country` needs a code.
fn country_code(p: &PlaceRecord) -> Option<&str> {
    match p.kind {
        PlaceKind::Country => p.iso_code.as_deref(),
        PlaceKind::Region => None,
    }
}

fn status_code(s: ItemStatus) -> &'static str {
    match s {
        ItemStatus::Planned | ItemStatus::InDevelopment | ItemStatus::SeekingFunding => "1",
        ItemStatus::Ongoing => "2",
        ItemStatus::Completed => "3",
    }
}

fn transaction_type(s: ContributionStatus) -> &'static str {
    match s {
        ContributionStatus::Pledged => "13",
        ContributionStatus::Committed => "11",
        ContributionStatus::Paid => "1",
    }
}

/// Years named by a period such as "2008" or "2008-2009".
fn period_years(period: &str) -> Option<(i32, i32)> {
    let p = period.trim();
    let (a, b) = match p.split_once(['-', '–']) {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (p, p),
    };
    let a: i32 = a.parse().ok()?;
    let b: i32 = b.parse().ok()?;
    ((1900..2200).contains(&a) && a <= b && b - a < 50).then_some((a, b))
}

/// `amount` split evenly to the cent over `n` parts, the remainder on the last.
pub fn split_amount(amount: Decimal, n: usize) -> Vec<Decimal> {
    if n <= 1 {
        return vec![amount];
    }
    let each = (amount / Decimal::from(n as u64))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
    let mut parts = vec![each; n - 1];
    parts.push(amount - each * Decimal::from((n - 1) as u64));
    parts
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Published items as IATI activities.
pub struct Publisher<'a> {
    data: &'a PortfolioData,
    settings: Settings,
    today: NaiveDate,
    generated: DateTime<Utc>,
    published: HashMap<i64, &'a ItemRecord>,
    /// Published item indices, in report order.
    pub items: Vec<usize>,
    budgets: HashMap<i64, Vec<usize>>,
    contributions: HashMap<i64, Vec<usize>>,
    roles: HashMap<i64, Vec<usize>>,
    alignments: HashMap<i64, Vec<usize>>,
    places: HashMap<i64, Vec<i64>>,
    children: HashMap<i64, Vec<usize>>,
    orgs: HashMap<i64, usize>,
}

fn index<T>(rows: &[T], key: impl Fn(&T) -> i64) -> HashMap<i64, Vec<usize>> {
    let mut map: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        map.entry(key(r)).or_default().push(i);
    }
    map
}

type W<'w> = Writer<&'w mut Vec<u8>>;

fn open(w: &mut W, name: &str, attrs: &[(&str, &str)]) {
    let mut e = BytesStart::new(name);
    for a in attrs {
        e.push_attribute(*a);
    }
    let _ = w.write_event(Event::Start(e));
}

fn empty(w: &mut W, name: &str, attrs: &[(&str, &str)]) {
    let mut e = BytesStart::new(name);
    for a in attrs {
        e.push_attribute(*a);
    }
    let _ = w.write_event(Event::Empty(e));
}

fn close(w: &mut W, name: &str) {
    let _ = w.write_event(Event::End(BytesEnd::new(name)));
}

fn text(w: &mut W, name: &str, attrs: &[(&str, &str)], body: &str) {
    open(w, name, attrs);
    let _ = w.write_event(Event::Text(BytesText::new(body)));
    close(w, name);
}

/// `<name attrs><narrative>body</narrative></name>`
fn narrated(w: &mut W, name: &str, attrs: &[(&str, &str)], body: &str) {
    open(w, name, attrs);
    text(w, "narrative", &[], body);
    close(w, name);
}

impl<'a> Publisher<'a> {
    pub fn new(data: &'a PortfolioData, settings: Settings, now: DateTime<Utc>) -> Self {
        let items: Vec<usize> = (0..data.items.len())
            .filter(|&i| data.items[i].published)
            .collect();
        let published = items
            .iter()
            .map(|&i| (data.items[i].id, &data.items[i]))
            .collect();
        Publisher {
            data,
            settings,
            today: now.date_naive(),
            generated: now,
            published,
            items,
            budgets: index(&data.budgets, |b| b.item_id),
            contributions: index(&data.contributions, |c| c.item_id),
            roles: index(&data.roles, |r| r.item_id),
            alignments: index(&data.alignments, |a| a.item_id),
            places: {
                let mut m: HashMap<i64, Vec<i64>> = HashMap::new();
                for &(item, place) in &data.item_places {
                    m.entry(item).or_default().push(place);
                }
                m
            },
            children: index(&data.items, |c| c.parent_id.unwrap_or(-1)),
            orgs: data
                .organisations
                .iter()
                .enumerate()
                .map(|(i, o)| (o.id, i))
                .collect(),
        }
    }

    fn identifier(&self, slug: &str) -> String {
        format!("{}-{slug}", self.settings.organisation_ref)
    }

    pub fn header(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new_with_indent(out, b' ', 1);
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        let generated = self.generated.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        open(
            &mut w,
            "iati-activities",
            &[("version", "2.03"), ("generated-datetime", &generated)],
        );
    }

    pub fn footer(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\n</iati-activities>\n");
    }

    /// The activity's start and end (for budget periods).
    fn span(&self, item: &ItemRecord) -> (Option<NaiveDate>, Option<NaiveDate>) {
        let from_period = item.period.as_deref().and_then(period_years);
        let start = item
            .start_date
            .or_else(|| from_period.and_then(|(a, _)| NaiveDate::from_ymd_opt(a, 1, 1)));
        let end = item
            .end_date
            .or_else(|| from_period.and_then(|(_, b)| NaiveDate::from_ymd_opt(b, 12, 31)));
        (start, end)
    }

    /// Writes the `i`th item of the portfolio (a published one) as one activity.
    pub fn activity(&self, i: usize, out: &mut Vec<u8>) {
        let d = self.data;
        let item = &d.items[i];
        let s = &self.settings;
        out.push(b'\n');
        let mut w = Writer::new_with_indent(out, b' ', 1);
        let w = &mut w;
        open(
            w,
            "iati-activity",
            &[
                ("xml:lang", "en"),
                (
                    "hierarchy",
                    if item.parent_id.is_some() { "2" } else { "1" },
                ),
            ],
        );
        text(w, "iati-identifier", &[], &self.identifier(&item.slug));
        narrated(
            w,
            "reporting-org",
            &[("ref", &s.organisation_ref), ("type", &s.organisation_type)],
            &s.organisation_name,
        );
        narrated(w, "title", &[], &item.title);
        let description = [&item.summary, &item.description, &item.title]
            .into_iter()
            .find(|t| !t.trim().is_empty())
            .map(|t| t.as_str())
            .unwrap_or(&item.title);
        narrated(w, "description", &[("type", "1")], description);

        // participating-org: donors (1 funding), UNODC (2 accountable), partners (4).
        let of = |m: &HashMap<i64, Vec<usize>>| m.get(&item.id).cloned().unwrap_or_default();
        let contributions: Vec<_> = of(&self.contributions)
            .into_iter()
            .map(|k| &d.contributions[k])
            .collect();
        let budgets: Vec<_> = of(&self.budgets)
            .into_iter()
            .map(|k| &d.budgets[k])
            .collect();
        let org = |id: i64| self.orgs.get(&id).map(|&k| &d.organisations[k]);
        let mut seen = HashSet::new();
        for c in &contributions {
            if seen.insert((c.org_id, "1"))
                && let Some(o) = org(c.org_id)
            {
                narrated(w, "participating-org", &[("role", "1")], &o.display_name());
            }
        }
        narrated(
            w,
            "participating-org",
            &[
                ("ref", &s.organisation_ref),
                ("role", "2"),
                ("type", &s.organisation_type),
            ],
            &s.organisation_name,
        );
        for r in of(&self.roles).into_iter().map(|k| &d.roles[k]) {
            let implementing = matches!(
                r.role,
                OrgRole::Lead | OrgRole::ExecutingAgency | OrgRole::Partner
            );
            if implementing
                && seen.insert((r.org_id, "4"))
                && let Some(o) = org(r.org_id)
            {
                narrated(w, "participating-org", &[("role", "4")], &o.display_name());
            }
        }

        empty(w, "activity-status", &[("code", status_code(item.status))]);
        let started = matches!(item.status, ItemStatus::Ongoing | ItemStatus::Completed);
        let (start, end) = self.span(item);
        let mut dated = false;
        if let Some(sd) = start {
            // an actual date is never in the future
            let ty = if started && sd <= self.today {
                "2"
            } else {
                "1"
            };
            empty(w, "activity-date", &[("iso-date", &ymd(sd)), ("type", ty)]);
            dated = true;
        }
        if let Some(ed) = end {
            let ty = if item.status == ItemStatus::Completed && ed <= self.today {
                "4"
            } else {
                "3"
            };
            empty(w, "activity-date", &[("iso-date", &ymd(ed)), ("type", ty)]);
            dated = true;
        }
        if !dated {
            // No date at all: the earliest budget period or dated record, as a planned
            // start, so budget periods stay within the activity.
            let first = budgets
                .iter()
                .flat_map(|b| self.budget_periods(item, b.period.as_deref(), b.as_of, b.amount))
                .map(|(ps, _, _)| ps)
                .chain(budgets.iter().map(|b| b.as_of))
                .chain(contributions.iter().map(|c| c.as_of))
                .min()
                .unwrap_or(self.today);
            empty(
                w,
                "activity-date",
                &[("iso-date", &ymd(first)), ("type", "1")],
            );
        }

        // every recipient-country before any recipient-region, as the schema orders them
        let places: Vec<_> = self
            .places
            .get(&item.id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(|id| d.places.iter().find(|p| p.id == *id))
            .collect();
        for p in &places {
            if let Some(code) = country_code(p) {
                narrated(w, "recipient-country", &[("code", code)], &p.name);
            }
        }
        for p in &places {
            if country_code(p).is_none() {
                let code = crate::domain::slug::from_name(&p.name);
                narrated(
                    w,
                    "recipient-region",
                    &[("code", &code), ("vocabulary", "99")],
                    &p.name,
                );
            }
        }

        let uri = format!("{}/result-areas", s.base_url.trim_end_matches('/'));
        for a in of(&self.alignments).into_iter().map(|k| &d.alignments[k]) {
            if let Some(area) = d.result_areas.iter().find(|r| r.id == a.result_area_id) {
                narrated(
                    w,
                    "tag",
                    &[
                        ("code", &area.code),
                        ("vocabulary", "99"),
                        ("vocabulary-uri", &uri),
                    ],
                    area.title.as_deref().unwrap_or(&area.code),
                );
            }
        }

        for b in &budgets {
            for (ps, pe, amount) in
                self.budget_periods(item, b.period.as_deref(), b.as_of, b.amount)
            {
                open(w, "budget", &[("type", "1"), ("status", "1")]);
                empty(w, "period-start", &[("iso-date", &ymd(ps))]);
                empty(w, "period-end", &[("iso-date", &ymd(pe))]);
                let value_date = ymd(b.as_of.clamp(ps, pe));
                text(
                    w,
                    "value",
                    &[("currency", &b.currency), ("value-date", &value_date)],
                    &amount.normalize().to_string(),
                );
                close(w, "budget");
            }
        }

        for c in &contributions {
            // never in the future: clamped to the day the file is written
            let date = c
                .pledged_on
                .filter(|_| c.status == ContributionStatus::Pledged)
                .unwrap_or(c.as_of)
                .min(self.today);
            let date = ymd(date);
            open(w, "transaction", &[]);
            empty(
                w,
                "transaction-type",
                &[("code", transaction_type(c.status))],
            );
            empty(w, "transaction-date", &[("iso-date", &date)]);
            text(
                w,
                "value",
                &[("currency", &c.currency), ("value-date", &date)],
                &c.amount.normalize().to_string(),
            );
            if let Some(o) = org(c.org_id) {
                narrated(w, "provider-org", &[], &o.display_name());
            }
            close(w, "transaction");
        }

        if let Some(parent) = item.parent_id.and_then(|p| self.published.get(&p)) {
            empty(
                w,
                "related-activity",
                &[("ref", &self.identifier(&parent.slug)), ("type", "1")],
            );
        }
        for child in of(&self.children)
            .into_iter()
            .map(|k| &d.items[k])
            .filter(|c| c.published)
        {
            empty(
                w,
                "related-activity",
                &[("ref", &self.identifier(&child.slug)), ("type", "2")],
            );
        }
        close(w, "iati-activity");
    }

    /// A budget's periods of at most one year, within the activity where it has dates.
    fn budget_periods(
        &self,
        item: &ItemRecord,
        period: Option<&str>,
        as_of: NaiveDate,
        amount: Decimal,
    ) -> Vec<(NaiveDate, NaiveDate, Decimal)> {
        let (start, end) = self.span(item);
        let (a, b) = period
            .and_then(period_years)
            .or_else(|| item.period.as_deref().and_then(period_years))
            .or_else(|| Some((start?.year(), end?.year())))
            .unwrap_or((as_of.year(), as_of.year()));
        let mut spans = Vec::new();
        for y in a..=b {
            let (Some(mut ps), Some(mut pe)) = (
                NaiveDate::from_ymd_opt(y, 1, 1),
                NaiveDate::from_ymd_opt(y, 12, 31),
            ) else {
                continue;
            };
            if let Some(sd) = start {
                ps = ps.max(sd);
            }
            if let Some(ed) = end {
                pe = pe.min(ed);
            }
            if ps <= pe {
                spans.push((ps, pe));
            }
        }
        if spans.is_empty() {
            // The budget's years fall outside the activity: the activity's own span,
            // year by year from its start.
            let ps = start.unwrap_or(as_of);
            let pe = end.unwrap_or(ps).max(ps);
            let mut from = ps;
            while from <= pe {
                let to = (from.with_year(from.year() + 1).unwrap_or(pe)
                    - chrono::Duration::days(1))
                .min(pe);
                spans.push((from, to));
                from = to + chrono::Duration::days(1);
            }
        }
        let parts = split_amount(amount, spans.len());
        spans
            .into_iter()
            .zip(parts)
            .map(|((s, e), m)| (s, e, m))
            .collect()
    }

    /// The whole document into `out` (the CLI; the route streams activity by activity).
    pub fn write_all(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(64 * 1024);
        self.header(&mut buf);
        for &i in &self.items {
            self.activity(i, &mut buf);
            if buf.len() > 48 * 1024 {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
        self.footer(&mut buf);
        out.write_all(&buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iati_split_amount_to_the_cent() {
        let parts = split_amount(Decimal::new(100001, 2), 3);
        assert_eq!(
            parts.iter().copied().sum::<Decimal>(),
            Decimal::new(100001, 2)
        );
        assert_eq!(parts[0], Decimal::new(33333, 2));
        assert_eq!(parts[2], Decimal::new(33335, 2));
        assert_eq!(period_years("2008-2009"), Some((2008, 2009)));
        assert_eq!(period_years("three-year"), None);
    }
}
