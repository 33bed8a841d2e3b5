//! [`ApiError`]: an error code and a message, answered as an `error` frame or as an HTTP status with a
//! `{"code":…,"message":…}` body.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use livepath_protocol::ErrorCode;

/// A request that failed, with the code programs match on and the message people read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What programs match on.
    pub code: ErrorCode,
    /// What people read.
    pub message: String,
    /// For a commit: the index of the write that failed.
    pub write: Option<u32>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), write: None }
    }

    /// The same error, keeping the index of the write it blames only where the request had a list of
    /// writes to point into (`indexed`: a `commit`, not a one-write message).
    pub fn indexed(mut self, indexed: bool) -> Self {
        if !indexed {
            self.write = None;
        }
        self
    }

    /// The same error, blamed on write `index` of a commit.
    pub fn at_write(mut self, index: usize) -> Self {
        self.write = Some(index as u32);
        self
    }

    /// `invalid-argument`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    /// `internal`, logged: the client learns only that it was not its fault.
    pub fn internal(what: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!("{what}: {error}");
        Self::new(ErrorCode::Internal, format!("{what} failed"))
    }

    fn status(&self) -> StatusCode {
        match self.code {
            ErrorCode::InvalidArgument => StatusCode::BAD_REQUEST,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::AlreadyExists | ErrorCode::Aborted => StatusCode::CONFLICT,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<livepath_protocol::PathError> for ApiError {
    fn from(e: livepath_protocol::PathError) -> Self {
        Self::invalid(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(write) = self.write {
            body["write"] = write.into();
        }
        (self.status(), Json(body)).into_response()
    }
}
