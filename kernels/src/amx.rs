//! Intel AMX (Sapphire Rapids and later): `tdpbf16ps` and `tdpbusd` on 16 × 64-byte tiles.
//!
//! A task computes its rows 32 at a time against each half (32 columns) of its panel: two
//! activation tiles (16 rows × 32 bf16 or 64 int8 depths, straight from the prepared rows) and
//! two weight tiles (16 depth pairs or quads × 16 columns, straight from the packed panel, whose
//! layout is AMX's) feed four accumulator tiles. Rust has no AMX intrinsics on stable, so the
//! instructions are written in `asm!`; the eight tile registers are not visible to the compiler
//! and are configured and released by each task.
//!
//! Linux lets a process use the tile registers only after asking (`arch_prctl
//! ARCH_REQ_XCOMP_PERM`); [`permitted`] asks once and the family is used only if granted.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod imp {
    use std::arch::asm;

    use crate::linear::{AMX_MB, AMX_ROWS, Job, finish_float, finish_int8};
    use crate::tiles::NR;

    /// `ldtilecfg`'s 64-byte operand: palette 1, tiles 0-7 each 16 rows of 64 bytes.
    #[repr(C, align(64))]
    struct TileConfig {
        palette: u8,
        start_row: u8,
        reserved: [u8; 14],
        bytes_per_row: [u16; 16],
        rows: [u8; 16],
        reserved_end: [u8; 16],
    }

    static CONFIG: TileConfig = TileConfig {
        palette: 1,
        start_row: 0,
        reserved: [0; 14],
        bytes_per_row: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
        rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
        reserved_end: [0; 16],
    };

    /// Bytes between depth steps (pairs or quads) of a packed panel: 64 columns × 4 bytes.
    const PANEL_ROW: usize = NR * 4;

    /// Asks Linux for the AMX tile data state (`ARCH_REQ_XCOMP_PERM`, `XFEATURE_XTILEDATA`).
    pub(crate) fn request_permission() -> bool {
        const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
        const XFEATURE_XTILEDATA: libc::c_long = 18;
        // SAFETY: a plain system call with integer arguments.
        unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0 }
    }

    /// What differs between bf16 and int8: the multiply instruction and how many bytes one
    /// element of the prepared rows takes.
    macro_rules! amx_task {
        ($name:ident, $a:ty, $w:ty, $acc:ty, $dp:literal, $finish:ident) => {
            /// One task on AMX (see the module).
            ///
            /// # Safety
            /// AMX is available and permitted, and the job's rows are padded as
            /// `crate::linear` pads them (depth to 64 bytes' worth, rows to 32). Every AMX CPU
            /// has AVX-512 and FMA, which the output pass is compiled for.
            #[target_feature(enable = "avx512f,fma")]
            pub(crate) unsafe fn $name(job: &Job<'_, $a, $w>, block: usize, panel: usize) {
                let mut out = [[<$acc>::default(); NR]; AMX_ROWS];
                let lda_bytes = job.lda * std::mem::size_of::<$a>();
                let tile_steps = job.steps / 16;
                // SAFETY (all asm): the tile configuration is a valid palette-1 layout; every
                // load reads 16 rows of 64 bytes inside the padded rows or the panel, and every
                // store writes 16 rows of 64 bytes inside `out`.
                unsafe {
                    asm!("ldtilecfg [{}]", in(reg) &CONFIG, options(nostack, readonly));
                    let panel_ptr = (job.b as *const u8).add(panel * job.panel_len * std::mem::size_of::<$w>());
                    let rows = block * AMX_MB..(block * AMX_MB + AMX_MB).min(job.common.m);
                    for row0 in rows.step_by(AMX_ROWS) {
                        // A last step of at most 16 rows (197 tokens leave 5) needs one
                        // activation tile, not two: half the work of a full step.
                        let short = job.common.m - row0 <= 16;
                        let a0 = (job.a as *const u8).add(row0 * lda_bytes);
                        let a1 = a0.add(16 * lda_bytes);
                        for half in 0..2 {
                            asm!("tilezero tmm0", "tilezero tmm1", "tilezero tmm2", "tilezero tmm3", options(nostack, nomem));
                            for step in 0..tile_steps {
                                let b0 = panel_ptr.add(step * 16 * PANEL_ROW + half * 32 * 4);
                                if short {
                                    asm!(
                                        "tileloadd tmm4, [{a0} + {sa}*1]",
                                        "tileloadd tmm6, [{b0} + {sb}*1]",
                                        "tileloadd tmm7, [{b1} + {sb}*1]",
                                        concat!($dp, " tmm0, tmm4, tmm6"),
                                        concat!($dp, " tmm1, tmm4, tmm7"),
                                        a0 = in(reg) a0.add(step * 64),
                                        b0 = in(reg) b0,
                                        b1 = in(reg) b0.add(64),
                                        sa = in(reg) lda_bytes,
                                        sb = in(reg) PANEL_ROW,
                                        options(nostack, readonly),
                                    );
                                    continue;
                                }
                                asm!(
                                    "tileloadd tmm4, [{a0} + {sa}*1]",
                                    "tileloadd tmm5, [{a1} + {sa}*1]",
                                    "tileloadd tmm6, [{b0} + {sb}*1]",
                                    "tileloadd tmm7, [{b1} + {sb}*1]",
                                    concat!($dp, " tmm0, tmm4, tmm6"),
                                    concat!($dp, " tmm1, tmm4, tmm7"),
                                    concat!($dp, " tmm2, tmm5, tmm6"),
                                    concat!($dp, " tmm3, tmm5, tmm7"),
                                    a0 = in(reg) a0.add(step * 64),
                                    a1 = in(reg) a1.add(step * 64),
                                    b0 = in(reg) b0,
                                    b1 = in(reg) b0.add(64),
                                    sa = in(reg) lda_bytes,
                                    sb = in(reg) PANEL_ROW,
                                    options(nostack, readonly),
                                );
                            }
                            let c = (out.as_mut_ptr() as *mut u8).add(half * 32 * 4);
                            asm!(
                                "tilestored [{c0} + {s}*1], tmm0",
                                "tilestored [{c1} + {s}*1], tmm1",
                                "tilestored [{c2} + {s}*1], tmm2",
                                "tilestored [{c3} + {s}*1], tmm3",
                                c0 = in(reg) c,
                                c1 = in(reg) c.add(64),
                                c2 = in(reg) c.add(16 * NR * 4),
                                c3 = in(reg) c.add(16 * NR * 4 + 64),
                                s = in(reg) NR * 4,
                                options(nostack),
                            );
                        }
                        let count = AMX_ROWS.min(job.common.m - row0);
                        $finish(job, &out, row0, count, panel);
                    }
                    asm!("tilerelease", options(nostack, nomem));
                }
            }
        };
    }

    amx_task!(bf16_task, u16, u16, f32, "tdpbf16ps", finish_float);
    amx_task!(int8_task, u8, i8, i32, "tdpbusd", finish_int8);
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub(crate) use imp::{bf16_task, int8_task};

/// Whether this process may use the AMX tiles (asked once; `false` off Linux x86-64).
pub(crate) fn permitted() -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        static PERMITTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *PERMITTED.get_or_init(imp::request_permission)
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    false
}

/// Elsewhere the AMX family is never chosen; these keep `run`'s match whole.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
pub(crate) use crate::linear::{bf16_portable as bf16_task, int8_portable as int8_task};
