//! Projections (docs/design/QUERIES_AT_SCALE.md): for every type the DSConfig declares with
//! properties, a table `Proj_<n>` with one row per object and, per declared property, the
//! columns its comparisons use: `v<k>` (its `PropertyValue`), `d<k>` (its
//! `PropertyAsDouble`) and, for a Lookup, `n<k>` (1 when the stored value is not a Lookup, so
//! that a path through it follows exactly the rows the EAV plan follows). Indexes come from
//! the DSConfig.
//!
//! The EAV rows stay the store of record. A projection is written in the same transaction as
//! they are, by every write path ([`after_insert`], [`after_save`], [`after_retype`]; a drop
//! cascades through the foreign key; an import rebuilds them whole), and rebuilt from them by
//! [`build_batch`] when the DSConfig changes what it holds, or by `datastore reindex`
//! ([`reset`]). `Projections.BuiltUpTo` is NULL exactly when a projection is complete: that
//! state lives in the database, read in the same snapshot as the query, so no process ever
//! queries a projection another one is still building. Display texts (`PropertyAsString`)
//! are not projected: no comparison reads them, so display refreshes leave projections be.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::types::Value as Sql;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use super::writer::Transaction;
use serde::{Deserialize, Serialize};

use super::objects::now_text;
use crate::dsconfig::{Config, TypeConfig};
use crate::model::{ObjectId, PropertyType};
use crate::query::plan::{Cmp, Cond, Test};
use crate::store::{ProjectionStatus, PropertyWrite, StoreError};

/// The name of the index [`Layout::ids_index`] makes on table `table`.
pub(crate) fn ids_index_name(table: i64) -> String {
    format!("IX_Proj_{table}_ids")
}

/// Objects per rebuild transaction.
pub(crate) const BATCH: i64 = 1000;

/// One projected property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Column {
    pub name: String,
    /// Its column number: `v{no}`, `d{no}`, `n{no}`.
    pub no: usize,
    /// Compared by `PropertyAsDouble` (indexes use `d`), else by text (`v`, NOCASE).
    pub by_value: bool,
    /// A Lookup: has `n{no}`.
    pub lookup: bool,
}

/// What a projection holds: its columns and indexes (column numbers, in order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Layout {
    pub columns: Vec<Column>,
    pub indexes: Vec<Vec<usize>>,
    /// Columns counted per value (`ValueCounts`, migration 0071): every List and Switch
    /// column and those the DSConfig names in `counts`, in column order. (Absent from the
    /// layouts an earlier version wrote: the same columns, so the rows stay.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counts: Vec<usize>,
    /// Pairs of columns (a, b) counted per pair of values (`PairCounts`, migration 0072):
    /// those the DSConfig names in `counts` as "a, b", in its order. (Absent from the
    /// layouts an earlier version wrote.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<[usize; 2]>,
}

impl Layout {
    /// The layout for a declared type; `None` when it declares no property.
    pub(crate) fn of(ty: &TypeConfig) -> Option<Layout> {
        if ty.properties.is_empty() {
            return None;
        }
        let columns: Vec<Column> = ty
            .properties
            .iter()
            .enumerate()
            .map(|(i, (name, p))| Column {
                name: name.clone(),
                no: i + 1,
                by_value: p.property_type.compares_by_value(),
                lookup: p.property_type == PropertyType::Lookup,
            })
            .collect();
        let no = |name: &str| columns.iter().find(|c| c.name == name).map(|c| c.no);
        let mut indexes: Vec<Vec<usize>> = ty
            .index
            .iter()
            .filter_map(|names| names.iter().map(|n| no(n)).collect::<Option<Vec<_>>>())
            .collect();
        for (name, p) in &ty.properties {
            let Some(k) = no(name) else { continue };
            // A declared index starting with the column serves what its own one would,
            // unless it holds the column's exact text (see [`Layout::exact`]): that one
            // serves `==`, not the case-insensitive order of a sort.
            let by_value = p.property_type.compares_by_value();
            if p.property_type.is_indexed_by_default()
                && !indexes
                    .iter()
                    .any(|i| i[0] == k && (by_value || i.len() == 1))
            {
                indexes.push(vec![k]);
            }
        }
        let counts = ty
            .properties
            .iter()
            .filter(|(name, p)| {
                matches!(p.property_type, PropertyType::List | PropertyType::Switch)
                    || ty.counts.contains(name)
            })
            .filter_map(|(name, _)| no(name))
            .collect();
        let pairs = ty
            .counted_pairs()
            .filter_map(|(a, b)| Some([no(a)?, no(b)?]))
            .collect();
        Some(Layout {
            columns,
            indexes,
            counts,
            pairs,
        })
    }

    /// The counted columns (see [`Layout::counts`]).
    pub(crate) fn counted(&self) -> impl Iterator<Item = &Column> {
        self.counts.iter().filter_map(|&no| self.column_no(no))
    }

    /// The value column a count of column `c` is kept by: what its comparisons read.
    pub(crate) fn counted_by(c: &Column) -> String {
        if c.by_value {
            format!("d{}", c.no)
        } else {
            format!("v{}", c.no)
        }
    }

    pub(crate) fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether text column `no` is keyed by its exact (binary) text in some index: in a
    /// multi-column index, every text column before the last one is (equality columns,
    /// `status == "A" order by birthDate`), so that `==` seeks the index and a count reads
    /// only the matching entries, with no test of each one; the last column (and a
    /// single-column index) is keyed `COLLATE NOCASE`, the order of a sort by it.
    pub(crate) fn exact(&self, no: usize) -> bool {
        self.indexes
            .iter()
            .any(|ix| ix.len() > 1 && ix[..ix.len() - 1].contains(&no))
    }

    fn column_no(&self, no: usize) -> Option<&Column> {
        self.columns.iter().find(|c| c.no == no)
    }

    /// The table and its indexes.
    fn create(&self, table: i64) -> Vec<String> {
        let mut columns = String::new();
        for c in &self.columns {
            columns.push_str(&format!(", v{0} TEXT, d{0} REAL", c.no));
            if c.lookup {
                columns.push_str(&format!(", n{} INTEGER", c.no));
            }
        }
        let mut sql = vec![format!(
            "CREATE TABLE Proj_{table} (ObjectId INTEGER PRIMARY KEY \
             REFERENCES Objects (ObjectId) ON DELETE CASCADE{columns})"
        )];
        for (i, index) in self.indexes.iter().enumerate() {
            sql.push(self.create_index(table, i, index));
        }
        sql.extend(self.ids_index(table));
        sql.extend(self.count_triggers(table));
        sql.extend(self.value_triggers(table));
        sql
    }

