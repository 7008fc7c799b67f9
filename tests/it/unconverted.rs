//! Money that no exchange rate converts (issue 9): a NOK pledge entered before any NOK
//! rate is shown as NOK, "not converted", on every page, CSV and the API, never as USD 0;
//! admins get a link that opens the rate form filled in; the amount forms warn before
//! saving such an amount; once the rate is added the amount converts.

use std::collections::HashMap;

use portfolio_tracker::domain::auth::Role;

use crate::conformance::{form_at, id_by, page as admin_page, post_form, scalar};
use crate::harness::{Page, Session, TestApp};

const NOK_PLEDGE: &str = "NOK 5,000,000 (not converted)";
const WHY: &str = "not converted: no NOK rate for March 2008";
const ADD_RATE: &str = "/admin/exchange-rates/new?currency=NOK&month=2008-03";

/// A published programme with a USD budget and a NOK 5,000,000 pledge from Norway dated
/// March 2008, when no NOK rate exists.
async fn nok_pledge(app: &TestApp) {
    sqlx::raw_sql(
        "INSERT INTO organisations (slug, name, kind) VALUES ('norway', 'Norway', 'government');
         INSERT INTO items (slug, title, kind, status, published)
              VALUES ('fjord', 'Fjord programme', 'programme', 'ongoing', true);
         INSERT INTO budgets (item_id, amount, currency, as_of)
              SELECT id, 10000000, 'USD', '2008-03-10' FROM items WHERE slug = 'fjord';
         INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
              SELECT i.id, o.id, 5000000, 'NOK', 'pledged', '2008-03-12'
                FROM items i, organisations o WHERE i.slug = 'fjord' AND o.slug = 'norway';",
    )
    .execute(&app.db.pool)
    .await
    .expect("the NOK pledge");
    app.dashboards_rebuilt().await;
}

/// A CSV as rows of header → cell.
async fn csv_rows(session: &Session, path: &str) -> Vec<HashMap<String, String>> {
    let (status, body) = session.get(path).await;
    assert_eq!(status, 200, "GET {path}");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header = reader.headers().expect("a header").clone();
    reader
        .records()
        .map(|record| {
            let record = record.expect("a CSV record");
            header
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn row_where<'a>(
    rows: &'a [HashMap<String, String>],
    column: &str,
    value: &str,
) -> &'a HashMap<String, String> {
    rows.iter()
        .find(|r| r.get(column).is_some_and(|v| v == value))
        .unwrap_or_else(|| panic!("a row with {column} = {value}"))
}

async fn fjord_json(session: &Session) -> serde_json::Value {
    crate::conformance::api_item(session, "fjord")
        .await
        .expect("fjord in the API")
}

async fn item_page(session: &Session) -> Page {
    let (status, page) = session.page("/programmes/fjord").await;
    assert_eq!(status, 200);
    page
}

fn contributions_table(page: &Page) -> crate::harness::Table<'_> {
    page.table("main section[aria-labelledby=\"contributions-heading\"] table")
}

