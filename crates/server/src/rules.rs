//! [`Rules`]: which paths a user may read and write ([`Op`]), from a TOML file (`--rules rules.toml`).
//!
//! ```toml
//! [[rule]]
//! match = "users/{uid}/**"        # {name} captures one segment; ** matches any rest (or none)
//! read = "auth.uid == uid"
//! write = "auth.uid == uid"
//!
//! [[rule]]
//! match = "public/**"
//! read = "true"
//! write = "auth != null"
//! ```
//!
//! A request is allowed when any rule whose pattern matches its path allows it; otherwise it is denied.
//! Conditions: `true`, `false`, `auth != null`, `auth == null`, `auth.uid == <capture>` and
//! `auth.uid == "literal"`, joined with `&&` (binding tighter) and `||`. A missing `read` or `write` is
//! `false`.
//!
//! `auth` is `null` for a request without a token: with `--rules`, even when `--auth-secret` is set,
//! such a request is not refused outright but asked of the rules like any other, so `read = "true"`
//! (or `auth == null`) serves public pages to visitors who have not signed in. When the rules deny an
//! anonymous request that they would allow some signed-in user ([`Rules::allows_some_user`]: `public/**`
//! above, written by `auth != null`), the answer is `unauthenticated`, so the client knows signing in
//! may help; when no user could do it either, or the request had a user, it is `permission-denied`.
//! A token that is invalid or expired is always `unauthenticated`, never read as anonymous.

use std::collections::HashMap;

use livepath_protocol::Path;
use serde::Deserialize;

/// What a request wants to do to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Subscribe (or resume), or `GET`.
    Read,
    /// `set`, `update`, `delete`.
    Write,
}

/// The parsed rules file.
#[derive(Debug)]
pub struct Rules {
    /// In file order.
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    pattern: Vec<Segment>,
    read: Condition,
    write: Condition,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(String),
    Capture(String),
    /// `**`: the rest of the path, possibly empty.
    Rest,
}

/// OR of ANDs.
#[derive(Debug, PartialEq)]
struct Condition(Vec<Vec<Atom>>);

#[derive(Debug, PartialEq)]
enum Atom {
    True,
    False,
    Authenticated,
    Anonymous,
    UidIsCapture(String),
    UidIs(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    #[serde(rename = "match")]
    pattern: String,
    read: Option<String>,
    write: Option<String>,
}

impl Rules {
    /// Parses a rules file; the error names the rule and what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let spec: FileSpec = toml::from_str(text).map_err(|e| format!("rules file: {e}"))?;
        let rules = spec
            .rule
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let at = |e: String| format!("rule {} ({}): {e}", i + 1, r.pattern);
                let pattern = parse_pattern(&r.pattern).map_err(at)?;
                let captures: Vec<&str> = pattern
                    .iter()
                    .filter_map(|s| if let Segment::Capture(c) = s { Some(c.as_str()) } else { None })
                    .collect();
                let read = parse_condition(r.read.as_deref().unwrap_or("false"), &captures).map_err(at)?;
                let write = parse_condition(r.write.as_deref().unwrap_or("false"), &captures).map_err(at)?;
                Ok(Rule { pattern, read, write })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { rules })
    }

    /// Whether `uid` (`None`: not authenticated) may do `op` on `path`.
    pub fn allows(&self, uid: Option<&str>, path: &Path, op: Op) -> bool {
        let segments: Vec<&str> = path.segments().collect();
        self.rules.iter().any(|rule| {
            let Some(captures) = matches(&rule.pattern, &segments) else {
                return false;
            };
            let condition = if op == Op::Read { &rule.read } else { &rule.write };
            condition.0.iter().any(|all| all.iter().all(|atom| holds(atom, uid, &captures)))
        })
    }

    /// Whether some signed-in user might do `op` on `path`: a matching rule's condition holds once
    /// `auth` is not null and `auth.uid` is taken to be whichever uid it compares with.
    pub fn allows_some_user(&self, path: &Path, op: Op) -> bool {
        let segments: Vec<&str> = path.segments().collect();
        self.rules.iter().any(|rule| {
            if matches(&rule.pattern, &segments).is_none() {
                return false;
            }
            let condition = if op == Op::Read { &rule.read } else { &rule.write };
            condition.0.iter().any(|all| all.iter().all(|atom| !matches!(atom, Atom::False | Atom::Anonymous)))
        })
    }
}

fn parse_pattern(text: &str) -> Result<Vec<Segment>, String> {
    let parts: Vec<&str> = text.split('/').collect();
    let mut pattern = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let segment = match *part {
            "**" if i + 1 == parts.len() => Segment::Rest,
            "**" => return Err("`**` may only end a pattern".into()),
            "" => return Err("empty segment in the pattern".into()),
            p if p.starts_with('{') && p.ends_with('}') && p.len() > 2 => {
                Segment::Capture(p[1..p.len() - 1].to_owned())
            }
            p if p.contains(['{', '}', '*']) => {
                return Err(format!("`{p}` is neither a name, a {{capture}} nor `**`"));
            }
            p => Segment::Literal(p.to_owned()),
        };
        pattern.push(segment);
    }
    Ok(pattern)
}

fn parse_condition(text: &str, captures: &[&str]) -> Result<Condition, String> {
    let any = text
        .split("||")
        .map(|all| all.split("&&").map(|atom| parse_atom(atom.trim(), captures)).collect::<Result<Vec<_>, _>>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Condition(any))
}