    /// The triggers that keep `LookupCounts` (migration 0070) for every Lookup column of
    /// table `table`: each row that is inserted, deleted, or changes its `d<k>`/`n<k>`
    /// moves its count, in the statement that writes the row (so in every write path, a
    /// cascade of a drop included). An update that writes neither column fires nothing.
    /// Rows are never replaced (`INSERT OR REPLACE` would delete without the trigger).
    pub(crate) fn count_triggers(&self, table: i64) -> Vec<String> {
        let mut sql = Vec::new();
        for c in self.columns.iter().filter(|c| c.lookup) {
            let k = c.no;
            let add = |row: &str| {
                format!(
                    "INSERT INTO LookupCounts (TableNo, ColumnNo, TargetId, NotLookup, Total) \
                     SELECT {table}, {k}, {row}.d{k}, {row}.n{k} IS NOT NULL, 1 \
                     WHERE {row}.d{k} IS NOT NULL \
                     ON CONFLICT DO UPDATE SET Total = Total + 1;"
                )
            };
            let take = |row: &str| {
                format!(
                    "UPDATE LookupCounts SET Total = Total - 1 WHERE TableNo = {table} AND ColumnNo = {k} \
                     AND TargetId = {row}.d{k} AND NotLookup = ({row}.n{k} IS NOT NULL);"
                )
            };
            sql.push(format!(
                "CREATE TRIGGER Count_{table}_{k}_i AFTER INSERT ON Proj_{table} \
                 WHEN NEW.d{k} IS NOT NULL BEGIN {} END",
                add("NEW")
            ));
            sql.push(format!(
                "CREATE TRIGGER Count_{table}_{k}_d AFTER DELETE ON Proj_{table} \
                 WHEN OLD.d{k} IS NOT NULL BEGIN {} END",
                take("OLD")
            ));
            sql.push(format!(
                "CREATE TRIGGER Count_{table}_{k}_u AFTER UPDATE OF d{k}, n{k} ON Proj_{table} \
                 WHEN OLD.d{k} IS NOT NEW.d{k} OR OLD.n{k} IS NOT NEW.n{k} BEGIN {} {} END",
                take("OLD"),
                add("NEW")
            ));
        }
        sql
    }

    /// The triggers that keep `ValueCounts` (migration 0071) of table `table`: its number of
    /// rows (column 0) and, per counted column, its rows per value, moved in the statement
    /// that writes a row, as [`Layout::count_triggers`] does for the Lookups.
    pub(crate) fn value_triggers(&self, table: i64) -> Vec<String> {
        let upsert = |k: usize, value: &str, by: &str| {
            format!(
                "INSERT INTO ValueCounts (TableNo, ColumnNo, Value, Total) \
                 SELECT {table}, {k}, {value}, {by} WHERE {value} IS NOT NULL \
                 ON CONFLICT DO UPDATE SET Total = Total + excluded.Total;"
            )
        };
        let mut sql = vec![
            format!(
                "CREATE TRIGGER VCount_{table}_0_i AFTER INSERT ON Proj_{table} BEGIN {} END",
                upsert(0, "0", "1")
            ),
            format!(
                "CREATE TRIGGER VCount_{table}_0_d AFTER DELETE ON Proj_{table} BEGIN \
                 UPDATE ValueCounts SET Total = Total - 1 \
                 WHERE TableNo = {table} AND ColumnNo = 0 AND Value = 0; END"
            ),
        ];
        for c in self.counted() {
            let k = c.no;
            let x = Self::counted_by(c);
            let take = |row: &str| {
                format!(
                    "UPDATE ValueCounts SET Total = Total - 1 WHERE TableNo = {table} \
                     AND ColumnNo = {k} AND Value = {row}.{x};"
                )
            };
            sql.push(format!(
                "CREATE TRIGGER VCount_{table}_{k}_i AFTER INSERT ON Proj_{table} \
                 WHEN NEW.{x} IS NOT NULL BEGIN {} END",
                upsert(k, &format!("NEW.{x}"), "1")
            ));
            sql.push(format!(
                "CREATE TRIGGER VCount_{table}_{k}_d AFTER DELETE ON Proj_{table} \
                 WHEN OLD.{x} IS NOT NULL BEGIN {} END",
                take("OLD")
            ));
            sql.push(format!(
                "CREATE TRIGGER VCount_{table}_{k}_u AFTER UPDATE OF {x} ON Proj_{table} \
                 WHEN OLD.{x} IS NOT NEW.{x} BEGIN {} {} END",
                take("OLD"),
                upsert(k, &format!("NEW.{x}"), "1")
            ));
        }
        sql.extend(self.pair_triggers(table));
        sql
    }

    /// The counted pairs: (a, b, the value columns their counts are kept by).
    pub(crate) fn counted_pairs(&self) -> impl Iterator<Item = (&Column, &Column)> {
        self.pairs
            .iter()
            .filter_map(|[a, b]| Some((self.column_no(*a)?, self.column_no(*b)?)))
    }

    /// The triggers that keep `PairCounts` (migration 0072) of table `table`: per counted
    /// pair (a, b), its rows per pair of values (a row where either is NULL is not
    /// counted), moved in the statement that writes a row, as [`Layout::value_triggers`]
    /// (whose `VCount_` prefix they share: made, dropped and counted anew with them).
    fn pair_triggers(&self, table: i64) -> Vec<String> {
        let mut sql = Vec::new();
        for (a, b) in self.counted_pairs() {
            let (ka, kb) = (a.no, b.no);
            let (xa, xb) = (Self::counted_by(a), Self::counted_by(b));
            let add = |row: &str| {
                format!(
                    "INSERT INTO PairCounts (TableNo, ColumnA, ColumnB, ValueA, ValueB, Total) \
                     SELECT {table}, {ka}, {kb}, {row}.{xa}, {row}.{xb}, 1 \
                     WHERE {row}.{xa} IS NOT NULL AND {row}.{xb} IS NOT NULL \
                     ON CONFLICT DO UPDATE SET Total = Total + 1;"
                )
            };
            // (`=` with a NULL matches no row: a row without both values was not counted.)
            let take = |row: &str| {
                format!(
                    "UPDATE PairCounts SET Total = Total - 1 WHERE TableNo = {table} \
                     AND ColumnA = {ka} AND ColumnB = {kb} AND ValueA = {row}.{xa} \
                     AND ValueB = {row}.{xb};"
                )
            };
            let name = format!("VCount_{table}_p{ka}_{kb}");
            sql.push(format!(
                "CREATE TRIGGER {name}_i AFTER INSERT ON Proj_{table} \
                 WHEN NEW.{xa} IS NOT NULL AND NEW.{xb} IS NOT NULL BEGIN {} END",
                add("NEW")
            ));
            sql.push(format!(
                "CREATE TRIGGER {name}_d AFTER DELETE ON Proj_{table} \
                 WHEN OLD.{xa} IS NOT NULL AND OLD.{xb} IS NOT NULL BEGIN {} END",
                take("OLD")
            ));
            sql.push(format!(
                "CREATE TRIGGER {name}_u AFTER UPDATE OF {xa}, {xb} ON Proj_{table} \
                 WHEN OLD.{xa} IS NOT NEW.{xa} OR OLD.{xb} IS NOT NEW.{xb} BEGIN {} {} END",
                take("OLD"),
                add("NEW")
            ));
        }
        sql
    }

