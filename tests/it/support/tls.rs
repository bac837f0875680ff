//! TLS material for the test clusters, made with rcgen once per test process.
//!
//! [`tls_files`] writes a throwaway PKI into a fresh directory under `/tmp` (mode 0700,
//! private keys 0600), removed by a watchdog shell once the test process has exited:
//!
//! ```text
//! ca.pem                 the test CA: signs every certificate below
//! wrong-ca.pem           an unrelated CA that signed nothing here
//! client.crt/.key        CN=pgline_cert (CERT_USER), clientAuth; key in PKCS#8
//! client-sec1.key        the same key as SEC1 (`BEGIN EC PRIVATE KEY`)
//! other-client.crt/.key  CN=pgline_someone_else: valid, but for no role the cert line accepts
//! ```
//!
//! The server certificates are only held in memory as [`ClusterTls`] values (the cluster
//! copies them into its data directory): [`TlsFiles::server_tls`] names only the DNS name
//! `localhost`, so `verify-full` against `127.0.0.1` is a host-name mismatch while
//! `localhost` matches; [`TlsFiles::expired_server_tls`] names both but expired a year ago.
//! Every key is ECDSA P-256, rcgen's default.

use pgline::cluster::{ClusterTls, CERT_USER};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The common name of the second client certificate: a role that does not exist.
pub const OTHER_CLIENT_CN: &str = "pgline_someone_else";

const DAY: u64 = 24 * 60 * 60;
const YEAR: u64 = 365 * DAY;

/// Paths of the files [`tls_files`] wrote, plus the server material.
pub struct TlsFiles {
    /// The directory holding all of them.
    pub dir: PathBuf,
    /// The CA that signed every certificate here (`ca.pem`).
    pub ca: PathBuf,
    /// An unrelated CA (`wrong-ca.pem`): trusting only it must fail verification.
    pub wrong_ca: PathBuf,
    /// The client certificate for [`CERT_USER`] (`client.crt`).
    pub client_cert: PathBuf,
    /// Its key, PKCS#8 (`client.key`, `BEGIN PRIVATE KEY`).
    pub client_key: PathBuf,
    /// The same key, SEC1 (`client-sec1.key`, `BEGIN EC PRIVATE KEY`).
    pub client_key_sec1: PathBuf,
    /// A client certificate for [`OTHER_CLIENT_CN`] (`other-client.crt`).
    pub other_client_cert: PathBuf,
    /// Its key, PKCS#8 (`other-client.key`).
    pub other_client_key: PathBuf,
    server: ClusterTls,
    expired_server: ClusterTls,
}

impl TlsFiles {
    /// The server certificate (SAN: DNS `localhost` only) with client CA = [`Self::ca`].
    pub fn server_tls(&self) -> &ClusterTls {
        &self.server
    }

    /// A server certificate from the same CA, SAN `localhost` and `127.0.0.1`, valid from
    /// two years ago until one year ago; client CA = [`Self::ca`].
    pub fn expired_server_tls(&self) -> &ClusterTls {
        &self.expired_server
    }
}

/// The test PKI, generated on first use. Panics if it cannot be written.
pub fn tls_files() -> &'static TlsFiles {
    static FILES: OnceLock<TlsFiles> = OnceLock::new();
    FILES.get_or_init(|| generate().unwrap_or_else(|e| panic!("test TLS material: {e}")))
}

type Res<T> = Result<T, String>;

