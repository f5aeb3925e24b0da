//! The shapes of requests and answers, for the OpenAPI document only: handlers read their
//! parameters through [`super::super::params::Params`], so each request type here names the
//! parameters its handler asks for. A test checks that they are exactly those (the handler
//! tells them back with `UNKNOWN_PARAMETER`), so the two cannot drift apart.
//!
//! The `examples` of the request types form one sequence that works on a fresh database with
//! the sample DSConfig (Acme is object 1, John object 2); the Postman collection and its test
//! send them in that order.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

// ---- requests ----

/// `newObject`: a new object of a type, with its first properties (all or nothing).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(
    json!({"objectType": "Company", "properties": {"name": "Acme", "founded": "1999-05-01"}}),
    json!({"objectType": "Person", "properties": {"firstName": "John", "lastName": "Doe", "age": 24, "status": "A", "company": 1}})
))]
pub struct NewObjectRequest {
    /// The type name (`^[A-Za-z_][A-Za-z0-9_]{0,127}$`).
    pub object_type: String,
    /// Property name → value (a form or query string sends it as JSON text).
    pub properties: Option<Map<String, Value>>,
}

/// `getObject`: one object by id.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"objectId": 2})))]
pub struct GetObjectRequest {
    pub object_id: i64,
}

/// `saveProperty`: one property; `null` or `""` removes it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"objectId": 2, "propertyName": "birthDate", "propertyValue": "29-02-1992"})))]
pub struct SavePropertyRequest {
    pub object_id: i64,
    pub property_name: String,
    /// Any JSON value or text, converted by the property's type.
    pub property_value: Value,
}

/// `saveProperties`: several properties at once (all or nothing).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"objectId": 2, "properties": {"salary": "4200,5", "active": "yes", "tags": ["vip"], "age": null}})))]
pub struct SavePropertiesRequest {
    pub object_id: i64,
    /// Property name → value (a form or query string sends it as JSON text).
    pub properties: Map<String, Value>,
}

/// `uploadFile`: a `multipart/form-data` body; the fields may come in any order.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"objectId": 2, "propertyName": "photo", "file": "(the file's bytes)"})))]
pub struct UploadFileRequest {
    pub object_id: i64,
    /// An Image (`image/*` files only) or FileLink property of the object's type.
    pub property_name: String,
    /// The file, with its name (`filename`) and `Content-Type`; at most `--max-upload` bytes.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// `getFile`: the file an Image or FileLink property holds.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"objectId": 2, "propertyName": "photo"})))]
pub struct GetFileRequest {
    pub object_id: i64,
    pub property_name: String,
}

/// `changeObjectType`: the same object (id, number, properties) under another type;
/// `ARCH_` + its type archives it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"objectId": 2, "objectType": "ARCH_Person"})))]
pub struct ChangeObjectTypeRequest {
    pub object_id: i64,
    pub object_type: String,
}

/// `dropObject`: deletes the object, and its children of the listed types, recursively.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"objectId": 2, "childObjectTypes": ["Order"]})))]
pub struct DropObjectRequest {
    pub object_id: i64,
    /// Types of children to delete with it (a form or query string sends them comma-separated).
    pub child_object_types: Option<Vec<String>>,
}

/// `saveRelationship`: links a parent and a child; saving again updates `strict`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"parentObjectId": 1, "childObjectId": 2, "strict": true})))]
pub struct SaveRelationshipRequest {
    pub parent_object_id: i64,
    pub child_object_id: i64,
    /// A strict child blocks dropping its parent unless its type is listed (default false).
    pub strict: Option<bool>,
}

/// `dropRelationship`: unlinks a parent and a child.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"parentObjectId": 1, "childObjectId": 2})))]
pub struct DropRelationshipRequest {
    pub parent_object_id: i64,
    pub child_object_id: i64,
}

/// `getChildren` / `getParents`: the related objects, a page at a time.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"objectId": 1, "objectType": "Person", "offset": 0, "limit": 50})))]
pub struct RelatedRequest {
    pub object_id: i64,
    /// Only related objects of this type.
    pub object_type: Option<String>,
    #[schema(minimum = 0)]
    pub offset: Option<u64>,
    /// Default and maximum `--max-results`.
    #[schema(minimum = 0)]
    pub limit: Option<u64>,
    /// Cursor paging: the `X-Next-After` of the page before, instead of `offset`.
    pub after: Option<String>,
    /// `false`: no `X-Total-Count` (nothing is counted).
    pub count: Option<bool>,
}

/// The answer format of list endpoints.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
}

