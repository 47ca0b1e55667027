//! TLS for `mqtts://`, `https://` feeds and camera snapshots: rustls with the ring
//! provider, trusting the system's root certificates plus, when the scene names one,
//! a PEM file of extra CA certificates (a city's private CA is common).

use rustls::ClientConfig;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// The client configuration every TLS connection of the app uses.
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    client_config_with(extra_ca, None)
}

/// The same, presenting a client certificate (PEM chain and key files) to servers
/// that ask for one (mTLS).
pub fn client_config_with(
    extra_ca: Option<&Path>,
    client: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(system.certs);
    if let Some(path) = extra_ca {
        let pem = crate::read_limited(path, 16 << 20).map_err(|e| format!("CA file {e}"))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("CA file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "CA file {}: no PEM certificates in it",
                path.display()
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("CA file {}: {e}", path.display()))?;
        }
    } else if added == 0 {
        return Err(
            "no trusted root certificates: install Debian's ca-certificates or set the scene's tls_ca"
                .into(),
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            use rustls_pki_types::PrivateKeyDer;
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .and_then(|i| i.collect::<Result<_, _>>())
                .map_err(|e| format!("client certificate {}: {e}", cert.display()))?;
            if chain.is_empty() {
                return Err(format!(
                    "client certificate {}: no PEM certificate in it",
                    cert.display()
                ));
            }
            // The key file's own error text could quote key material: say which file only.
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|_| format!("client key {}: not a PEM private key", key.display()))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| format!("client certificate {}: {e}", cert.display()))?
        }
    };
    Ok(Arc::new(config))
}

/// What a source that needs TLS gets: the configuration, or why there is none.
pub type TlsSetup = Option<Result<Arc<ClientConfig>, String>>;

/// Builds the configuration once, only if some source needs it.
pub fn setup(needed: bool, extra_ca: Option<&Path>) -> TlsSetup {
    needed.then(|| client_config(extra_ca))
}

/// A reqwest client builder with our TLS configuration, when there is one.
pub fn reqwest_builder(tls: Option<&Arc<ClientConfig>>) -> reqwest::ClientBuilder {
    // reqwest sets up rustls for every client, even a plain-http one, from the
    // process's default provider: make that ring (a no-op once done).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = reqwest::Client::builder();
    match tls {
        Some(config) => builder.tls_backend_preconfigured(ClientConfig::clone(config)),
        None => builder,
    }
}