fn generate() -> Res<TlsFiles> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| format!("the clock is before 1970: {e}"))?
        .as_secs();
    let dir = make_dir()?;
    spawn_cleanup(&dir)?;

    let (ca, ca_key) = make_ca("pgline test CA", now)?;
    let (wrong_ca, _) = make_ca("pgline unrelated CA", now)?;

    let server = leaf(
        "localhost",
        vec![dns("localhost")?],
        ExtendedKeyUsagePurpose::ServerAuth,
        (now - DAY, now + YEAR),
    )?;
    let expired = leaf(
        "localhost",
        vec![dns("localhost")?, SanType::IpAddress(LOCALHOST_V4)],
        ExtendedKeyUsagePurpose::ServerAuth,
        (now - 2 * YEAR, now - YEAR),
    )?;
    let client = leaf(
        CERT_USER,
        vec![],
        ExtendedKeyUsagePurpose::ClientAuth,
        (now - DAY, now + YEAR),
    )?;
    let other = leaf(
        OTHER_CLIENT_CN,
        vec![],
        ExtendedKeyUsagePurpose::ClientAuth,
        (now - DAY, now + YEAR),
    )?;
    let sign = |(params, key): (CertificateParams, KeyPair)| -> Res<(String, KeyPair)> {
        let cert = params
            .signed_by(&key, &ca, &ca_key)
            .map_err(|e| format!("signing a certificate: {e}"))?;
        Ok((cert.pem(), key))
    };
    let (server_pem, server_key) = sign(server)?;
    let (expired_pem, expired_key) = sign(expired)?;
    let (client_pem, client_key) = sign(client)?;
    let (other_pem, other_key) = sign(other)?;

    let files = TlsFiles {
        ca: write(&dir, "ca.pem", &ca.pem(), 0o644)?,
        wrong_ca: write(&dir, "wrong-ca.pem", &wrong_ca.pem(), 0o644)?,
        client_cert: write(&dir, "client.crt", &client_pem, 0o644)?,
        client_key: write(&dir, "client.key", &client_key.serialize_pem(), 0o600)?,
        client_key_sec1: write(
            &dir,
            "client-sec1.key",
            &sec1_pem(client_key.serialized_der())?,
            0o600,
        )?,
        other_client_cert: write(&dir, "other-client.crt", &other_pem, 0o644)?,
        other_client_key: write(&dir, "other-client.key", &other_key.serialize_pem(), 0o600)?,
        server: ClusterTls {
            cert_pem: server_pem,
            key_pem: server_key.serialize_pem(),
            client_ca_pem: Some(ca.pem()),
        },
        expired_server: ClusterTls {
            cert_pem: expired_pem,
            key_pem: expired_key.serialize_pem(),
            client_ca_pem: Some(ca.pem()),
        },
        dir,
    };
    Ok(files)
}

const LOCALHOST_V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn dns(name: &str) -> Res<SanType> {
    Ok(SanType::DnsName(
        name.try_into().map_err(|e| format!("{name:?}: {e}"))?,
    ))
}

fn common_name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// Sets the validity period from Unix times (seconds), without naming rcgen's date type.
fn set_validity(params: &mut CertificateParams, (from, until): (u64, u64)) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + Duration::from_secs(from);
    params.not_after = epoch + Duration::from_secs(until);
}

/// A self-signed CA certificate valid from yesterday for ten years, and its key.
fn make_ca(cn: &str, now: u64) -> Res<(Certificate, KeyPair)> {
    let key = KeyPair::generate().map_err(|e| format!("generating a CA key: {e}"))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name(cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_validity(&mut params, (now - DAY, now + 10 * YEAR));
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("self-signing {cn:?}: {e}"))?;
    Ok((cert, key))
}

/// The parameters of an end-entity certificate (to be signed by the CA), and a new key.
fn leaf(
    cn: &str,
    sans: Vec<SanType>,
    purpose: ExtendedKeyUsagePurpose,
    validity: (u64, u64),
) -> Res<(CertificateParams, KeyPair)> {
    let key = KeyPair::generate().map_err(|e| format!("generating a key for {cn:?}: {e}"))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name(cn);
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![purpose];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, validity);
    Ok((params, key))
}

/// A fresh `/tmp/pgline-tls-<pid>-<nanos>`, mode 0700.
fn make_dir() -> Res<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = PathBuf::from(format!("/tmp/pgline-tls-{}-{nanos}", std::process::id()));
    fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("chmod 0700 {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Creates `dir/name` with `mode` from the start (a key is never readable by others, not
/// even briefly) and returns its path.
fn write(dir: &Path, name: &str, contents: &str, mode: u32) -> Res<PathBuf> {
    let path = dir.join(name);
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&path)
        .and_then(|mut f| f.write_all(contents.as_bytes()))
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}

/// Statics are never dropped, so a detached shell removes `dir` once this process is gone
/// (as the cluster's watchdog does). Its own process group survives a Ctrl-C to the tests.
fn spawn_cleanup(dir: &Path) -> Res<()> {
    use std::os::unix::process::CommandExt;
    let script = format!(
        "while kill -0 {} 2>/dev/null; do sleep 0.5; done; rm -rf '{}'",
        std::process::id(),
        dir.display().to_string().replace('\'', "'\\''"),
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| format!("spawning the cleanup shell: {e}"))
}

