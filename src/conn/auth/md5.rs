//! The `AuthenticationMD5Password` response (PostgreSQL protocol docs, "Message Flow /
//! Start-up"). A pure function: no IO.

use ::md5::{Digest, Md5};

/// The password to send in a `PasswordMessage` after `AuthenticationMD5Password`:
/// `"md5" + hex(md5(hex(md5(password + user)) + salt))`.
///
/// Bytes in, so user names and passwords that are not UTF-8 work as the server stores
/// them; the output is always 35 ASCII characters. The salt is the 4 bytes of the request
/// (the caller rejects a message of any other length, checklist G12).
pub(crate) fn md5_password(user: &[u8], password: &[u8], salt: [u8; 4]) -> String {
    // Inner hash: what pg_authid stores as `md5<hex>` (without the prefix).
    let mut inner = Md5::new();
    inner.update(password);
    inner.update(user);
    let inner_hex = hex(&inner.finalize());

    // Outer hash over the ASCII hex digits of the inner one, then the salt.
    let mut outer = Md5::new();
    outer.update(inner_hex.as_bytes());
    outer.update(salt);

    let mut out = String::with_capacity(35);
    out.push_str("md5");
    out.push_str(&hex(&outer.finalize()));
    out
}

/// Lower-case hex, as PostgreSQL's `pg_md5_hash` writes it.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        // Both nibbles are < 16, so the lookups cannot miss.
        for nibble in [b >> 4, b & 0x0f] {
            if let Some(&d) = DIGITS.get(usize::from(nibble)) {
                s.push(char::from(d));
            }
        }
    }
    s
}
