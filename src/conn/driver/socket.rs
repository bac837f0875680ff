//! The transport: TCP or a Unix-domain socket, event-driven or, for bulk loads, polled on
//! a timer.
//!
//! Event-driven is tokio's usual way: the socket sits in the reactor's epoll set and the
//! task wakes whenever bytes arrive or send-buffer space frees up. During a pipelined
//! load that is a wakeup for every flush the server makes (PostgreSQL flushes its output
//! every 8 KB, about 400 answered rows) and for every drain of the send buffer, and on a
//! virtual machine each wakeup of an idle CPU costs tens of microseconds of client CPU,
//! more than the rows it delivers cost to handle. Polled mode takes the socket out of the
//! reactor (tokio's `into_std`, so nothing wakes the thread when bytes arrive) and lets
//! the task read and write without blocking, sleeping one tick whenever the socket would
//! block: the kernel's buffers collect a tick's worth of answers and take a tick's worth
//! of requests, and the process wakes once per tick instead of once per flush. Only
//! `execute_many` turns it on, when its `io_tick` option asks for it (off by default: it
//! delays the runtime's other tasks), for loads bigger than a row window of at least 4,096 rows,
//! sets the tick as the server's backlog allows (`io_tick`, so the server does not wait
//! for the client), and turns it off when its streaming ends; every
//! operation that starts with `begin_op` turns it off first, in case a load was dropped.
//! A silent server costs a polled socket one wakeup per tick until the operation's
//! deadline, instead of none.

use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
use tokio::time::{Instant, Sleep};

/// The most one polled read takes (the read buffer may be much larger when a big frame is
/// expected). Polled reads go through a scratch buffer of this size, zeroed once, because
/// safe code can only read into initialised memory: zeroing the read buffer's spare room
/// for every read would cost more than a tick's worth of answers.
const POLLED_READ_MAX: usize = 128 * 1024;

/// A connected socket to the server: plaintext, or TLS over it.
#[derive(Debug)]
pub struct Socket {
    transport: Transport,
}

#[derive(Debug)]
enum Transport {
    Plain(Raw),
    /// TLS records over the raw socket, which can still switch to polled IO underneath.
    #[cfg(feature = "rustls")]
    Tls(Box<super::tls::TlsStream<Raw>>),
}

/// The raw byte stream: TCP or a Unix-domain socket, event-driven or polled.
#[derive(Debug)]
pub(crate) struct Raw {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    /// TCP (with `TCP_NODELAY`), registered with the reactor.
    Tcp(TcpStream),
    /// A Unix-domain socket (`host` starting with `/`), registered with the reactor.
    #[cfg(unix)]
    Unix(UnixStream),
    /// TCP out of the reactor, polled on a timer.
    PolledTcp(std::net::TcpStream, Ticker),
    /// A Unix-domain socket out of the reactor, polled on a timer.
    #[cfg(unix)]
    PolledUnix(std::os::unix::net::UnixStream, Ticker),
    /// Only while switching modes failed half-way: the socket is gone.
    Gone,
}

/// The timer a polled socket sleeps on when it would block, and its read scratch buffer.
struct Ticker {
    tick: Duration,
    sleep: Pin<Box<Sleep>>,
    /// Initialised bytes polled reads land in before they are copied to the caller's
    /// buffer (grown on demand up to `POLLED_READ_MAX`).
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Ticker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticker")
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

impl Ticker {
    fn new(tick: Duration) -> Self {
        Self {
            tick,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            scratch: Vec::new(),
        }
    }

    /// Registers the task to be woken at the end of the current tick (starting one if
    /// none is running). A read and a write that both would block share the tick.
    fn wait<T>(&mut self, cx: &mut Context<'_>) -> Poll<T> {
        if self.sleep.is_elapsed() {
            let next = Instant::now() + self.tick;
            self.sleep.as_mut().reset(next);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            // A zero tick: poll again at once rather than never.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the socket was lost switching between event-driven and polled IO",
    )
}

impl Socket {
    /// Connects to `host:port`, or to `host/.s.PGSQL.port` when `host` is a directory.
    pub async fn connect(host: &str, port: u16) -> io::Result<Self> {
        #[cfg(unix)]
        if host.starts_with('/') {
            let path = format!("{}/.s.PGSQL.{port}", host.trim_end_matches('/'));
            let s = UnixStream::connect(path).await?;
            return Ok(Self::plain(Inner::Unix(s)));
        }
        let s = TcpStream::connect((host, port)).await?;
        s.set_nodelay(true)?;
        Ok(Self::plain(Inner::Tcp(s)))
    }

