//! The HTTP server's limits, in simulated time: a client that sends half its headers, idles
//! on a keep-alive connection or trickles a body is cut when its timeout passes, while
//! normal clients are answered meanwhile; past the connection cap new clients wait for a
//! slot instead of being refused or crashing the server.

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use modelwatch::web::server::{serve, HttpLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

const LIMITS: HttpLimits = HttpLimits {
    header_timeout: Duration::from_secs(10),
    body_timeout: Duration::from_secs(30),
    max_connections: 4,
};

async fn server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/echo", post(|body: String| async move { body }));
    tokio::spawn(serve(listener, app, None, LIMITS, std::future::pending()));
    addr
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&out).into_owned(),
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// One plain request on its own connection (`Connection: close`); the status line.
async fn get_status(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut s).await;
    answer.lines().next().unwrap_or("").to_string()
}

#[tokio::test(start_paused = true)]
async fn half_sent_headers_are_cut_at_the_header_timeout_and_others_are_served_meanwhile() {
    let addr = server().await;
    let start = Instant::now();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    // A normal client while the slow one holds its connection: answered at once.
    assert_eq!(get_status(addr).await, "HTTP/1.1 200 OK");
    assert!(start.elapsed() < Duration::from_secs(1));
    let answer = read_to_close(&mut slow).await;
    let cut_after = start.elapsed();
    assert!(
        cut_after >= LIMITS.header_timeout && cut_after < LIMITS.header_timeout * 2,
        "cut after {cut_after:?}: {answer:?}"
    );
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let addr = server().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200 OK"));
    let idle_from = Instant::now();
    let rest = read_to_close(&mut s).await;
    let idled = idle_from.elapsed();
    assert!(rest.is_empty(), "{rest}");
    assert!(
        idled >= LIMITS.header_timeout && idled < LIMITS.header_timeout * 2,
        "closed after {idled:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_trickled_body_gets_408_at_the_body_timeout() {
    let addr = server().await;
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly ten b")
        .await
        .unwrap();
    let answer = read_to_close(&mut s).await;
    let took = start.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        took >= LIMITS.body_timeout && took < LIMITS.body_timeout * 2,
        "answered after {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn past_the_connection_cap_a_client_waits_for_a_slot_and_is_then_served() {
    let addr = server().await;
    let start = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..LIMITS.max_connections {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        slow.push(s);
    }
    // Every slot is held by a slow client: the next one is accepted by the kernel but
    // served only once the header timeout has freed a slot.
    assert_eq!(get_status(addr).await, "HTTP/1.1 200 OK");
    let waited = start.elapsed();
    assert!(
        waited >= LIMITS.header_timeout && waited < LIMITS.header_timeout * 2,
        "served after {waited:?}"
    );
    for mut s in slow {
        assert!(!read_to_close(&mut s).await.contains("200 OK"));
    }
    // With the slots free again, clients are served at once.
    let again = Instant::now();
    assert_eq!(get_status(addr).await, "HTTP/1.1 200 OK");
    assert!(again.elapsed() < Duration::from_secs(1));
}
