//! [`PackedLinear`]: a weight matrix converted and laid out once, multiplied many times.

use rayon::prelude::*;

use crate::epilogue::Activation;
use crate::isa::{CpuFeatures, Isa};
use crate::precision::Precision;
use crate::tiles::{MR, NR, Tile, TileArgs, avx512, by_rows, portable};

/// Rows of the left-hand side per task: eight micro-tiles, so that a weight panel read from
/// L2 serves eight tiles and a task is big enough to be worth a thread.
pub(crate) const MB: usize = 8 * MR;

/// bf16 and int8 panels and activation rows are padded in depth to a multiple of this, and
/// activation rows in number to a multiple of [`AMX_ROWS`]: the AMX tiles' shape (16 rows of
/// 64 bytes: 32 bf16 or 64 int8 depths; two row tiles per step), so that every family reads the
/// same layout.
const DEPTH_ALIGN: usize = 64;
pub(crate) const AMX_ROWS: usize = 32;
/// Rows per AMX task: two steps of [`AMX_ROWS`].
pub(crate) const AMX_MB: usize = 2 * AMX_ROWS;

/// A shape that does not fit the matrix, or a kernel family this CPU lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// A buffer's length disagrees with the matrix.
    #[error("{what} has {got} values, expected {expected}")]
    Shape {
        /// Which buffer.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The length the matrix needs.
        expected: usize,
    },
    /// The requested kernel family does not run on this CPU.
    #[error("the {isa} kernels for {precision} do not run on this CPU")]
    Unsupported {
        /// The family asked for.
        isa: Isa,
        /// The precision.
        precision: Precision,
    },
}

/// What the output pass does with `x · W + b`.
#[derive(Clone, Copy, Debug)]
enum Output {
    /// `out = activation(x · W + b)`.
    Write(Activation),
    /// `out += x · W + b` (a residual connection, fused).
    Accumulate,
}

/// A `[k, n]` weight matrix (`y = x · W + b`, torch's `nn.Linear` transposed) packed into
/// 64-column panels in one precision, with its bias. Building it converts and lays out the
/// weights once; every product then streams the panels as they are.
pub struct PackedLinear {
    k: usize,
    n: usize,
    weights: Weights,
    /// The bias, zero-padded to whole panels (zeros without a bias).
    bias: Vec<f32>,
    isa: Isa,
}

enum Weights {
    F32(Aligned<f32>),
    Bf16(Aligned<u16>),
    /// Per output channel: `w ≈ scale · q`; `offsets` is `128 · Σₖ q`, which corrects for the
    /// activations being stored as `q + 128` (`vpdpbusd` takes unsigned activations).
    Int8 {
        panels: Aligned<i8>,
        scales: Vec<f32>,
        offsets: Vec<i32>,
    },
}

impl std::fmt::Debug for PackedLinear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedLinear")
            .field("k", &self.k)
            .field("n", &self.n)
            .field("precision", &self.precision())
            .field("isa", &self.isa)
            .finish()
    }
}

impl PackedLinear {
    /// Packs `weight` (`[k, n]` row-major: input features down, outputs across) and `bias`
    /// (`[n]`) in `precision`, for the fastest kernels this CPU runs.
    ///
    /// # Errors
    /// [`KernelError::Shape`] if a buffer's length does not match `k` and `n`.
    pub fn new(
        weight: &[f32],
        [k, n]: [usize; 2],
        bias: Option<&[f32]>,
        precision: Precision,
    ) -> Result<Self, KernelError> {
        check("weight", weight.len(), k * n)?;
        if let Some(bias) = bias {
            check("bias", bias.len(), n)?;
        }
        let panels = n.div_ceil(NR);
        let mut padded_bias = vec![0.0; panels * NR];
        if let Some(bias) = bias {
            padded_bias[..n].copy_from_slice(bias);
        }
        let weights = match precision {
            Precision::F32 => Weights::F32(pack(weight, [k, n], 1, k, |v| v)),
            Precision::Bf16 => Weights::Bf16(pack(weight, [k, n], 2, k.next_multiple_of(DEPTH_ALIGN), to_bf16)),
            Precision::Int8 => quantise_weights(weight, [k, n]),
        };
        let isa = chosen_isa(precision);
        Ok(Self { k, n, weights, bias: padded_bias, isa })
    }

