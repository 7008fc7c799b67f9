//! Substring search over many short texts, without reading every text per query.
//!
//! Texts and queries are both [`normalise`]d, so case, accents, hyphens and punctuation
//! never decide a match ("guinea bissau" finds "Guinea-Bissau", "Cote d'Ivoire" finds
//! "Côte d’Ivoire"). Each text's byte trigrams are indexed once (when the portfolio
//! revision changes); a query of three bytes or more reads only the texts that hold all of
//! its trigrams, and checks each of those with a plain substring test, so the answer is
//! exactly "texts that contain the query". Shorter queries scan.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A text as search compares it: lower case, accents dropped, and every run of
/// punctuation, hyphens or spaces made one space. Line breaks separate fields and stay.
pub fn normalise(text: &str) -> String {
    text.split('\n')
        .map(normalise_line)
        .collect::<Vec<_>>()
        .join("\n")
}

fn normalise_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    let letters = text
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase);
    for c in letters {
        if !c.is_alphanumeric() {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        out.push(c);
    }
    out
}

/// How well a text matches, best first: its first line (the title) is the query, starts
/// with it, holds it, or only a later line holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Title,
    TitleStart,
    InTitle,
    Elsewhere,
}

fn rank(text: &str, needle: &str) -> Rank {
    let title = text.split('\n').next().unwrap_or_default();
    if title == needle {
        Rank::Title
    } else if title.starts_with(needle) {
        Rank::TitleStart
    } else if title.contains(needle) {
        Rank::InTitle
    } else {
        Rank::Elsewhere
    }
}

/// Normalised texts with the trigrams of each, as sorted posting lists.
#[derive(Debug, Default)]
pub struct TextIndex {
    texts: Vec<String>,
    /// Distinct trigrams, sorted; `postings[starts[k]..starts[k + 1]]` are the texts
    /// (ascending) that hold `keys[k]`.
    keys: Vec<u32>,
    starts: Vec<u32>,
    postings: Vec<u32>,
}

fn trigrams(text: &[u8]) -> impl Iterator<Item = u32> + '_ {
    text.windows(3)
        .map(|w| (u32::from(w[0]) << 16) | (u32::from(w[1]) << 8) | u32::from(w[2]))
}

impl TextIndex {
    /// Indexes `texts` (their position is the number a search returns): fields one a
    /// line, the title first. They are normalised here, as queries are.
    pub fn new(texts: impl IntoIterator<Item = String>) -> TextIndex {
        let texts: Vec<String> = texts.into_iter().map(|t| normalise(&t)).collect();
        // (trigram, text) pairs, sorted and deduplicated, become the posting lists
        let mut pairs: Vec<u64> = texts
            .iter()
            .enumerate()
            .flat_map(|(i, t)| trigrams(t.as_bytes()).map(move |k| (u64::from(k) << 32) | i as u64))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let mut index = TextIndex {
            texts,
            ..TextIndex::default()
        };
        index.postings.reserve_exact(pairs.len());
        for pair in pairs {
            let key = (pair >> 32) as u32;
            if index.keys.last() != Some(&key) {
                index.keys.push(key);
                index.starts.push(index.postings.len() as u32);
            }
            index.postings.push(pair as u32);
        }
        index.starts.push(index.postings.len() as u32);
        index
    }

    fn posting(&self, key: u32) -> &[u32] {
        match self.keys.binary_search(&key) {
            Ok(k) => &self.postings[self.starts[k] as usize..self.starts[k + 1] as usize],
            Err(_) => &[],
        }
    }

    /// Numbers of the texts that contain `query`: exact titles first, then titles that
    /// start with it, titles that hold it, and the rest; in index order within each. At
    /// most `limit`. A query with nothing but punctuation finds nothing.
    pub fn search(&self, query: &str, limit: usize) -> Vec<usize> {
        let needle = normalise(query.trim());
        if needle.is_empty() {
            return Vec::new();
        }
        let mut hits: Vec<(Rank, usize)> = self
            .find(&needle)
            .map(|i| (rank(&self.texts[i], &needle), i))
            .collect();
        // stable: index order within a rank
        hits.sort_by_key(|&(rank, _)| rank);
        hits.into_iter().take(limit).map(|(_, i)| i).collect()
    }

