//! Error codes: the part of an error that programs match on.

use serde::{Deserialize, Serialize};

/// Why a request failed. Serialized in kebab-case (`invalid-argument`), the same strings the JavaScript
/// API exposes as `LivepathError.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The request is malformed: bad JSON, a bad path, data that is not an object, a field of the wrong type.
    InvalidArgument,
    /// The document does not exist (an `update` of a missing document).
    NotFound,
    /// The rules deny this read or write.
    PermissionDenied,
    /// No valid credentials were presented: the token is invalid or expired, or there is none and the
    /// request needs one (signing in may help).
    Unauthenticated,
    /// A limit was reached: too many subscriptions, a document too large, a rate limit.
    ResourceExhausted,
    /// The service cannot answer now; retrying later may succeed.
    Unavailable,
    /// A bug or a storage failure on the server.
    Internal,
    /// The request's condition does not hold: a write's `if: {"version": N}` names another version
    /// than the document's; on the client, an operation on a closed client.
    FailedPrecondition,
    /// A write's `if: {"exists": false}` found the document there.
    AlreadyExists,
    /// A transaction gave up: what it read kept changing under it, for every attempt it was allowed.
    Aborted,
}

impl ErrorCode {
    /// Every code, in declaration order: `ALL[code as usize] == code`. The wasm client's JavaScript
    /// keeps the same list, so codes cross between the two as numbers.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::InvalidArgument,
        ErrorCode::NotFound,
        ErrorCode::PermissionDenied,
        ErrorCode::Unauthenticated,
        ErrorCode::ResourceExhausted,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
        ErrorCode::FailedPrecondition,
        ErrorCode::AlreadyExists,
        ErrorCode::Aborted,
    ];

    /// The code as it appears on the wire and in JavaScript.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid-argument",
            Self::NotFound => "not-found",
            Self::PermissionDenied => "permission-denied",
            Self::Unauthenticated => "unauthenticated",
            Self::ResourceExhausted => "resource-exhausted",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::FailedPrecondition => "failed-precondition",
            Self::AlreadyExists => "already-exists",
            Self::Aborted => "aborted",
        }
    }

    /// The inverse of [`ErrorCode::as_str`].
    pub fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "invalid-argument" => Self::InvalidArgument,
            "not-found" => Self::NotFound,
            "permission-denied" => Self::PermissionDenied,
            "unauthenticated" => Self::Unauthenticated,
            "resource-exhausted" => Self::ResourceExhausted,
            "unavailable" => Self::Unavailable,
            "internal" => Self::Internal,
            "failed-precondition" => Self::FailedPrecondition,
            "already-exists" => Self::AlreadyExists,
            "aborted" => Self::Aborted,
            _ => return None,
        })
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorCode; 10] = ErrorCode::ALL;

    #[test]
    fn all_lists_every_code_once_at_its_own_index() {
        for (i, code) in ALL.iter().enumerate() {
            assert_eq!(*code as usize, i, "{code}");
        }
    }

    #[test]
    fn as_str_matches_the_serde_name_and_parses_back() {
        for code in ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("nope"), None);
    }
}
