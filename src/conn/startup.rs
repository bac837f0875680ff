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

use bytes::BytesMut;

use super::auth::{
    md5_password, AuthError, CertificateHashError, ChannelBinding, ScramClient, ScramPending,
    ScramProof, SCRAM_SHA_256, SCRAM_SHA_256_PLUS,
};
use super::config::AuthPolicy;
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
        ctx: &StartupCtx,
        out: &mut BytesMut,
    ) -> Result<Step, Error> {
        if let BackendMessage::ErrorResponse(f) = &msg {
            return Err(Error::db(f));
        }
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
                // 3.2 addition; a 3.0 request is always acceptable to a server that knows
                // 3.0, so nothing is needed beyond accepting the message.
                BackendMessage::NegotiateProtocolVersion(_) => Ok(Step::Next(Self::ExpectAuth)),
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
                BackendMessage::BackendKeyData(k) => Ok(Step::Next(Self::ExpectReady(Some(k)))),
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
