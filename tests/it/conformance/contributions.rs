//! Contributions: the generic suite, the dashboards following a correction at once,
//! conversion (and its absence) by exchange rate, the conflict table's organisation
//! names and amounts, and which organisations the form offers.

use super::budgets::amount_cases;
use super::page::Page;
use super::{
    Create, Duplicate, Edit, Find, Ident, Invalid, ItemLink, Missing, RecordSpec, Retire, Step,
    Target, api_item, audit_rows, constraint, fields, form_at, id_by, page, post_form, scalar,
};
use crate::harness::{Session, TestApp};
use portfolio_tracker::domain::auth::Role;
use rust_decimal::Decimal;
use serde_json::{Value, json};

conformance!(spec);

const GB_PLEDGE: &str = "guinea-bissau/lisbon-pledges";
const LISBON: &str = "Donors at the Lisbon conference, December 2007 (not named in the report)";

pub async fn spec(app: &TestApp) -> RecordSpec {
    let item = id_by(app, "items", "slug", "guinea-bissau").await;
    let id = id_by(app, "contributions", "seed_key", GB_PLEDGE).await;
    let org = id_by(app, "organisations", "slug", "lisbon-conference-donors")
        .await
        .to_string();
    let money = format!("/admin/items/{item}/money");
    let long_note = "n".repeat(5000);
    let mut invalid = amount_cases();
    invalid.extend([
        Invalid::new(
            &[("amount", "0.00")],
            &[(
                "amount",
                "enter an amount above 0: a contribution of 0 records nothing",
            )],
        ),
        Invalid::new(
            &[("currency", "XXX")],
            &[("currency", "unknown currency code XXX")],
        ),
        Invalid::new(
            &[
                ("as_of", ""),
                ("pledged_on", "7 Feb 2008"),
                ("status", "promised"),
                ("note", &long_note),
            ],
            &[
                ("as_of", "enter the date the figure applies to"),
                ("pledged_on", "use the form YYYY-MM-DD"),
                ("status", "choose pledged, committed or paid"),
                ("note", "use at most 2000 characters"),
            ],
        )
        .unkept(&["status"]),
        Invalid::new(
            &[("organisation", "999999")],
            &[(
                "organisation",
                "choose the organisation that gives the money",
            )],
        )
        .unkept(&["organisation"]),
        Invalid::new(
            &[("organisation", "")],
            &[(
                "organisation",
                "choose the organisation that gives the money",
            )],
        ),
    ]);
    RecordSpec {
        entity: "contribution",
        table: "contributions",
        list: money.clone(),
        create: Step::Yes(Create {
            new: format!("/admin/items/{item}/contributions/new"),
            post: format!("/admin/items/{item}/contributions"),
            fields: fields(&[
                ("organisation", &org),
                ("amount", "1,000"),
                ("currency", "EUR"),
                ("status", "committed"),
                ("pledged_on", "2008-01-15"),
                ("as_of", "2008-02-07"),
                ("approximate", "on"),
                ("source_para", "para. 5"),
                ("note", "Pledged at the conference"),
            ]),
            find: Find::Id("SELECT max(id) FROM contributions".into()),
            location: format!("{money}?done=contribution-added"),
            notice: "Contribution added.",
            listed: Some("about EUR 1,000"),
            edit: "/admin/contributions/{id}/edit".into(),
            after: vec![
                ("amount", json!("1000.00")),
                ("currency", json!("EUR")),
                ("status", json!("committed")),
                ("pledged_on", json!("2008-01-15")),
                ("organisation", json!(LISBON)),
                ("approximate", json!(true)),
                ("self_financing", json!(false)),
            ],
            item_id: ItemLink::Item(item),
            not_on_edit: vec![],
        }),
        invalid,
        duplicate: Duplicate::NoNaturalKey {
            reason: "a contribution has no natural key: the same donor may pledge the same sum twice",
        },
        constraints: vec![
            constraint(
                format!("UPDATE contributions SET currency = 'XXX' WHERE id = {id}"),
                "contributions_currency_fkey",
            ),
            constraint(
                format!("UPDATE contributions SET org_id = 999999 WHERE id = {id}"),
                "contributions_org_id_fkey",
            ),
            constraint(
                format!("UPDATE contributions SET item_id = 999999 WHERE id = {id}"),
                "contributions_item_id_fkey",
            ),
            constraint(
                format!("UPDATE contributions SET status = 'promised' WHERE id = {id}"),
                "contributions_status_check",
            ),
        ],
        target: Target {
            ident: Ident::Id(id),
            item_id: Some(item),
            edit: format!("/admin/contributions/{id}/edit"),
            save: format!("/admin/contributions/{id}"),
            saved: format!("{money}?done=contribution-saved"),
            saved_notice: "Contribution saved.",
            stored: format!("SELECT amount::text FROM contributions WHERE id = {id}"),
            version: format!("SELECT version FROM contributions WHERE id = {id}"),
        },
        edit: Edit {
            field: "amount",
            first: "7,500,000",
            second: "8,000,000",
            label: "Amount",
            shown_first: "7,500,000",
            shown_second: "8,000,000",
            stored_before: Some("7000000.00"),
            stored_first: Some("7500000.00"),
            stored_second: Some("8000000.00"),
            audit_key: "amount",
            audit_before: json!("7000000.00"),
            audit_first: json!("7500000.00"),
        },
        retire: Retire::Archive {
            archive: format!("/admin/contributions/{id}/archive"),
            restore: format!("/admin/contributions/{id}/restore"),
            archived: format!("{money}?done=contribution-archived"),
            restored: format!("{money}?done=contribution-restored"),
            archived_notice: "Contribution archived: it no longer counts. Restore it below.",
            restored_notice: "Contribution restored: it counts again.",
            shown_on: money.clone(),
            flag: format!("SELECT archived_at IS NOT NULL FROM contributions WHERE id = {id}"),
        },
        missing: Missing {
            gets: vec![
                "/admin/items/999999/contributions/new".into(),
                "/admin/contributions/-1/edit".into(),
                "/admin/contributions/999999/edit".into(),
            ],
            posts: vec![
                "/admin/contributions/999999".into(),
                "/admin/contributions/999999/archive".into(),
                "/admin/contributions/999999/restore".into(),
                "/admin/items/999999/contributions".into(),
            ],
        },
        nul_field: "note",
        secret: vec![],
        more_gets: vec![],
        more_posts: vec![],
    }
}

