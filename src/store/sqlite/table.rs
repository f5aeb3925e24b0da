//! Table views on the embedded store: one statement picks the page of object ids (filtered,
//! sorted, paged), one counts the matches, one reads the page's properties.

use std::collections::HashMap;

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};

use super::counts::Snapshot;
use super::objects::{object_from_row, property_from_row};
use super::properties_cache::PropertiesCache;
use super::query::{sort_column, system_column, Fragment};
use super::walk;
use crate::model::ObjectId;
use crate::store::{
    FilterValue, Key, ObjectRecord, Page, PropertyRow, Seek, StoreError, TableQuery,
};

pub(super) fn list_table(s: &mut Snapshot<'_>, q: &TableQuery) -> Result<Page, StoreError> {
    if let Some(page) = super::projected::table(s, q)? {
        return Ok(page);
    }
    list_table_eav(s, q)
}

/// A table view over the EAV rows (the plan every view has; see `projected.rs`).
pub(super) fn list_table_eav(s: &mut Snapshot<'_>, q: &TableQuery) -> Result<Page, StoreError> {
    let stable = walk::stable(s, &q.object_type, &q.order, &q.walk)?;
    let built = Built::new(q, &stable);
    let total = if q.walk.count {
        s.count(
            &format!("SELECT COUNT(*) {}", built.count_from),
            &built.count_params,
        )?
    } else {
        0
    };
    let mut page_params = built.page_params.clone();
    page_params.push(Sql::Integer(
        q.limit.saturating_add(1).min(i64::MAX as u64) as i64
    ));
    page_params.push(Sql::Integer(q.offset.min(i64::MAX as u64) as i64));
    let sql = format!(
        "SELECT o.ObjectId, o.ObjectType, o.ObjectNumber, o.CreatedAt, o.UpdatedAt{}, o.Version {} ORDER BY {} LIMIT ? OFFSET ?",
        built.key_columns, built.page_from, built.order
    );
    let conn = s.conn;
    let mut rows = super::literal::with_statement(conn, &sql, &page_params, |s, p| {
        Ok(s.query_map(params_from_iter(p.iter()), |r| {
            let object = object_from_row(r)?;
            let seek = walk::seek_of(r, 5, &q.order, object.id)?;
            Ok(((object, version_of(r)?), seek))
        })?
        .collect::<Result<Vec<_>, _>>()?)
    })?;
    let next = next_of(&mut rows, q.limit);
    let (objects, versions) = rows.into_iter().map(|(o, _)| o).unzip();
    let objects = with_properties(
        conn,
        s.properties(),
        objects,
        versions,
        q.columns.as_deref(),
    )?;
    Ok(Page {
        objects,
        total,
        next,
        head: stable.head,
    })
}

/// The object's `Version`: the last column of a page's statement (after the sort keys).
pub(super) fn version_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<i64> {
    r.get(r.as_ref().column_count() - 1)
}

/// Trims a page read with one row more than `limit`: where the next page starts, if any.
pub(super) fn next_of<T>(rows: &mut Vec<(T, Seek)>, limit: u64) -> Option<Seek> {
    if (rows.len() as u64) <= limit || limit == 0 {
        rows.truncate(limit as usize);
        return None;
    }
    rows.truncate(limit as usize);
    rows.last().map(|(_, seek)| seek.clone())
}

/// Attaches the properties of a page of objects (only `columns` when given): those of
/// every object whose version is the one `cache` holds them at from memory, the others
/// read in one statement (and kept). `versions` are the objects' `Version`s as the page's
/// statement read them (in this snapshot), in the page's order. Without a cache, or on a
/// connection that may write, every object's are read.
pub(crate) fn with_properties(
    conn: &Connection,
    cache: Option<&PropertiesCache>,
    mut objects: Vec<ObjectRecord>,
    versions: Vec<i64>,
    columns: Option<&[String]>,
) -> Result<Vec<ObjectRecord>, StoreError> {
    let Some(cache) = cache.filter(|_| PropertiesCache::serves(conn)) else {
        let ids: Vec<ObjectId> = objects.iter().map(|o| o.id).collect();
        let mut rows = rows_of(conn, &ids, columns)?;
        for object in &mut objects {
            object.properties = rows.remove(&object.id).unwrap_or_default();
        }
        return Ok(objects);
    };
    // The objects not found in memory, at their version in this snapshot.
    let mut missing = Vec::new();
    for (object, &version) in objects.iter_mut().zip(&versions) {
        match cache.get(object.id, version) {
            Some(rows) => object.properties = chosen(&rows, columns),
            None => missing.push((object.id, version)),
        }
    }
    if missing.is_empty() {
        return Ok(objects);
    }
    missing.sort_unstable();
    missing.dedup();
    // Every property of the missing ones, to keep; the page gets those asked for.
    let ids: Vec<ObjectId> = missing.iter().map(|&(id, _)| id).collect();
    let mut read = rows_of(conn, &ids, None)?;
    for object in &mut objects {
        if let Some(rows) = read.get(&object.id) {
            object.properties = chosen(rows, columns);
        }
    }
    for (id, version) in missing {
        cache.put(id, version, read.remove(&id).unwrap_or_default());
    }
    Ok(objects)
}

