//! Projections on SQL Server (docs/SQLSERVER.md, "Queries at a million objects"): the same
//! catalogue and layouts as the embedded store (`dbo.Projections`, the layout JSON of
//! [`Layout`]), a table `dbo.Proj_<n>` per projected type named by its catalogue number
//! (never by the type's name), one row per object with, per declared property, `v<k>` (its
//! `PropertyValue`), `d<k>` (its `PropertyAsDouble`), for a Lookup `n<k>` (1 when the stored
//! value is not a Lookup), and for a property compared as text `p<k>`, the first
//! [`PREFIX`] characters of `v<k>` (an index key cannot be `nvarchar(max)`, as
//! `PropertyValuePrefix`).
//!
//! The EAV rows stay the store of record. Every write path refreshes the rows it changed
//! from them, in its own transaction ([`refresh`], [`after_save`], [`after_retype`]; a drop
//! cascades through the foreign key; an import rebuilds them whole, [`rebuild_all`]), and a
//! DSConfig change or `datastore reindex` empties a projection and [`build_batch`] rebuilds
//! it from them. Writes hold the catalogue lock shared ([`sql::PROJECTIONS_LOCK_SHARED`]),
//! the changes of the catalogue hold it exclusive: see there why that is enough.

use std::sync::Arc;

use super::exec::{self, now, Param};
use super::pool::{Client, Fail};
use super::sql;
use crate::dsconfig::Config;
use crate::model::ObjectId;
use crate::store::sqlite::projection::Layout;
use crate::store::{ProjectionStatus, PropertyWrite, StoreError};

/// Objects per rebuild transaction.
pub(crate) const BATCH: u32 = 1000;

/// Characters of a text value an index key holds (`p<k>`, as `PropertyValuePrefix`:
/// migration 0075), `LEFT`'s: UTF-16 units on SQL Server, code points on Babelfish, so at
/// most twice as many UTF-16 units, within [`PREFIX_COLUMN`] whatever the characters are.
/// (With 400 in `nvarchar(400)`, Babelfish refused a text of more than 400 characters with
/// an emoji among its first 400.) An equality seeks `LEFT(@P, PREFIX)` and tests the whole
/// value on the rows found.
pub(super) const PREFIX: usize = 200;

/// `p<k>`'s length (UTF-16 units).
const PREFIX_COLUMN: usize = 2 * PREFIX;

/// What an indexed prefix (`p<k>`, `PropertyValuePrefix`) holds of the bound text `v`: its
/// first [`PREFIX`] characters counted as the columns count them, under their binary
/// collation (a parameter has the database's, and under an `_SC` one SQL Server's `LEFT`
/// counts a surrogate pair as one character).
pub(super) fn prefix_of(v: &str) -> String {
    format!("LEFT({v} COLLATE Latin1_General_100_BIN2, {PREFIX})")
}

/// Longest text a pair's count keeps, in characters (`LEFT`'s: UTF-16 units on SQL Server,
/// code points on Babelfish), so at most twice as many UTF-16 units: within
/// `dbo.PairCounts`' `nvarchar(200)` (migration 0072: two of them stay within a clustered
/// key's 900 bytes) whatever the characters are. (Babelfish refuses a `CAST` to
/// `nvarchar(200)` of 200 characters that need more than 200 UTF-16 units, error 33557097,
/// where SQL Server truncates.) A literal of at most this many UTF-16 units is kept on both.
pub(super) const PAIR_TEXT: usize = 100;

/// `dbo.PairCounts.TextA` and `TextB`'s length (UTF-16 units).
const PAIR_COLUMN: usize = 2 * PAIR_TEXT;

/// A projection as the catalogue describes it.
#[derive(Debug, Clone)]
pub(crate) struct Projection {
    pub table: i64,
    pub layout: Arc<Layout>,
}

fn parse_layout(text: &str) -> Result<Arc<Layout>, Fail> {
    serde_json::from_str(text)
        .map(Arc::new)
        .map_err(|e| Fail::Store(StoreError::Database(format!("a projection's layout: {e}"))))
}

fn layout_text(layout: &Layout) -> Result<String, Fail> {
    serde_json::to_string(layout).map_err(|e| Fail::Store(StoreError::Database(e.to_string())))
}

