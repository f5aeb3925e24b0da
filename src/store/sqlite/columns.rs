//! Which properties the objects of a type have (the columns of a CSV answer), without
//! reading the type's properties.
//!
//! The distinct property names of the whole store are walked through the index on
//! `(PropertyName, ...)`, one seek per name (a skip scan). For each name, the question "does
//! an object of the type have it" is answered from whichever side is smaller: the rows of
//! that name, or the objects of the type. Neither size is known beforehand (SQLite's
//! statistics are averages), so both are looked at in growing windows, turn about; a
//! window that finds an object answers yes, a side that ends inside its window answers no.
//! The work per name is thus at most a small multiple of the smaller side, and a name the
//! type has is usually found in the first window (docs/DECISIONS.md).

use rusqlite::{params, Connection, OptionalExtension};

use crate::model::PropertyType;
use crate::store::StoreError;

/// The first property name after `?1`, in the whole store.
const NEXT_PROPERTY_NAME: &str =
    "SELECT PropertyName FROM Properties WHERE PropertyName > ?1 ORDER BY PropertyName LIMIT 1";

/// Of the first `?3` rows of property `?1`: how many there are, and an owner of type `?2`.
const BY_NAME: &str = "SELECT COUNT(*), MIN(CASE WHEN o.ObjectType = ?2 THEN o.ObjectId END) \
     FROM (SELECT OwnerObjectId FROM Properties WHERE PropertyName = ?1 LIMIT ?3) AS c \
     JOIN Objects o ON o.ObjectId = c.OwnerObjectId";

/// Of the first `?3` objects of type `?2`: how many there are, and one having property `?1`.
const BY_TYPE: &str = "SELECT COUNT(*), MIN(CASE WHEN EXISTS (SELECT 1 FROM Properties p \
     WHERE p.OwnerObjectId = c.ObjectId AND p.PropertyName = ?1) THEN c.ObjectId END) \
     FROM (SELECT ObjectId FROM Objects WHERE ObjectType = ?2 LIMIT ?3) AS c";

/// The stored type of property `?2` of object `?1`.
const STORED_TYPE: &str =
    "SELECT PropertyType FROM Properties WHERE OwnerObjectId = ?1 AND PropertyName = ?2";

/// The first window; each next one is four times larger.
const FIRST_WINDOW: i64 = 64;

pub(super) fn property_names(
    conn: &Connection,
    object_type: &str,
    names: Option<&[String]>,
) -> Result<Vec<(String, PropertyType)>, StoreError> {
    let candidates = match names {
        Some(names) => names.to_vec(),
        None => {
            let mut next = conn.prepare_cached(NEXT_PROPERTY_NAME)?;
            let mut all = Vec::new();
            let mut after = String::new();
            while let Some(name) = next
                .query_row([&after], |r| r.get::<_, String>(0))
                .optional()?
            {
                all.push(name.clone());
                after = name;
            }
            all
        }
    };
    let mut found = Vec::new();
    for name in candidates {
        if let Some(ty) = stored_type(conn, object_type, &name)? {
            found.push((name, ty));
        }
    }
    found.sort();
    found.dedup_by(|a, b| a.0 == b.0);
    Ok(found)
}

/// The type property `name` was stored as on some object of `object_type`, if any has it.
fn stored_type(
    conn: &Connection,
    object_type: &str,
    name: &str,
) -> Result<Option<PropertyType>, StoreError> {
    let mut window = FIRST_WINDOW;
    loop {
        for side in [BY_NAME, BY_TYPE] {
            let (seen, owner): (i64, Option<i64>) = conn
                .prepare_cached(side)?
                .query_row(params![name, object_type, window], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            if let Some(owner) = owner {
                let ty: Option<String> = conn
                    .prepare_cached(STORED_TYPE)?
                    .query_row(params![owner, name], |r| r.get(0))
                    .optional()?;
                return Ok(ty.map(|t| t.parse().unwrap_or(PropertyType::String)));
            }
            if seen < window {
                return Ok(None);
            }
        }
        window = window.saturating_mul(4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate::run(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO Objects (ObjectId, ObjectType, ObjectNumber, CreatedAt, UpdatedAt) VALUES (1, 'Person', NULL, 't', 't'), (2, 'Company', NULL, 't', 't');
             INSERT INTO Properties VALUES
               (1, 'age', 'Integer', '3', 3, NULL),
               (1, 'boss', 'Lookup', '2', 2, 'Acme'),
               (2, 'name', 'String', 'Acme', NULL, NULL),
               (2, 'age', 'Integer', '9', 9, NULL);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn only_the_names_objects_of_the_type_have_are_found_with_their_stored_type() {
        let conn = store();
        assert_eq!(
            property_names(&conn, "Person", None).unwrap(),
            [
                ("age".to_string(), PropertyType::Integer),
                ("boss".to_string(), PropertyType::Lookup)
            ]
        );
        let asked = ["name".to_string(), "boss".into(), "nope".into()];
        assert_eq!(
            property_names(&conn, "Person", Some(&asked)).unwrap(),
            [("boss".to_string(), PropertyType::Lookup)]
        );
        assert!(property_names(&conn, "City", None).unwrap().is_empty());
    }

    #[test]
    fn a_name_is_found_beyond_the_first_windows_from_either_side() {
        let conn = store();
        // 300 Invoices have `late`; of 300 Orders after them, only the last has it.
        let tx = conn.unchecked_transaction().unwrap();
        for id in 10..610 {
            let ty = if id < 310 { "Invoice" } else { "Order" };
            tx.execute(
                "INSERT INTO Objects (ObjectId, ObjectType, ObjectNumber, CreatedAt, UpdatedAt) VALUES (?1, ?2, NULL, 't', 't')",
                params![id, ty],
            )
            .unwrap();
            if id < 310 || id == 609 {
                tx.execute(
                    "INSERT INTO Properties VALUES (?1, 'late', 'Integer', '1', 1, NULL)",
                    params![id],
                )
                .unwrap();
            }
        }
        tx.commit().unwrap();
        assert_eq!(
            stored_type(&conn, "Order", "late").unwrap(),
            Some(PropertyType::Integer)
        );
        assert_eq!(stored_type(&conn, "Order", "age").unwrap(), None);
        assert_eq!(stored_type(&conn, "Invoice", "name").unwrap(), None);
        assert_eq!(stored_type(&conn, "Order", "name").unwrap(), None);
    }

    #[test]
    fn the_walk_seeks_the_name_index_and_never_scans_properties() {
        let conn = store();
        for (sql, params) in [
            (NEXT_PROPERTY_NAME, params!["age"]),
            (BY_NAME, params!["age", "Person", 64]),
            (BY_TYPE, params!["age", "Person", 64]),
            (STORED_TYPE, params![1, "age"]),
        ] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(params, |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            // `SCAN c` reads the window, already bounded by its LIMIT.
            assert!(
                plan.iter()
                    .all(|step| !step.starts_with("SCAN") || step == "SCAN c"),
                "{sql}: {plan:?}"
            );
        }
    }
}
