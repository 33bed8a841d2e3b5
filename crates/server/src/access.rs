//! [`Access`]: who is asking, and may they. Combines the tokens (`--auth-secret`) and the path rules
//! (`--rules`).
//!
//! With neither flag everything is open, as in a local demo. With `--auth-secret` alone, every request
//! (subscribe, resume, write; `GET`, `PUT`, `PATCH`, `DELETE`) needs a valid token first (`hello` over
//! WebSocket, `Authorization: Bearer` over HTTP). With `--rules`, the rules decide every request, one
//! without a token included (`auth == null`): anything no rule allows is denied, `unauthenticated` when
//! the request had no token and the rules would let some signed-in user do it, `permission-denied`
//! otherwise (see `rules`). With either flag, an invalid or expired token is `unauthenticated`: it is
//! never taken for no token.

use livepath_protocol::{ErrorCode, Path};

use crate::{
    auth::{Tokens, User},
    config::Config,
    error::ApiError,
    rules::{Op, Rules},
    store::{Commit, commit::Op as WriteOp},
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

    /// May `user` make every write of `commit`? A `check` needs read (it tells what is there); the
    /// other writes need write, and read too when they carry a condition (which tells whether the
    /// document exists, and its version). A refusal names the write.
    pub fn check_commit(&self, user: Option<&User>, commit: &Commit) -> Result<(), ApiError> {
        for (i, w) in commit.writes.iter().enumerate() {
            let needs: &[Op] = match (&w.op, w.condition) {
                (WriteOp::Check, _) => &[Op::Read],
                (_, Some(_)) => &[Op::Write, Op::Read],
                (_, None) => &[Op::Write],
            };
            for op in needs {
                self.check(user, &w.path, *op).map_err(|e| e.at_write(i))?;
            }
        }
        Ok(())
    }

    /// May `user` (`None`: a request without a token) do `op` on `path`? Without rules, yes, once
    /// authenticated if auth is on (`unauthenticated` otherwise). With rules, if a rule allows it;
    /// if none does, `unauthenticated` for a request without a token that some signed-in user could
    /// make (signing in may help), `permission-denied` otherwise.
    pub fn check(&self, user: Option<&User>, path: &Path, op: Op) -> Result<(), ApiError> {
        let Some(rules) = &self.rules else {
            if self.auth_required() && user.is_none() {
                return Err(ApiError::new(ErrorCode::Unauthenticated, "send a valid token (hello) first"));
            }
            return Ok(());
        };
        if rules.allows(user.map(|u| u.uid.as_str()), path, op) {
            return Ok(());
        }
        let doing = if op == Op::Read { "reading" } else { "writing" };
        if user.is_none() && self.auth_required() && rules.allows_some_user(path, op) {
            let message = format!("no rule allows {doing} {path} without a token: send a valid token (hello) first");
            return Err(ApiError::new(ErrorCode::Unauthenticated, message));
        }
        Err(ApiError::new(ErrorCode::PermissionDenied, format!("no rule allows {doing} {path}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tests::now;

    const RULES: &str = r#"
        [[rule]]
        match = "public/**"
        read = "true"
        write = "auth != null"

        [[rule]]
        match = "lobby/{doc}"
        read = "auth == null"
    "#;

    #[test]
    fn with_rules_a_request_without_a_token_is_asked_of_the_rules() {
        let access = Access::new(Some(b"secret"), Some(Rules::parse(RULES).unwrap()));
        let ada = User { uid: "ada".into(), expires_at: now() + 60 };
        let code = |user: Option<&User>, path: &str, op| {
            access.check(user, &Path::parse(path).unwrap(), op).err().map(|e| e.code)
        };
        assert_eq!(code(None, "public/p1", Op::Read), None, "read = true: anyone");
        assert_eq!(code(None, "lobby/l1", Op::Read), None, "auth == null: only without a token");
        assert_eq!(code(Some(&ada), "lobby/l1", Op::Read), Some(ErrorCode::PermissionDenied));
        assert_eq!(code(None, "public/p1", Op::Write), Some(ErrorCode::Unauthenticated), "a user could");
        assert_eq!(code(Some(&ada), "public/p1", Op::Write), None);
        assert_eq!(code(None, "secrets/s1", Op::Read), Some(ErrorCode::PermissionDenied), "no user could");
        assert_eq!(code(None, "lobby/l1", Op::Write), Some(ErrorCode::PermissionDenied), "no user could");

        let no_auth = Access::new(None, Some(Rules::parse(RULES).unwrap()));
        let denied = no_auth.check(None, &Path::parse("public/p1").unwrap(), Op::Write).unwrap_err();
        assert_eq!(denied.code, ErrorCode::PermissionDenied, "without --auth-secret no token can help");
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
