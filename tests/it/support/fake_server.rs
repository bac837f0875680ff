//! A scripted fake server (pgmock style) built on pgline's own codec: it expects frontend
//! messages and sends backend messages (or raw bytes) in a fixed order, for the
//! byte-level cases a real server will not produce.

use std::time::Duration;

use bytes::BytesMut;
use pgline::protocol::backend::{
    Authentication, BackendKeyData, BackendMessage, ErrorFields, ParameterStatus, ReadyForQuery,
    TransactionStatus,
};
use pgline::protocol::framing::{decode_frontend, split_startup_packet};
use pgline::protocol::frontend::{AuthStage, FrontendMessage, StartupPacket};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What the client sent, as the script saw it.
#[derive(Debug, Clone)]
pub enum Received {
    Startup(StartupPacket),
    Message(FrontendMessage),
}

type Matcher = Box<dyn Fn(&Received) -> bool + Send>;

/// One step of a script.
pub enum Step {
    /// Read one untagged startup packet (SSLRequest, StartupMessage, CancelRequest).
    RecvStartup(&'static str, Matcher),
    /// Read one tagged frontend message and check it.
    Recv(&'static str, Matcher),
    /// Read tagged messages until one matches (the others are ignored).
    RecvUntil(&'static str, Matcher),
    /// Send a backend message.
    Send(BackendMessage),
    /// Send raw bytes.
    Raw(Vec<u8>),
    /// Set how 'p' messages are read.
    Stage(AuthStage),
    /// Wait.
    Sleep(Duration),
    /// Read and discard everything until the client closes (or the duration passes),
    /// never answering: a server that has gone silent.
    Blackhole(Duration),
    /// Close the connection.
    Close,
}

/// Builders for common steps.
pub mod steps {
    use super::*;

    pub fn recv_ssl_request() -> Step {
        Step::RecvStartup(
            "SSLRequest",
            Box::new(|r| matches!(r, Received::Startup(StartupPacket::SslRequest))),
        )
    }

    pub fn recv_startup() -> Step {
        Step::RecvStartup(
            "StartupMessage",
            Box::new(|r| matches!(r, Received::Startup(StartupPacket::Startup(_)))),
        )
    }

    pub fn recv(tag: u8) -> Step {
        Step::Recv(
            "a message",
            Box::new(move |r| matches!(r, Received::Message(m) if m.tag() == tag)),
        )
    }

    pub fn recv_query(sql: &'static str) -> Step {
        Step::Recv(
            "Query",
            Box::new(
                move |r| matches!(r, Received::Message(FrontendMessage::Query(q)) if q.sql == sql),
            ),
        )
    }

    pub fn recv_until(tag: u8) -> Step {
        Step::RecvUntil(
            "a message",
            Box::new(move |r| matches!(r, Received::Message(m) if m.tag() == tag)),
        )
    }

    pub fn send(m: BackendMessage) -> Step {
        Step::Send(m)
    }

    pub fn auth(a: Authentication) -> Step {
        Step::Send(BackendMessage::Authentication(a))
    }

    pub fn ready(s: TransactionStatus) -> Step {
        Step::Send(BackendMessage::ReadyForQuery(ReadyForQuery::new(s)))
    }

    pub fn idle() -> Step {
        ready(TransactionStatus::Idle)
    }

    pub fn param(name: &str, value: &str) -> Step {
        Step::Send(BackendMessage::ParameterStatus(ParameterStatus::new(
            name.to_string(),
            value.to_string(),
        )))
    }

    pub fn error(severity: &str, code: &str, message: &str) -> Step {
        Step::Send(BackendMessage::ErrorResponse(ErrorFields::new(
            severity, code, message,
        )))
    }

    /// SSLRequest → 'N', StartupMessage → AuthenticationOk, parameters, key, ReadyForQuery.
    pub fn accept_trust(server_version: &str) -> Vec<Step> {
        vec![
            recv_ssl_request(),
            Step::Raw(b"N".to_vec()),
            recv_startup(),
            auth(Authentication::Ok),
            param("server_version", server_version),
            param("client_encoding", "UTF8"),
            Step::Send(BackendMessage::BackendKeyData(BackendKeyData::new(
                4242,
                bytes::Bytes::from_static(&[1, 2, 3, 4]),
            ))),
            idle(),
        ]
    }
}

/// Runs `script` against the client on `io`. Returns what went wrong, if anything.
pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    script: Vec<Step>,
) -> Result<(), String> {
    let mut rbuf = BytesMut::new();
    let mut stage = AuthStage::Password;
    for (n, step) in script.into_iter().enumerate() {
        match step {
            Step::RecvStartup(what, m) => {
                let p = loop {
                    if let Some(p) = split_startup_packet(&mut rbuf)
                        .map_err(|e| format!("step {n}: bad startup packet: {e}"))?
                    {
                        break p;
                    }
                    read_more(&mut io, &mut rbuf, n).await?;
                };
                let r = Received::Startup(p);
                if !m(&r) {
                    return Err(format!("step {n}: expected {what}, got {r:?}"));
                }
            }
            Step::Recv(what, m) => {
                let r = recv(&mut io, &mut rbuf, stage, n).await?;
                if !m(&r) {
                    return Err(format!("step {n}: expected {what}, got {r:?}"));
                }
            }
            Step::RecvUntil(_, m) => loop {
                let r = recv(&mut io, &mut rbuf, stage, n).await?;
                if m(&r) {
                    break;
                }
            },
            Step::Send(msg) => {
                let mut out = BytesMut::new();
                msg.encode(&mut out)
                    .map_err(|e| format!("step {n}: cannot encode {msg:?}: {e}"))?;
                io.write_all(&out)
                    .await
                    .map_err(|e| format!("step {n}: {e}"))?;
            }
            Step::Raw(b) => io
                .write_all(&b)
                .await
                .map_err(|e| format!("step {n}: {e}"))?,
            Step::Stage(s) => stage = s,
            Step::Sleep(d) => tokio::time::sleep(d).await,
            Step::Blackhole(d) => {
                let _ = tokio::time::timeout(d, async {
                    let mut sink = [0u8; 4096];
                    while io.read(&mut sink).await.unwrap_or(0) > 0 {}
                })
                .await;
            }
            Step::Close => {
                let _ = io.shutdown().await;
                return Ok(());
            }
        }
    }
    Ok(())
}

async fn read_more<S: AsyncRead + Unpin>(
    io: &mut S,
    rbuf: &mut BytesMut,
    n: usize,
) -> Result<(), String> {
    let got = io
        .read_buf(rbuf)
        .await
        .map_err(|e| format!("step {n}: read: {e}"))?;
    if got == 0 {
        return Err(format!("step {n}: client closed the connection"));
    }
    Ok(())
}

async fn recv<S: AsyncRead + Unpin>(
    io: &mut S,
    rbuf: &mut BytesMut,
    stage: AuthStage,
    n: usize,
) -> Result<Received, String> {
    loop {
        if let Some(m) = decode_frontend(rbuf, 1 << 30, stage)
            .map_err(|e| format!("step {n}: bad frontend message: {e}"))?
        {
            return Ok(Received::Message(m));
        }
        read_more(io, rbuf, n).await?;
    }
}

/// Starts a client/server pair over an in-memory pipe: returns the client end and the
/// server task.
pub fn pipe(
    script: Vec<Step>,
) -> (
    tokio::io::DuplexStream,
    tokio::task::JoinHandle<Result<(), String>>,
) {
    let (client, server) = tokio::io::duplex(256 * 1024);
    let h = tokio::spawn(run(server, script));
    (client, h)
}

/// Starts the script on a loopback TCP listener (one connection); returns its port.
pub async fn listen(script: Vec<Step>) -> (u16, tokio::task::JoinHandle<Result<(), String>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    let h = tokio::spawn(async move {
        let (s, _) = l.accept().await.map_err(|e| e.to_string())?;
        run(s, script).await
    });
    (port, h)
}
