//! The one error body every endpoint answers with, and the table from code to status.
//!
//! `{"error": {"code": "SOME_CODE", "message": "human sentence", "details": {...}}}`.
//! Handlers return `Result<_, ApiError>` and use `?`: the service's errors
//! ([`ServiceError`]) and store errors convert through `From`. The service knows codes, not
//! statuses: [`status`] is the one place a code becomes an HTTP status. A 5xx says nothing
//! internal to the client; the cause goes to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};

pub use crate::service::{ErrorCode, ServiceError};
use crate::store::StoreError;

/// The HTTP status of each code: the one table.
pub fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::UnknownParameter
        | ErrorCode::MissingParameter
        | ErrorCode::InvalidParameter
        | ErrorCode::InvalidValue
        | ErrorCode::UnknownObjectType
        | ErrorCode::UnknownProperty
        | ErrorCode::InvalidRelationship
        | ErrorCode::InvalidReference
        | ErrorCode::QuerySyntax => StatusCode::BAD_REQUEST,
        ErrorCode::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::ObjectNotFound
        | ErrorCode::FileNotFound
        | ErrorCode::UnknownList
        | ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::CursorExpired => StatusCode::GONE,
        ErrorCode::StrictChildrenExist
        | ErrorCode::ReferencedByLookup
        | ErrorCode::Conflict
        | ErrorCode::IdempotencyKeyInUse
        | ErrorCode::IdempotencyAnswerLost => StatusCode::CONFLICT,
        ErrorCode::PayloadTooLarge | ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error as the client sees it: the service's error (or the HTTP layer's own, in the
/// same terms), answered with the status of its code.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError(pub ServiceError);

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(ServiceError::new(code, message))
    }

    pub fn with_details(self, details: Value) -> Self {
        ApiError(self.0.with_details(details))
    }

    /// A failure of ours: logged with its cause, answered without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError(ServiceError::internal(cause))
    }

    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    pub fn body(&self) -> Value {
        let e = &self.0;
        let mut error = json!({ "code": e.code.as_str(), "message": e.message });
        if let Some(details) = &e.details {
            error["details"] = details.clone();
        }
        json!({ "error": error })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status(self.0.code)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if matches!(
            self.0.code,
            ErrorCode::Unavailable | ErrorCode::TooManyRequests
        ) {
            response.insert_header(("Retry-After", "1"));
        }
        response.json(self.body())
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
    }
}