    /// The same matrix on another kernel family (the tests compare every family this CPU runs).
    ///
    /// # Errors
    /// [`KernelError::Unsupported`] if `isa` does not run on this CPU for this precision.
    pub fn with_isa(mut self, isa: Isa) -> Result<Self, KernelError> {
        let precision = self.precision();
        if !CpuFeatures::detect().supports(isa, precision) {
            return Err(KernelError::Unsupported { isa, precision });
        }
        self.isa = isa;
        Ok(self)
    }

    /// Input features `k` and outputs `n`.
    pub fn dims(&self) -> [usize; 2] {
        [self.k, self.n]
    }

    /// The precision the weights are stored in.
    pub fn precision(&self) -> Precision {
        match self.weights {
            Weights::F32(_) => Precision::F32,
            Weights::Bf16(_) => Precision::Bf16,
            Weights::Int8 { .. } => Precision::Int8,
        }
    }

    /// The kernel family the products run on.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Bytes held by the packed weights, scales and bias.
    pub fn memory_bytes(&self) -> usize {
        let weights = match &self.weights {
            Weights::F32(w) => w.bytes(),
            Weights::Bf16(w) => w.bytes(),
            Weights::Int8 { panels, scales, offsets } => panels.bytes() + 4 * (scales.len() + offsets.len()),
        };
        weights + 4 * self.bias.len()
    }

    /// `activation(x · W + b)` for `x` `[m, k]` (`m = x.len() / k`), as `[m, n]`.
    ///
    /// # Errors
    /// [`KernelError::Shape`] if `x.len()` is not a multiple of `k`.
    pub fn forward(&self, x: &[f32], activation: Activation) -> Result<Vec<f32>, KernelError> {
        let m = self.rows_of(x)?;
        let len = m * self.n;
        // Not zeroed first: the output pass writes every element (a memset of the output cost
        // as much as a fifth of an AMX product).
        let mut out: Vec<f32> = Vec::with_capacity(len);
        self.run(x, m, out.as_mut_ptr(), Output::Write(activation));
        // SAFETY: `run` wrote all `m · n` elements: the tasks cover every row block × panel, and
        // each writes every valid column of each of its rows.
        unsafe { out.set_len(len) };
        Ok(out)
    }

    /// `acc += x · W + b` for `x` `[m, k]` and `acc` `[m, n]`: a residual connection fused into
    /// the product's output pass.
    ///
    /// # Errors
    /// [`KernelError::Shape`] if the lengths do not fit `k` and `n`.
    pub fn forward_add(&self, x: &[f32], acc: &mut [f32]) -> Result<(), KernelError> {
        let m = self.rows_of(x)?;
        check("accumulator", acc.len(), m * self.n)?;
        self.run(x, m, acc.as_mut_ptr(), Output::Accumulate);
        Ok(())
    }

    fn rows_of(&self, x: &[f32]) -> Result<usize, KernelError> {
        let m = x.len().checked_div(self.k).unwrap_or(0);
        check("input", x.len(), m * self.k)?;
        Ok(m)
    }

    /// Rows of the left-hand side per task.
    fn block_rows(&self) -> usize {
        if self.isa == Isa::Amx { AMX_MB } else { MB }
    }

