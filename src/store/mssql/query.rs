//! The query language on SQL Server: a [`QueryPlan`] rendered as one T-SQL batch (the count,
//! then the page with `OFFSET ... FETCH`).
//!
//! The shape follows the embedded store's renderer: every test is `o.ObjectId IN
//! (subquery)`, nested once per hop (Lookup, JsonArray of ids, children, parents), and SQL
//! Server turns those into semi-joins that seek the `(PropertyName, PropertyAsDouble)` and
//! `(PropertyName, PropertyValuePrefix)` indexes. JSON goes through `OPENJSON` and
//! `JSON_VALUE`; text comparisons use the binary collation of the columns, so `==` is exact
//! and case-sensitive as on SQLite, `like` folds case with `LOWER`. Every name, path and
//! value is a bound `@Pn` parameter.

use super::exec::{self, Param};
use super::pool::{Client, Fail};
use super::table::{page_rows, system_column, text_equals, with_properties, Binder, TableSql};
use super::walk::{self, Stable};
use crate::query::plan::{Cmp, Cond, Hop, QueryPlan, Scalar, SystemValue, Test};
use crate::query::resolve::MAX_NEAR;
use crate::store::sqlite::projection::Layout;
use crate::store::{Key, Page, SystemField};
use std::sync::Arc;

/// Kilometres per degree of latitude (mean Earth radius 6371.0088 km).
const KM_PER_DEGREE: f64 = 111.195;

/// A binary collation for text that comes out of JSON (`OPENJSON`, `JSON_VALUE`), whose
/// collation is the database default, often case-insensitive.
const EXACT: &str = "COLLATE Latin1_General_100_BIN2";

/// `ISJSON`-guarded JSON text of a column (`N'[]'` when it holds none).
fn json_of(column: &str) -> String {
    format!("CASE WHEN ISJSON({column}) = 1 THEN {column} ELSE N'[]' END")
}

fn relational(cmp: Cmp) -> &'static str {
    match cmp {
        Cmp::StartsWith | Cmp::Like => "=",
        other => other.sql(),
    }
}

/// Great-circle distance in km between the point `(lat, lng)` (SQL expressions) and the
/// bound point.
fn distance_km(lat: &str, lng: &str, b: &mut Binder, at: (f64, f64)) -> String {
    let (plat, plng) = (b.bind(at.0), b.bind(at.1));
    let a = format!(
        "POWER(SIN(RADIANS({lat} - {plat}) / 2), 2) + COS(RADIANS({plat})) * COS(RADIANS({lat})) * POWER(SIN(RADIANS({lng} - {plng}) / 2), 2)"
    );
    format!("(2 * 6371.0088 * ASIN(SQRT(CASE WHEN {a} > 1 THEN 1 ELSE {a} END)))")
}

/// The longitude stored in a Location value (the latitude is its `PropertyAsDouble`).
fn longitude(alias: &str) -> String {
    format!(
        "TRY_CAST(JSON_VALUE({}, '$.lng') AS float)",
        json_of(&format!("{alias}.PropertyValue"))
    )
}

#[derive(Default)]
struct Renderer {
    b: Binder,
    next: usize,
    /// The complete projection of the queried type, joined as `pj`.
    proj: Option<Arc<Layout>>,
}

/// Where one property's value is stored, for [`Renderer::value_test`].
struct Columns {
    value: String,
    double: String,
    /// The indexed prefix of `value` (its first `projection::PREFIX` characters), if it has
    /// one.
    prefix: Option<String>,
}

impl Renderer {
    fn alias(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }

    /// `expr <cmp> value` for text.
    fn text(&mut self, expr: &str, cmp: Cmp, value: &str) -> String {
        let v = self.b.bind(value);
        match cmp {
            Cmp::Eq => text_equals(expr, &v),
            Cmp::StartsWith => {
                // `LEN` counts as `LEFT` does under `expr`'s binary collation (under an
                // `_SC` one, the parameter's default, a surrogate pair is one character).
                let prefix = format!("LEFT({expr}, LEN({v} {EXACT} + N'.') - 1)");
                format!("({})", text_equals(&prefix, &v))
            }
            Cmp::Like => {
                // Both folded under the binary collation (`expr` has it): a parameter has
                // the database's, and Babelfish's `LOWER` folds differently under it.
                format!("(DATALENGTH({v}) = 0 OR CHARINDEX(LOWER({v} {EXACT}), LOWER({expr})) > 0)")
            }
            other => format!("{expr} {} {v}", other.sql()),
        }
    }

