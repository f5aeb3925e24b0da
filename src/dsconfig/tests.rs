//! Tests of the public surface: the §10 example, `getConfig`'s JSON, the lookups, `load_dir`
//! and the sample DSConfig.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;

/// API.md §10's example, plus the Company it refers to.
const SECTION_10: &str = r#"
schemaMode = "open"          # "open" (default): unknown types and properties are Strings
                             # "strict": they are 400 UNKNOWN_OBJECT_TYPE / UNKNOWN_PROPERTY

[types.Person]
numbering = { prefix = "P-", width = 7, start = 1 }   # optional
global = false                                         # optional, see §9

[types.Person.properties]
firstName = "String"                                   # shorthand: just the type
age = "Integer"
status = { type = "List", list = "PersonStatus" }
company = { type = "Lookup", objectType = "Company", display = "name" }

[[lists.PersonStatus]]
code = "A"
value = "Active"

[[lists.PersonStatus]]
code = "I"
value = "Inactive"

[types.Company.properties]
name = "String"
"#;

fn section_10() -> Config {
    parse_files(&[(PathBuf::from("10.toml"), SECTION_10.to_owned())])
        .unwrap_or_else(|e| panic!("{e}"))
}

fn item(code: &str, value: &str) -> ListItem {
    ListItem {
        code: code.to_owned(),
        value: value.to_owned(),
    }
}

#[test]
fn section_10_example_parses_to_the_expected_config() {
    let person = TypeConfig {
        numbering: Some(Numbering {
            prefix: "P-".to_owned(),
            width: 7,
            start: 1,
        }),
        global: false,
        properties: [
            ("firstName", PropertyConfig::plain(PropertyType::String)),
            ("age", PropertyConfig::plain(PropertyType::Integer)),
            (
                "status",
                PropertyConfig {
                    list: Some("PersonStatus".to_owned()),
                    ..PropertyConfig::plain(PropertyType::List)
                },
            ),
            (
                "company",
                PropertyConfig {
                    object_type: Some("Company".to_owned()),
                    display: Some("name".to_owned()),
                    ..PropertyConfig::plain(PropertyType::Lookup)
                },
            ),
        ]
        .into_iter()
        .map(|(name, p)| (name.to_owned(), p))
        .collect(),
        index: Vec::new(),
        counts: Vec::new(),
    };
    let company = TypeConfig {
        properties: [(
            "name".to_owned(),
            PropertyConfig::plain(PropertyType::String),
        )]
        .into(),
        ..TypeConfig::default()
    };
    let expected = Config {
        schema_mode: SchemaMode::Open,
        types: [
            ("Company".to_owned(), company),
            ("Person".to_owned(), person),
        ]
        .into(),
        lists: [(
            "PersonStatus".to_owned(),
            vec![item("A", "Active"), item("I", "Inactive")],
        )]
        .into(),
    };
    assert_eq!(section_10(), expected);
}

#[test]
fn config_json_has_the_get_config_shape() {
    let json = serde_json::to_value(section_10()).unwrap();
    assert_eq!(
        json,
        json!({
            "schemaMode": "open",
            "types": {
                "Company": {
                    "global": false,
                    "properties": { "name": { "type": "String" } }
                },
                "Person": {
                    "numbering": { "prefix": "P-", "width": 7, "start": 1 },
                    "global": false,
                    "properties": {
                        "age": { "type": "Integer" },
                        "company": { "type": "Lookup", "objectType": "Company", "display": "name" },
                        "firstName": { "type": "String" },
                        "status": { "type": "List", "list": "PersonStatus" }
                    }
                }
            },
            "lists": {
                "PersonStatus": [
                    { "code": "A", "value": "Active" },
                    { "code": "I", "value": "Inactive" }
                ]
            }
        })
    );
    let back: Config = serde_json::from_value(json).unwrap();
    assert_eq!(back, section_10());
}

#[test]
fn no_files_is_the_empty_open_config() {
    let config = parse_files(&[]).unwrap();
    assert_eq!(config, Config::default());
    assert!(!config.is_strict());
    assert_eq!(
        serde_json::to_value(config).unwrap(),
        json!({ "schemaMode": "open", "types": {}, "lists": {} })
    );
}

#[test]
fn property_and_list_lookups_answer_for_declared_names_only() {
    let config = section_10();
    assert_eq!(
        config.property("Person", "age"),
        Some(&PropertyConfig::plain(PropertyType::Integer))
    );
    assert_eq!(config.property("Person", "height"), None);
    assert_eq!(config.property("Robot", "age"), None);
    assert_eq!(config.list("PersonStatus").map(<[_]>::len), Some(2));
    assert_eq!(config.list("Colour"), None);
}

