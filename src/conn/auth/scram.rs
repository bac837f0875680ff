//! SCRAM-SHA-256 and SCRAM-SHA-256-PLUS client (RFC 5802, RFC 7677; channel binding
//! `tls-server-end-point`, RFC 5929), as three state structs consumed in order. **No IO, no clock, no RNG**: the client nonce is injected and
//! PBKDF2 runs only in [`ScramPending::compute`], which the driver calls off the runtime.
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

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::saslprep::saslprep;
use super::{AuthError, MAX_ITERATIONS};

type HmacSha256 = Hmac<Sha256>;

/// SHA-256 output length; also the required length of `v=` (RFC 7677 §3).
const SIG_LEN: usize = 32;

/// SCRAM-SHA-256 client, first state: the client-first message is ready.
///
/// Drive it in this order (one struct per step, each consumed by the next):
///
/// ```text
///  ScramClient::new(user, password, nonce)
///      │ client_first_message()  ──► SASLInitialResponse("SCRAM-SHA-256", data)
///      │
///      │ handle_server_first(AuthenticationSASLContinue data)   parse + validate, cheap
///      ▼
///  ScramPending
///      │ compute()               PBKDF2 (i iterations): run it in spawn_blocking
///      ▼
///  ScramProof
///      │ client_final_message()  ──► SASLResponse(data)
///      │ verify_server_final(AuthenticationSASLFinal data)  ──► Ok(()) / AuthError
///      ▼
///  AuthenticationOk is only acceptable after verify_server_final returned Ok
/// ```
///
/// The nonce must be printable ASCII without `,` (RFC 5802 §7 `c-nonce`); the driver passes
/// the base64 of 18 random bytes. Other bytes are dropped (and debug builds assert).
///
/// The user name goes into `n=` SASLprep'd with `,` → `=2C` and `=` → `=3D` (RFC 5802
/// §5.1). PostgreSQL ignores it and uses the startup packet's user, but iris-pgwire
/// rejects an empty `n=`, so the startup user name is sent; an empty name is sent as `n=`.
///
/// The password is SASLprep'd (RFC 4013) as PostgreSQL does it, NFKC included, with the
/// `stringprep` feature (default); without it, NFKC is skipped and passwords that NFKC
/// would change (a decomposed "ä", ligatures, full-width forms) may fail. When SASLprep
/// would reject the password, the raw bytes are used, as libpq does.
pub(crate) struct ScramClient {
    /// SASLprep'd password (or the raw bytes, see the type docs).
    password: Vec<u8>,
    nonce: Vec<u8>,
    /// GS2 header followed by client-first-message-bare.
    client_first: Vec<u8>,
    /// Length of the GS2 header at the front of `client_first`.
    gs2_len: usize,
    /// The channel-binding data sent in client-final's `c=` after the GS2 header.
    cbind_data: Vec<u8>,
    max_iterations: u32,
}

/// What the client says about channel binding in its GS2 header (RFC 5802 §7
/// `gs2-cbind-flag`), and the data it binds to.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum ChannelBinding {
    /// `n`: the client does not bind (no TLS, or `channel_binding=disable`).
    None,
    /// `y`: the client could bind but the server offered no `-PLUS` mechanism. A server
    /// that does support binding must then fail the exchange (downgrade protection).
    NotOffered,
    /// `p=tls-server-end-point`: bind to this hash of the server's certificate
    /// ([`tls_server_end_point`](super::tls_server_end_point)); the mechanism is then
    /// `SCRAM-SHA-256-PLUS`.
    TlsServerEndPoint(Vec<u8>),
}

impl fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::NotOffered => f.write_str("NotOffered"),
            Self::TlsServerEndPoint(h) => write!(f, "TlsServerEndPoint({} bytes)", h.len()),
        }
    }
}

impl ChannelBinding {
    /// RFC 5802 §7 `gs2-header` (no authzid).
    fn gs2_header(&self) -> &'static [u8] {
        match self {
            Self::None => b"n,,",
            Self::NotOffered => b"y,,",
            Self::TlsServerEndPoint(_) => b"p=tls-server-end-point,,",
        }
    }
}

