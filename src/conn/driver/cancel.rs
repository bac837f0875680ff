//! CancelRequest: asks the server, over a separate connection, to cancel the query
//! running on this one.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Socket;
use crate::error::Error;
use crate::protocol::frontend::write_cancel_request;

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
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("process_id", &self.process_id)
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
        }
    }

    pub(crate) fn with_addr(mut self, host: &str, port: u16) -> Self {
        self.host = host.to_string();
        self.port = port;
        self
    }

    /// The backend process ID this token targets.
    pub fn process_id(&self) -> i32 {
        self.process_id
    }

    /// Sends the CancelRequest and waits (up to `timeout`) for the server to close the
    /// cancel connection, which it does after acting on it.
    pub async fn cancel_query(&self, timeout: Duration) -> Result<(), Error> {
        let fut = async {
            let mut s = Socket::connect(&self.host, self.port)
                .await
                .map_err(Error::io)?;
            let mut buf = BytesMut::new();
            write_cancel_request(&mut buf, self.process_id, &self.secret).map_err(Error::encode)?;
            s.write_all(&buf).await.map_err(Error::io)?;
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
