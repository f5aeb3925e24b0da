//! T-SQL whose shape depends on the request: id lists, related objects, DSConfig rows.
//! (The table view has its own builder in `table.rs`.)
//!
//! Id lists become `IN (@P1, ..., @Pn)`. `n` is rounded up to a power of two (the last id
//! repeated), so SQL Server caches a handful of plans instead of one per list length, and
//! lists are cut into chunks well below the 2100-parameter limit.

use super::exec::Param;
use crate::model::ObjectId;
use crate::store::Direction;

/// Most ids in one statement.
pub const CHUNK: usize = 512;

/// `@P{first}, @P{first+1}, ...` (`n` of them).
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("@P{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ids in chunks of at most [`CHUNK`], each padded to a power of two.
pub fn id_chunks(ids: &[ObjectId]) -> Vec<Vec<ObjectId>> {
    ids.chunks(CHUNK)
        .map(|chunk| {
            let mut padded = chunk.to_vec();
            let len = chunk.len().next_power_of_two().min(CHUNK);
            if let Some(&last) = chunk.last() {
                padded.resize(len, last);
            }
            padded
        })
        .collect()
}

/// Locks `n` objects as `sql::LOCK_OBJECT` does and answers which of them exist.
pub fn lock_objects(n: usize) -> String {
    let ids = placeholders(1, n);
    format!(
        "UPDATE dbo.Objects SET UpdatedAt = UpdatedAt WHERE ObjectId IN ({ids});\n\
         SELECT ObjectId FROM dbo.Objects WHERE ObjectId IN ({ids});"
    )
}

/// The children of `n` parents, grouped by parent, each group in child id order.
pub fn children_of(n: usize) -> String {
    format!(
        "SELECT r.ParentObjectId, r.ChildObjectId, o.ObjectType, r.Strict \
         FROM dbo.Relationships AS r JOIN dbo.Objects AS o ON o.ObjectId = r.ChildObjectId \
         WHERE r.ParentObjectId IN ({}) ORDER BY r.ParentObjectId, r.ChildObjectId",
        placeholders(1, n)
    )
}

/// Deletes `n` objects: their relationship rows, then the objects (their properties go by
/// `ON DELETE CASCADE`).
pub fn delete_objects(n: usize) -> String {
    let ids = placeholders(1, n);
    format!(
        "DELETE FROM dbo.Relationships WHERE ParentObjectId IN ({ids});\n\
         DELETE FROM dbo.Relationships WHERE ChildObjectId IN ({ids});\n\
         DELETE FROM dbo.Objects WHERE ObjectId IN ({ids});"
    )
}

/// Deletes the files linked to `n` properties (`@P2..`) of object `@P1` (their chunks go by
/// `ON DELETE CASCADE`).
pub fn unlink_files(n: usize) -> String {
    format!(
        "DELETE FROM dbo.Files WHERE OwnerObjectId = @P1 AND PropertyName IN ({})",
        placeholders(2, n)
    )
}

/// Owners of Lookups pointing at any of `n` objects (bound as floats, as
/// `PropertyAsDouble` holds them), the first 100 by id.
pub fn lookup_references(n: usize) -> String {
    format!(
        "SELECT DISTINCT TOP (100) OwnerObjectId FROM dbo.Properties \
         WHERE PropertyType = N'Lookup' AND PropertyAsDouble IN ({}) ORDER BY OwnerObjectId",
        placeholders(1, n)
    )
}

/// The properties of `ids` objects (`@P1..`), only the `columns` names after them if given.
pub fn page_properties(ids: usize, columns: Option<usize>) -> String {
    let names = match columns {
        Some(n) => format!(" AND p.PropertyName IN ({})", placeholders(ids + 1, n)),
        None => String::new(),
    };
    format!(
        "SELECT p.OwnerObjectId, p.PropertyName, p.PropertyType, p.PropertyValue, \
         p.PropertyAsDouble, p.PropertyAsString FROM dbo.Properties AS p \
         WHERE p.OwnerObjectId IN ({}){names} ORDER BY p.OwnerObjectId, p.PropertyName",
        placeholders(1, ids)
    )
}

/// A page of the children or parents of `@P1` (of type `@P2` when `typed`; offset and
/// limit bound after), in four result sets: whether `@P1` exists, the number of matches,
/// the page's objects with `Strict`, and their properties. Without a page (`paged` false,
/// a limit of 0) only the first two.
#[cfg(test)]
pub fn related(direction: Direction, typed: bool, paged: bool) -> String {
    related_walk(direction, typed, paged, false, true)
}

/// As [`related`]; with `after`, only related objects with ids above the parameter after
/// the limit (cursor paging); without `counted`, the total is 0 and nothing is counted.
pub fn related_walk(
    direction: Direction,
    typed: bool,
    paged: bool,
    after: bool,
    counted: bool,
) -> String {
    let (near, far) = match direction {
        Direction::Children => ("ParentObjectId", "ChildObjectId"),
        Direction::Parents => ("ChildObjectId", "ParentObjectId"),
    };
    let of_type = if typed { " AND o.ObjectType = @P2" } else { "" };
    let first = if typed { 3 } else { 2 };
    let (offset, limit, after_p) = (first, first + 1, first + 2);
    let after = if after && paged {
        format!(" AND r.{far} > @P{after_p}")
    } else {
        String::new()
    };
    let from = format!(
        "FROM dbo.Relationships AS r JOIN dbo.Objects AS o ON o.ObjectId = r.{far} \
         WHERE r.{near} = @P1{of_type}"
    );
    let count = if counted {
        format!("SELECT COUNT_BIG(*) {from}")
    } else {
        "SELECT CAST(0 AS bigint)".to_string()
    };
    let mut sql = format!("SELECT COUNT_BIG(*) FROM dbo.Objects WHERE ObjectId = @P1;\n{count}");
    if paged {
        let page =
            format!("ORDER BY o.ObjectId OFFSET @P{offset} ROWS FETCH NEXT @P{limit} ROWS ONLY");
        sql.push_str(&format!(
            ";\nSELECT o.ObjectId, o.ObjectType, o.ObjectNumber, o.CreatedAt, o.UpdatedAt, \
             r.Strict {from}{after} {page};\n\
             SELECT p.OwnerObjectId, p.PropertyName, p.PropertyType, p.PropertyValue, \
             p.PropertyAsDouble, p.PropertyAsString \
             FROM (SELECT o.ObjectId {from}{after} {page}) AS pg \
             JOIN dbo.Properties AS p ON p.OwnerObjectId = pg.ObjectId \
             ORDER BY p.OwnerObjectId, p.PropertyName"
        ));
    }
    sql
}

/// Lookups `@P1` of objects of type `@P2` pointing at any of `n` objects (`@P4..`, as
/// floats): their owners (`select`), or their display text set to `@P3` (not `select`).
pub fn lookups_pointing_at(n: usize, select: bool) -> String {
    let filter = format!(
        "p.PropertyType = N'Lookup' AND p.PropertyName = @P1 AND p.PropertyAsDouble IN ({}) \
         AND EXISTS (SELECT 1 FROM dbo.Objects AS o WHERE o.ObjectId = p.OwnerObjectId \
         AND o.ObjectType = @P2)",
        placeholders(4, n)
    );
    if select {
        format!("SELECT DISTINCT p.OwnerObjectId FROM dbo.Properties AS p WHERE {filter}")
    } else {
        format!("UPDATE p SET PropertyAsString = @P3 FROM dbo.Properties AS p WHERE {filter}")
    }
}

/// Recomputes the display texts of Lookup `@P1` on objects of type `@P2` with ids in
/// `(@P3, @P4]`, from the targets' property `@P5` or, for `objectId` / `objectNumber`,
/// that system field. Only rows whose text changes are written. The targets are read
/// under shared locks kept to commit (row versions could be older than a write that
/// commits meanwhile, and its text would be overwritten with the old one).
pub fn refresh_lookup_displays(display: &str) -> String {
    let text = match display {
        "objectId" => "p.PropertyValue".to_owned(),
        "objectNumber" => "(SELECT t.ObjectNumber FROM dbo.Objects AS t WITH (REPEATABLEREAD) \
             WHERE t.ObjectId = TRY_CAST(p.PropertyValue AS bigint))"
            .to_owned(),
        _ => format!(
            "(SELECT {} FROM dbo.Properties AS t WITH (REPEATABLEREAD) \
             WHERE t.OwnerObjectId = TRY_CAST(p.PropertyValue AS bigint) AND t.PropertyName = @P5)",
            super::sql::DISPLAY_OF_ROW
        ),
    };
    refresh_displays("Lookup", &text)
}

/// As [`refresh_lookup_displays`] for List `@P1`, from the stored items of list `@P5`; a
/// code no longer in the list has no display text.
pub fn refresh_list_displays() -> String {
    refresh_displays(
        "List",
        "(SELECT li.Value FROM dbo.ListItems AS li \
         WHERE li.ListName = @P5 AND li.Code = p.PropertyValue)",
    )
}

fn refresh_displays(property_type: &str, text: &str) -> String {
    format!(
        "UPDATE p SET PropertyAsString = x.Text FROM dbo.Properties AS p \
         JOIN dbo.Objects AS o ON o.ObjectId = p.OwnerObjectId \
         CROSS APPLY (SELECT {text} AS Text) AS x \
         WHERE p.PropertyName = @P1 AND p.PropertyType = N'{property_type}' \
         AND o.ObjectType = @P2 AND o.ObjectId > @P3 AND o.ObjectId <= @P4 \
         AND (p.PropertyAsString IS NULL AND x.Text IS NOT NULL \
              OR p.PropertyAsString IS NOT NULL AND x.Text IS NULL \
              OR DATALENGTH(p.PropertyAsString) <> DATALENGTH(x.Text) \
              OR p.PropertyAsString <> x.Text)"
    )
}

/// Most ListItems rows in one INSERT (4 parameters each).
pub const LIST_ITEM_ROWS: usize = 400;

/// Inserts `rows` ListItems rows.
pub fn insert_list_items(rows: usize) -> String {
    let values = (0..rows)
        .map(|r| format!("({})", placeholders(r * 4 + 1, 4)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("INSERT INTO dbo.ListItems (ListName, Code, Value, Position) VALUES {values}")
}

/// Most PropertyConfig rows in one INSERT (6 parameters each).
pub const CONFIG_ROWS: usize = 100;

/// Inserts `rows` PropertyConfig rows.
pub fn insert_property_config(rows: usize) -> String {
    let values = (0..rows)
        .map(|r| format!("({})", placeholders(r * 6 + 1, 6)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO dbo.PropertyConfig (ObjectType, PropertyName, PropertyType, ListName, \
         LookupObjectType, LookupDisplay) VALUES {values}"
    )
}

/// Ids as parameters.
pub fn int_params(ids: &[ObjectId]) -> Vec<Param> {
    ids.iter().map(|id| Param::Int(*id)).collect()
}

/// Ids as float parameters (to compare with `PropertyAsDouble`).
pub fn float_params(ids: &[ObjectId]) -> Vec<Param> {
    ids.iter().map(|id| Param::Float(*id as f64)).collect()
}
