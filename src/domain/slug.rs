//! Slugs: the readable identifiers in URLs (`guinea-bissau`).

/// Longest slug accepted; URLs stay readable and indexes small.
pub const MAX_LEN: usize = 100;

/// Lowercase ASCII letters and digits in hyphen-separated words, as the database's CHECK
/// constraint requires. Anything else cannot name an item, so callers answer 404 without
/// asking the database.
pub fn is_valid(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= MAX_LEN
        && slug.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn accepts_url_words_only() {
        assert!(is_valid("guinea-bissau"));
        assert!(is_valid("star"));
        assert!(is_valid("ii-a-2008"));
        for bad in [
            "",
            "-x",
            "x-",
            "a--b",
            "Guinea",
            "a b",
            "a\0b",
            "é",
            &"a".repeat(101),
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }
}
