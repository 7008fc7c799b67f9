//! `/result-areas`: the strategy alignment matrix, by theme.

use crate::web::forms::HtmlPath;
use askama::Template;
use axum::response::Html;

use crate::domain::auth::Audience;
use crate::domain::vocab::title_or_not_given;
use crate::web::AppError;
use crate::web::auth::Nav;
use crate::web::dashboard::ItemLine;
use crate::web::snapshot::Snap;
use crate::web::view::{FundingView, Pager};

use super::{PageNumber, render};

pub struct ItemLink {
    pub slug: String,
    pub title: String,
}

/// One cell of the area × programme matrix.
pub struct Cell {
    pub aligned: bool,
    /// Words, so the state never rests on the shading alone.
    pub label: String,
    pub class: &'static str,
}

/// A programme or initiative heading a matrix column.
pub struct Column {
    pub short: String,
    pub slug: String,
    pub title: String,
}

const COLUMNS_PER_PAGE: usize = 20;

/// About the width of a matrix column: a heading longer than this is shortened.
const SHORT_TITLE_CHARS: usize = 16;

/// A column heading for an item without a report section: its first words, as many as fit
/// in `max` characters (at least one, however long), with "…" when words were left out.
/// Never part of a word: a cut word reads as a different word. The full title is beside
/// it for screen readers and in the key below the matrix.
fn short_title(title: &str, max: usize) -> String {
    let mut short = String::new();
    let mut words = title.split_whitespace();
    for word in words.by_ref() {
        let fits = short.chars().count() + 1 + word.chars().count() <= max;
        if short.is_empty() {
            short.push_str(word);
        } else if fits {
            short.push(' ');
            short.push_str(word);
        } else {
            short.push('…');
            return short;
        }
    }
    short
}

pub struct AreaRow<'a> {
    pub cells: Vec<Cell>,
    pub code: String,
    pub title: String,
    pub title_known: bool,
    pub source_para: String,
    /// The first few items serving the area, and how many more there are.
    pub items: Vec<ItemLink>,
    pub more: usize,
    pub funding: &'a FundingView,
}

pub struct ThemeSection<'a> {
    pub code: String,
    pub title: String,
    pub title_known: bool,
    pub areas: Vec<AreaRow<'a>>,
}

#[derive(Template)]
#[template(path = "result_areas.html")]
pub struct ResultAreasPage<'a> {
    pub nav: Nav,
    pub columns: Vec<Column>,
    pub pager: Pager,
    pub themes: Vec<ThemeSection<'a>>,
    pub unserved: Vec<String>,
}

/// Items named per result area on the matrix page; the area's own page lists them all.
const ITEMS_NAMED: usize = 10;

pub async fn show(
    snap: Snap,
    audience: Audience,
    nav: Nav,
    PageNumber(page): PageNumber,
) -> Result<Html<String>, AppError> {
    let d = snap.dashboard(audience);
    let data = &snap.records.data;
    let portfolio = &d.portfolio;
    let pager = Pager::new(
        page,
        portfolio.roots.len(),
        COLUMNS_PER_PAGE,
        "/result-areas".to_string(),
    )?;
    let roots = &portfolio.roots[pager.range()];
    let columns = roots
        .iter()
        .map(|&r| {
            let item = &portfolio.items[r];
            Column {
                short: item
                    .report_section
                    .clone()
                    .unwrap_or_else(|| short_title(&item.title, SHORT_TITLE_CHARS)),
                slug: item.slug.clone(),
                title: item.title.clone(),
            }
        })
        .collect();
    let cell = |root: usize, rank: usize| match d.served.get(&root) {
        Some((served, cell)) if served.binary_search(&rank).is_ok() => Cell {
            aligned: true,
            label: cell.label.clone(),
            class: cell.class,
        },
        _ => Cell {
            aligned: false,
            label: String::new(),
            class: "",
        },
    };

    let mut unserved = Vec::new();
    let sections = data
        .themes
        .iter()
        .map(|theme| {
            let areas = data
                .result_areas
                .iter()
                .enumerate()
                .filter(|(_, a)| a.theme_code == theme.code)
                .map(|(rank, area)| {
                    let summary = &d.areas[rank];
                    if summary.items.is_empty() {
                        unserved.push(area.code.clone());
                    }
                    AreaRow {
                        cells: roots.iter().map(|&r| cell(r, rank)).collect(),
                        code: area.code.clone(),
                        title_known: area.title.is_some(),
                        title: title_or_not_given(&area.title).to_string(),
                        source_para: area.source_para.clone().unwrap_or_default(),
                        items: summary
                            .items
                            .iter()
                            .take(ITEMS_NAMED)
                            .map(|&i| ItemLink {
                                slug: portfolio.items[i].slug.clone(),
                                title: portfolio.items[i].title.clone(),
                            })
                            .collect(),
                        more: summary.items.len().saturating_sub(ITEMS_NAMED),
                        funding: &summary.total,
                    }
                })
                .collect();
            ThemeSection {
                title_known: theme.title.is_some(),
                title: title_or_not_given(&theme.title).to_string(),
                code: theme.code.clone(),
                areas,
            }
        })
        .collect();
    render(&ResultAreasPage {
        nav,
        columns,
        pager,
        themes: sections,
        unserved,
    })
}