async fn gb(session: &Session) -> Value {
    api_item(session, "guinea-bissau")
        .await
        .expect("Guinea-Bissau in the API")
}

/// The contributions table of an item's money page, one text per row.
async fn contribution_rows(session: &Session, item: i64) -> Vec<String> {
    page(session, &format!("/admin/items/{item}/money"), 200)
        .await
        .rows("section[aria-labelledby=contributions-heading] table")
}

#[tokio::test]
async fn correcting_the_guinea_bissau_pledge_shows_everywhere_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let item = id_by(&app, "items", "slug", "guinea-bissau").await;
    let id = id_by(&app, "contributions", "seed_key", GB_PLEDGE).await;

    assert_eq!(gb(&admin).await["pledged_usd"], "7000000.00");
    let money = page(&admin, &format!("/admin/items/{item}/money"), 200).await;
    let links = money.links();
    for link in [
        "/programmes/guinea-bissau".to_string(),
        format!("/admin/items/{item}/edit"),
        format!("/admin/contributions/{id}/edit"),
    ] {
        assert!(links.contains(&link), "a link to {link}");
    }
    assert!(
        contribution_rows(&admin, item)
            .await
            .iter()
            .any(|r| r.starts_with(LISBON) && r.contains("about USD 7,000,000")),
        "the pledge as the source gives it"
    );

    let mut form = form_at(&admin, &format!("/admin/contributions/{id}/edit")).await;
    assert_eq!(
        form.get("amount"),
        Some("7,000,000"),
        "the amount to correct"
    );
    form.set("amount", "7,500,000");
    let (status, to, _) = post_form(&admin, &format!("/admin/contributions/{id}"), &form).await;
    assert_eq!(status, 303);
    assert_eq!(
        to,
        format!("/admin/items/{item}/money?done=contribution-saved")
    );

    // The dashboards: the item page and the API, immediately.
    let public = page(&admin, "/programmes/guinea-bissau", 200).await;
    assert!(public.definition("Pledged").contains("USD 7,500,000"));
    assert!(public.definition("Gap").contains("USD 11,500,000"));
    let after = gb(&admin).await;
    assert_eq!(after["pledged_usd"], "7500000.00");
    assert_eq!(after["gap_usd"], "11500000.00");
    assert_eq!(after["budget_usd"], "19000000.00");

    // The seed key is kept: a re-seed neither duplicates nor reverts the row.
    portfolio_tracker::store::seed::load(&app.db.pool)
        .await
        .expect("re-seed");
    let rows: i64 = scalar(
        &app,
        &format!("SELECT count(*) FROM contributions WHERE seed_key = '{GB_PLEDGE}'"),
    )
    .await;
    assert_eq!(rows, 1);
    let amount: Decimal = scalar(
        &app,
        &format!("SELECT amount FROM contributions WHERE id = {id}"),
    )
    .await;
    assert_eq!(amount, Decimal::new(7_500_000, 0));

    // The audit row, and the two pages that show it.
    let audit = audit_rows(&app, "contribution", &Ident::Id(id)).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].action.as_str(), audit[0].item_id),
        ("update", Some(item))
    );
    assert_eq!(
        audit[0].before.as_ref().expect("before")["amount"],
        "7000000.00"
    );
    assert_eq!(
        audit[0].after.as_ref().expect("after")["amount"],
        "7500000.00"
    );
    for path in ["/admin/audit", "/programmes/guinea-bissau/history"] {
        let trail = page(&admin, path, 200).await;
        let entry = trail
            .all("ol.history > li")
            .into_iter()
            .find(|li| {
                super::page::text_of(*li).contains("about USD 7,000,000 → about USD 7,500,000")
            })
            .unwrap_or_else(|| panic!("{path} summarises the change"));
        let del: Vec<String> = entry
            .select(&super::page::sel("table.diff td del"))
            .map(super::page::text_of)
            .collect();
        let ins: Vec<String> = entry
            .select(&super::page::sel("table.diff td ins"))
            .map(super::page::text_of)
            .collect();
        assert!(
            del.contains(&"7000000.00".to_string()),
            "{path}: before {del:?}"
        );
        assert!(
            ins.contains(&"7500000.00".to_string()),
            "{path}: after {ins:?}"
        );
    }
}

