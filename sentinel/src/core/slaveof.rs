//! Reconfiguring a node: the MULTI / SLAVEOF / CONFIG REWRITE / CLIENT KILL / EXEC block a
//! sentinel sends to promote, demote or fix a replica, and how hosts are named in it.

use super::{Sentinel, Tag, Who};

impl Sentinel {
    /// The host to put in SLAVEOF: with `announce-hostnames yes`, the hostname an instance of
    /// this group was configured by (Redis sends `announceSentinelAddr`), else the IP.
    pub(crate) fn slaveof_host(&self, m: &str, ip: &str) -> String {
        if !self.globals.announce_hostnames {
            return ip.to_string();
        }
        let Some(x) = self.masters.get(m) else {
            return ip.to_string();
        };
        std::iter::once(&x.inst)
            .chain(x.replicas.values().map(|r| &r.inst))
            .find(|i| i.host == ip && i.hostname.is_some())
            .and_then(|i| i.hostname.clone())
            .unwrap_or_else(|| ip.to_string())
    }

    /// Whether a replica's reported `master_host` names `ip` (as the IP, or as the hostname
    /// SLAVEOF sent under `announce-hostnames yes`).
    pub(crate) fn names_host(&self, m: &str, reported: Option<&str>, ip: &str) -> bool {
        match reported {
            Some(r) => r == ip || r.eq_ignore_ascii_case(&self.slaveof_host(m, ip)),
            None => false,
        }
    }

    /// MULTI / SLAVEOF host port (or NO ONE) / CONFIG REWRITE / CLIENT KILL TYPE normal /
    /// CLIENT KILL TYPE pubsub / EXEC, with the master's renamed command names.
    pub(crate) fn send_slaveof(
        &mut self,
        m: &str,
        who: &Who,
        target: Option<(String, u16)>,
    ) -> bool {
        let Some(master) = self.masters.get(m) else {
            return false;
        };
        let (multi, slaveof, config, client, exec) = (
            master.cmd("MULTI"),
            master.cmd("SLAVEOF"),
            master.cmd("CONFIG"),
            master.cmd("CLIENT"),
            master.cmd("EXEC"),
        );
        let connected = self
            .inst(m, who)
            .map(|i| i.link.cc_connected)
            .unwrap_or(false);
        if !connected {
            return false;
        }
        let so = match target {
            Some((h, p)) => vec![slaveof, self.slaveof_host(m, &h), p.to_string()],
            None => vec![slaveof, "NO".into(), "ONE".into()],
        };
        let cmds = vec![
            vec![multi],
            so,
            vec![config, "REWRITE".into()],
            vec![
                client.clone(),
                "KILL".into(),
                "TYPE".into(),
                "normal".into(),
            ],
            vec![client, "KILL".into(), "TYPE".into(), "pubsub".into()],
            vec![exec],
        ];
        for c in cmds {
            self.send(m, who, c, Tag::Ignore);
        }
        true
    }
}