#[test]
fn lookups_are_found_by_target_and_by_display() {
    let text = r#"
[types.Company.properties]
name = "String"
code = "String"
[types.Person.properties]
employer = { type = "Lookup", objectType = "Company", display = "name" }
formerEmployer = { type = "Lookup", objectType = "Company", display = "code" }
manager = { type = "Lookup", objectType = "Person", display = "objectNumber" }
[types.Invoice.properties]
supplier = { type = "Lookup", objectType = "Company", display = "name" }
"#;
    let config = parse_files(&[(PathBuf::from("t.toml"), text.to_owned())]).unwrap();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        config.lookups_displaying("Company", "name"),
        pairs(&[("Invoice", "supplier"), ("Person", "employer")])
    );
    assert_eq!(
        config.lookups_targeting("Company"),
        pairs(&[
            ("Invoice", "supplier"),
            ("Person", "employer"),
            ("Person", "formerEmployer")
        ])
    );
    assert_eq!(
        config.lookups_displaying("Person", "objectNumber"),
        pairs(&[("Person", "manager")])
    );
    assert!(config.lookups_targeting("Invoice").is_empty());
    assert!(config.lookups_displaying("Company", "founded").is_empty());
}

#[test]
fn problems_display_as_file_line_message_one_per_line() {
    let errors = ConfigErrors(vec![
        Problem {
            file: "dsconfig/20-types.toml".into(),
            line: 7,
            message: "unknown property type `Text`".to_owned(),
        },
        Problem {
            file: "dsconfig".into(),
            line: 0,
            message: "no *.toml file in the DSConfig directory".to_owned(),
        },
    ]);
    assert_eq!(
        errors.to_string(),
        "dsconfig/20-types.toml:7: unknown property type `Text`\n\
         dsconfig: no *.toml file in the DSConfig directory"
    );
}

#[test]
fn load_dir_refuses_a_missing_directory_or_one_without_toml_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let errors = load_dir(&missing).unwrap_err();
    assert_eq!(errors.0.len(), 1);
    assert_eq!(
        (errors.0[0].file.as_path(), errors.0[0].line),
        (&*missing, 0)
    );

    fs::write(dir.path().join("README.md"), "# not config").unwrap();
    fs::create_dir(dir.path().join("sub.toml")).unwrap();
    let errors = load_dir(dir.path()).unwrap_err();
    assert_eq!(
        errors.to_string(),
        format!(
            "{}: no *.toml file in the DSConfig directory",
            dir.path().display()
        )
    );
}

#[test]
fn load_dir_reads_toml_files_in_name_order_and_names_them_in_problems() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), "not = [toml").unwrap();
    fs::write(dir.path().join("20-b.toml"), "[types.A]\n").unwrap();
    fs::write(dir.path().join("10-a.toml"), "\n[types.A]\n").unwrap();
    let errors = load_dir(dir.path()).unwrap_err();
    let second = dir.path().join("20-b.toml");
    assert_eq!(
        errors.to_string(),
        format!(
            "{}:1: type `A` is already declared at {}:2",
            second.display(),
            dir.path().join("10-a.toml").display()
        )
    );

    fs::write(&second, "[types.B]\n").unwrap();
    let config = load_dir(dir.path()).unwrap();
    assert_eq!(config.types.keys().collect::<Vec<_>>(), ["A", "B"]);
}

/// The sample DSConfig shipped in `dsconfig/` next to Cargo.toml (in a scratch crate that
/// compiles this module, a `dsconfig` link to it).
fn sample_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/dsconfig"))
}

#[test]
fn the_sample_dsconfig_is_valid_and_uses_every_property_type() {
    let config = load_dir(sample_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.schema_mode, SchemaMode::Open);
    let used: BTreeSet<PropertyType> = config
        .types
        .values()
        .flat_map(|t| t.properties.values().map(|p| p.property_type))
        .collect();
    let missing: Vec<_> = PropertyType::ALL
        .into_iter()
        .filter(|t| !used.contains(t))
        .collect();
    assert!(missing.is_empty(), "types not used: {missing:?}");

    let person = &config.types["Person"];
    assert_eq!(
        person.numbering.as_ref().map(|n| n.format(n.start)),
        Some("P-0001001".to_owned())
    );
    let company = &config.types["Company"];
    assert_eq!(
        company.numbering.as_ref().map(|n| n.format(n.start)),
        Some("C-00001".to_owned())
    );
    assert_eq!(
        config.list("PersonStatus"),
        Some(&[item("A", "Active"), item("I", "Inactive")][..])
    );
    assert_eq!(
        config.lookups_displaying("Company", "name"),
        [("Person".to_owned(), "company".to_owned())]
    );
    assert_eq!(
        config.lookups_displaying("City", "name"),
        [("Company".to_owned(), "city".to_owned())]
    );
}