/// The table and its indexes. Text keys are `p<k>`; a one-column index on a number is
/// filtered to the objects that have it (`WHERE d<k> IS NOT NULL`): every comparison implies
/// that, and objects without the property cost nothing in it.
pub(crate) fn create_table(table: i64, layout: &Layout) -> Vec<String> {
    let mut columns = String::new();
    for c in &layout.columns {
        let k = c.no;
        columns.push_str(&format!(
            ", v{k} nvarchar(max) COLLATE Latin1_General_100_BIN2 NULL, d{k} float NULL"
        ));
        if c.lookup {
            columns.push_str(&format!(", n{k} int NULL"));
        }
        if !c.by_value {
            columns.push_str(&format!(
                ", p{k} AS CAST(LEFT(v{k}, {PREFIX}) AS nvarchar({PREFIX_COLUMN})) PERSISTED"
            ));
        }
    }
    let mut out = vec![format!(
        "CREATE TABLE dbo.Proj_{table} (ObjectId bigint NOT NULL \
         CONSTRAINT PK_Proj_{table} PRIMARY KEY CLUSTERED \
         CONSTRAINT FK_Proj_{table}_Objects REFERENCES dbo.Objects (ObjectId) ON DELETE CASCADE\
         {columns})"
    )];
    for (i, index) in layout.indexes.iter().enumerate() {
        // A text column's own index beside a longer one leading with it (the embedded
        // store's case-insensitive sort order, see `Layout::exact`): here every text key is
        // binary (`p<k>`), so the longer index serves what this one would.
        let served = matches!(index.as_slice(), [k] if layout
            .columns
            .iter()
            .any(|c| c.no == *k && !c.by_value)
            && layout.indexes.iter().any(|ix| ix.len() > 1 && ix[0] == *k));
        if served {
            continue;
        }
        let cols: Vec<_> = index
            .iter()
            .filter_map(|no| layout.columns.iter().find(|c| c.no == *no))
            .collect();
        let keys: Vec<String> = cols
            .iter()
            .map(|c| {
                if c.by_value {
                    format!("d{}", c.no)
                } else {
                    format!("p{}", c.no)
                }
            })
            .collect();
        let filter = match cols.as_slice() {
            [c] if c.by_value => format!(" WHERE d{} IS NOT NULL", c.no),
            _ => String::new(),
        };
        out.push(format!(
            "CREATE INDEX IX_Proj_{table}_{i} ON dbo.Proj_{table} ({}){filter}",
            keys.join(", ")
        ));
    }
    out
}

/// The table and its Lookup, value and pair counts.
pub(crate) fn drop_table(table: i64) -> String {
    format!(
        "IF OBJECT_ID(N'dbo.Proj_{table}', N'U') IS NOT NULL DROP TABLE dbo.Proj_{table}; \
         DELETE FROM dbo.LookupCounts WHERE TableNo = {table}; \
         DELETE FROM dbo.ValueCounts WHERE TableNo = {table}; \
         DELETE FROM dbo.PairCounts WHERE TableNo = {table}"
    )
}

/// Stripes of each value's count (`dbo.ValueCounts.Stripe`, `ObjectId % STRIPES`).
pub(crate) const STRIPES: i64 = 16;

/// Which counts a change of rows moves.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Counts {
    /// All of them: Lookup counts, the total, every counted column.
    All,
    /// None (they are taken anew after).
    None,
    /// A save: the Lookup counts when `lookups`, the counted columns `values`, the
    /// counted pairs `pairs`; all of them when the object had no row (a projection being
    /// rebuilt).
    Written {
        lookups: bool,
        values: Vec<usize>,
        pairs: Vec<[usize; 2]>,
    },
}

/// One column's value as a pair's count keeps it: (number, text, the row has it, its
/// GROUP BY keys).
fn pair_value(layout: &Layout, k: usize) -> Option<(String, String, String, String)> {
    let c = layout.columns.iter().find(|c| c.no == k)?;
    Some(if c.by_value {
        (
            format!("r.d{k}"),
            "N''".to_owned(),
            format!("r.d{k} IS NOT NULL"),
            format!("r.d{k}, "),
        )
    } else {
        let text = format!("CAST(LEFT(r.v{k}, {PAIR_TEXT}) AS nvarchar({PAIR_COLUMN}))");
        (
            format!("CAST(DATALENGTH(r.v{k}) AS float)"),
            text.clone(),
            // The whole text is in its first `PAIR_TEXT` characters (as `value_grouped`
            // tests its prefix: DATALENGTH counts UTF-16 bytes on SQL Server, UTF-8 ones on
            // Babelfish, the same text's the same on each).
            format!("r.v{k} IS NOT NULL AND DATALENGTH(r.v{k}) = DATALENGTH({text})"),
            format!("DATALENGTH(r.v{k}), {text}, "),
        )
    })
}

/// The rows of `dbo.Proj_<table>` that `rows` selects, counted per stripe and pair of
/// values of the pairs `pairs` as `dbo.PairCounts` keeps them; `None` without a pair.
fn pair_grouped(table: i64, layout: &Layout, pairs: &[[usize; 2]], rows: &str) -> Option<String> {
    pair_parts(table, layout, pairs, rows).map(|parts| parts.join(" UNION ALL "))
}

/// [`pair_grouped`], one query per pair.
fn pair_parts(
    table: i64,
    layout: &Layout,
    pairs: &[[usize; 2]],
    rows: &str,
) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    for &[a, b] in pairs {
        let (na, ta, pa, ga) = pair_value(layout, a)?;
        let (nb, tb, pb, gb) = pair_value(layout, b)?;
        parts.push(format!(
            "SELECT {a} AS ColumnA, {b} AS ColumnB, {na} AS NumberA, {ta} AS TextA, \
             {nb} AS NumberB, {tb} AS TextB, CAST(r.ObjectId % {STRIPES} AS int) AS Stripe, \
             COUNT_BIG(*) AS Total FROM dbo.Proj_{table} AS r WHERE {rows} AND {pa} AND {pb} \
             GROUP BY {ga}{gb}r.ObjectId % {STRIPES}"
        ));
    }
    (!parts.is_empty()).then_some(parts)
}

/// `dbo.PairCounts`: its key after `TableNo`, as [`pair_parts`] names its columns.
const PAIR_COUNTS: Counted = Counted {
    table: "dbo.PairCounts",
    key: &[
        "ColumnA", "ColumnB", "NumberA", "TextA", "NumberB", "TextB", "Stripe",
    ],
};

