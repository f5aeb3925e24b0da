//! What crosses the store boundary: records read, requests written, and the store's errors.

use chrono::{DateTime, Utc};

use crate::dsconfig::Config;
use crate::model::{Key, ObjectId, Order, PropertyType};

/// One row of `Properties`.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyRow {
    pub name: String,
    /// The type the value was converted as when it was saved.
    pub property_type: PropertyType,
    pub value: String,
    pub as_double: Option<f64>,
    pub as_string: Option<String>,
}

/// One object with the properties that were asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRecord {
    pub id: ObjectId,
    pub object_type: String,
    pub object_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Sorted by name.
    pub properties: Vec<PropertyRow>,
}

impl ObjectRecord {
    pub fn property(&self, name: &str) -> Option<&PropertyRow> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// A converted value to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewValue {
    pub property_type: PropertyType,
    pub value: String,
    pub as_double: Option<f64>,
    pub as_string: Option<String>,
    /// For a Lookup: what the target must be. The store checks it and sets `as_string` to
    /// the target's display text in the same transaction.
    pub lookup: Option<LookupTarget>,
}

/// The configured target of a Lookup property.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupTarget {
    pub object_id: ObjectId,
    pub object_type: String,
    /// A property of the target, or the system field `objectNumber` / `objectId`.
    pub display: String,
}

/// A Lookup property configured on objects of `owner_type`.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupSite {
    pub owner_type: String,
    pub property_name: String,
    /// Lookups that display this Lookup (a chain): when its display text changes, theirs
    /// does too, with the same text.
    pub dependents: Vec<LookupSite>,
}

