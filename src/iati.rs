//! IATI 2.03 publishing: every published item as an `iati-activity`, written with
//! quick-xml one activity at a time (see README, "IATI publishing").

use crate::config::IatiSettings;
use crate::domain::vocab::{ContributionStatus, ItemStatus, OrgRole, PlaceKind};
use crate::store::portfolio::{ItemRecord, PlaceRecord, PortfolioData};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};

/// The reporting organisation's type: 40, multilateral (IATI OrganisationType).
const ORGANISATION_TYPE: &str = "40";

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

/// A contribution's transaction type at its status; none for a cancelled one, which
/// carries no money (what was paid before a cancellation leaves it `paid`).
fn transaction_type(s: ContributionStatus) -> Option<&'static str> {
    match s {
        ContributionStatus::Pledged => Some("13"),
        ContributionStatus::Committed => Some("11"),
        ContributionStatus::Paid => Some("1"),
        ContributionStatus::Cancelled => None,
    }
}

/// Years named by a period such as "2008" or "2008-2009".
fn period_years(period: &str) -> Option<(i32, i32)> {
    let (start, end) = crate::domain::dates::parse_span(period)?;
    let (a, b) = (start.first_day().year(), end.last_day().year());
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

/// Where each item's records are: computed once per data revision (the dashboards'
/// snapshot keeps it), so a request only writes.
pub struct Index {
    /// Published item indices, in report order.
    activities: Vec<usize>,
    /// Published items' indices by id (a link to a draft is left out).
    published: HashMap<i64, usize>,
    budgets: HashMap<i64, Vec<usize>>,
    contributions: HashMap<i64, Vec<usize>>,
    roles: HashMap<i64, Vec<usize>>,
    alignments: HashMap<i64, Vec<usize>>,
    /// An item's places (indices into `places`).
    places: HashMap<i64, Vec<usize>>,
    children: HashMap<i64, Vec<usize>>,
    organisations: HashMap<i64, usize>,
    result_areas: HashMap<i64, usize>,
}

impl Index {
    pub fn new(data: &PortfolioData) -> Index {
        let activities: Vec<usize> = (0..data.items.len())
            .filter(|&i| data.items[i].published)
            .collect();
        let position = |ids: &mut dyn Iterator<Item = i64>| -> HashMap<i64, usize> {
            ids.enumerate().map(|(i, id)| (id, i)).collect()
        };
        let place_at = position(&mut data.places.iter().map(|p| p.id));
        let mut places: HashMap<i64, Vec<usize>> = HashMap::new();
        for (item, place) in &data.item_places {
            if let Some(&k) = place_at.get(place) {
                places.entry(*item).or_default().push(k);
            }
        }
        Index {
            published: activities.iter().map(|&i| (data.items[i].id, i)).collect(),
            activities,
            budgets: index(&data.budgets, |b| b.item_id),
            contributions: index(&data.contributions, |c| c.item_id),
            roles: index(&data.roles, |r| r.item_id),
            alignments: index(&data.alignments, |a| a.item_id),
            places,
            children: index(&data.items, |c| c.parent_id.unwrap_or(-1)),
            organisations: position(&mut data.organisations.iter().map(|o| o.id)),
            result_areas: position(&mut data.result_areas.iter().map(|r| r.id)),
        }
    }

    /// The published items, in report order: one activity each.
    pub fn activities(&self) -> &[usize] {
        &self.activities
    }
}

/// Writes published items as IATI activities, as of one moment.
pub struct Publisher<'a> {
    data: &'a PortfolioData,
    index: &'a Index,
    settings: &'a IatiSettings,
    today: NaiveDate,
    generated: DateTime<Utc>,
}

fn index<T>(rows: &[T], key: impl Fn(&T) -> i64) -> HashMap<i64, Vec<usize>> {
    let mut map: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        map.entry(key(r)).or_default().push(i);
    }
    map
}

