//! Softplus, read off a table.

/// ln(1 + eˣ), as max(x, 0) + ln(1 + e^−|x|), the second term read off a table with
/// linear interpolation: off by at most 2·10⁻⁶ (the step² / 8 times the curve's largest
/// bend, ¼), rather than `exp` and `ln_1p` for each of a rated reader's 2,000 papers
/// (docs/performance.md, matching).
pub(super) fn softplus(x: f32) -> f32 {
    Softplus::table().at(x)
}

/// ln(1 + e^−u) for u = 0, 1/128, … 16, then two zeros (e^−16 is 10⁻⁷): a larger u reads
/// the zeros, so no branch is needed.
pub(super) struct Softplus(Vec<f32>);

/// Table points per unit of |x|.
const SOFTPLUS_STEPS: f32 = 128.0;

impl Softplus {
    pub(super) fn table() -> &'static Self {
        static TABLE: std::sync::LazyLock<Softplus> = std::sync::LazyLock::new(|| {
            let mut t: Vec<f32> = (0..=16 * SOFTPLUS_STEPS as usize)
                .map(|i| (-(i as f64) / f64::from(SOFTPLUS_STEPS)).exp().ln_1p() as f32)
                .collect();
            t.extend([0.0, 0.0]);
            Softplus(t)
        });
        &TABLE
    }

    #[inline]
    pub(super) fn at(&self, x: f32) -> f32 {
        let u = x.abs() * SOFTPLUS_STEPS;
        // `as` saturates (and takes NaN to 0); the last point is a zero after a zero.
        let i = (u as usize).min(self.0.len() - 2);
        let f = u - i as f32;
        let tail = self.0[i] + f * (self.0[i + 1] - self.0[i]);
        x.max(0.0) + tail
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn softplus_follows_the_exact_curve() {
        for i in -4000..4000 {
            let x = i as f32 / 97.0;
            let exact = (f64::from(x).exp()).ln_1p() as f32;
            let got = super::softplus(x);
            assert!(
                (got - exact).abs() < 3e-6,
                "softplus({x}) = {got}, not {exact}"
            );
        }
        assert_eq!(super::softplus(100.0), 100.0);
        assert_eq!(super::softplus(-100.0), 0.0);
    }
}
