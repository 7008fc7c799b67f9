//! The portfolio as a tree: items, their parents and children, and each item's
//! rolled-up funding. Built from rows the store loads; no IO here.

use crate::domain::filters::{Filters, FundingState};
use crate::domain::funding::{Counted, Funding, Original, OwnFigures, Tally, Unconverted, roll_up};
use crate::domain::money::Currency;
use crate::domain::vocab::{ItemKind, ItemStatus, OrgKind};
use chrono::NaiveDate;

use crate::domain::dates::PartialDate;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::sync::Arc;

/// One item as the dashboards list it.
#[derive(Debug, Clone)]
pub struct ItemSummary {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub slug: String,
    pub title: String,
    pub kind: ItemKind,
    pub status: ItemStatus,
    pub report_section: Option<String>,
    pub published: bool,
    /// When it starts and ends, as precisely as known.
    pub start: Option<PartialDate>,
    pub end: Option<PartialDate>,
    pub own: OwnFigures,
    /// Shared: an audience's view copies the item, not its facets.
    pub facets: Arc<Facets>,
}

/// What dashboards group and filter an item by, besides its own fields.
#[derive(Debug, Clone, Default)]
pub struct Facets {
    /// Result-area codes the item itself is aligned to.
    pub result_areas: Vec<String>,
    /// Their theme codes.
    pub themes: Vec<String>,
    /// Slugs of organisations that fund it or take part in it.
    pub organisations: Vec<String>,
    /// Names of its countries and regions.
    pub places: Vec<String>,
    /// Its own contributions, summed per organisation.
    pub gifts: Vec<Gift>,
}

/// An organisation as the donor lists name it, shared by every gift it makes.
#[derive(Debug, PartialEq, Eq)]
pub struct Donor {
    /// Dense and unique among the donors of one portfolio: sums over donors are arrays
    /// indexed by it rather than maps keyed by name.
    pub number: usize,
    pub slug: String,
    pub name: String,
    pub kind: OrgKind,
}

/// What one organisation gives one item, in USD, by status.
#[derive(Debug, Clone)]
pub struct Gift {
    pub donor: Arc<Donor>,
    pub pledged_usd: Decimal,
    pub firm_usd: Decimal,
    pub paid_usd: Decimal,
    /// Contributions no rate converts, in their own currencies.
    pub unconverted: Unconverted,
    pub contributions: i64,
    /// Original currencies, sorted.
    pub currencies: Vec<Currency>,
}

impl Gift {
    pub fn new(donor: Arc<Donor>) -> Gift {
        Gift {
            donor,
            pledged_usd: Decimal::ZERO,
            firm_usd: Decimal::ZERO,
            paid_usd: Decimal::ZERO,
            unconverted: Unconverted::default(),
            contributions: 0,
            currencies: Vec::new(),
        }
    }

    /// Adds one contribution: `usd` is its USD value, None when no rate converts it (it
    /// is then kept in its own currency, never counted as 0).
    pub fn add(&mut self, usd: Option<Decimal>, counted: Counted, original: Original) {
        let (currency, on, amount) = original;
        match usd {
            Some(usd) => {
                self.pledged_usd += usd;
                if counted.is_firm() {
                    self.firm_usd += usd;
                }
                if counted.is_paid() {
                    self.paid_usd += usd;
                }
            }
            None => self.unconverted.add(counted, currency, on, amount),
        }
        self.contributions += 1;
        if let Err(at) = self.currencies.binary_search(&currency) {
            self.currencies.insert(at, currency);
        }
    }

    /// Adds another gift of the same donor.
    fn absorb(&mut self, other: &Gift) {
        self.pledged_usd += other.pledged_usd;
        self.firm_usd += other.firm_usd;
        self.paid_usd += other.paid_usd;
        self.unconverted.absorb(&other.unconverted);
        self.contributions += other.contributions;
        for &c in &other.currencies {
            if let Err(at) = self.currencies.binary_search(&c) {
                self.currencies.insert(at, c);
            }
        }
    }
}

/// An organisation's money over a set of items.
#[derive(Debug, Clone, PartialEq)]
pub struct DonorTotal {
    pub slug: String,
    pub name: String,
    pub kind: OrgKind,
    pub pledged_usd: Decimal,
    pub firm_usd: Decimal,
    pub paid_usd: Decimal,
    /// Contributions no rate converts, in their own currencies.
    pub unconverted: Unconverted,
    pub contributions: i64,
    pub currencies: Vec<String>,
}