    /// The value counts of table `table` taken anew from its rows (one pass over each
    /// counted column), and its triggers made anew: a table an earlier version made, one
    /// whose counted columns changed, or one whose rows were written without them.
    fn recount_values(&self, tx: &Connection, table: i64) -> Result<(), StoreError> {
        drop_count_triggers(tx, table, "VCount_")?;
        for statement in self.value_triggers(table) {
            tx.execute_batch(&statement)?;
        }
        tx.execute("DELETE FROM ValueCounts WHERE TableNo = ?1", [table])?;
        tx.execute(
            &format!(
                "INSERT INTO ValueCounts (TableNo, ColumnNo, Value, Total) \
                 SELECT ?1, 0, 0, COUNT(*) FROM Proj_{table}"
            ),
            [table],
        )?;
        for c in self.counted() {
            let x = Self::counted_by(c);
            tx.execute(
                &format!(
                    "INSERT INTO ValueCounts (TableNo, ColumnNo, Value, Total) \
                     SELECT ?1, ?2, {x}, COUNT(*) FROM Proj_{table} \
                     WHERE {x} IS NOT NULL GROUP BY {x}"
                ),
                params![table, c.no as i64],
            )?;
        }
        tx.execute("DELETE FROM PairCounts WHERE TableNo = ?1", [table])?;
        for (a, b) in self.counted_pairs() {
            let (xa, xb) = (Self::counted_by(a), Self::counted_by(b));
            tx.execute(
                &format!(
                    "INSERT INTO PairCounts (TableNo, ColumnA, ColumnB, ValueA, ValueB, Total) \
                     SELECT ?1, ?2, ?3, {xa}, {xb}, COUNT(*) FROM Proj_{table} \
                     WHERE {xa} IS NOT NULL AND {xb} IS NOT NULL GROUP BY {xa}, {xb}"
                ),
                params![table, a.no as i64, b.no as i64],
            )?;
        }
        tx.execute(
            "UPDATE Projections SET ValueCounted = 1 WHERE TableNo = ?1",
            [table],
        )?;
        Ok(())
    }

    /// The counts of table `table` taken anew from its rows (one pass over each Lookup
    /// column's index), and its triggers made anew: a table an earlier version made, or
    /// one whose rows were written without them.
    fn recount(&self, tx: &Connection, table: i64) -> Result<(), StoreError> {
        drop_count_triggers(tx, table, "Count_")?;
        for statement in self.count_triggers(table) {
            tx.execute_batch(&statement)?;
        }
        tx.execute("DELETE FROM LookupCounts WHERE TableNo = ?1", [table])?;
        for c in self.columns.iter().filter(|c| c.lookup) {
            let k = c.no;
            tx.execute(
                &format!(
                    "INSERT INTO LookupCounts (TableNo, ColumnNo, TargetId, NotLookup, Total) \
                     SELECT ?1, ?2, d{k}, n{k} IS NOT NULL, COUNT(*) FROM Proj_{table} \
                     WHERE d{k} IS NOT NULL GROUP BY d{k}, n{k} IS NOT NULL"
                ),
                params![table, k as i64],
            )?;
        }
        tx.execute(
            "UPDATE Projections SET Counted = 1 WHERE TableNo = ?1",
            [table],
        )?;
        Ok(())
    }

