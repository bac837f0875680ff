//! A small TCP fault proxy in front of the real PostgreSQL (checklist §5.6): pass, cut or
//! reset after N bytes (server to client), blackhole, delay, refuse. The mode can be
//! switched at runtime, for new connections and/or the connections already open.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does to traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Pass,
    /// Forward N more bytes server→client, then close (FIN) both sides.
    Cut(usize),
    /// Forward N more bytes server→client, then reset (RST, `SO_LINGER` 0) the client.
    Rst(usize),
    /// Accept and read, but forward and answer nothing (sockets stay open).
    Blackhole,
    /// Forward both ways, each chunk delayed.
    Delay(Duration),
    /// New connections are reset at once (a server that is down). Existing ones: as Rst(0).
    Refuse,
}

/// A running proxy; stops when dropped (open connections are then closed).
pub struct Proxy {
    port: u16,
    default: Arc<Mutex<Mode>>,
    conns: Arc<Mutex<Vec<watch::Sender<Mode>>>>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        // Dropping the senders ends every connection task.
        self.conns.lock().unwrap().clear();
    }
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `host:port`.
    pub async fn start(host: &str, port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let local = listener.local_addr().expect("proxy addr").port();
        let default = Arc::new(Mutex::new(Mode::Pass));
        let conns: Arc<Mutex<Vec<watch::Sender<Mode>>>> = Arc::default();
        let target = (host.to_owned(), port);
        let (d, c) = (default.clone(), conns.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let mode = *d.lock().unwrap();
                let (tx, rx) = watch::channel(mode);
                {
                    let mut c = c.lock().unwrap();
                    c.retain(|s| !s.is_closed());
                    c.push(tx);
                }
                tokio::spawn(forward(client, target.clone(), rx));
            }
        });
        Self {
            port: local,
            default,
            conns,
            task,
        }
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Switches the mode for new connections and every open one (byte budgets of Cut/Rst
    /// count from now).
    pub fn set_mode(&self, m: Mode) {
        *self.default.lock().unwrap() = m;
        self.set_mode_existing(m);
    }

    /// Switches the mode of the connections open now only.
    pub fn set_mode_existing(&self, m: Mode) {
        for s in self.conns.lock().unwrap().iter() {
            let _ = s.send(m);
        }
    }
}

/// Makes the coming close send RST: `SO_LINGER` 0. (tokio deprecates `set_linger`
/// because a non-zero linger blocks the thread on drop; a zero linger does not block.)
#[allow(deprecated)]
fn reset(s: &TcpStream) {
    let _ = s.set_linger(Some(Duration::ZERO));
}

async fn read_opt(s: &mut Option<TcpStream>, buf: &mut [u8]) -> std::io::Result<usize> {
    match s {
        Some(s) => s.read(buf).await,
        None => std::future::pending().await,
    }
}

async fn forward(mut client: TcpStream, target: (String, u16), mut rx: watch::Receiver<Mode>) {
    let mut mode = *rx.borrow_and_update();
    let mut server = match mode {
        Mode::Blackhole => None,
        Mode::Refuse => {
            reset(&client);
            return;
        }
        _ => match TcpStream::connect((target.0.as_str(), target.1)).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                Some(s)
            }
            Err(_) => return,
        },
    };
    let _ = client.set_nodelay(true);
    let mut sent = 0usize; // server→client bytes since the mode last changed
    let mut cbuf = vec![0u8; 16 * 1024];
    let mut sbuf = vec![0u8; 16 * 1024];
    loop {
        match mode {
            Mode::Cut(n) if sent >= n => return,
            Mode::Rst(n) if sent >= n => {
                reset(&client);
                return;
            }
            Mode::Refuse => {
                reset(&client);
                return;
            }
            _ => {}
        }
        tokio::select! {
            ch = rx.changed() => {
                if ch.is_err() {
                    return;
                }
                mode = *rx.borrow_and_update();
                sent = 0;
            }
            r = client.read(&mut cbuf) => {
                let n = match r { Ok(0) | Err(_) => return, Ok(n) => n };
                match (mode, server.as_mut()) {
                    (Mode::Blackhole, _) | (_, None) => {}
                    (Mode::Delay(d), Some(s)) => {
                        tokio::time::sleep(d).await;
                        if s.write_all(&cbuf[..n]).await.is_err() { return; }
                    }
                    (_, Some(s)) => {
                        if s.write_all(&cbuf[..n]).await.is_err() { return; }
                    }
                }
            }
            r = read_opt(&mut server, &mut sbuf) => {
                let n = match r { Ok(0) | Err(_) => return, Ok(n) => n };
                let chunk = match mode {
                    Mode::Blackhole | Mode::Refuse => continue,
                    Mode::Delay(d) => { tokio::time::sleep(d).await; n }
                    Mode::Cut(lim) | Mode::Rst(lim) => n.min(lim.saturating_sub(sent)),
                    Mode::Pass => n,
                };
                if client.write_all(&sbuf[..chunk]).await.is_err() { return; }
                sent += chunk;
            }
        }
    }
}
