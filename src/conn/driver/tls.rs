//! TLS for the tokio driver: what each connection attempt does (the plan), and, with the
//! `rustls` feature, the rustls client configuration built from libpq's parameters and the
//! handshake itself.
//!
//! The session decides *when* TLS starts (SSLRequest answered `S`, or at once for direct
//! TLS) and refuses bytes that arrived before it; this module only runs the handshake on
//! the socket and hands back the certificate hash for channel binding. See
//! [`crate::conn::tls`] for the meaning of every parameter.

use std::sync::Arc;

use crate::conn::auth::CertificateHashError;
use crate::conn::config::Config;
use crate::conn::session::TlsStart;
use crate::conn::tls::{SslMode, SslNegotiation};
use crate::error::Error;
#[cfg(feature = "rustls")]
use crate::error::Kind;

/// What a connection attempt does about TLS, in libpq's order, and when the next attempt
/// is worth making.
#[derive(Debug, Clone)]
pub(crate) struct TlsPlan {
    pub(crate) mode: SslMode,
    negotiation: SslNegotiation,
    pub(crate) connector: Option<Arc<TlsConnector>>,
}

impl TlsPlan {
    /// The plan for `config`: the effective `sslmode` (libpq's defaults and checks) and,
    /// unless TLS is off, the rustls configuration (certificate files are read here, once
    /// per connect, as libpq does).
    pub(crate) fn resolve(config: &Config) -> Result<Self, Error> {
        let settings = &config.tls;
        // libpq: sslmode is ignored for Unix-domain sockets (a `hostaddr` makes it TCP).
        if config.hostaddr.is_none() && config.host.starts_with('/') {
            return Ok(Self {
                mode: SslMode::Disable,
                negotiation: SslNegotiation::Postgres,
                connector: None,
            });
        }
        let default_root = settings.root_cert.is_none() && default_file("root.crt").is_some();
        let mode = settings.effective_mode(default_root)?;
        let connector = if mode == SslMode::Disable {
            None
        } else {
            TlsConnector::new(config, mode)?.map(Arc::new)
        };
        Ok(Self {
            mode,
            negotiation: settings.negotiation,
            connector,
        })
    }

    /// The attempts, in order: `allow` tries plaintext and then TLS, `prefer` TLS (if
    /// offered) and then plaintext, the rest one attempt.
    pub(crate) fn attempts(&self) -> &'static [TlsStart] {
        const REQUIRED: TlsStart = TlsStart::Request { required: true };
        match (self.mode, self.negotiation) {
            (SslMode::Disable, _) => &[TlsStart::Off],
            (SslMode::Allow, _) => &[TlsStart::Off, REQUIRED],
            (SslMode::Prefer, _) => &[TlsStart::Request { required: false }, TlsStart::Off],
            (_, SslNegotiation::Direct) => &[TlsStart::Direct],
            _ => &[REQUIRED],
        }
    }

    /// Whether an attempt that failed with `err` is followed by the next one (libpq's
    /// rules): after `allow`'s plaintext attempt, when the server refused the session;
    /// after `prefer`'s TLS attempt, when the handshake or the server refused it over TLS.
    /// A `prefer` attempt that went on in plaintext (the server answered `N`) is final.
    pub(crate) fn retry_after(&self, attempt: TlsStart, tls_used: bool, err: &Error) -> bool {
        match (self.mode, attempt) {
            (SslMode::Allow, TlsStart::Off) => err.is_db(),
            (SslMode::Prefer, TlsStart::Request { .. }) => tls_used && err.is_db() || err.is_tls(),
            _ => false,
        }
    }
}

/// `~/.postgresql/<name>` when it exists (libpq's default certificate files).
fn default_file(name: &str) -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME")?;
    let path = std::path::Path::new(&home).join(".postgresql").join(name);
    path.is_file().then_some(path)
}

/// The TLS channel as the session needs it: the `tls-server-end-point` data of the
/// server's certificate, or why there is none.
pub(crate) type Binding = Result<Vec<u8>, CertificateHashError>;

