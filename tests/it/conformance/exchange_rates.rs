//! Exchange rates: the generic suite (never archived or deleted: a wrong rate is
//! corrected by editing it), conversion with a new or changed rate, and the list.

use super::page::Page;
use super::{
    Create, Duplicate, Edit, Find, Ident, Invalid, ItemLink, Missing, RecordSpec, Retire, Step,
    Target, api_item, audit_rows, constraint, fields, form_at, page, post_form,
};
use crate::harness::TestApp;
use portfolio_tracker::domain::auth::Role;
use serde_json::json;

conformance!(spec);

pub async fn spec(app: &TestApp) -> RecordSpec {
    // A second rate, for the target to be renamed onto.
    sqlx::query(
        "INSERT INTO exchange_rates (currency, month, usd_per_unit, source)
         VALUES ('EUR', '2008-03-01', 1.5, 'A second rate')",
    )
    .execute(&app.db.pool)
    .await
    .expect("a second EUR rate");
    let eur = Ident::Key(vec![
        ("currency", json!("EUR")),
        ("month", json!("2008-02-01")),
    ]);
    let stored = "SELECT trim_scale(usd_per_unit)::text FROM exchange_rates
                   WHERE currency = 'EUR' AND month = '2008-02-01'";
    let version =
        "SELECT version FROM exchange_rates WHERE currency = 'EUR' AND month = '2008-02-01'";
    let rate = |typed: &str, message: &'static str| {
        Invalid::new(&[("usd_per_unit", typed)], &[("usd_per_unit", message)])
    };
    let long_source = "s".repeat(2001);
    RecordSpec {
        entity: "exchange_rate",
        table: "exchange_rates",
        list: "/admin/exchange-rates".into(),
        create: Step::Yes(Create {
            new: "/admin/exchange-rates/new".into(),
            post: "/admin/exchange-rates".into(),
            fields: fields(&[
                ("currency", "GBP"),
                ("month", "2009-03"),
                ("usd_per_unit", "2"),
                ("source", "Test rate"),
            ]),
            find: Find::Key(vec![
                ("currency", json!("GBP")),
                ("month", json!("2009-03-01")),
            ]),
            location: "/admin/exchange-rates?done=created".into(),
            notice: "Rate added. Amounts in that currency convert with it from its month on, until a later month has a rate.",
            listed: Some("GBP | March 2009 | 2 | Test rate"),
            edit: "/admin/exchange-rates/GBP/2009-03/edit".into(),
            after: vec![
                ("currency", json!("GBP")),
                ("month", json!("2009-03-01")),
                ("usd_per_unit", json!("2")),
                ("source", json!("Test rate")),
            ],
            item_id: ItemLink::None,
            not_on_edit: vec![],
        }),
        invalid: vec![
            rate("0", "a rate is more than zero"),
            rate("-1", "a rate is more than zero"),
            rate("abc", "that is not a rate"),
            rate("1.12345678901", "use at most 10 decimal places"),
            rate("1,4749", "use a decimal point"),
            rate(
                "2000000",
                "no currency is worth more than 1,000,000 US dollars a unit",
            ),
            rate("", "enter the rate"),
            Invalid::new(
                &[("currency", "USD")],
                &[("currency", "US dollars need no rate")],
            )
            .unkept(&["currency"]),
            Invalid::new(
                &[("currency", "XYZ")],
                &[("currency", "choose the currency the rate is for")],
            )
            .unkept(&["currency"]),
            Invalid::new(&[("month", "2009-13")], &[("month", "choose a month")]),
            Invalid::new(&[("month", "March 2009")], &[("month", "choose a month")]),
            Invalid::new(
                &[("source", "  ")],
                &[("source", "say where the rate comes from")],
            ),
            Invalid::new(
                &[("source", &long_source)],
                &[("source", "use at most 2000 characters")],
            ),
        ],
        duplicate: Duplicate::Key {
            field: "month",
            constraint: "exchange_rates_pkey",
            taken: (
                fields(&[("currency", "EUR"), ("month", "2008-02")]),
                "there is already a EUR rate for February 2008: edit that one instead",
            ),
            rename: Some((
                fields(&[("currency", "EUR"), ("month", "2008-03")]),
                "there is already a EUR rate for March 2008: edit that one instead",
            )),
            fresh: (
                fields(&[("currency", "GBP"), ("month", "2009-03")]),
                "there is already a GBP rate for March 2009: edit that one instead",
            ),
            insert: "INSERT INTO exchange_rates (currency, month, usd_per_unit, source)
                     VALUES ('GBP', '2009-03-01', 2, 'raced')"
                .into(),
        },
        constraints: vec![
            constraint(
                "INSERT INTO exchange_rates (currency, month, usd_per_unit, source)
                 VALUES ('EUR', '2008-02-01', 1, 'again')",
                "exchange_rates_pkey",
            ),
            constraint(
                "INSERT INTO exchange_rates (currency, month, usd_per_unit, source)
                 VALUES ('USD', '2008-02-01', 1, 'dollars')",
                "exchange_rates_not_usd",
            ),
        ],
        target: Target {
            ident: eur,
            item_id: None,
            edit: "/admin/exchange-rates/EUR/2008-02/edit".into(),
            save: "/admin/exchange-rates/EUR/2008-02".into(),
            saved: "/admin/exchange-rates?done=saved".into(),
            saved_notice: "Saved. Every amount converted with this rate now uses the new figure.",
            stored: stored.into(),
            version: version.into(),
        },
        edit: Edit {
            field: "usd_per_unit",
            first: "1.5",
            second: "3",
            label: "US dollars per unit",
            shown_first: "1.5",
            shown_second: "3",
            stored_before: Some("1.4749"),
            stored_first: Some("1.5"),
            stored_second: Some("3"),
            audit_key: "usd_per_unit",
            audit_before: json!("1.4749"),
            audit_first: json!("1.5"),
        },
        retire: Retire::Never {
            reason: "rates are never archived or deleted: figures were reported with them; a wrong rate is corrected by editing it",
            posts: vec![
                "/admin/exchange-rates/EUR/2008-02/archive".into(),
                "/admin/exchange-rates/EUR/2008-02/delete".into(),
            ],
        },
        missing: Missing {
            gets: vec![
                "/admin/exchange-rates/EUR/2008-13/edit".into(),
                "/admin/exchange-rates/eur/2008-02/edit".into(),
                "/admin/exchange-rates/EUR/2009-02/edit".into(),
                "/admin/exchange-rates/EURO/2008-02/edit".into(),
                "/admin/exchange-rates/EUR/2008-02-01/edit".into(),
                "/admin/exchange-rates/%FF/2008-02/edit".into(),
            ],
            posts: vec![
                "/admin/exchange-rates/EUR/2009-02".into(),
                "/admin/exchange-rates/eur/2008-02".into(),
            ],
        },
        nul_field: "source",
        secret: vec![],
        more_gets: vec![],
        more_posts: vec![],
    }
}