/// `getObjectListTable`: a table view of one type.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"objectType": "Person", "properties": ["firstName", "age", "company"], "filter": {"status": "A"}, "orderBy": "age DESC", "offset": 0, "limit": 10, "format": "json"})))]
pub struct ObjectListTableRequest {
    pub object_type: String,
    /// The properties each object carries (default: all); comma-separated in a form.
    pub properties: Option<Vec<String>>,
    /// Only children of this object.
    pub parent_object_id: Option<i64>,
    /// Equalities, ANDed: property → value (JSON text in a form).
    pub filter: Option<Map<String, Value>>,
    /// `name`, `name ASC` or `name DESC`, comma-separated.
    pub order_by: Option<Vec<String>>,
    #[schema(minimum = 0)]
    pub offset: Option<u64>,
    /// Default and maximum `--max-results`.
    #[schema(minimum = 0)]
    pub limit: Option<u64>,
    /// `json` (default) or `csv`.
    pub format: Option<Format>,
    /// Cursor paging: the `X-Next-After` of the page before, instead of `offset`.
    pub after: Option<String>,
    /// `false`: no `X-Total-Count` (nothing is counted).
    pub count: Option<bool>,
}

/// `getObjectListByFilter`: objects of one type matching a query (docs/QUERY.md).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"objectType": "Person", "query": "lastName == \"Doe\" and age < 30 order by age", "properties": ["firstName", "age"], "limit": 10})))]
pub struct ObjectListByFilterRequest {
    pub object_type: String,
    /// The query language; empty matches every object of the type.
    pub query: Option<String>,
    /// The properties each object carries (default: all); comma-separated in a form.
    pub properties: Option<Vec<String>>,
    /// When the query has no `offset`.
    #[schema(minimum = 0)]
    pub offset: Option<u64>,
    /// When the query has no `limit`.
    #[schema(minimum = 0)]
    pub limit: Option<u64>,
    /// `json` (default) or `csv`.
    pub format: Option<Format>,
    /// Cursor paging: the `X-Next-After` of the page before, instead of `offset`.
    pub after: Option<String>,
    /// `false`: no `X-Total-Count` (nothing is counted).
    pub count: Option<bool>,
}

/// `getAggregate`: groups of one type's objects and their aggregates (API.md §12).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"objectType": "Person", "query": "age >= 18", "groupBy": ["status"], "aggregates": ["count", "avg:age", "max:birthDate"], "orderBy": ["count DESC"], "limit": 10})))]
pub struct AggregateRequest {
    pub object_type: String,
    /// A condition of the query language (no `order by`, `offset`, `limit`); empty: every
    /// object of the type.
    pub query: Option<String>,
    /// Properties whose values form the groups (none: one group of every match);
    /// comma-separated in a form. Objects without the property form one group, `null`.
    pub group_by: Option<Vec<String>>,
    /// `count`, `sum:P`, `avg:P`, `min:P`, `max:P`, `countDistinct:P`; comma-separated in
    /// a form. Each answers under its spec.
    pub aggregates: Vec<String>,
    /// A groupBy property or an aggregate spec, `ASC` (default) or `DESC`; comma-separated.
    /// Default: the group keys ascending, `null` last.
    pub order_by: Option<Vec<String>>,
    /// Most groups; default and maximum `--max-results`.
    #[schema(minimum = 0)]
    pub limit: Option<u64>,
    /// `json` (default) or `csv`.
    pub format: Option<Format>,
}

/// `getConfig` takes no parameters.
#[derive(Serialize, ToSchema)]
#[schema(examples(json!({})))]
pub struct GetConfigRequest {}

/// `getList`: the items of a configured list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"listName": "PersonStatus"})))]
pub struct GetListRequest {
    pub list_name: String,
}

/// `exportData` takes no parameters: it exports the system the request is served from.
#[derive(Serialize, ToSchema)]
#[schema(examples(json!({})))]
pub struct ExportDataRequest {}

/// `copySystem`: replace one system's data with another's.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"fromSystem": "LIVE", "toSystem": "TEST"})))]
pub struct CopySystemRequest {
    /// `LIVE`, `STAGING` or `TEST`.
    pub from_system: String,
    /// `LIVE`, `STAGING` or `TEST`; its data is replaced.
    pub to_system: String,
}

/// `batch`: mixed writes in one transaction, all or nothing (at most 1,000). `op` is a
/// write endpoint (`newObject`, `saveProperty`, `saveProperties`, `changeObjectType`,
/// `dropObject`, `saveRelationship`, `dropRelationship`), `params` its parameters; a string
/// `"$REF"` anywhere in `params` is the `objectId` of the result of the earlier operation
/// with that `ref`, `"$REF.FIELD"` that result's `FIELD` (`"$$x"` is the text `"$x"`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"operations": [
    {"op": "newObject", "ref": "beta", "params": {"objectType": "Company", "properties": {"name": "Beta"}}},
    {"op": "newObject", "ref": "jane", "params": {"objectType": "Person", "properties": {"firstName": "Jane", "company": "$beta"}}},
    {"op": "saveRelationship", "params": {"parentObjectId": "$beta", "childObjectId": "$jane.objectId", "strict": false}}
]})))]
pub struct BatchRequest {
    /// `[{"op": ..., "params": {...}, "ref": "name"}]`, run in order.
    pub operations: Vec<Value>,
}

