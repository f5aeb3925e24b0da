//! Snapshots of the SQL the embedded store renders for queries, reviewed in diffs.

use crate::dsconfig::{self, Config, ListItem, PropertyConfig};
use crate::query::{self, resolve};

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

fn rendered(object_type: &str, text: &str) -> String {
    let config = dsconfig::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/dsconfig").as_ref())
        .expect("the sample DSConfig loads");
    let parsed = query::parse(text).expect("the query parses");
    let paging = resolve::Paging {
        offset: None,
        limit: None,
        max_results: 1000,
    };
    let plan = resolve::resolve(&parsed, object_type, &Sample(config), paging)
        .expect("the query resolves");
    let r = super::query::render(&plan);
    format!(
        "-- {object_type}: {text}\n{}\n-- params: {:?}\n{}\n-- params: {:?}\n",
        r.page.sql, r.page.params, r.count.sql, r.count.params
    )
}

macro_rules! snapshot {
    ($name:ident, $object_type:literal, $query:literal) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(rendered($object_type, $query));
        }
    };
}

snapshot!(equality_on_text, "Person", "lastName == \"Doe\"");
snapshot!(
    range_and_equality_with_order_and_limit,
    "Person",
    "age > 30 and lastName == \"Doe\" order by age limit 50"
);
snapshot!(not_equal_and_null, "Person", "age != 24 or company == null");
snapshot!(
    startswith_and_like,
    "Person",
    "firstName startswith \"J\" and lastName like \"oe\""
);
snapshot!(
    lookup_path,
    "Person",
    "company.city.name == \"Berlin\" limit 50"
);
snapshot!(
    children_and_parents,
    "Person",
    "children.Order.amount > 100 or parents.Company.name == \"Acme\""
);
snapshot!(json_array_of_ids, "Place", "users.age > 30");
snapshot!(
    json_array_elements_and_size,
    "Person",
    "tags == \"vip\" or tags size 0"
);
snapshot!(map_key, "Person", "preferences.food like \"pasta\"");
snapshot!(
    system_fields,
    "Person",
    "objectId == id(42) or createdAt > date(1347600117535) or objectNumber startswith \"P-\""
);
snapshot!(
    within_with_filter,
    "Person",
    "home within [51.3, 12.3, 10.0] filter age >= 18"
);
snapshot!(near_with_limit, "Person", "home near [51.3, 12.3] limit 10");
snapshot!(
    everything,
    "Person",
    "order by createdAt DESC offset 5 limit 4"
);
