//! `tls-server-end-point` channel-binding data (RFC 5929 §4.1): a hash of the server's
//! certificate, with the hash function chosen from the certificate's signature algorithm.
//!
//! Only the outer `Certificate` structure is walked (RFC 5280 §4.1: a SEQUENCE of the
//! TBSCertificate, the signature AlgorithmIdentifier and the signature), with every length
//! checked against what is left; nothing else of the certificate is interpreted. The
//! certificate comes from the TLS stack after the handshake, but it is still the peer's
//! bytes: a malformed one is an error, never a panic.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::fmt;

use sha2::{Digest, Sha256, Sha384, Sha512};

/// Why no channel-binding hash could be computed for a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateHashError {
    /// The DER does not have the shape of an X.509 certificate.
    Malformed(&'static str),
    /// The signature algorithm has no defined hash for `tls-server-end-point` (RFC 5929
    /// §4.1 leaves e.g. Ed25519 and RSASSA-PSS open; PostgreSQL refuses them too). The
    /// dotted OID is kept.
    UnsupportedAlgorithm(String),
}

impl fmt::Display for CertificateHashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed server certificate: {what}"),
            Self::UnsupportedAlgorithm(oid) => write!(
                f,
                "the server certificate's signature algorithm ({oid}) defines no \
                 tls-server-end-point hash"
            ),
        }
    }
}

impl std::error::Error for CertificateHashError {}

/// The hash functions RFC 5929 §4.1 can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// Signature-algorithm OIDs (DER content bytes) and the hash each maps to. RFC 5929 §4.1:
/// "if the certificate's signatureAlgorithm uses a single hash function, and that hash
/// function is either MD5 or SHA-1, then use SHA-256"; otherwise the algorithm's own hash.
const ALGORITHMS: &[(&[u8], Hash)] = &[
    // md5WithRSAEncryption 1.2.840.113549.1.1.4
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04],
        Hash::Sha256,
    ),
    // sha1WithRSAEncryption 1.2.840.113549.1.1.5
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05],
        Hash::Sha256,
    ),
    // sha256WithRSAEncryption 1.2.840.113549.1.1.11
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
        Hash::Sha256,
    ),
    // sha384WithRSAEncryption 1.2.840.113549.1.1.12
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c],
        Hash::Sha384,
    ),
    // sha512WithRSAEncryption 1.2.840.113549.1.1.13
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d],
        Hash::Sha512,
    ),
    // ecdsa-with-SHA1 1.2.840.10045.4.1
    (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01], Hash::Sha256),
    // ecdsa-with-SHA256 1.2.840.10045.4.3.2
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02],
        Hash::Sha256,
    ),
    // ecdsa-with-SHA384 1.2.840.10045.4.3.3
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03],
        Hash::Sha384,
    ),
    // ecdsa-with-SHA512 1.2.840.10045.4.3.4
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04],
        Hash::Sha512,
    ),
    // dsa-with-sha1 1.2.840.10040.4.3
    (&[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03], Hash::Sha256),
    // dsa-with-sha256 2.16.840.1.101.3.4.3.2
    (
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x02],
        Hash::Sha256,
    ),
];

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;

/// The `tls-server-end-point` channel-binding data for a server certificate (DER): its
/// hash under the function RFC 5929 §4.1 picks from the signature algorithm.
pub fn tls_server_end_point(cert_der: &[u8]) -> Result<Vec<u8>, CertificateHashError> {
    let hash = signature_hash(cert_der)?;
    Ok(match hash {
        Hash::Sha256 => Sha256::digest(cert_der).to_vec(),
        Hash::Sha384 => Sha384::digest(cert_der).to_vec(),
        Hash::Sha512 => Sha512::digest(cert_der).to_vec(),
    })
}