/// Items in display order with their roll-ups. Index-based: `children[i]` lists the
/// indices of item `i`'s components.
#[derive(Debug, Default)]
pub struct Portfolio {
    pub items: Vec<ItemSummary>,
    pub rolled: Vec<Tally>,
    /// `Funding::from(rolled[i])`, computed once: pages read it for every row and sort.
    fundings: Vec<Funding>,
    pub children: Vec<Vec<usize>>,
    pub roots: Vec<usize>,
    by_id: HashMap<i64, usize>,
    /// One more than the highest donor number among the gifts.
    donor_numbers: usize,
}

impl Portfolio {
    /// The portfolio an audience sees: items that pass `show` and whose every ancestor is
    /// present and passes too (a draft programme hides its components; a component whose
    /// parent is archived, and so absent, is hidden with it).
    pub fn visible(items: &[ItemSummary], show: impl Fn(&ItemSummary) -> bool) -> Portfolio {
        let by_id: HashMap<i64, &ItemSummary> = items.iter().map(|it| (it.id, it)).collect();
        let shown = |item: &ItemSummary| {
            let mut current = item;
            for _ in 0..=items.len() {
                if !show(current) {
                    return false;
                }
                match current.parent_id {
                    None => return true,
                    Some(p) => match by_id.get(&p) {
                        Some(parent) => current = parent,
                        None => return false,
                    },
                }
            }
            false // a cycle
        };
        Portfolio::new(items.iter().filter(|it| shown(it)).cloned().collect())
    }

    /// `items` come in display order; children keep that order under their parent.
    pub fn new(mut items: Vec<ItemSummary>) -> Portfolio {
        let by_id: HashMap<i64, usize> =
            items.iter().enumerate().map(|(i, it)| (it.id, i)).collect();
        let parents: Vec<Option<usize>> = items
            .iter()
            .map(|it| it.parent_id.and_then(|p| by_id.get(&p).copied()))
            .collect();
        let mut children = vec![Vec::new(); items.len()];
        let mut roots = Vec::new();
        for (i, parent) in parents.iter().enumerate() {
            match parent {
                Some(p) => children[*p].push(i),
                None => roots.push(i),
            }
        }
        for (i, item) in items.iter_mut().enumerate() {
            item.own.has_children = !children[i].is_empty();
        }
        let own: Vec<OwnFigures> = items.iter().map(|it| it.own.clone()).collect();
        let rolled = roll_up(&own, &parents);
        let fundings = rolled.iter().cloned().map(Funding::from).collect();
        let donor_numbers = items
            .iter()
            .flat_map(|it| &it.facets.gifts)
            .map(|g| g.donor.number + 1)
            .max()
            .unwrap_or(0);
        Portfolio {
            donor_numbers,
            items,
            rolled,
            fundings,
            children,
            roots,
            by_id,
        }
    }

    pub fn index_of(&self, id: i64) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    /// The item and everything under it.
    pub fn funding(&self, index: usize) -> Funding {
        self.fundings[index].clone()
    }

    /// The same figures, borrowed.
    pub fn funding_ref(&self, index: usize) -> &Funding {
        &self.fundings[index]
    }

    /// The whole portfolio: the sum of every top-level item.
    pub fn total(&self) -> Funding {
        Funding::from(self.roots.iter().map(|&r| &self.rolled[r]).sum::<Tally>())
    }

    /// Combined funding of a set of items, counting each part once even when both an
    /// item and one of its ancestors are in the set.
    pub fn combined(&self, ids: &[i64]) -> Funding {
        let chosen: Vec<usize> = ids.iter().filter_map(|id| self.index_of(*id)).collect();
        self.combined_indices(&chosen)
    }

    /// [`Portfolio::combined`] over item indices; linear in the set and its depth.
    pub fn combined_indices(&self, chosen: &[usize]) -> Funding {
        let mut is_chosen = vec![false; self.items.len()];
        for &i in chosen {
            is_chosen[i] = true;
        }
        let mut counted = vec![false; self.items.len()];
        Funding::from(
            chosen
                .iter()
                .copied()
                .filter(|&i| {
                    // once even when listed twice, and never under a chosen ancestor
                    !std::mem::replace(&mut counted[i], true)
                        && !self.ancestors(i).any(|a| is_chosen[a])
                })
                .map(|i| &self.rolled[i])
                .sum::<Tally>(),
        )
    }