/// SCRAM-SHA-256 client, second state: the server-first message has been validated and
/// the proof can be computed. See [`ScramClient`] for the call order.
pub struct ScramPending {
    password: Vec<u8>,
    salt: Vec<u8>,
    iterations: u32,
    /// RFC 5802 §3 AuthMessage: client-first-bare "," server-first "," client-final-without-proof.
    auth_message: Vec<u8>,
    client_final_without_proof: Vec<u8>,
}

/// SCRAM-SHA-256 client, last state: the client-final message is ready and the expected
/// server signature is known. See [`ScramClient`] for the call order.
pub struct ScramProof {
    client_final: Vec<u8>,
    server_signature: [u8; SIG_LEN],
}

impl ScramClient {
    /// Starts an exchange for `user` and `password` with the injected client `nonce`
    /// (printable ASCII without `,`). Accepts `&str`, `&[u8]`, `String`, ….
    pub(crate) fn new(
        user: impl AsRef<[u8]>,
        password: impl AsRef<[u8]>,
        nonce: impl AsRef<[u8]>,
    ) -> Self {
        Self::with_channel_binding(user, password, nonce, ChannelBinding::None)
    }

    /// As [`new`](Self::new), saying `binding` in the GS2 header and binding client-final
    /// to its data (RFC 5802 §6, §7 `channel-binding`).
    pub(crate) fn with_channel_binding(
        user: impl AsRef<[u8]>,
        password: impl AsRef<[u8]>,
        nonce: impl AsRef<[u8]>,
        binding: ChannelBinding,
    ) -> Self {
        let nonce = nonce.as_ref();
        debug_assert!(
            nonce.iter().all(|&b| is_printable(b)),
            "SCRAM client nonce must be printable ASCII without ','"
        );
        let nonce: Vec<u8> = nonce.iter().copied().filter(|&b| is_printable(b)).collect();

        // RFC 5802 §7: client-first-message = gs2-header client-first-message-bare,
        // client-first-message-bare = username "," nonce.
        let user = saslprep(user.as_ref());
        let gs2 = binding.gs2_header();
        let mut client_first = Vec::with_capacity(gs2.len() + user.len() + nonce.len() + 6);
        client_first.extend_from_slice(gs2);
        client_first.extend_from_slice(b"n=");
        // RFC 5802 §5.1 `n`: "the characters ',' or '=' in usernames are sent as '=2C' and
        // '=3D' respectively".
        for &b in user.iter() {
            match b {
                b',' => client_first.extend_from_slice(b"=2C"),
                b'=' => client_first.extend_from_slice(b"=3D"),
                _ => client_first.push(b),
            }
        }
        client_first.extend_from_slice(b",r=");
        client_first.extend_from_slice(&nonce);

        Self {
            password: saslprep(password.as_ref()).into_owned(),
            nonce,
            client_first,
            gs2_len: gs2.len(),
            cbind_data: match binding {
                ChannelBinding::TlsServerEndPoint(hash) => hash,
                ChannelBinding::None | ChannelBinding::NotOffered => Vec::new(),
            },
            max_iterations: MAX_ITERATIONS,
        }
    }

