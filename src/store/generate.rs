//! A synthetic portfolio for benchmarks and load tests (`portfolio-tracker generate`).
//!
//! The portfolio is a pure function of the item count, the contribution count, the seed
//! and the number of result areas: [`build`] makes it in memory with a ChaCha8 generator,
//! then [`generate`] loads it on top of the seeded report in one transaction, with bulk
//! `INSERT ... SELECT FROM UNNEST(...)` statements of a few thousand rows each.
//!
//! Names the benchmark can address:
//! - items: `gen-<n>` for the n-th programme or initiative (n from 1), `gen-<n>-<c>` for
//!   its components, `gen-<n>-<c>-<s>` for their sub-components; every item of the first
//!   ten families (`gen-1` ... `gen-10` and below) is published, and `gen-1` always has a
//!   component `gen-1-1` with a sub-component `gen-1-1-1`;
//! - organisations: `gen-org-<k>` (k from 1; low k contribute most);
//! - places: countries `Genland <k>` and regions `Genregion <k>` (low k have most items);
//! - every family carries a code name, two words like `Amber Heron` (10 × 10 names), in
//!   its titles and summaries: searching for one finds about 1 % of the items;
//! - report sections `X.<n>` (zero-padded), so generated items follow the report's own.

use anyhow::{Context, bail};
use chrono::{Datelike, Duration, NaiveDate};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::HashMap;
use std::time::Instant;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Items in all (programmes and initiatives, components, sub-components).
    pub items: u32,
    pub contributions: u32,
    pub seed: u64,
    /// Load even when the database holds more than the seeded report; an earlier
    /// generated portfolio is removed first.
    pub force: bool,
}

/// Rows per INSERT statement.
const BATCH: usize = 10_000;

/// Non-USD currencies of generated money, with a typical USD value of one unit in
/// 2006-2013. Monthly rates wander around it.
const CURRENCIES: &[(&str, f64)] = &[
    ("EUR", 1.35),
    ("GBP", 1.75),
    ("JPY", 0.0095),
    ("NOK", 0.17),
    ("CHF", 0.90),
    ("SEK", 0.145),
    ("DKK", 0.18),
    ("CAD", 0.93),
];
const FIRST_RATE_YEAR: i32 = 2006;
const LAST_RATE_YEAR: i32 = 2013;
const RATE_SOURCE: &str = "synthetic rate (portfolio-tracker generate), not an official figure";

const COLOURS: &[&str] = &[
    "Amber", "Azure", "Cedar", "Cobalt", "Coral", "Ivory", "Jade", "Onyx", "Saffron", "Silver",
];
const ANIMALS: &[&str] = &[
    "Heron", "Falcon", "Lynx", "Otter", "Ibis", "Kestrel", "Marten", "Osprey", "Plover", "Wren",
];
const TOPICS: &[&str] = &[
    "drug demand reduction",
    "alternative development",
    "maritime crime",
    "border management",
    "anti-corruption",
    "criminal justice reform",
    "prison reform",
    "human trafficking",
    "migrant smuggling",
    "cybercrime",
    "money laundering",
    "terrorism prevention",
    "HIV prevention among people who use drugs",
    "forensic science",
    "container control",
    "wildlife and forest crime",
    "firearms trafficking",
    "victim support",
    "juvenile justice",
    "drug treatment and care",
];
const FOCUSES: &[&str] = &[
    "Legal assistance",
    "Capacity building",
    "Training of prosecutors",
    "Data collection and analysis",
    "Regional coordination",
    "Community outreach",
    "Institutional reform",
    "Equipment and infrastructure",
    "Policy advice",
    "Monitoring and evaluation",
    "Public awareness",
    "Investigative skills",
    "Inter-agency cooperation",
    "Border liaison offices",
    "Treatment services",
    "Research and assessment",
];
const ACTIVITIES: &[&str] = &[
    "Workshops",
    "Pilot project",
    "Field office support",
    "Needs assessment",
    "Curriculum development",
    "Study tours",
    "Mentoring programme",
    "Database development",
    "Expert meetings",
    "Handbook and toolkit",
    "Helpline",
    "Mobile teams",
];
const STATUSES: &[(&str, u32)] = &[
    ("planned", 15),
    ("in_development", 15),
    ("seeking_funding", 25),
    ("ongoing", 35),
    ("completed", 10),
];
const STATUS_NOTES: &[&str] = &[
    "Awaiting confirmation of donor funding.",
    "Project document under review.",
    "Implementation delayed by the security situation.",
    "Extension requested until the end of the biennium.",
    "Subject to the agreement of the Government.",
];
const INTERNAL_NOTES: &[&str] = &[
    "Check the figures with the field office.",
    "Donor report overdue.",
    "Revision of the budget expected next quarter.",
];
const ORG_KINDS: &[(&str, u32, &str)] = &[
    ("government", 40, "Government of Genland"),
    ("un_entity", 10, "United Nations Gen Agency"),
    ("bank", 5, "Gen Development Bank"),
    ("regional_body", 8, "Gen Regional Commission"),
    ("intergovernmental", 7, "Gen Intergovernmental Forum"),
    ("ngo", 20, "Gen Foundation"),
    ("donor_group", 3, "Gen Donor Group"),
    ("other", 7, "Gen Institute"),
];

