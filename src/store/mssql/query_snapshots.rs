//! Snapshots of the T-SQL rendered for queries, reviewed in diffs.

use crate::query::sample::{plan, SNAPSHOT_QUERIES};

#[test]
fn rendered_t_sql_of_every_sample_query() {
    for (name, object_type, text) in SNAPSHOT_QUERIES {
        let built = super::query::build(&plan(object_type, text));
        insta::assert_snapshot!(
            *name,
            format!(
                "-- {object_type}: {text}\n{}\n-- params: {:?}\n",
                built.sql, built.params
            )
        );
    }
}
