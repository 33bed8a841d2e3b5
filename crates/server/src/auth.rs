//! Tokens: the HS256 JWTs clients present (`--auth-secret`), and the [`User`] a valid one names.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use livepath_protocol::ErrorCode;
use serde::Deserialize;

use crate::error::ApiError;

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The token's `sub`.
    pub uid: String,
    /// The token's `exp`, in seconds since the Unix epoch.
    pub expires_at: u64,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
}

/// Verifies tokens signed with one HS256 secret.
pub struct Tokens {
    key: DecodingKey,
    validation: Validation,
}

impl Tokens {
    /// A verifier for tokens signed with `secret`; `exp` and `sub` are required, with no leeway.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { key: DecodingKey::from_secret(secret), validation }
    }

    /// The user `token` names, if it is valid and not expired; `unauthenticated` otherwise.
    pub fn verify(&self, token: &str) -> Result<User, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| User { uid: data.claims.sub, expires_at: data.claims.exp })
            .map_err(|e| ApiError::new(ErrorCode::Unauthenticated, format!("invalid token: {e}")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;

    pub(crate) fn token(sub: &str, exp: u64, secret: &[u8]) -> String {
        #[derive(serde::Serialize)]
        struct C<'a> {
            sub: &'a str,
            exp: u64,
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &C { sub, exp }, &EncodingKey::from_secret(secret))
            .unwrap()
    }

    pub(crate) fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn a_valid_token_names_its_user_and_a_bad_or_expired_one_is_unauthenticated() {
        let tokens = Tokens::new(b"secret");
        let user = tokens.verify(&token("ada", now() + 60, b"secret")).unwrap();
        assert_eq!(user.uid, "ada");
        for bad in [token("ada", now() - 1, b"secret"), token("ada", now() + 60, b"other"), "garbage".into()] {
            assert_eq!(tokens.verify(&bad).unwrap_err().code, ErrorCode::Unauthenticated);
        }
    }
}
