//! The service's own error: a contract code, a sentence for people and details for
//! programs. It knows no HTTP; `crate::error` maps each code to a status in one table.

use serde_json::{json, Value};

use crate::store::StoreError;

/// The contract's error codes (API.md §2–§8) and the few this service adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    UnknownParameter,
    MissingParameter,
    InvalidParameter,
    InvalidValue,
    UnknownObjectType,
    UnknownProperty,
    UnknownList,
    ObjectNotFound,
    FileNotFound,
    InvalidRelationship,
    StrictChildrenExist,
    ReferencedByLookup,
    QuerySyntax,
    PayloadTooLarge,
    TooLarge,
    RangeNotSatisfiable,
    UnsupportedMediaType,
    MethodNotAllowed,
    NotFound,
    Unauthenticated,
    Forbidden,
    Conflict,
    InvalidReference,
    IdempotencyKeyReused,
    IdempotencyKeyInUse,
    IdempotencyAnswerLost,
    CursorExpired,
    TooManyRequests,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UnknownParameter => "UNKNOWN_PARAMETER",
            ErrorCode::MissingParameter => "MISSING_PARAMETER",
            ErrorCode::InvalidParameter => "INVALID_PARAMETER",
            ErrorCode::InvalidValue => "INVALID_VALUE",
            ErrorCode::UnknownObjectType => "UNKNOWN_OBJECT_TYPE",
            ErrorCode::UnknownProperty => "UNKNOWN_PROPERTY",
            ErrorCode::UnknownList => "UNKNOWN_LIST",
            ErrorCode::ObjectNotFound => "OBJECT_NOT_FOUND",
            ErrorCode::FileNotFound => "FILE_NOT_FOUND",
            ErrorCode::InvalidRelationship => "INVALID_RELATIONSHIP",
            ErrorCode::StrictChildrenExist => "STRICT_CHILDREN_EXIST",
            ErrorCode::ReferencedByLookup => "REFERENCED_BY_LOOKUP",
            ErrorCode::QuerySyntax => "QUERY_SYNTAX",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::TooLarge => "TOO_LARGE",
            ErrorCode::RangeNotSatisfiable => "RANGE_NOT_SATISFIABLE",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::InvalidReference => "INVALID_REFERENCE",
            ErrorCode::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            ErrorCode::IdempotencyKeyInUse => "IDEMPOTENCY_KEY_IN_USE",
            ErrorCode::IdempotencyAnswerLost => "IDEMPOTENCY_ANSWER_LOST",
            ErrorCode::CursorExpired => "CURSOR_EXPIRED",
            ErrorCode::TooManyRequests => "TOO_MANY_REQUESTS",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

/// Why the service refused or failed a request.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
}

impl ServiceError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ServiceError {
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// A failure of ours: logged with its cause, answered without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        ServiceError::new(
            ErrorCode::Internal,
            "the service failed to handle the request",
        )
    }

    pub fn object_not_found(id: i64) -> Self {
        ServiceError::new(
            ErrorCode::ObjectNotFound,
            format!("object {id} does not exist"),
        )
        .with_details(json!({ "objectId": id }))
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ServiceError {}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        crate::ops::metrics::count_store_error(e.kind());
        match e {
            StoreError::ObjectNotFound(id) => ServiceError::object_not_found(id),
            StoreError::InvalidLookup {
                property,
                target,
                reason,
            } => ServiceError::new(
                ErrorCode::InvalidValue,
                format!("`{property}` must point at an existing object of its lookup type; {target} {reason}"),
            )
            .with_details(json!({ "propertyName": property, "propertyType": "Lookup", "objectId": target })),
            StoreError::StrictChildrenExist { child_types } => ServiceError::new(
                ErrorCode::StrictChildrenExist,
                "the object has strict children; list their types in childObjectTypes to drop them too",
            )
            .with_details(json!({ "childObjectTypes": child_types })),
            StoreError::ReferencedByLookup { object_ids } => ServiceError::new(
                ErrorCode::ReferencedByLookup,
                "the object is referenced by a lookup property of another object",
            )
            .with_details(json!({ "objectIds": object_ids })),
            StoreError::TypeChanged(id) => ServiceError::new(
                ErrorCode::Conflict,
                format!("object {id} changed its type while it was being saved; try again"),
            ),
            StoreError::ConfigChanged => ServiceError::new(
                ErrorCode::Conflict,
                "the DSConfig changed while the request was being saved; try again",
            ),
            StoreError::Busy => ServiceError::new(ErrorCode::Unavailable, "the database is busy; try again"),
            StoreError::CursorExpired { head, pruned_through } => ServiceError::new(
                ErrorCode::CursorExpired,
                "the walk started before the oldest change the log keeps; start it again without `after`",
            )
            .with_details(json!({ "parameter": "after", "head": head, "prunedThrough": pruned_through })),
            StoreError::ImportRefused(message) => ServiceError::new(ErrorCode::Conflict, message),
            StoreError::IdempotencyClaimLost => ServiceError::new(
                ErrorCode::IdempotencyKeyInUse,
                "a retry with the same Idempotency-Key took this request over (it ran past the \
                 stale limit); this request wrote nothing, the retry's answer stands",
            )
            .with_details(json!({ "header": "Idempotency-Key" })),
            e @ (StoreError::Config(_) | StoreError::Database(_) | StoreError::DropChecked(_)) => {
                ServiceError::internal(e)
            }
        }
    }
}