    /// The product into `out`, `m · n` floats (initialised for `Accumulate`; written, never
    /// read, for `Write`).
    fn run(&self, x: &[f32], m: usize, out: *mut f32, output: Output) {
        if m == 0 || self.n == 0 {
            return;
        }
        let panels = self.n.div_ceil(NR);
        let common = Common { m, n: self.n, bias: &self.bias, out: SharedOut(out), output };
        let tasks = m.div_ceil(self.block_rows()) * panels;
        // Task t: row block t / panels, panel t % panels (neighbouring tasks share rows).
        match &self.weights {
            Weights::F32(w) => {
                let job = Job {
                    a: x.as_ptr(),
                    lda: self.k,
                    b: w.as_ptr(),
                    panel_len: self.k * NR,
                    steps: self.k,
                    common,
                    quant: None,
                };
                let task: TaskFn<f32, f32> = match self.isa {
                    Isa::Avx512 | Isa::Amx => f32_avx512,
                    Isa::Avx2 => f32_avx2,
                    Isa::Portable => f32_portable,
                };
                spread(&job, tasks, panels, task);
            }
            Weights::Bf16(w) => {
                let (a, lda) = bf16_rows(x, m, self.k);
                let job =
                    Job { a: a.as_ptr(), lda, b: w.as_ptr(), panel_len: lda * NR, steps: lda / 2, common, quant: None };
                let task: TaskFn<u16, u16> = match self.isa {
                    Isa::Amx => crate::amx::bf16_task,
                    Isa::Avx512 => bf16_avx512,
                    Isa::Avx2 => bf16_avx2,
                    Isa::Portable => bf16_portable,
                };
                spread(&job, tasks, panels, task);
            }
            Weights::Int8 { panels: w, scales, offsets } => {
                let (a, row_scales, lda) = quantise_rows(x, m, self.k);
                let quant = Some(Quant { rows: &row_scales, cols: scales, offsets });
                let job = Job { a: a.as_ptr(), lda, b: w.as_ptr(), panel_len: lda * NR, steps: lda / 4, common, quant };
                let task: TaskFn<u8, i8> = match self.isa {
                    Isa::Amx => crate::amx::int8_task,
                    Isa::Avx512 => int8_avx512,
                    Isa::Avx2 => int8_avx2,
                    Isa::Portable => int8_portable,
                };
                spread(&job, tasks, panels, task);
            }
        }
    }
}

/// One task of a product: row block, panel (see the `task!` macro).
type TaskFn<A, W> = for<'j, 'c> unsafe fn(&'j Job<'c, A, W>, usize, usize);

/// The family for `precision`: the fastest this CPU runs, or the one the `ARBOR_KERNELS`
/// environment variable names (`amx`, `avx512`, `avx2`, `portable`) where it runs, for
/// measuring one family on a CPU that has several.
fn chosen_isa(precision: Precision) -> Isa {
    let cpu = CpuFeatures::detect();
    let asked = std::env::var("ARBOR_KERNELS").ok().and_then(|name| {
        [Isa::Amx, Isa::Avx512, Isa::Avx2, Isa::Portable].into_iter().find(|isa| isa.to_string() == name)
    });
    match asked {
        Some(isa) if cpu.supports(isa, precision) => isa,
        _ => cpu.best(precision),
    }
}

fn check(what: &'static str, got: usize, expected: usize) -> Result<(), KernelError> {
    if got == expected { Ok(()) } else { Err(KernelError::Shape { what, got, expected }) }
}

/// Runs the `tasks` tasks of `job` on rayon's pool (inline when there is one).
fn spread<A, W>(job: &Job<'_, A, W>, tasks: usize, panels: usize, task: TaskFn<A, W>) {
    // SAFETY: `task` is the family chosen for this CPU (checked when it was chosen), and the
    // job describes buffers of the sizes its kernels read and write.
    let run = |t: usize| unsafe { task(job, t / panels, t % panels) };
    if tasks == 1 {
        run(0);
    } else {
        (0..tasks).into_par_iter().for_each(run);
    }
}

/// What every task of one product shares.
pub(crate) struct Common<'a> {
    pub(crate) m: usize,
    n: usize,
    bias: &'a [f32],
    out: SharedOut,
    output: Output,
}

/// The int8 scales: per row of activations, per output column, and the offset corrections.
pub(crate) struct Quant<'a> {
    rows: &'a [f32],
    cols: &'a [f32],
    offsets: &'a [i32],
}

/// One product: the prepared left-hand side (`lda` elements per row), the packed panels
/// (`steps` depth steps each) and the shared output.
pub(crate) struct Job<'a, A, W> {
    pub(crate) a: *const A,
    pub(crate) lda: usize,
    pub(crate) b: *const W,
    /// Elements per panel.
    pub(crate) panel_len: usize,
    pub(crate) steps: usize,
    pub(crate) common: Common<'a>,
    quant: Option<Quant<'a>>,
}

// SAFETY (Send, Sync): the pointers are read-only inputs that outlive the product, and the output is only
// written through `SharedOut`, in disjoint tiles (see `SharedOut`).
unsafe impl<A, W> Sync for Job<'_, A, W> {}
// SAFETY: as above.
unsafe impl<A, W> Send for Job<'_, A, W> {}

/// The output pointer, shared by the tasks: each writes only its own row block × panel.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);

