//! The files' declarations merged into one [`Config`], with the checks across files.
//!
//! A type or a list may be declared in one file only, `schemaMode` may not take two values, and
//! every `list`, `objectType` and `display` must name something declared somewhere in the
//! merged whole.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::path::Path;

use super::parse::{FileDecls, ListDecl, TypeDecl};
use super::{Config, Problem, SchemaMode};

/// System fields a Lookup may display instead of a property.
const DISPLAYABLE_SYSTEM_FIELDS: [&str; 2] = ["objectId", "objectNumber"];

/// A declaration and the file it is in.
struct Placed<'a, T> {
    file: &'a Path,
    decl: &'a T,
}

/// Merges `files` (in order), appending every problem to `problems`. The returned config is
/// only meaningful when no problem was found.
pub(super) fn merge(files: &[(&Path, FileDecls)], problems: &mut Vec<Problem>) -> Config {
    let mut schema_mode: Option<(SchemaMode, &Path, usize)> = None;
    let mut types: BTreeMap<&str, Placed<TypeDecl>> = BTreeMap::new();
    let mut lists: BTreeMap<&str, Placed<ListDecl>> = BTreeMap::new();
    let mut report = |file: &Path, line: usize, message: String| {
        problems.push(Problem {
            file: file.to_path_buf(),
            line,
            message,
        });
    };

    for (file, decls) in files {
        if let Some((mode, line)) = decls.schema_mode {
            match schema_mode {
                None => schema_mode = Some((mode, file, line)),
                Some((first, first_file, first_line)) if first != mode => {
                    let message = format!(
                        "schemaMode \"{mode}\" conflicts with \"{first}\" at {}:{first_line}",
                        first_file.display()
                    );
                    report(file, line, message);
                }
                Some(_) => {}
            }
        }
        for decl in &decls.types {
            match types.entry(&decl.name) {
                Entry::Vacant(e) => {
                    e.insert(Placed { file, decl });
                }
                Entry::Occupied(e) => {
                    let first = e.get();
                    let message = format!(
                        "type `{}` is already declared at {}:{}",
                        decl.name,
                        first.file.display(),
                        first.decl.line
                    );
                    report(file, decl.line, message);
                }
            }
        }
        for decl in &decls.lists {
            match lists.entry(&decl.name) {
                Entry::Vacant(e) => {
                    e.insert(Placed { file, decl });
                }
                Entry::Occupied(e) => {
                    let first = e.get();
                    let message = format!(
                        "list `{}` is already declared at {}:{}",
                        decl.name,
                        first.file.display(),
                        first.decl.line
                    );
                    report(file, decl.line, message);
                }
            }
        }
    }

    for (owner, placed) in &types {
        let TypeDecl {
            config, ref_lines, ..
        } = placed.decl;
        for (name, property) in &config.properties {
            let lines = ref_lines.get(name).copied().unwrap_or_default();
            let what = format!("property `{owner}.{name}`");
            if let Some(list) = &property.list {
                if !lists.contains_key(list.as_str()) {
                    let message = format!("{what}: list `{list}` is not declared");
                    report(placed.file, lines.list, message);
                }
            }
            let Some(target) = &property.object_type else {
                continue;
            };
            let Some(target_decl) = types.get(target.as_str()) else {
                let message = format!("{what}: object type `{target}` is not declared");
                report(placed.file, lines.object_type, message);
                continue;
            };
            // A global object is shared by every app; an app's object is in one app's
            // database: a Lookup from the first to the second could never be checked.
            if config.global && !target_decl.decl.config.global {
                let message = format!(
                    "{what}: a global type's Lookup cannot point at `{target}`, which is not \
                     global (its objects live in each app's own database)"
                );
                report(placed.file, lines.object_type, message);
            }
            if let Some(display) = &property.display {
                let known = DISPLAYABLE_SYSTEM_FIELDS.contains(&display.as_str())
                    || target_decl.decl.property_names.contains(display);
                if !known {
                    let message = format!(
                        "{what}: `{display}` is not a property of `{target}` \
                         (nor objectId or objectNumber)"
                    );
                    report(placed.file, lines.display, message);
                }
            }
        }
    }

    Config {
        schema_mode: schema_mode.map_or(SchemaMode::Open, |(mode, ..)| mode),
        types: types
            .into_iter()
            .map(|(name, placed)| (name.to_owned(), placed.decl.config.clone()))
            .collect(),
        lists: lists
            .into_iter()
            .map(|(name, placed)| (name.to_owned(), placed.decl.items.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::dsconfig::{parse_files, Config};

    /// Parses `files` (name, text) expecting problems; returns them as `file:line: message`.
    fn problems(files: &[(&str, &str)]) -> Vec<String> {
        let files: Vec<_> = files
            .iter()
            .map(|(name, text)| (PathBuf::from(name), text.to_string()))
            .collect();
        match parse_files(&files) {
            Ok(config) => panic!("expected problems, got {config:?}"),
            Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
        }
    }

    fn config(files: &[(&str, &str)]) -> Config {
        let files: Vec<_> = files
            .iter()
            .map(|(name, text)| (PathBuf::from(name), text.to_string()))
            .collect();
        parse_files(&files).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn references_resolve_across_files() {
        let config = config(&[
            (
                "10-lists.toml",
                "[[lists.S]]\ncode = \"A\"\nvalue = \"Active\"\n",
            ),
            (
                "20-a.toml",
                "[types.A.properties]\ns = { type = \"List\", list = \"S\" }\n\
                 b = { type = \"Lookup\", objectType = \"B\", display = \"title\" }\n",
            ),
            ("30-b.toml", "[types.B.properties]\ntitle = \"String\"\n"),
        ]);
        assert_eq!(config.lookups_targeting("B"), [("A".into(), "b".into())]);
        assert_eq!(config.list("S").map(<[_]>::len), Some(1));
    }

    #[test]
    fn a_global_types_lookup_to_an_app_type_is_reported() {
        let errors = problems(&[(
            "10-a.toml",
            "[types.Country]\nglobal = true\n[types.Country.properties]\n\
             capital = { type = \"Lookup\", objectType = \"City\", display = \"name\" }\n\
             [types.City.properties]\nname = \"String\"\n",
        )]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("10-a.toml:4"), "{errors:?}");
        assert!(errors[0].contains("not global"), "{errors:?}");
    }

    #[test]
    fn unknown_list_object_type_and_display_are_reported_at_their_values() {
        let text = "[types.A.properties]\n\
                    s = { type = \"List\", list = \"Nope\" }\n\
                    b = { type = \"Lookup\", objectType = \"Nope\", display = \"x\" }\n\
                    c = { type = \"Lookup\", objectType = \"B\",\n  display = \"missing\" }\n\
                    [types.B.properties]\nname = \"String\"\n";
        assert_eq!(
            problems(&[("a.toml", text)]),
            [
                "a.toml:2: property `A.s`: list `Nope` is not declared",
                "a.toml:3: property `A.b`: object type `Nope` is not declared",
                "a.toml:5: property `A.c`: `missing` is not a property of `B` \
                 (nor objectId or objectNumber)",
            ]
        );
    }

    #[test]
    fn a_lookup_may_display_object_id_or_object_number_of_any_declared_type() {
        let config = config(&[(
            "a.toml",
            "[types.A.properties]\n\
             b = { type = \"Lookup\", objectType = \"B\", display = \"objectNumber\" }\n\
             c = { type = \"Lookup\", objectType = \"B\", display = \"objectId\" }\n\
             [types.B]\n",
        )]);
        assert_eq!(config.lookups_displaying("B", "objectId").len(), 1);
    }

    #[test]
    fn a_display_naming_a_broken_property_is_not_reported_twice() {
        assert_eq!(
            problems(&[(
                "a.toml",
                "[types.A.properties]\n\
                 b = { type = \"Lookup\", objectType = \"B\", display = \"x\" }\n\
                 [types.B.properties]\nx = \"Strin\"\n"
            )]),
            ["a.toml:4: unknown property type `Strin`"]
        );
    }

    #[test]
    fn a_type_declared_in_two_files_names_both_places() {
        assert_eq!(
            problems(&[
                ("10-a.toml", "\n[types.Person]\nglobal = true\n"),
                (
                    "20-b.toml",
                    "[types.Person.properties]\nage = \"Integer\"\n"
                ),
            ]),
            ["20-b.toml:1: type `Person` is already declared at 10-a.toml:2"]
        );
    }

    #[test]
    fn a_list_declared_in_two_files_names_both_places() {
        assert_eq!(
            problems(&[
                ("10-a.toml", "lists.S = []\n"),
                ("20-b.toml", "\n\n[[lists.S]]\ncode = 1\nvalue = \"one\"\n"),
            ]),
            ["20-b.toml:3: list `S` is already declared at 10-a.toml:1"]
        );
    }

    #[test]
    fn schema_mode_may_repeat_but_not_change() {
        let open = ("a.toml", "schemaMode = \"strict\"\n");
        assert!(config(&[open, ("b.toml", "schemaMode = \"strict\"\n")]).is_strict());
        assert_eq!(
            problems(&[open, ("b.toml", "\nschemaMode = \"open\"\n")]),
            ["b.toml:2: schemaMode \"open\" conflicts with \"strict\" at a.toml:1"]
        );
    }

    #[test]
    fn every_problem_of_two_files_is_reported_in_file_and_line_order() {
        let errors = parse_files(&[
            (
                PathBuf::from("20-types.toml"),
                "[types.Person]\ncolour = \"red\"\nnumbering = { width = 0 }\n\
                 [types.Person.properties]\nobjectId = \"Integer\"\n\
                 status = { type = \"List\", list = \"Missing\" }\n"
                    .to_owned(),
            ),
            (
                PathBuf::from("10-lists.toml"),
                "schemaMode = \"loose\"\n[[lists.S]]\ncode = \"\"\nvalue = \"x\"\n".to_owned(),
            ),
        ])
        .unwrap_err();
        insta::assert_snapshot!(errors, @r#"
        10-lists.toml:1: `schemaMode` must be "open" or "strict", not "loose"
        10-lists.toml:3: `code` must not be empty
        20-types.toml:2: unknown key `colour` in [types.Person]; expected numbering, global, index, counts or properties
        20-types.toml:3: `width` must be from 1 to 18, not 0
        20-types.toml:5: `objectId` is a system field; it cannot be a property of `Person`
        20-types.toml:6: property `Person.status`: list `Missing` is not declared
        "#);
    }

    #[test]
    fn a_syntax_error_in_one_file_does_not_hide_problems_in_another() {
        assert_eq!(
            problems(&[
                ("10-a.toml", "[types.A]\nglobal = \n"),
                ("20-b.toml", "[types.B.properties]\nx = \"Text\"\n"),
            ]),
            [
                "10-a.toml:2: TOML syntax error: string values must be quoted, \
                 expected literal string",
                "20-b.toml:2: unknown property type `Text`",
            ]
        );
    }
}
