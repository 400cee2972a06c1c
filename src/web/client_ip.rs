//! The client's address behind reverse proxies.
//!
//! Rate limits, the sign-in lock-out, sessions and the audit log key on the client's
//! address. Behind a proxy the TCP peer is the proxy, so every client would share one
//! budget. `[server] trusted_proxies` names the proxies whose `X-Forwarded-For` we believe;
//! the client is then the right-most address in that header not itself a trusted proxy
//! (as nginx's `real_ip_recursive`). Entries left of it were written by the client and
//! could be anything, so they are never used. With no trusted proxies (the default), or a
//! peer that is not one of them, the header is ignored and the TCP peer is the client.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The header proxies append the address they received a request from to.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address as resolved by [`resolve`]; extract it in handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Middleware: resolves the client's address once and stores it in the request.
pub async fn resolve(
    State(trusted): State<Arc<[IpNet]>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(peer) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    {
        let client = client_ip(peer, request.headers(), &trusted);
        request.extensions_mut().insert(ClientIp(client));
    }
    next.run(request).await
}

/// The client's address given the TCP peer, the request's headers and the trusted proxies.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Several headers count as one list in order (RFC 9110 §5.3).
    let hops: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // Garbage written by whoever came before the last trusted hop: stop there.
            None => break,
        }
    }
    client
}

/// An entry of `X-Forwarded-For`: a bare address, `[v6]`, or either with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
        .map(canonical)
}

/// `::ffff:a.b.c.d` is the IPv4 client a dual-stack listener saw.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return Ok(*ip);
        }
        // A router served without the middleware still knows its TCP peer.
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| ClientIp(canonical(c.0.ip())))
            .ok_or((
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server was started without connection info",
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(FORWARDED_FOR, v.parse().unwrap());
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let trusted = nets(&["10.0.0.0/8"]);
        let cases: &[(&str, &[&str], &[IpNet], &str)] = &[
            // No proxies configured: the header is ignored.
            ("10.0.0.5", &["203.0.113.9"], &[], "10.0.0.5"),
            // A peer that is not a trusted proxy cannot claim another address.
            ("198.51.100.7", &["203.0.113.9"], &trusted, "198.51.100.7"),
            // One trusted proxy.
            ("10.0.0.5", &["203.0.113.9"], &trusted, "203.0.113.9"),
            // A client-written entry left of the real one is never used.
            (
                "10.0.0.5",
                &["1.2.3.4, 203.0.113.9"],
                &trusted,
                "203.0.113.9",
            ),
            // Two trusted proxies, in one header or in two.
            (
                "10.0.0.5",
                &["203.0.113.9, 10.1.1.1"],
                &trusted,
                "203.0.113.9",
            ),
            (
                "10.0.0.5",
                &["203.0.113.9", "10.1.1.1"],
                &trusted,
                "203.0.113.9",
            ),
            // Ports, brackets and IPv4-mapped IPv6.
            ("10.0.0.5", &["203.0.113.9:5123"], &trusted, "203.0.113.9"),
            ("10.0.0.5", &["[2001:db8::1]:443"], &trusted, "2001:db8::1"),
            (
                "::ffff:10.0.0.5",
                &["::ffff:203.0.113.9"],
                &trusted,
                "203.0.113.9",
            ),
            // Garbage or nothing: the last trusted hop is the best we know.
            ("10.0.0.5", &["unknown, 10.1.1.1"], &trusted, "10.1.1.1"),
            ("10.0.0.5", &[], &trusted, "10.0.0.5"),
            // Every hop trusted: the left-most one.
            ("10.0.0.5", &["10.9.9.9, 10.1.1.1"], &trusted, "10.9.9.9"),
        ];
        for (peer, values, trusted, want) in cases {
            assert_eq!(
                client_ip(ip(peer), &headers(values), trusted),
                ip(want),
                "peer {peer}, X-Forwarded-For {values:?}"
            );
        }
    }
}