    /// The SASL mechanism this client speaks: `SCRAM-SHA-256-PLUS` when it binds to the
    /// TLS channel, else `SCRAM-SHA-256`.
    pub(crate) fn mechanism(&self) -> &'static str {
        if self.client_first.starts_with(b"p=") {
            super::SCRAM_SHA_256_PLUS
        } else {
            super::SCRAM_SHA_256
        }
    }

    /// Replaces the iteration cap ([`MAX_ITERATIONS`] by default). Fuzzing and tests use a
    /// low cap so that a valid server-first stays cheap.
    #[must_use]
    pub(crate) fn with_max_iterations(mut self, max_iterations: u32) -> Self {
        self.max_iterations = max_iterations;
        self
    }

    /// `n,,n=<user>,r=<nonce>`: the data of the `SASLInitialResponse`.
    pub(crate) fn client_first_message(&self) -> &[u8] {
        &self.client_first
    }

    fn client_first_bare(&self) -> &[u8] {
        self.client_first.get(self.gs2_len..).unwrap_or_default()
    }

    /// RFC 5802 §7 `channel-binding`: `c=` and the base64 of the GS2 header followed by
    /// the channel-binding data (none unless binding).
    fn channel_binding_attr(&self) -> Vec<u8> {
        let mut cbind_input = self
            .client_first
            .get(..self.gs2_len)
            .unwrap_or_default()
            .to_vec();
        cbind_input.extend_from_slice(&self.cbind_data);
        let mut attr = b"c=".to_vec();
        attr.extend_from_slice(BASE64.encode(cbind_input).as_bytes());
        attr
    }

    /// Parses and validates the server-first message (the data of
    /// `AuthenticationSASLContinue`). Cheap: no PBKDF2 here.
    ///
    /// Strict, positional parse (checklist G1–G6): `r=`, `s=`, `i=` in that order, then
    /// only optional `x=value` extensions (RFC 5802 §7 `extensions`), which are ignored,
    /// except `m=` anywhere, which is rejected. The nonce must start with the client nonce,
    /// be strictly longer and be printable ASCII without `,`; the salt must be non-empty
    /// base64; the iteration count must be digits only, without a leading zero, in
    /// `1..=max_iterations`.
    pub(crate) fn handle_server_first(
        self,
        server_first: &[u8],
    ) -> Result<ScramPending, AuthError> {
        let mut attrs = server_first.split(|&b| b == b',');

        // RFC 5802 §7: server-first-message = [reserved-mext ","] nonce "," salt ","
        // iteration-count ["," extensions]. §5.1 `m`: its presence "MUST cause
        // authentication failure" — `attr` rejects it wherever it appears.
        let server_nonce = attr(attrs.next(), b'r', "server-first")?;
        let salt = attr(attrs.next(), b's', "server-first")?;
        let iterations = attr(attrs.next(), b'i', "server-first")?;
        check_extensions(attrs, "server-first")?;

        // RFC 5802 §5.1 `r`: the server's nonce is the client nonce with the server's part
        // appended. Equal means the server added nothing (pgx rejects that, checklist G2).
        let extends = server_nonce.len() > self.nonce.len()
            && server_nonce
                .get(..self.nonce.len())
                .is_some_and(|prefix| ct_eq(prefix, &self.nonce));
        // RFC 5802 §7 `printable`: %x21-2B / %x2D-7E.
        if !extends || !server_nonce.iter().all(|&b| is_printable(b)) {
            return Err(AuthError::ScramNonceMismatch);
        }

        // RFC 5802 §5.1 `s`: base64-encoded salt. Empty is useless (checklist G3).
        let salt = match BASE64.decode(salt) {
            Ok(salt) if !salt.is_empty() => salt,
            _ => return Err(AuthError::ScramMalformed("salt")),
        };

        let iterations = parse_iterations(iterations, self.max_iterations)?;

        // RFC 5802 §7: client-final-message-without-proof = channel-binding "," nonce.
        let mut client_final_without_proof = self.channel_binding_attr();
        client_final_without_proof.extend_from_slice(b",r=");
        client_final_without_proof.extend_from_slice(server_nonce);

        // RFC 5802 §3: AuthMessage := client-first-message-bare + "," +
        // server-first-message + "," + client-final-message-without-proof.
        let bare = self.client_first_bare();
        let mut auth_message = Vec::with_capacity(
            bare.len() + server_first.len() + client_final_without_proof.len() + 2,
        );
        auth_message.extend_from_slice(bare);
        auth_message.push(b',');
        auth_message.extend_from_slice(server_first);
        auth_message.push(b',');
        auth_message.extend_from_slice(&client_final_without_proof);

        Ok(ScramPending {
            password: self.password,
            salt,
            iterations,
            auth_message,
            client_final_without_proof,
        })
    }
}

