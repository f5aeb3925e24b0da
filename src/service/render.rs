//! Records as clients see them: flat JSON objects (API.md §4) and CSV tables.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::convert;
use crate::model::PropertyType;
use crate::store::{ObjectRecord, PropertyRow};

fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// True when a property carries a `NAME@display` attribute.
fn has_display(ty: PropertyType) -> bool {
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

/// A page of objects as CSV, with a header row.
pub struct CsvTable;

impl CsvTable {
    /// Columns are the system fields, then `columns` (or every property the page has, by
    /// name), each Lookup/List column followed by its display column.
    pub fn render(
        records: &[ObjectRecord],
        columns: Option<&[String]>,
    ) -> Result<String, csv::Error> {
        let names: Vec<String> = match columns {
            Some(c) => c.to_vec(),
            None => records
                .iter()
                .flat_map(|r| r.properties.iter().map(|p| p.name.clone()))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        };
        let displayed: BTreeSet<&String> = records
            .iter()
            .flat_map(|r| r.properties.iter())
            .filter(|p| has_display(p.property_type))
            .map(|p| &p.name)
            .collect();
        let mut header: Vec<String> = crate::model::SYSTEM_FIELDS
            .iter()
            .map(|s| s.to_string())
            .collect();
        for n in &names {
            header.push(n.clone());
            if displayed.contains(n) {
                header.push(display_name(n));
            }
        }
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(&header)?;
        for r in records {
            let mut row = vec![
                r.id.to_string(),
                r.object_type.clone(),
                r.object_number.clone().unwrap_or_default(),
                timestamp(&r.created_at),
                timestamp(&r.updated_at),
            ];
            for n in &names {
                let p: Option<&PropertyRow> = r.property(n);
                row.push(p.map(cell).unwrap_or_default());
                if displayed.contains(n) {
                    row.push(p.and_then(|p| p.as_string.clone()).unwrap_or_default());
                }
            }
            out.write_record(&row)?;
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
