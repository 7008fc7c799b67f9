//! `portfolio-tracker export` and `import`: every record of the portfolio as one
//! versioned JSON document (the format is described in docs/portfolio-format.md).
//!
//! The document is a byte-for-byte function of what the database holds: rows in primary
//! key order, ids kept, money as the decimal strings PostgreSQL stores (scale included),
//! timestamps in UTC to the microsecond, the audit trail's JSON exactly as stored, and no
//! clock of the export itself. So export → import → export gives the same bytes.
//!
//! The tables are listed once, in [`tables!`]'s invocation below (exported, in load
//! order) and in [`NOT_EXPORTED`] (left out, with the reason). A test compares the two
//! lists with the live schema, so a table added by a migration forces a decision.
//!
//! The import loads into an empty database only (nothing beyond what the migrations
//! insert), in one transaction: it either loads everything or changes nothing. The
//! database's own constraints and triggers check the rows (keys, foreign keys, parent
//! cycles, value checks) as they would any write, and the triggers move the portfolio
//! revision, so running servers reload their dashboards.

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgPool, Row};

/// The value of the document's `format` key.
pub const FORMAT: &str = "portfolio-tracker";
/// The version of the document this build writes and reads (see the version policy in
/// docs/portfolio-format.md).
pub const VERSION: u32 = 3;

/// Tables of the schema that the document leaves out, and why.
pub const NOT_EXPORTED: &[(&str, &str)] = &[
    (
        "currencies",
        "reference data: migration 0001 inserts the ISO 4217 codes, and nothing edits them",
    ),
    (
        "portfolio_revision",
        "a counter the triggers move on every change; the import moves it too, so a \
         running server reloads its dashboards",
    ),
    (
        "sessions",
        "signed-in browsers: short-lived secrets, which would let whoever holds the file \
         act as those people on the new database",
    ),
    (
        "login_throttle",
        "sign-in attempts of the last 15 minutes and their locks: short-lived by design",
    ),
    (
        "contribution_import_uploads",
        "spreadsheets uploaded and waiting for their preview to be saved: a staging area \
         swept after a day; what was saved is in contributions and contribution_imports",
    ),
    (
        "_sqlx_migrations",
        "which migrations ran: the import applies the migrations itself before loading",
    ),
];

/// One table's rows as they travel in the document.
trait Table: Serialize + for<'r> FromRow<'r, PgRow> + Send + Unpin {
    /// What the export selects (columns whose text the rows need as it is stored).
    const COLUMNS: &'static str = "*";
    /// The primary key, in `ORDER BY` form: the document's row order.
    const ORDER: &'static str;
    /// Whether the table has an `id` identity column, whose sequence the import resets.
    const IDENTITY: bool = true;
}

/// Declares the document: the header, one list of rows per exported table (in the order
/// the import loads them: referenced tables first), then the identity sequences.
macro_rules! tables {
    ($($table:ident: $row:ty),+ $(,)?) => {
        /// The whole export, in document order.
        #[derive(Debug, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Document {
            pub format: String,
            pub version: u32,
            $(pub $table: Vec<$row>,)+
            pub sequences: Vec<Sequence>,
        }

        /// The exported tables, in load order.
        pub const EXPORTED: &[&str] = &[$(stringify!($table)),+];

        /// Tables whose `id` is an identity column.
        fn identity_tables() -> Vec<&'static str> {
            let mut out = Vec::new();
            $(if <$row as Table>::IDENTITY { out.push(stringify!($table)); })+
            out
        }

        async fn read_tables(db: &mut PgConnection) -> anyhow::Result<Document> {
            Ok(Document {
                format: FORMAT.to_string(),
                version: VERSION,
                $($table: read::<$row>(db, stringify!($table)).await?,)+
                sequences: Vec::new(),
            })
        }

        async fn write_tables(db: &mut PgConnection, document: &Document) -> anyhow::Result<()> {
            $(write(db, stringify!($table), &document.$table).await?;)+
            Ok(())
        }

        fn counts(document: &Document) -> Vec<(&'static str, usize)> {
            vec![$((stringify!($table), document.$table.len())),+]
        }
    };
}

