//! CancelRequest: asks the server, over a separate connection, to cancel the query
//! running on this one. When the connection runs TLS, so does the cancel connection (as
//! libpq 17 does), with the same settings: the secret key never crosses the network in
//! the clear.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::tls::TlsConnector;
use super::Socket;
use crate::conn::session::TlsStart;
use crate::error::Error;
use crate::protocol::frontend::{write_cancel_request, write_ssl_request};

/// Cancels the running query of one connection. Cheap to clone; usable from any task.
///
/// Cancellation is best effort: the query may finish before the request arrives, in which
/// case nothing happens. The secret key is never printed.
#[derive(Clone)]
pub struct CancelToken {
    host: String,
    port: u16,
    process_id: i32,
    secret: Vec<u8>,
    /// The connection's TLS configuration and how its TLS started, when it runs TLS.
    tls: Option<(Arc<TlsConnector>, TlsStart)>,
    /// Why a cancel cannot work on this server (iris-pgwire), when it cannot.
    refused: Option<Arc<str>>,
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("process_id", &self.process_id)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl CancelToken {
    pub(crate) fn new(process_id: i32, secret: Vec<u8>) -> Self {
        Self {
            host: String::new(),
            port: 0,
            process_id,
            secret,
            tls: None,
            refused: None,
        }
    }

    /// The token of a server where a CancelRequest cannot work: `cancel_query` returns
    /// `Unsupported` with `why` and sends nothing.
    pub(crate) fn refusing(mut self, why: String) -> Self {
        self.refused = Some(why.into());
        self
    }

    /// Whether a cancel can work on this server (false on iris-pgwire, which ignores it
    /// or closes the connection; see [`crate::iris::capabilities`]).
    pub fn is_supported(&self) -> bool {
        self.refused.is_none()
    }

    pub(crate) fn with_addr(
        mut self,
        host: &str,
        port: u16,
        tls: Option<Arc<TlsConnector>>,
        start: TlsStart,
    ) -> Self {
        self.host = host.to_string();
        self.port = port;
        self.tls = tls.map(|t| (t, start));
        self
    }

    /// Whether the cancel request goes over TLS.
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The backend process ID this token targets.
    pub fn process_id(&self) -> i32 {
        self.process_id
    }

    /// Sends the CancelRequest and waits (up to `timeout`) for the server to close the
    /// cancel connection, which it does after acting on it.
    ///
    /// # Examples
    ///
    /// Take the token from [`Connection::cancel_token`](crate::Connection::cancel_token)
    /// before the long query, and cancel it from another task:
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// use std::time::Duration;
    ///
    /// let token = conn.cancel_token().expect("the server sent no cancel key");
    /// let canceller = tokio::spawn(async move {
    ///     tokio::time::sleep(Duration::from_secs(1)).await;
    ///     token.cancel_query(Duration::from_secs(5)).await
    /// });
    /// let err = conn.execute("SELECT pg_sleep(60)", &[]).await.unwrap_err();
    /// assert_eq!(err.code(), Some("57014")); // query_canceled
    /// canceller.await.expect("cancel task panicked")?;
    /// # Ok(()) }
    /// ```
    ///
    /// On iris-pgwire this returns an [`Unsupported`](Error::is_unsupported) error without
    /// connecting: 1.7.x ignores a CancelRequest, 1.0.x closes the target connection
    /// instead of cancelling its query (see [`crate::iris::capabilities`]).
    pub async fn cancel_query(&self, timeout: Duration) -> Result<(), Error> {
        if let Some(why) = &self.refused {
            return Err(Error::unsupported(why.to_string()));
        }
        let fut = async {
            let mut s = Socket::connect(&self.host, self.port)
                .await
                .map_err(Error::io)?;
            if let Some((connector, start)) = &self.tls {
                start_tls(&mut s, connector, *start).await?;
            }
            let mut buf = BytesMut::new();
            write_cancel_request(&mut buf, self.process_id, &self.secret).map_err(Error::encode)?;
            s.write_all(&buf).await.map_err(Error::io)?;
            s.flush().await.map_err(Error::io)?;
            let mut sink = [0u8; 64];
            // The server answers nothing and closes the socket.
            while s.read(&mut sink).await.map_err(Error::io)? > 0 {}
            Ok(())
        };
        tokio::time::timeout(timeout, fut)
            .await
            .unwrap_or_else(|_| Err(Error::timeout("cancel request timed out")))
    }
}

/// Sets up TLS on the cancel connection the way the main connection's started.
#[cfg(feature = "rustls")]
async fn start_tls(s: &mut Socket, connector: &TlsConnector, start: TlsStart) -> Result<(), Error> {
    if start != TlsStart::Direct {
        let mut buf = BytesMut::new();
        write_ssl_request(&mut buf);
        s.write_all(&buf).await.map_err(Error::io)?;
        s.flush().await.map_err(Error::io)?;
        // Exactly one byte: anything behind it is left for the handshake, which fails on it.
        let mut answer = [0u8; 1];
        s.read_exact(&mut answer).await.map_err(Error::io)?;
        if answer != *b"S" {
            return Err(Error::new(
                crate::error::Kind::Tls,
                "the server refused TLS for the cancel request, which the connection used",
            ));
        }
    }
    s.start_tls(connector).await.map(|_| ())
}

#[cfg(not(feature = "rustls"))]
async fn start_tls(
    _s: &mut Socket,
    connector: &TlsConnector,
    _start: TlsStart,
) -> Result<(), Error> {
    let _ = write_ssl_request;
    match *connector {}
}