#[cfg(not(feature = "rustls"))]
pub(crate) use disabled::TlsConnector;

#[cfg(not(feature = "rustls"))]
mod disabled {
    use super::*;

    /// Stands in for the rustls connector in builds without the `rustls` feature.
    #[derive(Debug)]
    pub(crate) enum TlsConnector {}

    impl TlsConnector {
        /// No TLS in this build: a mode that needs it is refused, `prefer` and `allow`
        /// go on without it (a server that answers `S` is then refused and `prefer`
        /// falls back to plaintext).
        pub(crate) fn new(_config: &Config, mode: SslMode) -> Result<Option<Self>, Error> {
            if mode.requires_tls() {
                return Err(Error::unsupported(format!(
                    "sslmode={} needs TLS, and this build of pgline has none (enable the `rustls` feature)",
                    mode.as_str()
                )));
            }
            Ok(None)
        }
    }
}

#[cfg(feature = "rustls")]
pub(crate) use enabled::{handshake, TlsConnector, TlsStream};

#[cfg(feature = "rustls")]
mod enabled {
    use std::fmt;
    use std::io::Write as _;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
    use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{
        CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
    };
    use rustls::sign::CertifiedKey;
    use rustls::{
        CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    };
    use tokio::io::{AsyncRead, AsyncWrite};

    use super::*;
    use crate::conn::auth::tls_server_end_point;
    use crate::conn::tls::{RootCert, SslCertMode, TlsVersion};

    /// The stream after the handshake.
    pub(crate) type TlsStream<S> = tokio_rustls::client::TlsStream<S>;

    /// ALPN protocol name PostgreSQL 17+ expects on direct TLS.
    const ALPN_POSTGRESQL: &[u8] = b"postgresql";

    /// One connection's rustls configuration and what to check after the handshake.
    pub(crate) struct TlsConnector {
        config: Arc<ClientConfig>,
        server_name: ServerName<'static>,
        mode: SslMode,
        direct: bool,
        host: String,
        root_desc: String,
        /// Set when the server asked for a client certificate (`sslcertmode=require`).
        cert_requested: Arc<AtomicBool>,
        cert_mode: SslCertMode,
    }