/// The pairs of the rows `rows` selects counted out of `dbo.PairCounts` (before they are
/// deleted); empty without a pair. One statement per pair (see [`value_out`]).
fn pair_out(table: i64, layout: &Layout, pairs: &[[usize; 2]], rows: &str) -> String {
    PAIR_COUNTS.moved_out(table, pair_parts(table, layout, pairs, rows))
}

/// The pairs of the rows `rows` selects counted into `dbo.PairCounts` (after they are
/// written), as [`value_in`] does; empty without a pair.
fn pair_in(table: i64, layout: &Layout, pairs: &[[usize; 2]], rows: &str) -> String {
    PAIR_COUNTS.moved_in(table, pair_parts(table, layout, pairs, rows))
}

/// The rows of `dbo.Proj_<table>` that `rows` (a condition on `r.ObjectId`) selects,
/// counted per stripe and value of the columns `columns` (0: the total) as `dbo.ValueCounts`
/// keeps them: `ColumnNo`, `Number`, `Text`, `Stripe`, `Total`; `None` without a column.
fn value_grouped(table: i64, layout: &Layout, columns: &[usize], rows: &str) -> Option<String> {
    value_parts(table, layout, columns, rows).map(|parts| parts.join(" UNION ALL "))
}

/// [`value_grouped`], one query per column.
fn value_parts(table: i64, layout: &Layout, columns: &[usize], rows: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    for &k in columns {
        // (SQL Server groups by no constant: the total's and a number's `Text` is not a key.)
        let (number, text, present, keys) = if k == 0 {
            (
                "CAST(0 AS float)".to_owned(),
                "N''".to_owned(),
                "1 = 1".to_owned(),
                String::new(),
            )
        } else {
            let c = layout.columns.iter().find(|c| c.no == k)?;
            if c.by_value {
                (
                    format!("r.d{k}"),
                    "N''".to_owned(),
                    format!("r.d{k} IS NOT NULL"),
                    format!("r.d{k}, "),
                )
            } else {
                (
                    format!("CAST(DATALENGTH(r.v{k}) AS float)"),
                    format!("r.p{k}"),
                    format!("r.v{k} IS NOT NULL AND DATALENGTH(r.v{k}) = DATALENGTH(r.p{k})"),
                    format!("DATALENGTH(r.v{k}), r.p{k}, "),
                )
            }
        };
        parts.push(format!(
            "SELECT {k} AS ColumnNo, {number} AS Number, {text} AS Text, \
             CAST(r.ObjectId % {STRIPES} AS int) AS Stripe, COUNT_BIG(*) AS Total \
             FROM dbo.Proj_{table} AS r WHERE {rows} AND {present} \
             GROUP BY {keys}r.ObjectId % {STRIPES}"
        ));
    }
    (!parts.is_empty()).then_some(parts)
}

/// A count table the write batches move (`dbo.ValueCounts`, `dbo.PairCounts`): its name
/// and its key after `TableNo`, the columns of the grouped rows `x` it counts.
struct Counted {
    table: &'static str,
    key: &'static [&'static str],
}

impl Counted {
    /// A row `c` of the table is the grouped row `x`.
    fn key(&self, table: i64) -> String {
        let mut key = format!("c.TableNo = {table}");
        for column in self.key {
            key.push_str(&format!(" AND c.{column} = x.{column}"));
        }
        key
    }

    /// Each grouped query of `parts` counted out of the table: one statement per query.
    ///
    /// Never one joining a `UNION ALL` of them: on Babelfish (PostgreSQL's READ COMMITTED),
    /// an `UPDATE` that waited for a concurrent writer's update of a count row re-checks
    /// the row's join (EvalPlanQual), and over a `UNION ALL` that re-check lost rows of the
    /// branches after the first, so a count was left unmoved (8 writers of disjoint objects
    /// left counts off by several; one branch per statement stays exact, as `count_out`'s
    /// per Lookup column always did). On SQL Server the statements hold the same locks as
    /// the one did.
    fn moved_out(&self, table: i64, parts: Option<Vec<String>>) -> String {
        let (name, key) = (self.table, self.key(table));
        parts
            .unwrap_or_default()
            .iter()
            .map(|x| {
                format!(
                    "UPDATE c SET Total = c.Total - x.Total FROM {name} AS c JOIN ({x}) AS x \
                     ON {key}; "
                )
            })
            .collect()
    }

    /// Each grouped query of `parts` counted into the table: missing count rows made first,
    /// as [`count_in`] does, then each moved by its number.
    fn moved_in(&self, table: i64, parts: Option<Vec<String>>) -> String {
        let (name, key) = (self.table, self.key(table));
        let columns = self.key.join(", ");
        let values: Vec<String> = self.key.iter().map(|c| format!("x.{c}")).collect();
        let values = values.join(", ");
        parts
            .unwrap_or_default()
            .iter()
            .map(|x| {
                format!(
                    "INSERT INTO {name} (TableNo, {columns}, Total) SELECT {table}, {values}, 0 \
                     FROM ({x}) AS x WHERE NOT EXISTS (SELECT 1 FROM {name} AS c WITH (UPDLOCK, \
                     HOLDLOCK) WHERE {key}); \
                     UPDATE c SET Total = c.Total + x.Total FROM {name} AS c JOIN ({x}) AS x \
                     ON {key}; "
                )
            })
            .collect()
    }
}