impl ScramPending {
    /// The validated iteration count: what [`compute`](Self::compute) will cost.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Runs PBKDF2 (`iterations` HMAC-SHA-256 rounds) and derives the client proof and the
    /// expected server signature. CPU-bound: the driver calls it in `spawn_blocking`.
    pub fn compute(self) -> ScramProof {
        // RFC 5802 §3:
        //   SaltedPassword  := Hi(Normalize(password), salt, i)
        //   ClientKey       := HMAC(SaltedPassword, "Client Key")
        //   StoredKey       := H(ClientKey)
        //   ClientSignature := HMAC(StoredKey, AuthMessage)
        //   ClientProof     := ClientKey XOR ClientSignature
        //   ServerKey       := HMAC(SaltedPassword, "Server Key")
        //   ServerSignature := HMAC(ServerKey, AuthMessage)
        let salted_password = hi(&self.password, &self.salt, self.iterations);
        let client_key = hmac(&salted_password, b"Client Key");
        let stored_key: [u8; SIG_LEN] = Sha256::digest(client_key).into();
        let client_signature = hmac(&stored_key, &self.auth_message);
        let mut proof = client_key;
        for (p, s) in proof.iter_mut().zip(client_signature) {
            *p ^= s;
        }
        let server_key = hmac(&salted_password, b"Server Key");
        let server_signature = hmac(&server_key, &self.auth_message);

        // RFC 5802 §7: client-final-message = client-final-message-without-proof "," proof.
        let mut client_final = self.client_final_without_proof;
        client_final.extend_from_slice(b",p=");
        client_final.extend_from_slice(BASE64.encode(proof).as_bytes());

        ScramProof {
            client_final,
            server_signature,
        }
    }
}

impl ScramProof {
    /// `c=<binding>,r=<nonce>,p=<proof>` (`c=biws` without channel binding): the data of
    /// the `SASLResponse`.
    pub fn client_final_message(&self) -> &[u8] {
        &self.client_final
    }

    /// Checks the server-final message (the data of `AuthenticationSASLFinal`).
    ///
    /// `e=<reason>` is [`AuthError::ScramServerError`] with the reason kept; `v=` must be
    /// valid base64 of exactly 32 bytes equal (constant-time) to the expected server
    /// signature; optional `x=value` extensions may follow (RFC 5802 §7); anything else is
    /// [`AuthError::ScramMalformed`].
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), AuthError> {
        // RFC 5802 §7: server-final-message = (server-error / verifier) ["," extensions].
        let mut attrs = server_final.split(|&b| b == b',');
        let first = attrs.next().unwrap_or_default();
        if let Some(reason) = first.strip_prefix(b"e=") {
            // The server's verdict wins over any malformation after it (checklist G8).
            return Err(AuthError::ScramServerError(
                String::from_utf8_lossy(reason).into_owned(),
            ));
        }
        let Some(verifier) = first.strip_prefix(b"v=") else {
            return Err(AuthError::ScramMalformed("server-final"));
        };
        check_extensions(attrs, "server-final")?;
        let signature = BASE64
            .decode(verifier)
            .map_err(|_| AuthError::ScramMalformed("server signature"))?;
        // RFC 7677 §3: the signature is a SHA-256 HMAC, 32 bytes. iris-pgwire sends a
        // 20-byte constant (checklist G9); say so rather than "mismatch".
        if signature.len() != SIG_LEN {
            return Err(AuthError::ScramServerSignatureLength(signature.len()));
        }
        // RFC 5802 §9: the client MUST verify ServerSignature; constant time (G7).
        if !ct_eq(&signature, &self.server_signature) {
            return Err(AuthError::ScramServerSignatureMismatch);
        }
        Ok(())
    }
}

// Secrets (password, salted keys) must never reach logs: hand-written Debug.
impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("client_first", &String::from_utf8_lossy(&self.client_first))
            .field("max_iterations", &self.max_iterations)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ScramPending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramPending")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ScramProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramProof").finish_non_exhaustive()
    }
}

