//! TLS to PostgreSQL, when the URL asks for it (`sslmode=require`, as hosted databases' URLs do) or a
//! CA file is given (`--database-ca-file`). The server's certificate is always verified, chain and
//! name: against the Mozilla roots (built in, so no system store is needed), or only against the CA
//! file's certificates when there is one (a private CA, a cloud provider's bundle, a self-signed
//! certificate). Otherwise the connection is plain, as with `sslmode=disable`: libpq's default,
//! `prefer`, would try TLS without verifying anything, which protects from nothing but a passive
//! listener and breaks on a self-signed certificate only sometimes.

use std::{path::Path, sync::Arc};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, pem::PemObject};
use tokio_postgres::config::SslMode;
pub use tokio_postgres_rustls::MakeRustlsConnect as Tls;

use crate::error::ApiError;

/// Sets `config`'s TLS mode as described above, and returns the connector every connection uses.
pub fn configure(config: &mut tokio_postgres::Config, ca_file: Option<&Path>) -> Result<Tls, ApiError> {
    if ca_file.is_none() && config.get_ssl_mode() != SslMode::Require {
        config.ssl_mode(SslMode::Disable);
    }
    let mut roots = RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(file) => {
            let shown = file.display();
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| ApiError::invalid(format!("--database-ca-file {shown}: {e}")))?;
            if certs.is_empty() {
                return Err(ApiError::invalid(format!("--database-ca-file {shown} holds no PEM certificate")));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| ApiError::invalid(format!("--database-ca-file {shown}: {e}")))?;
            }
        }
    }
    let tls = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ApiError::internal("setting up TLS", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Tls::new(tls))
}