#[tokio::test]
async fn a_pledge_without_a_rate_shows_in_its_currency_everywhere_never_as_usd_0() {
    let app = TestApp::spawn().await;
    nok_pledge(&app).await;
    let staff = app.signed_in(Role::Staff).await;

    // /funding, by donor
    let (status, funding) = staff.page("/funding").await;
    assert_eq!(status, 200);
    let donors = funding.table("section[aria-labelledby=\"donors-heading\"] table");
    let norway = donors.row_linking("/organisations/norway");
    let pledged = norway.text("Pledged");
    assert!(pledged.starts_with(NOK_PLEDGE), "{pledged}");
    assert!(pledged.contains(WHY), "the reason beside it: {pledged}");
    assert!(!pledged.contains("USD 0"), "{pledged}");
    assert_eq!(
        norway.cell("Pledged").attr("title"),
        Some(WHY),
        "the reason as the cell's title"
    );
    // the totals say what they leave out
    let caveats = funding.texts("section[aria-labelledby=\"totals-heading\"] p.caveat");
    assert!(
        caveats
            .iter()
            .any(|c| c.contains("NOK 5,000,000 pledged") && c.contains(WHY)),
        "{caveats:?}"
    );

    // the item's page: its funding card and its contributions
    let item = item_page(&staff).await;
    let card = "main section[aria-labelledby=\"funding-heading\"] dl";
    assert_eq!(
        item.figure(card, "Pledged"),
        NOK_PLEDGE,
        "never “none recorded”"
    );
    assert_eq!(
        item.figure(card, "Gap"),
        "USD 10,000,000 (before NOK 5,000,000 not converted)"
    );
    assert_eq!(
        item.figure(card, "State"),
        "Partly funded",
        "not “Unfunded”"
    );
    let caveats = item.texts("main section[aria-labelledby=\"funding-heading\"] p.caveat");
    assert!(caveats.iter().any(|c| c.contains(WHY)), "{caveats:?}");
    let table = contributions_table(&item);
    let row = table.row_linking("/organisations/norway");
    assert_eq!(row.text("Amount"), "NOK 5,000,000");
    assert_eq!(row.text("In USD"), NOK_PLEDGE);
    assert_eq!(row.text("Exchange rate"), WHY, "no rate link for staff");

    // the organisation's page
    let (status, org) = staff.page("/organisations/norway").await;
    assert_eq!(status, 200);
    let totals = org.texts("main table tbody tr");
    assert!(
        totals
            .iter()
            .any(|t| t.contains(NOK_PLEDGE) && t.contains(WHY)),
        "{totals:?}"
    );

    // the donors CSV: no USD figure, the amount in NOK and why
    let rows = csv_rows(&staff, "/funding.csv?table=donors").await;
    let norway = row_where(&rows, "Organisation", "Norway");
    assert_eq!(norway["Pledged (USD)"], "", "empty, never 0.00");
    assert_eq!(norway["Currencies"], "NOK");
    assert_eq!(
        norway["Not converted (original currency)"],
        "NOK 5000000.00 pledged"
    );
    assert_eq!(norway["Why not converted"], "no NOK rate for March 2008");

    // the contributions CSV: the original amount, no USD, marked
    let rows = csv_rows(&staff, "/funding.csv?table=contributions").await;
    let pledge = row_where(&rows, "Organisation", "Norway");
    assert_eq!(pledge["Amount"], "5000000.00");
    assert_eq!(pledge["Currency"], "NOK");
    assert_eq!(pledge["Amount (USD)"], "");
    assert_eq!(pledge["Not converted"], "yes");
    assert_eq!(pledge["Why not converted"], "no NOK rate for March 2008");

    // the programmes CSV
    let rows = csv_rows(&staff, "/funding.csv?table=programmes").await;
    let fjord = row_where(&rows, "Title", "Fjord programme");
    assert_eq!(fjord["Pledged (USD)"], "");
    assert_eq!(
        fjord["Not converted (original currency)"],
        "NOK 5000000.00 pledged"
    );

    // the API: null, not "0.00", and the amount in its own currency
    let fjord = fjord_json(&staff).await;
    assert_eq!(fjord["pledged_usd"], serde_json::Value::Null);
    assert_eq!(fjord["budget_usd"], "10000000.00");
    assert_eq!(
        fjord["not_converted"],
        serde_json::json!([{
            "figure": "pledged",
            "currency": "NOK",
            "amount": "5000000.00",
            "month": "2008-03",
            "reason": "no NOK rate for March 2008",
        }])
    );
    assert_eq!(fjord["coverage"], 0.0);
}

#[tokio::test]
async fn delegates_see_the_same_without_the_admin_link() {
    let app = TestApp::spawn_public().await;
    nok_pledge(&app).await;
    let (status, item) = app.page("/programmes/fjord").await;
    assert_eq!(status, 200);
    let card = "main section[aria-labelledby=\"funding-heading\"] dl";
    assert_eq!(item.figure(card, "Pledged"), NOK_PLEDGE);
    assert!(
        !item.has(&format!("a[href=\"{ADD_RATE}\"]")),
        "only admins add rates"
    );
}

