//! A small HTTP/1.1 server (hyper) for what the servers publish over HTTP: the Prometheus
//! metrics endpoint (`metrics-port`). Handlers are plain functions of the path; only GET and
//! HEAD are served.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What a handler answers.
pub struct Page {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Page {
    pub fn ok(content_type: &'static str, body: String) -> Page {
        Page {
            status: 200,
            content_type,
            body,
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
            body: "not found\n".into(),
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

fn answer(handler: &Handler, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let page = if req.method() == Method::GET || req.method() == Method::HEAD {
        handler(req.uri().path())
    } else {
        Page {
            status: 405,
            content_type: "text/plain; charset=utf-8",
            body: "only GET and HEAD\n".into(),
        }
    };
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(page.body)
    };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = StatusCode::from_u16(page.status).unwrap_or(StatusCode::OK);
    if let Ok(v) = hyper::header::HeaderValue::from_str(page.content_type) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}
