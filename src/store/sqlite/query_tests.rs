//! Snapshots of the SQL the embedded store renders for queries, reviewed in diffs.

use crate::query::sample::{plan, SNAPSHOT_QUERIES};

#[test]
fn rendered_sql_of_every_sample_query() {
    for (name, object_type, text) in SNAPSHOT_QUERIES {
        let r = super::query::render(&plan(object_type, text));
        insta::assert_snapshot!(
            *name,
            format!(
                "-- {object_type}: {text}\n{}\n-- params: {:?}\n{}\n-- params: {:?}\n",
                r.page.sql, r.page.params, r.count.sql, r.count.params
            )
        );
    }
}