/// RFC 5802 §7 `printable`: ASCII 0x21–0x7E except ','.
fn is_printable(b: u8) -> bool {
    matches!(b, 0x21..=0x2B | 0x2D..=0x7E)
}

/// Equality without an early exit on the first differing byte.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Takes the next attribute, which must be `<name>=<value>`; returns the value.
fn attr<'a>(part: Option<&'a [u8]>, name: u8, what: &'static str) -> Result<&'a [u8], AuthError> {
    match part {
        Some([b'm', b'=', ..]) => Err(AuthError::ScramMalformed("mandatory extension (m=)")),
        Some([n, b'=', value @ ..]) if *n == name => Ok(value),
        _ => Err(AuthError::ScramMalformed(what)),
    }
}

/// Every remaining attribute must be an RFC 5802 §7 `attr-val` (ALPHA "=" 1*value-char,
/// no ',' or '=' or NUL in the value); `m=` is the reserved mandatory extension (§5.1).
fn check_extensions<'a>(
    rest: impl Iterator<Item = &'a [u8]>,
    what: &'static str,
) -> Result<(), AuthError> {
    for part in rest {
        match part {
            [b'm', b'=', ..] => return Err(AuthError::ScramMalformed("mandatory extension (m=)")),
            [n, b'=', value @ ..]
                if n.is_ascii_alphabetic()
                    && !value.is_empty()
                    && value.iter().all(|&b| b != 0 && b != b'=') => {}
            _ => return Err(AuthError::ScramMalformed(what)),
        }
    }
    Ok(())
}

/// RFC 5802 §7 `iteration-count = posit-number`, `posit-number = %x31-39 *DIGIT`: digits
/// only, no sign, no leading zero ("4096garbage", "-1", "+5", "" are malformed). Then the
/// value must be in 1..=max (checklist G4, G5).
fn parse_iterations(value: &[u8], max: u32) -> Result<u32, AuthError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(AuthError::ScramMalformed("iteration count"));
    }
    if value.len() > 1 && value.starts_with(b"0") {
        return Err(AuthError::ScramMalformed("iteration count"));
    }
    // Saturating: a 30-digit count is reported as u64::MAX, never wraps.
    let n = value.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(d.wrapping_sub(b'0')))
    });
    if n == 0 || n > u64::from(max) {
        return Err(AuthError::ScramIterations(n));
    }
    u32::try_from(n).map_err(|_| AuthError::ScramIterations(n))
}

/// An HMAC-SHA-256 keyed with `key`. HMAC (RFC 2104 §2) hashes a key longer than the
/// 64-byte block and zero-pads a shorter one; doing it here avoids `new_from_slice`'s
/// `Result`, which cannot fail for HMAC but would need an unwrap.
fn keyed(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        for (dst, src) in block.iter_mut().zip(Sha256::digest(key)) {
            *dst = src;
        }
    } else {
        for (dst, src) in block.iter_mut().zip(key) {
            *dst = *src;
        }
    }
    <HmacSha256 as Mac>::new(&block.into())
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; SIG_LEN] {
    let mut mac = keyed(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// RFC 5802 §2.2 `Hi(str, salt, i)`: PBKDF2 with HMAC-SHA-256 and a single output block.
/// `U1 := HMAC(str, salt + INT(1))`, `Ui := HMAC(str, Ui-1)`, result = U1 XOR … XOR Ui.
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; SIG_LEN] {
    // Key once; clone the keyed state per round (saves re-hashing the key pads).
    let base = keyed(password);
    let mut mac = base.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u: [u8; SIG_LEN] = mac.finalize().into_bytes().into();
    let mut result = u;
    for _ in 1..iterations {
        let mut mac = base.clone();
        mac.update(&u);
        u = mac.finalize().into_bytes().into();
        for (r, x) in result.iter_mut().zip(u) {
            *r ^= x;
        }
    }
    result
}
