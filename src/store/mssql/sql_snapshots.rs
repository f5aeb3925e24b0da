//! Every T-SQL statement the store sends, snapshotted (`snapshots/`), so that a change to
//! the SQL shows in review: the fixed statements, the migration batches, and the builders'
//! output for representative requests.

use insta::assert_snapshot;

use super::builders;
use super::exec::inline_null;
use super::migrate::{split_batches, MIGRATIONS};
use super::sql::{ALL, UPSERT_PROPERTY};
use super::table::build;
use crate::store::{Direction, Filter, FilterValue, Key, Order, SystemField, TableQuery};

/// One statement per paragraph, its name first.
fn listing(statements: &[(String, String)]) -> String {
    statements
        .iter()
        .map(|(name, sql)| format!("-- {name}\n{sql}\n"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn fixed_statements() {
    let all: Vec<(String, String)> = ALL
        .iter()
        .map(|(name, sql)| (name.to_string(), sql.to_string()))
        .collect();
    assert_snapshot!(listing(&all));
}

#[test]
fn migration_batches() {
    let batches: Vec<(String, String)> = MIGRATIONS
        .iter()
        .flat_map(|m| {
            split_batches(m.sql)
                .into_iter()
                .enumerate()
                .map(move |(i, b)| (format!("{:04}_{} batch {}", m.version, m.name, i + 1), b))
        })
        .collect();
    assert_snapshot!(listing(&batches));
}

#[test]
fn builders() {
    let mut out = Vec::new();
    for n in [1, 4] {
        out.push((format!("lock_objects({n})"), builders::lock_objects(n)));
        out.push((format!("children_of({n})"), builders::children_of(n)));
        out.push((format!("delete_objects({n})"), builders::delete_objects(n)));
        out.push((
            format!("lookup_references({n})"),
            builders::lookup_references(n),
        ));
    }
    for select in [true, false] {
        out.push((
            format!("lookups_pointing_at(2, {select})"),
            builders::lookups_pointing_at(2, select),
        ));
    }
    for display in ["name", "objectId", "objectNumber"] {
        out.push((
            format!("refresh_lookup_displays({display:?})"),
            builders::refresh_lookup_displays(display),
        ));
    }
    out.push((
        "refresh_list_displays()".into(),
        builders::refresh_list_displays(),
    ));
    out.push((
        "insert_list_items(2)".into(),
        builders::insert_list_items(2),
    ));
    out.push((
        "page_properties(2, None)".into(),
        builders::page_properties(2, None),
    ));
    out.push((
        "page_properties(2, Some(2))".into(),
        builders::page_properties(2, Some(2)),
    ));
    for direction in [Direction::Children, Direction::Parents] {
        for (typed, paged) in [(false, true), (true, true), (false, false)] {
            out.push((
                format!("related({direction:?}, typed: {typed}, paged: {paged})"),
                builders::related(direction, typed, paged),
            ));
        }
        out.push((
            format!("related_walk({direction:?}, typed: true, after, uncounted)"),
            builders::related_walk(direction, true, true, true, false),
        ));
    }
    out.push(("unlink_files(2)".into(), builders::unlink_files(2)));
    out.push((
        "insert_property_config(2)".into(),
        builders::insert_property_config(2),
    ));
    // A NULL parameter is written into the statement (see `exec::query`).
    out.push((
        "UPSERT_PROPERTY with @P5 and @P6 NULL".into(),
        inline_null(&inline_null(UPSERT_PROPERTY, 5), 6),
    ));
    assert_snapshot!(listing(&out));
}

#[test]
fn transfer_statements() {
    use super::transfer;
    let out = vec![
        ("insert_objects(2)".to_owned(), transfer::insert_objects(2)),
        (
            "insert_properties(2)".to_owned(),
            transfer::insert_properties(2),
        ),
        (
            "missing_endpoints(2)".to_owned(),
            transfer::missing_endpoints(2),
        ),
        (
            "insert_relationships(2)".to_owned(),
            transfer::insert_relationships(2),
        ),
    ];
    assert_snapshot!(listing(&out));
}

#[test]
fn id_lists_are_padded_to_powers_of_two_and_chunked() {
    assert_eq!(builders::id_chunks(&[7]), [vec![7]]);
    assert_eq!(builders::id_chunks(&[1, 2, 3]), [vec![1, 2, 3, 3]]);
    let many: Vec<i64> = (0..600).collect();
    let chunks = builders::id_chunks(&many);
    assert_eq!(
        chunks.iter().map(Vec::len).collect::<Vec<_>>(),
        [builders::CHUNK, 128]
    );
}

fn table(filters: Vec<Filter>, order: Vec<Order>, parent: Option<i64>, limit: u64) -> TableQuery {
    TableQuery {
        object_type: "Person".into(),
        columns: None,
        parent_id: parent,
        filters,
        order,
        offset: 10,
        limit,
        walk: Default::default(),
    }
}

fn rendered(name: &str, q: &TableQuery) -> (String, String) {
    let built = build(q);
    (
        name.to_string(),
        format!("{}\n-- params: {:?}", built.sql, built.params),
    )
}

#[test]
fn table_views() {
    let text = |name: &str, v: &str| Filter {
        key: Key::Text(name.into()),
        value: FilterValue::Text(v.into()),
    };
    let double = |name: &str, v: f64| Filter {
        key: Key::Double(name.into()),
        value: FilterValue::Double(v),
    };
    let system = |field, value| Filter {
        key: Key::System(field),
        value,
    };
    let order = |key, descending| Order { key, descending };
    let cases = [
        rendered("plain", &table(vec![], vec![], None, 100)),
        rendered("count only (limit 0)", &table(vec![], vec![], None, 0)),
        rendered(
            "filters, parent and sorts",
            &table(
                vec![text("lastName", "Doe"), double("age", 10.0)],
                vec![
                    order(Key::Text("lastName".into()), true),
                    order(Key::Double("age".into()), false),
                ],
                Some(42),
                25,
            ),
        ),
        rendered(
            "system fields",
            &table(
                vec![
                    system(SystemField::ObjectId, FilterValue::Double(7.0)),
                    system(
                        SystemField::ObjectNumber,
                        FilterValue::Text("P-0001001".into()),
                    ),
                ],
                vec![
                    order(Key::System(SystemField::ObjectNumber), false),
                    order(Key::System(SystemField::CreatedAt), true),
                ],
                None,
                1000,
            ),
        ),
        rendered(
            "a number filter given as text that is no number",
            &table(
                vec![Filter {
                    key: Key::Double("age".into()),
                    value: FilterValue::Text("old".into()),
                }],
                vec![],
                None,
                5,
            ),
        ),
    ];
    assert_snapshot!(listing(&cases));
}

/// A cursor walk's later page: keyset after the last row, objects changed since the walk's
/// head sorted by their values then (one of them created since: left out), no count.
#[test]
fn table_walk() {
    use crate::store::{AsOf, KeyValue, Seek, Walk};
    let mut q = table(
        vec![],
        vec![
            Order {
                key: Key::Text("lastName".into()),
                descending: true,
            },
            Order {
                key: Key::Double("age".into()),
                descending: false,
            },
        ],
        None,
        25,
    );
    q.offset = 0;
    q.walk = Walk {
        after: Some(Seek {
            keys: vec![KeyValue::Text("Doe".into()), KeyValue::Null],
            id: 17,
        }),
        head: Some(40),
        count: false,
    };
    let stable = super::walk::Stable {
        head: Some(40),
        changed: vec![
            AsOf {
                id: 3,
                keys: Some(vec![Some(KeyValue::Text("Roe".into())), None]),
            },
            AsOf { id: 9, keys: None },
        ],
    };
    let built = super::table::build_walk(&q, &stable, None, false);
    assert_snapshot!(format!("{}\n-- params: {:?}", built.sql, built.params));
}
