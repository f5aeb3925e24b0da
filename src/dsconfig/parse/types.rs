//! `[types.NAME]`: an object type's numbering, `global` flag and properties, in the shorthand
//! (`age = "Integer"`) or the table form (`{ type = "Lookup", objectType = ..., display = ... }`).

use std::collections::{BTreeMap, BTreeSet};

use toml::de::{DeTable, DeValue};

use super::{FileParser, Key, RefLines, TypeDecl, Value, NAME_RULE};
use crate::dsconfig::{Numbering, PropertyConfig, TypeConfig};
use crate::model::{is_system_field, is_valid_name, PropertyType};

/// Numbering width limit: an `i64` counter has at most 19 digits; 18 keep clear of overflow.
const MAX_WIDTH: i64 = 18;

/// Most properties in one declared index.
const MAX_INDEX_COLUMNS: usize = 8;

/// A `list`, `objectType` or `display` key seen in a property table.
struct Field {
    /// None when the value was not a string (already reported).
    value: Option<String>,
    line: usize,
}

impl FileParser {
    pub(super) fn object_type(&mut self, key: &Key, value: &Value) -> TypeDecl {
        let name = key.get_ref().to_string();
        if !is_valid_name(&name) {
            self.error(key, format!("invalid type name `{name}`: {NAME_RULE}"));
        }
        let mut decl = TypeDecl {
            line: self.line(key.span()),
            config: TypeConfig::default(),
            property_names: BTreeSet::new(),
            ref_lines: BTreeMap::new(),
            name,
        };
        let place = format!("in [types.{}]", decl.name);
        let Some(table) = self.table(value, &format!("type `{}`", decl.name)) else {
            return decl;
        };
        let mut index = None;
        let mut counts = None;
        for (key, value) in table.iter() {
            match key.get_ref().as_ref() {
                "index" => index = Some(value),
                "counts" => counts = Some(value),
                "numbering" => decl.config.numbering = self.numbering(value, &decl.name),
                "global" => match value.get_ref() {
                    DeValue::Boolean(global) => decl.config.global = *global,
                    other => {
                        let message =
                            format!("`global` must be true or false, found {}", other.type_str());
                        self.error(value, message);
                    }
                },
                "properties" => {
                    let Some(properties) = self.table(value, "`properties`") else {
                        continue;
                    };
                    for (key, value) in properties.iter() {
                        decl.property_names.insert(key.get_ref().to_string());
                        if let Some((config, lines)) = self.property(&decl.name, key, value) {
                            decl.ref_lines.insert(key.get_ref().to_string(), lines);
                            decl.config
                                .properties
                                .insert(key.get_ref().to_string(), config);
                        }
                    }
                }
                _ => self.unknown_key(
                    key,
                    &place,
                    "numbering, global, index, counts or properties",
                ),
            }
        }
        if let Some(value) = index {
            decl.config.index = self.indexes(value, &decl);
        }
        if let Some(value) = counts {
            decl.config.counts = self.counts(value, &decl);
        }
        decl
    }

    /// The entries of the array `value`; `array` (what `value` must be), with what was
    /// found, is reported when it is not one.
    fn entries<'v, 'i>(&mut self, value: &'v Value<'i>, array: &str) -> Vec<&'v Value<'i>> {
        match value.get_ref() {
            DeValue::Array(entries) => entries.iter().collect(),
            other => {
                let message = format!("{array}, found {}", other.type_str());
                self.error(value, message);
                Vec::new()
            }
        }
    }

    /// The text of `entry`; `what` (what it must be), with what was found, is reported
    /// when it is not a string.
    fn string_of<'v>(&mut self, entry: &'v Value<'_>, what: &str) -> Option<&'v str> {
        match entry.get_ref() {
            DeValue::String(text) => Some(text.as_ref()),
            other => {
                let message = format!("{what}, found {}", other.type_str());
                self.error(entry, message);
                None
            }
        }
    }

