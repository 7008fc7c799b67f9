//! Query strings as the dashboards read them: the filters, the sort key and the page
//! number never panic, and a bad value gets a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portfolio_tracker::domain::filters::RawFilters;
use portfolio_tracker::web::dashboard::SortKey;
use portfolio_tracker::web::pages::overview::parse_page;

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Params {
    #[serde(flatten)]
    filters: RawFilters,
    sort: String,
    page: String,
    q: String,
}

fuzz_target!(|data: &[u8]| {
    let Ok(params) = serde_urlencoded::from_bytes::<Params>(data) else {
        return;
    };
    match params.filters.parse() {
        Ok(filters) => {
            let _ = filters.pairs();
        }
        Err(message) => assert!(!message.is_empty()),
    }
    if let Err(e) = SortKey::parse(&params.sort, &SortKey::ALL) {
        assert!(!e.to_string().is_empty());
    }
    if let Err(e) = parse_page(Some(&params.page)) {
        assert!(!e.to_string().is_empty());
    }
    let _ = portfolio_tracker::domain::search::normalise(&params.q);
});
