//! The TCP side: the listening socket (with an explicit backlog), an accept loop that never
//! spins or starves, `TCP_NODELAY` on every connection, bounds on connections (in all and per
//! client address), HTTP/1.1 with a deadline for each request head, and who the client is
//! behind a trusted proxy.
//!
//! A connection holds a [`Slot`] for as long as it lives, its WebSocket session included, so
//! the caps count what is really open.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use tokio::net::{TcpListener, TcpStream};

/// Bounds on connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// TCP connections open at once, in all.
    pub max_connections: usize,
    /// TCP connections open at once from one client address (counted behind a trusted proxy
    /// by the forwarded address, once the WebSocket is upgraded).
    pub max_per_address: usize,
    /// How long a client may take to send a request head (and how long a kept-alive
    /// connection may stay idle between requests).
    pub handshake_timeout: Duration,
}

/// Opens the listening socket with `backlog` pending connections (the kernel caps it at
/// `net.core.somaxconn`).
pub fn bind(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    TcpListener::from_std(socket.into())
}

/// Open connections, counted in all and per client address.
#[derive(Default)]
pub struct Connections {
    inner: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping the last clone of it frees its place.
pub struct Slot {
    connections: Arc<Connections>,
    /// The address it is counted under, if any (a proxy's own connections are not).
    address: Mutex<Option<IpAddr>>,
    counted_in_total: bool,
}

impl Connections {
    /// Admits a connection from `address` (`None`: count it in the total only), unless a cap
    /// is reached.
    pub fn admit(self: &Arc<Self>, address: Option<IpAddr>, limits: &ConnectionLimits) -> Option<Arc<Slot>> {
        let mut counts = self.lock();
        if counts.total >= limits.max_connections {
            return None;
        }
        if let Some(address) = address {
            let open = counts.per_address.entry(address).or_insert(0);
            if *open >= limits.max_per_address {
                return None;
            }
            *open += 1;
        }
        counts.total += 1;
        Some(Arc::new(Slot {
            connections: self.clone(),
            address: Mutex::new(address),
            counted_in_total: true,
        }))
    }

    /// Counts an upgraded connection that came through a proxy under the client's address.
    pub fn admit_forwarded(
        self: &Arc<Self>,
        address: IpAddr,
        limits: &ConnectionLimits,
    ) -> Option<Arc<Slot>> {
        let mut counts = self.lock();
        let open = counts.per_address.entry(address).or_insert(0);
        if *open >= limits.max_per_address {
            return None;
        }
        *open += 1;
        Some(Arc::new(Slot {
            connections: self.clone(),
            address: Mutex::new(Some(address)),
            counted_in_total: false,
        }))
    }

    pub fn total(&self) -> usize {
        self.lock().total
    }

    pub fn from_address(&self, address: IpAddr) -> usize {
        self.lock().per_address.get(&address).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.connections.lock();
        if self.counted_in_total {
            counts.total = counts.total.saturating_sub(1);
        }
        let address = self.address.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(address) = address {
            if let Some(open) = counts.per_address.get_mut(&address) {
                *open -= 1;
                if *open == 0 {
                    counts.per_address.remove(&address);
                }
            }
        }
    }
}

/// Who is on the other end of a request: the peer, or behind a trusted proxy the address it
/// forwarded (the last `X-Forwarded-For` entry, the one the proxy itself added).
pub fn client_address(peer: SocketAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    if !trusted_proxies.contains(&peer.ip()) {
        return peer.ip();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .next_back()
        .unwrap_or(peer.ip())
}

/// Accepts the next connection, with `TCP_NODELAY` set (frames are written whole; Nagle's
/// delay would hold every second small frame for the client's delayed ACK). Errors that mean
/// "out of file descriptors" pause the loop briefly instead of spinning.
pub async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if let Err(err) = stream.set_nodelay(true) {
                    tracing::debug!(%err, "cannot set TCP_NODELAY");
                }
                return (stream, peer);
            }
            Err(err) => {
                // EMFILE/ENFILE/ENOBUFS: wait for connections to close; others are per-connection.
                let exhausted = matches!(
                    err.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                );
                if exhausted {
                    tracing::warn!(%err, "cannot accept: out of resources; pausing 50 ms");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                } else {
                    tracing::debug!(%err, "accept failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_address: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: total,
            max_per_address: per_address,
            handshake_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn caps_hold_per_address_and_in_all_and_places_come_back() {
        let connections = Arc::new(Connections::default());
        let limits = limits(3, 2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = connections.admit(Some(a), &limits).expect("first");
        let second = connections.admit(Some(a), &limits).expect("second");
        assert!(connections.admit(Some(a), &limits).is_none(), "a third from one address");
        let other = connections.admit(Some(b), &limits).expect("another address");
        assert!(connections.admit(Some(b), &limits).is_none(), "the total is reached");
        drop(first);
        assert_eq!((connections.total(), connections.from_address(a)), (2, 1));
        assert!(connections.admit(Some(a), &limits).is_some());
        drop((second, other));
        let forwarded = connections.admit_forwarded(b, &limits).expect("forwarded");
        assert_eq!((connections.total(), connections.from_address(b)), (0, 1), "counted by address only");
        drop(forwarded);
        assert_eq!(connections.from_address(b), 0);
    }

    #[test]
    fn a_forwarded_address_is_believed_only_from_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        let proxy: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let stranger: SocketAddr = "198.51.100.1:5000".parse().unwrap();
        let trusted = ["127.0.0.1".parse().unwrap()];
        assert_eq!(client_address(proxy, &headers, &trusted), "203.0.113.7".parse::<IpAddr>().unwrap());
        assert_eq!(
            client_address(stranger, &headers, &trusted),
            stranger.ip(),
            "anyone can write the header"
        );
        assert_eq!(client_address(proxy, &HeaderMap::new(), &trusted), proxy.ip());
    }

    #[tokio::test]
    async fn accepted_connections_have_nodelay_set() {
        let listener = bind("127.0.0.1:0".parse().unwrap(), 16).expect("bind");
        let addr = listener.local_addr().expect("address");
        let client = tokio::spawn(async move { TcpStream::connect(addr).await });
        let (stream, _) = accept(&listener).await;
        assert!(stream.nodelay().expect("read the option"), "TCP_NODELAY on the server's side");
        drop(client.await);
    }
}
