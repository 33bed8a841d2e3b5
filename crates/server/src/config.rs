//! Configuration: the command-line flags of `livepath-server`.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use clap::Parser;
use livepath_protocol::query::Direction;

/// How the server runs. Each field is a flag (`--max-frame-bytes`), with the default shown by `--help`.
#[derive(Debug, Clone, Parser)]
#[command(name = "livepath-server", version, about = "Real-time JSON documents over WebSocket")]
pub struct Config {
    /// Address to listen on (HTTP and WebSocket share it).
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// Directory of the SQLite database (created if missing).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Keep everything in memory instead (tests, throwaway demos).
    #[arg(long, conflicts_with = "database_url")]
    pub memory: bool,
    /// Store documents in PostgreSQL instead of SQLite (postgres://user:password@host/db), shared by
    /// any number of nodes: a write on one reaches the subscribers of all. The schema is created or
    /// migrated at start.
    #[arg(long, env = "LIVEPATH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// PEM certificates of the CA that signed PostgreSQL's certificate (a private CA, a provider's
    /// bundle, a self-signed certificate): the connection then uses TLS, verified against these only.
    /// Without it, TLS is used when the URL says `sslmode=require`, verified against the Mozilla roots.
    #[arg(long, requires = "database_url")]
    pub database_ca_file: Option<PathBuf>,
    /// The server sends a frame at least this often; clients silent for twice as long are closed.
    #[arg(long, default_value_t = 25_000)]
    pub heartbeat_ms: u64,
    /// Largest inbound WebSocket frame; a larger one closes the connection with 1009.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_frame_bytes: usize,
    /// Largest document, as serialized JSON.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_document_bytes: usize,
    /// Live subscriptions per connection.
    #[arg(long, default_value_t = 1000)]
    pub max_subscriptions: usize,
    /// Simultaneous WebSocket connections; more are answered 503.
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: usize,
    /// Frames queued per connection before pending snapshots coalesce to the latest.
    #[arg(long, default_value_t = 256)]
    pub outbox_frames: usize,
    /// Bytes queued per connection before pending snapshots coalesce to the latest.
    #[arg(long, default_value_t = 8 << 20)]
    pub outbox_bytes: usize,
    /// Writes per second per connection (a token bucket holding one second's worth); past it a write
    /// gets `resource-exhausted`. 0: unlimited.
    #[arg(long, default_value_t = 10_000)]
    pub max_writes_per_second: u32,
    /// Simultaneous WebSocket connections from one IP address; more get 429. 0: unlimited (the
    /// default, since behind a proxy every client shares the proxy's address).
    #[arg(long, default_value_t = 0)]
    pub max_connections_per_ip: usize,
    /// Adds `POST /v1/_faults/drop-connections` (cuts every socket without a close frame) for
    /// reconnect tests. Refused unless the listen address is loopback.
    #[arg(long)]
    pub fault_injection: bool,
    /// HS256 secret of the JWTs clients present (`hello`, `Authorization: Bearer`); turns
    /// authentication on: without `--rules` every request needs a token, with `--rules` the rules
    /// decide (a request without one is `auth == null`). Prefer the environment variable or
    /// `--auth-secret-file` to a flag.
    #[arg(long, env = "LIVEPATH_AUTH_SECRET", hide_env_values = true)]
    pub auth_secret: Option<String>,
    /// Reads the HS256 secret from this file (trailing newline ignored).
    #[arg(long, conflicts_with = "auth_secret")]
    pub auth_secret_file: Option<PathBuf>,
    /// Path rules (TOML): who may read and write what. Once given, anything no rule allows is denied.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// How long deletes are remembered (`30s`, `12h`, `7d`; plain numbers are seconds). A client that
    /// resumes from further back gets the full state of its paths instead of what changed.
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    pub tombstone_retention: Duration,
    /// Accept WebSocket upgrades only from this origin (repeatable, e.g. https://app.example.com);
    /// others get 403. Default: any origin.
    #[arg(long = "allowed-origin")]
    pub allowed_origins: Vec<String>,
    /// The address of a proxy in front of this server (repeatable): a request from it is counted
    /// (per-IP limits, logs) as coming from the first address in `X-Forwarded-For`, read from the
    /// right, that is not a trusted proxy. Without it the header is ignored, since anyone can send it.
    #[arg(long = "trust-proxy")]
    pub trusted_proxies: Vec<IpAddr>,
    /// An index for live queries, on document fields across every collection (repeatable):
    /// `"priority, createdAt desc"` serves queries whose `==` filters cover the first fields and
    /// whose `orderBy` is the rest (or the rest reversed), reading only the documents they return.
    /// SQLite only (PostgreSQL ignores it, with a warning); each index costs every write a little.
    #[arg(long = "index", value_parser = parse_index)]
    pub indexes: Vec<IndexSpec>,
}

/// A declared index: fields, each ascending or descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    /// The fields (dotted paths) and their directions, in order.
    pub fields: Vec<(String, Direction)>,
}

/// `field [asc|desc], …`.
fn parse_index(text: &str) -> Result<IndexSpec, String> {
    let mut fields = Vec::new();
    for part in text.split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (field, direction) = match words[..] {
            [field] => (field, Direction::Asc),
            [field, "asc"] => (field, Direction::Asc),
            [field, "desc"] => (field, Direction::Desc),
            _ => return Err(format!("{part:?}: an index field is `name`, `name asc` or `name desc`")),
        };
        if field.split('.').any(str::is_empty) || field.contains('\'') {
            return Err(format!("{field:?} is not a field: dotted names, no empty part, no quote"));
        }
        if fields.iter().any(|(f, _)| f == field) {
            return Err(format!("{field:?} is in the index twice"));
        }
        fields.push((field.to_owned(), direction));
    }
    Ok(IndexSpec { fields })
}

/// `30`, `30s`, `15m`, `12h` or `7d`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.find(|c: char| !c.is_ascii_digit()).map_or((text, ""), |i| text.split_at(i));
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h or d (as in 7d)")),
    };
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 30s, 12h or 7d"))?;
    number.checked_mul(seconds).map(Duration::from_secs).ok_or_else(|| format!("{text:?} is too long"))
}

impl Default for Config {
    fn default() -> Self {
        Self::parse_from(["livepath-server"])
    }
}

impl Config {
    /// The defaults with an in-memory store: what tests start from.
    pub fn in_memory() -> Self {
        Self { memory: true, ..Self::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_fields_each_with_a_direction() {
        let spec = parse_index("priority, createdAt desc,a.b asc").unwrap();
        let fields: Vec<(&str, Direction)> = spec.fields.iter().map(|(f, d)| (f.as_str(), *d)).collect();
        assert_eq!(fields, [("priority", Direction::Asc), ("createdAt", Direction::Desc), ("a.b", Direction::Asc)]);
        assert!(parse_index("a, a desc").unwrap_err().contains("twice"));
        assert!(parse_index("a sideways").unwrap_err().contains("`name desc`"));
        assert!(parse_index("a..b").unwrap_err().contains("not a field"));
        assert!(parse_index("it's").unwrap_err().contains("not a field"));
        assert!(parse_index("").is_err());
    }

    #[test]
    fn durations_take_seconds_minutes_hours_or_days() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("7w").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(Config::default().tombstone_retention, Duration::from_secs(7 * 24 * 60 * 60));
    }
}