    /// Index `i` (`index`, column numbers) of table `table`. A Lookup column's `n<k>` comes
    /// after the declared keys: a path through the Lookup tests `d<k> IN (...) AND n<k> IS
    /// NULL`, which the index then answers alone (a count reads no table row).
    fn create_index(&self, table: i64, i: usize, index: &[usize]) -> String {
        let columns: Vec<&Column> = index.iter().filter_map(|&no| self.column_no(no)).collect();
        let last = columns.len().saturating_sub(1);
        let mut keys: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if c.by_value {
                    format!("d{}", c.no)
                } else if i < last {
                    // An equality column: its exact text (see `Layout::exact`).
                    format!("v{}", c.no)
                } else {
                    format!("v{} COLLATE NOCASE", c.no)
                }
            })
            .collect();
        keys.extend(
            columns
                .iter()
                .filter(|c| c.lookup)
                .map(|c| format!("n{}", c.no)),
        );
        format!(
            "CREATE INDEX IX_Proj_{table}_{i} ON Proj_{table} ({})",
            keys.join(", ")
        )
    }

    /// The index of table `table`'s Lookup columns in id order, `(ObjectId, d<k>, n<k>, ...)`
    /// for every Lookup column (none without one): a narrow copy of what a filter on them
    /// reads. An unordered page of a path through a Lookup (`company.city.name ==
    /// "Berlin"`) walks it in id order until it has its matches: about 190 entries a page,
    /// where the table's rows are about 35 (every column) and the Lookup's own index
    /// `(d<k>, n<k>)` holds the page's first ids on a leaf per target (docs/BENCHMARKS.md,
    /// "The path's page by the Lookups' index in id order"). Not part of the layout: every
    /// build that knows it makes it (with the table, or when the DSConfig is applied), and
    /// the queries that use it fall back to other plans when an earlier build dropped it.
    pub(crate) fn ids_index(&self, table: i64) -> Option<String> {
        let keys: Vec<String> = self
            .columns
            .iter()
            .filter(|c| c.lookup)
            .map(|c| format!(", d{0}, n{0}", c.no))
            .collect();
        (!keys.is_empty()).then(|| {
            format!(
                "CREATE INDEX {} ON Proj_{table} (ObjectId{})",
                ids_index_name(table),
                keys.concat()
            )
        })
    }

    /// Makes the indexes of table `table` the ones [`Layout::create`] writes, for a table
    /// an earlier build laid out with the same layout (an index whose definition changed
    /// since, e.g. a Lookup's gaining its `n<k>`, is made anew; the rows stay).
    fn upgrade_indexes(&self, tx: &Connection, table: i64) -> Result<(), StoreError> {
        for (i, index) in self.indexes.iter().enumerate() {
            let wanted = self.create_index(table, i, index);
            let name = format!("IX_Proj_{table}_{i}");
            let found: Option<String> = tx
                .prepare_cached("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1")?
                .query_row([&name], |r| r.get(0))
                .optional()?;
            if found.as_deref() != Some(wanted.as_str()) {
                tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
                tx.execute_batch(&wanted)?;
                tracing::info!(table, index = name, "projection index made anew");
            }
        }
        let ids = ids_index_name(table);
        let wanted = self.ids_index(table);
        let found: Option<String> = tx
            .prepare_cached("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1")?
            .query_row([&ids], |r| r.get(0))
            .optional()?;
        if found != wanted {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {ids}"))?;
            if let Some(wanted) = &wanted {
                tx.execute_batch(wanted)?;
                tracing::info!(table, index = ids, "projection index made anew");
            }
        }
        // Indexes past the layout's (a DSConfig that declares fewer than before).
        let stale: Vec<String> = tx
            .prepare_cached(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1",
            )?
            .query_map([format!("Proj_{table}")], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let prefix = format!("IX_Proj_{table}_");
        for name in stale {
            let wanted = name == ids
                || name
                    .strip_prefix(&prefix)
                    .and_then(|i| i.parse::<usize>().ok())
                    .is_some_and(|i| i < self.indexes.len());
            if !wanted {
                tx.execute_batch(&format!("DROP INDEX IF EXISTS \"{name}\""))?;
                tracing::info!(table, index = name, "projection index dropped");
            }
        }
        Ok(())
    }

    /// The column names after `ObjectId`, in the order [`Layout::rebuild_sql`] fills them.
    fn column_list(&self) -> Vec<String> {
        let mut names = Vec::new();
        for c in &self.columns {
            names.push(format!("v{}", c.no));
            names.push(format!("d{}", c.no));
            if c.lookup {
                names.push(format!("n{}", c.no));
            }
        }
        names
    }

    /// Rows for the objects of `?1` (the type) with ids in `(?2, ?3]`, from their EAV rows;
    /// the property names are `?4...` in column order.
    fn rebuild_sql(&self, table: i64) -> String {
        let mut values = Vec::new();
        for (i, c) in self.columns.iter().enumerate() {
            let name = format!("?{}", i + 4);
            values.push(format!(
                "MAX(CASE WHEN p.PropertyName = {name} THEN p.PropertyValue END)"
            ));
            values.push(format!(
                "MAX(CASE WHEN p.PropertyName = {name} THEN p.PropertyAsDouble END)"
            ));
            if c.lookup {
                values.push(format!(
                    "MAX(CASE WHEN p.PropertyName = {name} AND p.PropertyType <> 'Lookup' THEN 1 END)"
                ));
            }
        }
        format!(
            "INSERT INTO Proj_{table} (ObjectId, {}) SELECT o.ObjectId, {} \
             FROM Objects o LEFT JOIN Properties p ON p.OwnerObjectId = o.ObjectId \
             WHERE o.ObjectType = ?1 AND o.ObjectId > ?2 AND o.ObjectId <= ?3 \
             GROUP BY o.ObjectId",
            self.column_list().join(", "),
            values.join(", ")
        )
    }

    fn rebuild(
        &self,
        tx: &Connection,
        table: i64,
        object_type: &str,
        after: ObjectId,
        upto: ObjectId,
    ) -> Result<usize, StoreError> {
        let mut bound = vec![
            Sql::Text(object_type.to_owned()),
            Sql::Integer(after),
            Sql::Integer(upto),
        ];
        bound.extend(self.columns.iter().map(|c| Sql::Text(c.name.clone())));
        // The rows of the range go first (their counts with them): a row is never replaced.
        tx.prepare_cached(&format!(
            "DELETE FROM Proj_{table} WHERE ObjectId > ?1 AND ObjectId <= ?2"
        ))?
        .execute(params![after, upto])?;
        Ok(tx
            .prepare_cached(&self.rebuild_sql(table))?
            .execute(params_from_iter(bound.iter()))?)
    }
}

/// What a count of matches sums from the value counts (migrations 0071, 0072), on either
/// backend: see [`Layout::count_shape`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CountShape {
    /// Every row: the type's total (column 0).
    Total,
    /// Column `.0` holds one of these numbers (distinct).
    Numbers(usize, Vec<f64>),
    /// Text column `.0` holds exactly one of these texts (distinct).
    Texts(usize, Vec<String>),
    /// Column `.0` holds a number that passes every test.
    Range(usize, Vec<(Cmp, f64)>),
    /// A counted pair's rows (`PairCounts`): column a's value is one of `.0` (`Numbers` or
    /// `Texts`) and column b's passes `.1` (`Numbers`, `Texts` or `Range`).
    Pair(Box<CountShape>, Box<CountShape>),
}

impl CountShape {
    /// The column a one-column shape counts (0: the total).
    pub(crate) fn column(&self) -> usize {
        match self {
            CountShape::Total | CountShape::Pair(..) => 0,
            CountShape::Numbers(k, _) | CountShape::Texts(k, _) | CountShape::Range(k, _) => *k,
        }
    }
}

/// One test of a column, as the value counts read it.
enum One {
    /// An equality, a list, or equalities joined by `or`: the column's numbers.
    Numbers(usize, Vec<f64>),
    /// An equality or equalities joined by `or` of a text column: its exact texts.
    Texts(usize, Vec<String>),
    /// A comparison of a column compared by value.
    Range(usize, Cmp, f64),
}

impl One {
    fn column(&self) -> usize {
        match self {
            One::Numbers(k, _) | One::Texts(k, _) | One::Range(k, ..) => *k,
        }
    }
}

