//! Table views on the embedded store: one statement picks the page of object ids (filtered,
//! sorted, paged), one counts the matches, one reads the page's properties.

use std::collections::HashMap;

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};

use super::counts::Snapshot;
use super::objects::{object_from_row, property_from_row};
use super::query::{sort_terms, system_column, Fragment};
use crate::model::ObjectId;
use crate::store::{FilterValue, Key, ObjectRecord, Page, StoreError, TableQuery};

pub(super) fn list_table(s: &mut Snapshot<'_>, q: &TableQuery) -> Result<Page, StoreError> {
    if let Some(page) = super::projected::table(s, q)? {
        return Ok(page);
    }
    list_table_eav(s, q)
}

/// A table view over the EAV rows (the plan every view has; see `projected.rs`).
pub(super) fn list_table_eav(s: &mut Snapshot<'_>, q: &TableQuery) -> Result<Page, StoreError> {
    let built = Built::new(q);
    let total = s.count(
        &format!("SELECT COUNT(*) {}", built.count_from),
        &built.count_params,
    )?;
    let mut page_params = built.page_params.clone();
    page_params.push(Sql::Integer(q.limit.min(i64::MAX as u64) as i64));
    page_params.push(Sql::Integer(q.offset.min(i64::MAX as u64) as i64));
    let sql = format!(
        "SELECT o.ObjectId, o.ObjectType, o.ObjectNumber, o.CreatedAt, o.UpdatedAt {} ORDER BY {} LIMIT ? OFFSET ?",
        built.page_from, built.order
    );
    let conn = s.conn;
    let objects = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(page_params.iter()), object_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let objects = with_properties(conn, objects, q.columns.as_deref())?;
    Ok(Page { objects, total })
}

/// Reads the properties of a page of objects in one statement and attaches them.
pub(crate) fn with_properties(
    conn: &Connection,
    mut objects: Vec<ObjectRecord>,
    columns: Option<&[String]>,
) -> Result<Vec<ObjectRecord>, StoreError> {
    if objects.is_empty() {
        return Ok(objects);
    }
    let ids: Vec<ObjectId> = objects.iter().map(|o| o.id).collect();
    let ids_json = serde_json::to_string(&ids).map_err(|e| StoreError::Database(e.to_string()))?;
    let columns_json = columns
        .map(|c| serde_json::to_string(c).map_err(|e| StoreError::Database(e.to_string())))
        .transpose()?;
    let mut stmt = conn.prepare_cached(
        "SELECT p.OwnerObjectId, p.PropertyName, p.PropertyType, p.PropertyValue, p.PropertyAsDouble, p.PropertyAsString \
         FROM Properties p WHERE p.OwnerObjectId IN (SELECT value FROM json_each(?1)) \
           AND (?2 IS NULL OR p.PropertyName IN (SELECT value FROM json_each(?2))) \
         ORDER BY p.OwnerObjectId, p.PropertyName",
    )?;
    let position: HashMap<ObjectId, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let rows = stmt.query_map(rusqlite::params![ids_json, columns_json], |r| {
        Ok((r.get::<_, ObjectId>(0)?, property_from_row(r, 1)?))
    })?;
    for row in rows {
        let (owner, property) = row?;
        if let Some(&i) = position.get(&owner) {
            objects[i].properties.push(property);
        }
    }
    Ok(objects)
}

/// The three statements' texts and parameters.
struct Built {
    count_from: String,
    count_params: Vec<Sql>,
    page_from: String,
    page_params: Vec<Sql>,
    order: String,
}

impl Built {
    fn new(q: &TableQuery) -> Built {
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
        let mut order: Vec<String> = q
            .order
            .iter()
            .enumerate()
            .map(|(i, o)| sort_terms(i, o, &mut sort_joins))
            .collect();
        order.push("o.ObjectId ASC".into());
        let where_clause = format!(" WHERE {}", conditions.join(" AND "));
        let count_params: Vec<Sql> = join_params.iter().chain(&where_params).cloned().collect();
        let page_params: Vec<Sql> = join_params
            .into_iter()
            .chain(sort_joins.params)
            .chain(where_params)
            .collect();
        Built {
            count_from: format!("FROM Objects o{joins}{where_clause}"),
            count_params,
            page_from: format!("FROM Objects o{joins}{}{where_clause}", sort_joins.sql),
            page_params,
            order: order.join(", "),
        }
    }
}
