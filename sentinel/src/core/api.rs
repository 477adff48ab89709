//! The state changes SENTINEL commands make: MONITOR, REMOVE, SET, RESET, FAILOVER,
//! IS-MASTER-DOWN-BY-ADDR, CKQUORUM. Replies and their shapes live in the server layer.

use super::model::*;
use super::{Level, Sentinel, Who};
use picket::glob::glob_match;

impl Sentinel {
    /// IS-MASTER-DOWN-BY-ADDR: (down, leader or "*", leader epoch); votes when `runid` ≠ "*".
    pub fn is_master_down_by_addr(
        &mut self,
        ip: &str,
        port: u16,
        req_epoch: u64,
        runid: &str,
        now: u64,
    ) -> (bool, String, u64) {
        let found = self
            .masters
            .iter()
            .find(|(_, x)| x.inst.host == ip && x.inst.port == port)
            .map(|(n, x)| (n.clone(), x.inst.s_down));
        let isdown = !self.tilt && found.as_ref().map(|f| f.1).unwrap_or(false);
        let mut leader = ("*".to_string(), 0);
        if let Some((name, _)) = found {
            if runid != "*" {
                let (l, e) = self.vote_leader(&name, req_epoch, runid, now);
                leader = (l.unwrap_or_else(|| "*".into()), e);
            }
        }
        (isdown, leader.0, leader.1)
    }

    /// SENTINEL MONITOR / the `sentinel monitor` directive.
    pub fn monitor(
        &mut self,
        name: &str,
        host: &str,
        port: i64,
        quorum: i64,
        now: u64,
        announce: bool,
    ) -> Result<(), String> {
        if quorum <= 0 {
            return Err("Quorum must be 1 or greater.".into());
        }
        if !(0..=65535).contains(&port) {
            return Err("Invalid port number.".into());
        }
        if self.masters.contains_key(name) {
            return Err("Duplicate master name.".into());
        }
        let (ip, hostname) = if host.parse::<std::net::IpAddr>().is_ok() {
            (host.to_string(), None)
        } else {
            let resolved = if self.globals.resolve_hostnames {
                self.globals.resolver.and_then(|r| r(host))
            } else {
                None
            };
            match resolved {
                Some(ip) => (ip, Some(host.to_string())),
                None => return Err("Can't resolve instance hostname.".into()),
            }
        };
        let mut m = Master::new(name.to_string(), ip, port as u16, quorum as u32, now);
        m.inst.hostname = hostname;
        m.down_after = self.timing.default_down_after;
        m.failover_timeout = self.timing.default_failover_timeout;
        self.masters.insert(name.to_string(), m);
        if announce {
            self.event(
                Level::Warning,
                "+monitor",
                name,
                &Who::Master,
                &format!(" quorum {quorum}"),
            );
            self.persist();
        }
        Ok(())
    }

    /// SENTINEL REMOVE.
    pub fn remove(&mut self, name: &str, now: u64) -> bool {
        if !self.masters.contains_key(name) {
            return false;
        }
        self.event(Level::Warning, "-monitor", name, &Who::Master, "");
        self.reset_master(name, true, now);
        self.masters.remove(name);
        self.persist();
        true
    }

    /// SENTINEL RESET pattern: forgets replicas and sentinels of matching masters.
    pub fn reset(&mut self, pattern: &[u8], now: u64) -> usize {
        let names: Vec<String> = self
            .masters
            .keys()
            .filter(|n| glob_match(pattern, n.as_bytes(), false))
            .cloned()
            .collect();
        for n in &names {
            self.reset_master(n, true, now);
            self.event(Level::Warning, "+reset-master", n, &Who::Master, "");
        }
        names.len()
    }

    /// SENTINEL FAILOVER: a forced failover, no agreement needed.
    pub fn force_failover(
        &mut self,
        name: &str,
        now: u64,
        coordinated: bool,
    ) -> Result<(), String> {
        let Some(x) = self.masters.get(name) else {
            return Err("ERR No such master with that name".into());
        };
        if x.failover != FailoverState::None {
            return Err("INPROG Failover already in progress".into());
        }
        if self.select_replica(name, now).is_none() {
            return Err("NOGOODSLAVE No suitable replica to promote".into());
        }
        // Fencing: no vote was taken, so the other sentinels may still be granting the old
        // master its lease; only pausing its writes and waiting for the chosen replica to have
        // them all (the coordinated switch) keeps every acknowledged write (docs/fencing.md).
        let coordinated = coordinated || x.fencing.is_some();
        self.start_failover(name, now);
        if let Some(x) = self.masters.get_mut(name) {
            x.force_failover = true;
            x.coordinated = coordinated.then(Coordination::default);
        }
        Ok(())
    }