tables! {
    themes: Theme,
    result_areas: ResultArea,
    organisations: Organisation,
    places: Place,
    items: Item,
    item_places: ItemPlace,
    item_organisations: ItemOrganisation,
    alignments: Alignment,
    exchange_rates: ExchangeRate,
    budgets: Budget,
    users: Account,
    contribution_imports: ContributionImport,
    contributions: Contribution,
    contribution_events: ContributionEventRow,
    milestones: MilestoneRow,
    targets: TargetRow,
    target_updates: TargetUpdate,
    api_tokens: ApiToken,
    audit_log: AuditEntry,
    login_failures_unknown: UnknownSignInFailures,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    pub code: String,
    pub title: Option<String>,
    pub source_para: Option<String>,
    pub version: i32,
}
impl Table for Theme {
    const ORDER: &'static str = r#"code COLLATE "C""#;
    const IDENTITY: bool = false;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct ResultArea {
    pub id: i64,
    pub code: String,
    pub theme_code: String,
    pub title: Option<String>,
    pub source_para: Option<String>,
    pub archived_at: Option<DateTime<Utc>>,
    pub version: i32,
}
impl Table for ResultArea {
    const ORDER: &'static str = "id";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub acronym: Option<String>,
    pub kind: String,
    pub source_paras: Option<String>,
    pub archived_at: Option<DateTime<Utc>>,
    pub version: i32,
}
impl Table for Organisation {
    const ORDER: &'static str = "id";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub iso_code: Option<String>,
}
impl Table for Place {
    const ORDER: &'static str = "id";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub parent_id: Option<i64>,
    pub report_section: Option<String>,
    pub status: String,
    pub status_note: Option<String>,
    pub summary: String,
    pub description: String,
    pub period: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub source_paras: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published: bool,
    pub internal_notes: String,
    pub archived_at: Option<DateTime<Utc>>,
    pub start_precision: String,
    pub end_precision: String,
}
impl Table for Item {
    const ORDER: &'static str = "id";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct ItemPlace {
    pub item_id: i64,
    pub place_id: i64,
}
impl Table for ItemPlace {
    const ORDER: &'static str = "item_id, place_id";
    const IDENTITY: bool = false;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct ItemOrganisation {
    pub item_id: i64,
    pub org_id: i64,
    pub role: String,
    pub source_para: Option<String>,
}
impl Table for ItemOrganisation {
    const ORDER: &'static str = r#"item_id, org_id, role COLLATE "C""#;
    const IDENTITY: bool = false;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct Alignment {
    pub item_id: i64,
    pub result_area_id: i64,
    pub source_para: Option<String>,
    pub note: Option<String>,
}
impl Table for Alignment {
    const ORDER: &'static str = "item_id, result_area_id";
    const IDENTITY: bool = false;
}

/// A UN operational rate: `usd_per_unit` keeps its ten decimals as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRate {
    pub currency: String,
    pub month: NaiveDate,
    pub usd_per_unit: Decimal,
    pub source: String,
    pub version: i32,
}
impl Table for ExchangeRate {
    const ORDER: &'static str = r#"currency COLLATE "C", month"#;
    const IDENTITY: bool = false;
}

/// A budget in its own currency; its USD figure is computed from the rates, never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub id: i64,
    pub item_id: i64,
    pub amount: Decimal,
    pub currency: String,
    pub approximate: bool,
    pub period: Option<String>,
    pub as_of: NaiveDate,
    pub source_para: Option<String>,
    pub note: Option<String>,
    pub seed_key: Option<String>,
    pub version: i32,
    pub archived_at: Option<DateTime<Utc>>,
    pub lower_bound: bool,
}
impl Table for Budget {
    const ORDER: &'static str = "id";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct Contribution {
    pub id: i64,
    pub item_id: i64,
    pub org_id: i64,
    pub amount: Decimal,
    pub currency: String,
    pub status: String,
    pub pledged_on: Option<NaiveDate>,
    pub as_of: NaiveDate,
    pub approximate: bool,
    pub self_financing: bool,
    pub source_para: Option<String>,
    pub note: Option<String>,
    pub seed_key: Option<String>,
    pub version: i32,
    pub archived_at: Option<DateTime<Utc>>,
    pub import_id: Option<i64>,
    pub lower_bound: bool,
}
impl Table for Contribution {
    const ORDER: &'static str = "id";
}

/// An account. `password_hash` is in the document only with `--with-credentials`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    pub role: String,
    pub disabled_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub must_change_password: bool,
}
impl Table for Account {
    const ORDER: &'static str = "id";
}

