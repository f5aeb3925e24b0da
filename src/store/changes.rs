//! The change log's shared part (API.md §12): what a change is, how a write's change is
//! computed from the object before and after it, and who is acting.
//!
//! Each backend writes its changes through one small function (`sqlite/changes.rs`,
//! `mssql/changes.rs`) called from each write function inside its transaction, so a change
//! never exists without its write nor a write without its change. What a change holds is
//! backend-neutral JSON (see [`diff`]); the service renders it as §4 renders values.
//!
//! The acting key's id reaches the stores without a parameter on every write: the HTTP
//! layer runs each request inside [`acting`], a task-local scope; the SQLite writer thread,
//! which runs jobs of many requests, is given each job's context by [`Acting::on_thread`];
//! work moved to another task carries it with [`Acting::scope`].

use std::cell::RefCell;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{ObjectRecord, PropertyRow};
use crate::model::{ObjectId, PropertyType};

/// Changes one read of the log returns at most.
pub const MAX_CHANGES: u32 = 1000;

/// The operations a change records, as the endpoints name them (`saveProperty` and
/// `uploadFile` record as `saveProperties`, as docs/API.md says).
pub mod op {
    pub const NEW_OBJECT: &str = "newObject";
    pub const SAVE_PROPERTIES: &str = "saveProperties";
    pub const CHANGE_OBJECT_TYPE: &str = "changeObjectType";
    pub const DROP_OBJECT: &str = "dropObject";
    pub const SAVE_RELATIONSHIP: &str = "saveRelationship";
    pub const DROP_RELATIONSHIP: &str = "dropRelationship";
}

/// Rows written (in write order; `None`: removed), one per name, the last written of each,
/// in name order (as an object's properties are read).
pub fn last_writes(
    stored: Vec<(String, Option<PropertyRow>)>,
) -> Vec<(String, Option<PropertyRow>)> {
    let mut written: Vec<(String, Option<PropertyRow>)> = Vec::with_capacity(stored.len());
    for (name, row) in stored {
        match written.iter_mut().find(|(n, _)| *n == name) {
            Some(w) => w.1 = row,
            None => written.push((name, row)),
        }
    }
    written.sort_by(|a, b| a.0.cmp(&b.0));
    written
}

/// One row of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub change_id: i64,
    pub object_id: ObjectId,
    pub object_type: String,
    pub operation: String,
    pub at: DateTime<Utc>,
    pub key_id: Option<String>,
    /// `{"NAME": [from, to]}` as [`diff`] makes it.
    pub changes: Map<String, Value>,
}

/// A change to write: everything but its id and time, which the backend assigns.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChange {
    pub object_id: ObjectId,
    pub object_type: String,
    pub operation: &'static str,
    pub changes: Map<String, Value>,
}

impl NewChange {
    /// The change of one object from `before` to `after` (`None`: absent), by `operation`;
    /// `None` when the object is absent on both sides.
    pub fn of(
        operation: &'static str,
        before: Option<&ObjectRecord>,
        after: Option<&ObjectRecord>,
    ) -> Option<NewChange> {
        let object = after.or(before)?;
        Some(NewChange {
            object_id: object.id,
            object_type: object.object_type.clone(),
            operation,
            changes: diff(before, after),
        })
    }

    /// A property write's change to `before`, and the object the write leaves: `stored`
    /// are the rows written, in write order (`None`: removed; of a name written twice the
    /// last counts), at `updated_at`. The same change and object as [`NewChange::of`] from
    /// `before` to a read after the write, found from the written rows alone and without
    /// copying the object (this runs for every `saveProperty`, on the writer thread).
    pub fn of_writes(
        operation: &'static str,
        mut before: ObjectRecord,
        stored: Vec<(String, Option<PropertyRow>)>,
        updated_at: DateTime<Utc>,
    ) -> (NewChange, ObjectRecord) {
        let written = last_writes(stored);
        let mut changes = Map::new();
        if before.updated_at != updated_at {
            changes.insert(
                "updatedAt".into(),
                json!([time(&before.updated_at), time(&updated_at)]),
            );
        }
        let properties = &mut before.properties;
        for (name, row) in written {
            let at = properties.binary_search_by(|p| p.name.as_str().cmp(&name));
            let was = at.ok().map(|i| &properties[i]);
            if was != row.as_ref() {
                changes.insert(
                    name,
                    Value::Array(vec![
                        was.map_or(Value::Null, cell),
                        row.as_ref().map_or(Value::Null, cell),
                    ]),
                );
            }
            match (at, row) {
                (Ok(i), Some(row)) => properties[i] = row,
                (Ok(i), None) => {
                    properties.remove(i);
                }
                (Err(i), Some(row)) => properties.insert(i, row),
                (Err(_), None) => {}
            }
        }
        before.updated_at = updated_at;
        let change = NewChange {
            object_id: before.id,
            object_type: before.object_type.clone(),
            operation,
            changes,
        };
        (change, before)
    }