#[tokio::test]
async fn a_conflict_names_organisations_and_compares_amounts_as_amounts() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let id = id_by(&app, "contributions", "seed_key", GB_PLEDGE).await;
    let edit = format!("/admin/contributions/{id}/edit");
    let save = format!("/admin/contributions/{id}");
    let loaded = form_at(&admin, &edit).await;

    let mut first = loaded.clone();
    first.set("note", "Corrected first");
    assert_eq!(post_form(&admin, &save, &first).await.0, 303);

    // The stale form, the amount typed without separators: the same amount.
    let mut stale = loaded.clone();
    stale.set("amount", "7000000");
    let (status, _, body) = post_form(&admin, &save, &stale).await;
    assert_eq!(status, 409);
    let conflict = Page::parse(&body).conflict().expect("the conflict table");
    let row = |label: &str| {
        conflict
            .rows
            .iter()
            .find(|r| r.label == label)
            .unwrap_or_else(|| panic!("a row for {label}"))
            .clone()
    };
    let organisation = row("Organisation");
    assert_eq!(
        (organisation.saved.as_str(), organisation.yours.as_str()),
        (LISBON, LISBON),
        "names, not ids"
    );
    assert!(!organisation.differs);
    let amount = row("Amount");
    assert_eq!(
        (amount.saved.as_str(), amount.yours.as_str()),
        ("7,000,000", "7,000,000")
    );
    assert!(!amount.differs, "amounts compared as amounts");
    assert!(row("Note").differs);

    let mut stale = loaded.clone();
    stale.set("amount", "8,000,000");
    let (status, _, body) = post_form(&admin, &save, &stale).await;
    assert_eq!(status, 409);
    let conflict = Page::parse(&body).conflict().expect("the conflict table");
    let amount = conflict
        .rows
        .iter()
        .find(|r| r.label == "Amount")
        .expect("an amount row");
    assert!(amount.differs);
    assert_eq!(
        (amount.saved.as_str(), amount.yours.as_str()),
        ("7,000,000", "8,000,000")
    );
    let stored: String = scalar(
        &app,
        &format!("SELECT amount::text FROM contributions WHERE id = {id}"),
    )
    .await;
    assert_eq!(stored, "7000000.00");
}