/// Generates one task function per kernel family: every micro-tile of row block `block`
/// against panel `panel`, then the output pass, all compiled with the family's features.
macro_rules! task {
    ($(#[$attr:meta])* $name:ident, $module:ident :: $kernel:ident, $a:ty, $w:ty, $acc:ty, $finish:ident) => {
        /// One task (see the macro).
        ///
        /// # Safety
        /// The family's CPU features, and a job whose buffers hold what it says.
        $(#[$attr])*
        unsafe fn $name(job: &Job<'_, $a, $w>, block: usize, panel: usize) {
            let mut tile: Tile<$acc> = [[Default::default(); NR]; MR];
            let rows = block * MB..(block * MB + MB).min(job.common.m);
            // SAFETY: the panel lies inside the packed weights.
            let b = unsafe { job.b.add(panel * job.panel_len) };
            for row0 in rows.step_by(MR) {
                let count = MR.min(job.common.m - row0);
                // SAFETY: rows `row0..row0 + count` exist in `a`; the caller's promise.
                let args = TileArgs { a: unsafe { job.a.add(row0 * job.lda) }, lda: job.lda, b, steps: job.steps, rows: count };
                // SAFETY: the caller's promise (features and buffers).
                unsafe { by_rows!($module::$kernel, args, &mut tile) };
                // SAFETY: this task owns these rows of this panel's columns.
                unsafe { $finish(job, &tile, row0, count, panel) };
            }
        }
    };
}

task!(
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    f32_avx512,
    avx512::f32_tile,
    f32,
    f32,
    f32,
    finish_float
);
task!(
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bf16")]
    bf16_avx512,
    avx512::bf16_tile,
    u16,
    u16,
    f32,
    finish_float
);
task!(
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vnni")]
    int8_avx512,
    avx512::int8_tile,
    u8,
    i8,
    i32,
    finish_int8
);
task!(
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    f32_avx2,
    portable::f32_tile,
    f32,
    f32,
    f32,
    finish_float
);
task!(
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    bf16_avx2,
    portable::bf16_tile,
    u16,
    u16,
    f32,
    finish_float
);
task!(
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    int8_avx2,
    portable::int8_tile,
    u8,
    i8,
    i32,
    finish_int8
);
task!(f32_portable, portable::f32_tile, f32, f32, f32, finish_float);
task!(bf16_portable, portable::bf16_tile, u16, u16, f32, finish_float);
task!(int8_portable, portable::int8_tile, u8, i8, i32, finish_int8);

// Off x86-64 only the portable family exists; these names keep `run`'s match whole.
#[cfg(not(target_arch = "x86_64"))]
use {
    bf16_portable as bf16_avx2, bf16_portable as bf16_avx512, f32_portable as f32_avx2, f32_portable as f32_avx512,
    int8_portable as int8_avx2, int8_portable as int8_avx512,
};
#[cfg(not(target_arch = "x86_64"))]
mod avx512 {
    pub(crate) use crate::tiles::portable::*;
}

/// The output pass of an f32-accumulated tile: bias, then the activation or the residual.
///
/// # Safety
/// The task owns rows `row0..row0 + count` of panel `panel`'s columns.
#[inline(always)]
pub(crate) unsafe fn finish_float<A, W>(
    job: &Job<'_, A, W>,
    tile: &[[f32; NR]],
    row0: usize,
    count: usize,
    panel: usize,
) {
    let c0 = panel * NR;
    let bias: &[f32; NR] = job.common.bias[c0..c0 + NR].try_into().unwrap_or(&[0.0; NR]);
    for (r, acc) in tile[..count].iter().enumerate() {
        let mut v = [0.0_f32; NR];
        for ((v, &acc), &b) in v.iter_mut().zip(acc).zip(bias) {
            *v = acc + b;
        }
        // SAFETY: the caller's promise.
        unsafe { store(&job.common, row0 + r, c0, &mut v) };
    }
}

/// The output pass of an int8 tile: `(acc − offset) · row scale · column scale + bias`, then
/// as [`finish_float`].
///
/// # Safety
/// As [`finish_float`].
#[inline(always)]
pub(crate) unsafe fn finish_int8<A, W>(
    job: &Job<'_, A, W>,
    tile: &[[i32; NR]],
    row0: usize,
    count: usize,
    panel: usize,
) {
    let Some(quant) = &job.quant else { return };
    let c0 = panel * NR;
    let bias: &[f32; NR] = job.common.bias[c0..c0 + NR].try_into().unwrap_or(&[0.0; NR]);
    let cols: &[f32; NR] = quant.cols[c0..c0 + NR].try_into().unwrap_or(&[0.0; NR]);
    let offsets: &[i32; NR] = quant.offsets[c0..c0 + NR].try_into().unwrap_or(&[0; NR]);
    for (r, acc) in tile[..count].iter().enumerate() {
        let row_scale = quant.rows[row0 + r];
        let mut v = [0.0_f32; NR];
        for (c, v) in v.iter_mut().enumerate() {
            *v = (acc[c] - offsets[c]) as f32 * (row_scale * cols[c]) + bias[c];
        }
        // SAFETY: the caller's promise.
        unsafe { store(&job.common, row0 + r, c0, &mut v) };
    }
}

/// Writes (or adds) the valid columns of one finished tile row.
///
/// # Safety
/// The caller owns row `row`'s columns `c0..c0 + 64` of the output.
#[inline(always)]
unsafe fn store(common: &Common<'_>, row: usize, c0: usize, v: &mut [f32; NR]) {
    let valid = NR.min(common.n - c0);
    let v = &mut v[..valid];
    // SAFETY: row < m and c0 + valid ≤ n, inside the `m × n` output; the caller owns them.
    let out = unsafe { common.out.0.add(row * common.n + c0) };
    match common.output {
        Output::Write(activation) => {
            activation.apply(v);
            // SAFETY: as above; the output may be uninitialised, so it is written, not borrowed.
            unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out, valid) };
        }
        Output::Accumulate => {
            // SAFETY: as above; `Accumulate` outputs are initialised.
            let out = unsafe { std::slice::from_raw_parts_mut(out, valid) };
            out.iter_mut().zip(v.iter()).for_each(|(o, v)| *o += v)
        }
    }
}