/// `dbo.ValueCounts`: its key after `TableNo`, as [`value_parts`] names its columns.
const VALUE_COUNTS: Counted = Counted {
    table: "dbo.ValueCounts",
    key: &["ColumnNo", "Number", "Text", "Stripe"],
};

/// The values of the rows `rows` selects counted out of `dbo.ValueCounts` (before they are
/// deleted), for columns `columns` (0: the total); empty without one. One statement per
/// column ([`Counted::moved_out`]).
fn value_out(table: i64, layout: &Layout, columns: &[usize], rows: &str) -> String {
    VALUE_COUNTS.moved_out(table, value_parts(table, layout, columns, rows))
}

/// The values of the rows `rows` selects counted into `dbo.ValueCounts` (after they are
/// written), for columns `columns`; empty without a column ([`Counted::moved_in`]).
fn value_in(table: i64, layout: &Layout, columns: &[usize], rows: &str) -> String {
    VALUE_COUNTS.moved_in(table, value_parts(table, layout, columns, rows))
}

/// The total and every counted column (value counts' column numbers).
fn all_values(layout: &Layout) -> Vec<usize> {
    std::iter::once(0)
        .chain(layout.counted().map(|c| c.no))
        .collect()
}

/// The value and pair counts of table `table` taken anew from its rows (a table an earlier
/// version made, or whose counted columns changed), and the catalogue told so.
pub(crate) fn recount_values_sql(table: i64, layout: &Layout) -> String {
    let mut sql = format!("DELETE FROM dbo.ValueCounts WHERE TableNo = {table}; ");
    if let Some(x) = value_grouped(table, layout, &all_values(layout), "1 = 1") {
        sql.push_str(&format!(
            "INSERT INTO dbo.ValueCounts (TableNo, ColumnNo, Number, Text, Stripe, Total) \
             SELECT {table}, x.ColumnNo, x.Number, x.Text, x.Stripe, x.Total FROM ({x}) AS x; "
        ));
    }
    sql.push_str(&format!(
        "DELETE FROM dbo.PairCounts WHERE TableNo = {table}; "
    ));
    if let Some(x) = pair_grouped(table, layout, &layout.pairs, "1 = 1") {
        sql.push_str(&format!(
            "INSERT INTO dbo.PairCounts (TableNo, ColumnA, ColumnB, NumberA, TextA, NumberB, \
             TextB, Stripe, Total) SELECT {table}, x.ColumnA, x.ColumnB, x.NumberA, x.TextA, \
             x.NumberB, x.TextB, x.Stripe, x.Total FROM ({x}) AS x; "
        ));
    }
    sql.push_str(&format!(
        "UPDATE dbo.Projections SET ValueCounted = 1 WHERE TableNo = {table}"
    ));
    sql
}

/// The rows of `dbo.Proj_<table>` that `rows` (a condition on `r.ObjectId`) selects,
/// counted per value of Lookup column `k`: `TargetId`, `NotLookup`, `Total`.
fn grouped(table: i64, k: usize, rows: &str) -> String {
    format!(
        "SELECT r.d{k} AS TargetId, CASE WHEN r.n{k} IS NULL THEN 0 ELSE 1 END AS NotLookup, \
         COUNT_BIG(*) AS Total FROM dbo.Proj_{table} AS r WHERE {rows} AND r.d{k} IS NOT NULL \
         GROUP BY r.d{k}, CASE WHEN r.n{k} IS NULL THEN 0 ELSE 1 END"
    )
}

/// The Lookup values of the rows `rows` selects counted out of `dbo.LookupCounts` (before
/// they are deleted); empty without a Lookup column. (No table variable: on Babelfish one
/// made the foreign-key checks of the session's later statements fail.)
fn count_out(table: i64, layout: &Layout, rows: &str) -> String {
    let mut sql = String::new();
    for c in layout.columns.iter().filter(|c| c.lookup) {
        let k = c.no;
        sql.push_str(&format!(
            "UPDATE c SET Total = c.Total - x.Total FROM dbo.LookupCounts AS c JOIN ({}) AS x \
             ON c.TableNo = {table} AND c.ColumnNo = {k} AND c.TargetId = x.TargetId \
             AND c.NotLookup = x.NotLookup; ",
            grouped(table, k, rows)
        ));
    }
    sql
}

/// The Lookup values of the rows `rows` selects counted into `dbo.LookupCounts` (after they
/// are written): missing count rows made first (under a key-range lock, so two writers of
/// a new target queue up), then each one moved by its number; empty without a Lookup.
fn count_in(table: i64, layout: &Layout, rows: &str) -> String {
    let mut sql = String::new();
    for c in layout.columns.iter().filter(|c| c.lookup) {
        let k = c.no;
        let x = grouped(table, k, rows);
        sql.push_str(&format!(
            "INSERT INTO dbo.LookupCounts (TableNo, ColumnNo, TargetId, NotLookup, Total) \
             SELECT {table}, {k}, x.TargetId, x.NotLookup, 0 FROM ({x}) AS x \
             WHERE NOT EXISTS (SELECT 1 FROM dbo.LookupCounts AS c WITH (UPDLOCK, HOLDLOCK) \
             WHERE c.TableNo = {table} AND c.ColumnNo = {k} AND c.TargetId = x.TargetId \
             AND c.NotLookup = x.NotLookup); \
             UPDATE c SET Total = c.Total + x.Total FROM dbo.LookupCounts AS c JOIN ({x}) AS x \
             ON c.TableNo = {table} AND c.ColumnNo = {k} AND c.TargetId = x.TargetId \
             AND c.NotLookup = x.NotLookup; "
        ));
    }
    sql
}