#[tokio::test]
async fn a_pledge_in_euros_is_converted_at_the_rate_of_its_month() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let item = id_by(&app, "items", "slug", "guinea-bissau").await;
    let mut form = form_at(&admin, &format!("/admin/items/{item}/contributions/new")).await;
    let org = id_by(&app, "organisations", "slug", "lisbon-conference-donors").await;
    for (name, value) in [
        ("organisation", org.to_string().as_str()),
        ("amount", "1,000"),
        ("currency", "EUR"),
        ("pledged_on", "2008-01-15"),
        ("as_of", "2008-02-07"),
    ] {
        form.set(name, value);
    }
    let (status, to, _) =
        post_form(&admin, &format!("/admin/items/{item}/contributions"), &form).await;
    assert_eq!(status, 303);
    let money = page(&admin, &to, 200).await;
    assert_eq!(money.notice().as_deref(), Some("Contribution added."));
    let row = money
        .rows("section[aria-labelledby=contributions-heading] table")
        .into_iter()
        .find(|r| r.contains("EUR 1,000"))
        .expect("the new pledge");
    assert!(
        row.contains("(rate of 2008-02)"),
        "converted at the seeded rate: {row}"
    );
    assert!(row.contains("2008-01-15"), "{row}");
}

#[tokio::test]
async fn an_amount_without_an_exchange_rate_is_saved_with_a_notice() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let item = id_by(&app, "items", "slug", "guinea-bissau").await;
    let org = id_by(&app, "organisations", "slug", "lisbon-conference-donors").await;
    let mut form = form_at(&admin, &format!("/admin/items/{item}/contributions/new")).await;
    for (name, value) in [
        ("organisation", org.to_string().as_str()),
        ("amount", "250,000"),
        ("currency", "GBP"),
        ("as_of", "2008-02-07"),
    ] {
        form.set(name, value);
    }
    // warned before saving (see tests/it/unconverted.rs), then saved once confirmed
    let action = format!("/admin/items/{item}/contributions");
    let (status, _, _) = post_form(&admin, &action, &form).await;
    assert_eq!(status, 422);
    form.set("without_rate", "on");
    let (status, _, _) = post_form(&admin, &action, &form).await;
    assert_eq!(status, 303);
    let money = page(&admin, &format!("/admin/items/{item}/money"), 200).await;
    assert_eq!(money.text("section.unknown h2"), "Not converted to USD yet");
    let unconverted = money.texts("section.unknown li");
    assert_eq!(unconverted.len(), 1, "{unconverted:?}");
    assert!(
        unconverted[0].contains("no GBP rate for 2008-02 or earlier"),
        "{unconverted:?}"
    );
    let row = money
        .rows("section[aria-labelledby=contributions-heading] table")
        .into_iter()
        .find(|r| r.contains("GBP 250,000"))
        .expect("the new pledge");
    assert!(row.contains("not converted yet"), "{row}");
    assert_eq!(gb(&admin).await["pledged_usd"], "7000000.00", "not counted");
}

