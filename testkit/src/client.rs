//! A raw RESP client that returns whole replies as bytes, RESP framing, and INFO fields.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A raw RESP client: sends commands, returns whole replies as raw bytes.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// Encodes a command as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Length of the first complete RESP2/RESP3 frame in `buf`, if complete.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&buf[1..line_end]).unwrap_or("");
    let after = line_end + 2;
    let count = || {
        head.parse::<i64>().unwrap_or_else(|_| {
            panic!(
                "bad RESP header {:?}",
                String::from_utf8_lossy(&buf[..line_end])
            )
        })
    };
    match buf[0] {
        b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n = count();
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = count();
            let items = if buf[0] == b'%' || buf[0] == b'|' {
                n * 2
            } else {
                n.max(0)
            };
            let mut pos = after;
            for _ in 0..items {
                pos += frame_len(&buf[pos..])?;
            }
            if buf[0] == b'|' {
                pos += frame_len(&buf[pos..])?;
            }
            Some(pos)
        }
        other => panic!(
            "unexpected reply type byte {:?} in {:?}",
            other as char,
            String::from_utf8_lossy(&buf[..buf.len().min(200)])
        ),
    }
}

impl Client {
    pub fn try_connect(port: u16) -> Option<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream.set_nodelay(true).ok()?;
        Some(Client {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send_raw(&mut self, b: &[u8]) {
        self.stream.write_all(b).expect("write");
    }

    pub fn send(&mut self, args: &[&[u8]]) {
        self.send_raw(&encode(args));
    }

    /// Reads one complete reply, or None on EOF/timeout.
    pub fn read_reply(&mut self) -> Option<Vec<u8>> {
        loop {
            if !self.buf.is_empty() {
                if let Some(n) = frame_len(&self.buf) {
                    return Some(self.buf.drain(..n).collect());
                }
            }
            let mut tmp = [0u8; 65536];
            match self.stream.read(&mut tmp) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }

    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&a);
        self.read_reply()
            .unwrap_or_else(|| panic!("no reply to {args:?}"))
    }

    /// Like [`cmd_str`](Self::cmd_str), but None when the connection drops (a sentinel's
    /// CLIENT KILL during reconfiguration, a node restarting).
    pub fn try_cmd_str(&mut self, args: &[&str]) -> Option<String> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.stream.write_all(&encode(&a)).ok()?;
        self.read_reply()
            .map(|r| String::from_utf8_lossy(&r).into_owned())
    }

    pub fn cmd_str(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    /// INFO `section`, as text.
    pub fn info(&mut self, section: &str) -> String {
        self.cmd_str(&["INFO", section])
    }

    /// The value of a field of INFO's default sections, or "" when there is none.
    pub fn field(&mut self, field: &str) -> String {
        info_field(&self.cmd_str(&["INFO"]), field).unwrap_or_default()
    }

    /// True when the server closed the connection (EOF) within the timeout.
    pub fn is_closed(&mut self) -> bool {
        let mut tmp = [0u8; 1024];
        loop {
            match self.stream.read(&mut tmp) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => {
                    return e.kind() != std::io::ErrorKind::WouldBlock
                        && e.kind() != std::io::ErrorKind::TimedOut
                }
            }
        }
    }
}

/// A value of INFO's `field:value` lines.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

/// Compares COMMAND INFO and COMMAND DOCS of every name in `names` on `ours` with `real`, in
/// RESP2 and RESP3, byte for byte; returns how many entries were compared.
pub fn assert_command_entries_match(real: u16, ours: u16, names: &[&str]) -> usize {
    let mut compared = 0;
    for proto in ["2", "3"] {
        let (mut a, mut b) = (Client::connect(real), Client::connect(ours));
        a.cmd_str(&["HELLO", proto]);
        b.cmd_str(&["HELLO", proto]);
        for n in names {
            for sub in ["INFO", "DOCS"] {
                let want = a.cmd_str(&["COMMAND", sub, n]);
                assert_eq!(
                    b.cmd_str(&["COMMAND", sub, n]),
                    want,
                    "COMMAND {sub} {n}, RESP{proto}"
                );
            }
            compared += 1;
        }
    }
    compared
}
