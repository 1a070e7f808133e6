//! Errors of image decoding and preprocessing.

use std::path::PathBuf;

/// Everything that can go wrong between an image file and a model input tensor.
///
/// Every variant that concerns an input names it (`name` is the file path, or the label given to
/// [`Preprocessor::from_bytes`](super::Preprocessor::from_bytes)), so a failure inside a folder of
/// thousands of photos points at the culprit.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// The file could not be read.
    #[error("{}: cannot read image file: {source}", path.display())]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a photo format Arbor knows.
    #[error("{name}: not a supported image (expected JPEG, PNG, WebP, TIFF, BMP or GIF; file starts with {magic})")]
    UnknownFormat {
        /// The input's name.
        name: String,
        /// The first bytes, hex-encoded, to help identify what the file really is.
        magic: String,
    },
    /// The file claims to be JPEG or PNG but its data is corrupt or unsupported.
    #[error("{name}: corrupt or unsupported {format} data: {reason}")]
    Corrupt {
        /// The input's name.
        name: String,
        /// `"JPEG"` or `"PNG"`.
        format: &'static str,
        /// What the decoder reported.
        reason: String,
    },
    /// The file holds no bytes at all.
    #[error("{name}: empty file")]
    EmptyFile {
        /// The input's name.
        name: String,
    },
    /// A photo format Arbor recognises but this build does not decode.
    #[error(
        "{name}: {format} photos are not decoded by this build of Arbor: build it with `--features heif` \
         (needs libheif: `apt-get install libheif-dev`), or convert them to PNG or JPEG first"
    )]
    NotDecoded {
        /// The input's name.
        name: String,
        /// `"AVIF"` or `"HEIC"`.
        format: &'static str,
    },
    /// The file ends before all of its pixels were read.
    #[error("{name}: {format} file is truncated")]
    Truncated {
        /// The input's name.
        name: String,
        /// `"JPEG"` or `"PNG"`.
        format: &'static str,
    },
    /// The header declares more pixels than [`MAX_PIXELS`](super::MAX_PIXELS): refused before
    /// any pixel memory is allocated (a decompression bomb, or simply an absurd image).
    #[error("{name}: image is {width}x{height} = {pixels} pixels, above the limit of {limit}")]
    TooLarge {
        /// The input's name.
        name: String,
        /// Declared width.
        width: u64,
        /// Declared height.
        height: u64,
        /// `width * height`.
        pixels: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The image has a zero dimension.
    #[error("{name}: image has an empty dimension ({width}x{height})")]
    Empty {
        /// The input's name.
        name: String,
        /// Declared width.
        width: u64,
        /// Declared height.
        height: u64,
    },
    /// A pipeline option is invalid (e.g. output size 0 or a non-positive std).
    #[error("invalid preprocessing configuration: {0}")]
    Config(String),
}

/// Shorthand for results of this module.
pub type Result<T, E = PreprocessError> = std::result::Result<T, E>;