/// Object `@P1`'s row, its Lookup, value and pair counts taken back.
pub(crate) fn delete_row(table: i64, layout: &Layout) -> String {
    format!(
        "{}{}{}DELETE FROM dbo.Proj_{table} WHERE ObjectId = @P1",
        count_out(table, layout, "r.ObjectId = @P1"),
        value_out(table, layout, &all_values(layout), "r.ObjectId = @P1"),
        pair_out(table, layout, &layout.pairs, "r.ObjectId = @P1")
    )
}

/// Every row and its counts (`datastore reindex`).
pub(crate) fn empty_table(table: i64) -> String {
    format!(
        "DELETE FROM dbo.Proj_{table}; DELETE FROM dbo.LookupCounts WHERE TableNo = {table}; \
         DELETE FROM dbo.ValueCounts WHERE TableNo = {table}; \
         DELETE FROM dbo.PairCounts WHERE TableNo = {table}"
    )
}

/// The Lookup counts of table `table` taken anew from its rows (a table an earlier version
/// made), and the catalogue told so.
pub(crate) fn recount_sql(table: i64, layout: &Layout) -> String {
    let mut sql = format!("DELETE FROM dbo.LookupCounts WHERE TableNo = {table}; ");
    for c in layout.columns.iter().filter(|c| c.lookup) {
        let k = c.no;
        sql.push_str(&format!(
            "INSERT INTO dbo.LookupCounts (TableNo, ColumnNo, TargetId, NotLookup, Total) \
             SELECT {table}, {k}, d{k}, CASE WHEN n{k} IS NULL THEN 0 ELSE 1 END, COUNT_BIG(*) \
             FROM dbo.Proj_{table} WHERE d{k} IS NOT NULL \
             GROUP BY d{k}, CASE WHEN n{k} IS NULL THEN 0 ELSE 1 END; "
        ));
    }
    sql.push_str(&format!(
        "UPDATE dbo.Projections SET Counted = 1 WHERE TableNo = {table}"
    ));
    sql
}

/// The rows of the objects of type `@P1` with ids in `(@P2, @P3]` made anew from their EAV
/// rows; the property names are `@P4...` in column order. With `lock`, those objects are
/// locked first (a write that changes nothing, which every TDS engine honours), so a
/// concurrent save of one of them either committed before (and is read) or waits.
pub(crate) fn rebuild_sql(table: i64, layout: &Layout, lock: bool, counts: &Counts) -> String {
    let mut names = Vec::new();
    let mut values = Vec::new();
    for (i, c) in layout.columns.iter().enumerate() {
        let k = c.no;
        let name = format!("@P{}", i + 4);
        names.push(format!("v{k}, d{k}"));
        values.push(format!(
            "MAX(CASE WHEN p.PropertyName = {name} THEN p.PropertyValue END), \
             MAX(CASE WHEN p.PropertyName = {name} THEN p.PropertyAsDouble END)"
        ));
        if c.lookup {
            names.push(format!("n{k}"));
            values.push(format!(
                "MAX(CASE WHEN p.PropertyName = {name} AND p.PropertyType <> N'Lookup' THEN 1 END)"
            ));
        }
    }
    let lock = if lock {
        "UPDATE dbo.Objects SET UpdatedAt = UpdatedAt \
         WHERE ObjectType = @P1 AND ObjectId > @P2 AND ObjectId <= @P3; "
    } else {
        ""
    };
    // The counts follow the rows. `Counts::All`: the old rows' values out, the new ones'
    // in. `Counts::Written` (a save): only the Lookup counts and counted columns it writes
    // (an existing row keeps the others, so their counts and their row locks are left
    // alone); a row that was not there (a projection being rebuilt has none yet for the
    // objects past its batches) is counted in whole. `Counts::None`: left alone.
    let range = "r.ObjectId > @P2 AND r.ObjectId <= @P3";
    let every = all_values(layout);
    // (Lookup counts, value counts' columns, pairs.)
    type Moved = (bool, Vec<usize>, Vec<[usize; 2]>);
    let nothing: Moved = (false, Vec::new(), Vec::new());
    let (moved, rest): (Moved, Moved) = match counts {
        Counts::All => ((true, every, layout.pairs.clone()), nothing),
        Counts::None => (nothing.clone(), nothing),
        Counts::Written {
            lookups,
            values,
            pairs,
        } => {
            let values: Vec<usize> = every
                .iter()
                .copied()
                .filter(|k| values.contains(k))
                .collect();
            let others = every.into_iter().filter(|k| !values.contains(k)).collect();
            let (pairs, other_pairs): (Vec<[usize; 2]>, Vec<[usize; 2]>) =
                layout.pairs.iter().partition(|p| pairs.contains(p));
            ((*lookups, values, pairs), (!*lookups, others, other_pairs))
        }
    };
    let out_of = |(lookups, values, pairs): &Moved| {
        let mut sql = if *lookups {
            count_out(table, layout, range)
        } else {
            String::new()
        };
        sql.push_str(&value_out(table, layout, values, range));
        sql.push_str(&pair_out(table, layout, pairs, range));
        sql
    };
    let into = |(lookups, values, pairs): &Moved| {
        let mut sql = if *lookups {
            count_in(table, layout, range)
        } else {
            String::new()
        };
        sql.push_str(&value_in(table, layout, values, range));
        sql.push_str(&pair_in(table, layout, pairs, range));
        sql
    };
    let (out, moved_in, rest_in) = (out_of(&moved), into(&moved), into(&rest));
    let before = if rest_in.is_empty() {
        out
    } else {
        format!(
            "DECLARE @had bigint = (SELECT COUNT_BIG(*) FROM dbo.Proj_{table} \
             WHERE ObjectId > @P2 AND ObjectId <= @P3); {out}"
        )
    };
    let mut after = String::new();
    if !moved_in.is_empty() {
        after.push_str(&format!("; {moved_in}"));
    }
    if !rest_in.is_empty() {
        after.push_str(&format!("; IF @had = 0 BEGIN {rest_in}END"));
    }
    format!(
        "{lock}{before}DELETE FROM dbo.Proj_{table} WHERE ObjectId > @P2 AND ObjectId <= @P3; \
         INSERT INTO dbo.Proj_{table} (ObjectId, {}) SELECT o.ObjectId, {} \
         FROM dbo.Objects AS o LEFT JOIN dbo.Properties AS p ON p.OwnerObjectId = o.ObjectId \
         WHERE o.ObjectType = @P1 AND o.ObjectId > @P2 AND o.ObjectId <= @P3 \
         GROUP BY o.ObjectId{after}",
        names.join(", "),
        values.join(", ")
    )
}