/// The records of `item` listed in `by_item`.
fn of<'d, T>(by_item: &HashMap<i64, Vec<usize>>, item: i64, rows: &'d [T]) -> Vec<&'d T> {
    by_item
        .get(&item)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|&k| &rows[k])
        .collect()
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
    pub fn new(
        data: &'a PortfolioData,
        index: &'a Index,
        settings: &'a IatiSettings,
        now: DateTime<Utc>,
    ) -> Self {
        Publisher {
            data,
            index,
            settings,
            today: now.date_naive(),
            generated: now,
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
            .start()
            .map(|d| d.first_day())
            .or_else(|| from_period.and_then(|(a, _)| NaiveDate::from_ymd_opt(a, 1, 1)));
        let end = item
            .end()
            .map(|d| d.last_day())
            .or_else(|| from_period.and_then(|(_, b)| NaiveDate::from_ymd_opt(b, 12, 31)));
        (start, end)
    }

    /// Writes the `i`th item of the portfolio (a published one) as one activity, its
    /// elements in the order the schema requires.
    pub fn activity(&self, i: usize, out: &mut Vec<u8>) {
        let item = &self.data.items[i];
        let s = self.settings;
        out.push(b'\n');
        let mut w = Writer::new_with_indent(out, b' ', 1);
        let w = &mut w;
        let hierarchy = if item.parent_id.is_some() { "2" } else { "1" };
        open(
            w,
            "iati-activity",
            &[("xml:lang", "en"), ("hierarchy", hierarchy)],
        );
        text(w, "iati-identifier", &[], &self.identifier(&item.slug));
        narrated(
            w,
            "reporting-org",
            &[("ref", &s.organisation_ref), ("type", ORGANISATION_TYPE)],
            &s.organisation_name,
        );
        narrated(w, "title", &[], &item.title);
        let description = [&item.summary, &item.description]
            .into_iter()
            .find(|t| !t.trim().is_empty())
            .unwrap_or(&item.title);
        narrated(w, "description", &[("type", "1")], description);
        self.participating_orgs(w, item);
        empty(w, "activity-status", &[("code", status_code(item.status))]);
        self.activity_dates(w, item);
        self.recipients(w, item);
        self.result_areas(w, item);
        self.budgets(w, item);
        self.transactions(w, item);
        self.related_activities(w, item);
        self.results(w, item);
        close(w, "iati-activity");
    }

    /// Donors (1 funding), the reporting organisation (2 accountable), and the item's
    /// lead, executing agency and partners (4 implementing), each once per role.
    fn participating_orgs(&self, w: &mut W, item: &ItemRecord) {
        let d = self.data;
        let x = self.index;
        let s = self.settings;
        let org = |id: i64| x.organisations.get(&id).map(|&k| &d.organisations[k]);
        let mut seen = HashSet::new();
        for c in of(&x.contributions, item.id, &d.contributions) {
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
                ("type", ORGANISATION_TYPE),
            ],
            &s.organisation_name,
        );
        for r in of(&x.roles, item.id, &d.roles) {
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
    }

    /// Start and end, planned or actual (an actual date is never in the future). An
    /// item without dates gets the earliest of its budget periods and records as a
    /// planned start, so its budget periods stay within the activity.
    fn activity_dates(&self, w: &mut W, item: &ItemRecord) {
        let started = matches!(item.status, ItemStatus::Ongoing | ItemStatus::Completed);
        let (start, end) = self.span(item);
        if let Some(sd) = start {
            let ty = if started && sd <= self.today {
                "2"
            } else {
                "1"
            };
            empty(w, "activity-date", &[("iso-date", &ymd(sd)), ("type", ty)]);
        }
        if let Some(ed) = end {
            let done = item.status == ItemStatus::Completed && ed <= self.today;
            let ty = if done { "4" } else { "3" };
            empty(w, "activity-date", &[("iso-date", &ymd(ed)), ("type", ty)]);
        }
        if start.is_none() && end.is_none() {
            let (d, x) = (self.data, self.index);
            let budgets = of(&x.budgets, item.id, &d.budgets);
            let first = budgets
                .iter()
                .flat_map(|b| self.budget_periods(item, b.period.as_deref(), b.as_of, b.amount))
                .map(|(ps, _, _)| ps)
                .chain(budgets.iter().map(|b| b.as_of))
                .chain(
                    of(&x.contributions, item.id, &d.contributions)
                        .iter()
                        .map(|c| c.as_of),
                )
                .min()
                .unwrap_or(self.today);
            empty(
                w,
                "activity-date",
                &[("iso-date", &ymd(first)), ("type", "1")],
            );
        }
    }

    /// Countries by their ISO code, then every other place as a region of the
    /// publisher's own vocabulary (99): the schema orders them so.
    fn recipients(&self, w: &mut W, item: &ItemRecord) {
        let places = of(&self.index.places, item.id, &self.data.places);
        for p in &places {
            if let Some(code) = country_code(p) {
                narrated(w, "recipient-country", &[("code", code)], &p.name);
            }
        }
        for p in places.iter().filter(|p| country_code(p).is_none()) {
            let code = crate::domain::slug::from_name(&p.name);
            narrated(
                w,
                "recipient-region",
                &[("code", &code), ("vocabulary", "99")],
                &p.name,
            );
        }
    }

    /// The strategy's result areas as tags of the publisher's vocabulary, whose
    /// vocabulary-uri is the app's result-area page.
    fn result_areas(&self, w: &mut W, item: &ItemRecord) {
        let (d, x) = (self.data, self.index);
        let uri = format!(
            "{}/result-areas",
            self.settings.public_base_url.trim_end_matches('/')
        );
        for a in of(&x.alignments, item.id, &d.alignments) {
            if let Some(&k) = x.result_areas.get(&a.result_area_id) {
                let area = &d.result_areas[k];
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
    }

    /// Each stated budget in periods of at most a year, with its value date inside.
    fn budgets(&self, w: &mut W, item: &ItemRecord) {
        for b in of(&self.index.budgets, item.id, &self.data.budgets) {
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
    }

    /// Contributions as incoming transactions: 13 pledge, 11 commitment, 1 incoming
    /// funds; dated no later than the day the file is written.
    fn transactions(&self, w: &mut W, item: &ItemRecord) {
        let (d, x) = (self.data, self.index);
        for c in of(&x.contributions, item.id, &d.contributions) {
            let Some(code) = transaction_type(c.status) else {
                continue;
            };
            let date = c
                .pledged_on
                .filter(|_| c.status == ContributionStatus::Pledged)
                .unwrap_or(c.as_of)
                .min(self.today);
            let date = ymd(date);
            open(w, "transaction", &[]);
            empty(w, "transaction-type", &[("code", code)]);
            empty(w, "transaction-date", &[("iso-date", &date)]);
            text(
                w,
                "value",
                &[("currency", &c.currency), ("value-date", &date)],
                &c.amount.normalize().to_string(),
            );
            if let Some(&k) = x.organisations.get(&c.org_id) {
                narrated(w, "provider-org", &[], &d.organisations[k].display_name());
            }
            close(w, "transaction");
        }
    }

    /// The published parent (type 1) and published components (type 2).
    fn related_activities(&self, w: &mut W, item: &ItemRecord) {
        let (d, x) = (self.data, self.index);
        if let Some(&parent) = item.parent_id.and_then(|p| x.published.get(&p)) {
            let parent = self.identifier(&d.items[parent].slug);
            empty(w, "related-activity", &[("ref", &parent), ("type", "1")]);
        }
        for child in of(&x.children, item.id, &d.items) {
            if child.published {
                let child = self.identifier(&child.slug);
                empty(w, "related-activity", &[("ref", &child), ("type", "2")]);
            }
        }
    }

    /// A budget's periods of at most one year, within the activity where it has dates.
    /// Each target as an output result with one indicator (a count, ascending): a period
    /// over the target's own dates (or the activity's), the target value and the latest
    /// recorded value as the actual. Milestones have no place of their own in IATI 2.03.
    fn results(&self, w: &mut W, item: &ItemRecord) {
        for target in self.data.delivery.targets_of(item.id) {
            open(w, "result", &[("type", "1"), ("aggregation-status", "0")]);
            narrated(w, "title", &[], &target.measure);
            open(w, "indicator", &[("measure", "1"), ("ascending", "1")]);
            narrated(w, "title", &[], &target.measure);
            let (start, end) = self.span(item);
            let period = match target.period {
                Some(p) => Some((p.first_day(), p.last_day())),
                None => start.zip(end),
            };
            if let Some((from, until)) = period {
                open(w, "period", &[]);
                empty(w, "period-start", &[("iso-date", &ymd(from))]);
                empty(w, "period-end", &[("iso-date", &ymd(until))]);
                let value = target.target_value.normalize().to_string();
                empty(w, "target", &[("value", &value)]);
                if let Some(current) = target.current() {
                    empty(w, "actual", &[("value", &current.normalize().to_string())]);
                }
                close(w, "period");
            }
            close(w, "indicator");
            close(w, "result");
        }
    }

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
            spans = yearly(start.unwrap_or(as_of), end);
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
        for &i in self.index.activities() {
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

/// `from` to `until` (or `from` alone) cut into spans of at most a year: for a budget
/// whose years fall outside its activity.
fn yearly(from: NaiveDate, until: Option<NaiveDate>) -> Vec<(NaiveDate, NaiveDate)> {
    let last = until.unwrap_or(from).max(from);
    let mut spans = Vec::new();
    let mut start = from;
    while start <= last {
        let end = (start.with_year(start.year() + 1).unwrap_or(last) - chrono::Duration::days(1))
            .min(last);
        spans.push((start, end));
        start = end + chrono::Duration::days(1);
    }
    spans
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