/// A milestone of an item; `due_on` / `done_on` are the first days of their periods,
/// beside the precision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct MilestoneRow {
    pub id: i64,
    pub item_id: i64,
    pub title: String,
    pub due_on: NaiveDate,
    pub due_precision: String,
    pub status: String,
    pub done_on: Option<NaiveDate>,
    pub done_precision: Option<String>,
    pub source_para: Option<String>,
    pub note: Option<String>,
    pub seed_key: Option<String>,
    pub version: i32,
    pub archived_at: Option<DateTime<Utc>>,
}
impl Table for MilestoneRow {
    const ORDER: &'static str = "id";
}

/// A numeric target of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct TargetRow {
    pub id: i64,
    pub item_id: i64,
    pub measure: String,
    pub target_value: Decimal,
    pub period_on: Option<NaiveDate>,
    pub period_precision: Option<String>,
    pub source_para: Option<String>,
    pub note: Option<String>,
    pub seed_key: Option<String>,
    pub version: i32,
    pub archived_at: Option<DateTime<Utc>>,
}
impl Table for TargetRow {
    const ORDER: &'static str = "id";
}

/// What happened to a contribution, dated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct ContributionEventRow {
    pub id: i64,
    pub contribution_id: i64,
    pub kind: String,
    pub amount: Option<Decimal>,
    pub on_date: NaiveDate,
    pub on_precision: String,
    pub source: Option<String>,
    pub note: Option<String>,
    pub recorded_at: DateTime<Utc>,
}
impl Table for ContributionEventRow {
    const ORDER: &'static str = "id";
}

/// Progress recorded toward a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct TargetUpdate {
    pub id: i64,
    pub target_id: i64,
    pub value: Decimal,
    pub recorded_on: NaiveDate,
    pub note: Option<String>,
    pub actor_id: Option<i64>,
    pub actor_email: String,
    pub recorded_at: DateTime<Utc>,
    pub seed_key: Option<String>,
}
impl Table for TargetUpdate {
    const ORDER: &'static str = "id";
}

/// A spreadsheet import of contributions: who saved which file when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct ContributionImport {
    pub id: i64,
    pub imported_at: DateTime<Utc>,
    pub actor_id: Option<i64>,
    pub actor_email: String,
    pub file_name: String,
    pub row_count: i32,
}
impl Table for ContributionImport {
    const ORDER: &'static str = "id";
}

/// A personal API token. `token_hash` (the SHA-256 of the secret, as PostgreSQL's hex
/// text `\x…`) is in the document only with `--with-credentials`, as password hashes are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<String>,
    pub prefix: String,
    pub can_write: bool,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}
impl Table for ApiToken {
    const COLUMNS: &'static str = "id, user_id, name, token_hash::text AS token_hash, prefix, \
                                   can_write, expires_at, created_at, last_used_at, revoked_at";
    const ORDER: &'static str = "id";
}

/// An audit row. `before` and `after` are the stored JSON, character for character
/// (numbers keep their digits: no round trip through floating point).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<i64>,
    pub actor_email: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub item_id: Option<i64>,
    pub summary: String,
    pub before: Option<Box<RawValue>>,
    pub after: Option<Box<RawValue>>,
    pub api_token_id: Option<i64>,
}
impl Table for AuditEntry {
    const COLUMNS: &'static str = "id, at, actor_id, actor_email, action, entity, entity_id, \
                                   item_id, summary, before::text AS before, \
                                   after::text AS after, api_token_id";
    const ORDER: &'static str = "id";
}

impl<'r> FromRow<'r, PgRow> for AuditEntry {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(AuditEntry {
            id: row.try_get("id")?,
            at: row.try_get("at")?,
            actor_id: row.try_get("actor_id")?,
            actor_email: row.try_get("actor_email")?,
            action: row.try_get("action")?,
            entity: row.try_get("entity")?,
            entity_id: row.try_get("entity_id")?,
            item_id: row.try_get("item_id")?,
            summary: row.try_get("summary")?,
            before: raw_json(row.try_get("before")?)?,
            after: raw_json(row.try_get("after")?)?,
            api_token_id: row.try_get("api_token_id")?,
        })
    }
}