    fn scalar(&mut self, expr: &str, cmp: Cmp, value: &Scalar) -> String {
        match value {
            Scalar::Text(s) => self.text(&format!("{expr} {EXACT}"), cmp, s),
            Scalar::Double(d) => format!(
                "TRY_CAST({expr} AS float) {} {}",
                relational(cmp),
                self.b.bind(*d)
            ),
            Scalar::Bool(v) => self.text(
                &format!("{expr} {EXACT}"),
                Cmp::Eq,
                if *v { "true" } else { "false" },
            ),
        }
    }

    fn system(&mut self, alias: &str, field: SystemField, cmp: Cmp, value: &SystemValue) -> String {
        let column = system_column(field).replacen("o.", &format!("{alias}."), 1);
        match value {
            SystemValue::Integer(n) => format!("{column} {} {}", relational(cmp), self.b.bind(*n)),
            SystemValue::Text(s) => self.text(&column, cmp, s),
            SystemValue::Instant(t) => {
                format!(
                    "{column} {} {}",
                    relational(cmp),
                    self.b.bind(Param::Time(t.naive_utc()))
                )
            }
        }
    }

    /// `SELECT <id> ...` of the objects passing `test`.
    fn owners(&mut self, test: &Test) -> String {
        if let Test::System { field, cmp, value } = test {
            let x = self.alias("x");
            let predicate = self.system(&x, *field, *cmp, value);
            return format!("SELECT {x}.ObjectId FROM dbo.Objects AS {x} WHERE {predicate}");
        }
        // Every other test names a property.
        let property = test.property().unwrap_or_default();
        let p = self.alias("p");
        let name = self.b.bind(property);
        let predicate = match test {
            Test::Has(_) | Test::System { .. } => String::new(),
            Test::Double { .. } | Test::OneOf { .. } | Test::Text { .. } => {
                let columns = Columns {
                    value: format!("{p}.PropertyValue"),
                    double: format!("{p}.PropertyAsDouble"),
                    // What the (PropertyName, PropertyValuePrefix) index seeks.
                    prefix: Some(format!("{p}.PropertyValuePrefix")),
                };
                let predicate = self.value_test(&columns, test).unwrap_or_default();
                format!(" AND {predicate}")
            }
            Test::Element { cmp, value, .. } => {
                let e = self.alias("e");
                let kind = match value {
                    Scalar::Text(_) => 1,
                    Scalar::Double(_) => 2,
                    Scalar::Bool(_) => 3,
                };
                let test = self.scalar(&format!("{e}.[value]"), *cmp, value);
                format!(
                    " AND EXISTS (SELECT 1 FROM OPENJSON({}) AS {e} WHERE {e}.[type] = {kind} AND {test})",
                    json_of(&format!("{p}.PropertyValue"))
                )
            }
            Test::MapValue {
                key, cmp, value, ..
            } => {
                let path = self
                    .b
                    .bind(format!("$.{}", serde_json::Value::String(key.clone())));
                let expr = format!(
                    "JSON_VALUE({}, {path})",
                    json_of(&format!("{p}.PropertyValue"))
                );
                format!(" AND {}", self.scalar(&expr, *cmp, value))
            }
        };
        format!("SELECT {p}.OwnerObjectId FROM dbo.Properties AS {p} WHERE {p}.PropertyName = {name}{predicate}")
    }

