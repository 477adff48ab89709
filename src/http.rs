//! A small HTTP/1.1 server (hyper) for what the servers publish over HTTP: the Prometheus
//! metrics endpoint (`metrics-port`) and the sentinel's status page with its server-sent
//! events. Handlers are plain functions of the path; only GET and HEAD are served.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A page's body: all at once, or chunks as they come (server-sent events).
pub enum Body {
    Text(String),
    Stream(tokio::sync::mpsc::Receiver<String>),
}

/// What a handler answers.
pub struct Page {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Body,
}

impl Page {
    pub fn ok(content_type: &'static str, body: String) -> Page {
        Page {
            status: 200,
            content_type,
            body: Body::Text(body),
        }
    }

    /// A body written chunk by chunk until the sender is dropped.
    pub fn stream(content_type: &'static str, rx: tokio::sync::mpsc::Receiver<String>) -> Page {
        Page {
            status: 200,
            content_type,
            body: Body::Stream(rx),
        }
    }

    /// The page at `/` of a metrics port: a link to `/metrics`.
    pub fn metrics_index() -> Page {
        Page::ok(
            "text/html; charset=utf-8",
            "<html><body><a href=\"/metrics\">metrics</a></body></html>\n".into(),
        )
    }

    pub fn not_found() -> Page {
        Page {
            status: 404,
            content_type: "text/plain; charset=utf-8",
            body: Body::Text("not found\n".into()),
        }
    }
}

/// A handler: the request's path to a page.
pub type Handler = Arc<dyn Fn(&str) -> Page + Send + Sync>;

/// Binds the HTTP port (`bind` is one address, as `metrics-bind`).
pub async fn bind(addr: &str, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind((addr, port)).await
}

/// The listener of `metrics-port` (0: none). A port that cannot be bound stops start-up, as
/// the main port does.
pub async fn metrics_listener(port: i64, bind: &str) -> Option<TcpListener> {
    if port <= 0 {
        return None;
    }
    match self::bind(bind, port as u16).await {
        Ok(l) => {
            tracing::info!("Metrics at http://{bind}:{port}/metrics");
            Some(l)
        }
        Err(e) => {
            tracing::warn!("Could not bind the metrics port {bind}:{port}: {e}");
            std::process::exit(1);
        }
    }
}

/// Serves connections on `listener` until the program ends.
pub async fn serve(listener: TcpListener, handler: Handler) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(answer(&handler, &req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A streamed body: the chunks a channel delivers.
struct ChannelBody(tokio::sync::mpsc::Receiver<String>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|s| Ok(Frame::data(Bytes::from(s)))))
    }
}

fn answer(handler: &Handler, req: &Request<Incoming>) -> Response<BoxBody<Bytes, Infallible>> {
    let page = if req.method() == Method::GET || req.method() == Method::HEAD {
        handler(req.uri().path())
    } else {
        Page {
            status: 405,
            content_type: "text/plain; charset=utf-8",
            body: Body::Text("only GET and HEAD\n".into()),
        }
    };
    let body = match page.body {
        _ if req.method() == Method::HEAD => Full::new(Bytes::new()).boxed(),
        Body::Text(t) => Full::new(Bytes::from(t)).boxed(),
        Body::Stream(rx) => ChannelBody(rx).boxed(),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(page.status).unwrap_or(StatusCode::OK);
    if let Ok(v) = hyper::header::HeaderValue::from_str(page.content_type) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    resp
}