async fn rebuild(
    c: &mut Client,
    p: &Projection,
    object_type: &str,
    after: ObjectId,
    upto: ObjectId,
    lock: bool,
    counts: &Counts,
) -> Result<(), Fail> {
    let mut params = params![object_type, after, upto];
    params.extend(p.layout.columns.iter().map(|c| Param::Text(c.name.clone())));
    exec::execute(c, &rebuild_sql(p.table, &p.layout, lock, counts), params).await?;
    Ok(())
}

/// The projection of `object_type`, if it has one (complete or not: a write keeps both), with the catalogue
/// lock taken shared for the rest of the transaction.
pub(crate) async fn of_type(c: &mut Client, object_type: &str) -> Result<Option<Projection>, Fail> {
    exec::execute(c, sql::PROJECTIONS_LOCK_SHARED, Vec::new()).await?;
    let Some(row) = exec::row(c, sql::PROJECTION_OF_TYPE, params![object_type]).await? else {
        return Ok(None);
    };
    Ok(Some(Projection {
        table: i64::from(exec::req::<i32>(&row, 0)?),
        layout: parse_layout(exec::req::<&str>(&row, 1)?)?,
    }))
}

/// The projection of `object_type` when it is complete, read in the caller's (snapshot)
/// transaction: then its rows are what the EAV rows of that snapshot say.
pub(crate) async fn complete(
    c: &mut Client,
    object_type: &str,
) -> Result<Option<(i64, Arc<Layout>)>, Fail> {
    Ok(complete_counted(c, object_type).await?.map(|(p, _)| p))
}

/// [`complete`], and whether `dbo.LookupCounts` holds its Lookup counts.
pub(crate) async fn complete_counted(
    c: &mut Client,
    object_type: &str,
) -> Result<Option<((i64, Arc<Layout>), bool)>, Fail> {
    let Some(row) = exec::row(c, sql::COMPLETE_PROJECTION_OF_TYPE, params![object_type]).await?
    else {
        return Ok(None);
    };
    Ok(Some((
        (
            i64::from(exec::req::<i32>(&row, 0)?),
            parse_layout(exec::req::<&str>(&row, 1)?)?,
        ),
        exec::req::<i32>(&row, 2)? == 1,
    )))
}

/// After object `id` of `object_type` was created or written: its row made anew from its
/// EAV rows (the object is locked by its write).
pub(crate) async fn refresh(c: &mut Client, id: ObjectId, object_type: &str) -> Result<(), Fail> {
    if let Some(p) = of_type(c, object_type).await? {
        rebuild(c, &p, object_type, id - 1, id, false, &Counts::All).await?;
    }
    Ok(())
}

/// After `writes` to object `id` of `object_type`: its row, when they name a projected
/// property (other writes leave the projection and its indexes alone).
pub(crate) async fn after_save(
    c: &mut Client,
    id: ObjectId,
    object_type: &str,
    writes: &[PropertyWrite],
) -> Result<(), Fail> {
    let Some(p) = of_type(c, object_type).await? else {
        return Ok(());
    };
    let written = |lookup: bool| {
        writes.iter().any(|w| {
            p.layout
                .column(&w.name)
                .is_some_and(|c| !lookup || c.lookup)
        })
    };
    if written(false) {
        // Its Lookup counts only when a Lookup is written, its value counts only those of
        // the counted columns written (never the total: the row stays).
        let named =
            |c: &crate::store::sqlite::projection::Column| writes.iter().any(|w| w.name == c.name);
        let values = p
            .layout
            .counted()
            .filter(|c| named(c))
            .map(|c| c.no)
            .collect();
        // A pair moves when either of its columns is written.
        let pairs = p
            .layout
            .counted_pairs()
            .filter(|(a, b)| named(a) || named(b))
            .map(|(a, b)| [a.no, b.no])
            .collect();
        let counts = Counts::Written {
            lookups: written(true),
            values,
            pairs,
        };
        rebuild(c, &p, object_type, id - 1, id, false, &counts).await?;
    }
    Ok(())
}