    /// The change a relationship write makes to `object` (its parent or its child):
    /// `parentObjectId`, `childObjectId` and `strict`, each from/to (absent as null).
    pub fn relationship(
        operation: &'static str,
        object: (ObjectId, &str),
        link: (ObjectId, ObjectId),
        strict: (Option<bool>, Option<bool>),
    ) -> NewChange {
        let side = |present: bool, v: Value| if present { v } else { Value::Null };
        let (was, is) = (strict.0.is_some(), strict.1.is_some());
        let mut changes = Map::new();
        if was != is {
            changes.insert(
                "parentObjectId".into(),
                json!([side(was, link.0.into()), side(is, link.0.into())]),
            );
            changes.insert(
                "childObjectId".into(),
                json!([side(was, link.1.into()), side(is, link.1.into())]),
            );
        }
        if strict.0 != strict.1 {
            changes.insert("strict".into(), json!([strict.0, strict.1]));
        }
        NewChange {
            object_id: object.0,
            object_type: object.1.to_owned(),
            operation,
            changes,
        }
    }
}

/// The system fields a change compares, besides the properties.
pub const SYSTEM_FIELDS: [&str; 4] = ["objectType", "objectNumber", "createdAt", "updatedAt"];

/// A property row as the log keeps it: its columns, so that it renders later exactly as
/// §4 rendered it then (a Lookup's display text included).
fn cell(p: &PropertyRow) -> Value {
    let mut c = Map::new();
    c.insert("t".into(), p.property_type.as_str().into());
    c.insert("v".into(), p.value.clone().into());
    if let Some(d) = p.as_double.and_then(serde_json::Number::from_f64) {
        c.insert("d".into(), Value::Number(d));
    }
    if let Some(s) = &p.as_string {
        c.insert("s".into(), s.clone().into());
    }
    Value::Object(c)
}

/// A time as §4 renders it.
pub fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What changed from `before` to `after`: `{"NAME": [from, to]}` for each system field and
/// property that differs, a side `null` where it is absent. A property side is its columns
/// (`{"t": type, "v": value, "d": asDouble, "s": asString}`); a system field's is its JSON.
/// Only what differs is formatted: this runs inside every write's transaction.
pub fn diff(before: Option<&ObjectRecord>, after: Option<&ObjectRecord>) -> Map<String, Value> {
    let mut out = Map::new();
    let pair = |out: &mut Map<String, Value>, name: &str, from: Value, to: Value| {
        out.insert(name.into(), Value::Array(vec![from, to]));
    };
    let text = |v: Option<String>| v.map_or(Value::Null, Value::String);
    let (b, a) = (before, after);
    if b.map(|o| &o.object_type) != a.map(|o| &o.object_type) {
        let f = |o: Option<&ObjectRecord>| text(o.map(|o| o.object_type.clone()));
        pair(&mut out, "objectType", f(b), f(a));
    }
    if b.and_then(|o| o.object_number.as_ref()) != a.and_then(|o| o.object_number.as_ref()) {
        let f = |o: Option<&ObjectRecord>| text(o.and_then(|o| o.object_number.clone()));
        pair(&mut out, "objectNumber", f(b), f(a));
    }
    if b.map(|o| o.created_at) != a.map(|o| o.created_at) {
        let f = |o: Option<&ObjectRecord>| text(o.map(|o| time(&o.created_at)));
        pair(&mut out, "createdAt", f(b), f(a));
    }
    if b.map(|o| o.updated_at) != a.map(|o| o.updated_at) {
        let f = |o: Option<&ObjectRecord>| text(o.map(|o| time(&o.updated_at)));
        pair(&mut out, "updatedAt", f(b), f(a));
    }
    // Both property lists are sorted by name: one merge.
    let empty: &[PropertyRow] = &[];
    let (mut from, mut to) = (
        b.map_or(empty, |o| o.properties.as_slice())
            .iter()
            .peekable(),
        a.map_or(empty, |o| o.properties.as_slice())
            .iter()
            .peekable(),
    );
    loop {
        let (f, t) = match (from.peek(), to.peek()) {
            (None, None) => break,
            (Some(f), Some(t)) if f.name == t.name => (from.next(), to.next()),
            (Some(f), Some(t)) if f.name < t.name => (from.next(), None),
            (Some(_), Some(_)) | (None, Some(_)) => (None, to.next()),
            (Some(_), None) => (from.next(), None),
        };
        if f != t {
            let name = f.or(t).map(|p| p.name.as_str()).unwrap_or_default();
            pair(
                &mut out,
                name,
                f.map_or(Value::Null, cell),
                t.map_or(Value::Null, cell),
            );
        }
    }
    out
}