fn signature_hash(cert_der: &[u8]) -> Result<Hash, CertificateHashError> {
    let (cert, rest) = element(cert_der, SEQUENCE, "certificate")?;
    if !rest.is_empty() {
        return Err(CertificateHashError::Malformed(
            "bytes after the certificate",
        ));
    }
    let (_tbs, after_tbs) = element(cert, SEQUENCE, "tbsCertificate")?;
    let (alg, _signature) = element(after_tbs, SEQUENCE, "signatureAlgorithm")?;
    let (oid, _params) = element(alg, OID, "signature algorithm OID")?;
    ALGORITHMS
        .iter()
        .find(|(known, _)| *known == oid)
        .map(|(_, hash)| *hash)
        .ok_or_else(|| CertificateHashError::UnsupportedAlgorithm(dotted(oid)))
}

/// Splits one DER element with the given tag off the front of `der`: its content and
/// what follows it.
fn element<'a>(
    der: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), CertificateHashError> {
    let bad = || CertificateHashError::Malformed(what);
    let (&got, rest) = der.split_first().ok_or_else(bad)?;
    if got != tag {
        return Err(bad());
    }
    let (&first, rest) = rest.split_first().ok_or_else(bad)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        // Long form: the low bits count the length bytes; 4 is plenty for a certificate.
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(bad());
        }
        let (len_bytes, rest) = rest.split_at_checked(n).ok_or_else(bad)?;
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    rest.split_at_checked(len).ok_or_else(bad)
}

/// An OID's content bytes in dotted form, for the error message.
fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for &b in oid {
        acc = acc.saturating_mul(128).saturating_add(u64::from(b & 0x7f));
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (acc / 40).min(2);
                arcs.push(first);
                arcs.push(acc - first * 40);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate skeleton: SEQUENCE { SEQUENCE {tbs}, SEQUENCE { OID alg }, BIT STRING }.
    fn cert_with(alg_oid: &[u8]) -> Vec<u8> {
        let tbs = [SEQUENCE, 3, 0x02, 1, 5];
        let mut alg = vec![OID, u8::try_from(alg_oid.len()).unwrap()];
        alg.extend_from_slice(alg_oid);
        alg.extend_from_slice(&[0x05, 0]); // NULL parameters
        let mut alg_seq = vec![SEQUENCE, u8::try_from(alg.len()).unwrap()];
        alg_seq.extend_from_slice(&alg);
        let sig = [0x03, 2, 0, 0xff];
        let mut body = tbs.to_vec();
        body.extend_from_slice(&alg_seq);
        body.extend_from_slice(&sig);
        let mut cert = vec![SEQUENCE, 0x81, u8::try_from(body.len()).unwrap()];
        cert.extend_from_slice(&body);
        cert
    }

    #[test]
    fn sha256_signed_certificates_hash_with_sha256() {
        let cert = cert_with(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
        assert_eq!(
            tls_server_end_point(&cert).unwrap(),
            Sha256::digest(&cert).to_vec()
        );
    }

    #[test]
    fn md5_and_sha1_signatures_are_upgraded_to_sha256() {
        for oid in [
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04][..],
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05][..],
        ] {
            let cert = cert_with(oid);
            assert_eq!(tls_server_end_point(&cert).unwrap().len(), 32);
        }
    }

    #[test]
    fn sha384_and_sha512_signatures_use_their_own_hash() {
        let c384 = cert_with(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03]);
        assert_eq!(
            tls_server_end_point(&c384).unwrap(),
            Sha384::digest(&c384).to_vec()
        );
        let c512 = cert_with(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d]);
        assert_eq!(
            tls_server_end_point(&c512).unwrap(),
            Sha512::digest(&c512).to_vec()
        );
    }

    #[test]
    fn ed25519_certificates_have_no_binding_and_say_which_algorithm() {
        let cert = cert_with(&[0x2b, 0x65, 0x70]);
        assert_eq!(
            tls_server_end_point(&cert),
            Err(CertificateHashError::UnsupportedAlgorithm(
                "1.3.101.112".into()
            ))
        );
    }

    #[test]
    fn truncated_or_garbage_certificates_are_errors_not_panics() {
        let cert = cert_with(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
        for n in 0..cert.len() {
            assert!(tls_server_end_point(&cert[..n]).is_err(), "prefix {n}");
        }
        assert!(tls_server_end_point(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(tls_server_end_point(&[0x30, 0x80]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = tls_server_end_point(&bytes);
        }
    }
}
