//! The transport: TCP or a Unix-domain socket.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

/// A connected socket to the server.
#[derive(Debug)]
pub enum Socket {
    /// TCP (with `TCP_NODELAY`).
    Tcp(TcpStream),
    /// A Unix-domain socket (`host` starting with `/`).
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Socket {
    /// Connects to `host:port`, or to `host/.s.PGSQL.port` when `host` is a directory.
    pub async fn connect(host: &str, port: u16) -> io::Result<Self> {
        #[cfg(unix)]
        if host.starts_with('/') {
            let path = format!("{}/.s.PGSQL.{port}", host.trim_end_matches('/'));
            return UnixStream::connect(path).await.map(Self::Unix);
        }
        let s = TcpStream::connect((host, port)).await?;
        s.set_nodelay(true)?;
        Ok(Self::Tcp(s))
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