    /// The ids of objects passing the test, reached back through the hops.
    fn chain(&mut self, hops: &[Hop], test: &Test) -> String {
        let mut inner = self.owners(test);
        for hop in hops.iter().rev() {
            inner = match hop {
                Hop::Lookup(property) => {
                    let h = self.alias("h");
                    let name = self.b.bind(property.as_str());
                    format!(
                        "SELECT {h}.OwnerObjectId FROM dbo.Properties AS {h} WHERE {h}.PropertyName = {name} \
                         AND {h}.PropertyType = N'Lookup' AND {h}.PropertyAsDouble IN ({inner})"
                    )
                }
                Hop::IdArray(property) => {
                    let (h, e) = (self.alias("h"), self.alias("e"));
                    let name = self.b.bind(property.as_str());
                    // One id as plain text, or a JSON array of them; `inner` is written once.
                    let ids = self.alias("ids");
                    format!(
                        "SELECT {h}.OwnerObjectId FROM dbo.Properties AS {h} \
                         CROSS APPLY (SELECT TRY_CAST({h}.PropertyValue AS bigint) AS id UNION ALL \
                         SELECT TRY_CAST({e}.[value] AS bigint) FROM OPENJSON({}) AS {e}) AS {ids} \
                         WHERE {h}.PropertyName = {name} AND {ids}.id IN ({inner})",
                        json_of(&format!("{h}.PropertyValue"))
                    )
                }
                Hop::Children(object_type) | Hop::Parents(object_type) => {
                    let (r, t) = (self.alias("r"), self.alias("t"));
                    let (me, other) = if matches!(hop, Hop::Children(_)) {
                        ("ParentObjectId", "ChildObjectId")
                    } else {
                        ("ChildObjectId", "ParentObjectId")
                    };
                    let ty = self.b.bind(object_type.as_str());
                    format!(
                        "SELECT {r}.{me} FROM dbo.Relationships AS {r} JOIN dbo.Objects AS {t} ON {t}.ObjectId = {r}.{other} \
                         WHERE {t}.ObjectType = {ty} AND {r}.{other} IN ({inner})"
                    )
                }
            };
        }
        inner
    }

    /// A test of the queried object's own projected property, on its projection row (`pj`),
    /// or `None` when it is left to the EAV rows. Every predicate is two-valued and false
    /// without the property (`... AND pj.v<k> IS NOT NULL`), as the EAV plan's `IN`, so
    /// `NOT` means the same on both.
    fn projected(&mut self, test: &Test) -> Option<String> {
        let layout = self.proj.clone()?;
        let column = layout.column(test.property()?)?;
        let k = column.no;
        let has = format!("pj.v{k} IS NOT NULL");
        let predicate = match test {
            Test::Has(_) => return Some(format!("({has})")),
            _ => {
                let columns = Columns {
                    value: format!("pj.v{k}"),
                    double: format!("pj.d{k}"),
                    // What the projection's text indexes seek.
                    prefix: (!column.by_value).then(|| format!("pj.p{k}")),
                };
                self.value_test(&columns, test)?
            }
        };
        Some(format!("({predicate} AND {has})"))
    }

    /// A number or text test on one property's stored `columns` (its EAV row or its
    /// projection columns); `None` for the other tests.
    fn value_test(&mut self, columns: &Columns, test: &Test) -> Option<String> {
        let Columns {
            value: text,
            double,
            prefix,
        } = columns;
        Some(match test {
            Test::Double { cmp, value, .. } => {
                format!("{double} {} {}", relational(*cmp), self.b.bind(*value))
            }
            Test::OneOf { values, .. } => {
                let j = self.alias("j");
                let list = crate::query::plan::json_numbers(values);
                format!(
                    "{double} IN (SELECT CAST({j}.[value] AS float) FROM OPENJSON({}) AS {j})",
                    self.b.bind(list)
                )
            }
            Test::Text {
                cmp: Cmp::Eq,
                value,
                ..
            } => {
                let v = self.b.bind(value.as_str());
                let exact = text_equals(text, &v);
                match prefix {
                    Some(prefix) => {
                        format!(
                            "{prefix} = {} AND {exact}",
                            super::projection::prefix_of(&v)
                        )
                    }
                    None => exact,
                }
            }
            Test::Text { cmp, value, .. } => self.text(text, *cmp, value),
            _ => return None,
        })
    }

