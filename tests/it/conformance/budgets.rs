//! Budgets: the generic suite, amounts as people type them, the seed key kept through
//! edits, and the figures following an archive at once.

use super::{
    Create, Duplicate, Edit, Find, Ident, Invalid, ItemLink, Missing, RecordSpec, Retire, Step,
    Target, api_item, audit_rows, constraint, fields, form_at, id_by, page, post_form, scalar,
};
use crate::harness::TestApp;
use portfolio_tracker::domain::auth::Role;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;

conformance!(spec);

pub const GB_BUDGET: &str = "guinea-bissau/budget";

/// The amount cases both money forms refuse the same way.
pub fn amount_cases() -> Vec<Invalid> {
    [
        ("-5", "amounts cannot be negative"),
        ("1.234", "use at most two decimal places"),
        ("1e6", "is not an amount"),
        (
            "99999999999999999",
            "larger than any budget this system accepts",
        ),
    ]
    .into_iter()
    .map(|(typed, message)| Invalid::new(&[("amount", typed)], &[("amount", message)]))
    .collect()
}

pub async fn spec(app: &TestApp) -> RecordSpec {
    let item = id_by(app, "items", "slug", "guinea-bissau").await;
    let id = id_by(app, "budgets", "seed_key", GB_BUDGET).await;
    let long_period = "p".repeat(101);
    let long_note = "n".repeat(2001);
    let money = format!("/admin/items/{item}/money");
    let mut invalid = amount_cases();
    invalid.extend([
        Invalid::new(
            &[("currency", "XXX")],
            &[("currency", "unknown currency code XXX")],
        ),
        Invalid::new(
            &[("as_of", "")],
            &[(
                "as_of",
                "enter the date the figure applies to (YYYY-MM-DD): it picks the exchange rate",
            )],
        ),
        Invalid::new(
            &[("as_of", "1066-10-14")],
            &[("as_of", "use a year between 1900 and 2100")],
        ),
        Invalid::new(
            &[("period", &long_period)],
            &[("period", "use at most 100 characters")],
        ),
        Invalid::new(
            &[("note", &long_note)],
            &[("note", "use at most 2000 characters")],
        ),
    ]);
    RecordSpec {
        entity: "budget",
        table: "budgets",
        list: money.clone(),
        create: Step::Yes(Create {
            new: format!("/admin/items/{item}/budgets/new"),
            post: format!("/admin/items/{item}/budgets"),
            fields: fields(&[
                ("amount", "2,500,000"),
                ("currency", "USD"),
                ("approximate", "on"),
                ("period", "2008-2010"),
                ("as_of", "2008-02-07"),
                ("source_para", "para. 6"),
                ("note", "A second line"),
            ]),
            find: Find::Id("SELECT max(id) FROM budgets".into()),
            location: format!("{money}?done=budget-added"),
            notice: "Budget added.",
            listed: Some("about USD 2,500,000"),
            edit: "/admin/budgets/{id}/edit".into(),
            after: vec![
                ("amount", json!("2500000.00")),
                ("currency", json!("USD")),
                ("approximate", json!(true)),
                ("period", json!("2008-2010")),
                ("as_of", json!("2008-02-07")),
                ("note", json!("A second line")),
            ],
            item_id: ItemLink::Item(item),
            not_on_edit: vec![],
        }),
        invalid,
        duplicate: Duplicate::NoNaturalKey {
            reason: "a budget has no natural key: two equal lines are two budgets",
        },
        constraints: vec![
            constraint(
                format!("UPDATE budgets SET currency = 'XXX' WHERE id = {id}"),
                "budgets_currency_fkey",
            ),
            constraint(
                format!("UPDATE budgets SET item_id = 999999 WHERE id = {id}"),
                "budgets_item_id_fkey",
            ),
            constraint(
                format!("UPDATE budgets SET amount = -1 WHERE id = {id}"),
                "budgets_amount_check",
            ),
        ],
        target: Target {
            ident: Ident::Id(id),
            item_id: Some(item),
            edit: format!("/admin/budgets/{id}/edit"),
            save: format!("/admin/budgets/{id}"),
            saved: format!("{money}?done=budget-saved"),
            saved_notice: "Budget saved.",
            stored: format!("SELECT amount::text FROM budgets WHERE id = {id}"),
            version: format!("SELECT version FROM budgets WHERE id = {id}"),
        },
        edit: Edit {
            field: "amount",
            first: "20,000,000",
            second: "21,000,000",
            label: "Amount",
            shown_first: "20,000,000",
            shown_second: "21,000,000",
            stored_before: Some("19000000.00"),
            stored_first: Some("20000000.00"),
            stored_second: Some("21000000.00"),
            audit_key: "amount",
            audit_before: json!("19000000.00"),
            audit_first: json!("20000000.00"),
        },
        retire: Retire::Archive {
            archive: format!("/admin/budgets/{id}/archive"),
            restore: format!("/admin/budgets/{id}/restore"),
            archived: format!("{money}?done=budget-archived"),
            restored: format!("{money}?done=budget-restored"),
            archived_notice: "Budget archived: it no longer counts. Restore it below.",
            restored_notice: "Budget restored: it counts again.",
            shown_on: money.clone(),
            flag: format!("SELECT archived_at IS NOT NULL FROM budgets WHERE id = {id}"),
        },
        missing: Missing {
            gets: vec![
                "/admin/items/999999/money".into(),
                "/admin/items/abc/money".into(),
                "/admin/items/0/budgets/new".into(),
                "/admin/budgets/999999/edit".into(),
                "/admin/budgets/abc/edit".into(),
            ],
            posts: vec![
                "/admin/budgets/999999".into(),
                "/admin/budgets/999999/archive".into(),
                "/admin/budgets/999999/restore".into(),
                "/admin/items/999999/budgets".into(),
            ],
        },
        nul_field: "note",
        secret: vec![],
        more_gets: vec![],
        more_posts: vec![],
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}

#[tokio::test]
async fn budget_forms_accept_the_amounts_people_type() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let item = id_by(&app, "items", "slug", "guinea-bissau").await;

    let new = page(&admin, &format!("/admin/items/{item}/budgets/new"), 200).await;
    let currencies = new
        .all("select[name=currency] option")
        .into_iter()
        .filter_map(|o| o.attr("value"))
        .collect::<Vec<_>>();
    assert_eq!(currencies.first(), Some(&"USD"), "USD is offered first");
    assert!(currencies.contains(&"AED") && currencies.contains(&"EUR"));
    assert!(
        new.text("#as_of-hint")
            .contains("it picks the exchange rate"),
        "the date's hint"
    );

    for (typed, stored) in [("19,000,000", "19000000"), ("19000000.50", "19000000.50")] {
        let mut form = new.submitted();
        for (name, value) in [
            ("amount", typed),
            ("as_of", "2008-02-07"),
            ("period", "2008-2010"),
        ] {
            form.set(name, value);
        }
        let (status, to, body) =
            post_form(&admin, &format!("/admin/items/{item}/budgets"), &form).await;
        assert_eq!(status, 303, "{typed} is accepted: {body}");
        assert_eq!(to, format!("/admin/items/{item}/money?done=budget-added"));
        let (amount, seed_key): (Decimal, Option<String>) =
            sqlx::query_as("SELECT amount, seed_key FROM budgets ORDER BY id DESC LIMIT 1")
                .fetch_one(&app.db.pool)
                .await
                .expect("the new budget");
        assert_eq!(amount, dec(stored));
        assert_eq!(seed_key, None, "a budget typed in has no seed key");
    }
    let (entity, item_id, after_amount): (String, i64, String) = sqlx::query_as(
        "SELECT entity, item_id, after->>'amount' FROM audit_log
          WHERE action = 'create' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("audit of the creation");
    assert_eq!(
        (entity.as_str(), item_id, after_amount.as_str()),
        ("budget", item, "19000000.50")
    );
}

#[tokio::test]
async fn an_edited_seeded_budget_keeps_its_seed_key() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let id = id_by(&app, "budgets", "seed_key", GB_BUDGET).await;
    let mut form = form_at(&admin, &format!("/admin/budgets/{id}/edit")).await;
    assert_eq!(
        form.get("amount"),
        Some("19,000,000"),
        "the amount to correct"
    );
    form.set("amount", "21,000,000");
    assert_eq!(
        post_form(&admin, &format!("/admin/budgets/{id}"), &form)
            .await
            .0,
        303
    );
    let key: Option<String> = scalar(
        &app,
        &format!("SELECT seed_key FROM budgets WHERE id = {id}"),
    )
    .await;
    assert_eq!(key.as_deref(), Some(GB_BUDGET));

    // A re-seed recognises the row and neither duplicates nor reverts it.
    portfolio_tracker::store::seed::load(&app.db.pool)
        .await
        .expect("re-seed");
    let rows: i64 = scalar(
        &app,
        &format!("SELECT count(*) FROM budgets WHERE seed_key = '{GB_BUDGET}'"),
    )
    .await;
    assert_eq!(rows, 1);
    let amount: Decimal =
        scalar(&app, &format!("SELECT amount FROM budgets WHERE id = {id}")).await;
    assert_eq!(amount, dec("21000000"));
}

