//! [`Access`]: who is asking, and may they. Combines the tokens (`--auth-secret`) and the path rules
//! (`--rules`).
//!
//! With neither flag everything is open, as in a local demo. With `--auth-secret`, every subscribe and
//! write needs a valid token first (`hello` over WebSocket, `Authorization: Bearer` over HTTP). With
//! `--rules`, each read and write must be allowed by a rule; anything no rule allows is denied.

use livepath_protocol::{ErrorCode, Path};

use crate::{
    auth::{Tokens, User},
    config::Config,
    error::ApiError,
    rules::{Op, Rules},
};

/// The server's access policy.
pub struct Access {
    /// Verifies tokens; `None`: authentication is off.
    tokens: Option<Tokens>,
    /// The rules; `None`: every request is allowed (once authenticated, if auth is on).
    rules: Option<Rules>,
}

impl Access {
    /// A policy from an HS256 secret and rules, each optional.
    pub fn new(secret: Option<&[u8]>, rules: Option<Rules>) -> Self {
        Self { tokens: secret.map(Tokens::new), rules }
    }

    /// The policy the flags describe; a bad secret file or rules file is an error naming the flag.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let secret = match (&config.auth_secret, &config.auth_secret_file) {
            (Some(secret), _) => Some(secret.clone()),
            (None, Some(file)) => Some(
                std::fs::read_to_string(file)
                    .map_err(|e| format!("--auth-secret-file {}: {e}", file.display()))?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned(),
            ),
            (None, None) => None,
        };
        if secret.as_deref().is_some_and(|s| s.len() < 16) {
            return Err("--auth-secret must be at least 16 bytes".into());
        }
        let rules = match &config.rules {
            Some(file) => {
                let text = std::fs::read_to_string(file).map_err(|e| format!("--rules {}: {e}", file.display()))?;
                Some(Rules::parse(&text).map_err(|e| format!("--rules {}: {e}", file.display()))?)
            }
            None => None,
        };
        Ok(Self::new(secret.as_deref().map(str::as_bytes), rules))
    }

    /// Whether requests need a token.
    pub fn auth_required(&self) -> bool {
        self.tokens.is_some()
    }

    /// The user a token names, if it is valid and not expired. Without `--auth-secret`, tokens are
    /// ignored (`None`).
    pub fn verify(&self, token: &str) -> Result<Option<User>, ApiError> {
        match &self.tokens {
            Some(tokens) => tokens.verify(token).map(Some),
            None => Ok(None),
        }
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
    use super::*;
    use crate::auth::tests::now;

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
