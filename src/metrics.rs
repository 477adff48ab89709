//! Prometheus metrics in the text format, built afresh at each scrape from the values the
//! server reports (the `prometheus-client` crate does the encoding). Names follow
//! redis_exporter where they overlap, so its dashboards work unchanged.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of one sample.
pub type Labels = Vec<(String, String)>;

/// One scrape's metrics.
#[derive(Default)]
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    /// A gauge with an integer value.
    pub fn gauge(&mut self, name: &str, help: &str, value: i64) {
        let g: Gauge = Gauge::default();
        g.set(value);
        self.registry.register(name, help, g);
    }

    /// A gauge with a fractional value.
    pub fn gauge_f64(&mut self, name: &str, help: &str, value: f64) {
        let g: Gauge<f64, AtomicU64> = Gauge::default();
        g.set(value);
        self.registry.register(name, help, g);
    }

    /// A counter; its samples are named `<name>_total`.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        let c: Counter = Counter::default();
        c.inc_by(value);
        self.registry.register(name, help, c);
    }

    /// A gauge with one sample per label set.
    pub fn gauges(&mut self, name: &str, help: &str, rows: &[(Labels, i64)]) {
        let f = Family::<Labels, Gauge>::default();
        for (labels, v) in rows {
            f.get_or_create(labels).set(*v);
        }
        self.registry.register(name, help, f);
    }

    /// A counter with one sample per label set (`<name>_total`).
    pub fn counters(&mut self, name: &str, help: &str, rows: &[(Labels, u64)]) {
        let f = Family::<Labels, Counter>::default();
        for (labels, v) in rows {
            f.get_or_create(labels).inc_by(*v);
        }
        self.registry.register(name, help, f);
    }

    /// A histogram of `observations` (seconds) over `buckets`.
    pub fn histogram(&mut self, name: &str, help: &str, buckets: &[f64], observations: &[f64]) {
        let h = Histogram::new(buckets.iter().copied());
        for o in observations {
            h.observe(*o);
        }
        self.registry.register(name, help, h);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// `label=value` pairs as metric labels, sorted by name as redis_exporter prints them.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    let mut l: Labels = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.sort();
    l
}

/// The fields of an INFO line like `db0:keys=1,expires=0` or `slave0:ip=...,port=...`.
pub fn info_kv(value: &str) -> Vec<(&str, &str)> {
    value
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_get_total_and_families_their_labels() {
        let mut m = Metrics::default();
        m.gauge("redis_up", "up", 1);
        m.counter("redis_commands_processed", "commands", 42);
        m.gauges("redis_db_keys", "keys", &[(labels(&[("db", "db0")]), 7)]);
        let text = m.render();
        assert!(text.contains("redis_up 1\n"), "{text}");
        assert!(
            text.contains("redis_commands_processed_total 42\n"),
            "{text}"
        );
        assert!(text.contains("redis_db_keys{db=\"db0\"} 7\n"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn info_lines_split_into_fields() {
        assert_eq!(info_kv("keys=1,expires=0,avg_ttl=0")[1], ("expires", "0"));
    }
}