impl Layout {
    /// `c` as one test of a column `usable` accepts that the value counts read: an
    /// equality, a list ([`Test::OneOf`]) or a range test of a column compared by value, an
    /// equality of a text column.
    fn one(&self, c: &Cond, usable: &dyn Fn(&Column) -> bool) -> Option<One> {
        let Cond::Test { hops, test } = c else {
            return None;
        };
        if !hops.is_empty() {
            return None;
        }
        let column = |name: &str| self.column(name).filter(|c| usable(c));
        match test {
            Test::Double {
                property,
                cmp,
                value,
            } => {
                let c = column(property).filter(|c| c.by_value)?;
                Some(match cmp {
                    Cmp::Eq => One::Numbers(c.no, vec![*value]),
                    Cmp::Gt | Cmp::Lt | Cmp::Ge | Cmp::Le => One::Range(c.no, *cmp, *value),
                    Cmp::StartsWith | Cmp::Like => return None,
                })
            }
            Test::OneOf { property, values } => {
                let c = column(property).filter(|c| c.by_value)?;
                Some(One::Numbers(c.no, values.clone()))
            }
            Test::Text {
                property,
                cmp: Cmp::Eq,
                value,
            } => {
                let c = column(property).filter(|c| !c.by_value)?;
                Some(One::Texts(c.no, vec![value.clone()]))
            }
            _ => None,
        }
    }

    /// `items` (joined by `or`) as equalities of one column: its values.
    fn or_values(&self, items: &[Cond], usable: &dyn Fn(&Column) -> bool) -> Option<One> {
        let mut column = None;
        let mut numbers = Vec::new();
        let mut texts = Vec::new();
        for item in items {
            let one = self.one(item, usable)?;
            if column.is_some_and(|k| k != one.column()) {
                return None;
            }
            column = Some(one.column());
            match one {
                One::Numbers(_, v) => numbers.extend(v),
                One::Texts(_, v) => texts.extend(v),
                One::Range(..) => return None,
            }
        }
        match (column?, numbers.is_empty(), texts.is_empty()) {
            (k, false, true) => Some(One::Numbers(k, numbers)),
            (k, true, false) => Some(One::Texts(k, texts)),
            _ => None,
        }
    }

    /// How the value counts answer the number of matches of `cond` (the whole filter),
    /// if they do: no filter; an equality on a counted column, several on it joined by
    /// `or`, or a list ([`Test::OneOf`]); tests of one counted column compared by value
    /// joined by `and` (a range); and, for a counted pair (a, b), the `and` of such
    /// equalities of a with equalities, a list or a range of b (see
    /// [`Layout::pair_shape`]). A counted column is kept by what its tests read (`d<k>`,
    /// or the exact `v<k>`), so a row without the property, or whose stored value another
    /// type made (text in a number's column has no `d<k>`), is counted where those tests
    /// find it. `None`: the rows are counted.
    pub(crate) fn count_shape(&self, cond: Option<&Cond>) -> Option<CountShape> {
        let Some(mut cond) = cond else {
            return Some(CountShape::Total);
        };
        while let Cond::And(items) | Cond::Or(items) = cond {
            match items.as_slice() {
                [only] => cond = only,
                [] if matches!(cond, Cond::And(_)) => return Some(CountShape::Total),
                _ => break,
            }
        }
        let counted = |c: &Column| self.counts.contains(&c.no);
        let shape = match cond {
            Cond::Test { .. } => match self.one(cond, &counted)? {
                One::Numbers(k, v) => CountShape::Numbers(k, v),
                One::Texts(k, v) => CountShape::Texts(k, v),
                One::Range(k, cmp, value) => CountShape::Range(k, vec![(cmp, value)]),
            },
            // Equalities on one column.
            Cond::Or(items) => match self.or_values(items, &counted)? {
                One::Numbers(k, v) => CountShape::Numbers(k, v),
                One::Texts(k, v) => CountShape::Texts(k, v),
                One::Range(..) => return None,
            },
            Cond::And(items) => {
                // Tests of one column compared by value: its values that pass them all.
                let ones: Option<Vec<One>> =
                    items.iter().map(|item| self.one(item, &counted)).collect();
                match ones.and_then(|ones| range(&ones)) {
                    Some(shape) => shape,
                    None => return self.pair_shape(items),
                }
            }
            Cond::Not(_) => return None,
        };
        Some(distinct_shape(shape))
    }

    /// The count of `items` (joined by `and`) from a counted pair (a, b): they test exactly
    /// the two columns, a by one item (an equality, a list, equalities joined by `or`), b
    /// by one such item or by tests of a column compared by value (a range). Nested `and`s
    /// are read as one.
    fn pair_shape(&self, items: &[Cond]) -> Option<CountShape> {
        if self.pairs.is_empty() {
            return None;
        }
        let paired = |c: &Column| self.pairs.iter().any(|p| p.contains(&c.no));
        let mut flat = Vec::new();
        flatten_and(items, &mut flat);
        let mut ones = Vec::with_capacity(flat.len());
        for item in flat {
            ones.push(match item {
                Cond::Or(alternatives) => self.or_values(alternatives, &paired)?,
                _ => self.one(item, &paired)?,
            });
        }
        let mut columns: Vec<usize> = ones.iter().map(One::column).collect();
        columns.sort_unstable();
        columns.dedup();
        let &[x, y] = columns.as_slice() else {
            return None;
        };
        self.pairs
            .iter()
            .filter(|[a, b]| (*a, *b) == (x, y) || (*a, *b) == (y, x))
            .find_map(|&[a, b]| {
                let of =
                    |k: usize| -> Vec<&One> { ones.iter().filter(|o| o.column() == k).collect() };
                let first = match of(a).as_slice() {
                    [One::Numbers(k, v)] => CountShape::Numbers(*k, v.clone()),
                    [One::Texts(k, v)] => CountShape::Texts(*k, v.clone()),
                    _ => return None,
                };
                let second = match of(b).as_slice() {
                    [One::Numbers(k, v)] => CountShape::Numbers(*k, v.clone()),
                    [One::Texts(k, v)] => CountShape::Texts(*k, v.clone()),
                    tests => range(tests.iter().copied())?,
                };
                Some(CountShape::Pair(
                    Box::new(distinct_shape(first)),
                    Box::new(distinct_shape(second)),
                ))
            })
    }
}

/// Tests of one column compared by value joined by `and` (ranges, single equalities):
/// the values that pass them all.
fn range<'o>(ones: impl IntoIterator<Item = &'o One>) -> Option<CountShape> {
    let mut column = None;
    let mut tests = Vec::new();
    for one in ones {
        if column.is_some_and(|k| k != one.column()) {
            return None;
        }
        column = Some(one.column());
        match one {
            One::Range(_, cmp, value) => tests.push((*cmp, *value)),
            One::Numbers(_, v) if v.len() == 1 => tests.push((Cmp::Eq, v[0])),
            _ => return None,
        }
    }
    Some(CountShape::Range(column?, tests))
}