    /// `counts = ["age", "firstName, status", ...]`: declared properties compared as a
    /// whole, each once, whose projection rows are counted per value (a Lookup is counted
    /// per target already), and pairs of them (the `index` key's "a, b" spelling), whose rows
    /// are counted per pair of values. A pair is kept as "a, b".
    fn counts(&mut self, value: &Value, decl: &TypeDecl) -> Vec<String> {
        let mut counts = Vec::new();
        let array = "`counts` must be an array of property names such as \"age\"";
        for entry in self.entries(value, array) {
            let Some(text) = self.string_of(entry, "a `counts` entry must be a property name")
            else {
                continue;
            };
            let names: Vec<String> = text.split(',').map(|n| n.trim().to_owned()).collect();
            if names.len() > 2 || names.iter().any(String::is_empty) {
                let message = format!(
                    "counts \"{text}\" of `{}` must name one property or a pair of them \
                     (\"firstName, status\")",
                    decl.name
                );
                self.error(entry, message);
                continue;
            }
            let pair = names.len() == 2;
            let name = names.join(", ");
            let mut problems = Vec::new();
            if counts.contains(&name) {
                problems.push(format!("names `{name}` twice"));
            } else if pair && names[0] == names[1] {
                problems.push(format!("names `{}` twice", names[0]));
            } else {
                for one in &names {
                    match whole_property(decl, one) {
                        // A property with problems of its own: already reported.
                        None => problems.push(String::new()),
                        // A pair may hold a Lookup (its equalities read `d<k>`).
                        Some(Ok(PropertyType::Lookup)) if !pair => problems.push(format!(
                            "names `{one}`, a Lookup, which is counted per target already"
                        )),
                        Some(Ok(_)) => {}
                        Some(Err(problem)) => problems.push(problem),
                    }
                }
            }
            for problem in problems.iter().filter(|p| !p.is_empty()) {
                self.error(entry, format!("counts {problem}"));
            }
            if problems.is_empty() {
                counts.push(name);
            }
        }
        counts
    }

    /// `index = ["status, birthDate", ...]`: each entry names declared properties that can
    /// be compared as a whole, each once.
    fn indexes(&mut self, value: &Value, decl: &TypeDecl) -> Vec<Vec<String>> {
        let mut indexes = Vec::new();
        let array = "`index` must be an array of strings such as \"status, birthDate\"";
        for entry in self.entries(value, array) {
            let what = "an `index` entry must be a string of property names";
            let Some(text) = self.string_of(entry, what) else {
                continue;
            };
            let names: Vec<String> = text.split(',').map(|n| n.trim().to_owned()).collect();
            let mut ok = !names.is_empty() && names.len() <= MAX_INDEX_COLUMNS;
            if !ok {
                let message = format!(
                    "index \"{text}\" of `{}` must name 1 to {MAX_INDEX_COLUMNS} properties",
                    decl.name
                );
                self.error(entry, message);
                continue;
            }
            for (i, name) in names.iter().enumerate() {
                let problem = if names[..i].contains(name) {
                    Some(format!("names `{name}` twice"))
                } else {
                    match whole_property(decl, name) {
                        // A property with problems of its own: already reported.
                        None => {
                            ok = false;
                            None
                        }
                        Some(Ok(_)) => None,
                        Some(Err(problem)) => Some(problem),
                    }
                };
                if let Some(problem) = problem {
                    ok = false;
                    self.error(entry, format!("index \"{text}\" {problem}"));
                }
            }
            if ok && !indexes.contains(&names) {
                indexes.push(names);
            }
        }
        indexes
    }

    fn numbering(&mut self, value: &Value, owner: &str) -> Option<Numbering> {
        let table = self.table(value, "`numbering`")?;
        let mut ok = true;
        let mut numbering = Numbering {
            prefix: String::new(),
            width: 0,
            start: 1,
        };
        let mut width_seen = false;
        for (key, value) in table.iter() {
            match key.get_ref().as_ref() {
                "prefix" => match self.string(value, "`prefix`") {
                    Some(prefix) => numbering.prefix = prefix.to_owned(),
                    None => ok = false,
                },
                "width" => {
                    width_seen = true;
                    match self.integer(value, "`width`") {
                        Some(width) if (1..=MAX_WIDTH).contains(&width) => {
                            numbering.width = width as u32;
                        }
                        Some(width) => {
                            let message =
                                format!("`width` must be from 1 to {MAX_WIDTH}, not {width}");
                            self.error(value, message);
                            ok = false;
                        }
                        None => ok = false,
                    }
                }
                "start" => match self.integer(value, "`start`") {
                    Some(start) if start >= 0 => numbering.start = start,
                    Some(start) => {
                        self.error(value, format!("`start` must be 0 or more, not {start}"));
                        ok = false;
                    }
                    None => ok = false,
                },
                _ => {
                    let place = format!("in the numbering of `{owner}`");
                    self.unknown_key(key, &place, "prefix, width or start");
                    ok = false;
                }
            }
        }
        if !width_seen {
            let message = format!("the numbering of `{owner}` needs `width` (1 to {MAX_WIDTH})");
            self.error(value, message);
            ok = false;
        }
        ok.then_some(numbering)
    }

    fn property(
        &mut self,
        owner: &str,
        key: &Key,
        value: &Value,
    ) -> Option<(PropertyConfig, RefLines)> {
        let name = key.get_ref().as_ref();
        let mut ok = true;
        if is_system_field(name) {
            let message =
                format!("`{name}` is a system field; it cannot be a property of `{owner}`");
            self.error(key, message);
            ok = false;
        } else if !is_valid_name(name) {
            self.error(key, format!("invalid property name `{name}`: {NAME_RULE}"));
            ok = false;
        }
        let what = format!("property `{owner}.{name}`");
        let parsed = match value.get_ref() {
            DeValue::String(type_name) => self.shorthand(&what, value, type_name),
            DeValue::Table(table) => self.property_table(&what, key, table),
            other => {
                let message = format!(
                    "{what} must be a type name or a table, found {}",
                    other.type_str()
                );
                self.error(value, message);
                None
            }
        };
        parsed.filter(|_| ok)
    }