#[tokio::test]
async fn a_new_rate_converts_amounts_of_its_currency_and_month() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let pledged = || async {
        api_item(&admin, "guinea-bissau").await.expect("in the API")["pledged_usd"].clone()
    };
    let mut form = form_at(&admin, "/admin/exchange-rates/new").await;
    for (name, value) in [
        ("currency", "GBP"),
        ("month", "2009-03"),
        ("usd_per_unit", " 2 "),
        ("source", "Test rate"),
    ] {
        form.set(name, value);
    }
    let (status, to, _) = post_form(&admin, "/admin/exchange-rates", &form).await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/admin/exchange-rates?done=created")
    );
    let list = page(&admin, &to, 200).await;
    assert!(
        list.rows("table")
            .iter()
            .any(|r| r.starts_with("GBP | March 2009 | 2 |")),
        "listed"
    );
    assert!(
        list.links()
            .contains(&"/admin/exchange-rates/GBP/2009-03/edit".to_string())
    );

    // A GBP contribution of that month, entered directly in SQL.
    sqlx::query(
        "INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
         SELECT i.id, (SELECT min(id) FROM organisations), 1000000, 'GBP', 'pledged', '2009-03-15'
           FROM items i WHERE i.slug = 'guinea-bissau'",
    )
    .execute(&app.db.pool)
    .await
    .expect("insert a contribution");
    app.dashboards_rebuilt().await;
    assert_eq!(
        pledged().await,
        "9000000.00",
        "7,000,000 USD + 1,000,000 GBP at 2"
    );

    // Editing the rate converts the same amount again at once.
    let edit = "/admin/exchange-rates/GBP/2009-03";
    let mut form = form_at(&admin, &format!("{edit}/edit")).await;
    assert_eq!(form.get("usd_per_unit"), Some("2"));
    assert_eq!(form.get("month"), Some("2009-03"));
    assert_eq!(form.get("currency"), Some("GBP"));
    form.set("usd_per_unit", "1.5");
    let (status, _, _) = post_form(&admin, edit, &form).await;
    assert_eq!(status, 303);
    assert_eq!(pledged().await, "8500000.00");

    let rows = audit_rows(
        &app,
        "exchange_rate",
        &Ident::Key(vec![
            ("currency", json!("GBP")),
            ("month", json!("2009-03-01")),
        ]),
    )
    .await;
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["create", "update"]);
    assert_eq!((rows[0].entity_id, rows[0].item_id), (None, None));
    assert_eq!(rows[0].after.as_ref().expect("after")["usd_per_unit"], "2");
    assert_eq!(
        rows[1].before.as_ref().expect("before")["usd_per_unit"],
        "2"
    );
    assert_eq!(
        rows[1].after.as_ref().expect("after")["usd_per_unit"],
        "1.5"
    );
}

