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

/// An object as [`render_object`] renders it, serialized straight from the record: the same
/// bytes (the same attributes in the same order), without building a `Value` map first.
/// Properties are sorted by name and unique, as the store returns them; a record that is
/// not (never seen) is rendered through [`render_object`], so the answer is the same.
pub struct ObjectJson<'a>(pub &'a ObjectRecord);

impl serde::Serialize for ObjectJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let record = self.0;
        let unique = record
            .properties
            .windows(2)
            .all(|pair| pair[0].name < pair[1].name);
        if !unique {
            return render_object(record).serialize(serializer);
        }
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("objectId", &record.id)?;
        map.serialize_entry("objectType", &record.object_type)?;
        if let Some(number) = &record.object_number {
            map.serialize_entry("objectNumber", number)?;
        }
        map.serialize_entry("createdAt", &Timestamp(&record.created_at))?;
        map.serialize_entry("updatedAt", &Timestamp(&record.updated_at))?;
        for p in &record.properties {
            map.serialize_entry(&p.name, &PropertyJson(p))?;
            if let (true, Some(display)) = (has_display(p.property_type), &p.as_string) {
                map.serialize_entry(&DisplayKey(&p.name), display)?;
            }
        }
        map.end()
    }
}

/// A time as [`timestamp`] writes it.
struct Timestamp<'a>(&'a DateTime<Utc>);

impl serde::Serialize for Timestamp<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&timestamp(self.0))
    }
}

/// `NAME@display`, as [`display_name`] spells it.
struct DisplayKey<'a>(&'a str);

impl serde::Serialize for DisplayKey<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}@display", self.0))
    }
}

/// A property's value as [`convert::to_json`] gives it, serialized without a `Value` for
/// the scalar types.
struct PropertyJson<'a>(&'a PropertyRow);

impl serde::Serialize for PropertyJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0.value.as_str();
        match self.0.property_type {
            PropertyType::Integer | PropertyType::Lookup => match value.parse::<i64>() {
                Ok(n) => serializer.serialize_i64(n),
                Err(_) => serializer.serialize_str(value),
            },
            PropertyType::Number => match value.parse::<f64>() {
                Ok(n) if n.is_finite() => serializer.serialize_f64(n),
                _ => serializer.serialize_str(value),
            },
            PropertyType::Switch => match value {
                "true" => serializer.serialize_bool(true),
                "false" => serializer.serialize_bool(false),
                _ => serializer.serialize_str(value),
            },
            PropertyType::JsonArray
            | PropertyType::Map
            | PropertyType::Location
            | PropertyType::Image
            | PropertyType::FileLink => {
                convert::to_json(self.0.property_type, value).serialize(serializer)
            }
            _ => serializer.serialize_str(value),
        }
    }
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
    use super::{inert, render_object, ObjectJson};
    use crate::model::PropertyType;
    use crate::store::{ObjectRecord, PropertyRow};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn value_for(ty: PropertyType) -> impl Strategy<Value = String> {
        let any_text = "\\PC{0,12}";
        match ty {
            PropertyType::Integer | PropertyType::Lookup => {
                prop_oneof![any::<i64>().prop_map(|n| n.to_string()), any_text.boxed()].boxed()
            }
            PropertyType::Number => prop_oneof![
                any::<f64>().prop_map(|n| n.to_string()),
                Just("1e400".to_owned()),
                Just("NaN".to_owned()),
                any_text.boxed()
            ]
            .boxed(),
            PropertyType::Switch => prop_oneof![
                Just("true".to_owned()),
                Just("false".to_owned()),
                any_text.boxed()
            ]
            .boxed(),
            PropertyType::JsonArray | PropertyType::Map | PropertyType::Location => prop_oneof![
                Just(r#"[1,"a",{"b":null}]"#.to_owned()),
                Just(r#"{"z":1,"a":[true]}"#.to_owned()),
                Just("{not json".to_owned()),
                any_text.boxed()
            ]
            .boxed(),
            _ => any_text.boxed(),
        }
    }

    fn property() -> impl Strategy<Value = PropertyRow> {
        (
            "[a-z_]{1,6}",
            proptest::sample::select(PropertyType::ALL.to_vec()),
            proptest::option::of("\\PC{0,8}"),
        )
            .prop_flat_map(|(name, ty, as_string)| {
                value_for(ty).prop_map(move |value| PropertyRow {
                    name: name.clone(),
                    property_type: ty,
                    value,
                    as_double: None,
                    as_string: as_string.clone(),
                })
            })
    }

    fn record() -> impl Strategy<Value = ObjectRecord> {
        (
            any::<i64>(),
            "\\PC{0,10}",
            proptest::option::of("\\PC{0,6}"),
            0i64..4_000_000_000_000,
            proptest::collection::vec(property(), 0..10),
            any::<bool>(),
        )
            .prop_map(
                |(id, object_type, object_number, millis, mut properties, sort)| {
                    // As the store returns them (sorted, unique), or not (the fallback).
                    if sort {
                        properties.sort_by(|a, b| a.name.cmp(&b.name));
                        properties.dedup_by(|a, b| a.name == b.name);
                    }
                    let at = chrono::Utc.timestamp_millis_opt(millis).unwrap();
                    ObjectRecord {
                        id,
                        object_type,
                        object_number,
                        created_at: at,
                        updated_at: at + chrono::Duration::milliseconds(1234),
                        properties,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn an_object_serialized_straight_is_the_rendered_object(record in record()) {
            let straight = serde_json::to_vec(&ObjectJson(&record)).unwrap();
            let rendered = serde_json::to_vec(&render_object(&record)).unwrap();
            prop_assert_eq!(
                String::from_utf8(straight).unwrap(),
                String::from_utf8(rendered).unwrap()
            );
        }
    }

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
