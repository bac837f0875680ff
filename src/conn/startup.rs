//! Startup and authentication as a state machine: one state per expected message
//! (rustls' `Expect*` style), each consumed by value.
//!
//! ```text
//!  SSLRequest sent ──► ExpectSslResponse ──'S'──► AwaitTls ◄── (sslnegotiation=direct)
//!                           │ 'N' (TLS optional)       │ driver: handshake, certificate hash
//!                           ▼                          ▼
//!                  StartupMessage sent ◄───────────────┘   (or sent at once: sslmode=disable)
//!        │
//!        ▼
//!   ExpectAuth ──R Ok──────────────────────────────────────────────┐
//!        │  R Cleartext / R Md5 (policy permitting): send password │
//!        │  ───────────────► ExpectPasswordResult ──R Ok──────────►│
//!        │  R SASL [SCRAM-SHA-256]: send client-first              │
//!        ▼                                                         │
//!   ExpectSaslContinue ──R SASLContinue──► ComputingProof          │
//!                          (driver runs PBKDF2 off the async worker)│
//!                                 │ proof provided: send client-final
//!                                 ▼                                │
//!                          ExpectSaslFinal ──R SASLFinal (verified)─► ExpectAuthOk ─R Ok─┤
//!                                                                                       ▼
//!                        ExpectReady: ParameterStatus*, BackendKeyData, ReadyForQuery ─► done
//! ```
//!
//! The answer to SSLRequest is one byte, not a message: the session takes exactly that
//! byte, and any byte the server sent behind it before TLS is set up is a protocol error
//! (buffered-bytes injection, CVE-2021-23222). ErrorResponse in any other state fails the
//! connect with the server's error. Every other unexpected message goes through
//! [`unexpected`], which names what was expected.
//!
//! `channel_binding=require` refuses, in `ExpectAuth`, every request that cannot bind
//! (AuthenticationOk, cleartext, MD5, SCRAM without `-PLUS`, or no TLS) before a password
//! byte is written.
//! AuthenticationOk before a verified SASLFinal fails the connect: a server that skips
//! SCRAM's final step has not proven it knows the password.
//!
//! # Protocol version negotiation
//!
//! The StartupMessage asks for `max_protocol_version`. A server that does not support it
//! answers, before any authentication request, with NegotiateProtocolVersion naming the
//! newest minor version it supports (low 16 bits) and the `_pq_.` options it did not
//! recognise. The connection goes on at that version when it is at least
//! `min_protocol_version`; below it, with a version above the one requested, with any
//! unrecognised option (pgline sends none) or with a second NegotiateProtocolVersion, the
//! connect fails. Under 3.0 the BackendKeyData secret is exactly 4 bytes, under 3.2 from
//! 4 to 256 (the codec caps it).
//!
//! A peer that does not know NegotiateProtocolVersion may instead answer a 3.2 request
//! with an ErrorResponse (PgBouncer before 1.23: `bad packet header`, SQLSTATE 08P01) or
//! just close the connection; both are reported with the hint to set
//! `max_protocol_version=3.0` (see [`protocol_rejected`]).

use bytes::BytesMut;

use super::auth::{
    md5_password, AuthError, CertificateHashError, ChannelBinding, ScramClient, ScramPending,
    ScramProof, SCRAM_SHA_256, SCRAM_SHA_256_PLUS,
};
use super::config::AuthPolicy;
use super::protocol_version::{ProtocolRange, ProtocolVersion};
use super::tls::ChannelBindingMode;
use crate::error::Error;
use crate::protocol::backend::{Authentication, BackendKeyData, BackendMessage};
use crate::protocol::frontend::{write_password, write_sasl_initial_response, write_sasl_response};

/// What startup needs to know about the user and the policy.
pub(crate) struct StartupCtx {
    pub(crate) user: String,
    pub(crate) password: Option<Vec<u8>>,
    pub(crate) policy: AuthPolicy,
    /// Client nonce for SCRAM (printable, no ','), injected by the driver.
    pub(crate) nonce: String,
    /// Accept a server signature that cannot be verified (iris-pgwire opt-in).
    pub(crate) skip_server_signature: bool,
    /// `channel_binding`.
    pub(crate) channel_binding: ChannelBindingMode,
    /// The TLS channel, once established: the `tls-server-end-point` data, or why there
    /// is none. `None` while the connection is not encrypted.
    pub(crate) tls: Option<Result<Vec<u8>, CertificateHashError>>,
    /// The versions allowed: `max` was requested in the StartupMessage.
    pub(crate) protocol: ProtocolRange,
    /// The version in effect: `protocol.max` until a NegotiateProtocolVersion lowers it.
    pub(crate) version: ProtocolVersion,
    /// Whether a NegotiateProtocolVersion arrived (only one is allowed).
    pub(crate) negotiated: bool,
}