/// `getHistory`: an object's changes (a dropped object's too), oldest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"objectId": 2})))]
pub struct HistoryRequest {
    pub object_id: i64,
    /// The `X-Next-After` of the page before (or a `changeId`: only changes after it).
    pub after: Option<String>,
    /// At most this many (default and maximum `--max-results`).
    pub limit: Option<u64>,
}

// ---- answers ----

/// An object, flat: its system fields, then one attribute per property it has (a Lookup or
/// List property also `NAME@display`). Absent values are absent attributes, never `null`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"objectId": 2, "objectType": "Person", "objectNumber": "P-0001001", "createdAt": "2026-11-30T11:50:00.000Z", "updatedAt": "2026-11-30T11:50:00.000Z", "age": 24, "company": 1, "company@display": "Acme", "firstName": "John", "lastName": "Doe", "status": "A", "status@display": "Active"}))]
pub struct Object {
    pub object_id: i64,
    pub object_type: String,
    /// For types configured with numbering only.
    pub object_number: Option<String>,
    /// RFC 3339 UTC with milliseconds.
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// `saveProperty`'s answer: the columns as stored, those without a value left out.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"objectId": 2, "propertyName": "birthDate", "propertyType": "Date", "propertyValue": "1992-02-29", "propertyAsDouble": 699321600000.0}))]
pub struct SavedProperty {
    pub object_id: i64,
    pub property_name: String,
    pub property_type: String,
    pub property_value: Option<String>,
    pub property_as_double: Option<f64>,
    pub property_as_string: Option<String>,
}

/// `dropObject`'s answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"deletedObjectIds": [2]}))]
pub struct Dropped {
    pub deleted_object_ids: Vec<i64>,
}

/// `saveRelationship`'s answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"parentObjectId": 1, "childObjectId": 2, "strict": true}))]
pub struct Relationship {
    pub parent_object_id: i64,
    pub child_object_id: i64,
    pub strict: bool,
}

/// `dropRelationship`'s answer: `false` when there was none.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"dropped": true}))]
pub struct RelationshipDropped {
    pub dropped: bool,
}

/// One item of a configured list.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"code": "A", "value": "Active"}))]
pub struct ListItem {
    pub code: String,
    pub value: String,
}

/// `copySystem`'s answer: what was copied.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"fromSystem": "LIVE", "toSystem": "TEST", "objects": 120, "properties": 860, "relationships": 40, "numbering": 2}))]
pub struct CopySystemAnswer {
    pub from_system: String,
    pub to_system: String,
    pub objects: u64,
    pub properties: u64,
    pub relationships: u64,
    pub numbering: u64,
}

/// `health`'s answer.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    pub status: String,
}

/// Every failure: a stable code, a sentence, and details for programs (docs/ERRORS.md).
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The code; its HTTP status is fixed (docs/ERRORS.md).
    pub code: String,
    pub message: String,
    /// Only when there are any, e.g. `parameter`, `objectId`, `propertyName`.
    pub details: Option<Map<String, Value>>,
}

/// `batch`'s answer: each operation's answer, in order, as its endpoint answers it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"results": [{"objectId": 3, "objectType": "Company", "createdAt": "2026-11-30T11:50:00.000Z", "updatedAt": "2026-11-30T11:50:00.000Z", "name": "Beta"}, {"parentObjectId": 3, "childObjectId": 4, "strict": false}]}))]
pub struct BatchResults {
    pub results: Vec<Value>,
}

/// One change of the log: what changed (`from`/`to`, an absent side left out; a Lookup or
/// List also `NAME@display`), by which operation, when, and by which API key (its id).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"changeId": 17, "objectId": 2, "objectType": "Person", "operation": "saveProperties", "at": "2026-11-30T11:50:00.000Z", "keyId": "k8f2a", "changes": {"age": {"from": 24, "to": 25}, "updatedAt": {"from": "2026-11-30T11:49:00.000Z", "to": "2026-11-30T11:50:00.000Z"}}}))]
pub struct Change {
    pub change_id: i64,
    pub object_id: i64,
    pub object_type: String,
    /// `newObject`, `saveProperties` (also saveProperty and uploadFile),
    /// `changeObjectType`, `dropObject`, `saveRelationship`, `dropRelationship`.
    pub operation: String,
    #[schema(format = DateTime)]
    pub at: String,
    /// The API key's id; absent when the service runs open or for the CLI.
    pub key_id: Option<String>,
    pub changes: Map<String, Value>,
}