    /// Applies TCP keepalives and the user timeout (a no-op for Unix-domain sockets).
    pub(crate) fn set_keepalives(&self, k: &crate::conn::config::Keepalives) -> io::Result<()> {
        let Some(sock) = self.raw().tcp() else {
            return Ok(());
        };
        sock.set_keepalive(k.enabled)?;
        if k.enabled {
            let mut ka = socket2::TcpKeepalive::new();
            if let Some(idle) = k.idle {
                ka = ka.with_time(idle);
            }
            #[cfg(any(
                target_os = "linux",
                target_os = "macos",
                target_os = "freebsd",
                windows
            ))]
            if let Some(interval) = k.interval {
                ka = ka.with_interval(interval);
            }
            #[cfg(any(target_os = "linux", target_os = "macos", target_os = "freebsd"))]
            if let Some(count) = k.count {
                ka = ka.with_retries(count);
            }
            sock.set_tcp_keepalive(&ka)?;
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(t) = k.user_timeout {
            sock.set_tcp_user_timeout(Some(t))?;
        }
        Ok(())
    }

    /// Whether TCP keepalives are on (false for Unix-domain sockets).
    pub(crate) fn keepalive_on(&self) -> bool {
        self.raw()
            .tcp()
            .is_some_and(|s| s.keepalive().unwrap_or(false))
    }

    /// The byte stream beneath TLS, or the plain one.
    fn raw(&self) -> &Raw {
        match &self.transport {
            Transport::Plain(raw) => raw,
            #[cfg(feature = "rustls")]
            Transport::Tls(tls) => tls.get_ref().0,
        }
    }

    fn plain(inner: Inner) -> Self {
        Self {
            transport: Transport::Plain(Raw { inner }),
        }
    }

    /// Whether the socket carries TLS.
    pub fn is_tls(&self) -> bool {
        match self.transport {
            Transport::Plain(_) => false,
            #[cfg(feature = "rustls")]
            Transport::Tls(_) => true,
        }
    }

    /// Runs the TLS handshake over this plaintext socket and carries TLS from then on.
    /// On failure the socket is gone (every later IO call fails).
    #[cfg(feature = "rustls")]
    pub(crate) async fn start_tls(
        &mut self,
        connector: &super::tls::TlsConnector,
    ) -> Result<super::tls::Binding, crate::error::Error> {
        let gone = Transport::Plain(Raw { inner: Inner::Gone });
        let raw = match std::mem::replace(&mut self.transport, gone) {
            Transport::Plain(raw) => raw,
            tls @ Transport::Tls(_) => {
                self.transport = tls;
                return Err(crate::error::Error::protocol("TLS is already running"));
            }
        };
        let (stream, binding) = super::tls::handshake(connector, raw).await?;
        self.transport = Transport::Tls(Box::new(stream));
        Ok(binding)
    }

    /// Switches to polled IO with the given tick (`Some`) or back to event-driven IO
    /// (`None`); under TLS, the socket beneath it switches. Must run inside the tokio
    /// runtime that will drive the socket. On an error the socket is unusable and every
    /// later IO call fails.
    pub(crate) fn set_polled(&mut self, tick: Option<Duration>) -> io::Result<()> {
        match &mut self.transport {
            Transport::Plain(raw) => raw.set_polled(tick),
            #[cfg(feature = "rustls")]
            Transport::Tls(tls) => tls.get_mut().0.set_polled(tick),
        }
    }
}

