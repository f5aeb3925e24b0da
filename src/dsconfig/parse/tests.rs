//! Tests of the checks one file can fail on its own, each at the right line.

use std::path::PathBuf;

use crate::dsconfig::{parse_files, Config, ListItem, Numbering, PropertyConfig};
use crate::model::PropertyType;

/// Problems of one file `t.toml`, as `line: message`.
fn problems(text: &str) -> Vec<String> {
    match parse_files(&[(PathBuf::from("t.toml"), text.to_owned())]) {
        Ok(config) => panic!("expected problems, got {config:?}"),
        Err(errors) => errors
            .0
            .iter()
            .map(|p| format!("{}: {}", p.line, p.message))
            .collect(),
    }
}

fn config(text: &str) -> Config {
    parse_files(&[(PathBuf::from("t.toml"), text.to_owned())]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn shorthand_and_table_forms_give_the_same_property() {
    let config = config(
        "[types.A.properties]\nshort = \"Integer\"\nlong = { type = \"Integer\" }\n\
         [types.A.properties.dotted]\ntype = \"Integer\"\n",
    );
    let integer = PropertyConfig::plain(PropertyType::Integer);
    for name in ["short", "long", "dotted"] {
        assert_eq!(config.property("A", name), Some(&integer), "{name}");
    }
}

#[test]
fn numbering_may_be_a_table_of_its_own_with_defaults() {
    let config = config("[types.A.numbering]\nwidth = 5\n[types.B]\nnumbering.width = 3\n");
    let numbering = config.types["A"].numbering.as_ref().unwrap();
    assert_eq!(
        numbering,
        &Numbering {
            prefix: String::new(),
            width: 5,
            start: 1
        }
    );
    assert_eq!(numbering.format(42), "00042");
    assert_eq!(config.types["B"].numbering.as_ref().unwrap().width, 3);
}

#[test]
fn unknown_keys_are_reported_at_every_level() {
    assert_eq!(
        problems(
            "colour = 1\n[types.A]\nsize = 2\nnumbering = { width = 3, step = 1 }\n\
             [types.A.properties]\nx = { type = \"String\", label = \"X\" }\n\
             [[lists.L]]\ncode = \"a\"\nvalue = \"A\"\nhint = \"h\"\n"
        ),
        [
            "1: unknown key `colour` at the top level; expected schemaMode, types or lists",
            "3: unknown key `size` in [types.A]; expected numbering, global, index, counts or properties",
            "4: unknown key `step` in the numbering of `A`; expected prefix, width or start",
            "6: unknown key `label` in property `A.x`; expected type, list, objectType or display",
            "10: unknown key `hint` in an item of list `L`; expected code or value",
        ]
    );
}

#[test]
fn schema_mode_is_open_or_strict() {
    assert!(!config("schemaMode = \"open\"").is_strict());
    assert!(config("schemaMode = \"strict\"").is_strict());
    assert_eq!(
        problems("\nschemaMode = \"Strict\""),
        ["2: `schemaMode` must be \"open\" or \"strict\", not \"Strict\""]
    );
    assert_eq!(
        problems("schemaMode = true"),
        ["1: `schemaMode` must be a string, found boolean"]
    );
}

#[test]
fn type_and_list_names_follow_the_name_pattern() {
    assert_eq!(
        problems("lists.\"x y\" = []\n[types.9Lives]\n[types.\"a-b\"]\n"),
        [
            "1: invalid list name `x y`: names match ^[A-Za-z_][A-Za-z0-9_]{0,127}$",
            "2: invalid type name `9Lives`: names match ^[A-Za-z_][A-Za-z0-9_]{0,127}$",
            "3: invalid type name `a-b`: names match ^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        ]
    );
}

#[test]
fn misshapen_sections_are_reported() {
    assert_eq!(
        problems("types = 1\nlists = \"x\"\n"),
        [
            "1: `types` must be a table, found integer",
            "2: `lists` must be a table, found string"
        ]
    );
    assert_eq!(
        problems("[types]\nA = []\nB = { properties = [] , global = \"yes\" }\n"),
        [
            "2: type `A` must be a table, found array",
            "3: `global` must be true or false, found string",
            "3: `properties` must be a table, found array",
        ]
    );
}

#[test]
fn numbering_needs_a_width_from_1_to_18_and_a_start_of_0_or_more() {
    assert_eq!(
        problems(
            "[types.A]\nnumbering = { prefix = \"A-\" }\n[types.B]\nnumbering = { width = 19 }\n\
             [types.C]\nnumbering = { width = 2, start = -1 }\n\
             [types.D]\nnumbering = { width = \"7\", prefix = 1 }\n[types.E]\nnumbering = 5\n"
        ),
        [
            "2: the numbering of `A` needs `width` (1 to 18)",
            "4: `width` must be from 1 to 18, not 19",
            "6: `start` must be 0 or more, not -1",
            "8: `prefix` must be a string, found integer",
            "8: `width` must be an integer, found string",
            "10: `numbering` must be a table, found integer",
        ]
    );
}

#[test]
fn property_names_may_not_be_system_fields_or_break_the_pattern() {
    assert_eq!(
        problems(
            "[types.A.properties]\nobjectNumber = \"String\"\ncreatedAt = \"Date\"\n\
             \"first name\" = \"String\"\n"
        ),
        [
            "2: `objectNumber` is a system field; it cannot be a property of `A`",
            "3: `createdAt` is a system field; it cannot be a property of `A`",
            "4: invalid property name `first name`: names match ^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        ]
    );
}

#[test]
fn property_types_must_be_known_by_their_exact_names() {
    assert_eq!(
        problems(
            "[types.A.properties]\na = \"string\"\nb = { type = \"Bool\" }\nc = 3\n\
             d = { list = \"L\" }\ne = { type = 1 }\n"
        ),
        [
            "2: unknown property type `string`",
            "3: unknown property type `Bool`",
            "4: property `A.c` must be a type name or a table, found integer",
            "5: property `A.d` has no `type`",
            "6: `type` must be a string, found integer",
        ]
    );
}

#[test]
fn list_and_lookup_shorthands_are_refused() {
    assert_eq!(
        problems("[types.A.properties]\ns = \"List\"\nc = \"Lookup\"\n"),
        [
            "2: property `A.s`: a List property is written as { type = \"List\", list = \"...\" }",
            "3: property `A.c`: a Lookup property is written as \
             { type = \"Lookup\", objectType = \"...\", display = \"...\" }",
        ]
    );
}

#[test]
fn list_needs_list_and_lookup_needs_object_type_and_display() {
    assert_eq!(
        problems(
            "[types.A.properties]\ns = { type = \"List\" }\n\
             c = { type = \"Lookup\", objectType = \"A\" }\nd = { type = \"Lookup\" }\n"
        ),
        [
            "2: property `A.s`: a List property needs `list`",
            "3: property `A.c`: a Lookup property needs `display`",
            "4: property `A.d`: a Lookup property needs `objectType`",
            "4: property `A.d`: a Lookup property needs `display`",
        ]
    );
}

#[test]
fn list_object_type_and_display_are_refused_on_other_types() {
    assert_eq!(
        problems(
            "[types.A.properties]\n\
             [types.A.properties.n]\ntype = \"String\"\nlist = \"L\"\nobjectType = \"A\"\n\
             [types.A.properties.s]\ntype = \"List\"\nlist = \"L\"\ndisplay = \"n\"\n\
             [types.A.properties.c]\ntype = \"Lookup\"\nobjectType = \"A\"\ndisplay = \"n\"\n\
             list = \"L\"\n\
             [[lists.L]]\ncode = \"x\"\nvalue = \"X\"\n"
        ),
        [
            "4: property `A.n`: `list` is only for List properties, not String",
            "5: property `A.n`: `objectType` is only for Lookup properties, not String",
            "9: property `A.s`: `display` is only for Lookup properties, not List",
            "14: property `A.c`: `list` is only for List properties, not Lookup",
        ]
    );
}

#[test]
fn list_items_keep_their_order_and_integer_codes_become_text() {
    let config = config(
        "[[lists.Size]]\ncode = 2\nvalue = \"Two\"\n[[lists.Size]]\ncode = \"1\"\n\
         value = \"One\"\n[lists]\nEmpty = []\nInline = [{ code = 0x10, value = \"Sixteen\" }]\n",
    );
    let item = |code: &str, value: &str| ListItem {
        code: code.into(),
        value: value.into(),
    };
    assert_eq!(
        config.list("Size"),
        Some(&[item("2", "Two"), item("1", "One")][..])
    );
    assert_eq!(config.list("Empty"), Some(&[][..]));
    assert_eq!(config.list("Inline"), Some(&[item("16", "Sixteen")][..]));
    assert_eq!(config.list("Nope"), None);
}

#[test]
fn list_items_need_a_unique_non_empty_code_and_a_value() {
    assert_eq!(
        problems(
            "[[lists.L]]\ncode = \"A\"\nvalue = \"a\"\n[[lists.L]]\nvalue = \"b\"\n\
             [[lists.L]]\ncode = \"\"\nvalue = \"c\"\n[[lists.L]]\ncode = 1.5\nvalue = 2\n\
             [[lists.L]]\ncode = \"A\"\n[[lists.L]]\n\n  code = \"A\"\nvalue = \"again\"\n"
        ),
        [
            "4: an item of list `L` has no `code`",
            "7: `code` must not be empty",
            "10: `code` must be a string or an integer, found float",
            "11: `value` must be a string, found integer",
            "12: an item of list `L` has no `value`",
            "16: duplicate code `A` in list `L` (first at line 2)",
        ]
    );
}

#[test]
fn a_list_must_be_an_array_of_tables() {
    assert_eq!(
        problems("[lists.L]\ncode = \"A\"\n\n[lists]\nM = [\"A\"]\n"),
        [
            "1: list `L` must be [[lists.L]] items or `lists.L = []`, found table",
            "5: an item of list `M` must be a table, found string",
        ]
    );
}

#[test]
fn toml_syntax_errors_are_reported_with_their_lines_and_the_rest_still_checked() {
    assert_eq!(
        problems("[types.A]\nglobal = tru\nsize = 1\n[types.B\n"),
        [
            "2: TOML syntax error: invalid boolean, expected `true`",
            "3: unknown key `size` in [types.A]; expected numbering, global, index, counts or properties",
            "4: TOML syntax error: unclosed table, expected `]`",
        ]
    );
}

#[test]
fn keys_toml_itself_sees_twice_are_reported_where_they_repeat() {
    assert_eq!(
        problems(
            "[types.A.properties]\nx = \"String\"\nx = \"Integer\"\n\n[types.A.properties]\n\
             [[lists.L]]\ncode = \"a\"\ncode = \"b\"\nvalue = \"v\"\n"
        ),
        [
            "3: duplicate key `x`",
            "5: duplicate key `properties`",
            "8: duplicate key `code`"
        ]
    );
}

#[test]
fn declared_counts_name_declared_properties_compared_as_a_whole() {
    let config = config(
        "[types.P]\ncounts = [\"age\", \" born \"]\n\
         [types.P.properties]\nage = \"Integer\"\nborn = \"Date\"\n",
    );
    assert_eq!(
        config.types["P"].counts,
        vec!["age".to_owned(), "born".to_owned()]
    );
    assert_eq!(
        problems(
            "[types.P]\ncounts = [\"nope\", \"tags\", \"age\", \"age\", \"co\", 3]\n\
             [types.P.properties]\nage = \"Integer\"\ntags = \"JsonArray\"\n\
             co = { type = \"Lookup\", objectType = \"P\", display = \"age\" }\n"
        ),
        vec![
            "2: counts names `nope`, which is not a declared property of `P`",
            "2: counts names `tags`, a JsonArray property, which is not compared as a whole",
            "2: counts names `age` twice",
            "2: counts names `co`, a Lookup, which is counted per target already",
            "2: a `counts` entry must be a property name, found integer",
        ]
    );
    assert_eq!(
        problems("[types.P]\ncounts = \"age\"\n[types.P.properties]\nage = \"Integer\"\n"),
        vec!["2: `counts` must be an array of property names such as \"age\", found string"]
    );
}

#[test]
fn declared_counts_name_pairs_of_declared_properties_as_the_index_key_does() {
    let config = config(
        "[types.P]\ncounts = [\"age\", \" first ,status\", \"last, age\", \"co, age\"]\n\
         [types.P.properties]\nage = \"Integer\"\nfirst = \"String\"\nlast = \"String\"\n\
         status = \"String\"\nco = { type = \"Lookup\", objectType = \"P\", display = \"age\" }\n",
    );
    assert_eq!(
        config.types["P"].counts,
        vec!["age", "first, status", "last, age", "co, age"]
    );
    assert_eq!(
        config.types["P"].counted_pairs().collect::<Vec<_>>(),
        vec![("first", "status"), ("last", "age"), ("co", "age")]
    );
    assert_eq!(
        problems(
            "[types.P]\ncounts = [\"age, first, last\", \"age, age\", \"age, nope\", \
             \"tags, age\", \"first, age\", \"first,age\", \",\", \"age,\"]\n\
             [types.P.properties]\nage = \"Integer\"\nfirst = \"String\"\nlast = \"String\"\n\
             tags = \"JsonArray\"\n"
        ),
        vec![
            "2: counts \"age, first, last\" of `P` must name one property or a pair of them \
             (\"firstName, status\")",
            "2: counts names `age` twice",
            "2: counts names `nope`, which is not a declared property of `P`",
            "2: counts names `tags`, a JsonArray property, which is not compared as a whole",
            "2: counts names `first, age` twice",
            "2: counts \",\" of `P` must name one property or a pair of them \
             (\"firstName, status\")",
            "2: counts \"age,\" of `P` must name one property or a pair of them \
             (\"firstName, status\")",
        ]
    );
}

#[test]
fn declared_indexes_name_declared_properties_compared_as_a_whole() {
    let config = config(
        "[types.P]\nindex = [\"status, birthDate\", \" lastName ,age \"]\n\
         [types.P.properties]\nstatus = \"String\"\nbirthDate = \"Date\"\nlastName = \"String\"\nage = \"Integer\"\n",
    );
    assert_eq!(
        config.types["P"].index,
        vec![
            vec!["status".to_owned(), "birthDate".to_owned()],
            vec!["lastName".to_owned(), "age".to_owned()]
        ]
    );
    assert_eq!(
        problems(
            "[types.P]\nindex = [\"age, nope\", \"tags\", \"age, age\", 3]\n\
             [types.P.properties]\nage = \"Integer\"\ntags = \"JsonArray\"\n"
        ),
        vec![
            "2: index \"age, nope\" names `nope`, which is not a declared property of `P`",
            "2: index \"tags\" names `tags`, a JsonArray property, which is not compared as a whole",
            "2: index \"age, age\" names `age` twice",
            "2: an `index` entry must be a string of property names, found integer",
        ]
    );
    assert_eq!(
        problems("[types.P]\nindex = \"age\"\n[types.P.properties]\nage = \"Integer\"\n"),
        vec!["2: `index` must be an array of strings such as \"status, birthDate\", found string"]
    );
}