/// After object `id` changed type from `old` to `new` (its `Objects` row already says
/// `new`): its row moves from one projection to the other.
pub(crate) async fn after_retype(
    c: &mut Client,
    id: ObjectId,
    old: &str,
    new: &str,
) -> Result<(), Fail> {
    if old == new {
        return Ok(());
    }
    if let Some(p) = of_type(c, old).await? {
        exec::execute(c, &delete_row(p.table, &p.layout), params![id]).await?;
    }
    refresh(c, id, new).await
}

/// Before object `id` of `object_type` is dropped: its row goes, with its Lookup and value
/// counts (the drop's cascade would take the row without them).
pub(crate) async fn before_drop(
    c: &mut Client,
    id: ObjectId,
    object_type: &str,
) -> Result<(), Fail> {
    if let Some(p) = of_type(c, object_type).await? {
        // (Its total is counted: the row goes here, with its counts.)
        exec::execute(c, &delete_row(p.table, &p.layout), params![id]).await?;
    }
    Ok(())
}

async fn catalogue(c: &mut Client) -> Result<Vec<(i64, String, String)>, Fail> {
    Ok(catalogue_counted(c)
        .await?
        .into_iter()
        .map(|(table, object_type, layout, _, _)| (table, object_type, layout))
        .collect())
}

/// The catalogue, with whether each projection's Lookup counts and value counts are kept.
async fn catalogue_counted(c: &mut Client) -> Result<Vec<(i64, String, String, bool, bool)>, Fail> {
    exec::rows(c, sql::PROJECTIONS, Vec::new())
        .await?
        .iter()
        .map(|r| {
            Ok((
                i64::from(exec::req::<i32>(r, 0)?),
                exec::req::<&str>(r, 1)?.to_owned(),
                exec::req::<&str>(r, 2)?.to_owned(),
                exec::req::<i32>(r, 3)? == 1,
                exec::req::<i32>(r, 4)? == 1,
            ))
        })
        .collect()
}

/// `old` and `new` describe the same rows and indexes (only the counted columns differ).
fn same_rows(old: &str, new: &Layout) -> bool {
    serde_json::from_str::<Layout>(old)
        .is_ok_and(|old| old.columns == new.columns && old.indexes == new.indexes)
}

/// Makes the catalogue follow `config`, with the catalogue lock exclusive: a type whose
/// layout changed gets its table made anew (empty, to be rebuilt); a type no longer
/// declared loses its table. A new projection of a type without objects is complete at
/// once.
pub(crate) async fn sync_layouts(c: &mut Client, config: &Config) -> Result<(), Fail> {
    let mut uncounted = Vec::new();
    let mut values_uncounted = Vec::new();
    exec::execute(c, sql::PROJECTIONS_LOCK_EXCLUSIVE, Vec::new()).await?;
    let existing = catalogue_counted(c).await?;
    let existing: Vec<(i64, String, String)> = existing
        .into_iter()
        .map(|(table, object_type, layout, counted, value_counted)| {
            // A table an earlier version made: its counts before anything else.
            if !counted {
                uncounted.push(table);
            }
            if !value_counted {
                values_uncounted.push(table);
            }
            (table, object_type, layout)
        })
        .collect();
    for (table, object_type, _) in &existing {
        if config.types.get(object_type).and_then(Layout::of).is_none() {
            exec::execute(c, &drop_table(*table), Vec::new()).await?;
            exec::execute(c, sql::DELETE_PROJECTION, params![*table]).await?;
        }
    }
    for (object_type, ty) in &config.types {
        let Some(layout) = Layout::of(ty) else {
            continue;
        };
        let text = layout_text(&layout)?;
        let found = existing.iter().find(|(_, t, _)| t == object_type);
        if let Some((table, _, _)) = found.filter(|(_, _, old)| *old == text) {
            if uncounted.contains(table) {
                exec::execute(c, &recount_sql(*table, &layout), Vec::new()).await?;
                tracing::info!(object_type, table, "lookup counts taken");
            }
            if values_uncounted.contains(table) {
                exec::execute(c, &recount_values_sql(*table, &layout), Vec::new()).await?;
                tracing::info!(object_type, table, "value counts taken");
            }
            continue;
        }
        if let Some((table, _, _)) = found.filter(|(_, _, old)| same_rows(old, &layout)) {
            // Only the counted columns changed (a layout an earlier version wrote has
            // none): the rows stay, the value counts are taken anew.
            exec::execute(c, sql::SET_PROJECTION_LAYOUT, params![*table, text]).await?;
            if uncounted.contains(table) {
                exec::execute(c, &recount_sql(*table, &layout), Vec::new()).await?;
            }
            exec::execute(c, &recount_values_sql(*table, &layout), Vec::new()).await?;
            tracing::info!(object_type, table, "value counts follow the DSConfig");
            continue;
        }
        let table = match found {
            Some((table, _, _)) => {
                exec::execute(c, &drop_table(*table), Vec::new()).await?;
                exec::execute(c, sql::RELAYOUT_PROJECTION, params![*table, text]).await?;
                *table
            }
            None => {
                let row = exec::row(
                    c,
                    sql::INSERT_PROJECTION,
                    params![object_type.as_str(), text],
                )
                .await?
                .ok_or_else(|| {
                    Fail::Store(StoreError::Database("INSERT returned no number".into()))
                })?;
                i64::from(exec::req::<i32>(&row, 0)?)
            }
        };
        for statement in create_table(table, &layout) {
            exec::execute(c, &statement, Vec::new()).await?;
        }
        // Empty: its counts are kept from here.
        exec::execute(c, &recount_sql(table, &layout), Vec::new()).await?;
        exec::execute(c, &recount_values_sql(table, &layout), Vec::new()).await?;
        let any = exec::row(c, sql::TYPE_HAS_OBJECTS, params![object_type.as_str()])
            .await?
            .map(|r| exec::req::<i32>(&r, 0))
            .transpose()?
            == Some(1);
        if !any {
            exec::execute(c, sql::PROJECTION_COMPLETE, params![table, now()]).await?;
        }
        tracing::info!(
            object_type,
            table,
            "projection laid out; it is rebuilt from the objects"
        );
    }
    Ok(())
}