    impl fmt::Debug for TlsConnector {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("TlsConnector")
                .field("server_name", &self.server_name)
                .field("mode", &self.mode)
                .field("direct", &self.direct)
                .finish_non_exhaustive()
        }
    }

    fn tls_err(msg: impl Into<String>) -> Error {
        Error::new(Kind::Tls, msg.into())
    }

    /// The `ring` provider: it builds with a C compiler alone. rustls 0.23.48 deprecates
    /// its constructor because ring has no post-quantum key exchange; TLS 1.3 with X25519
    /// is still what PostgreSQL servers negotiate, and aws-lc-rs would add cmake to the
    /// build requirements.
    ///
    /// Key-exchange groups: P-256 first. PostgreSQL up to 17 accepts only `prime256v1` by
    /// default (`ssl_ecdh_curve`), and 18's default `ssl_groups` includes it; ring's own
    /// order starts with P-384, which costs every connect a HelloRetryRequest round trip
    /// and a wasted key share (measured: 2x tokio-postgres' client CPU per TLS connect).
    #[allow(deprecated)]
    fn provider() -> Arc<CryptoProvider> {
        use rustls::crypto::ring::kx_group;
        let mut provider = rustls::crypto::ring::default_provider();
        provider.kx_groups = vec![kx_group::SECP256R1, kx_group::X25519, kx_group::SECP384R1];
        Arc::new(provider)
    }

    impl TlsConnector {
        /// Builds the rustls configuration for `config` in `mode` (not `Disable`).
        pub(crate) fn new(config: &Config, mode: SslMode) -> Result<Option<Self>, Error> {
            let settings = &config.tls;
            let provider = provider();
            let versions: &[&'static rustls::SupportedProtocolVersion] =
                match (settings.min_version, settings.max_version) {
                    (Some(TlsVersion::Tls13), _) => &[&rustls::version::TLS13],
                    (_, Some(TlsVersion::Tls12)) => &[&rustls::version::TLS12],
                    _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
                };
            let builder = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(versions)
                .map_err(|e| tls_err(format!("TLS configuration: {e}")))?;

            let (verifier, root_desc): (Arc<dyn ServerCertVerifier>, String) = match mode {
                SslMode::VerifyCa | SslMode::VerifyFull => {
                    let (roots, desc) = load_roots(settings.root_cert.as_ref(), mode)?;
                    let crls = load_crls(settings.crl.as_deref(), settings.crl_dir.as_deref())?;
                    let mut vb = WebPkiServerVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider.clone(),
                    );
                    if !crls.is_empty() {
                        vb = vb.with_crls(crls);
                    }
                    let webpki = vb
                        .build()
                        .map_err(|e| tls_err(format!("TLS verifier ({desc}): {e}")))?;
                    let v: Arc<dyn ServerCertVerifier> = if mode == SslMode::VerifyFull {
                        webpki
                    } else {
                        Arc::new(ChainOnly(webpki))
                    };
                    (v, desc)
                }
                _ => (
                    Arc::new(NoCheck(provider.signature_verification_algorithms)),
                    String::new(),
                ),
            };
            let builder = builder
                .dangerous()
                .with_custom_certificate_verifier(verifier);

            let cert_requested = Arc::new(AtomicBool::new(false));
            let key = match settings.cert_mode {
                SslCertMode::Disable => None,
                _ => load_client_cert(config, &provider)?,
            };
            if settings.cert_mode == SslCertMode::Require && key.is_none() {
                return Err(Error::config(
                    "sslcertmode=require, but no client certificate is configured (sslcert/sslkey)",
                ));
            }
            let mut tls = builder.with_client_cert_resolver(Arc::new(ClientCert {
                key,
                requested: cert_requested.clone(),
            }));
            tls.enable_sni = settings.sni();
            let direct = settings.negotiation == SslNegotiation::Direct;
            if direct {
                tls.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
            }
            if let Some(path) = &settings.key_log_file {
                tls.key_log = Arc::new(KeyLogFile::new(path.clone()));
            }
            let server_name = ServerName::try_from(config.host.clone()).map_err(|_| {
                Error::config(format!(
                    "host {:?} is not a valid TLS server name",
                    config.host
                ))
            })?;
            Ok(Some(Self {
                config: Arc::new(tls),
                server_name,
                mode,
                direct,
                host: config.host.clone(),
                root_desc,
                cert_requested,
                cert_mode: settings.cert_mode,
            }))
        }

        /// Turns a handshake failure into an error that says what was wrong.
        fn explain(&self, e: std::io::Error) -> Error {
            let Some(tls) = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            else {
                let what = if self.direct {
                    "direct TLS handshake failed (sslnegotiation=direct needs PostgreSQL 17 \
                     or later, or a pooler that accepts it)"
                } else {
                    "TLS handshake failed"
                };
                return Error::with_source(Kind::Tls, what, e);
            };
            let what = match tls {
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
                ) => format!(
                    "the server certificate does not match the host name {:?} (sslmode=verify-full)",
                    self.host
                ),
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
                    "the server certificate is not signed by a trusted root ({}; sslmode={})",
                    self.root_desc,
                    self.mode.as_str()
                ),
                rustls::Error::InvalidCertificate(
                    CertificateError::Expired | CertificateError::ExpiredContext { .. },
                ) => "the server certificate has expired".to_string(),
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
                ) => "the server certificate is not valid yet".to_string(),
                rustls::Error::InvalidCertificate(CertificateError::Revoked) => {
                    "the server certificate is revoked (sslcrl/sslcrldir)".to_string()
                }
                _ => "TLS handshake failed".to_string(),
            };
            Error::new(Kind::Tls, format!("{what}: {tls}"))
        }
    }

    /// Runs the handshake over `io` and checks what libpq checks after it (ALPN on direct
    /// TLS, a requested client certificate under `sslcertmode=require`). Returns the
    /// stream and the channel-binding data.
    pub(crate) async fn handshake<S>(
        connector: &TlsConnector,
        io: S,
    ) -> Result<(TlsStream<S>, Binding), Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let tls = tokio_rustls::TlsConnector::from(connector.config.clone())
            .connect(connector.server_name.clone(), io)
            .await
            .map_err(|e| connector.explain(e))?;
        let (_, conn) = tls.get_ref();
        if connector.direct && conn.alpn_protocol() != Some(ALPN_POSTGRESQL) {
            return Err(tls_err(
                "direct TLS connection was established without the ALPN protocol \"postgresql\"",
            ));
        }
        if connector.cert_mode == SslCertMode::Require
            && !connector.cert_requested.load(Ordering::Relaxed)
        {
            return Err(tls_err(
                "sslcertmode=require, but the server did not request a client certificate",
            ));
        }
        let binding = match conn.peer_certificates().and_then(|c| c.first()) {
            Some(cert) => tls_server_end_point(cert.as_ref()),
            None => Err(CertificateHashError::Malformed("no server certificate")),
        };
        Ok((tls, binding))
    }

    fn load_roots(
        root: Option<&RootCert>,
        mode: SslMode,
    ) -> Result<(RootCertStore, String), Error> {
        let mut store = RootCertStore::empty();
        let path = match root {
            Some(RootCert::System) => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(tls_err(format!(
                        "sslrootcert=system, but no trusted roots were found on this system{}",
                        found
                            .errors
                            .first()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    )));
                }
                return Ok((store, "the system's trusted roots".into()));
            }
            Some(RootCert::File(p)) => p.clone(),
            None => default_file("root.crt").ok_or_else(|| {
                Error::config(format!(
                    "sslmode={} needs a root certificate: set sslrootcert to a CA file, \
                     use sslrootcert=system for the system's trusted roots, or create \
                     ~/.postgresql/root.crt",
                    mode.as_str()
                ))
            })?,
        };
        let certs = read_pem_certs(&path, "sslrootcert")?;
        let (added, _) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(Error::config(format!(
                "sslrootcert {} holds no usable CA certificate",
                path.display()
            )));
        }
        Ok((store, format!("sslrootcert {}", path.display())))
    }

    fn read_pem_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| Error::config(format!("{what} {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(Error::config(format!(
                "{what} {} holds no PEM certificate",
                path.display()
            )));
        }
        Ok(certs)
    }

    fn load_crls(
        file: Option<&Path>,
        dir: Option<&Path>,
    ) -> Result<Vec<CertificateRevocationListDer<'static>>, Error> {
        let mut files: Vec<PathBuf> = file.map(Path::to_path_buf).into_iter().collect();
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| Error::config(format!("sslcrldir {}: {e}", dir.display())))?;
            for entry in entries.flatten() {
                if entry.path().is_file() {
                    files.push(entry.path());
                }
            }
        }
        let mut crls = Vec::new();
        for path in files {
            let found = CertificateRevocationListDer::pem_file_iter(&path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| Error::config(format!("sslcrl {}: {e}", path.display())))?;
            crls.extend(found);
        }
        Ok(crls)
    }

    /// The client certificate and key: `sslcert`/`sslkey`, or libpq's default files when
    /// they exist.
    fn load_client_cert(
        config: &Config,
        provider: &CryptoProvider,
    ) -> Result<Option<Arc<CertifiedKey>>, Error> {
        let settings = &config.tls;
        let cert_path = match &settings.cert {
            Some(p) => p.clone(),
            None => match default_file("postgresql.crt") {
                Some(p) => p,
                None => return Ok(None),
            },
        };
        let key_path = match &settings.key {
            Some(p) => p.clone(),
            None => cert_path.with_file_name("postgresql.key"),
        };
        let chain = read_pem_certs(&cert_path, "sslcert")?;
        check_key_permissions(&key_path)?;
        let pem = std::fs::read(&key_path)
            .map_err(|e| Error::config(format!("sslkey {}: {e}", key_path.display())))?;
        if pem.windows(9).any(|w| w == b"ENCRYPTED") {
            return Err(Error::config(format!(
                "sslkey {} is encrypted; pgline cannot decrypt keys (sslpassword): \
                 store it decrypted, readable by its owner only",
                key_path.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
            Error::config(format!(
                "sslkey {}: no PKCS#8, PKCS#1 or SEC1 private key ({e})",
                key_path.display()
            ))
        })?;
        let signer = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| Error::config(format!("sslkey {}: {e}", key_path.display())))?;
        let certified = CertifiedKey::new(chain, signer);
        certified.keys_match().map_err(|e| {
            Error::config(format!(
                "sslcert {} and sslkey {} do not belong together: {e}",
                cert_path.display(),
                key_path.display()
            ))
        })?;
        Ok(Some(Arc::new(certified)))
    }

    /// libpq's rule: the key must not be readable by group or others (0600), except
    /// that a root-owned key may be group-readable (0640).
    #[cfg(unix)]
    fn check_key_permissions(path: &Path) -> Result<(), Error> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::config(format!("sslkey {}: {e}", path.display())))?;
        let mode = meta.mode();
        let ok = if meta.uid() == 0 {
            mode & 0o037 == 0
        } else {
            mode & 0o077 == 0
        };
        if !ok {
            return Err(Error::config(format!(
                "sslkey {} has group or world access; permissions should be u=rw (0600) or \
                 less (u=rw,g=r (0640) if owned by root)",
                path.display()
            )));
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn check_key_permissions(_path: &Path) -> Result<(), Error> {
        Ok(())
    }

    /// Hands the client certificate to a server that asks, and records that it asked.
    #[derive(Debug)]
    struct ClientCert {
        key: Option<Arc<CertifiedKey>>,
        requested: Arc<AtomicBool>,
    }

    impl ResolvesClientCert for ClientCert {
        fn resolve(
            &self,
            _root_hint_subjects: &[&[u8]],
            _sigschemes: &[SignatureScheme],
        ) -> Option<Arc<CertifiedKey>> {
            self.requested.store(true, Ordering::Relaxed);
            self.key.clone()
        }

        fn has_certs(&self) -> bool {
            self.key.is_some()
        }
    }

    /// `sslmode` `prefer`/`require`/`allow` without a root certificate: the certificate
    /// is not checked (libpq's semantics), but the handshake signatures still are, so the
    /// peer at least holds the key of the certificate it sent.
    #[derive(Debug)]
    struct NoCheck(WebPkiSupportedAlgorithms);

    impl ServerCertVerifier for NoCheck {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_schemes()
        }
    }

    /// `verify-ca`: the full WebPKI check (chain, validity, revocation), except the host
    /// name. rustls checks the name only after the chain succeeded, so a name error means
    /// everything else passed.
    #[derive(Debug)]
    struct ChainOnly(Arc<WebPkiServerVerifier>);

    impl ServerCertVerifier for ChainOnly {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            match self
                .0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            {
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }

    /// `sslkeylogfile`: TLS secrets appended in NSS key-log format.
    struct KeyLogFile {
        path: PathBuf,
        file: Mutex<Option<std::fs::File>>,
    }

    impl KeyLogFile {
        fn new(path: PathBuf) -> Self {
            Self {
                path,
                file: Mutex::new(None),
            }
        }
    }

    impl fmt::Debug for KeyLogFile {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("KeyLogFile")
                .field("path", &self.path)
                .finish_non_exhaustive()
        }
    }

    impl rustls::KeyLog for KeyLogFile {
        fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
            let Ok(mut guard) = self.file.lock() else {
                return;
            };
            if guard.is_none() {
                match std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                {
                    Ok(f) => *guard = Some(f),
                    Err(e) => {
                        log::warn!("pgline: sslkeylogfile {}: {e}", self.path.display());
                        return;
                    }
                }
            }
            if let Some(f) = guard.as_mut() {
                if let Err(e) = f.write_all(line.as_bytes()) {
                    log::warn!("pgline: sslkeylogfile {}: {e}", self.path.display());
                }
            }
        }
    }
}
