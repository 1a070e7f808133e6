//! Element-wise work fused into the matrix products' output pass: activations.

/// The activation applied to a product's output (after its bias).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// None: the affine map alone.
    Identity,
    /// Exact (erf) GELU, `x · ½(1 + erf(x/√2))`: torch's `nn.GELU()`.
    Gelu,
    /// OpenAI CLIP's `x · σ(1.702 x)`.
    QuickGelu,
}

impl Activation {
    /// Applies the activation to every element of `values`.
    #[inline(always)]
    pub(crate) fn apply(self, values: &mut [f32]) {
        match self {
            Activation::Identity => {}
            Activation::Gelu => values.iter_mut().for_each(|x| *x = gelu(*x)),
            Activation::QuickGelu => values.iter_mut().for_each(|x| *x = *x / (1.0 + (-1.702 * *x).exp())),
        }
    }
}

/// Exact GELU of one value (see [`erf`]).
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// Exact GELU over a buffer, in place, with the widest vector instructions this CPU has.
pub fn gelu_in_place(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        let cpu = crate::CpuFeatures::detect();
        if cpu.avx512f {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { gelu_avx512(values) };
        }
        if cpu.avx2_fma {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { gelu_avx2(values) };
        }
    }
    Activation::Gelu.apply(values);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn gelu_avx512(values: &mut [f32]) {
    Activation::Gelu.apply(values);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gelu_avx2(values: &mut [f32]) {
    Activation::Gelu.apply(values);
}

/// `e^x` for float32 without branches, so that loops over it vectorise: Cephes' `expf` (a
/// degree-6 polynomial on `x − n·ln 2`, scaled by `2ⁿ` through the exponent bits), within 2 ulp
/// for −87 ≤ x ≤ 88 (tested; softmax only needs x ≤ 0), 0 below, `+∞` above 88.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let (big, small) = (x > 88.0, x < -87.0);
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = n.mul_add(-0.693_359_4, x);
    let r = n.mul_add(2.121_944_4e-4, r);
    let p = [1.987_569_1e-4, 1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5]
        .iter()
        .fold(0.0_f32, |acc, &c| acc.mul_add(r, c));
    let e = p.mul_add(r * r, r) + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if big {
        f32::INFINITY
    } else if small {
        0.0
    } else {
        e * scale
    }
}

/// `softmax` of one row in place: `e^(x − max) / Σ`, with [`exp`] (the widest vector
/// instructions this CPU has).
pub fn softmax_in_place(row: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::CpuFeatures::detect().avx512f {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        return unsafe { softmax_avx512(row) };
    }
    softmax_portable(row);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn softmax_avx512(row: &mut [f32]) {
    softmax_portable(row);
}

#[inline(always)]
fn softmax_portable(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    row.iter_mut().for_each(|x| *x = exp(*x - max));
    let inv = 1.0 / row.iter().sum::<f32>();
    row.iter_mut().for_each(|x| *x *= inv);
}

/// erf for float32 without branches, so that loops over it vectorise: `x·P(x²)/Q(x²)` on
/// `x` clamped to ±4, where erf is ±1 in float32 (the rational approximation Eigen and XLA use;
/// within 1e-6 of the true value, checked in the tests).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ]
    .iter()
    .fold(0.0_f32, |acc, &c| acc.mul_add(x2, c));
    let q = [-1.456_607_2e-5, -2.133_740_6e-4, -1.682_827e-3, -7.373_329e-3, -1.426_474e-2]
        .iter()
        .fold(0.0_f32, |acc, &c| acc.mul_add(x2, c));
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf to double precision (Abramowitz–Stegun 7.1.26 is too coarse; this is the series
    /// for |x| < 3 and the continued fraction beyond), the truth the float32 kernel is held to.
    fn erf64(x: f64) -> f64 {
        if x.abs() < 3.0 {
            let (mut term, mut sum, mut n) = (x, x, 0.0);
            while term.abs() > 1e-17 * sum.abs().max(1e-300) {
                n += 1.0;
                term *= -x * x / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let mut fraction = 0.0;
            for n in (1..60).rev() {
                fraction = (n as f64 / 2.0) / (x.abs() + fraction);
            }
            let erfc = (-x * x).exp() / (std::f64::consts::PI.sqrt() * (x.abs() + fraction));
            x.signum() * (1.0 - erfc)
        }
    }

    #[test]
    fn erf_is_accurate_to_float32_everywhere() {
        let mut worst = 0.0_f64;
        for i in -80_000..=80_000 {
            let x = i as f64 / 10_000.0; // −8 … 8
            worst = worst.max((erf(x as f32) as f64 - erf64(x)).abs());
        }
        assert!(worst < 1e-6, "max |erf error| {worst}");
        assert!((erf(f32::INFINITY) - 1.0).abs() < 1e-6 && (erf(f32::NEG_INFINITY) + 1.0).abs() < 1e-6);
        assert!(erf(f32::NAN).is_nan(), "NaN must propagate, not turn into a number");
    }

    #[test]
    fn exp_is_within_two_ulp_and_softmax_sums_to_one() {
        let mut worst = 0.0_f64;
        for i in -870_000..=880_000 {
            let x = i as f32 / 10_000.0;
            let (ours, truth) = (exp(x) as f64, (x as f64).exp());
            worst = worst.max((ours - truth).abs() / truth);
        }
        assert!(worst < 2.5 * f32::EPSILON as f64, "max relative error {worst}");
        assert_eq!(exp(-200.0), 0.0);
        assert_eq!(exp(100.0), f32::INFINITY);
        let mut row: Vec<f32> = (0..197).map(|i| (i as f32 * 0.37).sin() * 9.0).collect();
        let reference: Vec<f64> = {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let e: Vec<f64> = row.iter().map(|&x| (x as f64 - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            e.into_iter().map(|v| v / sum).collect()
        };
        softmax_in_place(&mut row);
        for (ours, truth) in row.iter().zip(reference) {
            assert!((*ours as f64 - truth).abs() <= 1e-6 * truth + 1e-9, "{ours} vs {truth}");
        }
    }

    #[test]
    fn activations_match_their_definitions() {
        let xs: Vec<f32> = (-300..300).map(|i| i as f32 / 37.0).collect();
        let mut gelu = xs.clone();
        gelu_in_place(&mut gelu);
        let mut quick = xs.clone();
        Activation::QuickGelu.apply(&mut quick);
        for ((&x, g), q) in xs.iter().zip(gelu).zip(quick) {
            let x64 = x as f64;
            let exact = 0.5 * x64 * (1.0 + erf64(x64 / 2f64.sqrt()));
            assert!((g as f64 - exact).abs() < 2e-6, "gelu({x}) = {g}, exact {exact}");
            let sig = x64 / (1.0 + (-1.702 * x64).exp());
            assert!((q as f64 - sig).abs() < 2e-6, "quick_gelu({x}) = {q}, exact {sig}");
        }
    }
}