/// The rows of `rows` that `columns` names (all without it).
fn chosen(rows: &[PropertyRow], columns: Option<&[String]>) -> Vec<PropertyRow> {
    match columns {
        None => rows.to_vec(),
        Some(columns) => rows
            .iter()
            .filter(|p| columns.contains(&p.name))
            .cloned()
            .collect(),
    }
}

/// The property rows of the objects `ids` (only `columns` when given), by object, in one
/// statement; an object without any has no entry.
fn rows_of(
    conn: &Connection,
    ids: &[ObjectId],
    columns: Option<&[String]>,
) -> Result<HashMap<ObjectId, Vec<PropertyRow>>, StoreError> {
    let mut found: HashMap<ObjectId, Vec<PropertyRow>> = HashMap::new();
    if ids.is_empty() {
        return Ok(found);
    }
    let ids_json = serde_json::to_string(ids).map_err(|e| StoreError::Database(e.to_string()))?;
    let columns_json = columns
        .map(|c| serde_json::to_string(c).map_err(|e| StoreError::Database(e.to_string())))
        .transpose()?;
    let mut stmt = conn.prepare_cached(
        "SELECT p.OwnerObjectId, p.PropertyName, p.PropertyType, p.PropertyValue, p.PropertyAsDouble, p.PropertyAsString \
         FROM Properties p WHERE p.OwnerObjectId IN (SELECT value FROM json_each(?1)) \
           AND (?2 IS NULL OR p.PropertyName IN (SELECT value FROM json_each(?2))) \
         ORDER BY p.OwnerObjectId, p.PropertyName",
    )?;
    let rows = stmt.query_map(rusqlite::params![ids_json, columns_json], |r| {
        Ok((r.get::<_, ObjectId>(0)?, property_from_row(r, 1)?))
    })?;
    for row in rows {
        let (owner, property) = row?;
        found.entry(owner).or_default().push(property);
    }
    Ok(found)
}

/// The three statements' texts and parameters.
struct Built {
    count_from: String,
    count_params: Vec<Sql>,
    page_from: String,
    page_params: Vec<Sql>,
    order: String,
    /// `, <key 0> AS k0, ...`: the sort keys' values, for the next page's token.
    key_columns: String,
}

impl Built {
    fn new(q: &TableQuery, stable: &walk::Stable) -> Built {
        // Joins that narrow (parent, filters), then WHERE; sort joins only for the page.
        let mut joins = String::new();
        let mut join_params = Vec::new();
        if let Some(parent) = q.parent_id {
            joins.push_str(
                " JOIN Relationships rp ON rp.ChildObjectId = o.ObjectId AND rp.ParentObjectId = ?",
            );
            join_params.push(Sql::Integer(parent));
        }
        let mut conditions = vec!["o.ObjectType = ?".to_string()];
        let mut where_params = vec![Sql::Text(q.object_type.clone())];
        for (i, f) in q.filters.iter().enumerate() {
            let value = match &f.value {
                FilterValue::Double(d) => Sql::Real(*d),
                FilterValue::Text(t) => Sql::Text(t.clone()),
            };
            match &f.key {
                Key::Double(name) | Key::Text(name) => {
                    let column = if matches!(f.key, Key::Double(_)) {
                        "PropertyAsDouble"
                    } else {
                        "PropertyValue"
                    };
                    joins.push_str(&format!(
                        " JOIN Properties f{i} ON f{i}.OwnerObjectId = o.ObjectId AND f{i}.PropertyName = ? AND f{i}.{column} = ?"
                    ));
                    join_params.push(Sql::Text(name.clone()));
                    join_params.push(value);
                }
                Key::System(field) => {
                    conditions.push(format!("{} = ?", system_column(*field, "o")));
                    where_params.push(value);
                }
            }
        }
        let mut sort_joins = Fragment::default();
        let (as_of_join, as_of_cond) = stable.join("o.ObjectId");
        sort_joins.append(as_of_join);
        let mut order = Vec::new();
        let mut keys = Vec::new();
        let mut key_columns = String::new();
        for (i, o) in q.order.iter().enumerate() {
            let current = sort_column(i, o, &mut sort_joins);
            let expr = stable.effective(i, &o.key, &current);
            let key = walk::key_expr(&o.key, expr, o.descending);
            let dir = if o.descending { "DESC" } else { "ASC" };
            order.push(format!(
                "({}) IS NULL, {} {dir}",
                key.expr,
                key.compare.replace("{}", &key.expr)
            ));
            key_columns.push_str(&format!(", {} AS k{i}", key.expr));
            keys.push(key);
        }
        order.push("o.ObjectId ASC".into());
        let mut tail = as_of_cond;
        if let Some(seek) = &q.walk.after {
            walk::push_keyset(&mut tail, &keys, "o.ObjectId", seek);
        }
        let where_clause = format!(" WHERE {}", conditions.join(" AND "));
        let count_params: Vec<Sql> = join_params.iter().chain(&where_params).cloned().collect();
        let page_params: Vec<Sql> = join_params
            .into_iter()
            .chain(sort_joins.params)
            .chain(where_params)
            .chain(tail.params)
            .collect();
        Built {
            count_from: format!("FROM Objects o{joins}{where_clause}"),
            count_params,
            page_from: format!(
                "FROM Objects o{joins}{}{where_clause}{}",
                sort_joins.sql, tail.sql
            ),
            page_params,
            order: order.join(", "),
            key_columns,
        }
    }
}
