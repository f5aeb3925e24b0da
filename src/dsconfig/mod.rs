//! DSConfig: a directory of TOML files -> one validated [`Config`] (API.md §10).
//!
//! Layout:
//! - `mod.rs` (here): the configuration types, [`load_dir`] and [`parse_files`].
//! - `parse/`: one file's TOML -> its declarations, with every check that needs only that
//!   file (known keys, value shapes, names, the property forms).
//! - `validate.rs`: the files' declarations merged, with the checks across files (a type,
//!   list or `schemaMode` declared twice) and the cross-references (`list`, `objectType`,
//!   `display`) over the merged whole.
//!
//! Every problem is reported, not only the first, each with its file and 1-based line, sorted by
//! (file, line). A TOML syntax error in one file does not stop the other files being checked.

mod parse;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::PropertyType;

/// What happens to object types and properties the configuration does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemaMode {
    /// Unknown types and properties are accepted; unknown properties are Strings.
    #[default]
    Open,
    /// Unknown types and properties are `400 UNKNOWN_OBJECT_TYPE` / `UNKNOWN_PROPERTY`.
    Strict,
}

impl SchemaMode {
    /// The name used in DSConfig and in `getConfig`.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaMode::Open => "open",
            SchemaMode::Strict => "strict",
        }
    }
}

impl fmt::Display for SchemaMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated DSConfig. Its JSON is what `getConfig` returns.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub schema_mode: SchemaMode,
    #[serde(default)]
    pub types: BTreeMap<String, TypeConfig>,
    /// Each list's items, in declared order.
    #[serde(default)]
    pub lists: BTreeMap<String, Vec<ListItem>>,
}

/// One declared object type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbering: Option<Numbering>,
    /// See API.md §9.
    #[serde(default)]
    pub global: bool,
    #[serde(default)]
    pub properties: BTreeMap<String, PropertyConfig>,
    /// Composite indexes of the type's projection (docs/QUERY.md, "Projections"): each a
    /// list of declared property names, most selective first (`index = ["status, birthDate"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub index: Vec<Vec<String>>,
    /// Properties whose projection rows are counted per value (docs/QUERY.md, "Bounded
    /// shapes"), beside every List and Switch property, which always are
    /// (`counts = ["age"]`), and pairs of properties counted per pair of values, each as
    /// "a, b" (`counts = ["firstName, status"]`): see [`TypeConfig::counted_pairs`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counts: Vec<String>,
}

impl TypeConfig {
    /// The pairs `counts` names ("a, b"), in its order.
    pub fn counted_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.counts.iter().filter_map(|c| c.split_once(", "))
    }
}

/// How a type's `objectNumber` is made: `prefix` + the counter, zero-padded to `width` digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Numbering {
    pub prefix: String,
    /// 1 to 18 digits (an `i64` counter has at most 19, and 18 keep it clear of overflow).
    pub width: u32,
    /// The first number handed out; 0 or more.
    pub start: i64,
}

impl Numbering {
    /// The `objectNumber` for counter value `n`: `{prefix: "P-", width: 7}` and 1001 give
    /// `"P-0001001"`. A number longer than `width` is not cut.
    pub fn format(&self, n: i64) -> String {
        format!("{}{:0width$}", self.prefix, n, width = self.width as usize)
    }
}

/// One declared property. `list` is set exactly for List, `objectType` and `display` exactly
/// for Lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyConfig {
    #[serde(rename = "type")]
    pub property_type: PropertyType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<String>,
    /// The target's property (or `objectId` / `objectNumber`) shown as the Lookup's display text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl PropertyConfig {
    /// A property of a type that needs no `list`, `objectType` or `display`.
    pub fn plain(property_type: PropertyType) -> Self {
        PropertyConfig {
            property_type,
            list: None,
            object_type: None,
            display: None,
        }
    }
}

/// One item of a list: the stored `code` and the `value` shown for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListItem {
    pub code: String,
    pub value: String,
}

/// One problem found in a DSConfig. Displays as `file:line: message` (`file: message` when the
/// line is unknown, as for an unreadable file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not about one line.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// Every problem of an invalid DSConfig, sorted by (file, line). Displays one problem a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", lines(.0))]
pub struct ConfigErrors(pub Vec<Problem>);