    /// The item's period (the first day of its start, the last day of its end), or its
    /// nearest ancestor's when it states none.
    pub fn effective_dates(&self, index: usize) -> (Option<NaiveDate>, Option<NaiveDate>) {
        std::iter::once(index)
            .chain(self.ancestors(index))
            .map(|i| {
                let item = &self.items[i];
                (
                    item.start.map(|d| d.first_day()),
                    item.end.map(|d| d.last_day()),
                )
            })
            .find(|(s, e)| s.is_some() || e.is_some())
            .unwrap_or((None, None))
    }

    /// Items that pass every filter, in display order (parents before their components).
    pub fn matching(&self, filters: &Filters) -> Vec<usize> {
        self.roots
            .iter()
            .flat_map(|&r| {
                std::iter::once(r).chain(self.descendants(r).into_iter().map(|(i, _)| i))
            })
            .filter(|&i| self.passes(i, filters))
            .collect()
    }

    /// Whether item `i` passes every filter.
    pub fn passes(&self, i: usize, f: &Filters) -> bool {
        let item = &self.items[i];
        let has = |list: &[String], wanted: &Option<String>| {
            wanted.as_ref().is_none_or(|w| list.contains(w))
        };
        f.kind.is_none_or(|k| item.kind == k)
            && f.status.is_none_or(|s| item.status == s)
            && has(&item.facets.result_areas, &f.result_area)
            && has(&item.facets.themes, &f.theme)
            && has(&item.facets.organisations, &f.organisation)
            && has(&item.facets.places, &f.place)
            && f.biennium.is_none_or(|b| {
                let (start, end) = self.effective_dates(i);
                b.overlaps(start, end)
            })
            && f.funding
                .is_none_or(|state| FundingState::of(self.funding_ref(i)) == state)
    }

    /// Who gives to these items (each counted once, components not added: pass them in),
    /// largest pledge first.
    pub fn donors(&self, indices: &[usize]) -> Vec<DonorTotal> {
        let mut sums: Vec<Option<Gift>> = vec![None; self.donor_numbers];
        for &i in indices {
            for gift in &self.items[i].facets.gifts {
                match &mut sums[gift.donor.number] {
                    Some(sum) => sum.absorb(gift),
                    empty => *empty = Some(gift.clone()),
                }
            }
        }
        let mut donors: Vec<DonorTotal> = sums
            .into_iter()
            .flatten()
            .map(|sum| DonorTotal {
                slug: sum.donor.slug.clone(),
                name: sum.donor.name.clone(),
                kind: sum.donor.kind,
                pledged_usd: sum.pledged_usd,
                firm_usd: sum.firm_usd,
                paid_usd: sum.paid_usd,
                contributions: sum.contributions,
                unconverted: sum.unconverted,
                currencies: sum.currencies.iter().map(Currency::to_string).collect(),
            })
            .collect();
        donors.sort_by(|a, b| {
            b.pledged_usd
                .cmp(&a.pledged_usd)
                .then_with(|| a.name.cmp(&b.name))
        });
        donors
    }

    /// Parent, grandparent, ... of item `index`.
    pub fn ancestors(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        let mut next = self.items[index].parent_id.and_then(|p| self.index_of(p));
        let mut steps = 0;
        std::iter::from_fn(move || {
            let current = next?;
            steps += 1;
            if steps > self.items.len() {
                return None;
            }
            next = self.items[current].parent_id.and_then(|p| self.index_of(p));
            Some(current)
        })
    }