fn parse_atom(text: &str, captures: &[&str]) -> Result<Atom, String> {
    let compact: String = text.split_whitespace().collect();
    Ok(match compact.as_str() {
        "true" => Atom::True,
        "false" => Atom::False,
        "auth!=null" => Atom::Authenticated,
        "auth==null" => Atom::Anonymous,
        _ => {
            let operand = compact
                .strip_prefix("auth.uid==")
                .or_else(|| compact.strip_suffix("==auth.uid"))
                .ok_or_else(|| format!("cannot read the condition `{text}`"))?;
            if let Some(literal) = operand.strip_prefix('"').and_then(|o| o.strip_suffix('"')) {
                Atom::UidIs(literal.to_owned())
            } else if captures.contains(&operand) {
                Atom::UidIsCapture(operand.to_owned())
            } else {
                return Err(format!("`{operand}` is not a capture of this rule's pattern"));
            }
        }
    })
}

fn matches<'a>(pattern: &'a [Segment], path: &[&'a str]) -> Option<HashMap<&'a str, &'a str>> {
    let mut captures = HashMap::new();
    for (i, segment) in pattern.iter().enumerate() {
        match segment {
            Segment::Rest => return Some(captures),
            Segment::Literal(literal) => {
                if path.get(i) != Some(&literal.as_str()) {
                    return None;
                }
            }
            Segment::Capture(name) => {
                captures.insert(name.as_str(), *path.get(i)?);
            }
        }
    }
    (path.len() == pattern.len()).then_some(captures)
}

fn holds(atom: &Atom, uid: Option<&str>, captures: &HashMap<&str, &str>) -> bool {
    match atom {
        Atom::True => true,
        Atom::False => false,
        Atom::Authenticated => uid.is_some(),
        Atom::Anonymous => uid.is_none(),
        Atom::UidIsCapture(name) => uid.is_some_and(|uid| captures.get(name.as_str()) == Some(&uid)),
        Atom::UidIs(literal) => uid == Some(literal.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
        [[rule]]
        match = "users/{uid}/**"
        read = "auth.uid == uid"
        write = "auth.uid == uid"

        [[rule]]
        match = "public/**"
        read = "true"
        write = "auth != null"

        [[rule]]
        match = "rooms/{room}"
        read = "auth != null && auth.uid == \"admin\" || auth == null && false"
    "#;

    fn allows(rules: &Rules, uid: Option<&str>, path: &str, op: Op) -> bool {
        rules.allows(uid, &Path::parse(path).unwrap(), op)
    }

    #[test]
    fn a_user_reads_and_writes_only_under_their_own_id() {
        let rules = Rules::parse(EXAMPLE).unwrap();
        assert!(allows(&rules, Some("u1"), "users/u1", Op::Read), "** matches an empty rest");
        assert!(allows(&rules, Some("u1"), "users/u1/notes/n1", Op::Write));
        assert!(allows(&rules, Some("u1"), "users/u1/notes", Op::Read), "collection listings too");
        assert!(!allows(&rules, Some("u2"), "users/u1/notes/n1", Op::Read));
        assert!(!allows(&rules, None, "users/u1", Op::Read));
    }

    #[test]
    fn public_data_is_readable_by_anyone_and_writable_by_users() {
        let rules = Rules::parse(EXAMPLE).unwrap();
        assert!(allows(&rules, None, "public/posts/p1", Op::Read));
        assert!(!allows(&rules, None, "public/posts/p1", Op::Write));
        assert!(allows(&rules, Some("u1"), "public/posts/p1", Op::Write));
    }

    #[test]
    fn some_user_may_do_what_needs_auth_but_not_what_is_false_or_only_for_anonymous() {
        let rules = Rules::parse(EXAMPLE).unwrap();
        let some = |path: &str, op| rules.allows_some_user(&Path::parse(path).unwrap(), op);
        assert!(some("public/posts/p1", Op::Write), "auth != null");
        assert!(some("users/u1/notes/n1", Op::Read), "auth.uid == uid: u1 may");
        assert!(some("rooms/r1", Op::Read), "auth.uid == \"admin\"");
        assert!(!some("rooms/r1", Op::Write), "no write condition");
        assert!(!some("secrets/s1", Op::Read), "no rule matches");
        let anonymous_only = Rules::parse("[[rule]]\nmatch = \"lobby/**\"\nread = \"auth == null\"").unwrap();
        assert!(!anonymous_only.allows_some_user(&Path::parse("lobby/x").unwrap(), Op::Read));
    }

    #[test]
    fn anything_no_rule_allows_is_denied_and_missing_conditions_are_false() {
        let rules = Rules::parse(EXAMPLE).unwrap();
        assert!(!allows(&rules, Some("u1"), "secrets/s1", Op::Read));
        assert!(allows(&rules, Some("admin"), "rooms/r1", Op::Read));
        assert!(!allows(&rules, Some("u1"), "rooms/r1", Op::Read));
        assert!(!allows(&rules, Some("admin"), "rooms/r1", Op::Write), "no write condition: false");
        assert!(!allows(&rules, Some("admin"), "rooms/r1/messages", Op::Read), "a pattern without ** is exact");
    }

    #[test]
    fn mistakes_in_the_file_are_reported_with_the_rule() {
        for (text, expected) in [
            ("[[rule]]\nmatch = \"a/**/b\"\nread = \"true\"", "rule 1 (a/**/b): `**` may only end"),
            ("[[rule]]\nmatch = \"a/{x}\"\nread = \"auth.uid == y\"", "`y` is not a capture"),
            ("[[rule]]\nmatch = \"a\"\nread = \"auth.name == 1\"", "cannot read the condition"),
            ("[[rule]]\nmatch = \"a\"\nreed = \"true\"", "rules file"),
        ] {
            let error = Rules::parse(text).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}
