//! A small RESP2 client: what `picket` needs to talk to nodes and sentinels (commands with a
//! timeout, and subscriptions that read frames as they come). Frames are decoded with the
//! `redis-protocol` crate.

use std::fmt;
use std::time::Duration;

use redis_protocol::resp2::decode::decode;
pub use redis_protocol::resp2::types::OwnedFrame as Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a command may take before the peer counts as unreachable.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);

/// A `host:port` address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Addr {
    pub host: String,
    pub port: u16,
}

impl Addr {
    pub fn local(port: u16) -> Addr {
        Addr {
            host: "127.0.0.1".into(),
            port,
        }
    }

    /// Parses `host:port` (or `[v6]:port`, or a bare port meaning 127.0.0.1).
    pub fn parse(s: &str) -> Result<Addr, String> {
        if let Ok(port) = s.parse::<u16>() {
            return Ok(Addr::local(port));
        }
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("'{s}' is not host:port (for example 127.0.0.1:26379)"))?;
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("'{s}': the port must be a number from 1 to 65535"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Addr {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// One connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    addr: Addr,
}

impl Conn {
    pub async fn connect(addr: &Addr) -> Result<Conn, String> {
        let target = (addr.host.as_str(), addr.port);
        let stream = match tokio::time::timeout(COMMAND_TIMEOUT, TcpStream::connect(target)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(format!("{addr}: {e}")),
            Err(_) => return Err(format!("{addr}: no answer to connect in 3 s")),
        };
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            buf: Vec::new(),
            addr: addr.clone(),
        })
    }

    /// Sends a command and reads its reply (an error reply is an `Err`).
    pub async fn cmd(&mut self, args: &[&str]) -> Result<Frame, String> {
        let addr = self.addr.clone();
        let call = async {
            self.send(args).await?;
            self.read().await
        };
        match tokio::time::timeout(COMMAND_TIMEOUT, call).await {
            Ok(Ok(Frame::Error(e))) => Err(format!("{addr}: {} replied: {e}", args.join(" "))),
            Ok(r) => r,
            Err(_) => Err(format!("{addr}: no reply to {} in 3 s", args[0])),
        }
    }

    /// A command whose reply is a bulk or status string.
    pub async fn text(&mut self, args: &[&str]) -> Result<String, String> {
        Ok(text(&self.cmd(args).await?))
    }

    pub async fn send(&mut self, args: &[&str]) -> Result<(), String> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| format!("{}: {e}", self.addr))
    }

    /// Reads the next frame, waiting as long as it takes (subscriptions).
    pub async fn read(&mut self) -> Result<Frame, String> {
        loop {
            match decode(&self.buf) {
                Ok(Some((frame, used))) => {
                    self.buf.drain(..used);
                    return Ok(frame);
                }
                Ok(None) => {}
                Err(e) => return Err(format!("{}: bad reply: {e:?}", self.addr)),
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk).await {
                Ok(0) => return Err(format!("{}: connection closed", self.addr)),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("{}: {e}", self.addr)),
            }
        }
    }
}

/// A frame as text (strings, integers; empty for arrays and nulls).
pub fn text(f: &Frame) -> String {
    match f {
        Frame::SimpleString(b) | Frame::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Frame::Integer(i) => i.to_string(),
        Frame::Error(e) => e.clone(),
        Frame::Array(_) | Frame::Null => String::new(),
    }
}

/// The items of an array frame (empty for anything else).
pub fn items(f: &Frame) -> &[Frame] {
    match f {
        Frame::Array(v) => v,
        _ => &[],
    }
}

/// A flat `[k1, v1, k2, v2 ...]` array (SENTINEL MASTER's reply) as pairs.
pub fn fields(f: &Frame) -> Vec<(String, String)> {
    items(f)
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (text(&c[0]), text(&c[1])))
        .collect()
}

/// The value of `name` among `fields`.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// A field of an INFO reply.
pub use picket::info::field as info_field;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print() {
        assert_eq!(Addr::parse("127.0.0.1:26379").unwrap(), Addr::local(26379));
        assert_eq!(Addr::parse("7000").unwrap(), Addr::local(7000));
        let v6 = Addr::parse("[::1]:7000").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 7000));
        assert_eq!(v6.to_string(), "[::1]:7000");
        assert!(Addr::parse("localhost").is_err());
        assert!(Addr::parse("h:99999").is_err());
    }

    #[test]
    fn info_fields_are_found_by_exact_name() {
        let info = "# Replication\r\nrole:master\r\nmaster_repl_offset:42\r\nrole_x:1\r\n";
        assert_eq!(info_field(info, "role"), Some("master"));
        assert_eq!(info_field(info, "master_repl_offset"), Some("42"));
        assert_eq!(info_field(info, "missing"), None);
    }
}
