//! Records as clients see them: flat JSON objects (API.md §4) and CSV tables.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::convert;
use crate::model::PropertyType;
use crate::store::{ObjectRecord, PropertyRow};

fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// True when a property carries a `NAME@display` attribute.
pub(crate) fn has_display(ty: PropertyType) -> bool {
    matches!(ty, PropertyType::Lookup | PropertyType::List)
}

/// The display attribute's name.
pub fn display_name(name: &str) -> String {
    format!("{name}@display")
}

/// System fields, then one attribute per property, plus `NAME@display` for Lookup and List.
pub fn render_object(record: &ObjectRecord) -> Value {
    let mut object = Map::new();
    object.insert("objectId".into(), record.id.into());
    object.insert("objectType".into(), record.object_type.clone().into());
    // An absent value is an absent attribute, never `null` (API.md §2).
    if let Some(number) = &record.object_number {
        object.insert("objectNumber".into(), number.clone().into());
    }
    object.insert("createdAt".into(), timestamp(&record.created_at).into());
    object.insert("updatedAt".into(), timestamp(&record.updated_at).into());
    for p in &record.properties {
        object.insert(p.name.clone(), convert::to_json(p.property_type, &p.value));
        if let (true, Some(display)) = (has_display(p.property_type), &p.as_string) {
            object.insert(display_name(&p.name), display.clone().into());
        }
    }
    Value::Object(object)
}

/// One property column of a CSV answer, and whether its `NAME@display` column follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvColumn {
    pub name: String,
    pub display: bool,
}

/// A page of objects as CSV, with a header row.
pub struct CsvTable;

impl CsvTable {
    /// Columns are the system fields, then `columns`, each with a Lookup or List column
    /// followed by its display column. The header depends on `columns` only, never on the
    /// records (see [`crate::service::Datastore::csv_columns`]).
    pub fn render(records: &[ObjectRecord], columns: &[CsvColumn]) -> Result<String, csv::Error> {
        let mut header: Vec<String> = crate::model::SYSTEM_FIELDS
            .iter()
            .map(|s| s.to_string())
            .collect();
        for c in columns {
            header.push(c.name.clone());
            if c.display {
                header.push(display_name(&c.name));
            }
        }
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(header.into_iter().map(inert))?;
        for r in records {
            let mut row = vec![
                r.id.to_string(),
                r.object_type.clone(),
                r.object_number.clone().unwrap_or_default(),
                timestamp(&r.created_at),
                timestamp(&r.updated_at),
            ];
            for c in columns {
                let p: Option<&PropertyRow> = r.property(&c.name);
                row.push(p.map(cell).unwrap_or_default());
                if c.display {
                    row.push(p.and_then(|p| p.as_string.clone()).unwrap_or_default());
                }
            }
            out.write_record(row.into_iter().map(inert))?;
        }
        let bytes = out.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// A property's CSV cell: text as is, structured values as JSON text.
fn cell(p: &PropertyRow) -> String {
    match convert::to_json(p.property_type, &p.value) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// A cell a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or
/// a carriage return) gets a leading `'` (API.md §2, OWASP's advice on CSV injection). A
/// negative number (`-5`) is no exception: a spreadsheet cannot tell it from `-2+3`.
pub(crate) fn inert(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::inert;

    #[test]
    fn cells_a_spreadsheet_would_run_get_a_leading_apostrophe() {
        for (cell, written) in [
            ("=1+2", "'=1+2"),
            ("+49 30 1234", "'+49 30 1234"),
            ("-5", "'-5"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("a=b", "a=b"),
            ("5", "5"),
            ("", ""),
            (" =x", " =x"),
        ] {
            assert_eq!(inert(cell.to_owned()), written, "{cell:?}");
        }
    }
}