    fn property_type(&mut self, value: &Value, type_name: &str) -> Option<PropertyType> {
        match type_name.parse() {
            Ok(property_type) => Some(property_type),
            Err(e) => {
                self.error(value, e.to_string());
                None
            }
        }
    }

    fn shorthand(
        &mut self,
        what: &str,
        value: &Value,
        type_name: &str,
    ) -> Option<(PropertyConfig, RefLines)> {
        let property_type = self.property_type(value, type_name)?;
        let needs = match property_type {
            PropertyType::List => "{ type = \"List\", list = \"...\" }",
            PropertyType::Lookup => {
                "{ type = \"Lookup\", objectType = \"...\", display = \"...\" }"
            }
            _ => return Some((PropertyConfig::plain(property_type), RefLines::default())),
        };
        let message = format!("{what}: a {property_type} property is written as {needs}");
        self.error(value, message);
        None
    }

    fn property_table(
        &mut self,
        what: &str,
        key: &Key,
        table: &DeTable,
    ) -> Option<(PropertyConfig, RefLines)> {
        let mut property_type = None;
        let mut type_seen = false;
        let (mut list, mut object_type, mut display) = (None, None, None);
        for (field_key, value) in table.iter() {
            let field = |parser: &mut Self, name: &str| Field {
                value: parser
                    .string(value, &format!("`{name}`"))
                    .map(str::to_owned),
                line: parser.line(value.span()),
            };
            match field_key.get_ref().as_ref() {
                "type" => {
                    type_seen = true;
                    if let Some(type_name) = self.string(value, "`type`") {
                        property_type = self.property_type(value, type_name);
                    }
                }
                "list" => list = Some(field(self, "list")),
                "objectType" => object_type = Some(field(self, "objectType")),
                "display" => display = Some(field(self, "display")),
                _ => {
                    let place = format!("in {what}");
                    self.unknown_key(field_key, &place, "type, list, objectType or display");
                }
            }
        }
        if !type_seen {
            self.error(key, format!("{what} has no `type`"));
        }
        let property_type = property_type?;

        let check = |parser: &mut Self, name, field, needed_by| {
            parser.reference(what, key, property_type, name, field, needed_by)
        };
        let list = check(self, "list", list, PropertyType::List);
        let object_type = check(self, "objectType", object_type, PropertyType::Lookup);
        let display = check(self, "display", display, PropertyType::Lookup);
        let (Some(list), Some(object_type), Some(display)) = (list, object_type, display) else {
            return None;
        };
        let lines = RefLines {
            list: list.1,
            object_type: object_type.1,
            display: display.1,
        };
        let config = PropertyConfig {
            property_type,
            list: list.0,
            object_type: object_type.0,
            display: display.0,
        };
        Some((config, lines))
    }

    /// Checks a property's `list`, `objectType` or `display`: present exactly when the property
    /// is of type `needed_by`. Gives its value (if any) and line, or None after a problem.
    fn reference(
        &mut self,
        what: &str,
        key: &Key,
        property_type: PropertyType,
        name: &str,
        field: Option<Field>,
        needed_by: PropertyType,
    ) -> Option<(Option<String>, usize)> {
        match (field, property_type == needed_by) {
            (None, false) => Some((None, 0)),
            (Some(Field { value, line }), true) => value.map(|value| (Some(value), line)),
            (Some(Field { line, .. }), false) => {
                let message = format!(
                    "{what}: `{name}` is only for {needed_by} properties, not {property_type}"
                );
                self.found.push((line, message));
                None
            }
            (None, true) => {
                let message = format!("{what}: a {property_type} property needs `{name}`");
                self.error(key, message);
                None
            }
        }
    }
}

/// What an `index` or `counts` entry naming `name` finds: the type of a declared property
/// compared as a whole, or the problem (not declared, not compared as a whole); `None` for
/// a property declared with problems of its own (already reported).
fn whole_property(decl: &TypeDecl, name: &str) -> Option<Result<PropertyType, String>> {
    match decl.config.properties.get(name) {
        None if decl.property_names.contains(name) => None,
        None => Some(Err(format!(
            "names `{name}`, which is not a declared property of `{}`",
            decl.name
        ))),
        Some(p) if !p.property_type.is_indexable() => Some(Err(format!(
            "names `{name}`, a {} property, which is not compared as a whole",
            p.property_type
        ))),
        Some(p) => Some(Ok(p.property_type)),
    }
}