fn lines(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Config {
    /// True in strict schema mode.
    pub fn is_strict(&self) -> bool {
        self.schema_mode == SchemaMode::Strict
    }

    /// A declared type.
    pub fn object_type(&self, object_type: &str) -> Option<&TypeConfig> {
        self.types.get(object_type)
    }

    /// A declared property of a declared type.
    pub fn property(&self, object_type: &str, name: &str) -> Option<&PropertyConfig> {
        self.types.get(object_type)?.properties.get(name)
    }

    /// Lookups whose target is `target_type` and whose display property is `display`:
    /// (owner type, property name) pairs, sorted — used to refresh display texts when a
    /// target's display property changes.
    pub fn lookups_displaying(&self, target_type: &str, display: &str) -> Vec<(String, String)> {
        self.lookups_where(|p| {
            p.object_type.as_deref() == Some(target_type) && p.display.as_deref() == Some(display)
        })
    }

    /// Every Lookup property targeting `target_type`: (owner type, property name), sorted —
    /// used by dropObject's REFERENCED_BY_LOOKUP check.
    pub fn lookups_targeting(&self, target_type: &str) -> Vec<(String, String)> {
        self.lookups_where(|p| p.object_type.as_deref() == Some(target_type))
    }

    fn lookups_where(&self, keep: impl Fn(&PropertyConfig) -> bool) -> Vec<(String, String)> {
        self.types
            .iter()
            .flat_map(|(owner, t)| {
                t.properties
                    .iter()
                    .filter(|(_, p)| p.property_type == PropertyType::Lookup && keep(p))
                    .map(move |(name, _)| (owner.clone(), name.clone()))
            })
            .collect()
    }

    /// A declared list's items, in declared order.
    pub fn list(&self, name: &str) -> Option<&[ListItem]> {
        self.lists.get(name).map(Vec::as_slice)
    }
}

/// Reads and validates the DSConfig directory `dir`: its `*.toml` files in file-name order
/// (other files are ignored).
///
/// A missing or unreadable directory, or one without any `*.toml` file, is an error with a
/// single problem for the directory (line 0); whether that stops the service is the caller's
/// choice. Problems name files as `dir.join(file name)`.
pub fn load_dir(dir: &Path) -> Result<Config, ConfigErrors> {
    let dir_problem = |message: String| {
        ConfigErrors(vec![Problem {
            file: dir.to_path_buf(),
            line: 0,
            message,
        }])
    };
    let entries = fs::read_dir(dir)
        .map_err(|e| dir_problem(format!("cannot read the DSConfig directory: {e}")))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| dir_problem(format!("cannot read the DSConfig directory: {e}")))?
            .path();
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(dir_problem(
            "no *.toml file in the DSConfig directory".to_owned(),
        ));
    }
    // Same directory, so path order is file-name order.
    paths.sort();

    let mut files = Vec::with_capacity(paths.len());
    let mut problems = Vec::new();
    for path in paths {
        match fs::read_to_string(&path) {
            Ok(text) => files.push((path, text)),
            Err(e) => problems.push(Problem {
                file: path,
                line: 0,
                message: format!("cannot read the file: {e}"),
            }),
        }
    }
    let config = check(&files, &mut problems);
    finish(config, problems)
}

/// Validates DSConfig files given as (file name, text), in the order given, and merges them.
/// No files at all is the empty open configuration.
pub fn parse_files(files: &[(PathBuf, String)]) -> Result<Config, ConfigErrors> {
    let mut problems = Vec::new();
    let config = check(files, &mut problems);
    finish(config, problems)
}

fn check(files: &[(PathBuf, String)], problems: &mut Vec<Problem>) -> Config {
    let decls: Vec<_> = files
        .iter()
        .map(|(path, text)| (path.as_path(), parse::parse_file(path, text, problems)))
        .collect();
    validate::merge(&decls, problems)
}

fn finish(config: Config, mut problems: Vec<Problem>) -> Result<Config, ConfigErrors> {
    if problems.is_empty() {
        Ok(config)
    } else {
        // Stable, so problems on one line keep the order they were found in.
        problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        Err(ConfigErrors(problems))
    }
}

#[cfg(test)]
mod tests;
