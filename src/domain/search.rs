//! Substring search over many short texts, without reading every text per query.
//!
//! Each text's byte trigrams are indexed once (when the portfolio revision changes); a
//! query of three bytes or more reads only the texts that hold all of its trigrams, and
//! checks each of those with a plain substring test, so the answer is exactly "texts that
//! contain the query". Shorter queries scan.

/// Lower-cased texts with the trigrams of each, as sorted posting lists.
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
    /// Indexes `texts` (their position is the number a search returns); they are
    /// lower-cased here, as queries are.
    pub fn new(texts: impl IntoIterator<Item = String>) -> TextIndex {
        let texts: Vec<String> = texts.into_iter().map(|t| t.to_lowercase()).collect();
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

    /// Numbers of the texts that contain `needle` (lower-cased), ascending; lazily, so
    /// `take(n)` stops early.
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
        index.find(needle).collect()
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
    fn stops_early() {
        let index = TextIndex::new((0..10_000).map(|i| format!("item {i}")));
        assert_eq!(index.find("item").take(3).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(index.find("item 9999").collect::<Vec<_>>(), [9999]);
    }
}