#[tokio::test]
async fn the_rate_list_filters_by_currency() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let eur = page(&admin, "/admin/exchange-rates?currency=EUR", 200).await;
    let rows = eur.rows("table");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].starts_with("EUR | February 2008 | 1.4749 |"),
        "{rows:?}"
    );
    assert!(
        eur.texts("p.muted")
            .iter()
            .any(|p| p.contains("A wrong rate is corrected by editing it")),
        "says how a wrong rate is corrected"
    );
    assert!(!eur.exists("form[action$='/delete'], form[action$='/archive']"));
    let gbp = page(&admin, "/admin/exchange-rates?currency=GBP", 200).await;
    assert!(gbp.rows("table").is_empty());
    assert!(gbp.texts("p").contains(&"No rate for GBP yet.".to_string()));
    let (status, body) = admin.get("/admin/exchange-rates?currency=XYZ").await;
    assert_eq!(status, 400);
    assert!(
        Page::parse(&body)
            .lead()
            .contains("is not a currency code this system knows")
    );
    let (status, body) = admin.get("/admin/exchange-rates?currency=USD").await;
    assert_eq!(status, 400);
    assert!(
        Page::parse(&body)
            .lead()
            .contains("US dollars have no exchange rate")
    );
    assert_eq!(
        admin
            .get("/admin/exchange-rates?currency=EUR&currency=GBP&done=x&done=y")
            .await
            .0,
        200,
        "repeated parameters: the first counts"
    );

    let form = form_at(&admin, "/admin/exchange-rates/EUR/2008-02/edit").await;
    assert_eq!(form.get("usd_per_unit"), Some("1.4749"));
    let new = page(&admin, "/admin/exchange-rates/new", 200).await;
    assert_eq!(new.control("month").attr("type"), Some("month"));
    let offered = new.texts("select[name=currency] option");
    assert!(offered.contains(&"EUR".to_string()));
    assert!(!offered.contains(&"USD".to_string()), "USD needs no rate");
}