/// float32 → bfloat16, rounding to nearest even (NaN stays NaN).
pub(crate) fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

/// Packs `[k, n]` into panels of 64 columns with `group` consecutive depths side by side per
/// column (1 for f32, 2 for bf16, 4 for int8), zero-padded to `depth` (a multiple of `group`)
/// and to whole panels.
fn pack<T: Copy + Default + Send>(
    weight: &[f32],
    [k, n]: [usize; 2],
    group: usize,
    depth: usize,
    convert: impl Fn(f32) -> T + Sync,
) -> Aligned<T> {
    let steps = depth / group;
    let panel_len = steps * NR * group;
    let panels = n.div_ceil(NR);
    let mut packed = Aligned::<T>::zeroed(panels * panel_len);
    packed.as_mut_slice().par_chunks_mut(panel_len).enumerate().for_each(|(p, panel)| {
        for (step, chunk) in panel.chunks_exact_mut(NR * group).enumerate() {
            for (c, slot) in chunk.chunks_exact_mut(group).enumerate() {
                let col = p * NR + c;
                for (j, slot) in slot.iter_mut().enumerate() {
                    let depth = step * group + j;
                    if col < n && depth < k {
                        *slot = convert(weight[depth * n + col]);
                    }
                }
            }
        }
    });
    packed
}

/// int8 weights with one symmetric scale per output column (`max |w| / 127`).
fn quantise_weights(weight: &[f32], [k, n]: [usize; 2]) -> Weights {
    let panels = n.div_ceil(NR);
    let mut scales = vec![0.0_f32; panels * NR];
    for row in weight.chunks_exact(n.max(1)).take(k) {
        for (s, &w) in scales.iter_mut().zip(row) {
            *s = s.max(w.abs());
        }
    }
    let inverse: Vec<f32> = scales
        .iter_mut()
        .map(|s| {
            *s /= 127.0;
            if *s > 0.0 { 1.0 / *s } else { 0.0 }
        })
        .collect();
    let quantise = |depth_col: (usize, usize)| -> i8 {
        let (depth, col) = depth_col;
        (weight[depth * n + col] * inverse[col]).round_ties_even().clamp(-127.0, 127.0) as i8
    };
    let mut offsets = vec![0_i32; panels * NR];
    for depth in 0..k {
        for (col, o) in offsets.iter_mut().enumerate().take(n) {
            *o += 128 * quantise((depth, col)) as i32;
        }
    }
    // `pack` converts values; give it the already-quantised matrix.
    let q: Vec<f32> = (0..k * n).map(|i| quantise((i / n, i % n)) as f32).collect();
    Weights::Int8 { panels: pack(&q, [k, n], 4, k.next_multiple_of(DEPTH_ALIGN), |v| v as i8), scales, offsets }
}

