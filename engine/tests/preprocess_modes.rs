//! PIL's mode semantics on images made in the test: what the decoders report and how each
//! pipeline converts them. (Pixel-exact parity with PIL is proven on the shared fixtures in
//! `preprocess.rs`; these cover the modes the fixtures do not contain.)

use arbor_engine::{ColorMode, MAX_PIXELS, Pipeline, Preprocessor};

fn png(width: u32, height: u32, setup: impl FnOnce(&mut png::Encoder<'_, &mut Vec<u8>>), data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        setup(&mut encoder);
        let mut writer = encoder.write_header().expect("png header");
        writer.write_image_data(data).expect("png data");
    }
    out
}

fn jpeg(color_space: mozjpeg::ColorSpace, width: usize, height: usize, data: &[u8]) -> Vec<u8> {
    let mut compress = mozjpeg::Compress::new(color_space);
    compress.set_size(width, height);
    compress.set_quality(95.0);
    let mut started = compress.start_compress(Vec::new()).expect("jpeg start");
    started.write_scanlines(data).expect("jpeg scanlines");
    started.finish().expect("jpeg finish")
}

fn decode(bytes: &[u8]) -> arbor_engine::DecodedImage {
    arbor_engine::decode_image(bytes, "generated", MAX_PIXELS).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn one_bit_png_is_bilevel() {
    let bytes = png(
        8,
        1,
        |e| {
            e.set_color(png::ColorType::Grayscale);
            e.set_depth(png::BitDepth::One);
        },
        &[0b1100_1010],
    );
    let im = decode(&bytes);
    assert_eq!(*im.mode(), ColorMode::Bilevel);
    assert_eq!(im.pixels(), [255, 255, 0, 0, 255, 0, 255, 0]);
}

#[test]
fn palette_png_keeps_indices_and_ignores_trns_on_conversion() {
    let palette = [10, 20, 30, 200, 100, 50];
    let bytes = png(
        2,
        2,
        |e| {
            e.set_color(png::ColorType::Indexed);
            e.set_depth(png::BitDepth::Eight);
            e.set_palette(palette.to_vec());
            e.set_trns(vec![0u8]); // index 0 fully transparent
        },
        &[0, 1, 1, 0],
    );
    let im = decode(&bytes);
    assert!(matches!(im.mode(), ColorMode::Palette(_)));
    assert_eq!(im.pixels(), [0, 1, 1, 0]);
    // convert("RGB") looks up the palette; transparency does not blacken index 0.
    assert_eq!(&im.to_rgb()[..6], &[10, 20, 30, 200, 100, 50]);
}

#[test]
fn sixteen_bit_gray_png_saturates_like_pil() {
    let samples: [u16; 4] = [7, 255, 256, 60_000];
    let data: Vec<u8> = samples.iter().flat_map(|v| v.to_be_bytes()).collect();
    let bytes = png(
        4,
        1,
        |e| {
            e.set_color(png::ColorType::Grayscale);
            e.set_depth(png::BitDepth::Sixteen);
        },
        &data,
    );
    let im = decode(&bytes);
    assert_eq!(im.mode().pil_name(), "I;16");
    let rgb = im.to_rgb();
    assert_eq!(rgb, [7, 7, 7, 255, 255, 255, 255, 255, 255, 255, 255, 255]);
}

#[test]
fn transparent_pixels_differ_between_pipelines_as_in_the_references() {
    // A uniform grey-alpha image, fully transparent: open_clip's premultiplied resize makes it
    // black, pybioclip's convert("RGB") keeps the grey.
    let bytes = png(
        6,
        4,
        |e| {
            e.set_color(png::ColorType::GrayscaleAlpha);
            e.set_depth(png::BitDepth::Eight);
        },
        &[200, 0].repeat(24),
    );
    let im = decode(&bytes);
    assert_eq!(*im.mode(), ColorMode::GrayAlpha);
    assert!(arbor_engine::crop_pixels(&im, 3).iter().all(|&v| v == 0));
    let squash = Preprocessor::new(Pipeline::Squash, 3).unwrap().process(&im);
    let crop = Preprocessor::new(Pipeline::Crop, 3).unwrap().process(&im);
    let red = |t: &arbor_engine::PixelTensor| t.data()[0];
    let expected_grey = (200.0 / 255.0 - arbor_engine::OPENAI_MEAN[0]) / arbor_engine::OPENAI_STD[0];
    assert!((red(&squash) - expected_grey).abs() < 1e-6);
    assert!((red(&crop) - (0.0 - arbor_engine::OPENAI_MEAN[0]) / arbor_engine::OPENAI_STD[0]).abs() < 1e-6);
}

#[test]
fn grayscale_jpeg_is_mode_l_and_replicated() {
    let data: Vec<u8> = (0..16 * 8).map(|i| (i * 2) as u8).collect();
    let im = decode(&jpeg(mozjpeg::ColorSpace::JCS_GRAYSCALE, 16, 8, &data));
    assert_eq!(*im.mode(), ColorMode::Gray);
    let rgb = arbor_engine::crop_pixels(&im, 5);
    assert!(rgb.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]));
}

#[test]
fn cmyk_jpeg_uses_adobe_polarity_like_pil() {
    // PIL reads every CMYK JPEG as inverted ("CMYK;I"): stored 255 means no ink, i.e. white;
    // stored 0 in K only means full black.
    let white = decode(&jpeg(mozjpeg::ColorSpace::JCS_CMYK, 8, 8, &[255; 8 * 8 * 4]));
    assert_eq!(*white.mode(), ColorMode::Cmyk);
    assert!(white.to_rgb().iter().all(|&v| v == 255), "{:?}", &white.to_rgb()[..6]);
    let black = decode(&jpeg(mozjpeg::ColorSpace::JCS_CMYK, 8, 8, &[255, 255, 255, 0].repeat(64)));
    assert!(black.to_rgb().iter().all(|&v| v == 0), "{:?}", &black.to_rgb()[..6]);
}