// SEC1 from PKCS#8.

/// DER tags used below.
const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
/// `[0]` and `[1]`, constructed, context-specific (explicit tagging).
const CONTEXT_0: u8 = 0xa0;
const CONTEXT_1: u8 = 0xa1;
/// The content octets of id-ecPublicKey, 1.2.840.10045.2.1 (RFC 5480).
const ID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// Converts a PKCS#8 `PrivateKeyInfo` holding an EC key into a SEC1 `EC PRIVATE KEY` PEM.
///
/// ```text
/// PrivateKeyInfo ::= SEQUENCE {                          -- RFC 5208 / RFC 5958
///   version INTEGER, privateKeyAlgorithm AlgorithmIdentifier,
///   privateKey OCTET STRING, [0] attributes OPTIONAL, [1] publicKey OPTIONAL }
/// AlgorithmIdentifier ::= SEQUENCE { id-ecPublicKey OID, namedCurve OID }   -- RFC 5480
/// ECPrivateKey ::= SEQUENCE {                            -- RFC 5915, section 3
///   version INTEGER (1), privateKey OCTET STRING,
///   parameters [0] ECParameters OPTIONAL, publicKey [1] BIT STRING OPTIONAL }
/// ```
///
/// The `privateKey` octets of the PKCS#8 structure are an `ECPrivateKey`. Inside PKCS#8
/// its `parameters` may be left out, as ring does, because the algorithm identifier names
/// the curve. RFC 5915 says "implementations that conform to this document MUST always
/// include the parameters field", and OpenSSL cannot load a standalone SEC1 key without
/// it, so the curve from the algorithm identifier is put back when it is missing (and
/// checked against it when present).
pub fn sec1_pem(pkcs8: &[u8]) -> Res<String> {
    let der = sec1_from_pkcs8(pkcs8)?;
    Ok(pem("EC PRIVATE KEY", &der))
}

fn sec1_from_pkcs8(pkcs8: &[u8]) -> Res<Vec<u8>> {
    let info = der_only(pkcs8, SEQUENCE, "PrivateKeyInfo")?;
    let (version, rest) = der_next(info, INTEGER, "PrivateKeyInfo.version")?;
    if version != [0] && version != [1] {
        return Err(format!(
            "PrivateKeyInfo.version {version:02x?}, want 0 or 1"
        ));
    }
    let (alg, rest) = der_next(rest, SEQUENCE, "privateKeyAlgorithm")?;
    let (alg_oid, alg_rest) = der_next(alg, OID, "privateKeyAlgorithm.algorithm")?;
    if alg_oid != ID_EC_PUBLIC_KEY {
        return Err(format!("not an EC key: algorithm OID {alg_oid:02x?}"));
    }
    let (_, curve_end) = der_tlv(alg_rest, OID, "namedCurve")?;
    if !alg_rest[curve_end..].is_empty() {
        return Err("trailing bytes after namedCurve".into());
    }
    let curve_tlv = &alg_rest[..curve_end];
    // [0] attributes and [1] publicKey may follow; the key itself does not need them.
    let (ec_private_key, _) = der_next(rest, OCTET_STRING, "privateKey")?;

    let fields = der_only(ec_private_key, SEQUENCE, "ECPrivateKey")?;
    let (version, rest) = der_next(fields, INTEGER, "ECPrivateKey.version")?;
    if version != [1] {
        return Err(format!("ECPrivateKey.version {version:02x?}, want 1"));
    }
    let (_, d_end) = der_tlv(rest, OCTET_STRING, "ECPrivateKey.privateKey")?;
    let (d_tlv, rest) = rest.split_at(d_end);
    let (params_tlv, rest) = match rest.first() {
        Some(&CONTEXT_0) => {
            let (params, end) = der_tlv(rest, CONTEXT_0, "ECPrivateKey.parameters")?;
            if params != curve_tlv {
                return Err("ECPrivateKey.parameters name another curve than the algorithm".into());
            }
            (&rest[..end], &rest[end..])
        }
        _ => (&[][..], rest),
    };
    let public_key_tlv = match rest.first() {
        Some(&CONTEXT_1) => {
            let (_, end) = der_tlv(rest, CONTEXT_1, "ECPrivateKey.publicKey")?;
            if end != rest.len() {
                return Err("trailing bytes after ECPrivateKey.publicKey".into());
            }
            rest
        }
        None => rest,
        Some(tag) => return Err(format!("unexpected tag {tag:#04x} in ECPrivateKey")),
    };

    let mut body = Vec::new();
    body.extend_from_slice(&[INTEGER, 1, 1]);
    body.extend_from_slice(d_tlv);
    if params_tlv.is_empty() {
        body.extend(der_encode(CONTEXT_0, curve_tlv));
    } else {
        body.extend_from_slice(params_tlv);
    }
    body.extend_from_slice(public_key_tlv);
    Ok(der_encode(SEQUENCE, &body))
}