#[tokio::test]
async fn an_archived_budget_leaves_the_figures_until_restored() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let item = id_by(&app, "items", "slug", "guinea-bissau").await;
    let id = id_by(&app, "budgets", "seed_key", GB_BUDGET).await;
    let budget = || async {
        api_item(&admin, "guinea-bissau").await.expect("in the API")["budget_usd"].clone()
    };
    assert_eq!(budget().await, "19000000.00");

    admin
        .post(&format!("/admin/budgets/{id}/archive"), &[])
        .await;
    assert_eq!(budget().await, Value::Null, "no budget stated any more");
    let money = page(&admin, &format!("/admin/items/{item}/money"), 200).await;
    let row = money
        .rows("section[aria-labelledby=budgets-heading] table")
        .into_iter()
        .find(|r| r.contains("USD 19,000,000"))
        .expect("the archived budget is still listed");
    assert!(
        row.contains("Archived") && row.contains("archived, not counted"),
        "{row}"
    );

    admin
        .post(&format!("/admin/budgets/{id}/restore"), &[])
        .await;
    assert_eq!(budget().await, "19000000.00");
    let rows = audit_rows(&app, "budget", &Ident::Id(id)).await;
    let trail: Vec<(&str, Option<i64>)> = rows
        .iter()
        .map(|r| (r.action.as_str(), r.item_id))
        .collect();
    assert_eq!(trail, [("archive", Some(item)), ("restore", Some(item))]);
}
