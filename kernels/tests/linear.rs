//! Every kernel family this CPU runs, against float64 products, within each precision's bound.

use arbor_kernels::{Activation, CpuFeatures, Isa, KernelError, PackedLinear, Precision, gelu};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FAMILIES: [Isa; 4] = [Isa::Amx, Isa::Avx512, Isa::Avx2, Isa::Portable];

struct Case {
    m: usize,
    k: usize,
    n: usize,
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
}

impl Case {
    fn new(seed: u64, [m, k, n]: [usize; 3]) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut draw = |len: usize, scale: f32| (0..len).map(|_| rng.gen_range(-scale..scale)).collect::<Vec<f32>>();
        // One large activation per row, like the outlier features of trained transformers.
        let mut x = draw(m * k, 1.0);
        for row in x.chunks_mut(k) {
            row[(row.len() * 7) / 11] *= 20.0;
        }
        Case { m, k, n, x, w: draw(k * n, 0.1), b: draw(n, 0.5) }
    }

    /// `x · W + b` in float64, and `Σₖ |x||w|` per element (the scale error bounds refer to).
    fn reference(&self) -> (Vec<f64>, Vec<f64>) {
        let (mut y, mut size) = (vec![0.0; self.m * self.n], vec![0.0; self.m * self.n]);
        for i in 0..self.m {
            for j in 0..self.n {
                let (mut s, mut a) = (self.b[j] as f64, 0.0);
                for p in 0..self.k {
                    let t = self.x[i * self.k + p] as f64 * self.w[p * self.n + j] as f64;
                    s += t;
                    a += t.abs();
                }
                y[i * self.n + j] = s;
                size[i * self.n + j] = a;
            }
        }
        (y, size)
    }

    /// The largest error each precision may make at element (i, j), from how it rounds.
    fn bound(&self, precision: Precision, i: usize, j: usize, size: f64) -> f64 {
        let eps = f32::EPSILON as f64;
        let accumulate = (self.k as f64 + 2.0) * eps * (size + self.b[j].abs() as f64);
        match precision {
            Precision::F32 => accumulate,
            // bf16 keeps 8 significant bits: each operand is within 2⁻⁸ relative (half an ulp), so
            // each product within ≈ 2⁻⁷.
            Precision::Bf16 => accumulate + 2f64.powi(-7) * 1.01 * size,
            // |x − sₓqₓ| ≤ sₓ/2 and |w − s_w q_w| ≤ s_w/2 per element.
            Precision::Int8 => {
                let row = &self.x[i * self.k..(i + 1) * self.k];
                let sx = row.iter().fold(0.0_f32, |m, v| m.max(v.abs())) as f64 / 127.0;
                let col: Vec<f64> = (0..self.k).map(|p| self.w[p * self.n + j] as f64).collect();
                let sw = col.iter().fold(0.0_f64, |m, v| m.max(v.abs())) / 127.0;
                let (sum_x, sum_w): (f64, f64) =
                    (row.iter().map(|v| v.abs() as f64).sum(), col.iter().map(|v| v.abs()).sum());
                accumulate + sx / 2.0 * sum_w + sw / 2.0 * sum_x + sx * sw / 4.0 * self.k as f64
            }
        }
    }
}

/// Shapes with every kind of edge: single rows, partial micro-tiles and row blocks, odd depths
/// (bf16 pairs and int8 quads padded), partial and single panels, and ViT-sized ones.
const SHAPES: [[usize; 3]; 9] = [
    [1, 1, 1],
    [1, 768, 64],
    [5, 3, 65],
    [7, 5, 130],
    [13, 31, 63],
    [49, 64, 128],
    [53, 129, 200],
    [197, 768, 96],
    [2, 1030, 70],
];

#[test]
fn every_family_agrees_with_float64_within_its_bound() {
    let cpu = CpuFeatures::detect();
    let mut ran = 0;
    for (s, &shape) in SHAPES.iter().enumerate() {
        let case = Case::new(s as u64, shape);
        let (truth, size) = case.reference();
        for precision in Precision::ALL {
            for isa in FAMILIES.into_iter().filter(|&isa| cpu.supports(isa, precision)) {
                let layer = PackedLinear::new(&case.w, [case.k, case.n], Some(&case.b), precision)
                    .and_then(|l| l.with_isa(isa))
                    .unwrap_or_else(|e| panic!("{precision}/{isa}: {e}"));
                let y = layer.forward(&case.x, Activation::Identity).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(y.len(), case.m * case.n);
                for (e, (&y, &t)) in y.iter().zip(&truth).enumerate() {
                    let (i, j) = (e / case.n, e % case.n);
                    let bound = case.bound(precision, i, j, size[e]);
                    assert!(
                        (y as f64 - t).abs() <= bound,
                        "{precision}/{isa} {shape:?} at ({i}, {j}): {y} against {t}, bound {bound}"
                    );
                }
                ran += 1;
            }
        }
    }
    // At least the portable family of each precision on each shape.
    assert!(ran >= SHAPES.len() * 3, "{ran} runs");
    eprintln!("{ran} family × precision × shape runs on {cpu:?}");
}