    fn cond(&mut self, c: &Cond) -> String {
        match c {
            Cond::And(items) | Cond::Or(items) => {
                let glue = if matches!(c, Cond::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts: Vec<String> = items.iter().map(|i| self.cond(i)).collect();
                format!("({})", parts.join(glue))
            }
            Cond::Not(inner) => format!("NOT ({})", self.cond(inner)),
            Cond::Test {
                hops,
                test: Test::System { field, cmp, value },
            } if hops.is_empty() => self.system("o", *field, *cmp, value),
            Cond::Test { hops, test } => match hops.is_empty().then(|| self.projected(test)) {
                Some(Some(predicate)) => predicate,
                _ => format!("o.ObjectId IN ({})", self.chain(hops, test)),
            },
        }
    }
}

/// The count (and, with a limit, the page) of a query.
#[cfg(test)]
pub fn build(plan: &QueryPlan) -> TableSql {
    build_projected(plan, &Stable::default(), None, false)
}

/// As [`build`], the order as of a walk's head; the page has one row more than the limit
/// and the sort keys' values after the object's columns. Without `walk.count`, no count.
/// With the complete projection `proj` (table number, layout) of the queried type, its own
/// properties' tests and sort keys read the projection: the same rows, in the same order,
/// as the EAV plan (`proj` None). With `counts` (its Lookup and value counts are kept), a
/// condition that is one path through a projected Lookup is counted from
/// `dbo.LookupCounts`, none or one on a counted column from `dbo.ValueCounts`.
pub fn build_projected(
    plan: &QueryPlan,
    stable: &Stable,
    proj: Option<(i64, Arc<Layout>)>,
    counts: bool,
) -> TableSql {
    let mut r = Renderer::default();
    let proj_join = match &proj {
        Some((table, _)) => format!("\nJOIN dbo.Proj_{table} AS pj ON pj.ObjectId = o.ObjectId"),
        None => String::new(),
    };
    // `company.city.name == "Berlin"`: the sum of the far end's counts (migration 0070),
    // the rows whose Lookup column holds a Lookup to one of them. The projection is
    // complete: its rows are the type's objects, each column what its EAV row holds.
    let lookup_count = match (&proj, &plan.condition) {
        (Some((table, layout)), Some(Cond::Test { hops, test }))
            if counts && plan.walk.count && plan.location.is_none() =>
        {
            match hops.split_first() {
                Some((Hop::Lookup(name), rest)) => {
                    layout.column(name).filter(|c| c.lookup).map(|c| {
                        let chain = r.chain(rest, test);
                        format!(
                            "SELECT COALESCE(SUM(lc.Total), 0)\nFROM dbo.LookupCounts AS lc\n\
                             WHERE lc.TableNo = {table} AND lc.ColumnNo = {} AND lc.NotLookup = 0 \
                             AND lc.TargetId IN ({chain})",
                            c.no
                        )
                    })
                }
                _ => None,
            }
        }
        _ => None,
    };
    // No filter, or equalities or a range on one counted column: the sum of a few value
    // counts (migration 0071).
    let lookup_count = match (lookup_count, &proj) {
        (None, Some((table, layout))) if counts && plan.walk.count && plan.location.is_none() => {
            super::table::value_count(&mut r.b, *table, layout, plan.condition.as_ref())
        }
        (count, _) => count,
    };
    r.proj = proj.map(|(_, layout)| layout);
    let mut conditions = vec![format!(
        "o.ObjectType = {}",
        r.b.bind(plan.object_type.as_str())
    )];
    if let Some(c) = &plan.condition {
        conditions.push(r.cond(c));
    }
    let mut near_join = String::new();
    let mut distance = None;
    if let Some(loc) = &plan.location {
        match loc.radius_km {
            Some(km) => {
                let l = r.alias("l");
                let name = r.b.bind(loc.property.as_str());
                let band = km / KM_PER_DEGREE;
                let (low, high) = (r.b.bind(loc.lat - band), r.b.bind(loc.lat + band));
                let d = distance_km(
                    &format!("{l}.PropertyAsDouble"),
                    &longitude(&l),
                    &mut r.b,
                    (loc.lat, loc.lng),
                );
                let km = r.b.bind(km);
                conditions.push(format!(
                    "o.ObjectId IN (SELECT {l}.OwnerObjectId FROM dbo.Properties AS {l} WHERE {l}.PropertyName = {name} \
                     AND {l}.PropertyAsDouble BETWEEN {low} AND {high} AND {d} <= {km})"
                ));
            }
            None => {
                let name = r.b.bind(loc.property.as_str());
                near_join = format!("\nJOIN dbo.Properties AS loc ON loc.OwnerObjectId = o.ObjectId AND loc.PropertyName = {name}");
                distance = Some(distance_km(
                    "loc.PropertyAsDouble",
                    &longitude("loc"),
                    &mut r.b,
                    (loc.lat, loc.lng),
                ));
            }
        }
    }
    let where_clause = format!("\nWHERE {}", conditions.join("\n  AND "));
    let mut sql = if let Some(count) = lookup_count {
        count
    } else if plan.walk.count {
        format!("SELECT COUNT_BIG(*)\nFROM dbo.Objects AS o{proj_join}{near_join}{where_clause}")
    } else {
        "SELECT CAST(0 AS bigint)".to_string()
    };
    let paged = plan.limit > 0;
    if paged {
        let (mut sort_joins, as_of_cond) = stable.join(&mut r.b, &plan.order, "o.ObjectId");
        let mut order = Vec::new();
        let mut keys = Vec::new();
        let mut key_columns = String::new();
        for (i, o) in plan.order.iter().enumerate() {
            let dir = if o.descending { "DESC" } else { "ASC" };
            let projected = match &o.key {
                Key::Double(name) | Key::Text(name) => {
                    r.proj.as_ref().and_then(|l| l.column(name)).map(|c| c.no)
                }
                Key::System(_) => None,
            };
            let current = match (&o.key, projected) {
                (Key::System(field), _) => system_column(*field).to_string(),
                (Key::Double(_), Some(k)) => format!("pj.d{k}"),
                (Key::Text(_), Some(k)) => format!("pj.v{k}"),
                (Key::Double(name) | Key::Text(name), None) => {
                    sort_joins.push_str(&format!(
                        "\nLEFT JOIN dbo.Properties AS s{i} ON s{i}.OwnerObjectId = o.ObjectId AND s{i}.PropertyName = {}",
                        r.b.bind(name.as_str())
                    ));
                    if matches!(o.key, Key::Double(_)) {
                        format!("s{i}.PropertyAsDouble")
                    } else {
                        format!("s{i}.PropertyValue")
                    }
                }
            };
            let key = walk::key_expr(&o.key, stable.effective(i, &o.key, &current), o.descending);
            // Objects without the value come last in either direction.
            order.push(format!("CASE WHEN {} IS NULL THEN 1 ELSE 0 END", key.expr));
            order.push(format!("{} {dir}", key.compare.replace("{}", &key.expr)));
            key_columns.push_str(&format!(", {} AS k{i}", key.expr));
            keys.push(key);
        }
        if order.is_empty() {
            if let Some(d) = distance {
                order.push(format!("{d} ASC"));
            }
        }
        order.push("o.ObjectId ASC".into());
        let mut tail = as_of_cond;
        if let Some(seek) = &plan.walk.after {
            tail.push_str(&walk::keyset(&mut r.b, &keys, "o.ObjectId", seek));
        }
        let offset = r.b.bind(plan.offset.min(i64::MAX as u64) as i64);
        let limit =
            r.b.bind(plan.limit.saturating_add(1).min(i64::MAX as u64) as i64);
        sql.push_str(&format!(
            ";\nSELECT o.ObjectId, o.ObjectType, o.ObjectNumber, o.CreatedAt, o.UpdatedAt{key_columns}\n\
             FROM dbo.Objects AS o{proj_join}{near_join}{sort_joins}{where_clause}{tail}\nORDER BY {}\n\
             OFFSET {offset} ROWS FETCH NEXT {limit} ROWS ONLY",
            order.join(", ")
        ));
    }
    TableSql {
        sql,
        params: r.b.params,
        paged,
    }
}

/// Runs a query: the page (with `columns`, or all properties) and the total.
pub async fn run(
    c: &mut Client,
    plan: &QueryPlan,
    columns: Option<&[String]>,
) -> Result<Page, Fail> {
    let (proj, counts) = match super::projection::complete_counted(c, &plan.object_type).await? {
        Some((p, counted)) => (Some(p), counted),
        None => (None, false),
    };
    run_with(c, plan, columns, proj, counts).await
}

/// [`run`] with the projection given (or none: the EAV plan), and whether its Lookup counts
/// are kept (`dbo.LookupCounts`).
pub async fn run_with(
    c: &mut Client,
    plan: &QueryPlan,
    columns: Option<&[String]>,
    proj: Option<(i64, Arc<Layout>)>,
    counts: bool,
) -> Result<Page, Fail> {
    let stable = walk::stable(c, &plan.object_type, &plan.order, &plan.walk).await?;
    let built = build_projected(plan, &stable, proj, counts);
    let mut sets = exec::sets(c, &built.sql, built.params).await?.into_iter();
    let mut total = match sets.next().and_then(|s| s.into_iter().next()) {
        Some(row) => exec::req::<i64>(&row, 0)?.max(0) as u64,
        None => 0,
    };
    let near = plan
        .location
        .as_ref()
        .is_some_and(|l| l.radius_km.is_none());
    if near {
        total = total.min(MAX_NEAR);
    }
    let (objects, mut next) = page_rows(sets.next().unwrap_or_default(), &plan.order, plan.limit)?;
    if near {
        // Sorted by distance: no cursor (at most 100 anyway).
        next = None;
    }
    let objects = with_properties(c, objects, columns).await?;
    Ok(Page {
        objects,
        total,
        next,
        head: stable.head,
    })
}