fn raw_json(text: Option<String>) -> sqlx::Result<Option<Box<RawValue>>> {
    text.map(RawValue::from_string)
        .transpose()
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// Failed sign-ins for addresses no account has, counted per day (the audit trail's
/// stand-in for them since migration 0010).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
#[serde(deny_unknown_fields)]
pub struct UnknownSignInFailures {
    pub day: NaiveDate,
    pub failures: i64,
}
impl Table for UnknownSignInFailures {
    const ORDER: &'static str = "day";
    const IDENTITY: bool = false;
}

/// Where a table's id sequence stood: the import sets it there, so an id once used (by
/// a row since deleted, which the audit trail still names) is never handed out again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    pub table: String,
    /// None when the sequence never handed out an id.
    pub last_value: Option<i64>,
}

async fn read<T: Table>(db: &mut PgConnection, table: &str) -> anyhow::Result<Vec<T>> {
    // Names and columns are this module's constants.
    let statement = format!("SELECT {} FROM {table} ORDER BY {}", T::COLUMNS, T::ORDER);
    sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(statement))
        .fetch_all(db)
        .await
        .with_context(|| format!("reading {table}"))
}

/// Loads the rows as they are, ids included: PostgreSQL turns the JSON back into rows of
/// the table's own type (`jsonb_populate_recordset`), so each value goes through the
/// column's input function and constraints exactly as a typed INSERT would.
async fn write<T: Table>(db: &mut PgConnection, table: &str, rows: &[T]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let json = serde_json::to_string(rows).with_context(|| format!("encoding {table}"))?;
    let statement = format!(
        "INSERT INTO {table} OVERRIDING SYSTEM VALUE \
         SELECT * FROM jsonb_populate_recordset(NULL::{table}, $1::jsonb)"
    );
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .bind(json)
        .execute(db)
        .await
        .with_context(|| format!("loading {table}"))?;
    Ok(())
}

/// Whether the export carries the accounts' password hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    Left,
    Included,
}

/// Reads every exported table in one snapshot (a repeatable-read, read-only transaction).
pub async fn export(pool: &PgPool, credentials: Credentials) -> anyhow::Result<Document> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut document = read_tables(&mut tx).await?;
    document.sequences = read_sequences(&mut tx).await?;
    tx.commit().await?;
    if credentials == Credentials::Left {
        for account in &mut document.users {
            account.password_hash = None;
        }
        for token in &mut document.api_tokens {
            token.token_hash = None;
        }
    }
    Ok(document)
}

async fn read_sequences(db: &mut PgConnection) -> anyhow::Result<Vec<Sequence>> {
    let mut out = Vec::new();
    for table in identity_tables() {
        // pg_sequences shows last_value to a role with USAGE, which the application has.
        let last_value: Option<i64> = sqlx::query_scalar(
            "SELECT s.last_value FROM pg_sequences s
              WHERE format('%I.%I', s.schemaname, s.sequencename)::regclass
                    = pg_get_serial_sequence($1, 'id')::regclass",
        )
        .bind(table)
        .fetch_optional(&mut *db)
        .await
        .with_context(|| format!("reading the id sequence of {table}"))?
        .flatten();
        out.push(Sequence {
            table: table.to_string(),
            last_value,
        });
    }
    Ok(out)
}

/// The document as written: pretty-printed JSON and a final newline.
pub fn to_bytes(document: &Document) -> anyhow::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(document).context("encoding the export")?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Reads a document, saying what is wrong with one this build cannot load: not JSON
/// (with the line and column), not an export of this application, another version, or
/// a table or field that does not fit version [`VERSION`].
pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Document> {
    /// Just the header, so that another format or version is named as such rather than
    /// as the first field that does not fit.
    #[derive(Deserialize)]
    struct Header {
        format: Option<String>,
        version: Option<serde_json::Value>,
    }
    let header: Header = serde_json::from_slice(bytes).context("the file is not valid JSON")?;
    if header.format.as_deref() != Some(FORMAT) {
        bail!("the file is not a Portfolio Tracker export (its \"format\" is not \"{FORMAT}\")");
    }
    match header.version {
        Some(v) if v == VERSION => {}
        Some(v) => bail!(
            "the file is an export of format version {v}; this build reads version {VERSION} \
             only"
        ),
        None => bail!("the file has no \"version\""),
    }
    serde_json::from_slice(bytes)
        .with_context(|| format!("the file does not fit export format version {VERSION}"))
}

