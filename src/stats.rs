//! Small statistics: the Wilson score interval and nearest-rank percentiles.

/// The Wilson score interval for `failures` out of `n` at normal quantile `z`.
/// Returns `(lower, upper)`; `(0, 1)` when there are no samples.
pub fn wilson(failures: u32, n: u32, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = failures as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let margin = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    ((center - margin).max(0.0), (center + margin).min(1.0))
}

/// The nearest-rank percentile `p` (0–100) of `values`, sorting them in place. `None` when empty.
pub fn percentile(values: &mut [u32], p: u32) -> Option<u32> {
    values.sort_unstable();
    percentile_sorted(values, p)
}

/// The nearest-rank percentile `p` (0–100) of ascending `sorted`; `None` when empty. Shared by
/// the evaluator and the rollups so both report the same figure for the same samples.
pub fn percentile_sorted(sorted: &[u32], p: u32) -> Option<u32> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    // rank = ceil(p/100 * n), at least 1: integer arithmetic avoids float rounding at edges.
    let rank = (p.min(100) as usize * n).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_published_values() {
        // 12 of 20 at 95%: (0.387, 0.781) as in standard tables.
        let (lo, hi) = wilson(12, 20, 1.96);
        assert!(
            (lo - 0.387).abs() < 0.002 && (hi - 0.781).abs() < 0.002,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 0, 1.96), (0.0, 1.0));
        let (lo, _) = wilson(0, 50, 2.576);
        assert_eq!(lo, 0.0);
    }

    #[test]
    fn nearest_rank() {
        let mut v = vec![5, 1, 4, 2, 3];
        assert_eq!(percentile(&mut v, 50), Some(3));
        assert_eq!(percentile(&mut v, 95), Some(5));
        assert_eq!(percentile(&mut v, 0), Some(1));
        assert_eq!(percentile(&mut [], 50), None);
    }
}