// ---------------------------------------------------------------------------------------
// The portfolio in memory
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct Organisation {
    pub slug: String,
    pub name: String,
    pub acronym: Option<String>,
    pub kind: &'static str,
    pub source_paras: Option<String>,
    /// The currency it usually pays in.
    currency: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub name: String,
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub slug: String,
    pub title: String,
    pub kind: &'static str,
    /// Index of the parent in [`Portfolio::items`].
    pub parent: Option<usize>,
    /// 0 for programmes and initiatives, 1 for components, 2 for sub-components.
    pub level: u8,
    pub report_section: String,
    pub status: &'static str,
    pub status_note: Option<String>,
    pub summary: String,
    pub description: String,
    pub period: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub source_paras: Option<String>,
    pub published: bool,
    pub internal_notes: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemOrganisation {
    pub item: usize,
    pub org: usize,
    pub role: &'static str,
    pub source_para: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alignment {
    pub item: usize,
    /// Index into the result areas, ordered by code.
    pub area: usize,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub item: usize,
    /// Amount in hundredths of the currency unit.
    pub cents: i64,
    pub currency: &'static str,
    pub approximate: bool,
    pub period: Option<String>,
    pub as_of: NaiveDate,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub item: usize,
    pub org: usize,
    pub cents: i64,
    pub currency: &'static str,
    pub status: &'static str,
    pub pledged_on: Option<NaiveDate>,
    pub as_of: NaiveDate,
    pub approximate: bool,
    pub self_financing: bool,
    pub source_para: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    pub currency: &'static str,
    pub month: NaiveDate,
    /// Six decimal places, as text for the NUMERIC column.
    pub usd_per_unit: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Portfolio {
    pub organisations: Vec<Organisation>,
    pub places: Vec<Place>,
    pub items: Vec<Item>,
    pub item_places: Vec<(usize, usize)>,
    pub item_organisations: Vec<ItemOrganisation>,
    pub alignments: Vec<Alignment>,
    pub budgets: Vec<Budget>,
    pub contributions: Vec<Contribution>,
    pub rates: Vec<Rate>,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

fn first_day() -> NaiveDate {
    date(FIRST_RATE_YEAR, 1, 1)
}

fn last_day() -> NaiveDate {
    date(LAST_RATE_YEAR, 12, 31)
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, values: &[T]) -> T {
    values[rng.random_range(0..values.len())]
}

fn weighted<T: Copy>(rng: &mut ChaCha8Rng, values: &[(T, u32)]) -> T {
    let total: u32 = values.iter().map(|(_, w)| w).sum();
    let mut at = rng.random_range(0..total);
    for (value, weight) in values {
        if at < *weight {
            return *value;
        }
        at -= weight;
    }
    values[values.len() - 1].0
}

/// An index in 0..n, low indexes much more likely (a few big donors, a few busy places).
fn skewed(rng: &mut ChaCha8Rng, n: usize, power: f64) -> usize {
    let u: f64 = rng.random();
    ((u.powf(power) * n as f64) as usize).min(n - 1)
}

/// Log-uniform between `low` and `high`.
fn log_uniform(rng: &mut ChaCha8Rng, low: f64, high: f64) -> f64 {
    let u: f64 = rng.random();
    (low.ln() + u * (high.ln() - low.ln())).exp()
}

fn date_between(rng: &mut ChaCha8Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(0);
    from + Duration::days(rng.random_range(0..=span))
}

fn para(rng: &mut ChaCha8Rng) -> String {
    let first = rng.random_range(5..160);
    if rng.random_bool(0.5) {
        format!("para. {first}")
    } else {
        format!("paras. {first}-{}", first + rng.random_range(1..4))
    }
}

/// Rounds an amount to what people write: whole thousands above 100,000, tens above
/// 1,000; in hundredths of the unit.
fn round_amount(units: f64) -> i64 {
    let units = units.max(100.0);
    let step = if units >= 100_000.0 {
        1_000.0
    } else if units >= 1_000.0 {
        10.0
    } else {
        1.0
    };
    ((units / step).round() * step * 100.0) as i64
}

fn usd_value(currency: &str) -> f64 {
    CURRENCIES
        .iter()
        .find(|(code, _)| *code == currency)
        .map_or(1.0, |(_, usd)| *usd)
}

fn money_currency(rng: &mut ChaCha8Rng) -> &'static str {
    if rng.random_bool(0.55) {
        "USD"
    } else {
        pick(rng, CURRENCIES).0
    }
}

/// Builds the whole portfolio in memory: the same arguments always give the same
/// portfolio. `result_areas` is how many result areas the database has; every one of
/// them is aligned by some item when there are at least as many items.
pub fn build(items: u32, contributions: u32, seed: u64, result_areas: usize) -> Portfolio {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n_items = items as usize;
    let mut p = Portfolio::default();

    // Exchange rates: every month of 2006-2013 for each currency.
    for (ci, (code, usd)) in CURRENCIES.iter().enumerate() {
        let phase = ci as f64 * 0.9;
        for year in FIRST_RATE_YEAR..=LAST_RATE_YEAR {
            for month in 1..=12 {
                let m = ((year - FIRST_RATE_YEAR) * 12) as f64 + month as f64;
                let wave = 0.12 * (m / 48.0 * std::f64::consts::TAU + phase).sin();
                let noise = rng.random_range(-0.015..0.015);
                p.rates.push(Rate {
                    currency: code,
                    month: date(year, month, 1),
                    usd_per_unit: format!("{:.6}", usd * (1.0 + wave + noise)),
                });
            }
        }
    }

    // Organisations: hundreds, more with bigger portfolios.
    let n_orgs = (n_items / 20).clamp(200, 5_000);
    for k in 1..=n_orgs {
        let kind = weighted(
            &mut rng,
            &ORG_KINDS
                .iter()
                .map(|(kind, w, prefix)| ((*kind, *prefix), *w))
                .collect::<Vec<_>>(),
        );
        let (kind, prefix) = kind;
        let acronym = rng.random_bool(0.6).then(|| {
            let letters: String = prefix
                .split(' ')
                .filter_map(|w| w.chars().next())
                .filter(char::is_ascii_uppercase)
                .collect();
            format!("{letters}{k}")
        });
        let currency = if kind == "government" && rng.random_bool(0.8) {
            pick(&mut rng, CURRENCIES).0
        } else if rng.random_bool(0.8) {
            "USD"
        } else {
            pick(&mut rng, CURRENCIES).0
        };
        p.organisations.push(Organisation {
            slug: format!("gen-org-{k}"),
            name: format!("{prefix} {k}"),
            acronym,
            kind,
            source_paras: rng.random_bool(0.3).then(|| para(&mut rng)),
            currency,
        });
    }

    // Places: hundreds of countries, a tenth as many regions.
    let n_places = (n_items / 50).clamp(200, 5_000);
    let n_regions = n_places / 10;
    for k in 1..=n_places - n_regions {
        p.places.push(Place {
            name: format!("Genland {k}"),
            kind: "country",
        });
    }
    for k in 1..=n_regions {
        p.places.push(Place {
            name: format!("Genregion {k}"),
            kind: "region",
        });
    }
    let n_countries = n_places - n_regions;

    // Items, family by family.
    let mut item_places: Vec<Vec<usize>> = Vec::with_capacity(n_items);
    let mut family = 0usize;
    while p.items.len() < n_items {
        family += 1;
        let codename = format!("{} {}", pick(&mut rng, COLOURS), pick(&mut rng, ANIMALS));
        let topic = pick(&mut rng, TOPICS);
        let kind = if rng.random_bool(0.25) {
            "initiative"
        } else {
            "programme"
        };
        let published = family <= 10 || rng.random_bool(0.9);
        // Places of the programme: a country or two, sometimes a region.
        let mut places = Vec::new();
        let count = weighted(&mut rng, &[(1usize, 70), (2, 20), (3, 10)]);
        for _ in 0..count {
            let place = if rng.random_bool(0.15) {
                n_countries + skewed(&mut rng, n_regions, 1.5)
            } else {
                skewed(&mut rng, n_countries, 1.5)
            };
            if !places.contains(&place) {
                places.push(place);
            }
        }
        let where_ = p.places[places[0]].name.clone();
        let (start, end) = if rng.random_bool(0.8) {
            let start = date(rng.random_range(2006..=2012), rng.random_range(1..=12), 1);
            let years = rng.random_range(1..=5);
            let end = (start + Duration::days(365 * years - 1)).min(last_day());
            (Some(start), rng.random_bool(0.85).then_some(end))
        } else {
            (None, None)
        };
        let top = p.items.len();
        p.items.push(Item {
            slug: format!("gen-{family}"),
            title: format!("{codename} {kind} on {topic}"),
            kind,
            parent: None,
            level: 0,
            report_section: format!("X.{family:05}"),
            status: weighted(&mut rng, STATUSES),
            status_note: rng
                .random_bool(0.15)
                .then(|| pick(&mut rng, STATUS_NOTES).to_string()),
            summary: format!(
                "{codename} strengthens {topic} in {where_} and its neighbours.",
                where_ = where_
            ),
            description: format!(
                "The {kind} {codename} supports the authorities of {where_} in {topic}. \
                 It works through {} and {}, with national counterparts and the field office.",
                pick(&mut rng, FOCUSES).to_lowercase(),
                pick(&mut rng, FOCUSES).to_lowercase(),
            ),
            period: period(start, end),
            start_date: start,
            end_date: end,
            source_paras: rng.random_bool(0.4).then(|| para(&mut rng)),
            published,
            internal_notes: internal_note(&mut rng),
        });
        item_places.push(places.clone());

        let components = if family == 1 {
            2
        } else {
            weighted(
                &mut rng,
                &[(0usize, 20), (1, 15), (2, 20), (3, 20), (4, 15), (5, 10)],
            )
        };
        for c in 1..=components {
            if p.items.len() >= n_items {
                break;
            }
            let focus = pick(&mut rng, FOCUSES);
            let comp_places = child_places(&mut rng, &places, n_countries);
            let (cs, ce) = child_dates(&mut rng, start, end);
            let component = p.items.len();
            let comp_published = rng.random_bool(0.9) || family <= 10;
            p.items.push(Item {
                slug: format!("gen-{family}-{c}"),
                title: format!("{focus} ({codename})"),
                kind: "component",
                parent: Some(top),
                level: 1,
                report_section: format!("X.{family:05}.{c:02}"),
                status: weighted(&mut rng, STATUSES),
                status_note: rng
                    .random_bool(0.1)
                    .then(|| pick(&mut rng, STATUS_NOTES).to_string()),
                summary: format!("{focus} under {codename}, {topic}."),
                description: format!("Part of {codename}: {} for {topic}.", focus.to_lowercase()),
                period: period(cs, ce),
                start_date: cs,
                end_date: ce,
                source_paras: rng.random_bool(0.3).then(|| para(&mut rng)),
                published: comp_published,
                internal_notes: internal_note(&mut rng),
            });
            item_places.push(comp_places.clone());

            let subs = if family == 1 && c == 1 {
                2
            } else if rng.random_bool(0.5) {
                0
            } else {
                rng.random_range(1..=3)
            };
            for s in 1..=subs {
                if p.items.len() >= n_items {
                    break;
                }
                let activity = pick(&mut rng, ACTIVITIES);
                let sub_places = if rng.random_bool(0.3) && !comp_places.is_empty() {
                    vec![pick(&mut rng, &comp_places)]
                } else {
                    Vec::new()
                };
                let (ss, se) = child_dates(&mut rng, cs, ce);
                p.items.push(Item {
                    slug: format!("gen-{family}-{c}-{s}"),
                    title: format!("{activity}: {}", focus.to_lowercase()),
                    kind: "component",
                    parent: Some(component),
                    level: 2,
                    report_section: format!("X.{family:05}.{c:02}.{s:02}"),
                    status: weighted(&mut rng, STATUSES),
                    status_note: None,
                    summary: format!("{activity} within {focus} ({codename})."),
                    description: String::new(),
                    period: period(ss, se),
                    start_date: ss,
                    end_date: se,
                    source_paras: rng.random_bool(0.2).then(|| para(&mut rng)),
                    published: rng.random_bool(0.9) || family <= 10,
                    internal_notes: String::new(),
                });
                item_places.push(sub_places);
            }
        }
    }
    for (item, places) in item_places.iter().enumerate() {
        for &place in places {
            p.item_places.push((item, place));
        }
    }

    // Who leads, executes, partners, benefits and asked for it.
    let n_orgs = p.organisations.len();
    let roles_by_level: [&[(&'static str, f64, usize)]; 3] = [
        &[
            ("lead", 0.85, 1),
            ("executing_agency", 0.3, 1),
            ("partner", 0.6, 3),
            ("beneficiary", 0.4, 2),
            ("requested_by", 0.15, 1),
        ],
        &[("executing_agency", 0.3, 1), ("partner", 0.3, 2)],
        &[("partner", 0.2, 1)],
    ];
    for (index, item) in p.items.iter().enumerate() {
        let mut taken: Vec<(usize, &str)> = Vec::new();
        for &(role, probability, most) in roles_by_level[item.level as usize] {
            if !rng.random_bool(probability) {
                continue;
            }
            for _ in 0..rng.random_range(1..=most) {
                let org = skewed(&mut rng, n_orgs, 2.0);
                if taken.contains(&(org, role)) {
                    continue;
                }
                taken.push((org, role));
                p.item_organisations.push(ItemOrganisation {
                    item: index,
                    org,
                    role,
                    source_para: rng.random_bool(0.3).then(|| para(&mut rng)),
                });
            }
        }
    }

    // Result areas: one to three per programme, fewer below; the first items cover them all.
    if result_areas > 0 {
        for (index, item) in p.items.iter().enumerate() {
            let count = match item.level {
                0 => rng.random_range(1..=3),
                1 => weighted(&mut rng, &[(0usize, 50), (1, 35), (2, 15)]),
                _ => weighted(&mut rng, &[(0usize, 70), (1, 30)]),
            };
            let mut areas: Vec<usize> = Vec::new();
            if index < result_areas {
                areas.push(index);
            }
            for _ in 0..count {
                let area = rng.random_range(0..result_areas);
                if !areas.contains(&area) {
                    areas.push(area);
                }
            }
            for area in areas {
                p.alignments.push(Alignment {
                    item: index,
                    area,
                    source_para: rng.random_bool(0.5).then(|| para(&mut rng)),
                    note: rng
                        .random_bool(0.05)
                        .then(|| "Alignment inferred from the objectives.".to_string()),
                });
            }
        }
    }

    // Budgets: a container programme rarely states its own; about a third of the items
    // state none at all (unknown budget).
    let has_children: Vec<bool> = {
        let mut v = vec![false; p.items.len()];
        for item in &p.items {
            if let Some(parent) = item.parent {
                v[parent] = true;
            }
        }
        v
    };
    let mut budget_usd = vec![0.0f64; p.items.len()];
    let mut has_budget = vec![false; p.items.len()];
    for (index, item) in p.items.iter().enumerate() {
        let probability = if item.level == 0 && has_children[index] {
            0.35
        } else {
            0.7
        };
        if !rng.random_bool(probability) {
            continue;
        }
        has_budget[index] = true;
        let rows = if rng.random_bool(0.12) { 2 } else { 1 };
        for row in 0..rows {
            let usd = match item.level {
                0 => log_uniform(&mut rng, 200_000.0, 30_000_000.0),
                1 => log_uniform(&mut rng, 100_000.0, 8_000_000.0),
                _ => log_uniform(&mut rng, 30_000.0, 2_000_000.0),
            };
            budget_usd[index] += usd;
            let currency = money_currency(&mut rng);
            let as_of = match item.start_date {
                Some(start) if row == 0 => start + Duration::days(rng.random_range(0..90)),
                _ => date_between(&mut rng, first_day(), last_day()),
            };
            let biennium = 2006 + 2 * rng.random_range(0..4);
            p.budgets.push(Budget {
                item: index,
                cents: round_amount(usd / usd_value(currency)),
                currency,
                approximate: rng.random_bool(0.15),
                period: match &item.period {
                    Some(period) if row == 0 => Some(period.clone()),
                    _ => rng
                        .random_bool(0.5)
                        .then(|| format!("{biennium}-{}", biennium + 1)),
                },
                as_of: as_of.min(last_day()),
                source_para: rng.random_bool(0.4).then(|| para(&mut rng)),
                note: rng
                    .random_bool(0.05)
                    .then(|| "Revised estimate.".to_string()),
            });
        }
    }

    // Contributions: about one item in seven attracts none (unfunded). Each funded item
    // gets a target (a share of its budget, over 100 % for some) split over its pledges.
    let fundable: Vec<usize> = {
        let mut v: Vec<usize> = (0..p.items.len())
            .filter(|_| rng.random_bool(0.85))
            .collect();
        if v.is_empty() {
            v = (0..p.items.len()).collect();
        }
        v
    };
    let target: Vec<f64> = (0..p.items.len())
        .map(|index| {
            if has_budget[index] {
                let factor = weighted(&mut rng, &[(0u8, 30), (1, 60), (2, 10)]);
                budget_usd[index]
                    * match factor {
                        0 => rng.random_range(1.0..1.3),
                        1 => rng.random_range(0.1..1.0),
                        _ => rng.random_range(0.0..0.1),
                    }
            } else {
                log_uniform(&mut rng, 50_000.0, 5_000_000.0)
            }
        })
        .collect();
    let mut weights = Vec::with_capacity(contributions as usize);
    let mut weight_sum = vec![0.0f64; p.items.len()];
    for _ in 0..contributions {
        let item = pick(&mut rng, &fundable);
        let org = skewed(&mut rng, n_orgs, 2.0);
        let weight = log_uniform(&mut rng, 0.1, 1.0);
        weight_sum[item] += weight;
        weights.push(weight);
        let currency = if rng.random_bool(0.8) {
            p.organisations[org].currency
        } else {
            "USD"
        };
        let status = weighted(
            &mut rng,
            &[("pledged", 35), ("committed", 25), ("paid", 40)],
        );
        let earliest = p.items[item]
            .start_date
            .map_or(first_day(), |d| (d - Duration::days(365)).max(first_day()));
        let pledged_on = rng
            .random_bool(0.9)
            .then(|| date_between(&mut rng, earliest, last_day()));
        let as_of = match (status, pledged_on) {
            ("pledged", Some(on)) => on,
            (_, Some(on)) => (on + Duration::days(rng.random_range(0..540))).min(last_day()),
            (_, None) => date_between(&mut rng, earliest, last_day()),
        };
        p.contributions.push(Contribution {
            item,
            org,
            cents: 0,
            currency,
            status,
            pledged_on,
            as_of,
            approximate: rng.random_bool(0.08),
            self_financing: rng.random_bool(0.02),
            source_para: rng.random_bool(0.25).then(|| para(&mut rng)),
            note: rng
                .random_bool(0.05)
                .then(|| "Subject to parliamentary approval.".to_string()),
        });
    }
    for (c, weight) in p.contributions.iter_mut().zip(weights) {
        let usd = target[c.item] * weight / weight_sum[c.item];
        c.cents = round_amount(usd / usd_value(c.currency));
    }
    p
}

fn period(start: Option<NaiveDate>, end: Option<NaiveDate>) -> Option<String> {
    match (start, end) {
        (Some(s), Some(e)) if s.year() == e.year() => Some(s.year().to_string()),
        (Some(s), Some(e)) => Some(format!("{}-{}", s.year(), e.year())),
        _ => None,
    }
}

fn internal_note(rng: &mut ChaCha8Rng) -> String {
    if rng.random_bool(0.1) {
        pick(rng, INTERNAL_NOTES).to_string()
    } else {
        String::new()
    }
}

/// A component's places: one of its parent's, sometimes another country, sometimes none.
fn child_places(rng: &mut ChaCha8Rng, parent: &[usize], n_countries: usize) -> Vec<usize> {
    let roll: f64 = rng.random();
    if roll < 0.5 && !parent.is_empty() {
        vec![pick(rng, parent)]
    } else if roll < 0.7 {
        let place = skewed(rng, n_countries, 1.5);
        vec![place]
    } else {
        Vec::new()
    }
}

/// A component's dates, inside its parent's when the parent has them.
fn child_dates(
    rng: &mut ChaCha8Rng,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
) -> (Option<NaiveDate>, Option<NaiveDate>) {
    match (start, end) {
        (Some(s), Some(e)) if rng.random_bool(0.8) => {
            let cs = date_between(rng, s, s + (e - s) / 2);
            let ce = date_between(rng, cs, e);
            (Some(cs), Some(ce))
        }
        (Some(s), None) if rng.random_bool(0.6) => (Some(s), None),
        _ => (None, None),
    }
}

// ---------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------

/// What a run loaded.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub items: usize,
    pub top_level: usize,
    pub components: usize,
    pub sub_components: usize,
    pub drafts: usize,
    pub without_budget: usize,
    pub budgets: usize,
    pub contributions: usize,
    pub organisations: usize,
    pub places: usize,
    pub links: usize,
    pub rates_added: u64,
    pub removed_items: u64,
    pub seconds: f64,
    pub milestones: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.removed_items > 0 {
            writeln!(
                f,
                "removed an earlier generated portfolio ({} items)",
                self.removed_items
            )?;
        }
        write!(
            f,
            "generated in {:.1} s: {} items ({} programmes and initiatives, {} components, \
             {} sub-components; {} drafts; {} without a budget), {} budgets, {} contributions, \
             {} milestones, {} organisations, {} places, \
             {} places/organisations/result-area links, {} exchange rates added",
            self.seconds,
            self.items,
            self.top_level,
            self.components,
            self.sub_components,
            self.drafts,
            self.without_budget,
            self.budgets,
            self.contributions,
            self.milestones,
            self.organisations,
            self.places,
            self.links,
            self.rates_added
        )
    }
}

/// Milestones and targets for the generated items, derived from each item's id and dates
/// so that the same portfolio gets the same ones: a start milestone for every dated
/// item (known to the year, done when it started before the report's date), a quarter's
/// milestone for every third one, and a target for every fourth with progress on half of
/// those. Returns how many milestones.
async fn insert_delivery(tx: &mut Transaction<'_, Postgres>) -> anyhow::Result<usize> {
    let tx = &mut **tx;
    let context = "inserting milestones and targets";
    let starts = sqlx::query(
        "INSERT INTO milestones (item_id, title, due_on, due_precision, status, done_on,
                                 done_precision, source_para)
         SELECT id, 'Work starts', date_trunc('year', start_date)::date, 'year',
                CASE WHEN start_date < '2008-02-07' THEN 'done' ELSE 'planned' END,
                CASE WHEN start_date < '2008-02-07' THEN date_trunc('year', start_date)::date END,
                CASE WHEN start_date < '2008-02-07' THEN 'year' END,
                'para. ' || (id % 60 + 1)
           FROM items WHERE slug ~ $1 AND start_date IS NOT NULL",
    )
    .bind(GEN_ITEM)
    .execute(&mut *tx)
    .await
    .context(context)?
    .rows_affected();
    let quarters = sqlx::query(
        "INSERT INTO milestones (item_id, title, due_on, due_precision, status, source_para)
         SELECT id, 'Mid-term review',
                date_trunc('quarter', start_date + (id % 8) * interval '3 months')::date,
                'quarter', (ARRAY['planned', 'planned', 'slipped', 'cancelled'])[id % 4 + 1],
                'para. ' || (id % 60 + 1)
           FROM items WHERE slug ~ $1 AND start_date IS NOT NULL AND id % 3 = 0",
    )
    .bind(GEN_ITEM)
    .execute(&mut *tx)
    .await
    .context(context)?
    .rows_affected();
    sqlx::query(
        "INSERT INTO targets (item_id, measure, target_value, period_on, period_precision,
                              source_para)
         SELECT id, 'professionals trained', 10 * (id % 9 + 1),
                date_trunc('year', coalesce(end_date, start_date))::date,
                CASE WHEN coalesce(end_date, start_date) IS NOT NULL THEN 'year' END,
                'para. ' || (id % 60 + 1)
           FROM items WHERE slug ~ $1 AND id % 4 = 0",
    )
    .bind(GEN_ITEM)
    .execute(&mut *tx)
    .await
    .context(context)?;
    sqlx::query(
        "INSERT INTO target_updates (target_id, value, recorded_on, actor_email)
         SELECT t.id, t.target_value / 2, '2008-02-07', 'generate'
           FROM targets t JOIN items i ON i.id = t.item_id
          WHERE i.slug ~ $1 AND t.id % 2 = 0",
    )
    .bind(GEN_ITEM)
    .execute(&mut *tx)
    .await
    .context(context)?;
    Ok((starts + quarters) as usize)
}

/// The item slugs the generator uses, as a regular expression.
const GEN_ITEM: &str = "^gen-[0-9]+(-[0-9]+)*$";
/// Its organisation slugs.
const GEN_ORG: &str = "^gen-org-[0-9]+$";
/// Its place names.
const GEN_PLACE: &str = "^Gen(land|region) [0-9]+$";

/// Refuses unless the database holds the seeded report and nothing else: no item,
/// organisation or place the seed files do not name, and no budget or contribution
/// without one of their seed keys. Users, sessions, the audit trail, exchange rates and
/// edits to seeded rows do not count.
pub async fn check_only_seeded(pool: &PgPool) -> anyhow::Result<()> {
    let names = super::seed::seed_names()?;
    let counts = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM items WHERE slug <> ALL($1)) AS "items!",
                  (SELECT count(*) FROM items WHERE slug ~ $5) AS "generated!",
                  (SELECT count(*) FROM organisations WHERE slug <> ALL($2)) AS "orgs!",
                  (SELECT count(*) FROM places WHERE name <> ALL($3)) AS "places!",
                  (SELECT count(*) FROM budgets
                    WHERE seed_key IS NULL OR seed_key <> ALL($4)) AS "budgets!",
                  (SELECT count(*) FROM contributions
                    WHERE seed_key IS NULL OR seed_key <> ALL($4)) AS "contributions!""#,
        &names.items,
        &names.organisations,
        &names.places,
        &names.money_keys,
        GEN_ITEM,
    )
    .fetch_one(pool)
    .await
    .context("checking what the database holds")?;
    let extra: Vec<String> = [
        (counts.items, "items"),
        (counts.orgs, "organisations"),
        (counts.places, "places"),
        (counts.budgets, "budgets"),
        (counts.contributions, "contributions"),
    ]
    .iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, what)| format!("{count} {what}"))
    .collect();
    if extra.is_empty() {
        return Ok(());
    }
    let what = if counts.generated > 0 {
        "a generated portfolio is loaded already".to_string()
    } else {
        "the database holds more than the seeded report".to_string()
    };
    bail!(
        "{what} ({} not from the seed files); nothing was written. \
         `generate` adds to the seeded report only: use a fresh DATA_DIR (or database), \
         or pass --force to load anyway (an earlier generated portfolio is removed first; \
         everything else stays)",
        extra.join(", ")
    )
}