impl StartupCtx {
    /// Whether a failure now may be the peer refusing the protocol version it was asked
    /// for: a version above 3.0 was requested and the peer has not answered with anything
    /// that shows it understood the request.
    pub(crate) fn version_unconfirmed(&self) -> bool {
        self.protocol.max > ProtocolVersion::V3_0 && !self.negotiated
    }
}

/// The hint given when a peer refuses a protocol version above 3.0.
pub(crate) fn protocol_hint(requested: ProtocolVersion) -> String {
    format!(
        "the server (or a pooler in front of it, such as PgBouncer before 1.23) does not \
         understand protocol {requested} requested by max_protocol_version; \
         set max_protocol_version=3.0 to connect to it"
    )
}

/// The error for a peer that answered a request above 3.0 with an ErrorResponse that
/// complains about the protocol (`08P01` protocol_violation, as PgBouncer's `bad packet
/// header`; `0A000` feature_not_supported, as an old server's `unsupported frontend
/// protocol`). Other errors (no pg_hba.conf entry, too many connections) are returned
/// as they are.
pub(crate) fn protocol_rejected(
    ctx: &StartupCtx,
    err: &crate::protocol::backend::ErrorFields,
) -> Error {
    let e = Error::db(err);
    match e.code() {
        Some("08P01" | "0A000") if ctx.version_unconfirmed() => {
            e.with_note(protocol_hint(ctx.protocol.max))
        }
        _ => e,
    }
}

/// Checks a NegotiateProtocolVersion against what was requested and allowed, and returns
/// the version the connection goes on with.
///
/// > "Int32: Newest minor protocol version supported by the server for the major protocol
/// > version requested by the client. [...] String: The option name." (*Message Formats*,
/// > NegotiateProtocolVersion)
fn negotiate(
    ctx: &StartupCtx,
    m: &crate::protocol::backend::NegotiateProtocolVersion,
) -> Result<ProtocolVersion, Error> {
    if ctx.negotiated {
        return Err(Error::protocol(
            "the server sent NegotiateProtocolVersion twice",
        ));
    }
    let offered = ProtocolVersion::from_negotiated(m.newest_minor())?;
    let requested = ctx.protocol.max;
    if offered > requested {
        return Err(Error::protocol(format!(
            "invalid NegotiateProtocolVersion: the server offers protocol {offered}, \
             above the {requested} that was requested"
        )));
    }
    // pgline sends no `_pq_.` options, so a server listing any is confused.
    if !m.unrecognized().is_empty() {
        return Err(Error::protocol(format!(
            "the server did not recognise the protocol options {}, which were not sent",
            m.unrecognized().join(", ")
        )));
    }
    // libpq 18: "server negotiated but asks for no changes".
    if offered == requested {
        return Err(Error::protocol(format!(
            "invalid NegotiateProtocolVersion: the server offers protocol {offered}, the \
             version that was requested, and lists no options: it asks for no change"
        )));
    }
    if offered < ctx.protocol.min {
        return Err(Error::unsupported(format!(
            "the server supports protocol {offered} at most, but min_protocol_version is {}",
            ctx.protocol.min
        )));
    }
    Ok(offered)
}

/// The startup states.
pub(crate) enum Startup {
    /// SSLRequest sent; `required`: whether an `N` answer fails the connect.
    ExpectSslResponse {
        required: bool,
    },
    /// The driver must run the TLS handshake (after `S`, or at once for direct TLS).
    AwaitTls,
    ExpectAuth,
    ExpectPasswordResult,
    ExpectSaslContinue(ScramClient),
    ComputingProof,
    ExpectSaslFinal(ScramProof),
    ExpectAuthOk,
    ExpectReady(Option<BackendKeyData>),
}

/// What a startup step produced.
pub(crate) enum Step {
    /// Keep going in this state.
    Next(Startup),
    /// The driver must compute the SCRAM proof (PBKDF2) and hand it back.
    NeedProof(ScramPending),
    /// Startup finished: the first ReadyForQuery arrived.
    Done(Option<BackendKeyData>),
    /// The server accepted a lower protocol version: go on with it, still expecting the
    /// authentication request.
    Negotiated(ProtocolVersion),
}

fn unexpected(expected: &'static str, got: &BackendMessage) -> Error {
    Error::unexpected(expected, got.name())
}

fn auth_err(e: AuthError) -> Error {
    Error::auth(e.to_string())
}