#[tokio::test]
async fn the_admin_link_fills_in_the_rate_form_and_the_amount_then_converts() {
    let app = TestApp::spawn().await;
    nok_pledge(&app).await;
    let admin = app.signed_in(Role::Admin).await;

    // the links beside the amount and below the funding card
    let item = item_page(&admin).await;
    let table = contributions_table(&item);
    let rate_cell = table
        .row_linking("/organisations/norway")
        .cell("Exchange rate");
    let links: Vec<&str> = rate_cell
        .select(&crate::harness::selector("a"))
        .filter_map(|a| a.attr("href"))
        .collect();
    assert_eq!(links, [ADD_RATE]);
    assert!(
        item.has(&format!(
            "main section[aria-labelledby=\"funding-heading\"] a[href=\"{ADD_RATE}\"]"
        )),
        "the card links to the missing rate too"
    );
    // the portfolio's totals on the overview and /funding, where staff read none
    let rate_link = format!("main p.caveat a[href=\"{ADD_RATE}\"]");
    for path in ["/", "/funding"] {
        let (_, page) = admin.page(path).await;
        assert!(page.has(&rate_link), "{path}: admins get the rate link");
        let (_, page) = app.signed_in(Role::Staff).await.page(path).await;
        assert!(!page.has(&rate_link), "{path}: staff do not");
    }
    // and the money page's "not converted" box
    let fjord = id_by(&app, "items", "slug", "fjord").await;
    let money = admin_page(&admin, &format!("/admin/items/{fjord}/money"), 200).await;
    assert!(money.exists(&format!("section.unknown li a[href=\"{ADD_RATE}\"]")));

    // the link opens the rate form with the currency and month filled in
    let form_page = admin_page(&admin, ADD_RATE, 200).await;
    let mut form = form_page.submitted();
    assert_eq!(form.get("currency"), Some("NOK"));
    assert_eq!(form.get("month"), Some("2008-03"));
    form.set("usd_per_unit", "0.1");
    form.set("source", "test rate");
    let (status, _, body) = post_form(&admin, "/admin/exchange-rates", &form).await;
    assert_eq!(status, 303, "{body}");

    // now it converts: pages, CSV, API
    let item = item_page(&admin).await;
    let card = "main section[aria-labelledby=\"funding-heading\"] dl";
    assert_eq!(item.figure(card, "Pledged"), "USD 500,000");
    let row_text = contributions_table(&item)
        .row_linking("/organisations/norway")
        .text("In USD");
    assert_eq!(row_text, "USD 500,000");
    let rows = csv_rows(&admin, "/funding.csv?table=donors").await;
    let norway = row_where(&rows, "Organisation", "Norway");
    assert_eq!(norway["Pledged (USD)"], "500000.00");
    assert_eq!(norway["Not converted (original currency)"], "");
    let fjord = fjord_json(&admin).await;
    assert_eq!(fjord["pledged_usd"], "500000.00");
    assert_eq!(fjord["not_converted"], serde_json::json!([]));
}

#[tokio::test]
async fn the_contribution_form_warns_when_the_currency_has_no_rate_and_saves_when_confirmed() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let item = id_by(&app, "items", "slug", "guinea-bissau").await;
    let org = id_by(&app, "organisations", "slug", "government-of-canada").await;
    let count = format!("SELECT count(*) FROM contributions WHERE item_id = {item}");
    let before: i64 = scalar(&app, &count).await;
    let org = org.to_string();
    let typed = [
        ("organisation", org.as_str()),
        ("amount", "5,000,000"),
        ("currency", "NOK"),
        ("as_of", "2008-03-12"),
        ("note", "pledged at the donors' meeting"),
    ];
    let mut form = form_at(&admin, &format!("/admin/items/{item}/contributions/new")).await;
    for (name, value) in typed {
        form.set(name, value);
    }
    let action = format!("/admin/items/{item}/contributions");
    let (status, _, body) = post_form(&admin, &action, &form).await;
    assert_eq!(status, 422, "warned, not saved");
    assert_eq!(scalar::<i64>(&app, &count).await, before);
    let warned = crate::conformance::page::Page::parse(&body);
    let warning = warned.field_error("without_rate").expect("the warning");
    assert!(
        warning.contains("no NOK exchange rate for March 2008"),
        "{warning}"
    );
    assert!(warned.exists(&format!("a[href=\"{ADD_RATE}\"]")));
    // every value typed is kept
    let mut again = warned.submitted();
    for (name, value) in typed {
        assert_eq!(again.get(name), Some(value), "{name} kept");
    }
    // confirmed: saved, shown as not converted
    again.set("without_rate", "on");
    let (status, to, body) = post_form(&admin, &action, &again).await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(scalar::<i64>(&app, &count).await, before + 1);
    let money = admin_page(&admin, &to, 200).await;
    assert_eq!(money.notice().as_deref(), Some("Contribution added."));

    // a currency and month with a rate saves at once
    form.set("currency", "EUR");
    form.set("as_of", "2008-02-07");
    let (status, _, body) = post_form(&admin, &action, &form).await;
    assert_eq!(status, 303, "{body}");
}

#[tokio::test]
async fn the_budget_form_warns_when_the_currency_has_no_rate() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let item = id_by(&app, "items", "slug", "guinea-bissau").await;
    let mut form = form_at(&admin, &format!("/admin/items/{item}/budgets/new")).await;
    form.set("amount", "9,000,000");
    form.set("currency", "NOK");
    form.set("as_of", "2008-03-12");
    let action = format!("/admin/items/{item}/budgets");
    let (status, _, body) = post_form(&admin, &action, &form).await;
    assert_eq!(status, 422);
    let warned = crate::conformance::page::Page::parse(&body);
    assert!(
        warned
            .field_error("without_rate")
            .is_some_and(|w| w.contains("no NOK exchange rate for March 2008"))
    );
    let mut again = warned.submitted();
    assert_eq!(again.get("amount"), Some("9,000,000"));
    again.set("without_rate", "on");
    let (status, _, body) = post_form(&admin, &action, &again).await;
    assert_eq!(status, 303, "{body}");
}
