//! The benchmark report format (docs/bench.md): a table for people, JSON for tools.

use std::{path::PathBuf, time::SystemTime};

use serde::Serialize;

/// Whether a bigger figure is better.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Bigger is better (throughput).
    Higher,
    /// Smaller is better (gas, latency).
    Lower,
}

/// One measured figure.
#[derive(Clone, Debug, Serialize)]
pub struct Metric {
    /// Stable dotted key.
    pub key: String,
    /// The figure.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// Which way is better.
    pub better: Better,
    /// Operations it was measured over.
    pub n: u64,
}

/// The machine a report was measured on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Logical cores.
    pub cores: usize,
    /// CPU model.
    pub cpu: String,
    /// GPU, if one was used.
    pub gpu: Option<String>,
}

impl Machine {
    /// Reads this machine's description.
    pub fn detect() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Self { cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), cpu, gpu: None }
    }
}

/// A benchmark's report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Benchmark name (`l1`, `rollup`, ...).
    pub bench: String,
    /// The command that produced it.
    pub command: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Where.
    pub machine: Machine,
    /// The figures.
    pub metrics: Vec<Metric>,
}

impl Report {
    /// A new, empty report for `bench`.
    pub fn new(bench: &str) -> Self {
        let command = std::env::args()
            .enumerate()
            .map(|(i, a)| if i == 0 { "loft".to_string() } else { a })
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            bench: bench.to_string(),
            command,
            at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            machine: Machine::detect(),
            metrics: vec![],
        }
    }

    /// Adds a figure.
    pub fn push(&mut self, key: &str, value: f64, unit: &str, better: Better, n: u64) {
        self.metrics.push(Metric { key: key.into(), value, unit: unit.into(), better, n });
    }

    /// Prints the table and writes `target/loft-bench/NAME.json`; returns the path.
    pub fn finish(&self) -> anyhow::Result<PathBuf> {
        println!("\n{:<48} {:>14} {:<8} {:>8}", "metric", "value", "unit", "n");
        for m in &self.metrics {
            println!("{:<48} {:>14.1} {:<8} {:>8}", m.key, m.value, m.unit, m.n);
        }
        let dir = bench_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}.json", self.bench));
        std::fs::write(&path, serde_json::to_string_pretty(self)?)?;
        println!("\nwrote {}", path.display());
        Ok(path)
    }
}

/// `target/loft-bench` under the workspace (or `LOFT_BENCH_DIR`).
pub fn bench_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("LOFT_BENCH_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from("target/loft-bench")
}

/// Median of a non-empty sample.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

/// The `p`-th percentile (nearest rank) of a non-empty sample.
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    if values.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}
