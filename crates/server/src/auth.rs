//! Who is asking, and may they: HS256 JWTs (`--auth-secret`) and the path rules (`--rules`).
//!
//! With neither flag everything is open, as in a local demo. With `--auth-secret`, every subscribe and
//! write needs a valid token first (`hello` over WebSocket, `Authorization: Bearer` over HTTP). With
//! `--rules`, each read and write must be allowed by a rule; anything no rule allows is denied.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use livepath_protocol::{ErrorCode, Path};
use serde::Deserialize;

use crate::{ApiError, rules::Rules};

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The token's `sub`.
    pub uid: String,
    /// The token's `exp`, in seconds since the Unix epoch.
    pub expires_at: u64,
}

/// What a request wants to do to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Subscribe (or resume), or `GET`.
    Read,
    /// `set`, `update`, `delete`.
    Write,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
}

/// The server's access policy.
pub struct Access {
    /// Verifies tokens; `None`: authentication is off.
    verifier: Option<(DecodingKey, Validation)>,
    /// The rules; `None`: every request is allowed (once authenticated, if auth is on).
    rules: Option<Rules>,
}

impl Access {
    /// A policy from an HS256 secret and rules, each optional.
    pub fn new(secret: Option<&[u8]>, rules: Option<Rules>) -> Self {
        let verifier = secret.map(|secret| {
            let mut validation = Validation::new(Algorithm::HS256);
            validation.leeway = 0;
            validation.set_required_spec_claims(&["exp", "sub"]);
            (DecodingKey::from_secret(secret), validation)
        });
        Self { verifier, rules }
    }

    /// Whether requests need a token.
    pub fn auth_required(&self) -> bool {
        self.verifier.is_some()
    }

    /// The user a token names, if it is valid and not expired. Without `--auth-secret`, tokens are
    /// ignored (`None`).
    pub fn verify(&self, token: &str) -> Result<Option<User>, ApiError> {
        let Some((key, validation)) = &self.verifier else { return Ok(None) };
        jsonwebtoken::decode::<Claims>(token, key, validation)
            .map(|data| Some(User { uid: data.claims.sub, expires_at: data.claims.exp }))
            .map_err(|e| ApiError::new(ErrorCode::Unauthenticated, format!("invalid token: {e}")))
    }

    /// May `user` do `op` on `path`? `unauthenticated` when a token is needed and missing,
    /// `permission-denied` when no rule allows it.
    pub fn check(&self, user: Option<&User>, path: &Path, op: Op) -> Result<(), ApiError> {
        if self.auth_required() && user.is_none() {
            return Err(ApiError::new(ErrorCode::Unauthenticated, "send a valid token (hello) first"));
        }
        match &self.rules {
            Some(rules) if !rules.allows(user.map(|u| u.uid.as_str()), path, op) => Err(ApiError::new(
                ErrorCode::PermissionDenied,
                format!("no rule allows {} {path}", if op == Op::Read { "reading" } else { "writing" }),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;

    fn token(sub: &str, exp: u64, secret: &[u8]) -> String {
        #[derive(serde::Serialize)]
        struct C<'a> {
            sub: &'a str,
            exp: u64,
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &C { sub, exp }, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn a_valid_token_names_its_user_and_a_bad_or_expired_one_is_unauthenticated() {
        let access = Access::new(Some(b"secret"), None);
        let user = access.verify(&token("ada", now() + 60, b"secret")).unwrap().unwrap();
        assert_eq!(user.uid, "ada");
        for bad in [token("ada", now() - 1, b"secret"), token("ada", now() + 60, b"other"), "garbage".into()] {
            assert_eq!(access.verify(&bad).unwrap_err().code, ErrorCode::Unauthenticated);
        }
    }

    #[test]
    fn with_auth_on_requests_without_a_user_are_unauthenticated() {
        let access = Access::new(Some(b"secret"), None);
        let path = Path::parse("a/b").unwrap();
        assert_eq!(access.check(None, &path, Op::Read).unwrap_err().code, ErrorCode::Unauthenticated);
        let user = User { uid: "ada".into(), expires_at: now() + 60 };
        assert!(access.check(Some(&user), &path, Op::Write).is_ok());
        assert!(Access::new(None, None).check(None, &path, Op::Write).is_ok(), "no auth, no rules: open");
    }
}
