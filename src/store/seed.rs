//! Loads the report's portfolio from the seed files in `seeds/` (embedded at build time).
//! Seeding is idempotent and never overwrites: rows that exist already (by slug, code or
//! seed key) are left as they are, so a second run changes nothing and an admin's edits
//! survive a re-seed.

use anyhow::{Context, anyhow, bail};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::HashSet;
use std::str::FromStr;

use crate::domain::dates::{PartialDate, to_columns, to_nullable_columns};
use crate::domain::vocab::{
    ContributionStatus, ItemKind, ItemStatus, MilestoneStatus, OrgKind, OrgRole, PlaceKind,
};

include!(concat!(env!("OUT_DIR"), "/seed_files.rs"));

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    themes: Vec<ThemeSeed>,
    #[serde(default)]
    result_areas: Vec<ResultAreaSeed>,
    #[serde(default)]
    organisations: Vec<OrgSeed>,
    #[serde(default)]
    rates: Vec<RateSeed>,
    #[serde(default)]
    items: Vec<ItemSeed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeSeed {
    code: String,
    title: Option<String>,
    source_para: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultAreaSeed {
    code: String,
    theme: String,
    title: Option<String>,
    source_para: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgSeed {
    slug: String,
    name: String,
    acronym: Option<String>,
    kind: String,
    source_paras: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateSeed {
    currency: String,
    month: String,
    usd_per_unit: String,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemSeed {
    slug: String,
    title: String,
    kind: String,
    parent: Option<String>,
    report_section: Option<String>,
    status: String,
    status_note: Option<String>,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
    period: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    source_paras: Option<String>,
    #[serde(default)]
    places: Vec<PlaceSeed>,
    #[serde(default)]
    organisations: Vec<ItemOrgSeed>,
    #[serde(default)]
    alignments: Vec<AlignmentSeed>,
    #[serde(default)]
    budgets: Vec<BudgetSeed>,
    #[serde(default)]
    contributions: Vec<ContributionSeed>,
    #[serde(default)]
    milestones: Vec<MilestoneSeed>,
    #[serde(default)]
    targets: Vec<TargetSeed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MilestoneSeed {
    key: String,
    title: String,
    /// With its precision: `2008`, `2008-Q3`, `2007-11`, `2008-02-13`, `2008-2009`.
    due: String,
    status: String,
    done_on: Option<String>,
    source_para: Option<String>,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetSeed {
    key: String,
    measure: String,
    target: toml::Value,
    period: Option<String>,
    source_para: Option<String>,
    note: Option<String>,
    #[serde(default)]
    updates: Vec<UpdateSeed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateSeed {
    value: toml::Value,
    on: String,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceSeed {
    name: String,
    kind: String,
    iso: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemOrgSeed {
    org: String,
    role: String,
    source_para: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlignmentSeed {
    result_area: String,
    source_para: Option<String>,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetSeed {
    key: String,
    amount: String,
    currency: String,
    #[serde(default)]
    approximate: bool,
    qualifier: Option<String>,
    period: Option<String>,
    as_of: String,
    source_para: Option<String>,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContributionSeed {
    key: String,
    org: String,
    amount: String,
    currency: String,
    status: String,
    date: Option<String>,
    as_of: String,
    #[serde(default)]
    approximate: bool,
    qualifier: Option<String>,
    #[serde(default)]
    self_financing: bool,
    source_para: Option<String>,
    note: Option<String>,
}

/// What a seeding run added. All zeros on a second run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub themes: u64,
    pub result_areas: u64,
    pub organisations: u64,
    pub exchange_rates: u64,
    pub items: u64,
    pub budgets: u64,
    pub contributions: u64,
    pub milestones: u64,
    pub targets: u64,
}

impl SeedReport {
    pub fn is_empty(&self) -> bool {
        *self == SeedReport::default()
    }
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return f.write_str("seed data already loaded: nothing changed");
        }
        write!(
            f,
            "seed data loaded: {} items, {} budgets, {} contributions, {} milestones, \
             {} targets, {} organisations, {} result areas, {} themes, {} exchange rates added",
            self.items,
            self.budgets,
            self.contributions,
            self.milestones,
            self.targets,
            self.organisations,
            self.result_areas,
            self.themes,
            self.exchange_rates
        )
    }
}

/// Key of the PostgreSQL advisory lock a seeding transaction holds ("pt_seed" in ASCII;
/// sqlx's migration lock uses a key derived from the database name).
const SEED_LOCK: i64 = 0x0070_745f_7365_6564;

/// Parses every embedded seed file and loads them in one transaction.
pub async fn load(pool: &PgPool) -> anyhow::Result<SeedReport> {
    Ok(load_locked(pool, false).await?.unwrap_or_default())
}

/// Loads the seed portfolio only if the database holds no item yet: what a start does.
/// `None` when there was something already. Several processes may call this at once on
/// one database: the check and the load run in one transaction under an advisory lock, so
/// one of them seeds and the others, waiting on the lock, then find the items and add
/// nothing.
pub async fn load_if_empty(pool: &PgPool) -> anyhow::Result<Option<SeedReport>> {
    load_locked(pool, true).await
}

async fn load_locked(pool: &PgPool, only_if_empty: bool) -> anyhow::Result<Option<SeedReport>> {
    let files = parse_all()?;
    let mut tx = pool.begin().await?;
    // A transaction-level lock: released by the commit or rollback, even if this process
    // dies, and never left behind on a pooled connection.
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", SEED_LOCK)
        .execute(&mut *tx)
        .await
        .context("waiting for the seeding lock")?;
    // Read committed: this statement's snapshot is taken after the lock was granted, so it
    // sees the items a seeding that held the lock before us committed.
    if only_if_empty {
        let empty = sqlx::query_scalar!(r#"SELECT NOT EXISTS (SELECT 1 FROM items) AS "empty!""#)
            .fetch_one(&mut *tx)
            .await?;
        if !empty {
            return Ok(None);
        }
    }
    let mut report = SeedReport::default();
    for (name, file) in &files {
        load_file(&mut tx, file, &mut report)
            .await
            .with_context(|| format!("loading {name}"))?;
    }
    tx.commit().await?;
    Ok(Some(report))
}

/// The names the seed files give their rows: what a database that holds only the seeded
/// report may contain (the generator refuses to run on anything else).
#[derive(Debug, Default, Clone)]
pub struct SeedNames {
    pub items: Vec<String>,
    pub organisations: Vec<String>,
    pub places: Vec<String>,
    /// Seed keys of budgets and contributions.
    pub money_keys: Vec<String>,
}

pub fn seed_names() -> anyhow::Result<SeedNames> {
    let mut names = SeedNames::default();
    for (_, file) in parse_all()? {
        names
            .organisations
            .extend(file.organisations.iter().map(|o| o.slug.clone()));
        for item in &file.items {
            names.items.push(item.slug.clone());
            names
                .places
                .extend(item.places.iter().map(|p| p.name.clone()));
            names
                .money_keys
                .extend(item.budgets.iter().map(|b| b.key.clone()));
            names
                .money_keys
                .extend(item.contributions.iter().map(|c| c.key.clone()));
        }
    }
    Ok(names)
}

/// Parses and checks the seed files without touching a database.
fn parse_all() -> anyhow::Result<Vec<(&'static str, SeedFile)>> {
    let mut files = Vec::new();
    for (name, text) in SEED_FILES {
        let file: SeedFile = toml::from_str(text).with_context(|| format!("parsing {name}"))?;
        files.push((*name, file));
    }
    // Strategy and organisations first: items refer to them.
    files.sort_by_key(|(name, f)| (!f.items.is_empty(), *name));
    check_references(&files)?;
    Ok(files)
}

fn check_references(files: &[(&str, SeedFile)]) -> anyhow::Result<()> {
    let mut slugs = HashSet::new();
    let mut keys = HashSet::new();
    let orgs: HashSet<&str> = files
        .iter()
        .flat_map(|(_, f)| &f.organisations)
        .map(|o| o.slug.as_str())
        .collect();
    let areas: HashSet<&str> = files
        .iter()
        .flat_map(|(_, f)| &f.result_areas)
        .map(|r| r.code.as_str())
        .collect();
    for (name, file) in files {
        for item in &file.items {
            let at = || format!("{name}: item {}", item.slug);
            if !slugs.insert(item.slug.as_str()) {
                bail!("{}: slug is defined twice", at());
            }
            if let Some(parent) = &item.parent
                && !slugs.contains(parent.as_str())
            {
                bail!("{}: parent {parent} is not defined before it", at());
            }
            for link in &item.organisations {
                if !orgs.contains(link.org.as_str()) {
                    bail!(
                        "{}: organisation {} is not in organisations.toml",
                        at(),
                        link.org
                    );
                }
            }
            for c in &item.contributions {
                if !orgs.contains(c.org.as_str()) {
                    bail!(
                        "{}: contributor {} is not in organisations.toml",
                        at(),
                        c.org
                    );
                }
                if !keys.insert(c.key.as_str()) {
                    bail!("{}: key {} is used twice", at(), c.key);
                }
            }
            for b in &item.budgets {
                if !keys.insert(b.key.as_str()) {
                    bail!("{}: key {} is used twice", at(), b.key);
                }
            }
            for a in &item.alignments {
                if !areas.contains(a.result_area.as_str()) {
                    bail!(
                        "{}: result area {} is not in strategy.toml",
                        at(),
                        a.result_area
                    );
                }
            }
        }
    }
    Ok(())
}

async fn load_file(
    tx: &mut Transaction<'_, Postgres>,
    file: &SeedFile,
    report: &mut SeedReport,
) -> anyhow::Result<()> {
    for theme in &file.themes {
        report.themes += sqlx::query!(
            "INSERT INTO themes (code, title, source_para) VALUES ($1, $2, $3)
             ON CONFLICT (code) DO NOTHING",
            theme.code,
            theme.title,
            theme.source_para,
        )
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    for area in &file.result_areas {
        report.result_areas += sqlx::query!(
            "INSERT INTO result_areas (code, theme_code, title, source_para) VALUES ($1, $2, $3, $4)
             ON CONFLICT (code) DO NOTHING",
            area.code,
            area.theme,
            area.title,
            area.source_para,
        )
        .execute(&mut **tx)
        .await
        .with_context(|| format!("result area {}", area.code))?
        .rows_affected();
    }
    for org in &file.organisations {
        let kind = OrgKind::parse(&org.kind)
            .ok_or_else(|| anyhow!("organisation {}: unknown kind {}", org.slug, org.kind))?;
        report.organisations += sqlx::query!(
            "INSERT INTO organisations (slug, name, acronym, kind, source_paras)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (slug) DO NOTHING",
            org.slug,
            org.name,
            org.acronym,
            kind as OrgKind,
            org.source_paras,
        )
        .execute(&mut **tx)
        .await
        .with_context(|| format!("organisation {}", org.slug))?
        .rows_affected();
    }
    for rate in &file.rates {
        let month = parse_date(&format!("{}-01", rate.month)).with_context(|| {
            format!(
                "rate {} {}: month must be YYYY-MM",
                rate.currency, rate.month
            )
        })?;
        let usd_per_unit = parse_decimal(&rate.usd_per_unit)?;
        report.exchange_rates += sqlx::query!(
            "INSERT INTO exchange_rates (currency, month, usd_per_unit, source) VALUES ($1, $2, $3, $4)
             ON CONFLICT (currency, month) DO NOTHING",
            rate.currency,
            month,
            usd_per_unit,
            rate.source,
        )
        .execute(&mut **tx)
        .await
        .with_context(|| format!("exchange rate {} {}", rate.currency, rate.month))?
        .rows_affected();
    }
    for item in &file.items {
        load_item(tx, item, report)
            .await
            .with_context(|| format!("item {}", item.slug))?;
    }
    Ok(())
}

async fn load_item(
    tx: &mut Transaction<'_, Postgres>,
    item: &ItemSeed,
    report: &mut SeedReport,
) -> anyhow::Result<()> {
    let kind = ItemKind::parse(&item.kind).ok_or_else(|| anyhow!("unknown kind {}", item.kind))?;
    let status =
        ItemStatus::parse(&item.status).ok_or_else(|| anyhow!("unknown status {}", item.status))?;
    let start = to_columns(item.start_date.as_deref().map(parse_partial).transpose()?);
    let end = to_columns(item.end_date.as_deref().map(parse_partial).transpose()?);
    let inserted = sqlx::query_scalar!(
        "INSERT INTO items (slug, title, kind, parent_id, report_section, status, status_note,
                            summary, description, period, start_date, end_date, source_paras,
                            published, start_precision, end_precision)
         VALUES ($1, $2, $3, (SELECT id FROM items WHERE slug = $4), $5, $6, $7, $8, $9, $10,
                 $11, $12, $13, true, $14, $15)
         ON CONFLICT (slug) DO NOTHING
         RETURNING id",
        item.slug,
        item.title,
        kind as ItemKind,
        item.parent,
        item.report_section,
        status as ItemStatus,
        item.status_note,
        item.summary.trim(),
        item.description.trim(),
        item.period,
        start.0,
        end.0,
        item.source_paras,
        start.1,
        end.1,
    )
    .fetch_optional(&mut **tx)
    .await?;
    // An item that exists already keeps its links as they are now (an admin may have
    // changed them); only a new item gets the source's links.
    let Some(item_id) = inserted else {
        seed_money(tx, item, report).await?;
        return seed_delivery(tx, item, report).await;
    };
    report.items += 1;
    for place in &item.places {
        let kind = PlaceKind::parse(&place.kind)
            .ok_or_else(|| anyhow!("place {}: unknown kind {}", place.name, place.kind))?;
        sqlx::query!(
            "INSERT INTO places (name, kind, iso_code) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            place.name,
            kind as PlaceKind,
            place.iso,
        )
        .execute(&mut **tx)
        .await?;
        sqlx::query!(
            "INSERT INTO item_places (item_id, place_id)
             SELECT $1, id FROM places WHERE name = $2 ON CONFLICT DO NOTHING",
            item_id,
            place.name,
        )
        .execute(&mut **tx)
        .await?;
    }
    for link in &item.organisations {
        let role = OrgRole::parse(&link.role)
            .ok_or_else(|| anyhow!("organisation {}: unknown role {}", link.org, link.role))?;
        sqlx::query!(
            "INSERT INTO item_organisations (item_id, org_id, role, source_para)
             SELECT $1, id, $3, $4 FROM organisations WHERE slug = $2 ON CONFLICT DO NOTHING",
            item_id,
            link.org,
            role as OrgRole,
            link.source_para,
        )
        .execute(&mut **tx)
        .await?;
    }
    for alignment in &item.alignments {
        sqlx::query!(
            "INSERT INTO alignments (item_id, result_area_id, source_para, note)
             SELECT $1, id, $3, $4 FROM result_areas WHERE code = $2 ON CONFLICT DO NOTHING",
            item_id,
            alignment.result_area,
            alignment.source_para,
            alignment.note,
        )
        .execute(&mut **tx)
        .await?;
    }
    seed_money(tx, item, report).await?;
    seed_delivery(tx, item, report).await
}

/// Budgets and contributions, keyed by their seed key: added only if still absent, and
/// only while their item exists.
async fn seed_money(
    tx: &mut Transaction<'_, Postgres>,
    item: &ItemSeed,
    report: &mut SeedReport,
) -> anyhow::Result<()> {
    for budget in &item.budgets {
        report.budgets += sqlx::query!(
            "INSERT INTO budgets (item_id, amount, currency, approximate, period, as_of,
                                  source_para, note, seed_key, lower_bound)
             SELECT id, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM items WHERE slug = $1
             ON CONFLICT (seed_key) DO NOTHING",
            item.slug,
            parse_decimal(&budget.amount)?,
            budget.currency,
            budget.approximate,
            budget.period,
            parse_date(&budget.as_of)?,
            budget.source_para,
            budget.note,
            budget.key,
            lower_bound(&budget.qualifier)?,
        )
        .execute(&mut **tx)
        .await
        .with_context(|| format!("budget {}", budget.key))?
        .rows_affected();
    }
    for c in &item.contributions {
        let status = ContributionStatus::parse(&c.status)
            .ok_or_else(|| anyhow!("contribution {}: unknown status {}", c.key, c.status))?;
        report.contributions += sqlx::query!(
            "INSERT INTO contributions (item_id, org_id, amount, currency, status, pledged_on,
                                        as_of, approximate, self_financing, source_para, note, seed_key,
                                        lower_bound)
             SELECT i.id, o.id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
               FROM items i, organisations o WHERE i.slug = $1 AND o.slug = $2
             ON CONFLICT (seed_key) DO NOTHING",
            item.slug,
            c.org,
            parse_decimal(&c.amount)?,
            c.currency,
            status as ContributionStatus,
            c.date.as_deref().map(parse_date).transpose()?,
            parse_date(&c.as_of)?,
            c.approximate,
            c.self_financing,
            c.source_para,
            c.note,
            c.key,
            lower_bound(&c.qualifier)?,
        )
        .execute(&mut **tx)
        .await
        .with_context(|| format!("contribution {}", c.key))?
        .rows_affected();
    }
    Ok(())
}

/// Milestones and targets (with their recorded progress), keyed by their seed key:
/// added only if still absent, and only while their item exists.
async fn seed_delivery(
    tx: &mut Transaction<'_, Postgres>,
    item: &ItemSeed,
    report: &mut SeedReport,
) -> anyhow::Result<()> {
    for m in &item.milestones {
        let status = MilestoneStatus::parse(&m.status)
            .ok_or_else(|| anyhow!("milestone {}: unknown status {}", m.key, m.status))?;
        let due = to_columns(Some(parse_partial(&m.due)?));
        let done = to_nullable_columns(m.done_on.as_deref().map(parse_partial).transpose()?);
        report.milestones += sqlx::query!(
            "INSERT INTO milestones (item_id, title, due_on, due_precision, status, done_on,
                                     done_precision, source_para, note, seed_key)
             SELECT id, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM items WHERE slug = $1
             ON CONFLICT (seed_key) DO NOTHING",
            item.slug,
            m.title,
            due.0,
            due.1,
            status as MilestoneStatus,
            done.0,
            done.1,
            m.source_para,
            m.note,
            m.key,
        )
        .execute(&mut **tx)
        .await
        .with_context(|| format!("milestone {}", m.key))?
        .rows_affected();
    }
    for t in &item.targets {
        let period = to_nullable_columns(t.period.as_deref().map(parse_partial).transpose()?);
        let inserted = sqlx::query_scalar!(
            "INSERT INTO targets (item_id, measure, target_value, period_on, period_precision,
                                  source_para, note, seed_key)
             SELECT id, $2, $3, $4, $5, $6, $7, $8 FROM items WHERE slug = $1
             ON CONFLICT (seed_key) DO NOTHING
             RETURNING id",
            item.slug,
            t.measure,
            seed_number(&t.target).with_context(|| format!("target {}", t.key))?,
            period.0,
            period.1,
            t.source_para,
            t.note,
            t.key,
        )
        .fetch_optional(&mut **tx)
        .await
        .with_context(|| format!("target {}", t.key))?;
        // A target that exists already keeps the progress people recorded since.
        let Some(target_id) = inserted else { continue };
        report.targets += 1;
        for (n, u) in t.updates.iter().enumerate() {
            sqlx::query!(
                "INSERT INTO target_updates (target_id, value, recorded_on, note, actor_email,
                                             seed_key)
                 VALUES ($1, $2, $3, $4, 'seed', $5)",
                target_id,
                seed_number(&u.value).with_context(|| format!("target {} update", t.key))?,
                parse_date(&u.on)?,
                u.note,
                format!("{}#{}", t.key, n + 1),
            )
            .execute(&mut **tx)
            .await
            .with_context(|| format!("target {} update {}", t.key, n + 1))?;
        }
    }
    Ok(())
}

/// `qualifier = "over"`: the amount is a lower bound.
fn lower_bound(qualifier: &Option<String>) -> anyhow::Result<bool> {
    match qualifier.as_deref() {
        None => Ok(false),
        Some("over") => Ok(true),
        Some(other) => bail!("unknown qualifier {other:?} (the one known is \"over\")"),
    }
}

/// A count written as a TOML integer or float, or a decimal string.
fn seed_number(value: &toml::Value) -> anyhow::Result<Decimal> {
    match value {
        toml::Value::Integer(n) => Ok(Decimal::from(*n)),
        toml::Value::String(text) => parse_decimal(text),
        toml::Value::Float(f) => parse_decimal(&f.to_string()),
        other => bail!("{other} is not a number"),
    }
}

fn parse_partial(text: &str) -> anyhow::Result<PartialDate> {
    PartialDate::parse(text).map_err(|e| anyhow!("{text:?}: {e}"))
}

fn parse_date(text: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("{text:?} is not a YYYY-MM-DD date"))
}

fn parse_decimal(text: &str) -> anyhow::Result<Decimal> {
    Decimal::from_str(text).with_context(|| format!("{text:?} is not a decimal number"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_seed_files_parse_and_resolve() {
        let files = super::parse_all().expect("seed files are valid");
        let items: usize = files.iter().map(|(_, f)| f.items.len()).sum();
        assert!(
            items >= 12,
            "all programmes and initiatives are seeded, got {items}"
        );
    }
}