/// The content of the single element `input` holds, which must carry `tag`.
fn der_only<'a>(input: &'a [u8], tag: u8, what: &str) -> Res<&'a [u8]> {
    let (content, rest) = der_next(input, tag, what)?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes after {what}", rest.len()));
    }
    Ok(content)
}

/// The content of the first element of `input` (which must carry `tag`) and what follows it.
fn der_next<'a>(input: &'a [u8], tag: u8, what: &str) -> Res<(&'a [u8], &'a [u8])> {
    let (content, end) = der_tlv(input, tag, what)?;
    Ok((content, &input[end..]))
}

/// The content of the first element of `input`, which must carry `tag`, and the offset
/// just past it. Only the DER forms (low tag numbers, definite minimal lengths up to
/// 2^16 - 1) are accepted; every length is checked against the bytes there are.
fn der_tlv<'a>(input: &'a [u8], tag: u8, what: &str) -> Res<(&'a [u8], usize)> {
    let truncated = || format!("{what}: truncated");
    match input.first() {
        Some(&t) if t == tag => {}
        Some(&t) => return Err(format!("{what}: tag {t:#04x}, want {tag:#04x}")),
        None => return Err(truncated()),
    }
    let first = *input.get(1).ok_or_else(truncated)?;
    let (len, header) = match first {
        0..=0x7f => (usize::from(first), 2),
        0x81 => match input.get(2) {
            Some(&n) if n >= 0x80 => (usize::from(n), 3),
            Some(_) => return Err(format!("{what}: non-minimal length")),
            None => return Err(truncated()),
        },
        0x82 => match input.get(2..4) {
            Some(&[hi, lo]) if hi != 0 => (usize::from(u16::from_be_bytes([hi, lo])), 4),
            Some(_) => return Err(format!("{what}: non-minimal length")),
            None => return Err(truncated()),
        },
        _ => return Err(format!("{what}: unsupported length form {first:#04x}")),
    };
    let end = header + len;
    let content = input.get(header..end).ok_or_else(truncated)?;
    Ok((content, end))
}

/// `tag`, the DER length of `content`, and `content`.
fn der_encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend([0x81, len as u8]),
        _ => {
            let len = u16::try_from(len).expect("DER content under 64 KiB");
            out.push(0x82);
            out.extend(len.to_be_bytes());
        }
    }
    out.extend_from_slice(content);
    out
}

/// RFC 7468 text encoding: base64 in 64-column lines between BEGIN and END lines.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A rustls client configuration on the ring provider (never the process default) that
/// trusts only the CA certificates in `root` and, with `client` = (certificate, key), logs
/// in with that client certificate. The key file may be PKCS#8, PKCS#1 or SEC1 PEM.
#[cfg(feature = "rustls")]
pub fn client_config(root: &Path, client: Option<(&Path, &Path)>) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = |path: &Path| -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect())
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(root) {
        roots
            .add(cert)
            .unwrap_or_else(|e| panic!("trusting {}: {e}", root.display()));
    }
    let builder = rustls::ClientConfig::builder_with_provider(ring_provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots);
    match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let key = PrivateKeyDer::from_pem_file(key)
                .unwrap_or_else(|e| panic!("reading {}: {e}", key.display()));
            builder
                .with_client_auth_cert(certs(cert), key)
                .unwrap_or_else(|e| panic!("client certificate {}: {e}", cert.display()))
        }
    }
}

/// rustls' `ring` provider, as the driver uses it. rustls 0.23.48 deprecates the
/// constructor because ring has no post-quantum key exchange, which PostgreSQL servers do
/// not negotiate anyway.
#[cfg(feature = "rustls")]
#[allow(deprecated)]
pub fn ring_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
