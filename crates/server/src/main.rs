//! The `livepath-server` binary: parses flags, sets up logging, serves until SIGINT or SIGTERM.

use clap::Parser;
use livepath_server::Config;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let config = Config::parse();
    raise_open_file_limit(config.max_connections);
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("livepath-server: cannot listen on {}: {e}", config.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => tracing::info!(
            "listening on http://{addr} (WebSocket ws://{addr}/v1/ws), store: {}",
            if config.database_url.is_some() {
                "PostgreSQL".to_owned()
            } else if config.memory {
                "memory".to_owned()
            } else {
                config.data_dir.display().to_string()
            }
        ),
        Err(e) => tracing::warn!("listening, but the local address is unknown: {e}"),
    }
    match livepath_server::run(listener, config, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("livepath-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Every connection holds a file descriptor, and the usual soft limit (1,024) would refuse connections
/// long before `--max-connections`: raise it to the hard limit, and warn if even that is too low.
fn raise_open_file_limit(max_connections: usize) {
    let wanted = max_connections as u64 + 64; // the listener, the database, logs
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < wanted => tracing::warn!(
            "the open-file limit is {limit}: fewer than --max-connections {max_connections} connections fit; raise it (ulimit -n, LimitNOFILE)"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("could not raise the open-file limit: {e}"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(e) => {
                tracing::warn!("no SIGTERM handler: {e}");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
