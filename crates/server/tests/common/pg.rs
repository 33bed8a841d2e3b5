//! Real PostgreSQL for the several-node tests: a throwaway cluster started by `scripts/postgres` (one
//! per test binary, or the one `scripts/test` started, named by `LIVEPATH_TEST_DATABASE_URL`), and a
//! fresh database per test.

use std::{
    process::Command,
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
};

use tokio_postgres::NoTls;

/// A PostgreSQL cluster and its superuser's URL.
pub struct Cluster {
    pub url: String,
}

fn script() -> String {
    format!("{}/../../scripts/postgres", env!("CARGO_MANIFEST_DIR"))
}

fn as_owner(program: &str) -> Command {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", program]);
        command
    } else {
        Command::new(program)
    }
}

/// The directory of PostgreSQL's server binaries.
fn pg_bin() -> String {
    let output = Command::new("bash")
        .args(["-c", &format!("source {}/../../scripts/env.sh && pg_bin", env!("CARGO_MANIFEST_DIR"))])
        .output()
        .expect("bash runs");
    String::from_utf8(output.stdout).expect("a path").trim().to_owned()
}

impl Cluster {
    /// A cluster of this test process's own, stopped and deleted when the process exits.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`Cluster::start`], with TLS on (a self-signed certificate: see [`Cluster::certificate`]).
    pub fn start_tls() -> Self {
        Self::start_with(&["--tls"])
    }

    fn start_with(more: &[&str]) -> Self {
        let output = Command::new(script())
            .args(["--watch", &std::process::id().to_string(), "--fast"])
            .args(more)
            .output()
            .expect("scripts/postgres runs");
        assert!(output.status.success(), "scripts/postgres failed: {}", String::from_utf8_lossy(&output.stderr));
        Self { url: String::from_utf8(output.stdout).expect("a URL").trim().to_owned() }
    }

    /// The cluster the tests share: `LIVEPATH_TEST_DATABASE_URL`, else one started for this process.
    pub fn shared() -> &'static Self {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(|| match std::env::var("LIVEPATH_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Self { url },
            _ => Self::start(),
        })
    }

    /// The URL of database `name` on this cluster.
    pub fn url_of(&self, name: &str) -> String {
        let base = self.url.rsplit_once('/').expect("a URL with a database").0;
        format!("{base}/{name}")
    }

    /// A new, empty database of its own for one test; its URL.
    pub async fn database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("t_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let client = self.connect().await;
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("CREATE DATABASE");
        self.url_of(&name)
    }

    /// A connection as the superuser.
    pub async fn connect(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }

    /// The file of the CA certificate that signed the server's, for a cluster started with TLS.
    pub async fn ca_certificate(&self) -> String {
        let cert: String =
            self.connect().await.query_one("SHOW ssl_cert_file", &[]).await.expect("the certificate").get(0);
        cert.replace("server.crt", "ca.crt")
    }

    async fn data_dir(&self) -> String {
        self.connect().await.query_one("SHOW data_directory", &[]).await.expect("the data directory").get(0)
    }

    /// Stops PostgreSQL (fast shutdown: connections are cut); [`Cluster::resume`] starts it again.
    pub async fn stop(&self) -> String {
        let dir = self.data_dir().await;
        let status = as_owner(&format!("{}/pg_ctl", pg_bin())).args(["-D", &dir, "-m", "fast", "-w", "stop"]).status();
        assert!(status.is_ok_and(|s| s.success()), "pg_ctl stop");
        dir
    }

    /// Starts again a cluster [`Cluster::stop`] stopped (its data directory).
    pub fn resume(&self, dir: &str) {
        let log = format!("{dir}/../server.log");
        let status = as_owner(&format!("{}/pg_ctl", pg_bin())).args(["-D", dir, "-l", &log, "-w", "start"]).status();
        assert!(status.is_ok_and(|s| s.success()), "pg_ctl start");
    }
}

/// Terminates (`pg_terminate_backend`) the connections to database `database` whose application name
/// is `application` (`livepath-server`: a node's store; `livepath-server listen`: its listener), as
/// a network cut or a restarted PostgreSQL would; how many there were.
pub async fn terminate(admin: &tokio_postgres::Client, database: &str, application: &str) -> usize {
    admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
            &[&database, &application],
        )
        .await
        .expect("pg_terminate_backend")
        .len()
}

/// A connection to `url`, driven in the background.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("a connection to PostgreSQL");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}
