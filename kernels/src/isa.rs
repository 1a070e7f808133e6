//! Which instruction set the kernels run on, detected once per process.

use std::fmt;
use std::sync::OnceLock;

/// The kernel family for one precision on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Intel AMX tiles (`tdpbf16ps`, `tdpbusd`): Sapphire Rapids and later, bf16 and int8
    /// only (f32 runs on AVX-512 there).
    Amx,
    /// AVX-512F with, for bf16, AVX512_BF16 (`vdpbf16ps`) and, for int8, AVX512_VNNI
    /// (`vpdpbusd`): Intel Cooper Lake / Sapphire Rapids and later, AMD Zen 4 and later.
    Avx512,
    /// Plain Rust compiled for AVX2 + FMA (vectorised by the compiler): any x86-64 of the last
    /// decade. bf16 weights are widened to f32 on the fly; int8 runs through 16-bit products.
    Avx2,
    /// Plain Rust for the baseline target: every other CPU.
    Portable,
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Isa::Amx => "amx",
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Portable => "portable",
        })
    }
}

/// The CPU features the kernels care about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuFeatures {
    /// AVX-512 Foundation.
    pub avx512f: bool,
    /// `vdpbf16ps` on 512-bit vectors.
    pub avx512_bf16: bool,
    /// `vpdpbusd` on 512-bit vectors.
    pub avx512_vnni: bool,
    /// AVX2 with FMA.
    pub avx2_fma: bool,
    /// AMX tiles with bf16 products, and the OS's permission to use them.
    pub amx_bf16: bool,
    /// AMX tiles with int8 products, and the OS's permission to use them.
    pub amx_int8: bool,
}

impl CpuFeatures {
    /// This CPU's features (detected once).
    pub fn detect() -> CpuFeatures {
        static FEATURES: OnceLock<CpuFeatures> = OnceLock::new();
        *FEATURES.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::is_x86_feature_detected as has;
                let avx512f = has!("avx512f");
                // CPUID leaf 7, EDX: bit 22 AMX-BF16, bit 24 AMX-TILE, bit 25 AMX-INT8.
                // SAFETY: CPUID leaf 7 exists on every x86-64 that has AVX-512.
                let edx = if avx512f { std::arch::x86_64::__cpuid_count(7, 0).edx } else { 0 };
                let tile = edx & (1 << 24) != 0 && crate::amx::permitted();
                CpuFeatures {
                    avx512f,
                    avx512_bf16: avx512f && has!("avx512bf16"),
                    avx512_vnni: avx512f && has!("avx512vnni"),
                    avx2_fma: has!("avx2") && has!("fma"),
                    amx_bf16: tile && edx & (1 << 22) != 0,
                    amx_int8: tile && edx & (1 << 25) != 0,
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            CpuFeatures::default()
        })
    }

    /// The fastest kernel family for `precision` that this CPU runs.
    pub fn best(self, precision: crate::Precision) -> Isa {
        use crate::Precision::*;
        let amx = match precision {
            F32 => false,
            Bf16 => self.amx_bf16,
            Int8 => self.amx_int8,
        };
        if amx {
            return Isa::Amx;
        }
        let avx512 = match precision {
            F32 => self.avx512f,
            Bf16 => self.avx512_bf16,
            Int8 => self.avx512_vnni,
        };
        if avx512 {
            Isa::Avx512
        } else if self.avx2_fma {
            Isa::Avx2
        } else {
            Isa::Portable
        }
    }

    /// Whether `isa` runs on this CPU for `precision` (the tests run every family that does).
    pub fn supports(self, isa: Isa, precision: crate::Precision) -> bool {
        let avx512 = match precision {
            crate::Precision::F32 => self.avx512f,
            crate::Precision::Bf16 => self.avx512_bf16,
            crate::Precision::Int8 => self.avx512_vnni,
        };
        match isa {
            Isa::Amx => self.best(precision) == Isa::Amx,
            Isa::Avx512 => avx512,
            Isa::Avx2 => self.avx2_fma,
            Isa::Portable => true,
        }
    }
}