/// What an import loaded, for the operator.
#[derive(Debug)]
pub struct Imported {
    pub counts: Vec<(&'static str, usize)>,
    /// Accounts that came without a password hash: they cannot sign in until an
    /// administrator sets a password.
    pub without_password: Vec<String>,
    /// API tokens that came without their hash: revoked, since no one holds their secret.
    pub tokens_revoked: usize,
}

impl std::fmt::Display for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(table, n)| format!("{table} {n}"))
            .collect();
        write!(f, "{}", counts.join(", "))?;
        if !self.without_password.is_empty() {
            write!(
                f,
                "\n{} account(s) came without a password (the export was made without \
                 --with-credentials): they cannot sign in until an administrator sets one, \
                 e.g. `portfolio-tracker user reset-password --email {}`",
                self.without_password.len(),
                self.without_password[0]
            )?;
        }
        if self.tokens_revoked > 0 {
            write!(
                f,
                "\n{} API token(s) came without their secret's hash and were revoked: their \
                 owners create new ones on their account page",
                self.tokens_revoked
            )?;
        }
        Ok(())
    }
}

/// One import at a time per database (two at once would each find it empty).
const IMPORT_LOCK: i64 = 0x0070_745f_696d_706f;

/// Loads `document` into the database of `pool`, which must hold nothing beyond what the
/// migrations insert. `pool` must be allowed to set sequences: the owner's. One
/// transaction: on any error nothing is changed.
pub async fn import(pool: &PgPool, mut document: Document) -> anyhow::Result<Imported> {
    let without_password = give_unusable_passwords(&mut document.users)?;
    let tokens_revoked = revoke_tokens_without_hash(&mut document.api_tokens)?;
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(IMPORT_LOCK)
        .execute(&mut *tx)
        .await?;
    let holding = tables_holding_rows(&mut tx).await?;
    if !holding.is_empty() {
        bail!(
            "the database already holds data (in {}); import loads only into an empty \
             database, one that `portfolio-tracker migrate` alone made. Nothing was changed",
            holding.join(", ")
        );
    }
    // The contributions' events come from the file: the trigger that opens a new
    // contribution with one event (migration 0015) stands aside for this transaction.
    sqlx::query("SET LOCAL portfolio.restoring = 'on'")
        .execute(&mut *tx)
        .await?;
    write_tables(&mut tx, &document).await?;
    set_sequences(&mut tx, &document.sequences).await?;
    tx.commit().await.context("committing the import")?;
    Ok(Imported {
        counts: counts(&document),
        without_password,
        tokens_revoked,
    })
}

/// The exported tables that hold a row.
async fn tables_holding_rows(db: &mut PgConnection) -> anyhow::Result<Vec<&'static str>> {
    let mut holding = Vec::new();
    for table in EXPORTED {
        let statement = format!("SELECT EXISTS (SELECT 1 FROM {table})");
        let any: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
            .fetch_one(&mut *db)
            .await
            .with_context(|| format!("looking into {table}"))?;
        if any {
            holding.push(*table);
        }
    }
    Ok(holding)
}

/// An account must have a password hash; one exported without gets the hash of a random
/// password nobody knows, so it exists (with its history) but cannot sign in until an
/// administrator sets a password. Says which accounts.
fn give_unusable_passwords(accounts: &mut [Account]) -> anyhow::Result<Vec<String>> {
    let mut without = Vec::new();
    for account in accounts.iter_mut().filter(|a| a.password_hash.is_none()) {
        let secret = crate::store::sessions::random_token()
            .map_err(|e| anyhow::anyhow!("no randomness for a password: {e}"))?;
        let hash = crate::domain::auth::hash_password(&secret)
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
        account.password_hash = Some(hash);
        without.push(account.email.clone());
    }
    Ok(without)
}

/// A token exported without its hash cannot be presented again: it gets the hash of a
/// random secret (the column may not be empty) and is revoked as of the import, so its
/// owner's page says so rather than listing a token that silently fails. Says how many.
fn revoke_tokens_without_hash(tokens: &mut [ApiToken]) -> anyhow::Result<usize> {
    let now = Utc::now();
    let mut revoked = 0;
    for token in tokens.iter_mut().filter(|t| t.token_hash.is_none()) {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        token.token_hash = Some(format!("\\x{hex}"));
        token.revoked_at.get_or_insert(now);
        revoked += 1;
    }
    Ok(revoked)
}