/// `items` with the items of nested `and`s in their place.
fn flatten_and<'c>(items: &'c [Cond], out: &mut Vec<&'c Cond>) {
    for item in items {
        match item {
            Cond::And(inner) => flatten_and(inner, out),
            Cond::Or(inner) if inner.len() == 1 => flatten_and(inner, out),
            other => out.push(other),
        }
    }
}

/// Each value once (a value named twice is counted once; -0 is 0).
fn distinct_shape(shape: CountShape) -> CountShape {
    match shape {
        CountShape::Numbers(k, v) => CountShape::Numbers(k, distinct(v)),
        CountShape::Texts(k, v) => CountShape::Texts(k, distinct(v)),
        other => other,
    }
}

/// A projection as the catalogue describes it.
#[derive(Debug, Clone)]
pub(crate) struct Projection {
    pub table: i64,
    pub layout: Arc<Layout>,
    pub ready: bool,
    /// `LookupCounts` holds its Lookup columns' counts (see [`Layout::count_triggers`]).
    pub counted: bool,
    /// `ValueCounts` holds its total and its counted columns' counts (see
    /// [`Layout::value_triggers`]).
    pub value_counted: bool,
}

thread_local! {
    /// Parsed layouts by their JSON: the catalogue is read per statement, parsed once.
    static LAYOUTS: RefCell<HashMap<String, Arc<Layout>>> = RefCell::new(HashMap::new());
}

fn parse_layout(text: &str) -> Result<Arc<Layout>, StoreError> {
    if let Some(layout) = LAYOUTS.with(|l| l.borrow().get(text).cloned()) {
        return Ok(layout);
    }
    let layout: Arc<Layout> = Arc::new(
        serde_json::from_str(text)
            .map_err(|e| StoreError::Database(format!("a projection's layout: {e}")))?,
    );
    LAYOUTS.with(|l| {
        let mut l = l.borrow_mut();
        if l.len() > 256 {
            l.clear();
        }
        l.insert(text.to_owned(), layout.clone());
    });
    Ok(layout)
}

/// The projection of `object_type`, if it has one (complete or not).
pub(crate) fn of_type(
    conn: &Connection,
    object_type: &str,
) -> Result<Option<Projection>, StoreError> {
    let row: Option<(i64, String, bool, bool, bool)> = conn
        .prepare_cached(
            "SELECT TableNo, Layout, BuiltUpTo IS NULL, Counted, ValueCounted FROM Projections \
             WHERE ObjectType = ?1",
        )?
        .query_row([object_type], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    row.map(|(table, layout, ready, counted, value_counted)| {
        Ok(Projection {
            table,
            layout: parse_layout(&layout)?,
            ready,
            counted,
            value_counted,
        })
    })
    .transpose()
}

/// Makes the catalogue follow `config`: a type whose layout changed gets its table made
/// anew (empty, to be rebuilt); a type no longer declared loses its table. A new projection
/// of a type without objects is complete at once.
pub(crate) fn sync_layouts(tx: &Transaction<'_>, config: &Config) -> Result<(), StoreError> {
    let existing: Vec<(i64, String, String)> = tx
        .prepare_cached("SELECT TableNo, ObjectType, Layout FROM Projections")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let uncounted: Vec<i64> = tx
        .prepare_cached("SELECT TableNo FROM Projections WHERE Counted = 0")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let values_uncounted: Vec<i64> = tx
        .prepare_cached("SELECT TableNo FROM Projections WHERE ValueCounted = 0")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for (table, object_type, _) in &existing {
        if config.types.get(object_type).and_then(Layout::of).is_none() {
            tx.execute_batch(&format!("DROP TABLE IF EXISTS Proj_{table}"))?;
            tx.execute("DELETE FROM Projections WHERE TableNo = ?1", [table])?;
            tx.execute("DELETE FROM LookupCounts WHERE TableNo = ?1", [table])?;
            tx.execute("DELETE FROM ValueCounts WHERE TableNo = ?1", [table])?;
            tx.execute("DELETE FROM PairCounts WHERE TableNo = ?1", [table])?;
        }
    }
    for (object_type, ty) in &config.types {
        let Some(layout) = Layout::of(ty) else {
            continue;
        };
        let text =
            serde_json::to_string(&layout).map_err(|e| StoreError::Database(e.to_string()))?;
        let found = existing.iter().find(|(_, t, _)| t == object_type);
        if let Some((table, _, _)) = found.filter(|(_, _, old)| *old == text) {
            // Same layout: the table stays; its indexes follow this build's definitions.
            layout.upgrade_indexes(tx, *table)?;
            // A build before 0070/0071 still running (a rolling upgrade) that made the
            // table anew made it without the triggers that keep its counts: count again.
            let triggers: i64 = tx.query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1",
                [format!("Proj_{table}")],
                |r| r.get(0),
            )?;
            let expected =
                layout.count_triggers(*table).len() + layout.value_triggers(*table).len();
            if (triggers as usize) < expected {
                tracing::warn!(
                    object_type,
                    table,
                    "the projection's count triggers were missing (made by an earlier build): counting again"
                );
                layout.recount(tx, *table)?;
                layout.recount_values(tx, *table)?;
                continue;
            }
            if uncounted.contains(table) {
                layout.recount(tx, *table)?;
                tracing::info!(object_type, table, "lookup counts taken");
            }
            if values_uncounted.contains(table) {
                let started = std::time::Instant::now();
                layout.recount_values(tx, *table)?;
                tracing::info!(
                    object_type,
                    table,
                    ms = started.elapsed().as_millis() as u64,
                    "value counts taken"
                );
            }
            continue;
        }
        let same_columns = found.is_some_and(|(_, _, old)| {
            serde_json::from_str::<Layout>(old).is_ok_and(|old| old.columns == layout.columns)
        });
        if let Some((table, _, _)) = found.filter(|_| same_columns) {
            // Only the indexes changed: the rows stay (they hold the same columns, and
            // whether the projection is complete does not change); the indexes are made
            // to the new list in this transaction.
            tx.execute(
                "UPDATE Projections SET Layout = ?2 WHERE TableNo = ?1",
                params![table, text],
            )?;
            layout.upgrade_indexes(tx, *table)?;
            if uncounted.contains(table) {
                layout.recount(tx, *table)?;
            }
            // Its counted columns may have changed (or an earlier version kept none).
            let started = std::time::Instant::now();
            layout.recount_values(tx, *table)?;
            tracing::info!(
                object_type,
                table,
                ms = started.elapsed().as_millis() as u64,
                "projection indexes and counts follow the DSConfig"
            );
            continue;
        }
        let table = match found {
            Some((table, _, _)) => {
                tx.execute_batch(&format!("DROP TABLE IF EXISTS Proj_{table}"))?;
                tx.execute(
                    "UPDATE Projections SET Layout = ?2, BuiltUpTo = 0, ClaimedAt = NULL \
                     WHERE TableNo = ?1",
                    params![table, text],
                )?;
                *table
            }
            None => tx.query_row(
                "INSERT INTO Projections (ObjectType, Layout, BuiltUpTo) VALUES (?1, ?2, 0) \
                 RETURNING TableNo",
                params![object_type, text],
                |r| r.get(0),
            )?,
        };
        for statement in layout.create(table) {
            tx.execute_batch(&statement)?;
        }
        // An empty table with its triggers: its counts are kept from here.
        tx.execute("DELETE FROM LookupCounts WHERE TableNo = ?1", [table])?;
        tx.execute(
            "UPDATE Projections SET Counted = 1 WHERE TableNo = ?1",
            [table],
        )?;
        layout.recount_values(tx, table)?;
        let any: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM Objects WHERE ObjectType = ?1)")?
            .query_row([object_type], |r| r.get(0))?;
        if !any {
            tx.execute(
                "UPDATE Projections SET BuiltUpTo = NULL WHERE TableNo = ?1",
                [table],
            )?;
        }
        tracing::info!(
            object_type,
            table,
            "projection laid out; it is rebuilt from the objects"
        );
    }
    Ok(())
}