pub struct AreaItemRow<'a> {
    pub item: ItemLine<'a>,
    /// Where the source aligns the item to the area.
    pub source_para: &'a str,
}

#[derive(Template)]
#[template(path = "result_area.html")]
pub struct ResultAreaPage<'a> {
    pub nav: Nav,
    pub code: String,
    pub title: String,
    pub title_known: bool,
    pub source_para: String,
    pub total: &'a FundingView,
    pub drafts_note: &'a str,
    pub rows: Vec<AreaItemRow<'a>>,
    pub row_count: usize,
    pub pager: Pager,
}

/// Items per page of a result area.
const ROWS_PER_PAGE: usize = 50;

/// `/result-areas/{code}`: the items serving one result area and their gaps.
pub async fn detail(
    snap: Snap,
    audience: Audience,
    nav: Nav,
    HtmlPath(code): HtmlPath<String>,
    PageNumber(page): PageNumber,
) -> Result<Html<String>, AppError> {
    let records = &snap.records;
    let area = records.result_area(&code).ok_or(AppError::NotFound)?;
    let d = snap.dashboard(audience);
    let portfolio = &d.portfolio;
    let rank = records
        .data
        .result_areas
        .iter()
        .position(|a| a.id == area.id)
        .ok_or(AppError::NotFound)?;
    let rows: Vec<(usize, Option<&String>)> = records
        .alignments_of_area(area.id)
        .filter_map(|a| {
            portfolio
                .index_of(a.item_id)
                .map(|i| (i, a.source_para.as_ref()))
        })
        .collect();
    let pager = Pager::new(
        page,
        rows.len(),
        ROWS_PER_PAGE,
        format!("/result-areas/{}", area.code),
    )?;
    render(&ResultAreaPage {
        nav,
        title_known: area.title.is_some(),
        title: title_or_not_given(&area.title).to_string(),
        source_para: area.source_para.clone().unwrap_or_default(),
        total: &d.areas[rank].total,
        drafts_note: &d.areas[rank].drafts_note,
        rows: rows[pager.range()]
            .iter()
            .map(|&(i, para)| AreaItemRow {
                item: d.line(i),
                source_para: para.map_or("", String::as_str),
            })
            .collect(),
        row_count: rows.len(),
        pager,
        code: area.code.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::short_title;

    #[test]
    fn a_short_title_keeps_whole_words() {
        assert_eq!(
            short_title("Treatment and rehabilitation programme", 16),
            "Treatment and…"
        );
        assert_eq!(short_title("Paris Pact initiative", 16), "Paris Pact…");
        assert_eq!(short_title("Forensic science", 16), "Forensic science");
        // One word longer than the limit stays whole.
        assert_eq!(
            short_title("Counter-narcotics enforcement", 16),
            "Counter-narcotics…"
        );
        assert_eq!(short_title("  Côte   d'Ivoire ", 16), "Côte d'Ivoire");
        assert_eq!(short_title("", 16), "");
    }
}