/// A side of a stored property change as a [`PropertyRow`] named `name` (`None`: absent).
pub fn row_of(name: &str, side: &Value) -> Option<PropertyRow> {
    let c = side.as_object()?;
    Some(PropertyRow {
        name: name.to_owned(),
        property_type: c
            .get("t")
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok())
            .unwrap_or(PropertyType::String),
        value: c.get("v").and_then(Value::as_str).unwrap_or("").to_owned(),
        as_double: c.get("d").and_then(Value::as_f64),
        as_string: c.get("s").and_then(Value::as_str).map(str::to_owned),
    })
}

/// What a reader of the log after some id gets.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// The largest id retention has deleted: a reader that last saw an older one missed
    /// changes.
    pub pruned_through: i64,
    /// The largest id in the log when it was read (where a new reader starts).
    pub head: i64,
    /// The last id this read looked at, matching or not: the next read goes on after it.
    pub through: i64,
}

/// Which changes a reader of the log wants (none given: all).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangeFilter {
    pub object_types: Vec<String>,
    pub object_id: Option<ObjectId>,
}

impl ChangeFilter {
    pub fn matches(&self, c: &Change) -> bool {
        (self.object_types.is_empty() || self.object_types.contains(&c.object_type))
            && self.object_id.is_none_or(|id| id == c.object_id)
    }
}

/// What a claim of an `Idempotency-Key` found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The key is this request's now, under the token it claimed with: run it, then
    /// [`crate::store::Store::finish_idempotency`].
    Claimed,
    /// A request with this key ran or runs: its body's hash and, once done, its answer.
    Taken {
        body_hash: String,
        response: Option<String>,
        /// Its write committed (the answer may still be on its way).
        committed: bool,
        /// It was claimed before the stale limit: a committed one without an answer lost
        /// it (its process stopped between the commit and storing the answer).
        stale: bool,
    },
}

/// The claim of an `Idempotency-Key` a request runs under: the write that records its
/// changes marks the claim as committed in the same transaction, and only if the claim is
/// still this request's (`token`), so a claim taken over by a retry can never lead to two
/// writes (`docs/DECISIONS.md`, "Idempotency-Key").
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyClaim {
    pub key: String,
    pub token: String,
}

/// Who acts in a request, for every write it makes: the key's id and the claim of its
/// `Idempotency-Key`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Acting {
    pub key_id: Option<String>,
    pub idempotency: Option<IdempotencyClaim>,
}

impl Acting {
    /// The context of this task (a request), or of this writer thread's job.
    pub fn current() -> Acting {
        ACTING
            .try_with(Clone::clone)
            .ok()
            .unwrap_or_else(|| WRITER_ACTING.with(|a| a.borrow().clone()))
    }

    /// Runs `f` (a request, or its work on another task) in this context.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        ACTING.scope(self, f).await
    }

    /// Runs `f` on this (writer) thread in this context; the previous one comes back
    /// afterwards, even if `f` panics.
    pub fn on_thread<T>(self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<Acting>);
        impl Drop for Restore {
            fn drop(&mut self) {
                if let Some(previous) = self.0.take() {
                    WRITER_ACTING.with(|a| *a.borrow_mut() = previous);
                }
            }
        }
        let _restore = Restore(Some(WRITER_ACTING.with(|a| a.replace(self))));
        f()
    }
}

tokio::task_local! {
    static ACTING: Acting;
}

thread_local! {
    static WRITER_ACTING: RefCell<Acting> = RefCell::new(Acting::default());
}

/// Runs `f` (a request) with `key_id` as the acting key of every write it makes.
pub async fn acting<F: Future>(key_id: Option<String>, f: F) -> F::Output {
    Acting {
        key_id,
        idempotency: None,
    }
    .scope(f)
    .await
}

/// Runs `f` (a request's handler) under `claim`, acting as before.
pub async fn claiming<F: Future>(claim: IdempotencyClaim, f: F) -> F::Output {
    Acting {
        idempotency: Some(claim),
        ..Acting::current()
    }
    .scope(f)
    .await
}

/// The acting key's id, if a request with a key is acting here.
pub fn actor() -> Option<String> {
    Acting::current().key_id
}