fn need_password(ctx: &StartupCtx) -> Result<&[u8], Error> {
    ctx.password
        .as_deref()
        .ok_or_else(|| Error::auth("the server asked for a password and none is configured"))
}

/// `channel_binding=require` refuses an authentication request that cannot bind.
fn refuse_unbound(ctx: &StartupCtx, what: &str) -> Result<(), Error> {
    if ctx.channel_binding == ChannelBindingMode::Require {
        return Err(Error::auth(format!(
            "channel_binding=require, but the server {what}, which has no channel binding: refused"
        )));
    }
    Ok(())
}

/// The GS2 channel-binding choice for a SASL request offering `mechanisms`.
fn choose_binding(ctx: &StartupCtx, mechanisms: &[String]) -> Result<ChannelBinding, Error> {
    let plus_offered = mechanisms.iter().any(|m| m == SCRAM_SHA_256_PLUS);
    Ok(match (ctx.channel_binding, &ctx.tls, plus_offered) {
        (ChannelBindingMode::Disable, _, _) => ChannelBinding::None,
        (_, Some(Ok(hash)), true) => ChannelBinding::TlsServerEndPoint(hash.clone()),
        (ChannelBindingMode::Require, None, _) => {
            return Err(Error::auth(
                "channel_binding=require, but the connection is not encrypted (no TLS)",
            ))
        }
        (ChannelBindingMode::Require, Some(Err(e)), _) => {
            return Err(Error::auth(format!(
                "channel_binding=require, but no binding is possible: {e}"
            )))
        }
        (ChannelBindingMode::Require, Some(Ok(_)), false) => {
            return Err(Error::auth(format!(
            "channel_binding=require, but the server offered no {SCRAM_SHA_256_PLUS} (offered: {})",
            mechanisms.join(", ")
        )))
        }
        // RFC 5802 §6: `y` tells a server that does support binding that the client saw
        // no -PLUS offer, so a stripped offer is detected.
        (ChannelBindingMode::Prefer, Some(Ok(_)), false) => ChannelBinding::NotOffered,
        // No hash for this certificate (or no TLS): the client cannot bind.
        (ChannelBindingMode::Prefer, _, _) => ChannelBinding::None,
    })
}

