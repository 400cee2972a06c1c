//! Counters and histograms with labels: the in-house registry behind `/metrics`.
//!
//! A [`Family`] maps label values to one series. Looking a series up takes the family's
//! mutex, so hot paths look it up once and keep the `Arc` (the scheduler does so per model
//! task); recording into a series is then a few relaxed atomic operations, no lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::text::{format_value, Encoder, Kind};

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A histogram with fixed upper bounds. Buckets are stored non-cumulative (one increment
/// per observation) and summed into Prometheus' cumulative form when rendered.
#[derive(Debug)]
pub struct Histogram {
    bounds: Arc<[f64]>,
    /// One per bound, plus the last for observations above every bound (`+Inf` only).
    buckets: Box<[AtomicU64]>,
    /// The sum of observations, as `f64` bits (updated by compare-and-swap).
    sum: AtomicU64,
    count: AtomicU64,
}

/// A consistent copy of a histogram's figures: cumulative bucket counts, sum, count.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub cumulative: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn new(bounds: Arc<[f64]>) -> Histogram {
        let buckets = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram {
            bounds,
            buckets,
            sum: AtomicU64::new(0f64.to_bits()),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, v: f64) {
        // `le` is inclusive: a value equal to a bound belongs to that bound's bucket.
        let i = self.bounds.partition_point(|&b| b < v);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let mut old = self.sum.load(Ordering::Relaxed);
        loop {
            let new = (f64::from_bits(old) + v).to_bits();
            match self
                .sum
                .compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(current) => old = current,
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let mut cumulative = Vec::with_capacity(self.buckets.len());
        for (i, bucket) in self.buckets.iter().enumerate() {
            running += bucket.load(Ordering::Relaxed);
            let le = self.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            cumulative.push((le, running));
        }
        HistogramSnapshot {
            cumulative,
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
            // The `+Inf` bucket *is* the count; deriving it keeps the two equal even if an
            // observation is half-recorded while we read.
            count: running,
        }
    }
}

/// Makes a new series of a family.
pub trait Series: Send + Sync {
    fn create(bounds: &Arc<[f64]>) -> Self;
}

impl Series for Counter {
    fn create(_: &Arc<[f64]>) -> Counter {
        Counter::default()
    }
}

impl Series for Histogram {
    fn create(bounds: &Arc<[f64]>) -> Histogram {
        Histogram::new(Arc::clone(bounds))
    }
}

/// A named metric with label names; one series per distinct set of label values.
pub struct Family<T> {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    bounds: Arc<[f64]>,
    series: Mutex<BTreeMap<Vec<String>, Arc<T>>>,
}

impl<T: Series> Family<T> {
    fn with_bounds(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        bounds: &[f64],
    ) -> Family<T> {
        Family {
            name,
            help,
            labels,
            bounds: bounds.into(),
            series: Mutex::new(BTreeMap::new()),
        }
    }

    /// The series for these label values (in the order of the family's label names),
    /// created on first use.
    pub fn with(&self, values: &[&str]) -> Arc<T> {
        debug_assert_eq!(values.len(), self.labels.len(), "{}", self.name);
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            series
                .entry(key)
                .or_insert_with(|| Arc::new(T::create(&self.bounds))),
        )
    }

    /// Every series, sorted by label values (stable output).
    fn all(&self) -> Vec<(Vec<String>, Arc<T>)> {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        series
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }

    fn label_pairs<'a>(&'a self, values: &'a [String]) -> Vec<(&'a str, &'a str)> {
        self.labels
            .iter()
            .copied()
            .zip(values.iter().map(String::as_str))
            .collect()
    }
}

impl Family<Counter> {
    /// A counter family. Counter names end in `_total`.
    pub fn counter(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Family<Counter> {
        debug_assert!(name.ends_with("_total"), "{name}");
        Family::with_bounds(name, help, labels, &[])
    }

    pub fn render(&self, e: &mut Encoder) {
        e.family(self.name, self.help, Kind::Counter);
        for (values, counter) in self.all() {
            e.sample(self.name, &self.label_pairs(&values), counter.get() as f64);
        }
    }
}

impl Family<Histogram> {
    /// A histogram family with these upper bounds (ascending, finite; `+Inf` is implied).
    pub fn histogram(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        bounds: &[f64],
    ) -> Family<Histogram> {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{name}");
        Family::with_bounds(name, help, labels, bounds)
    }

    pub fn render(&self, e: &mut Encoder) {
        e.family(self.name, self.help, Kind::Histogram);
        let bucket = format!("{}_bucket", self.name);
        let sum = format!("{}_sum", self.name);
        let count = format!("{}_count", self.name);
        for (values, histogram) in self.all() {
            let labels = self.label_pairs(&values);
            let snap = histogram.snapshot();
            for (le, n) in &snap.cumulative {
                let le = format_value(*le);
                let mut with_le = labels.clone();
                with_le.push(("le", &le));
                e.sample(&bucket, &with_le, *n as f64);
            }
            e.sample(&sum, &labels, snap.sum);
            e.sample(&count, &labels, snap.count as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_in_inf() {
        let f = Family::histogram("h_seconds", "help", &["m"], &[0.5, 1.0]);
        let h = f.with(&["a"]);
        for v in [0.25, 0.5, 0.75, 3.0] {
            h.observe(v);
        }
        let mut e = Encoder::new();
        f.render(&mut e);
        assert_eq!(
            e.finish(),
            "# HELP h_seconds help\n# TYPE h_seconds histogram\n\
             h_seconds_bucket{m=\"a\",le=\"0.5\"} 2\n\
             h_seconds_bucket{m=\"a\",le=\"1\"} 3\n\
             h_seconds_bucket{m=\"a\",le=\"+Inf\"} 4\n\
             h_seconds_sum{m=\"a\"} 4.5\n\
             h_seconds_count{m=\"a\"} 4\n"
        );
    }

    #[test]
    fn counters_share_a_series_per_label_set() {
        let f = Family::counter("c_total", "help", &["x"]);
        f.with(&["b"]).inc();
        f.with(&["a"]).add(2);
        f.with(&["b"]).inc();
        let mut e = Encoder::new();
        f.render(&mut e);
        assert!(e
            .finish()
            .ends_with("c_total{x=\"a\"} 2\nc_total{x=\"b\"} 2\n"));
    }
}
