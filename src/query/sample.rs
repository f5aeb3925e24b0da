//! Test support: queries resolved against the sample DSConfig, for the renderers' snapshots.

use super::plan::QueryPlan;
use super::{parse, resolve};
use crate::dsconfig::{self, Config, ListItem, PropertyConfig};

struct Sample(Config);

impl resolve::Schema for Sample {
    fn property(&self, object_type: &str, name: &str) -> Option<&PropertyConfig> {
        self.0.property(object_type, name)
    }
    fn list(&self, name: &str) -> Option<&[ListItem]> {
        self.0.list(name)
    }
    fn is_strict(&self) -> bool {
        self.0.is_strict()
    }
    fn time_zone(&self) -> chrono_tz::Tz {
        chrono_tz::Tz::UTC
    }
}

/// The plan of `text` over `object_type` with the sample DSConfig (`dsconfig/`).
pub(crate) fn plan(object_type: &str, text: &str) -> QueryPlan {
    let config = dsconfig::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/dsconfig").as_ref())
        .expect("the sample DSConfig loads");
    let parsed = parse(text).expect("the query parses");
    let paging = resolve::Paging {
        offset: None,
        limit: None,
        max_results: 1000,
    };
    resolve::resolve(&parsed, object_type, &Sample(config), paging).expect("the query resolves")
}

/// The queries whose rendered SQL every backend snapshots: (test name, type, query).
pub(crate) const SNAPSHOT_QUERIES: &[(&str, &str, &str)] = &[
    ("equality_on_text", "Person", "lastName == \"Doe\""),
    (
        "range_and_equality_with_order_and_limit",
        "Person",
        "age > 30 and lastName == \"Doe\" order by age limit 50",
    ),
    (
        "not_equal_and_null",
        "Person",
        "age != 24 or company == null",
    ),
    (
        "startswith_and_like",
        "Person",
        "firstName startswith \"J\" and lastName like \"oe\"",
    ),
    (
        "lookup_path",
        "Person",
        "company.city.name == \"Berlin\" limit 50",
    ),
    (
        "children_and_parents",
        "Person",
        "children.Order.amount > 100 or parents.Company.name == \"Acme\"",
    ),
    ("json_array_of_ids", "Place", "users.age > 30"),
    (
        "json_array_elements_and_size",
        "Person",
        "tags == \"vip\" or tags size 0",
    ),
    ("map_key", "Person", "preferences.food like \"pasta\""),
    (
        "system_fields",
        "Person",
        "objectId == id(42) or createdAt > date(1347600117535) or objectNumber startswith \"P-\"",
    ),
    (
        "within_with_filter",
        "Person",
        "home within [51.3, 12.3, 10.0] filter age >= 18",
    ),
    (
        "near_with_limit",
        "Person",
        "home near [51.3, 12.3] limit 10",
    ),
    (
        "everything",
        "Person",
        "order by createdAt DESC offset 5 limit 4",
    ),
];
