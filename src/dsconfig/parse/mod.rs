//! One DSConfig file: TOML text -> what it declares, with lines.
//!
//! Checks everything that needs only this file: TOML syntax, known keys, value shapes, type,
//! property and list names, the property forms (shorthand or table, which of `list`,
//! `objectType`, `display` each type needs) and duplicate list codes. What refers to other
//! declarations is checked after merging, in `validate.rs`, so declarations keep the lines of
//! their references.
//!
//! `mod.rs` holds the declarations, the entry point and the generic value checks; `types.rs`
//! the `[types.NAME]` tables and their properties; `lists.rs` the `[[lists.NAME]]` items.

mod lists;
mod types;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use toml::de::{DeString, DeTable, DeValue};
use toml::Spanned;

use super::{ListItem, Problem, SchemaMode, TypeConfig};

type Key<'i> = Spanned<DeString<'i>>;
type Value<'i> = Spanned<DeValue<'i>>;

const NAME_RULE: &str = "names match ^[A-Za-z_][A-Za-z0-9_]{0,127}$";

/// What one file declares.
#[derive(Debug, Default)]
pub(super) struct FileDecls {
    /// The mode and the line of its value.
    pub schema_mode: Option<(SchemaMode, usize)>,
    pub types: Vec<TypeDecl>,
    pub lists: Vec<ListDecl>,
}

/// One `[types.NAME]`, with what its properties are checked against later.
#[derive(Debug)]
pub(super) struct TypeDecl {
    pub name: String,
    pub line: usize,
    /// Only the properties without problems of their own.
    pub config: TypeConfig,
    /// Every property written, valid or not: a `display` naming one that has its own problem
    /// is not reported a second time.
    pub property_names: BTreeSet<String>,
    /// Per property of `config`, the lines of its references.
    pub ref_lines: BTreeMap<String, RefLines>,
}

/// Lines of a property's `list`, `objectType` and `display` values (0 when absent).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct RefLines {
    pub list: usize,
    pub object_type: usize,
    pub display: usize,
}

/// One `[[lists.NAME]]` (or `lists.NAME = [...]`).
#[derive(Debug)]
pub(super) struct ListDecl {
    pub name: String,
    pub line: usize,
    pub items: Vec<ListItem>,
}

/// Parses and checks one file. Its problems are appended to `problems`, unsorted.
pub(super) fn parse_file(path: &Path, text: &str, problems: &mut Vec<Problem>) -> FileDecls {
    let lines = LineIndex::new(text);
    let (doc, syntax_errors) = DeTable::parse_recoverable(text);
    let mut syntax_lines = BTreeSet::new();
    for error in &syntax_errors {
        let span = error.span();
        let line = span.as_ref().map_or(0, |s| lines.line(s.start));
        syntax_lines.insert(line);
        let message = match span.and_then(|s| text.get(s)) {
            Some(key) if error.message() == "duplicate key" => format!("duplicate key `{key}`"),
            _ => format!("TOML syntax error: {}", error.message()),
        };
        problems.push(problem(path, line, message));
    }

    // The rest of the file is still checked, on the parser's best-effort recovery; what it
    // finds on a line with a syntax error is that error's echo.
    let mut parser = FileParser {
        lines,
        found: Vec::new(),
    };
    let decls = parser.document(doc.get_ref());
    problems.extend(
        parser
            .found
            .into_iter()
            .filter(|(line, _)| !syntax_lines.contains(line))
            .map(|(line, message)| problem(path, line, message)),
    );
    decls
}

fn problem(path: &Path, line: usize, message: String) -> Problem {
    Problem {
        file: path.to_path_buf(),
        line,
        message,
    }
}

/// Byte offset -> 1-based line.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

/// The state of checking one file: problems as (line, message).
struct FileParser {
    lines: LineIndex,
    found: Vec<(usize, String)>,
}

impl FileParser {
    fn line(&self, span: Range<usize>) -> usize {
        self.lines.line(span.start)
    }

    fn error<T>(&mut self, at: &Spanned<T>, message: String) {
        let line = self.line(at.span());
        self.found.push((line, message));
    }

    fn unknown_key(&mut self, key: &Key, place: &str, expected: &str) {
        let message = format!(
            "unknown key `{}` {place}; expected {expected}",
            key.get_ref()
        );
        self.error(key, message);
    }

    fn table<'a, 'i>(&mut self, value: &'a Value<'i>, what: &str) -> Option<&'a DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                let message = format!("{what} must be a table, found {}", other.type_str());
                self.error(value, message);
                None
            }
        }
    }

    fn string<'a>(&mut self, value: &'a Value, what: &str) -> Option<&'a str> {
        match value.get_ref() {
            DeValue::String(s) => Some(s),
            other => {
                let message = format!("{what} must be a string, found {}", other.type_str());
                self.error(value, message);
                None
            }
        }
    }

    fn integer(&mut self, value: &Value, what: &str) -> Option<i64> {
        let message = match value.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => return Some(n),
                Err(_) => format!("{what} is out of range"),
            },
            other => format!("{what} must be an integer, found {}", other.type_str()),
        };
        self.error(value, message);
        None
    }

    fn document(&mut self, doc: &DeTable) -> FileDecls {
        let mut decls = FileDecls::default();
        for (key, value) in doc.iter() {
            match key.get_ref().as_ref() {
                "schemaMode" => decls.schema_mode = self.schema_mode(value),
                "types" => {
                    if let Some(types) = self.table(value, "`types`") {
                        for (name, value) in types.iter() {
                            decls.types.push(self.object_type(name, value));
                        }
                    }
                }
                "lists" => {
                    if let Some(lists) = self.table(value, "`lists`") {
                        for (name, value) in lists.iter() {
                            decls.lists.push(self.list(name, value));
                        }
                    }
                }
                _ => self.unknown_key(key, "at the top level", "schemaMode, types or lists"),
            }
        }
        decls
    }

    fn schema_mode(&mut self, value: &Value) -> Option<(SchemaMode, usize)> {
        let mode = match self.string(value, "`schemaMode`")? {
            "open" => SchemaMode::Open,
            "strict" => SchemaMode::Strict,
            other => {
                let message = format!("`schemaMode` must be \"open\" or \"strict\", not {other:?}");
                self.error(value, message);
                return None;
            }
        };
        Some((mode, self.line(value.span())))
    }
}

#[cfg(test)]
mod tests;