impl Startup {
    /// Feeds one message (not async messages: the session takes those out first). Replies
    /// are encoded into `out`.
    pub(crate) fn handle(
        self,
        msg: BackendMessage,
        ctx: &mut StartupCtx,
        out: &mut BytesMut,
    ) -> Result<Step, Error> {
        if let BackendMessage::ErrorResponse(f) = &msg {
            return Err(protocol_rejected(ctx, f));
        }
        if !matches!(msg, BackendMessage::NegotiateProtocolVersion(_)) {
            // Any other answer shows the peer read the StartupMessage.
            ctx.negotiated |= !matches!(self, Self::ExpectSslResponse { .. } | Self::AwaitTls);
        }
        let ctx = &*ctx;
        match self {
            Self::ExpectSslResponse { .. } | Self::AwaitTls => Err(Error::protocol(format!(
                "server sent {} before TLS negotiation finished",
                msg.name()
            ))),
            Self::ExpectAuth => match msg {
                BackendMessage::Authentication(Authentication::Ok) => {
                    refuse_unbound(ctx, "authenticated the client without a password exchange")?;
                    if !ctx.policy.none {
                        return Err(Error::auth(
                            "server authenticated without a password exchange, which require_auth forbids",
                        ));
                    }
                    Ok(Step::Next(Self::ExpectReady(None)))
                }
                BackendMessage::Authentication(Authentication::CleartextPassword) => {
                    refuse_unbound(ctx, "asked for a cleartext password")?;
                    if !ctx.policy.cleartext {
                        return Err(Error::auth(
                            "server asked for a cleartext password, which is refused (allow it with require_auth=password)",
                        ));
                    }
                    write_password(out, need_password(ctx)?).map_err(Error::encode)?;
                    Ok(Step::Next(Self::ExpectPasswordResult))
                }
                BackendMessage::Authentication(Authentication::Md5Password { salt }) => {
                    refuse_unbound(ctx, "asked for an MD5 password")?;
                    if !ctx.policy.md5 {
                        return Err(Error::auth(
                            "server asked for MD5 authentication, which require_auth forbids",
                        ));
                    }
                    let hashed = md5_password(ctx.user.as_bytes(), need_password(ctx)?, salt);
                    write_password(out, hashed.as_bytes()).map_err(Error::encode)?;
                    Ok(Step::Next(Self::ExpectPasswordResult))
                }
                BackendMessage::Authentication(Authentication::Sasl(mechanisms)) => {
                    if !ctx.policy.scram {
                        return Err(Error::auth(
                            "server asked for SCRAM-SHA-256, which require_auth forbids",
                        ));
                    }
                    let binding = choose_binding(ctx, &mechanisms)?;
                    let plus = matches!(binding, ChannelBinding::TlsServerEndPoint(_));
                    if !plus && !mechanisms.iter().any(|m| m == SCRAM_SHA_256) {
                        return Err(Error::auth(format!(
                            "server offers no supported SASL mechanism (offered: {})",
                            mechanisms.join(", ")
                        )));
                    }
                    let scram = ScramClient::with_channel_binding(
                        &ctx.user,
                        need_password(ctx)?,
                        &ctx.nonce,
                        binding,
                    );
                    write_sasl_initial_response(
                        out,
                        scram.mechanism(),
                        scram.client_first_message(),
                    )
                    .map_err(Error::encode)?;
                    Ok(Step::Next(Self::ExpectSaslContinue(scram)))
                }
                BackendMessage::Authentication(other) => Err(Error::auth(format!(
                    "unsupported authentication method {other:?}"
                ))),
                BackendMessage::NegotiateProtocolVersion(m) => {
                    Ok(Step::Negotiated(negotiate(ctx, &m)?))
                }
                other => Err(unexpected("an authentication request", &other)),
            },
            Self::ExpectPasswordResult => match msg {
                BackendMessage::Authentication(Authentication::Ok) => {
                    Ok(Step::Next(Self::ExpectReady(None)))
                }
                other => Err(unexpected("AuthenticationOk", &other)),
            },
            Self::ExpectSaslContinue(scram) => match msg {
                BackendMessage::Authentication(Authentication::SaslContinue(data)) => {
                    let pending = scram.handle_server_first(&data).map_err(auth_err)?;
                    Ok(Step::NeedProof(pending))
                }
                BackendMessage::Authentication(Authentication::Ok) => Err(Error::auth(
                    "server sent AuthenticationOk before completing SCRAM: it did not prove it knows the password",
                )),
                other => Err(unexpected("AuthenticationSASLContinue", &other)),
            },
            Self::ComputingProof => Err(unexpected("nothing while the SCRAM proof is computed", &msg)),
            Self::ExpectSaslFinal(proof) => match msg {
                BackendMessage::Authentication(Authentication::SaslFinal(data)) => {
                    match proof.verify_server_final(&data) {
                        Ok(()) => Ok(Step::Next(Self::ExpectAuthOk)),
                        Err(AuthError::ScramServerSignatureLength(n)) if ctx.skip_server_signature => {
                            log::warn!(
                                "pgline: SCRAM server signature NOT verified ({n}-byte iris-pgwire \
                                 dummy accepted by danger_iris_skip_scram_server_signature): \
                                 this server has not proved it knows the password"
                            );
                            Ok(Step::Next(Self::ExpectAuthOk))
                        }
                        Err(e) => Err(auth_err(e)),
                    }
                }
                BackendMessage::Authentication(Authentication::Ok) => Err(Error::auth(
                    "server sent AuthenticationOk before a verified SASLFinal: it did not prove it knows the password",
                )),
                other => Err(unexpected("AuthenticationSASLFinal", &other)),
            },
            Self::ExpectAuthOk => match msg {
                BackendMessage::Authentication(Authentication::Ok) => {
                    Ok(Step::Next(Self::ExpectReady(None)))
                }
                other => Err(unexpected("AuthenticationOk", &other)),
            },
            Self::ExpectReady(key) => match msg {
                BackendMessage::BackendKeyData(k) => {
                    // The codec took 4 to 256 bytes; protocol 3.0 allows exactly 4.
                    let len = k.secret_key().len();
                    if !ctx.version.has_long_cancel_keys() && len != 4 {
                        return Err(Error::protocol(format!(
                            "BackendKeyData has a {len}-byte secret key, but protocol {} \
                             allows only 4 bytes",
                            ctx.version
                        )));
                    }
                    Ok(Step::Next(Self::ExpectReady(Some(k))))
                }
                BackendMessage::ReadyForQuery(_) => Ok(Step::Done(key)),
                other => Err(unexpected("BackendKeyData or ReadyForQuery", &other)),
            },
        }
    }

    /// Resumes after the driver computed the SCRAM proof: sends client-final.
    pub(crate) fn with_proof(proof: ScramProof, out: &mut BytesMut) -> Result<Self, Error> {
        write_sasl_response(out, proof.client_final_message()).map_err(Error::encode)?;
        Ok(Self::ExpectSaslFinal(proof))
    }
}