/// The stored value of a write as its projected columns hold it: (v, d, n).
fn columns_of(w: &PropertyWrite) -> (Option<&str>, Option<f64>, Option<i64>) {
    match &w.value {
        Some(v) => (
            Some(v.value.as_str()),
            v.as_double,
            (v.property_type != PropertyType::Lookup).then_some(1),
        ),
        None => (None, None, None),
    }
}

/// After a new object of `object_type` was written with `writes`: its row.
pub(crate) fn after_insert(
    tx: &Transaction<'_>,
    id: ObjectId,
    object_type: &str,
    writes: &[PropertyWrite],
) -> Result<(), StoreError> {
    let Some(p) = of_type(tx, object_type)? else {
        return Ok(());
    };
    let names = p.layout.column_list();
    let placeholders = vec!["?"; names.len() + 1].join(", ");
    // A new object has no row (a drop's cascade took any row of its id): never a replace,
    // which would skip the counts' delete trigger.
    let sql = format!(
        "INSERT INTO Proj_{} (ObjectId, {}) VALUES ({placeholders})",
        p.table,
        names.join(", ")
    );
    let mut bound: Vec<Sql> = vec![Sql::Integer(id)];
    for c in &p.layout.columns {
        // The last write of a name is the stored one.
        let (v, d, n) = writes
            .iter()
            .rev()
            .find(|w| w.name == c.name)
            .map(columns_of)
            .unwrap_or_default();
        bound.push(v.map_or(Sql::Null, |v| Sql::Text(v.to_owned())));
        bound.push(d.map_or(Sql::Null, Sql::Real));
        if c.lookup {
            bound.push(n.map_or(Sql::Null, Sql::Integer));
        }
    }
    tx.prepare_cached(&sql)?
        .execute(params_from_iter(bound.iter()))?;
    Ok(())
}

/// After `writes` to an object of `object_type`: the columns they change, and only those
/// (an index without them is not touched).
pub(crate) fn after_save(
    tx: &Transaction<'_>,
    id: ObjectId,
    object_type: &str,
    writes: &[PropertyWrite],
) -> Result<(), StoreError> {
    let Some(p) = of_type(tx, object_type)? else {
        return Ok(());
    };
    let mut sets = Vec::new();
    let mut bound: Vec<Sql> = Vec::new();
    let mut done: Vec<&str> = Vec::new();
    for w in writes.iter().rev() {
        let Some(c) = p.layout.column(&w.name) else {
            continue;
        };
        if done.contains(&w.name.as_str()) {
            continue;
        }
        done.push(&w.name);
        let (v, d, n) = columns_of(w);
        sets.push(format!("v{} = ?", c.no));
        bound.push(v.map_or(Sql::Null, |v| Sql::Text(v.to_owned())));
        sets.push(format!("d{} = ?", c.no));
        bound.push(d.map_or(Sql::Null, Sql::Real));
        if c.lookup {
            sets.push(format!("n{} = ?", c.no));
            bound.push(n.map_or(Sql::Null, Sql::Integer));
        }
    }
    if sets.is_empty() {
        return Ok(());
    }
    bound.push(Sql::Integer(id));
    let sql = format!(
        "UPDATE Proj_{} SET {} WHERE ObjectId = ?",
        p.table,
        sets.join(", ")
    );
    tx.prepare_cached(&sql)?
        .execute(params_from_iter(bound.iter()))?;
    Ok(())
}

/// After object `id` changed type from `old` to `new` (its `Objects` row already says
/// `new`): its row moves from one projection to the other.
pub(crate) fn after_retype(
    tx: &Transaction<'_>,
    id: ObjectId,
    old: &str,
    new: &str,
) -> Result<(), StoreError> {
    if old == new {
        return Ok(());
    }
    if let Some(p) = of_type(tx, old)? {
        tx.prepare_cached(&format!("DELETE FROM Proj_{} WHERE ObjectId = ?1", p.table))?
            .execute([id])?;
    }
    if let Some(p) = of_type(tx, new)? {
        p.layout.rebuild(tx, p.table, new, id - 1, id)?;
    }
    Ok(())
}