#[test]
fn bf16_and_int8_are_not_f32_in_disguise() {
    // A bound test passes for an f32 kernel too; these errors show the rounding happened.
    let case = Case::new(99, [16, 256, 64]);
    let (truth, _) = case.reference();
    let err = |precision| {
        let layer = PackedLinear::new(&case.w, [case.k, case.n], Some(&case.b), precision).unwrap();
        let y = layer.forward(&case.x, Activation::Identity).unwrap();
        y.iter().zip(&truth).map(|(&y, &t)| (y as f64 - t).abs()).fold(0.0, f64::max)
    };
    let (f32_err, bf16_err, int8_err) = (err(Precision::F32), err(Precision::Bf16), err(Precision::Int8));
    assert!(
        f32_err < 1e-4 && bf16_err > 10.0 * f32_err && int8_err > 10.0 * f32_err,
        "{f32_err} {bf16_err} {int8_err}"
    );
}

#[test]
fn int8_is_the_same_integer_arithmetic_on_every_family() {
    let cpu = CpuFeatures::detect();
    let case = Case::new(7, [29, 300, 150]);
    let outputs: Vec<Vec<f32>> = FAMILIES
        .into_iter()
        .filter(|&isa| cpu.supports(isa, Precision::Int8))
        .map(|isa| {
            let layer = PackedLinear::new(&case.w, [case.k, case.n], Some(&case.b), Precision::Int8).unwrap();
            layer.with_isa(isa).unwrap().forward(&case.x, Activation::Identity).unwrap()
        })
        .collect();
    for other in &outputs[1..] {
        assert_eq!(other, &outputs[0], "int32 sums and the shared f32 epilogue must agree bit for bit");
    }
}

#[test]
fn fused_epilogues_equal_the_separate_steps() {
    let case = Case::new(3, [37, 96, 200]);
    for precision in Precision::ALL {
        let layer = PackedLinear::new(&case.w, [case.k, case.n], Some(&case.b), precision).unwrap();
        let plain = layer.forward(&case.x, Activation::Identity).unwrap();
        let with_gelu = layer.forward(&case.x, Activation::Gelu).unwrap();
        let quick = layer.forward(&case.x, Activation::QuickGelu).unwrap();
        for ((&p, &g), &q) in plain.iter().zip(&with_gelu).zip(&quick) {
            assert!((gelu(p) - g).abs() <= 1e-6 * (1.0 + p.abs()), "{precision}: gelu({p}) = {g}");
            assert!((p / (1.0 + (-1.702 * p).exp()) - q).abs() <= 1e-6 * (1.0 + p.abs()), "{precision}: quick {q}");
        }
        let residual: Vec<f32> = (0..plain.len()).map(|i| (i % 17) as f32 - 8.0).collect();
        let mut acc = residual.clone();
        layer.forward_add(&case.x, &mut acc).unwrap();
        for ((&a, &r), &p) in acc.iter().zip(&residual).zip(&plain) {
            assert!((a - (r + p)).abs() <= 1e-6 * (1.0 + a.abs()), "{precision}: {a} ≠ {r} + {p}");
        }
    }
}

#[test]
fn no_bias_and_zero_inputs() {
    for precision in Precision::ALL {
        let layer = PackedLinear::new(&[0.0; 12], [3, 4], None, precision).unwrap();
        assert_eq!(layer.forward(&[1.0, -2.0, 3.0], Activation::Identity).unwrap(), vec![0.0; 4]);
        let layer = PackedLinear::new(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3], None, precision).unwrap();
        // A zero row (int8 scale 0) gives zeros, not NaN.
        assert_eq!(layer.forward(&[0.0, 0.0], Activation::Identity).unwrap(), vec![0.0; 3]);
        assert_eq!(layer.forward(&[], Activation::Identity).unwrap(), Vec::<f32>::new());
    }
}

#[test]
fn wrong_shapes_are_refused_with_the_buffer_named() {
    let err = PackedLinear::new(&[0.0; 5], [2, 3], None, Precision::F32).unwrap_err();
    assert_eq!(err, KernelError::Shape { what: "weight", got: 5, expected: 6 });
    let err = PackedLinear::new(&[0.0; 6], [2, 3], Some(&[0.0; 2]), Precision::Int8).unwrap_err();
    assert!(err.to_string().contains("bias has 2 values, expected 3"), "{err}");
    let layer = PackedLinear::new(&[0.0; 6], [2, 3], None, Precision::Bf16).unwrap();
    assert!(matches!(layer.forward(&[1.0; 3], Activation::Identity), Err(KernelError::Shape { what: "input", .. })));
    let mut acc = vec![0.0; 5];
    assert!(matches!(layer.forward_add(&[1.0; 4], &mut acc), Err(KernelError::Shape { what: "accumulator", .. })));
}

#[test]
fn packed_sizes_follow_the_precision() {
    let w = vec![0.5_f32; 768 * 768];
    let bytes = |p| PackedLinear::new(&w, [768, 768], None, p).unwrap().memory_bytes();
    let (f, b, i) = (bytes(Precision::F32), bytes(Precision::Bf16), bytes(Precision::Int8));
    // Bias, scales and offsets are 768 floats or ints each.
    assert!(f >= 768 * 768 * 4 && b <= f / 2 + 4 * 768 && i <= f / 4 + 3 * 4 * 768, "{f} {b} {i}");
}