/// Every projection rebuilt whole from the EAV rows and complete (an import wrote those
/// directly).
pub(crate) async fn rebuild_all(c: &mut Client) -> Result<(), Fail> {
    exec::execute(c, sql::PROJECTIONS_LOCK_EXCLUSIVE, Vec::new()).await?;
    for (table, object_type, layout) in catalogue(c).await? {
        let p = Projection {
            table,
            layout: parse_layout(&layout)?,
        };
        // An import deleted the objects (their rows went by the cascade, not their counts).
        exec::execute(c, &empty_table(table), Vec::new()).await?;
        rebuild(c, &p, &object_type, 0, ObjectId::MAX, false, &Counts::None).await?;
        exec::execute(c, &recount_sql(table, &p.layout), Vec::new()).await?;
        exec::execute(c, &recount_values_sql(table, &p.layout), Vec::new()).await?;
        exec::execute(c, sql::PROJECTION_COMPLETE, params![table, now()]).await?;
    }
    Ok(())
}

/// One rebuild step of the first incomplete projection: the next [`BATCH`] objects, in the
/// caller's transaction. `None` when every projection is complete.
pub(crate) async fn build_batch(c: &mut Client) -> Result<Option<ProjectionStatus>, Fail> {
    exec::execute(c, sql::PROJECTION_BUILD_LOCK, Vec::new()).await?;
    let Some(row) = exec::row(c, sql::NEXT_INCOMPLETE_PROJECTION, Vec::new()).await? else {
        return Ok(None);
    };
    let p = Projection {
        table: i64::from(exec::req::<i32>(&row, 0)?),
        layout: parse_layout(exec::req::<&str>(&row, 2)?)?,
    };
    let object_type = exec::req::<&str>(&row, 1)?.to_owned();
    let after: i64 = exec::req(&row, 3)?;
    let upto = super::config::batch_end(c, &object_type, after, BATCH).await?;
    let at = now();
    match upto {
        Some(upto) => {
            rebuild(c, &p, &object_type, after, upto, true, &Counts::All).await?;
            exec::execute(c, sql::PROJECTION_BUILT_UP_TO, params![p.table, upto, at]).await?;
        }
        None => {
            exec::execute(c, sql::PROJECTION_COMPLETE, params![p.table, at]).await?;
            tracing::info!(object_type, table = p.table, "projection complete");
        }
    }
    Ok(Some(ProjectionStatus {
        object_type,
        built_up_to: upto,
        claimed_at: Some(exec::utc(at)),
    }))
}

/// Every projection's state.
pub(crate) async fn status(c: &mut Client) -> Result<Vec<ProjectionStatus>, Fail> {
    exec::rows(c, sql::PROJECTION_STATUS, Vec::new())
        .await?
        .iter()
        .map(|r| {
            Ok(ProjectionStatus {
                object_type: exec::req::<&str>(r, 0)?.to_owned(),
                built_up_to: exec::get::<i64>(r, 1)?,
                claimed_at: exec::get::<chrono::NaiveDateTime>(r, 2)?.map(exec::utc),
            })
        })
        .collect()
}

/// `datastore reindex`: the catalogue made to follow the stored DSConfig, then the
/// projections of `object_type` (all when `None`) emptied and marked to be rebuilt. Returns
/// the types marked.
pub(crate) async fn reset(c: &mut Client, object_type: Option<&str>) -> Result<Vec<String>, Fail> {
    if let Some(stored) = super::config::stored_config(c).await? {
        sync_layouts(c, &stored.config).await?;
    } else {
        exec::execute(c, sql::PROJECTIONS_LOCK_EXCLUSIVE, Vec::new()).await?;
    }
    let chosen: Vec<(i64, String)> = catalogue(c)
        .await?
        .into_iter()
        .filter(|(_, t, _)| object_type.is_none_or(|o| o == t))
        .map(|(table, t, _)| (table, t))
        .collect();
    if let Some(t) = object_type.filter(|_| chosen.is_empty()) {
        return Err(Fail::Store(StoreError::Config(format!(
            "`{t}` has no projection: only types the DSConfig declares with properties have one"
        ))));
    }
    for (table, _) in &chosen {
        exec::execute(c, &empty_table(*table), Vec::new()).await?;
        exec::execute(c, sql::PROJECTION_RESET, params![*table]).await?;
    }
    Ok(chosen.into_iter().map(|(_, t)| t).collect())
}
