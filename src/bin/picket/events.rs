//! The sentinels' events: one `PSUBSCRIBE *` per sentinel (reconnecting when a sentinel
//! restarts), merged into one stream, the copies that several sentinels publish of the same
//! event shown once, each with its time. `picket events`, `up` and `failover` read it.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use crate::resp::{items, text, Addr, Conn, Frame};
use crate::term::{clock, epoch_ms, Style};

/// What the listeners report.
#[derive(Debug)]
pub enum Report {
    /// The subscription to this sentinel is in place.
    Subscribed(Addr),
    /// The connection to this sentinel is gone (it reconnects by itself).
    Lost(Addr, String),
    Event(Event),
}

/// One event as a sentinel published it.
#[derive(Clone, Debug)]
pub struct Event {
    pub at: SystemTime,
    pub source: Addr,
    pub channel: String,
    pub message: String,
}

impl Event {
    /// A line for people: time, event, its arguments, which sentinel said it first.
    pub fn line(&self, style: Style) -> String {
        let name = match self.channel.as_bytes().first() {
            Some(b'+') => style.green(&self.channel),
            Some(b'-') => style.red(&self.channel),
            _ => style.yellow(&self.channel),
        };
        format!(
            "{}  {name} {}  {}",
            style.dim(&clock(self.at)),
            self.message,
            style.dim(&format!("(sentinel {})", self.source))
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "time_ms": epoch_ms(self.at) as u64,
            "sentinel": self.source.to_string(),
            "event": self.channel,
            "message": self.message,
        })
    }
}

/// The file in a group's DIR where `picket up` keeps every event, one JSON object a line.
pub const LOG_FILE: &str = "events.log";

/// Appends `e` to the event log (best effort: the stream on the terminal matters more).
pub fn append_log(path: &std::path::Path, e: &Event) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::File::options()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{}", e.json());
    }
}

/// Starts a listener per sentinel; every report arrives on the returned channel.
pub fn listen(sentinels: &[Addr]) -> mpsc::UnboundedReceiver<Report> {
    let (tx, rx) = mpsc::unbounded_channel();
    for addr in sentinels {
        tokio::spawn(follow(addr.clone(), tx.clone()));
    }
    rx
}

async fn follow(addr: Addr, tx: mpsc::UnboundedSender<Report>) {
    let mut reported_loss = false;
    loop {
        let err = match subscribe(&addr, &tx).await {
            Ok(()) => return, // the receiver is gone
            Err(e) => e,
        };
        if !reported_loss && tx.send(Report::Lost(addr.clone(), err)).is_err() {
            return;
        }
        reported_loss = true;
        tokio::time::sleep(Duration::from_millis(300)).await;
        if tx.is_closed() {
            return;
        }
    }
}

/// Subscribes and forwards until the connection fails (`Err`) or nobody listens (`Ok`).
async fn subscribe(addr: &Addr, tx: &mpsc::UnboundedSender<Report>) -> Result<(), String> {
    let mut conn = Conn::connect(addr).await?;
    conn.send(&["PSUBSCRIBE", "*"]).await?;
    loop {
        let frame = conn.read().await?;
        let parts = items(&frame);
        let kind = parts.first().map(text).unwrap_or_default();
        let report = match (kind.as_str(), parts) {
            ("psubscribe", _) => Report::Subscribed(addr.clone()),
            ("pmessage", [_, _, channel, message]) => Report::Event(Event {
                at: SystemTime::now(),
                source: addr.clone(),
                channel: text(channel),
                message: text(message),
            }),
            _ if matches!(frame, Frame::Error(_)) => return Err(text(&frame)),
            _ => continue,
        };
        if tx.send(report).is_err() {
            return Ok(());
        }
    }
}

/// Drops the copies of an event that other sentinels publish within a few seconds.
pub struct Dedup {
    window: Duration,
    recent: VecDeque<(Instant, String, String)>,
}

impl Default for Dedup {
    fn default() -> Self {
        Dedup {
            window: Duration::from_secs(3),
            recent: VecDeque::new(),
        }
    }
}

impl Dedup {
    /// Whether `e` is the first copy seen.
    pub fn first(&mut self, e: &Event, now: Instant) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|(t, _, _)| now.duration_since(*t) > self.window)
        {
            self.recent.pop_front();
        }
        let seen = self
            .recent
            .iter()
            .any(|(_, c, m)| *c == e.channel && *m == e.message);
        if !seen {
            self.recent
                .push_back((now, e.channel.clone(), e.message.clone()));
        }
        !seen
    }
}

/// The address a `+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>` names.
pub fn switched_to(e: &Event, master: &str) -> Option<Addr> {
    if e.channel != "+switch-master" {
        return None;
    }
    let w: Vec<&str> = e.message.split(' ').collect();
    match w.as_slice() {
        [name, _, _, ip, port] if *name == master => Some(Addr {
            host: ip.to_string(),
            port: port.parse().ok()?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(source: u16, channel: &str, message: &str) -> Event {
        Event {
            at: SystemTime::now(),
            source: Addr::local(source),
            channel: channel.into(),
            message: message.into(),
        }
    }

    #[test]
    fn copies_from_other_sentinels_are_dropped_inside_the_window() {
        let mut d = Dedup::default();
        let t = Instant::now();
        let a = ev(1, "+sdown", "master mymaster 127.0.0.1 7000");
        assert!(d.first(&a, t));
        assert!(!d.first(&ev(2, "+sdown", "master mymaster 127.0.0.1 7000"), t));
        assert!(d.first(
            &ev(2, "+odown", "master mymaster 127.0.0.1 7000 #quorum 2/2"),
            t
        ));
        assert!(
            d.first(&a, t + Duration::from_secs(4)),
            "a later repeat is news"
        );
    }

    #[test]
    fn switch_master_names_the_new_address() {
        let e = ev(
            1,
            "+switch-master",
            "mymaster 127.0.0.1 7000 127.0.0.1 7002",
        );
        assert_eq!(switched_to(&e, "mymaster"), Some(Addr::local(7002)));
        assert_eq!(switched_to(&e, "other"), None);
        assert_eq!(switched_to(&ev(1, "+sdown", "x"), "mymaster"), None);
    }
}