/// The `Idempotency-Key` claim the acting request runs under, if any.
pub fn idempotency_claim() -> Option<IdempotencyClaim> {
    Acting::current().idempotency
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(props: &[(&str, &str)]) -> ObjectRecord {
        ObjectRecord {
            id: 7,
            object_type: "Person".into(),
            object_number: None,
            created_at: DateTime::from_timestamp_millis(0).unwrap(),
            updated_at: DateTime::from_timestamp_millis(0).unwrap(),
            properties: props
                .iter()
                .map(|(n, v)| PropertyRow {
                    name: (*n).into(),
                    property_type: PropertyType::String,
                    value: (*v).into(),
                    as_double: None,
                    as_string: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_diff_names_only_what_changed_with_both_sides() {
        let before = record(&[("a", "1"), ("b", "2")]);
        let mut after = record(&[("a", "1"), ("c", "3")]);
        after.updated_at = DateTime::from_timestamp_millis(1000).unwrap();
        let d = diff(Some(&before), Some(&after));
        let mut keys: Vec<&str> = d.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["b", "c", "updatedAt"]);
        assert_eq!(d["b"][1], Value::Null);
        assert_eq!(row_of("b", &d["b"][0]).unwrap().value, "2");
        assert_eq!(d["c"][0], Value::Null);
    }

    /// Rows named from a few names, so that writes meet existing ones and each other.
    fn a_row() -> impl proptest::strategy::Strategy<Value = PropertyRow> {
        use proptest::prelude::*;
        (0..4u8, 0..3u8, proptest::option::of(0..3u8)).prop_map(|(n, v, s)| PropertyRow {
            name: format!("p{n}"),
            property_type: PropertyType::String,
            value: format!("v{v}"),
            as_double: None,
            as_string: s.map(|s| format!("s{s}")),
        })
    }

    proptest::proptest! {
        /// `of_writes` against its definition: the diff from `before` to the object a
        /// read after the write gives (each write replaces or removes its name's row).
        #[test]
        fn a_change_from_the_written_rows_is_the_diff_to_the_object_read_after(
            props in proptest::collection::btree_map("p[0-3]", a_row(), 0..4),
            writes in proptest::collection::vec((0..4u8, proptest::option::of(a_row())), 0..6),
            later in proptest::bool::ANY,
        ) {
            let mut before = record(&[]);
            before.properties = props
                .into_iter()
                .map(|(name, row)| PropertyRow { name, ..row })
                .collect();
            let stored: Vec<(String, Option<PropertyRow>)> = writes
                .into_iter()
                .map(|(n, row)| {
                    let name = format!("p{n}");
                    let row = row.map(|r| PropertyRow { name: name.clone(), ..r });
                    (name, row)
                })
                .collect();
            let updated_at = DateTime::from_timestamp_millis(if later { 5000 } else { 0 }).unwrap();
            let mut read = before.clone();
            for (name, row) in &stored {
                read.properties.retain(|p| p.name != *name);
                read.properties.extend(row.clone());
            }
            read.properties.sort_by(|a, b| a.name.cmp(&b.name));
            read.updated_at = updated_at;
            let expected = NewChange::of(op::SAVE_PROPERTIES, Some(&before), Some(&read)).unwrap();
            let (change, after) =
                NewChange::of_writes(op::SAVE_PROPERTIES, before, stored, updated_at);
            proptest::prop_assert_eq!(after, read);
            proptest::prop_assert_eq!(
                serde_json::to_string(&change.changes).unwrap(),
                serde_json::to_string(&expected.changes).unwrap(),
                "the same change, in the same order"
            );
            proptest::prop_assert_eq!(change, expected);
        }
    }

    #[test]
    fn a_new_object_diff_has_every_field_from_null() {
        let d = diff(None, Some(&record(&[("a", "1")])));
        assert_eq!(d["objectType"], json!([null, "Person"]));
        assert!(!d.contains_key("objectNumber"), "absent on both sides");
        assert_eq!(d["a"][0], Value::Null);
    }

    fn as_key(id: &str) -> Acting {
        Acting {
            key_id: Some(id.into()),
            idempotency: None,
        }
    }

    #[test]
    fn the_writer_thread_actor_is_restored_after_a_job() {
        as_key("k1").on_thread(|| assert_eq!(actor().as_deref(), Some("k1")));
        assert_eq!(actor(), None);
    }

    #[test]
    fn the_writer_thread_actor_is_restored_after_a_job_that_panics() {
        let caught = std::panic::catch_unwind(|| as_key("k2").on_thread(|| panic!("a job")));
        assert!(caught.is_err());
        assert_eq!(actor(), None);
    }

    #[tokio::test]
    async fn a_claim_keeps_the_acting_key_and_goes_to_spawned_work_only_when_carried() {
        let claim = IdempotencyClaim {
            key: "k:1".into(),
            token: "t".into(),
        };
        acting(Some("k3".into()), async {
            claiming(claim.clone(), async {
                assert_eq!(actor().as_deref(), Some("k3"));
                assert_eq!(idempotency_claim(), Some(claim.clone()));
                let carried = Acting::current();
                let (lost, kept) = tokio::join!(
                    tokio::spawn(async { Acting::current() }),
                    tokio::spawn(carried.clone().scope(async { Acting::current() }))
                );
                assert_eq!(lost.unwrap(), Acting::default());
                assert_eq!(kept.unwrap(), carried);
            })
            .await
        })
        .await;
    }
}