/// `x` `[m, k]` as bf16 rows, zero-padded (see [`DEPTH_ALIGN`]); returns the rows and their
/// stride.
fn bf16_rows(x: &[f32], m: usize, k: usize) -> (Vec<u16>, usize) {
    let lda = k.next_multiple_of(DEPTH_ALIGN);
    let wide = CpuFeatures::detect().avx512f;
    let rows = fill_rows(m, lda, 0, |dst, row| {
        let src = &x[row * k..(row + 1) * k];
        if wide {
            // SAFETY: the CPU has AVX-512F.
            unsafe { bf16_row_avx512(&mut dst[..k], src) }
        } else {
            bf16_row(&mut dst[..k], src)
        }
    });
    (rows, lda)
}

/// `m` rows of `lda` values, then zero-value (`pad`) rows up to a multiple of [`AMX_ROWS`],
/// each row written once by `row(dst, i)` in parallel, with no zeroing pass before it.
fn fill_rows<T: Copy + Send + Sync>(m: usize, lda: usize, pad: T, row: impl Fn(&mut [T], usize) + Sync) -> Vec<T> {
    let len = m.next_multiple_of(AMX_ROWS) * lda;
    let mut rows: Vec<T> = Vec::with_capacity(len);
    rows.spare_capacity_mut()[..len].par_chunks_mut(lda).enumerate().for_each(|(i, dst)| {
        for slot in dst.iter_mut() {
            slot.write(pad);
        }
        // SAFETY: every element of `dst` was written just above.
        let dst = unsafe { &mut *(dst as *mut [std::mem::MaybeUninit<T>] as *mut [T]) };
        if i < m {
            row(dst, i);
        }
    });
    // SAFETY: every chunk, hence all `len` elements, was written.
    unsafe { rows.set_len(len) };
    rows
}

#[inline(always)]
fn bf16_row(dst: &mut [u16], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = to_bf16(s));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn bf16_row_avx512(dst: &mut [u16], src: &[f32]) {
    bf16_row(dst, src)
}

/// `x` `[m, k]` quantised per row to `q + 128` (`q = round(x / scale)`, `scale = max |x| / 127`),
/// padded with zeros (128, see [`DEPTH_ALIGN`]); returns the rows, their scales and their stride.
fn quantise_rows(x: &[f32], m: usize, k: usize) -> (Vec<u8>, Vec<f32>, usize) {
    let lda = k.next_multiple_of(DEPTH_ALIGN);
    let wide = CpuFeatures::detect().avx512f;
    let scales: Vec<f32> = x
        .par_chunks(k)
        .map(|src| {
            let max = max_abs(src, wide);
            if max > 0.0 { max / 127.0 } else { 0.0 }
        })
        .collect();
    let rows = fill_rows(m, lda, 128_u8, |dst, row| {
        let src = &x[row * k..(row + 1) * k];
        let scale = scales[row];
        if wide {
            // SAFETY: the CPU has AVX-512F.
            unsafe { quantise_row_avx512(&mut dst[..k], src, scale) }
        } else {
            quantise_row(&mut dst[..k], src, scale)
        }
    });
    (rows, scales, lda)
}

/// `max |x|` over a row.
fn max_abs(src: &[f32], wide: bool) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { max_abs_avx512(src) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = wide; // no wide kernel off x86-64
    src.iter().fold(0.0_f32, |m, v| m.max(v.abs()))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn max_abs_avx512(src: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let (n, full) = (src.len(), src.len() / 16 * 16);
    let tail = ((1u32 << (n - full)) - 1) as __mmask16;
    let mut max = _mm512_setzero_ps();
    for i in (0..full).step_by(16) {
        // SAFETY: 16 floats from i < full ≤ len.
        max = _mm512_max_ps(max, _mm512_abs_ps(unsafe { _mm512_loadu_ps(src.as_ptr().add(i)) }));
    }
    // SAFETY: the mask reads only the n − full floats that exist.
    max = _mm512_max_ps(max, _mm512_abs_ps(unsafe { _mm512_maskz_loadu_ps(tail, src.as_ptr().add(full)) }));
    _mm512_reduce_max_ps(max)
}

/// One row of [`quantise_rows`] at its `scale` (`max |x| / 127`, 0 for a zero row).
#[inline(always)]
fn quantise_row(dst: &mut [u8], src: &[f32], scale: f32) {
    let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = ((s * inverse).round_ties_even().clamp(-127.0, 127.0) as i32 + 128) as u8;
    }
}

