//! The data model's vocabulary: property types, names and the system fields.
//!
//! Everything here is pure and shared by the HTTP layer, the DSConfig loader, the conversion
//! rules, the query language and every store backend.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An object's id: unique across all types, assigned by the store.
pub type ObjectId = i64;

/// The system fields every object has. No property may use these names.
pub const SYSTEM_FIELDS: [&str; 5] = [
    "objectId",
    "objectType",
    "objectNumber",
    "createdAt",
    "updatedAt",
];

/// True when `name` is one of [`SYSTEM_FIELDS`].
pub fn is_system_field(name: &str) -> bool {
    SYSTEM_FIELDS.contains(&name)
}

/// Longest property or object type name (the contract's `{0,127}` plus the first character).
pub const MAX_NAME_LEN: usize = 128;

/// A name as the contract allows it: `^[A-Za-z_][A-Za-z0-9_]{0,127}$`.
///
/// Used for property names and object type names alike.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' => {}
        _ => return false,
    }
    bytes.len() <= MAX_NAME_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// A valid property name: the name pattern, and not a system field.
pub fn is_valid_property_name(name: &str) -> bool {
    is_valid_name(name) && !is_system_field(name)
}

/// Prefix of archived object types: `ARCH_Person` archives a Person (API.md §5).
pub const ARCHIVE_PREFIX: &str = "ARCH_";

/// The archived form of a type (`Person` -> `ARCH_Person`).
pub fn archived_type(object_type: &str) -> String {
    format!("{ARCHIVE_PREFIX}{object_type}")
}

/// True when giving an object of type `from` the type `to` archives it (`Person` ->
/// `ARCH_Person`) or restores it (`ARCH_Person` -> `Person`): the only type changes after
/// which Lookups pointing at the object stay valid (API.md §6). Archiving an archived type
/// again (`ARCH_ARCH_Person`) is not one: its Lookups would no longer find their type.
pub fn is_archive_change(from: &str, to: &str) -> bool {
    let archives = |plain: &str, archived: &str| {
        !plain.starts_with(ARCHIVE_PREFIX) && archived.strip_prefix(ARCHIVE_PREFIX) == Some(plain)
    };
    archives(from, to) || archives(to, from)
}

/// The property types of API.md §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PropertyType {
    String,
    Integer,
    Number,
    Currency,
    Date,
    Datetime,
    Time,
    Switch,
    Lookup,
    List,
    JsonArray,
    Map,
    Location,
    EncodedString,
    Image,
    FileLink,
    StaticFileLink,
}

impl PropertyType {
    /// Every type, in the contract's order.
    pub const ALL: [PropertyType; 17] = [
        PropertyType::String,
        PropertyType::Integer,
        PropertyType::Number,
        PropertyType::Currency,
        PropertyType::Date,
        PropertyType::Datetime,
        PropertyType::Time,
        PropertyType::Switch,
        PropertyType::Lookup,
        PropertyType::List,
        PropertyType::JsonArray,
        PropertyType::Map,
        PropertyType::Location,
        PropertyType::EncodedString,
        PropertyType::Image,
        PropertyType::FileLink,
        PropertyType::StaticFileLink,
    ];

    /// The name used in DSConfig, in the `PropertyType` column and in responses.
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyType::String => "String",
            PropertyType::Integer => "Integer",
            PropertyType::Number => "Number",
            PropertyType::Currency => "Currency",
            PropertyType::Date => "Date",
            PropertyType::Datetime => "Datetime",
            PropertyType::Time => "Time",
            PropertyType::Switch => "Switch",
            PropertyType::Lookup => "Lookup",
            PropertyType::List => "List",
            PropertyType::JsonArray => "JsonArray",
            PropertyType::Map => "Map",
            PropertyType::Location => "Location",
            PropertyType::EncodedString => "EncodedString",
            PropertyType::Image => "Image",
            PropertyType::FileLink => "FileLink",
            PropertyType::StaticFileLink => "StaticFileLink",
        }
    }

    /// Types a query compares as a whole (so a projection index on them serves queries).
    pub fn is_indexable(self) -> bool {
        !matches!(
            self,
            PropertyType::JsonArray
                | PropertyType::Map
                | PropertyType::Location
                | PropertyType::Image
                | PropertyType::FileLink
        )
    }

    /// Types a projection indexes by default: the ones forms filter and sort by.
    pub fn is_indexed_by_default(self) -> bool {
        matches!(
            self,
            PropertyType::List
                | PropertyType::Switch
                | PropertyType::Date
                | PropertyType::Datetime
                | PropertyType::Lookup
                | PropertyType::Integer
        )
    }

    /// Types that filter and sort by `PropertyAsDouble` rather than by text.
    pub fn compares_by_value(self) -> bool {
        matches!(
            self,
            PropertyType::Integer
                | PropertyType::Number
                | PropertyType::Currency
                | PropertyType::Date
                | PropertyType::Datetime
                | PropertyType::Time
                | PropertyType::Switch
                | PropertyType::Lookup
        )
    }
}

impl fmt::Display for PropertyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown property type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown property type `{0}`")]
pub struct UnknownPropertyType(pub String);

impl FromStr for PropertyType {
    type Err = UnknownPropertyType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PropertyType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownPropertyType(s.to_owned()))
    }
}

/// What a value is compared and sorted by: the vocabulary the query plan and the stores
/// share.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// `PropertyAsDouble` of a property.
    Double(String),
    /// `PropertyValue` of a property.
    Text(String),
    /// A system field (`objectId`, `objectNumber`, `createdAt`, `updatedAt`, `objectType`).
    System(SystemField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemField {
    ObjectId,
    ObjectType,
    ObjectNumber,
    CreatedAt,
    UpdatedAt,
}

impl SystemField {
    pub fn parse(name: &str) -> Option<SystemField> {
        Some(match name {
            "objectId" => SystemField::ObjectId,
            "objectType" => SystemField::ObjectType,
            "objectNumber" => SystemField::ObjectNumber,
            "createdAt" => SystemField::CreatedAt,
            "updatedAt" => SystemField::UpdatedAt,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub key: Key,
    pub descending: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_contract_pattern() {
        assert!(is_valid_name("firstName"));
        assert!(is_valid_name("_x9"));
        assert!(is_valid_name(&"a".repeat(128)));
        assert!(!is_valid_name(&"a".repeat(129)));
        assert!(!is_valid_name("9lives"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("first-name"));
        assert!(!is_valid_name("prénom"));
    }

    #[test]
    fn system_fields_are_not_property_names() {
        for f in SYSTEM_FIELDS {
            assert!(!is_valid_property_name(f));
        }
        assert!(is_valid_property_name("objectIds"));
    }

    #[test]
    fn property_types_round_trip_through_their_names() {
        for t in PropertyType::ALL {
            assert_eq!(t.as_str().parse::<PropertyType>(), Ok(t));
        }
        assert!("string".parse::<PropertyType>().is_err());
    }

    #[test]
    fn archiving_and_restoring_are_archive_changes_and_nothing_else_is() {
        assert!(is_archive_change("Person", "ARCH_Person"));
        assert!(is_archive_change("ARCH_Person", "Person"));
        assert!(!is_archive_change("Person", "Company"));
        assert!(!is_archive_change("Person", "ARCH_Company"));
        assert!(!is_archive_change("ARCH_Person", "ARCH_ARCH_Person"));
        assert!(!is_archive_change("Person", "Person"));
        assert_eq!(archived_type("Person"), "ARCH_Person");
    }
}
