//! The `__sentinel__:hello` payload: exactly 8 comma-separated fields,
//! `ip,port,runid,current_epoch,master_name,master_ip,master_port,master_config_epoch`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub ip: String,
    pub port: u16,
    pub runid: String,
    pub current_epoch: u64,
    pub master_name: String,
    pub master_ip: String,
    pub master_port: u16,
    pub master_config_epoch: u64,
}

impl Hello {
    pub fn encode(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{}",
            self.ip,
            self.port,
            self.runid,
            self.current_epoch,
            self.master_name,
            self.master_ip,
            self.master_port,
            self.master_config_epoch
        )
    }

    /// Parses a payload; `None` unless it has exactly 8 well-formed fields.
    pub fn parse(payload: &str) -> Option<Hello> {
        let f: Vec<&str> = payload.split(',').collect();
        if f.len() != 8 {
            return None;
        }
        Some(Hello {
            ip: f[0].to_string(),
            port: f[1].parse().ok()?,
            runid: f[2].to_string(),
            current_epoch: f[3].parse().ok()?,
            master_name: f[4].to_string(),
            master_ip: f[5].to_string(),
            master_port: f[6].parse().ok()?,
            master_config_epoch: f[7].parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p =
            "127.0.0.1,26400,ea60f60cca5798db3e3689f1d591b59624aa1eb8,3,mymaster,127.0.0.1,16401,3";
        let h = Hello::parse(p).unwrap();
        assert_eq!(h.encode(), p);
        assert!(Hello::parse("a,b").is_none());
        assert!(Hello::parse("127.0.0.1,x,id,1,m,1.2.3.4,1,1").is_none());
    }
}