#[tokio::test]
async fn an_archived_contribution_leaves_the_figures_until_restored() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let item = id_by(&app, "items", "slug", "guinea-bissau").await;
    let id = id_by(&app, "contributions", "seed_key", GB_PLEDGE).await;

    let (status, _, _) = admin
        .post(&format!("/admin/contributions/{id}/archive"), &[])
        .await;
    assert_eq!(status, 303);
    let figures = gb(&admin).await;
    assert_eq!(figures["pledged_usd"], "0.00");
    assert_eq!(figures["gap_usd"], "19000000.00");
    let row = contribution_rows(&admin, item)
        .await
        .into_iter()
        .find(|r| r.starts_with(LISBON))
        .expect("still listed");
    assert!(
        row.contains("Archived") && row.contains("archived, not counted"),
        "{row}"
    );

    let (status, _, _) = admin
        .post(&format!("/admin/contributions/{id}/restore"), &[])
        .await;
    assert_eq!(status, 303);
    assert_eq!(gb(&admin).await["pledged_usd"], "7000000.00");
    let trail: Vec<(String, Option<i64>)> = audit_rows(&app, "contribution", &Ident::Id(id))
        .await
        .into_iter()
        .map(|r| (r.action, r.item_id))
        .collect();
    assert_eq!(
        trail,
        [
            ("archive".to_string(), Some(item)),
            ("restore".to_string(), Some(item))
        ]
    );
}

