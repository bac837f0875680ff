//! TLS material for the `compare` example: a throwaway CA and a server certificate for
//! `localhost` and `127.0.0.1`, made with rcgen, plus what each client needs to verify it
//! the same way: the CA's PEM file for pgline's `sslmode=verify-full&sslrootcert=...`,
//! and a tokio-postgres connector whose rustls configuration trusts that CA alone (webpki
//! chain and host-name checks, as `verify-full` does).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pgline::cluster::ClusterTls;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::CertificateDer;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The CA and the server certificate, with `ca.pem` in a private directory that is
/// removed on drop. The server's key only lives in memory and in the cluster's data
/// directory (the cluster writes it there with mode 0600, owned by the server's user).
pub(crate) struct TlsMaterial {
    dir: PathBuf,
    ca_der: CertificateDer<'static>,
    server: ClusterTls,
}

impl TlsMaterial {
    /// A fresh CA and a server certificate it signed, SAN `localhost` and `127.0.0.1`
    /// (ECDSA P-256, rcgen's default). Panics if anything fails: this is an example.
    pub(crate) fn generate() -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "pgline compare CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");

        let key = KeyPair::generate().expect("server key");
        let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &ca, &ca_key)
            .expect("server certificate");

        let dir = std::env::temp_dir().join(format!(
            "pgline-compare-tls-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .expect("TLS temp dir");
        }
        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("writing ca.pem");
        Self {
            dir,
            ca_der: ca.der().clone(),
            server: ClusterTls {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
                client_ca_pem: None,
            },
        }
    }

    /// What the cluster serves.
    pub(crate) fn server(&self) -> ClusterTls {
        self.server.clone()
    }

    /// The CA certificate, PEM (pgline's `sslrootcert`).
    pub(crate) fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// tokio-postgres' rustls connector: ring, TLS 1.2 and 1.3, trusting only our CA and
    /// checking the host name (what pgline's `verify-full` does with the same CA).
    #[allow(deprecated)] // ring's provider: rustls 0.23.48 deprecates it (no post-quantum).
    pub(crate) fn tokio_postgres_connector(&self) -> MakeRustlsConnect {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("CA as a root");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        MakeRustlsConnect::new(config)
    }
}

impl Drop for TlsMaterial {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `path` percent-encoded for a URL query value (everything but unreserved bytes and `/`).
pub(crate) fn url_path(path: &Path) -> String {
    let mut out = String::new();
    for b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(*b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