/// Each id sequence where the export found it, or past the highest id loaded if that is
/// further (a file edited by hand), so the next row never collides with a loaded one.
async fn set_sequences(db: &mut PgConnection, sequences: &[Sequence]) -> anyhow::Result<()> {
    if let Some(unknown) = sequences
        .iter()
        .find(|s| !identity_tables().contains(&s.table.as_str()))
    {
        bail!(
            "the file names a sequence of table {:?}, which has none",
            unknown.table
        );
    }
    for table in identity_tables() {
        let exported = sequences
            .iter()
            .find(|s| s.table == table)
            .and_then(|s| s.last_value);
        let statement = format!(
            "SELECT setval(pg_get_serial_sequence($1, 'id'),
                           greatest($2::bigint, (SELECT max(id) FROM {table})))"
        );
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(table)
            .bind(exported)
            .execute(&mut *db)
            .await
            .with_context(|| format!("setting the id sequence of {table}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(bytes: &str) -> String {
        format!(
            "{:#}",
            from_bytes(bytes.as_bytes()).expect_err("the document is refused")
        )
    }

    #[test]
    fn broken_json_is_named_with_its_line_and_column() {
        let said =
            message("{\"format\": \"portfolio-tracker\",\n \"version\": 1,\n \"themes\": [}");
        assert!(said.contains("not valid JSON"), "{said}");
        assert!(said.contains("line 3 column"), "{said}");
    }

    #[test]
    fn another_format_or_version_is_named_as_such() {
        let said = message(r#"{"format": "something-else", "version": 1}"#);
        assert!(said.contains("not a Portfolio Tracker export"), "{said}");
        let said = message(r#"{"format": "portfolio-tracker", "version": 1, "themes": 7}"#);
        assert!(
            said.contains("format version 1") && said.contains("reads version 3 only"),
            "{said}"
        );
        let said = message(r#"{"format": "portfolio-tracker"}"#);
        assert!(said.contains("no \"version\""), "{said}");
    }

    #[test]
    fn a_table_or_field_the_version_does_not_have_is_refused() {
        let empty = Document {
            format: FORMAT.into(),
            version: VERSION,
            themes: vec![],
            result_areas: vec![],
            organisations: vec![],
            places: vec![],
            items: vec![],
            item_places: vec![],
            item_organisations: vec![],
            alignments: vec![],
            exchange_rates: vec![],
            budgets: vec![],
            users: vec![],
            contribution_imports: vec![],
            contributions: vec![],
            contribution_events: vec![],
            milestones: vec![],
            targets: vec![],
            target_updates: vec![],
            api_tokens: vec![],
            audit_log: vec![],
            login_failures_unknown: vec![],
            sequences: vec![],
        };
        let bytes = to_bytes(&empty).expect("encode");
        assert!(from_bytes(&bytes).is_ok());
        let mut value: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        value["webhooks"] = serde_json::json!([]);
        let said = format!(
            "{:#}",
            from_bytes(&serde_json::to_vec(&value).expect("encode")).expect_err("refused")
        );
        assert!(
            said.contains("does not fit export format version 3") && said.contains("webhooks"),
            "{said}"
        );
    }

    #[test]
    fn money_keeps_its_scale_and_audit_json_its_digits() {
        let budget = Budget {
            id: 1,
            item_id: 1,
            amount: Decimal::new(1_250, 2),
            currency: "EUR".into(),
            approximate: false,
            period: None,
            as_of: NaiveDate::from_ymd_opt(2008, 2, 1).expect("a date"),
            source_para: None,
            note: None,
            seed_key: None,
            version: 1,
            archived_at: None,
            lower_bound: false,
        };
        let text = serde_json::to_string(&budget).expect("encode");
        assert!(text.contains(r#""amount":"12.50""#), "{text}");
        let back: Budget = serde_json::from_str(&text).expect("decode");
        assert_eq!(back.amount.to_string(), "12.50");

        let raw = raw_json(Some(
            r#"{"amount": 12.50, "n": 12345678901234567890}"#.into(),
        ))
        .expect("JSON")
        .expect("some");
        assert_eq!(raw.get(), r#"{"amount": 12.50, "n": 12345678901234567890}"#);
    }
}