impl Raw {
    /// The TCP socket, for options std and tokio do not set.
    fn tcp(&self) -> Option<socket2::SockRef<'_>> {
        match &self.inner {
            Inner::Tcp(s) => Some(socket2::SockRef::from(s)),
            Inner::PolledTcp(s, _) => Some(socket2::SockRef::from(s)),
            _ => None,
        }
    }

    /// Switches to polled IO with the given tick (`Some`) or back to event-driven IO
    /// (`None`). Must run inside the tokio runtime that will drive the socket. On an
    /// error the socket is unusable and every later IO call fails.
    pub(crate) fn set_polled(&mut self, tick: Option<Duration>) -> io::Result<()> {
        let inner = std::mem::replace(&mut self.inner, Inner::Gone);
        self.inner = match (inner, tick) {
            (Inner::Tcp(s), Some(t)) => Inner::PolledTcp(s.into_std()?, Ticker::new(t)),
            #[cfg(unix)]
            (Inner::Unix(s), Some(t)) => Inner::PolledUnix(s.into_std()?, Ticker::new(t)),
            (Inner::PolledTcp(s, _), None) => Inner::Tcp(TcpStream::from_std(s)?),
            #[cfg(unix)]
            (Inner::PolledUnix(s, _), None) => Inner::Unix(UnixStream::from_std(s)?),
            // Already polled: only the tick changes (from the next sleep on).
            (Inner::PolledTcp(s, mut ticker), Some(t)) => {
                ticker.tick = t;
                Inner::PolledTcp(s, ticker)
            }
            #[cfg(unix)]
            (Inner::PolledUnix(s, mut ticker), Some(t)) => {
                ticker.tick = t;
                Inner::PolledUnix(s, ticker)
            }
            (inner, None) => inner,
            (Inner::Gone, Some(_)) => return Err(gone()),
        };
        Ok(())
    }
}

/// One non-blocking read into `buf`; sleeps a tick when there is nothing to read.
fn polled_read(
    s: &mut impl Read,
    ticker: &mut Ticker,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    let room = buf.remaining().min(POLLED_READ_MAX);
    if ticker.scratch.len() < room {
        ticker.scratch.resize(room, 0);
    }
    let Some(scratch) = ticker.scratch.get_mut(..room) else {
        return Poll::Ready(Err(io::Error::other(
            "polled read scratch buffer too small",
        )));
    };
    loop {
        match s.read(scratch) {
            Ok(n) => {
                // `read` promises n <= the slice's length; a broken promise is an error,
                // not a panic or silently dropped bytes.
                let Some(got) = scratch.get(..n) else {
                    return Poll::Ready(Err(io::Error::other("read reported too many bytes")));
                };
                buf.put_slice(got);
                return Poll::Ready(Ok(()));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ticker.wait(cx),
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// One non-blocking write of `buf`; sleeps a tick when the send buffer is full.
fn polled_write(
    s: &mut impl Write,
    ticker: &mut Ticker,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    loop {
        match s.write(buf) {
            Ok(n) => return Poll::Ready(Ok(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ticker.wait(cx),
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

impl AsyncRead for Raw {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            Inner::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Inner::PolledTcp(s, t) => polled_read(s, t, cx, buf),
            #[cfg(unix)]
            Inner::PolledUnix(s, t) => polled_read(s, t, cx, buf),
            Inner::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Raw {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(unix)]
            Inner::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Inner::PolledTcp(s, t) => polled_write(s, t, cx, buf),
            #[cfg(unix)]
            Inner::PolledUnix(s, t) => polled_write(s, t, cx, buf),
            Inner::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Inner::Unix(s) => Pin::new(s).poll_flush(cx),
            // A socket has no user-space buffer to flush.
            Inner::PolledTcp(..) => Poll::Ready(Ok(())),
            #[cfg(unix)]
            Inner::PolledUnix(..) => Poll::Ready(Ok(())),
            Inner::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Inner::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Inner::PolledTcp(s, _) => Poll::Ready(s.shutdown(std::net::Shutdown::Write)),
            #[cfg(unix)]
            Inner::PolledUnix(s, _) => Poll::Ready(s.shutdown(std::net::Shutdown::Write)),
            Inner::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "rustls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().transport {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "rustls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "rustls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
