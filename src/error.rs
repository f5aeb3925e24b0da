//! The one error body every endpoint answers with, and the table from code to status.
//!
//! `{"error": {"code": "SOME_CODE", "message": "human sentence", "details": {...}}}`.
//! Handlers return `Result<_, ApiError>` and use `?`: store errors convert through a
//! blanket `From`. A 5xx says nothing internal to the client; the cause goes to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
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
    InvalidRelationship,
    StrictChildrenExist,
    ReferencedByLookup,
    QuerySyntax,
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    NotFound,
    Unauthenticated,
    Forbidden,
    Conflict,
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
            ErrorCode::InvalidRelationship => "INVALID_RELATIONSHIP",
            ErrorCode::StrictChildrenExist => "STRICT_CHILDREN_EXIST",
            ErrorCode::ReferencedByLookup => "REFERENCED_BY_LOOKUP",
            ErrorCode::QuerySyntax => "QUERY_SYNTAX",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::TooManyRequests => "TOO_MANY_REQUESTS",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::UnknownParameter
            | ErrorCode::MissingParameter
            | ErrorCode::InvalidParameter
            | ErrorCode::InvalidValue
            | ErrorCode::UnknownObjectType
            | ErrorCode::UnknownProperty
            | ErrorCode::InvalidRelationship
            | ErrorCode::QuerySyntax => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::ObjectNotFound | ErrorCode::UnknownList | ErrorCode::NotFound => {
                StatusCode::NOT_FOUND
            }
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::StrictChildrenExist
            | ErrorCode::ReferencedByLookup
            | ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error as the client sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
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
        ApiError::new(
            ErrorCode::Internal,
            "the service failed to handle the request",
        )
    }

    pub fn object_not_found(id: i64) -> Self {
        ApiError::new(
            ErrorCode::ObjectNotFound,
            format!("object {id} does not exist"),
        )
        .with_details(json!({ "objectId": id }))
    }

    pub fn body(&self) -> Value {
        let mut error = json!({ "code": self.code.as_str(), "message": self.message });
        if let Some(details) = &self.details {
            error["details"] = details.clone();
        }
        json!({ "error": error })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if self.code == ErrorCode::Unavailable || self.code == ErrorCode::TooManyRequests {
            response.insert_header(("Retry-After", "1"));
        }
        response.json(self.body())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ObjectNotFound(id) => ApiError::object_not_found(id),
            StoreError::InvalidLookup {
                property,
                target,
                reason,
            } => ApiError::new(
                ErrorCode::InvalidValue,
                format!("`{property}` must point at an existing object of its lookup type; {target} {reason}"),
            )
            .with_details(json!({ "propertyName": property, "propertyType": "Lookup", "objectId": target })),
            StoreError::StrictChildrenExist { child_types } => ApiError::new(
                ErrorCode::StrictChildrenExist,
                "the object has strict children; list their types in childObjectTypes to drop them too",
            )
            .with_details(json!({ "childObjectTypes": child_types })),
            StoreError::ReferencedByLookup { object_ids } => ApiError::new(
                ErrorCode::ReferencedByLookup,
                "the object is referenced by a lookup property of another object",
            )
            .with_details(json!({ "objectIds": object_ids })),
            StoreError::TypeChanged(id) => ApiError::new(
                ErrorCode::Conflict,
                format!("object {id} changed its type while it was being saved; try again"),
            ),
            StoreError::ConfigChanged => ApiError::new(
                ErrorCode::Conflict,
                "the DSConfig changed while the request was being saved; try again",
            ),
            StoreError::Busy => ApiError::new(ErrorCode::Unavailable, "the database is busy; try again"),
            e @ (StoreError::Config(_) | StoreError::Database(_)) => ApiError::internal(e),
        }
    }
}