/// [`quantise_row`] in AVX-512: the same arithmetic (multiply, round to nearest even,
/// clamp, offset), 16 values at a time, the tail under a mask.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn quantise_row_avx512(dst: &mut [u8], src: &[f32], scale: f32) {
    use std::arch::x86_64::*;
    let (n, full) = (src.len(), src.len() / 16 * 16);
    let tail = ((1u32 << (n - full)) - 1) as __mmask16;
    let inverse = _mm512_set1_ps(if scale > 0.0 { 1.0 / scale } else { 0.0 });
    let (lo, hi, offset) = (_mm512_set1_ps(-127.0), _mm512_set1_ps(127.0), _mm512_set1_epi32(128));
    let quantise = |v: __m512| {
        let q = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(v, inverse));
        _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(q, lo), hi)), offset)
    };
    assert!(dst.len() >= n);
    for i in (0..full).step_by(16) {
        // SAFETY: 16 floats in and 16 bytes out from i < full ≤ len ≤ dst.len().
        unsafe {
            let q = quantise(_mm512_loadu_ps(src.as_ptr().add(i)));
            _mm_storeu_si128(dst.as_mut_ptr().add(i) as *mut __m128i, _mm512_cvtepi32_epi8(q));
        }
    }
    // SAFETY: the masks read and write only the n − full elements that exist.
    unsafe {
        let q = quantise(_mm512_maskz_loadu_ps(tail, src.as_ptr().add(full)));
        _mm512_mask_cvtepi32_storeu_epi8(dst.as_mut_ptr().add(full) as *mut i8, tail, q);
    }
}

#[cfg(not(target_arch = "x86_64"))]
use {bf16_row as bf16_row_avx512, quantise_row as quantise_row_avx512};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wide_row_kernels_equal_the_portable_ones() {
        if !CpuFeatures::detect().avx512f {
            return;
        }
        for n in [1, 15, 16, 17, 100, 768] {
            // Ties (k + 0.5 after scaling) included: both round them to even.
            let src: Vec<f32> =
                (0..n).map(|i| ((i as f32) - n as f32 / 2.0) * 0.5 + if i % 7 == 0 { 0.25 } else { 0.0 }).collect();
            let max = src.iter().fold(0.0_f32, |m, v| m.max(v.abs()));
            // SAFETY: the CPU has AVX-512F.
            assert_eq!(unsafe { max_abs_avx512(&src) }, max);
            let scale = max / 127.0;
            let (mut wide, mut plain) = (vec![0_u8; n], vec![0_u8; n]);
            // SAFETY: as above.
            unsafe { quantise_row_avx512(&mut wide, &src, scale) };
            quantise_row(&mut plain, &src, scale);
            assert_eq!(wide, plain, "n = {n}");
            let (mut wide, mut plain) = (vec![0_u16; n], vec![0_u16; n]);
            // SAFETY: as above.
            unsafe { bf16_row_avx512(&mut wide, &src) };
            bf16_row(&mut plain, &src);
            assert_eq!(wide, plain);
        }
    }
}

/// A buffer of `T` aligned to cache lines (every panel starts on one).
struct Aligned<T> {
    blocks: Vec<Line>,
    len: usize,
    _type: std::marker::PhantomData<T>,
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

impl<T: Copy + Default> Aligned<T> {
    /// `len` zeros (all-zero bytes are zero for the integer and float types used here).
    fn zeroed(len: usize) -> Self {
        let bytes = len * std::mem::size_of::<T>();
        Self { blocks: vec![Line([0; 64]); bytes.div_ceil(64)], len, _type: std::marker::PhantomData }
    }

    fn as_ptr(&self) -> *const T {
        self.blocks.as_ptr() as *const T
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: the blocks hold at least `len · size_of::<T>()` initialised bytes, aligned to
        // 64, and T is a plain number type for which every bit pattern is valid.
        unsafe { std::slice::from_raw_parts_mut(self.blocks.as_mut_ptr() as *mut T, self.len) }
    }

    fn bytes(&self) -> usize {
        self.blocks.len() * 64
    }
}
