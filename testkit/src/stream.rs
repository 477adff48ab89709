//! A replica's view of a master's stream, for tests of what is propagated.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A replica's view of the stream: SYNC, skip the snapshot, then read what follows.
pub struct StreamReader {
    s: TcpStream,
    buf: Vec<u8>,
}

impl StreamReader {
    pub fn attach(port: u16) -> StreamReader {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        s.write_all(b"SYNC\r\n").unwrap();
        let mut r = StreamReader { s, buf: Vec::new() };
        // Newlines (keepalives) until `$<len>\r\n`, then the payload, no trailing CRLF.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            while r.buf.first() == Some(&b'\n') {
                r.buf.remove(0);
            }
            if let Some(end) = r.buf.windows(2).position(|w| w == b"\r\n") {
                let len: usize = std::str::from_utf8(&r.buf[1..end])
                    .unwrap()
                    .parse()
                    .unwrap();
                if r.buf.len() >= end + 2 + len {
                    r.buf.drain(..end + 2 + len);
                    return r;
                }
            }
            assert!(Instant::now() < deadline, "no snapshot after SYNC");
            r.fill();
        }
    }

    fn fill(&mut self) {
        let mut tmp = [0u8; 65536];
        if let Ok(n) = self.s.read(&mut tmp) {
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }

    /// Every command up to and including `last` (a marker write the test sends at the end).
    pub fn until(&mut self, last: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let line = self.next_command();
            let done = line == last;
            seen.push(line);
            if done {
                return seen;
            }
        }
    }

    /// The next command that is not a PING, in lower case, arguments joined by spaces.
    pub fn next_command(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(n) = crate::frame_len(&self.buf) {
                let frame: Vec<u8> = self.buf.drain(..n).collect();
                let text = String::from_utf8_lossy(&frame).into_owned();
                let parts: Vec<&str> = text.split("\r\n").collect();
                let args: Vec<String> = parts[1..]
                    .chunks(2)
                    .filter(|p| p.len() == 2)
                    .map(|p| p[1].to_string())
                    .collect();
                let line = args.join(" ").to_lowercase();
                if line != "ping" {
                    return line;
                }
                continue;
            }
            assert!(Instant::now() < deadline, "the stream stopped");
            self.fill();
        }
    }
}
