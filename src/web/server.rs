//! The HTTP server: the router on hyper, with the limits a public service needs against slow
//! and idle clients.
//!
//! `axum::serve` sets no timer, so a client that sends half its headers (or trickles a body,
//! or keeps an idle connection) holds its connection forever, and enough of them hold every
//! file descriptor. Here:
//! - **header timeout**: the request head must arrive within it; the same clock runs while a
//!   keep-alive connection waits for its next request, so it is also the idle timeout;
//! - **body timeout**: a request body must arrive within it (408 otherwise);
//! - **connection cap**: at most `max_connections` open at once; past it, new connections
//!   wait in the kernel's backlog until one closes, so a flood of slow clients delays (and is
//!   then cut), never crashes, the server.
//!
//! Shutdown stops accepting, lets requests in hand finish (at most [`DRAIN`]), then returns.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::Router;
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tracing::{debug, warn};

use body_deadline::{request_timeout, DeadlineBody};

pub use crate::config::HttpLimits;

/// How long shutdown waits for requests in hand.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Answers a request before routing, or leaves it to the router (`None`); see
/// [`super::front_door`].
pub type FrontDoor = Arc<dyn Fn(&hyper::Request<Incoming>) -> Option<Response> + Send + Sync>;

/// Serves `app` on `listener` until `shutdown` resolves, asking `front_door` first. Handlers
/// may extract `ConnectInfo<SocketAddr>` (the peer address).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    front_door: Option<FrontDoor>,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        // An HTTP/2 peer that stops answering pings is gone.
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.header_timeout);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept: wait a
                    // moment instead of spinning on the error.
                    warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Responses are written whole, so Nagle's algorithm only holds back the tail of a
        // large page until the client's (possibly delayed) ACK; nginx disables it too.
        if let Err(e) = stream.set_nodelay(true) {
            debug!(error = %e, "could not set TCP_NODELAY on a connection");
        }
        let app = app.clone();
        let front_door = front_door.clone();
        let body_timeout = limits.body_timeout;
        // hyper's own `service_fn` is called by reference: nothing is cloned per request
        // but the router, and that only for a request the front door leaves to it.
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let next = match front_door.as_ref().and_then(|answer| answer(&request)) {
                Some(response) => Next::Answered(response),
                None => Next::Route(app.clone(), request),
            };
            async move {
                match next {
                    Next::Answered(response) => Ok(response),
                    Next::Route(app, request) => route(app, request, peer, body_timeout).await,
                }
            }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // Timeouts and resets are the client's doing: worth a debug line, no more.
                debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN) => {
            warn!("requests still in hand after {DRAIN:?}; stopping anyway");
        }
    }
}

/// What becomes of a request: answered at the front door, or routed.
enum Next {
    Answered(Response),
    Route(Router, hyper::Request<Incoming>),
}

/// A request through the router, with the peer's address for handlers that key on it, and
/// its body (if any) under the body deadline.
async fn route(
    app: Router,
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
    body_timeout: Duration,
) -> Result<Response, Infallible> {
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(ConnectInfo::<SocketAddr>(peer));
    // A request without a body (most of them: page and API reads) has nothing to time, so
    // it pays for no timer.
    if body.is_end_stream() {
        let request = hyper::Request::from_parts(parts, axum::body::Body::new(body));
        return app.oneshot(request).await;
    }
    let (body, timed_out) = DeadlineBody::new(body, body_timeout);
    let response = app
        .oneshot(hyper::Request::from_parts(
            parts,
            axum::body::Body::new(body),
        ))
        .await?;
    // Whatever the handler made of the failed read, the client was too slow.
    if timed_out.load(Ordering::Relaxed) {
        return Ok(request_timeout());
    }
    Ok(response)
}

/// A request body that must arrive whole before a deadline.
mod body_deadline {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use axum::http::{header, StatusCode};
    use axum::response::{IntoResponse, Response};
    use bytes::Bytes;
    use hyper::body::{Body, Frame, Incoming, SizeHint};
    use tokio::time::Sleep;

    /// The error a body read gets once the deadline passed.
    #[derive(Debug)]
    pub struct TooSlow;

    impl std::fmt::Display for TooSlow {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("the request body did not arrive in time")
        }
    }

    impl std::error::Error for TooSlow {}

    /// `Incoming` with a deadline; the flag tells the server the deadline passed.
    pub struct DeadlineBody {
        inner: Incoming,
        deadline: Pin<Box<Sleep>>,
        timed_out: Arc<AtomicBool>,
    }

    impl DeadlineBody {
        pub fn new(inner: Incoming, within: Duration) -> (DeadlineBody, Arc<AtomicBool>) {
            let timed_out = Arc::new(AtomicBool::new(false));
            let body = DeadlineBody {
                inner,
                deadline: Box::pin(tokio::time::sleep(within)),
                timed_out: Arc::clone(&timed_out),
            };
            (body, timed_out)
        }
    }

    impl Body for DeadlineBody {
        type Data = Bytes;
        type Error = Box<dyn std::error::Error + Send + Sync>;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
                return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
            }
            if self.deadline.as_mut().poll(cx).is_ready() {
                self.timed_out.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(Box::new(TooSlow))));
            }
            Poll::Pending
        }

        fn is_end_stream(&self) -> bool {
            self.inner.is_end_stream()
        }

        fn size_hint(&self) -> SizeHint {
            self.inner.size_hint()
        }
    }

    /// 408, and the connection closes (the rest of the body may still be on its way).
    pub fn request_timeout() -> Response {
        (
            StatusCode::REQUEST_TIMEOUT,
            [(header::CONNECTION, "close")],
            "request body not received in time\n",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The front door's answer is served as it is, and what it declines reaches the router.
    #[tokio::test]
    async fn the_front_door_is_asked_first() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(|| async { "from the router" });
        let front_door: FrontDoor = Arc::new(|request| {
            (request.uri().path() == "/front").then(|| Response::new("from the front door".into()))
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            app,
            Some(front_door),
            HttpLimits::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        let client = reqwest::Client::new();
        for (path, expected) in [
            ("/front", "from the front door"),
            ("/front?x=1", "from the front door"),
            ("/elsewhere", "from the router"),
        ] {
            let text = client
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(text, expected, "{path}");
        }
        let _ = stop.send(());
        server.await.unwrap();
    }
}
