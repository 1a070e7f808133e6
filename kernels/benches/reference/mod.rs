//! The `gemm` crate's f32 product (what burn's flex backend runs), the reference the benchmark
//! and `examples/linear_speed.rs` compare the packed products with.

/// `out = x · w` for `x` `[m, k]`, `w` `[k, n]`, row-major, on rayon's pool.
pub fn gemm_f32(x: &[f32], w: &[f32], out: &mut [f32], [m, k, n]: [usize; 3]) {
    assert!(x.len() == m * k && w.len() == k * n && out.len() == m * n);
    // SAFETY: the pointers and strides describe the three row-major buffers checked above.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            x.as_ptr(),
            1,
            k as isize,
            w.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
    }
}
