//! The number formats a packed weight matrix can be multiplied in.

use std::fmt;
use std::str::FromStr;

/// The precision of the big matrix products of a transformer (its linear layers). Everything
/// else (LayerNorm, softmax, attention scores, residuals, accumulation) stays float32.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// float32 everywhere: the reference numerics.
    #[default]
    F32,
    /// bfloat16 weights and activations into the products, float32 accumulation and outputs.
    Bf16,
    /// int8 weights (one scale per output channel) and int8 activations (one scale per token,
    /// computed at run time), int32 accumulation, dequantised into a float32 epilogue.
    Int8,
}

impl Precision {
    /// Every precision, in order of fidelity.
    pub const ALL: [Precision; 3] = [Precision::F32, Precision::Bf16, Precision::Int8];

    /// The coarser of two precisions (f32 > bf16 > int8 in fidelity): what a mix of them is
    /// called.
    pub fn coarser(self, other: Precision) -> Precision {
        let rank = |p: Precision| Precision::ALL.iter().position(|&q| q == p).unwrap_or(0);
        if rank(other) > rank(self) { other } else { self }
    }

    /// The lower-case name used on command lines and in files.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A precision name that is not `f32`, `bf16` or `int8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPrecision(pub String);

impl fmt::Display for UnknownPrecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown precision {:?}: expected f32, bf16 or int8", self.0)
    }
}

impl std::error::Error for UnknownPrecision {}

impl FromStr for Precision {
    type Err = UnknownPrecision;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Precision::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownPrecision(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for p in Precision::ALL {
            assert_eq!(p.name().parse::<Precision>(), Ok(p));
        }
        assert_eq!("BF16".parse::<Precision>(), Ok(Precision::Bf16));
        assert_eq!(Precision::F32.coarser(Precision::Int8), Precision::Int8);
        assert_eq!(Precision::Int8.coarser(Precision::Bf16), Precision::Int8);
        assert_eq!(Precision::Bf16.coarser(Precision::F32), Precision::Bf16);
        let err = "fp8".parse::<Precision>().unwrap_err();
        assert!(err.to_string().contains("\"fp8\"") && err.to_string().contains("bf16"));
    }
}