/// Drops the triggers of table `table` whose names start with `prefix`: `Count_` keep its
/// `LookupCounts` (see [`Layout::count_triggers`]; [`Layout::recount`] makes them again),
/// `VCount_` its `ValueCounts` ([`Layout::value_triggers`], [`Layout::recount_values`]).
fn drop_count_triggers(tx: &Connection, table: i64, prefix: &str) -> Result<(), StoreError> {
    let names: Vec<String> = tx
        .prepare_cached("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1")?
        .query_map([format!("Proj_{table}")], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for name in names.iter().filter(|n| n.starts_with(prefix)) {
        tx.execute_batch(&format!("DROP TRIGGER IF EXISTS \"{name}\""))?;
    }
    Ok(())
}

/// Every projection rebuilt whole from the EAV rows and complete (an import wrote those
/// directly). The count triggers are off while the rows go in (a row's upsert each made
/// an import of 100,000 people 2.7 times slower) and the counts are taken after, in one
/// pass per Lookup column; all in the import's transaction, so no other process sees the
/// table without them.
pub(crate) fn rebuild_all(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let all: Vec<(i64, String, String)> = tx
        .prepare_cached("SELECT TableNo, ObjectType, Layout FROM Projections")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (table, object_type, layout) in all {
        let layout = parse_layout(&layout)?;
        drop_count_triggers(tx, table, "Count_")?;
        drop_count_triggers(tx, table, "VCount_")?;
        layout.rebuild(tx, table, &object_type, ObjectId::MIN, ObjectId::MAX)?;
        layout.recount(tx, table)?;
        layout.recount_values(tx, table)?;
        tx.execute(
            "UPDATE Projections SET BuiltUpTo = NULL, ClaimedAt = NULL WHERE TableNo = ?1",
            [table],
        )?;
    }
    Ok(())
}

/// One rebuild step of the first incomplete projection: the next [`BATCH`] objects, in one
/// transaction. `None` when every projection is complete.
pub(crate) fn build_batch(conn: &mut Connection) -> Result<Option<ProjectionStatus>, StoreError> {
    let tx = super::objects::begin(conn)?;
    let next: Option<(i64, String, String, i64)> = tx
        .prepare_cached(
            "SELECT TableNo, ObjectType, Layout, BuiltUpTo FROM Projections \
             WHERE BuiltUpTo IS NOT NULL ORDER BY TableNo LIMIT 1",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((table, object_type, layout, after)) = next else {
        return Ok(None);
    };
    let layout = parse_layout(&layout)?;
    let upto = super::config::batch_end(&tx, &object_type, after, BATCH as u32)?;
    let built_up_to = match upto {
        Some(upto) => {
            layout.rebuild(&tx, table, &object_type, after, upto)?;
            Some(upto)
        }
        None => {
            // Statistics for the planner (and the renderer's estimate), sampled: cheap.
            tx.execute_batch(&format!(
                "PRAGMA analysis_limit = 1000; ANALYZE Proj_{table}; PRAGMA analysis_limit = 0;"
            ))?;
            tracing::info!(object_type, table, "projection complete");
            None
        }
    };
    tx.execute(
        "UPDATE Projections SET BuiltUpTo = ?2, ClaimedAt = ?3 WHERE TableNo = ?1",
        params![table, built_up_to, now_text()],
    )?;
    tx.commit()?;
    Ok(Some(ProjectionStatus {
        object_type,
        built_up_to,
        claimed_at: Some(super::objects::parse_time(&now_text())),
    }))
}

/// Every projection's state.
pub(crate) fn status(conn: &Connection) -> Result<Vec<ProjectionStatus>, StoreError> {
    let rows = conn
        .prepare_cached(
            "SELECT ObjectType, BuiltUpTo, ClaimedAt FROM Projections ORDER BY ObjectType",
        )?
        .query_map([], |r| {
            Ok(ProjectionStatus {
                object_type: r.get(0)?,
                built_up_to: r.get(1)?,
                claimed_at: r
                    .get::<_, Option<String>>(2)?
                    .map(|t| super::objects::parse_time(&t)),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// `datastore reindex`: the catalogue made to follow the stored DSConfig, then the
/// projections of `object_type` (all when `None`) emptied and marked to be rebuilt. Returns
/// the types marked.
pub(crate) fn reset(
    conn: &mut Connection,
    object_type: Option<&str>,
) -> Result<Vec<String>, StoreError> {
    let tx = super::objects::begin(conn)?;
    if let Some(stored) = super::config::stored_config(&tx)? {
        sync_layouts(&tx, &stored.config)?;
    }
    let all: Vec<(i64, String)> = tx
        .prepare_cached("SELECT TableNo, ObjectType FROM Projections ORDER BY ObjectType")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let chosen: Vec<(i64, String)> = all
        .into_iter()
        .filter(|(_, t)| object_type.is_none_or(|o| o == t))
        .collect();
    if let Some(t) = object_type.filter(|_| chosen.is_empty()) {
        return Err(StoreError::Config(format!(
            "`{t}` has no projection: only types the DSConfig declares with properties have one"
        )));
    }
    for (table, object_type) in &chosen {
        // The value counts' triggers are off while the rows go (a count of 0 for each);
        // made again on the empty table with its counts.
        drop_count_triggers(&tx, *table, "VCount_")?;
        // The Lookup delete triggers take every count to 0; those rows go too.
        tx.execute_batch(&format!("DELETE FROM Proj_{table}"))?;
        tx.execute("DELETE FROM LookupCounts WHERE TableNo = ?1", [table])?;
        if let Some(p) = of_type(&tx, object_type)? {
            p.layout.recount_values(&tx, *table)?;
        }
        tx.execute(
            "UPDATE Projections SET BuiltUpTo = 0, ClaimedAt = NULL WHERE TableNo = ?1",
            [table],
        )?;
    }
    tx.commit()?;
    Ok(chosen.into_iter().map(|(_, t)| t).collect())
}

/// Rows of the projection according to the planner's statistics, else the span of its ids
/// (two index probes; at least the number of rows).
pub(crate) fn estimated_rows(conn: &Connection, table: i64) -> Option<u64> {
    let stat: Option<String> = conn
        .prepare_cached("SELECT stat FROM sqlite_stat1 WHERE tbl = ?1 LIMIT 1")
        .ok()
        .and_then(|mut s| {
            s.query_row([format!("Proj_{table}")], |r| r.get(0))
                .optional()
                .ok()
        })
        .flatten();
    if let Some(rows) = stat.and_then(|s| s.split(' ').next()?.parse().ok()) {
        return Some(rows);
    }
    conn.prepare_cached(&format!(
        "SELECT max(ObjectId) - min(ObjectId) + 1 FROM Proj_{table}"
    ))
    .ok()?
    .query_row([], |r| r.get::<_, Option<i64>>(0))
    .ok()
    .flatten()
    .map(|n| n.max(0) as u64)
}

/// `values` without repeats, in their first order (`==`: -0.0 is 0.0).
fn distinct<T: PartialEq>(values: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}
