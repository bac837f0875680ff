//! Rate and client-CPU samples of repeated runs, reported as medians (shared by the
//! `compare` and `copy_out_compare` examples).
// Each example uses the part it needs.
#![allow(dead_code)]

use std::time::Duration;

#[derive(Default)]
pub(crate) struct Samples {
    rate: Vec<f64>,
    cpu_us: Vec<f64>,
}

impl Samples {
    /// One run: `units` (rows, connects, ...) in `wall` time using `cpu` of client CPU.
    pub(crate) fn add(&mut self, units: u64, wall: Duration, cpu: Duration) {
        self.rate.push(units as f64 / wall.as_secs_f64());
        self.cpu_us.push(cpu.as_secs_f64() * 1e6 / units as f64);
    }

    /// Whether no run was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.rate.is_empty()
    }

    fn median(v: &[f64]) -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }

    /// Median units per second.
    pub(crate) fn rate(&self) -> f64 {
        Self::median(&self.rate)
    }

    /// Median client CPU per unit, in microseconds.
    pub(crate) fn cpu(&self) -> f64 {
        Self::median(&self.cpu_us)
    }
}