    /// Numbers of the texts that contain `needle` (already normalised), ascending;
    /// lazily, so `take(n)` stops early.
    pub fn find<'a>(&'a self, needle: &'a str) -> Box<dyn Iterator<Item = usize> + 'a> {
        let contains = move |i: &usize| self.texts[*i].contains(needle);
        if needle.len() < 3 {
            return Box::new((0..self.texts.len()).filter(contains));
        }
        let mut lists: Vec<&[u32]> = trigrams(needle.as_bytes())
            .map(|k| self.posting(k))
            .collect();
        lists.sort_by_key(|l| l.len());
        lists.dedup();
        // walk the rarest trigram's texts; each must hold the others too
        let shortest: &[u32] = lists.first().copied().unwrap_or(&[]);
        Box::new(
            shortest
                .iter()
                .filter(move |i| lists[1..].iter().all(|l| l.binary_search(i).is_ok()))
                .map(|&i| i as usize)
                .filter(contains),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> TextIndex {
        TextIndex::new(
            [
                "Amber Heron programme",
                "Heron watch",
                "amber",
                "Zürich office",
                "ab",
            ]
            .map(String::from),
        )
    }

    fn find(index: &TextIndex, needle: &str) -> Vec<usize> {
        index.find(&normalise(needle)).collect()
    }

    #[test]
    fn finds_exactly_the_texts_that_contain_the_query() {
        let index = index();
        assert_eq!(find(&index, "heron"), [0, 1]);
        assert_eq!(find(&index, "amber heron"), [0]);
        assert_eq!(find(&index, "amber"), [0, 2]);
        // every trigram present, but not in a row
        assert_eq!(find(&index, "heron programme watch"), Vec::<usize>::new());
        assert_eq!(find(&index, "zzz"), Vec::<usize>::new());
        assert_eq!(find(&index, "ürich"), [3], "multi-byte text");
    }

    #[test]
    fn short_queries_scan() {
        let index = index();
        assert_eq!(find(&index, "ab"), [4]);
        assert_eq!(find(&index, "h"), [0, 1, 3]);
        assert_eq!(find(&index, ""), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn case_accents_hyphens_and_punctuation_do_not_matter() {
        let index = TextIndex::new(
            [
                "Guinea-Bissau",
                "Côte d’Ivoire",
                "Lao People's Democratic Republic",
            ]
            .map(String::from),
        );
        assert_eq!(index.search("guinea bissau", 10), [0]);
        assert_eq!(index.search("GUINEA--BISSAU", 10), [0]);
        assert_eq!(index.search("Cote d'Ivoire", 10), [1]);
        assert_eq!(index.search("côte", 10), [1]);
        assert_eq!(
            index.search("peoples", 10),
            Vec::<usize>::new(),
            "a word boundary is kept"
        );
        assert_eq!(index.search("people s democratic", 10), [2]);
        assert_eq!(index.search(" -- ", 10), Vec::<usize>::new());
    }

    #[test]
    fn exact_titles_rank_first() {
        let index = TextIndex::new(
            [
                "Heron watch\nabout herons",
                "Other\nmentions heron",
                "Heron\nthe programme",
                "Grey heron",
            ]
            .map(String::from),
        );
        assert_eq!(index.search("heron", 10), [2, 0, 3, 1]);
        assert_eq!(index.search("heron", 2), [2, 0]);
    }

    #[test]
    fn normalises_each_field() {
        assert_eq!(
            normalise("  Côte d’Ivoire!\nSÃO-Tomé "),
            "cote d ivoire\nsao tome"
        );
    }

    #[test]
    fn stops_early() {
        let index = TextIndex::new((0..10_000).map(|i| format!("item {i}")));
        assert_eq!(index.find("item").take(3).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(index.find("item 9999").collect::<Vec<_>>(), [9999]);
    }
}