/// One property to set (`Some`) or remove (`None`).
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyWrite {
    pub name: String,
    pub value: Option<NewValue>,
    /// Lookups that display this property of this object: their display texts follow it.
    pub dependents: Vec<LookupSite>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewObject {
    pub object_type: String,
    pub properties: Vec<PropertyWrite>,
    /// The DSConfig version the properties were converted with; if another is stored by
    /// now the store answers [`StoreError::ConfigChanged`] and changes nothing.
    pub config_version: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SaveProperties {
    /// As [`NewObject::config_version`].
    pub config_version: i64,
    pub object_id: ObjectId,
    /// The type the writes were converted for; if the object has another type by now the
    /// store answers [`StoreError::TypeChanged`] and changes nothing.
    pub expected_type: String,
    pub writes: Vec<PropertyWrite>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DropObject {
    pub object_id: ObjectId,
    /// Children of these types are dropped too, recursively with the same list.
    pub child_types: Vec<String>,
    /// Walk and check only, delete nothing: the ids a drop would delete now. A global
    /// object's drop asks every app about them before it drops (API.md §9).
    pub check_only: bool,
    /// Drop only when the walk finds exactly these ids (in any order); otherwise
    /// [`StoreError::TypeChanged`] of the object and nothing changes: try again.
    pub expect: Option<Vec<ObjectId>>,
}

impl DropObject {
    /// A plain drop: the object and the children of `child_types`.
    pub fn new(object_id: ObjectId, child_types: Vec<String>) -> DropObject {
        DropObject {
            object_id,
            child_types,
            check_only: false,
            expect: None,
        }
    }

    /// True when `doomed` is not the set [`DropObject::expect`] names.
    pub fn unexpected(&self, doomed: &[ObjectId]) -> bool {
        self.expect.as_ref().is_some_and(|expect| {
            let mut a = expect.clone();
            let mut b = doomed.to_vec();
            a.sort_unstable();
            b.sort_unstable();
            a != b
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Children,
    Parents,
}

/// A page of the children or parents of one object, in related object id order.
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedQuery {
    pub object_id: ObjectId,
    pub direction: Direction,
    /// Only related objects of this type.
    pub object_type: Option<String>,
    pub offset: u64,
    pub limit: u64,
    /// Cursor paging: only related objects with ids above this one.
    pub after: Option<ObjectId>,
    /// Counts the matches (false: `total` is 0 and no count runs).
    pub count: bool,
}

/// A page of related objects, each with its relationship's `strict`, and the number of
/// matches before paging (both read from one state of the database).
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedPage {
    pub objects: Vec<(ObjectRecord, bool)>,
    pub total: u64,
}

/// A table view: objects of one type, filtered by equality, sorted, paged.
#[derive(Debug, Clone, PartialEq)]
pub struct TableQuery {
    pub object_type: String,
    /// Properties to return; `None` is all of them.
    pub columns: Option<Vec<String>>,
    pub parent_id: Option<ObjectId>,
    pub filters: Vec<Filter>,
    pub order: Vec<Order>,
    pub offset: u64,
    pub limit: u64,
    /// Cursor paging (API.md §12).
    pub walk: Walk,
}

/// Equality with a literal of the key's kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub key: Key,
    pub value: FilterValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    Double(f64),
    Text(String),
}

/// A page of objects and the number of matches before paging.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub objects: Vec<ObjectRecord>,
    /// 0 when the query did not count ([`Walk::count`] false).
    pub total: u64,
    /// Where the next page starts, when there is one (cursor paging).
    pub next: Option<Seek>,
    /// The change-log head the walk is ordered as of (see [`Walk::head`]).
    pub head: Option<i64>,
}

/// The DSConfig stored in the database: the active one (API.md §10).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConfig {
    pub config: Config,
    /// Goes up by one with every different DSConfig applied.
    pub version: i64,
    /// The version whose display-text refresh has completed.
    pub displays_version: i64,
}

/// A projection's state (docs/QUERY.md, "Projections").
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionStatus {
    pub object_type: String,
    /// `None`: complete, queries use it; else the last objectId its rebuild has done.
    pub built_up_to: Option<ObjectId>,
    /// When a process last advanced its rebuild.
    pub claimed_at: Option<DateTime<Utc>>,
}

/// The stored DSConfig's version and the version its display texts are at (0, 0 when none
/// is stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfigVersions {
    pub version: i64,
    pub displays_version: i64,
}

/// What applying a DSConfig did.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedConfig {
    /// The version now stored (unchanged when the same DSConfig was stored already).
    pub version: i64,
    /// False when the stored DSConfig was the same.
    pub changed: bool,
    /// The DSConfig it replaced, if any, and whether that one's display refresh had
    /// completed (if not, the next refresh must cover everything).
    pub previous: Option<StoredConfig>,
}

/// Display texts to recompute: one configured Lookup or List property of a type (archived
/// objects of the type included). Stored rows of another property type are left alone.
#[derive(Debug, Clone, PartialEq)]
pub struct DisplayRefresh {
    /// The type and its archived twin (`Person`, `ARCH_Person`).
    pub owner_types: Vec<String>,
    pub property_name: String,
    pub source: DisplaySource,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DisplaySource {
    /// The target's display property (or `objectId` / `objectNumber`).
    Lookup { display: String },
    /// The stored DSConfig's list of this name (its items are stored with it).
    List { list: String },
    /// Texts read elsewhere, by target id: a Lookup to a global type, whose targets live
    /// in the global database (API.md §9). A Lookup whose target is not listed keeps its
    /// text.
    Given {
        texts: Vec<(ObjectId, Option<String>)>,
    },
}

/// The store's failures. The first group are the client's doing; the rest are ours.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object {0} does not exist")]
    ObjectNotFound(ObjectId),
    #[error("object {0} changed its type meanwhile")]
    TypeChanged(ObjectId),
    #[error("another DSConfig became active meanwhile")]
    ConfigChanged,
    #[error("the lookup `{property}` points at {target}, which {reason}")]
    InvalidLookup {
        property: String,
        target: ObjectId,
        reason: String,
    },
    #[error("the object has strict children of types not listed in childObjectTypes")]
    StrictChildrenExist { child_types: Vec<String> },
    #[error("the object is referenced by a lookup of another object")]
    ReferencedByLookup { object_ids: Vec<ObjectId> },
    #[error("configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Database(String),
    #[error("the database is busy; try again")]
    Busy,
    /// An import refused: the message names the line of the file when it can.
    #[error("{0}")]
    ImportRefused(String),
    /// Inside the SQL Server store only: a [`DropObject::check_only`] walk ends by rolling
    /// its transaction back with the ids it would delete.
    #[error("a checked drop ({} objects)", .0.len())]
    DropChecked(Vec<ObjectId>),
    /// The request's `Idempotency-Key` claim was taken over by a retry (the request ran
    /// past the stale limit): its write rolled back, the retry's stands.
    #[error("the Idempotency-Key claim was taken over by a retry")]
    IdempotencyClaimLost,
    /// A cursor walk's start is older than the change log keeps (retention pruned it).
    #[error("the walk started at change {head}; the change log keeps changes after {pruned_through} only")]
    CursorExpired { head: i64, pruned_through: i64 },
}

impl StoreError {
    /// Every [`StoreError::kind`].
    pub const KINDS: [&'static str; 13] = [
        "object_not_found",
        "type_changed",
        "config_changed",
        "invalid_lookup",
        "strict_children_exist",
        "referenced_by_lookup",
        "config",
        "database",
        "busy",
        "import_refused",
        "drop_checked",
        "idempotency_claim_lost",
        "cursor_expired",
    ];

    /// A short stable name of the variant: the `kind` label of the store error metric.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::ObjectNotFound(_) => "object_not_found",
            StoreError::TypeChanged(_) => "type_changed",
            StoreError::ConfigChanged => "config_changed",
            StoreError::InvalidLookup { .. } => "invalid_lookup",
            StoreError::StrictChildrenExist { .. } => "strict_children_exist",
            StoreError::ReferencedByLookup { .. } => "referenced_by_lookup",
            StoreError::Config(_) => "config",
            StoreError::Database(_) => "database",
            StoreError::Busy => "busy",
            StoreError::ImportRefused(_) => "import_refused",
            StoreError::DropChecked(_) => "drop_checked",
            StoreError::IdempotencyClaimLost => "idempotency_claim_lost",
            StoreError::CursorExpired { .. } => "cursor_expired",
        }
    }
}

