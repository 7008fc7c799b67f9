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

/// A slug made from a name: its words in lowercase ASCII (accents dropped, other
/// letters and punctuation left out), hyphen-joined, cut at a word to [`MAX_LEN`].
/// Empty when the name has no ASCII letter or digit.
pub fn from_name(name: &str) -> String {
    let mut slug = String::new();
    let folded = crate::domain::search::normalise(name).replace('\n', " ");
    let words = folded
        .split(' ')
        .map(|w| {
            w.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty());
    for word in words {
        let joined = if slug.is_empty() { 0 } else { 1 };
        if slug.len() + joined + word.len() > MAX_LEN {
            break;
        }
        if joined == 1 {
            slug.push('-');
        }
        slug.push_str(&word);
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::{from_name, is_valid};

    #[test]
    fn derives_slugs_from_names() {
        assert_eq!(from_name("Government of Canada"), "government-of-canada");
        assert_eq!(
            from_name("  Côte d’Ivoire: Phase II "),
            "cote-d-ivoire-phase-ii"
        );
        assert_eq!(
            from_name("West Africa — Guinea-Bissau"),
            "west-africa-guinea-bissau"
        );
        assert_eq!(from_name("中文"), "");
        let long = from_name(&"word ".repeat(40));
        assert!(is_valid(&long) && long.len() <= 100, "{long}");
        for name in ["A & B", "x", "Ünïcödé 2008-2011"] {
            assert!(is_valid(&from_name(name)), "{name}");
        }
    }

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
