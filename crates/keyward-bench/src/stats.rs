//! The statistics the benchmarks report, computed one way: a percentile by nearest rank, and
//! the median.

/// The `p` percentile (0 to 1) of samples sorted in ascending order, by nearest rank; the
/// type's default (zero) when there are none.
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The median of `values`, in any order.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile(&values, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_and_zero_without_samples() {
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!((percentile(&sorted, 0.5), percentile(&sorted, 0.99), percentile(&sorted, 1.0)), (51, 99, 100));
        assert_eq!(percentile::<u32>(&[], 0.5), 0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    }
}
