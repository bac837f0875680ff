//! Startup and authentication as a state machine: one state per expected message
//! (rustls' `Expect*` style), each consumed by value.
//!
//! ```text
//!  StartupMessage sent
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
//! ErrorResponse in any state fails the connect with the server's error. Every other
//! unexpected message goes through [`unexpected`], which names what was expected.
//! AuthenticationOk before a verified SASLFinal fails the connect: a server that skips
//! SCRAM's final step has not proven it knows the password.

use bytes::BytesMut;

use super::auth::{md5_password, AuthError, ScramClient, ScramPending, ScramProof, SCRAM_SHA_256};
use super::config::AuthPolicy;
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
}

/// The startup states.
pub(crate) enum Startup {
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
            Self::ExpectAuth => match msg {
                BackendMessage::Authentication(Authentication::Ok) => {
                    if !ctx.policy.none {
                        return Err(Error::auth(
                            "server authenticated without a password exchange, which require_auth forbids",
                        ));
                    }
                    Ok(Step::Next(Self::ExpectReady(None)))
                }
                BackendMessage::Authentication(Authentication::CleartextPassword) => {
                    if !ctx.policy.cleartext {
                        return Err(Error::auth(
                            "server asked for a cleartext password, which is refused (allow it with require_auth=password)",
                        ));
                    }
                    write_password(out, need_password(ctx)?).map_err(Error::encode)?;
                    Ok(Step::Next(Self::ExpectPasswordResult))
                }
                BackendMessage::Authentication(Authentication::Md5Password { salt }) => {
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
                    if !mechanisms.iter().any(|m| m == SCRAM_SHA_256) {
                        return Err(Error::auth(format!(
                            "server offers no supported SASL mechanism (offered: {})",
                            mechanisms.join(", ")
                        )));
                    }
                    let scram = ScramClient::new(&ctx.user, need_password(ctx)?, &ctx.nonce);
                    write_sasl_initial_response(out, SCRAM_SHA_256, scram.client_first_message())
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