/// Generates the portfolio and loads it in one transaction through `pool`, then runs
/// ANALYZE through `owner`, a pool of the tables' owner (only it may analyze them).
/// `progress` draws a progress bar on stderr.
pub async fn generate(
    pool: &PgPool,
    owner: &PgPool,
    options: &Options,
    progress: bool,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    if options.items == 0 {
        bail!("--items must be at least 1");
    }
    if !options.force {
        check_only_seeded(pool).await?;
    }
    let areas: Vec<i64> = sqlx::query_scalar!(
        "SELECT id FROM result_areas WHERE archived_at IS NULL
          ORDER BY string_to_array(code, '.')::numeric[]"
    )
    .fetch_all(pool)
    .await?;
    if areas.is_empty() {
        tracing::warn!("no result areas: the generated items are aligned to none");
    }
    let portfolio = build(
        options.items,
        options.contributions,
        options.seed,
        areas.len(),
    );

    let total = portfolio.rates.len()
        + portfolio.organisations.len()
        + portfolio.places.len()
        + portfolio.items.len()
        + portfolio.item_places.len()
        + portfolio.item_organisations.len()
        + portfolio.alignments.len()
        + portfolio.budgets.len()
        + portfolio.contributions.len();
    let bar = if progress {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg:<22} [{bar:40}] {human_pos}/{human_len} rows ({elapsed})",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut tx = pool.begin().await?;
    let mut summary = Summary::default();
    if options.force {
        bar.set_message("removing earlier run");
        summary.removed_items = remove_generated(&mut tx).await?;
    }
    bar.set_message("exchange rates");
    summary.rates_added = insert_rates(&mut tx, &portfolio.rates).await?;
    bar.inc(portfolio.rates.len() as u64);

    bar.set_message("organisations");
    let org_ids = insert_organisations(&mut tx, &portfolio.organisations, &bar).await?;
    bar.set_message("places");
    let place_ids = insert_places(&mut tx, &portfolio.places, &bar).await?;
    bar.set_message("items");
    let item_ids = insert_items(&mut tx, &portfolio.items, &bar).await?;

    bar.set_message("links");
    for chunk in portfolio.item_places.chunks(BATCH) {
        sqlx::query!(
            "INSERT INTO item_places (item_id, place_id)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[])",
            &column(chunk, |(i, _)| item_ids[*i]),
            &column(chunk, |(_, p)| place_ids[*p]),
        )
        .execute(&mut *tx)
        .await
        .context("inserting item places")?;
        bar.inc(chunk.len() as u64);
    }
    for chunk in portfolio.item_organisations.chunks(BATCH) {
        sqlx::query!(
            "INSERT INTO item_organisations (item_id, org_id, role, source_para)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[])",
            &column(chunk, |l| item_ids[l.item]),
            &column(chunk, |l| org_ids[l.org]),
            &column(chunk, |l| l.role) as &[&str],
            &column(chunk, |l| l.source_para.clone()) as &[Option<String>],
        )
        .execute(&mut *tx)
        .await
        .context("inserting item organisations")?;
        bar.inc(chunk.len() as u64);
    }
    for chunk in portfolio.alignments.chunks(BATCH) {
        sqlx::query!(
            "INSERT INTO alignments (item_id, result_area_id, source_para, note)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[])",
            &column(chunk, |a| item_ids[a.item]),
            &column(chunk, |a| areas[a.area]),
            &column(chunk, |a| a.source_para.clone()) as &[Option<String>],
            &column(chunk, |a| a.note.clone()) as &[Option<String>],
        )
        .execute(&mut *tx)
        .await
        .context("inserting alignments")?;
        bar.inc(chunk.len() as u64);
    }

    bar.set_message("budgets");
    for chunk in portfolio.budgets.chunks(BATCH) {
        sqlx::query!(
            "INSERT INTO budgets (item_id, amount, currency, approximate, period, as_of,
                                  source_para, note)
             SELECT u.item_id, u.cents::numeric / 100, u.currency, u.approximate, u.period,
                    u.as_of, u.source_para, u.note
               FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::bool[], $5::text[],
                           $6::date[], $7::text[], $8::text[])
                 AS u(item_id, cents, currency, approximate, period, as_of, source_para, note)",
            &column(chunk, |b| item_ids[b.item]),
            &column(chunk, |b| b.cents),
            &column(chunk, |b| b.currency) as &[&str],
            &column(chunk, |b| b.approximate),
            &column(chunk, |b| b.period.clone()) as &[Option<String>],
            &column(chunk, |b| b.as_of),
            &column(chunk, |b| b.source_para.clone()) as &[Option<String>],
            &column(chunk, |b| b.note.clone()) as &[Option<String>],
        )
        .execute(&mut *tx)
        .await
        .context("inserting budgets")?;
        bar.inc(chunk.len() as u64);
    }

    bar.set_message("contributions");
    for chunk in portfolio.contributions.chunks(BATCH) {
        sqlx::query!(
            "INSERT INTO contributions (item_id, org_id, amount, currency, status, pledged_on,
                                        as_of, approximate, self_financing, source_para, note)
             SELECT u.item_id, u.org_id, u.cents::numeric / 100, u.currency, u.status,
                    u.pledged_on, u.as_of, u.approximate, u.self_financing, u.source_para, u.note
               FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[],
                           $6::date[], $7::date[], $8::bool[], $9::bool[], $10::text[],
                           $11::text[])
                 AS u(item_id, org_id, cents, currency, status, pledged_on, as_of, approximate,
                      self_financing, source_para, note)",
            &column(chunk, |c| item_ids[c.item]),
            &column(chunk, |c| org_ids[c.org]),
            &column(chunk, |c| c.cents),
            &column(chunk, |c| c.currency) as &[&str],
            &column(chunk, |c| c.status) as &[&str],
            &column(chunk, |c| c.pledged_on) as &[Option<NaiveDate>],
            &column(chunk, |c| c.as_of),
            &column(chunk, |c| c.approximate),
            &column(chunk, |c| c.self_financing),
            &column(chunk, |c| c.source_para.clone()) as &[Option<String>],
            &column(chunk, |c| c.note.clone()) as &[Option<String>],
        )
        .execute(&mut *tx)
        .await
        .context("inserting contributions")?;
        bar.inc(chunk.len() as u64);
    }

    bar.set_message("milestones and targets");
    summary.milestones = insert_delivery(&mut tx).await?;

    bar.set_message("committing");
    tx.commit().await?;
    bar.set_message("ANALYZE");
    sqlx::query!("ANALYZE").execute(owner).await?;
    bar.finish_and_clear();

    let mut budgeted = vec![false; portfolio.items.len()];
    for b in &portfolio.budgets {
        budgeted[b.item] = true;
    }
    summary.items = portfolio.items.len();
    summary.top_level = portfolio.items.iter().filter(|i| i.level == 0).count();
    summary.components = portfolio.items.iter().filter(|i| i.level == 1).count();
    summary.sub_components = portfolio.items.iter().filter(|i| i.level == 2).count();
    summary.drafts = portfolio.items.iter().filter(|i| !i.published).count();
    summary.without_budget = budgeted.iter().filter(|b| !**b).count();
    summary.budgets = portfolio.budgets.len();
    summary.contributions = portfolio.contributions.len();
    summary.organisations = portfolio.organisations.len();
    summary.places = portfolio.places.len();
    summary.links = portfolio.item_places.len()
        + portfolio.item_organisations.len()
        + portfolio.alignments.len();
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Removes the rows an earlier run added (by the generator's names), and whatever
/// hangs on them. Returns how many items went.
async fn remove_generated(tx: &mut Transaction<'_, Postgres>) -> anyhow::Result<u64> {
    let tx = &mut **tx;
    let context = "removing an earlier generated portfolio";
    sqlx::query!(
        "DELETE FROM contributions
          WHERE item_id IN (SELECT id FROM items WHERE slug ~ $1)
             OR org_id IN (SELECT id FROM organisations WHERE slug ~ $2)",
        GEN_ITEM,
        GEN_ORG,
    )
    .execute(&mut *tx)
    .await
    .context(context)?;
    sqlx::query!(
        "DELETE FROM budgets WHERE item_id IN (SELECT id FROM items WHERE slug ~ $1)",
        GEN_ITEM,
    )
    .execute(&mut *tx)
    .await
    .context(context)?;
    sqlx::query!(
        "DELETE FROM alignments WHERE item_id IN (SELECT id FROM items WHERE slug ~ $1)",
        GEN_ITEM,
    )
    .execute(&mut *tx)
    .await
    .context(context)?;
    sqlx::query!(
        "DELETE FROM item_places
          WHERE item_id IN (SELECT id FROM items WHERE slug ~ $1)
             OR place_id IN (SELECT id FROM places WHERE name ~ $2)",
        GEN_ITEM,
        GEN_PLACE,
    )
    .execute(&mut *tx)
    .await
    .context(context)?;
    sqlx::query!(
        "DELETE FROM item_organisations
          WHERE item_id IN (SELECT id FROM items WHERE slug ~ $1)
             OR org_id IN (SELECT id FROM organisations WHERE slug ~ $2)",
        GEN_ITEM,
        GEN_ORG,
    )
    .execute(&mut *tx)
    .await
    .context(context)?;
    // Milestones and targets of generated items (the generator's own, or added since);
    // a target's progress goes with it (ON DELETE CASCADE: the application may not delete
    // progress rows itself).
    for statement in [
        "DELETE FROM targets WHERE item_id IN (SELECT id FROM items WHERE slug ~ $1)",
        "DELETE FROM milestones WHERE item_id IN (SELECT id FROM items WHERE slug ~ $1)",
    ] {
        sqlx::query(statement)
            .bind(GEN_ITEM)
            .execute(&mut *tx)
            .await
            .context(context)?;
    }
    let removed = sqlx::query!("DELETE FROM items WHERE slug ~ $1", GEN_ITEM)
        .execute(&mut *tx)
        .await
        .context("removing earlier generated items")?
        .rows_affected();
    sqlx::query!("DELETE FROM organisations WHERE slug ~ $1", GEN_ORG)
        .execute(&mut *tx)
        .await
        .context("removing earlier generated organisations (are they used elsewhere?)")?;
    sqlx::query!("DELETE FROM places WHERE name ~ $1", GEN_PLACE)
        .execute(&mut *tx)
        .await
        .context("removing earlier generated places")?;
    Ok(removed)
}

async fn insert_rates(tx: &mut Transaction<'_, Postgres>, rates: &[Rate]) -> anyhow::Result<u64> {
    let result = sqlx::query!(
        "INSERT INTO exchange_rates (currency, month, usd_per_unit, source)
         SELECT u.currency, u.month, u.rate::numeric, $4
           FROM UNNEST($1::text[], $2::date[], $3::text[]) AS u(currency, month, rate)
         ON CONFLICT (currency, month) DO NOTHING",
        &column(rates, |r| r.currency) as &[&str],
        &column(rates, |r| r.month),
        &column(rates, |r| r.usd_per_unit.clone()),
        RATE_SOURCE,
    )
    .execute(&mut **tx)
    .await
    .context("inserting exchange rates")?;
    Ok(result.rows_affected())
}

/// One column of `rows`, for a bulk `UNNEST($n::type[])` parameter.
fn column<T, U>(rows: &[T], value: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(value).collect()
}

/// The ids of `names` in their order, from the (name, id) rows read back after inserting.
fn ids_by_name(names: &[String], rows: Vec<(String, i64)>) -> anyhow::Result<Vec<i64>> {
    let map: HashMap<String, i64> = rows.into_iter().collect();
    names
        .iter()
        .map(|name| {
            map.get(name)
                .copied()
                .with_context(|| format!("{name} was not inserted"))
        })
        .collect()
}

async fn insert_organisations(
    tx: &mut Transaction<'_, Postgres>,
    orgs: &[Organisation],
    bar: &ProgressBar,
) -> anyhow::Result<Vec<i64>> {
    for chunk in orgs.chunks(BATCH) {
        sqlx::query!(
            "INSERT INTO organisations (slug, name, acronym, kind, source_paras)
             SELECT u.slug, u.name, u.acronym, u.kind, u.source_paras
               FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                    WITH ORDINALITY AS u(slug, name, acronym, kind, source_paras, ord)
              ORDER BY u.ord",
            &column(chunk, |o| o.slug.clone()),
            &column(chunk, |o| o.name.clone()),
            &column(chunk, |o| o.acronym.clone()) as &[Option<String>],
            &column(chunk, |o| o.kind) as &[&str],
            &column(chunk, |o| o.source_paras.clone()) as &[Option<String>],
        )
        .execute(&mut **tx)
        .await
        .context("inserting organisations (does a gen-org-* slug exist already?)")?;
        bar.inc(chunk.len() as u64);
    }
    let slugs = column(orgs, |o| o.slug.clone());
    let rows = sqlx::query!(
        "SELECT slug, id FROM organisations WHERE slug = ANY($1)",
        &slugs
    )
    .map(|r| (r.slug, r.id))
    .fetch_all(&mut **tx)
    .await?;
    ids_by_name(&slugs, rows)
}

async fn insert_places(
    tx: &mut Transaction<'_, Postgres>,
    places: &[Place],
    bar: &ProgressBar,
) -> anyhow::Result<Vec<i64>> {
    for chunk in places.chunks(BATCH) {
        sqlx::query!(
            "INSERT INTO places (name, kind)
             SELECT u.name, u.kind FROM UNNEST($1::text[], $2::text[])
                    WITH ORDINALITY AS u(name, kind, ord)
              ORDER BY u.ord",
            &column(chunk, |p| p.name.clone()),
            &column(chunk, |p| p.kind) as &[&str],
        )
        .execute(&mut **tx)
        .await
        .context("inserting places (does a Genland place exist already?)")?;
        bar.inc(chunk.len() as u64);
    }
    let names = column(places, |p| p.name.clone());
    let rows = sqlx::query!("SELECT name, id FROM places WHERE name = ANY($1)", &names)
        .map(|r| (r.name, r.id))
        .fetch_all(&mut **tx)
        .await?;
    ids_by_name(&names, rows)
}

/// Level by level, so every parent exists before its components name it by slug.
async fn insert_items(
    tx: &mut Transaction<'_, Postgres>,
    items: &[Item],
    bar: &ProgressBar,
) -> anyhow::Result<Vec<i64>> {
    for level in 0..3u8 {
        let rows: Vec<&Item> = items.iter().filter(|i| i.level == level).collect();
        for chunk in rows.chunks(BATCH) {
            sqlx::query!(
                "INSERT INTO items (slug, title, kind, parent_id, report_section, status,
                                    status_note, summary, description, period, start_date,
                                    end_date, source_paras, published, internal_notes)
                 SELECT u.slug, u.title, u.kind, p.id, u.section, u.status, u.status_note,
                        u.summary, u.description, u.period, u.start_date, u.end_date,
                        u.source_paras, u.published, u.internal_notes
                   FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                               $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                               $11::date[], $12::date[], $13::text[], $14::bool[], $15::text[])
                        WITH ORDINALITY
                        AS u(slug, title, kind, parent, section, status, status_note, summary,
                             description, period, start_date, end_date, source_paras,
                             published, internal_notes, ord)
                   LEFT JOIN items p ON p.slug = u.parent
                  ORDER BY u.ord",
                &column(chunk, |i| i.slug.clone()),
                &column(chunk, |i| i.title.clone()),
                &column(chunk, |i| i.kind) as &[&str],
                &column(chunk, |i| i.parent.map(|p| items[p].slug.clone())) as &[Option<String>],
                &column(chunk, |i| i.report_section.clone()),
                &column(chunk, |i| i.status) as &[&str],
                &column(chunk, |i| i.status_note.clone()) as &[Option<String>],
                &column(chunk, |i| i.summary.clone()),
                &column(chunk, |i| i.description.clone()),
                &column(chunk, |i| i.period.clone()) as &[Option<String>],
                &column(chunk, |i| i.start_date) as &[Option<NaiveDate>],
                &column(chunk, |i| i.end_date) as &[Option<NaiveDate>],
                &column(chunk, |i| i.source_paras.clone()) as &[Option<String>],
                &column(chunk, |i| i.published),
                &column(chunk, |i| i.internal_notes.clone()),
            )
            .execute(&mut **tx)
            .await
            .context("inserting items (does a gen-* slug exist already?)")?;
            bar.inc(chunk.len() as u64);
        }
    }
    let slugs = column(items, |i| i.slug.clone());
    let rows = sqlx::query!("SELECT slug, id FROM items WHERE slug = ANY($1)", &slugs)
        .map(|r| (r.slug, r.id))
        .fetch_all(&mut **tx)
        .await?;
    ids_by_name(&slugs, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_portfolio_other_seed_another() {
        let a = build(400, 2_000, 7, 13);
        assert_eq!(a, build(400, 2_000, 7, 13));
        assert_ne!(a, build(400, 2_000, 8, 13));
        assert_eq!(a.items.len(), 400);
        assert_eq!(a.contributions.len(), 2_000);
    }

    #[test]
    fn shape_of_the_portfolio() {
        let p = build(3_000, 10_000, 1, 13);
        assert!(p.items.iter().any(|i| i.level == 2));
        assert_eq!(p.items[0].slug, "gen-1");
        assert!(p.items.iter().any(|i| i.slug == "gen-1-1-1"));
        let gen7 = p.items.iter().find(|i| i.slug == "gen-7").unwrap();
        assert!(gen7.published);
        let drafts = p.items.iter().filter(|i| !i.published).count();
        assert!(drafts > 100 && drafts < 600, "about 10 % drafts: {drafts}");
        let mut aligned = [false; 13];
        for a in &p.alignments {
            aligned[a.area] = true;
        }
        assert!(aligned.iter().all(|a| *a));
        for status in ["pledged", "committed", "paid"] {
            assert!(p.contributions.iter().any(|c| c.status == status));
        }
        assert!(p.contributions.iter().any(|c| c.approximate));
        assert!(p.organisations.len() >= 200 && p.places.len() >= 200);
        for i in &p.items {
            if let (Some(s), Some(e)) = (i.start_date, i.end_date) {
                assert!(e >= s, "{}", i.slug);
            }
            if let Some(parent) = i.parent {
                assert_eq!(p.items[parent].level + 1, i.level);
            }
        }
    }
}