    /// SENTINEL CKQUORUM: Ok(text) or Err(text), both without the leading status code.
    pub fn ckquorum(&self, name: &str) -> Option<Result<String, String>> {
        let x = self.masters.get(name)?;
        let voters = x.sentinels.len() + 1;
        let usable = 1 + x.sentinels.values().filter(|p| !p.inst.s_down).count();
        let mut err = String::new();
        if usable < x.quorum as usize {
            err.push_str(
                "Not enough available Sentinels to reach the specified quorum for this master",
            );
        }
        if usable < voters / 2 + 1 {
            if !err.is_empty() {
                err.push_str(". ");
            }
            err.push_str(
                "Not enough available Sentinels to reach the majority and authorize a failover",
            );
        }
        if err.is_empty() {
            Some(Ok(format!(
                "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
            )))
        } else {
            Some(Err(format!("NOQUORUM {usable} usable Sentinels. {err}")))
        }
    }

    /// SENTINEL SET name option value ...: applies options in order; the first invalid one
    /// stops with its error (earlier ones stay applied, as in Redis).
    pub fn set_options(&mut self, name: &str, args: &[String], now: u64) -> Result<bool, String> {
        if !self.masters.contains_key(name) {
            return Err("ERR No such master with that name".into());
        }
        let mut changed = false;
        let mut i = 0;
        while i < args.len() {
            let opt = args[i].to_ascii_lowercase();
            let bad = |v: &str| format!("ERR Invalid argument '{}' for SENTINEL SET '{}'", v, opt);
            let need = if opt == "rename-command" { 2 } else { 1 };
            if i + need >= args.len() {
                return Err(format!(
                    "ERR Unknown option or number of arguments for SENTINEL SET '{}'",
                    opt
                ));
            }
            let val = args.get(i + 1).cloned().unwrap_or_default();
            let num = val.parse::<i64>();
            let Some(x) = self.masters.get_mut(name) else {
                break;
            };
            let shown = match opt.as_str() {
                "down-after-milliseconds" => match num {
                    Ok(n) if n > 0 => {
                        x.down_after = n as u64;
                        val.clone()
                    }
                    _ => return Err(bad(&val)),
                },
                "failover-timeout" => match num {
                    Ok(n) if n > 0 => {
                        x.failover_timeout = n as u64;
                        val.clone()
                    }
                    _ => return Err(bad(&val)),
                },
                "fencing" => match num {
                    Ok(0) => {
                        x.fencing = None;
                        val.clone()
                    }
                    Ok(n) if n > 0 => {
                        let f = x.fencing.get_or_insert_with(Default::default);
                        f.acks = n as u32;
                        val.clone()
                    }
                    _ => return Err(bad(&val)),
                },
                "parallel-syncs" => match num {
                    Ok(n) if n > 0 => {
                        x.parallel_syncs = n as u32;
                        val.clone()
                    }
                    _ => return Err(bad(&val)),
                },
                "quorum" => match num {
                    Ok(n) if n > 0 => {
                        x.quorum = n as u32;
                        val.clone()
                    }
                    _ => return Err(bad(&val)),
                },
                "master-reboot-down-after-period" => match num {
                    Ok(n) if n >= 0 => {
                        x.reboot_down_after = n as u64;
                        val.clone()
                    }
                    _ => return Err(bad(&val)),
                },
                "notification-script" | "client-reconfig-script" => {
                    if self.globals.deny_scripts_reconfig {
                        return Err("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration".into());
                    }
                    if !val.is_empty() && !is_executable(&val) {
                        return Err(if opt == "notification-script" {
                            "ERR Notification script seems non existing or non executable"
                        } else {
                            "ERR Client reconfiguration script seems non existing or non executable"
                        }
                        .into());
                    }
                    let v = (!val.is_empty()).then(|| val.clone());
                    if opt == "notification-script" {
                        x.notification_script = v;
                    } else {
                        x.client_reconfig_script = v;
                    }
                    val.clone()
                }
                "auth-pass" => {
                    x.auth_pass = (!val.is_empty()).then(|| val.clone());
                    "******".to_string()
                }
                "auth-user" => {
                    x.auth_user = (!val.is_empty()).then(|| val.clone());
                    val.clone()
                }
                "rename-command" => {
                    let new = args.get(i + 2).cloned().unwrap_or_default();
                    x.renamed.retain(|(a, _)| !a.eq_ignore_ascii_case(&val));
                    if !val.eq_ignore_ascii_case(&new) {
                        x.renamed.push((val.to_ascii_lowercase(), new.clone()));
                    }
                    format!("{val} {new}")
                }
                _ => {
                    return Err(format!(
                        "ERR Unknown option or number of arguments for SENTINEL SET '{}'",
                        opt
                    ))
                }
            };
            if opt == "down-after-milliseconds" {
                // Replicas and sentinels use the master's down-after.
            }
            if opt == "auth-pass" || opt == "auth-user" || opt == "rename-command" {
                let reps: Vec<String> = self
                    .masters
                    .get(name)
                    .map(|x| x.replicas.keys().cloned().collect())
                    .unwrap_or_default();
                self.close_links(name, &Who::Master);
                for r in reps {
                    self.close_links(name, &Who::Replica(r));
                }
            }
            self.event(
                Level::Warning,
                "+set",
                name,
                &Who::Master,
                &format!(" {opt} {shown}"),
            );
            changed = true;
            i += need + 1;
        }
        let _ = now;
        if changed {
            self.persist();
        }
        Ok(changed)
    }
}

/// True when `path` exists and is executable.
pub fn is_executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