#[tokio::test]
async fn archived_organisations_are_not_offered_but_a_recorded_one_is_kept() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let item = id_by(&app, "items", "slug", "guinea-bissau").await;
    let id = id_by(&app, "contributions", "seed_key", GB_PLEDGE).await;
    let org = id_by(&app, "organisations", "slug", "lisbon-conference-donors").await;
    let offered = |page: &Page| -> Vec<(String, String)> {
        page.all("select[name=organisation] option")
            .into_iter()
            .map(|o| {
                (
                    o.attr("value").unwrap_or("").to_string(),
                    super::page::text_of(o),
                )
            })
            .collect()
    };
    let new = format!("/admin/items/{item}/contributions/new");
    let before = offered(&page(&admin, &new, 200).await);
    assert!(before.contains(&(org.to_string(), LISBON.to_string())));
    assert_eq!(before[0], (String::new(), "Choose an organisation".into()));

    let (status, _, _) = admin
        .post(&format!("/admin/organisations/{org}/archive"), &[])
        .await;
    assert_eq!(status, 303);
    let new_page = page(&admin, &new, 200).await;
    assert!(
        !offered(&new_page)
            .iter()
            .any(|(v, _)| *v == org.to_string()),
        "an archived organisation is not offered"
    );
    let mut form = new_page.submitted();
    for (name, value) in [
        ("organisation", org.to_string().as_str()),
        ("amount", "5"),
        ("as_of", "2008-02-07"),
    ] {
        form.set(name, value);
    }
    let (status, _, body) =
        post_form(&admin, &format!("/admin/items/{item}/contributions"), &form).await;
    assert_eq!(status, 422, "nor accepted");
    assert_eq!(
        Page::parse(&body).field_error("organisation").as_deref(),
        Some("choose the organisation that gives the money")
    );

    let edit = page(&admin, &format!("/admin/contributions/{id}/edit"), 200).await;
    let selected = edit
        .all("select[name=organisation] option[selected]")
        .into_iter()
        .map(|o| {
            (
                o.attr("value").unwrap_or("").to_string(),
                super::page::text_of(o),
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(
        selected,
        [(org.to_string(), format!("{LISBON} (archived)"))],
        "the recorded organisation stays chosen"
    );
    let mut form = edit.submitted();
    form.set("note", "Still from the Lisbon donors");
    let (status, _, _) = post_form(&admin, &format!("/admin/contributions/{id}"), &form).await;
    assert_eq!(status, 303, "and an edit keeps it");
    let kept: i64 = scalar(
        &app,
        &format!("SELECT org_id FROM contributions WHERE id = {id}"),
    )
    .await;
    assert_eq!(kept, org);
}

#[tokio::test]
async fn a_donor_missing_from_the_menu_is_added_and_chosen_on_the_way_back() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(Role::Admin).await;
    let item = id_by(&app, "items", "slug", "guinea-bissau").await;
    let origin = "/programmes/guinea-bissau";
    let new_contribution = format!("/admin/items/{item}/contributions/new?return_to={origin}");
    let item_page = page(&admin, origin, 200).await;
    assert!(
        item_page.links().contains(&new_contribution),
        "the item's page offers “Add a contribution”, coming back to it"
    );
    let first = page(&admin, &new_contribution, 200).await;

    // Half the form typed, then "Add a new organisation first" (a second submit button
    // after the main one, posting the same fields elsewhere).
    let mut typed = first.submitted();
    typed.set("amount", "1,250,000");
    typed.set("currency", "NOK");
    typed.set("pledged_on", "2008-03-12");
    typed.set("as_of", "2008-03-12");
    typed.set(
        "note",
        "Announced at the donors' meeting; letter to follow.",
    );
    let buttons: Vec<_> = first.all("main form.stacked button[type=submit]");
    assert_eq!(buttons.len(), 2, "the main button first, then the detour");
    assert_eq!(
        super::page::text_of(buttons[1]),
        "Add a new organisation first"
    );
    let detour = buttons[1].attr("formaction").expect("its own address");
    let (status, location, body) = post_form(&admin, detour, &typed).await;
    assert_eq!(status, 303, "{body}");
    assert!(
        location.starts_with("/admin/organisations/new?return_to="),
        "{location}"
    );
    let before = super::row_count(&app, "contributions").await;

    // The organisation form; Cancel would lead back to the half-filled contribution.
    let org_form = page(&admin, &location, 200).await;
    let cancel = org_form
        .all("main form.stacked .actions a")
        .into_iter()
        .find_map(|a| a.attr("href").map(str::to_string))
        .expect("a Cancel link");
    assert!(cancel.starts_with(&format!("/admin/items/{item}/contributions/new?")));
    let action = org_form
        .one("main form.stacked")
        .attr("action")
        .expect("an action")
        .to_string();
    assert_eq!(
        super::row_count(&app, "contributions").await,
        before,
        "nothing saved on the detour"
    );
    let (status, back, _) = admin
        .post(
            &action,
            &[
                ("name", "Government of Norway"),
                ("kind", "government"),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let org = id_by(&app, "organisations", "slug", "government-of-norway").await;
    assert!(back.ends_with(&format!("organisation={org}")), "{back}");

    // Back on the contribution: everything typed is there, with the new donor chosen.
    let again = page(&admin, &back, 200).await;
    let form = again.submitted();
    assert_eq!(form.get("organisation"), Some(org.to_string().as_str()));
    assert_eq!(form.get("amount"), Some("1,250,000"));
    assert_eq!(form.get("currency"), Some("NOK"));
    assert_eq!(form.get("pledged_on"), Some("2008-03-12"));
    assert_eq!(
        form.get("note"),
        Some("Announced at the donors' meeting; letter to follow.")
    );
    assert_eq!(form.get("version"), Some("0"));

    // Saved, it returns to where the person started.
    let mut form = form;
    form.set("without_rate", "yes");
    let action = again
        .one("main form.stacked")
        .attr("action")
        .expect("an action")
        .to_string();
    let (status, location, body) = post_form(&admin, &action, &form).await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(location, origin);
    let saved: i64 = scalar(
        &app,
        &format!("SELECT count(*) FROM contributions WHERE org_id = {org} AND currency = 'NOK' AND amount = 1250000"),
    )
    .await;
    assert_eq!(saved, 1);

    // elsewhere than an admin page is never returned to
    let (status, location, _) = admin
        .post(
            "/admin/organisations?return_to=https%3A%2F%2Fevil.example%2F",
            &[
                ("name", "Other donor"),
                ("kind", "government"),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(location, "/admin/organisations?done=created");
}