/// One row of `Apps` (migration 0006): an app some process has opened a database of.
#[derive(Debug, Clone, PartialEq)]
pub struct AppRecord {
    /// The name as first used.
    pub name: String,
    /// The name in lower case: what makes two spellings one app.
    pub key: String,
    pub created: DateTime<Utc>,
}

/// One row of `ApiKeys` (API.md §3): who may call, as what, until when. `salt` and `hash`
/// never leave the service; the key itself is never stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    /// `read`, `write` or `admin`.
    pub role: String,
    /// The one app the key is for; `None` for every app.
    pub app: Option<String>,
    pub salt: String,
    pub hash: String,
    /// The secret's last four characters, for listings.
    pub last4: String,
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
    pub revoked: Option<DateTime<Utc>>,
}

/// A stored file's id (`Files.FileId`): never handed out twice.
pub type FileId = i64;

/// A file to create, pending until [`LinkFile`] links it to a property.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFile {
    pub name: String,
    pub content_type: String,
    /// Every chunk but the last holds exactly this many bytes.
    pub chunk_size: u32,
}

/// One row of `Files`: what a file is, without its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    pub file_id: FileId,
    /// The object and property it is linked to; `None` while pending.
    pub owner: Option<(ObjectId, String)>,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// Every chunk but the last holds exactly this many bytes; chunks count from 0.
    pub chunk_size: u32,
    /// SHA-256 of the bytes, lowercase hex (set when the file is linked).
    pub sha256: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl FileInfo {
    /// How many chunks the file's bytes are in.
    pub fn chunks(&self) -> u64 {
        self.size.div_ceil(u64::from(self.chunk_size.max(1)))
    }
}

/// Links a pending file to a property, in one transaction: `save` (one write, setting the
/// Image/FileLink property to the file's description) is made with every rule of
/// [`Store::save_properties`](super::Store::save_properties) (object exists, its type,
/// the DSConfig version), the file previously linked to that (object, property) is
/// deleted, and the file becomes linked with its size and hash.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkFile {
    pub file_id: FileId,
    pub size: u64,
    pub sha256: String,
    pub save: SaveProperties,
}

pub use super::cursor::{AsOf, KeyValue, Seek, Walk};
