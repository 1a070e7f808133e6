//! AVIF and HEIC through the system's libheif (the `heif` cargo feature; Debian:
//! `apt-get install libheif-dev`), decoded to interleaved RGB, or RGBA when the image has an
//! alpha channel, as pillow-heif gives PIL. Both are lossy: an independent decoder may differ
//! from the reference's by a level or two (tested against the features, within 5e-3).

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Once;

use super::decode::{ImageFormat, check_dimensions};
use super::error::{PreprocessError, Result};
use super::image::{ColorMode, DecodedImage};

#[repr(C)]
struct HeifError {
    code: c_int,
    subcode: c_int,
    message: *const c_char,
}

#[repr(C)]
struct Context {
    _private: [u8; 0],
}
#[repr(C)]
struct Handle {
    _private: [u8; 0],
}
#[repr(C)]
struct Image {
    _private: [u8; 0],
}

const COLORSPACE_RGB: c_int = 1;
const CHROMA_INTERLEAVED_RGB: c_int = 10;
const CHROMA_INTERLEAVED_RGBA: c_int = 11;
const CHANNEL_INTERLEAVED: c_int = 10;

#[link(name = "heif")]
unsafe extern "C" {
    fn heif_init(params: *mut c_void) -> HeifError;
    fn heif_context_alloc() -> *mut Context;
    fn heif_context_free(ctx: *mut Context);
    fn heif_context_read_from_memory_without_copy(
        ctx: *mut Context,
        mem: *const c_void,
        size: usize,
        options: *const c_void,
    ) -> HeifError;
    fn heif_context_get_primary_image_handle(ctx: *mut Context, handle: *mut *mut Handle) -> HeifError;
    fn heif_image_handle_release(handle: *const Handle);
    fn heif_image_handle_get_width(handle: *const Handle) -> c_int;
    fn heif_image_handle_get_height(handle: *const Handle) -> c_int;
    fn heif_image_handle_has_alpha_channel(handle: *const Handle) -> c_int;
    fn heif_decode_image(
        handle: *const Handle,
        image: *mut *mut Image,
        colorspace: c_int,
        chroma: c_int,
        options: *const c_void,
    ) -> HeifError;
    fn heif_image_release(image: *const Image);
    fn heif_image_get_plane_readonly(image: *const Image, channel: c_int, stride: *mut c_int) -> *const u8;
}

/// Frees what it holds when dropped, so every early return releases libheif's objects.
struct Owned {
    ctx: *mut Context,
    handle: *mut Handle,
    image: *mut Image,
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or was returned by libheif and is released once.
        unsafe {
            if !self.image.is_null() {
                heif_image_release(self.image);
            }
            if !self.handle.is_null() {
                heif_image_handle_release(self.handle);
            }
            if !self.ctx.is_null() {
                heif_context_free(self.ctx);
            }
        }
    }
}

fn check(err: HeifError, name: &str, format: ImageFormat) -> Result<()> {
    if err.code == 0 {
        return Ok(());
    }
    // SAFETY: libheif's message is always a valid NUL-terminated static string.
    let message = unsafe { CStr::from_ptr(err.message) }.to_string_lossy().into_owned();
    Err(PreprocessError::Corrupt { name: name.to_owned(), format: format.name(), reason: message })
}

/// Decodes the primary image of an AVIF or HEIC file.
pub(super) fn decode(bytes: &[u8], name: &str, format: ImageFormat, max_pixels: u64) -> Result<DecodedImage> {
    static INIT: Once = Once::new();
    // SAFETY: heif_init with no parameters only loads libheif's built-in plugins.
    INIT.call_once(|| unsafe {
        heif_init(std::ptr::null_mut());
    });
    // SAFETY: the context reads `bytes`, which outlive it (it is freed by `owned` below); every
    // handle and image is released by `Owned`, and the plane is copied before they are.
    unsafe {
        let mut owned = Owned { ctx: heif_context_alloc(), handle: std::ptr::null_mut(), image: std::ptr::null_mut() };
        if owned.ctx.is_null() {
            return Err(PreprocessError::Corrupt {
                name: name.to_owned(),
                format: format.name(),
                reason: "out of memory".into(),
            });
        }
        let read =
            heif_context_read_from_memory_without_copy(owned.ctx, bytes.as_ptr().cast(), bytes.len(), std::ptr::null());
        check(read, name, format)?;
        check(heif_context_get_primary_image_handle(owned.ctx, &mut owned.handle), name, format)?;
        let (w, h) = (heif_image_handle_get_width(owned.handle), heif_image_handle_get_height(owned.handle));
        check_dimensions(name, w.max(0) as u64, h.max(0) as u64, max_pixels)?;
        let alpha = heif_image_handle_has_alpha_channel(owned.handle) != 0;
        let (chroma, channels, mode) = if alpha {
            (CHROMA_INTERLEAVED_RGBA, 4, ColorMode::Rgba)
        } else {
            (CHROMA_INTERLEAVED_RGB, 3, ColorMode::Rgb)
        };
        check(
            heif_decode_image(owned.handle, &mut owned.image, COLORSPACE_RGB, chroma, std::ptr::null()),
            name,
            format,
        )?;
        let mut stride: c_int = 0;
        let plane = heif_image_get_plane_readonly(owned.image, CHANNEL_INTERLEAVED, &mut stride);
        let (w, h) = (w as usize, h as usize);
        if plane.is_null() || (stride as usize) < w * channels {
            return Err(PreprocessError::Corrupt {
                name: name.to_owned(),
                format: format.name(),
                reason: "no RGB plane".into(),
            });
        }
        let mut pixels = Vec::with_capacity(w * h * channels);
        for y in 0..h {
            let row = std::slice::from_raw_parts(plane.add(y * stride as usize), w * channels);
            pixels.extend_from_slice(row);
        }
        DecodedImage::new(w, h, mode, pixels).ok_or_else(|| PreprocessError::Corrupt {
            name: name.to_owned(),
            format: format.name(),
            reason: "decoder returned fewer pixels than declared".into(),
        })
    }
}