    /// Depth-first walk below `index` (excluding it), with the depth of each item (1 for
    /// children).
    pub fn descendants(&self, index: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut stack: Vec<(usize, usize)> =
            self.children[index].iter().rev().map(|&c| (c, 1)).collect();
        while let Some((i, depth)) = stack.pop() {
            if out.len() > self.items.len() {
                break;
            }
            out.push((i, depth));
            stack.extend(self.children[i].iter().rev().map(|&c| (c, depth + 1)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn item(id: i64, parent: Option<i64>, budget: Option<rust_decimal::Decimal>) -> ItemSummary {
        ItemSummary {
            id,
            parent_id: parent,
            slug: format!("i{id}"),
            title: format!("Item {id}"),
            kind: if parent.is_some() {
                ItemKind::Component
            } else {
                ItemKind::Programme
            },
            status: ItemStatus::Ongoing,
            report_section: None,
            published: id != 11,
            start: None,
            end: None,
            facets: Arc::default(),
            own: OwnFigures {
                budget_usd: budget,
                ..OwnFigures::default()
            },
        }
    }

    #[test]
    fn builds_tree_and_rolls_up() {
        let p = Portfolio::new(vec![
            item(10, None, None),
            item(11, Some(10), Some(dec!(5))),
            item(12, Some(11), Some(dec!(7))),
            item(20, None, Some(dec!(1))),
        ]);
        assert_eq!(p.roots, vec![0, 3]);
        assert_eq!(p.descendants(0), vec![(1, 1), (2, 2)]);
        assert_eq!(p.funding(0).budget_usd, Some(dec!(12)));
        assert_eq!(p.total().budget_usd, Some(dec!(13)));
        assert_eq!(p.ancestors(2).collect::<Vec<_>>(), vec![1, 0]);
    }

    #[test]
    fn drafts_hide_their_subtree_from_the_published_view() {
        let items = vec![
            item(10, None, None),
            item(11, Some(10), Some(dec!(5))), // unpublished
            item(12, Some(11), Some(dec!(7))),
            item(13, Some(10), Some(dec!(1))),
            item(14, Some(99), Some(dec!(1))), // parent absent (archived)
        ];
        let published = Portfolio::visible(&items, |it| it.published);
        let slugs: Vec<&str> = published.items.iter().map(|i| i.slug.as_str()).collect();
        assert_eq!(slugs, ["i10", "i13"]);
        assert_eq!(
            published.funding(0).budget_usd,
            Some(dec!(1)),
            "draft money is not shown"
        );
        assert_eq!(Portfolio::visible(&items, |_| true).items.len(), 4);
    }

    #[test]
    fn donors_add_up_per_organisation() {
        let eu = Arc::new(Donor {
            number: 0,
            slug: "eu".into(),
            name: "EU".into(),
            kind: OrgKind::Other,
        });
        let ca = Arc::new(Donor {
            number: 1,
            slug: "ca".into(),
            name: "CA".into(),
            kind: OrgKind::Other,
        });
        let day = NaiveDate::from_ymd_opt(2008, 2, 7).expect("a date");
        let gift = |donor: &Arc<Donor>, pledged: Decimal, currency: &str| {
            let mut gift = Gift::new(Arc::clone(donor));
            let currency = Currency::new(currency).expect("a code");
            gift.add(Some(pledged), Counted::Pledged, (currency, day, pledged));
            gift
        };
        let mut items = vec![item(1, None, None), item(2, None, None)];
        Arc::make_mut(&mut items[0].facets).gifts =
            vec![gift(&eu, dec!(5), "EUR"), gift(&ca, dec!(1), "USD")];
        Arc::make_mut(&mut items[1].facets).gifts = vec![gift(&eu, dec!(2), "USD")];
        let p = Portfolio::new(items);
        let donors = p.donors(&[0, 1]);
        assert_eq!(donors[0].slug, "eu");
        assert_eq!(donors[0].pledged_usd, dec!(7));
        assert_eq!(donors[0].contributions, 2);
        assert_eq!(donors[0].currencies, ["EUR", "USD"]);
        assert_eq!(donors[1].slug, "ca");
        assert_eq!(p.donors(&[1]).len(), 1);
    }

    #[test]
    fn a_gift_without_a_rate_stays_in_its_currency() {
        let no = Arc::new(Donor {
            number: 0,
            slug: "no".into(),
            name: "Norway".into(),
            kind: OrgKind::Other,
        });
        let nok = Currency::new("NOK").expect("a code");
        let march = NaiveDate::from_ymd_opt(2008, 3, 12).expect("a date");
        let mut gift = Gift::new(Arc::clone(&no));
        gift.add(None, Counted::Committed, (nok, march, dec!(5000000)));
        let mut items = vec![item(1, None, None)];
        Arc::make_mut(&mut items[0].facets).gifts = vec![gift];
        let donors = Portfolio::new(items).donors(&[0]);
        assert_eq!(donors[0].pledged_usd, dec!(0));
        assert_eq!(donors[0].contributions, 1);
        assert_eq!(donors[0].currencies, ["NOK"]);
        assert_eq!(donors[0].unconverted.pledged(), vec![(nok, dec!(5000000))]);
        assert_eq!(donors[0].unconverted.firm(), vec![(nok, dec!(5000000))]);
        assert!(donors[0].unconverted.paid().is_empty());
    }

    #[test]
    fn combined_counts_each_part_once() {
        let p = Portfolio::new(vec![item(1, None, None), item(2, Some(1), Some(dec!(3)))]);
        assert_eq!(p.combined(&[1, 2]).budget_usd, Some(dec!(3)));
        assert_eq!(p.combined(&[2]).budget_usd, Some(dec!(3)));
        assert_eq!(p.combined(&[]).budget_usd, None);
        assert_eq!(
            p.combined(&[2, 2]).budget_usd,
            Some(dec!(3)),
            "listed twice, counted once"
        );
    }
}
