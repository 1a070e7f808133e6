//! Camera-trap detections: MegaDetector's batch output read and checked, and the crop of each
//! detection that the species classifier looks at.
//!
//! The file format is MegaDetector's (<https://lila.science/megadetector-output-format>,
//! versions 1.0 onwards): `images[].file`, `images[].detections[]` with a `category` id into
//! `detection_categories`, a `conf` and a normalised `[x, y, width, height]` box. The whole
//! document is kept, so a classified copy can be written back with every field the detector
//! wrote (see [`DetectionFile::document`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use crate::classify::{Answer, Classifier};
use crate::engine::{Engine, Image};
use crate::error::{EngineError, Result};
use crate::preprocess::DecodedImage;

/// A MegaDetector batch output file, checked on reading.
#[derive(Debug, Clone)]
pub struct DetectionFile {
    path: PathBuf,
    root: PathBuf,
    document: Value,
    categories: BTreeMap<String, String>,
    images: Vec<DetectedImage>,
}

/// One photo of a detection file.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedImage {
    /// The photo's path as the detector wrote it (relative to the folder it ran on, or
    /// absolute).
    pub file: String,
    /// What the detector found (empty when nothing, or when it failed).
    pub detections: Vec<Detection>,
    /// Why the detector could not process the photo, if it could not.
    pub failure: Option<String>,
}

/// One box the detector drew.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The detection category id (a key of [`DetectionFile::categories`]).
    pub category: String,
    /// The detector's confidence, in [0, 1].
    pub conf: f64,
    /// Where, in normalised coordinates.
    pub bbox: BBox,
}

/// A box in normalised image coordinates: `x, y` the top-left corner, `width, height` its
/// size, all fractions of the image's width and height (so within [0, 1]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

impl BBox {
    /// A box; `None` unless every number is finite, the corner within [0, 1] and the size
    /// positive with the box ending by 1 (a rounding slack of 1e-3 is allowed, then clamped).
    pub fn new(x: f64, y: f64, width: f64, height: f64) -> Option<BBox> {
        let slack = 1e-3;
        let ok = [x, y, width, height].iter().all(|v| v.is_finite())
            && (0.0..=1.0).contains(&x)
            && (0.0..=1.0).contains(&y)
            && width > 0.0
            && height > 0.0
            && x + width <= 1.0 + slack
            && y + height <= 1.0 + slack;
        ok.then(|| BBox { x, y, width: width.min(1.0 - x), height: height.min(1.0 - y) })
    }

    /// The whole image.
    pub const WHOLE: BBox = BBox { x: 0.0, y: 0.0, width: 1.0, height: 1.0 };

    /// `[x, y, width, height]`.
    pub fn to_array(self) -> [f64; 4] {
        [self.x, self.y, self.width, self.height]
    }

    /// The box in whole pixels of a `w`×`h` image: each coordinate scaled and truncated, as
    /// MegaDetector's and SpeciesNet's croppers do (`int(x * w)`), kept inside the image.
    /// `None` if it is less than a pixel wide or high.
    pub fn pixels(self, w: usize, h: usize) -> Option<PixelBox> {
        // Truncation toward zero of non-negative numbers is `as` casting; f64 keeps Python's
        // arithmetic for the products.
        let x0 = ((self.x * w as f64) as usize).min(w.saturating_sub(1));
        let y0 = ((self.y * h as f64) as usize).min(h.saturating_sub(1));
        let bw = ((self.width * w as f64) as usize).min(w - x0);
        let bh = ((self.height * h as f64) as usize).min(h - y0);
        (bw > 0 && bh > 0).then_some(PixelBox { x: x0, y: y0, width: bw, height: bh })
    }
}

/// A box in pixels, inside its image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelBox {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width in pixels (at least 1).
    pub width: usize,
    /// Height in pixels (at least 1).
    pub height: usize,
}

/// How a detection becomes the picture the classifier sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CropShape {
    /// Exactly the box (SpeciesNet's crop): the image pipeline then squashes or crops it to
    /// the model's square input.
    #[default]
    Box,
    /// A square of the box's longer side, centred on the box and moved inside the image where
    /// it would cross an edge; where the image itself is smaller than the square, it is
    /// centred and the rest is black (MegaDetector's `--square-crops`, which pads with zeros).
    /// The animal keeps its proportions through the model's square input.
    Square,
}

impl std::str::FromStr for CropShape {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "box" => Ok(CropShape::Box),
            "square" => Ok(CropShape::Square),
            other => Err(format!("{other:?} is not a crop shape (box or square)")),
        }
    }
}

/// What is classified in a detection file's photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The detection at this index of the photo's `detections`.
    Detection(usize),
    /// The whole photo (it had no detection to classify and whole photos were asked for).
    Whole,
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Detection(i) => write!(f, "detection {i}"),
            Subject::Whole => f.write_str("the whole photo"),
        }
    }
}

/// Which detections are classified, and how they are cut out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropPlan {
    /// Detections below this confidence are left alone.
    pub threshold: f64,
    /// How a box becomes a picture.
    pub shape: CropShape,
    /// Classify a photo whole when none of its detections is an animal above the threshold.
    pub whole_when_none: bool,
}

impl Default for CropPlan {
    /// MegaDetector's typical threshold (0.2), exact boxes, photos without animals left alone.
    fn default() -> Self {
        CropPlan { threshold: 0.2, shape: CropShape::Box, whole_when_none: false }
    }
}

impl CropPlan {
    /// What to classify in `image`: each detection of an animal category (`animal_ids`) at or
    /// above the threshold, or the whole photo when there is none and that was asked for.
    pub fn subjects(&self, image: &DetectedImage, animal_ids: &[String]) -> Vec<Subject> {
        let mut subjects: Vec<Subject> = image
            .detections
            .iter()
            .enumerate()
            .filter(|(_, d)| d.conf >= self.threshold && animal_ids.contains(&d.category))
            .map(|(i, _)| Subject::Detection(i))
            .collect();
        if subjects.is_empty() && self.whole_when_none && image.failure.is_none() {
            subjects.push(Subject::Whole);
        }
        subjects
    }
}

/// Cuts a detection out of a decoded photo as 8-bit RGB: `(width, height, pixels)`.
///
/// # Errors
/// The box is less than a pixel on this photo.
pub fn crop_detection(image: &DecodedImage, bbox: BBox, shape: CropShape) -> Result<(usize, usize, Vec<u8>)> {
    let (w, h) = (image.width(), image.height());
    let b = bbox.pixels(w, h).ok_or_else(|| {
        EngineError::Invalid(format!("the box {:?} is less than a pixel on this {w}×{h} photo", bbox.to_array()))
    })?;
    let rgb = image.to_rgb();
    let (x0, y0, cw, ch) = match shape {
        CropShape::Box => (b.x as isize, b.y as isize, b.width, b.height),
        CropShape::Square => {
            let side = b.width.max(b.height);
            (square_start(b.x, b.width, side, w), square_start(b.y, b.height, side, h), side, side)
        }
    };
    let mut out = vec![0u8; cw * ch * 3];
    for row in 0..ch {
        let sy = y0 + row as isize;
        if sy < 0 || sy >= h as isize {
            continue;
        }
        // The columns of this row that fall inside the photo; the rest stay black.
        let first = (-x0).max(0) as usize;
        let last = ((w as isize - x0).min(cw as isize)).max(0) as usize;
        if first >= last {
            continue;
        }
        let src = (sy as usize * w + (x0 + first as isize) as usize) * 3;
        let dst = (row * cw + first) * 3;
        out[dst..dst + (last - first) * 3].copy_from_slice(&rgb[src..src + (last - first) * 3]);
    }
    Ok((cw, ch, out))
}

/// Where a square of `side` starts along one axis of `extent` pixels, for a box starting at
/// `start` of length `len`: centred on the box, then moved inside the image; centred on the
/// image (negative start, black margins) when the image is shorter than the square.
fn square_start(start: usize, len: usize, side: usize, extent: usize) -> isize {
    if extent < side {
        return -(((side - extent) / 2) as isize);
    }
    let centred = start as isize - ((side - len) / 2) as isize;
    centred.clamp(0, (extent - side) as isize)
}

impl DetectionFile {
    /// Reads and checks a MegaDetector batch output file. Every problem names the file and the
    /// place in it (`images[3].detections[0].bbox`).
    ///
    /// # Errors
    /// The file cannot be read, is not JSON, or is not in MegaDetector's format.
    pub fn read(path: impl AsRef<Path>) -> Result<DetectionFile> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| EngineError::Io { path: path.to_owned(), source })?;
        let document: Value = serde_json::from_slice(&bytes).map_err(|e| bad(path, format!("not JSON: {e}")))?;
        Self::from_document(path, document)
    }

    /// Checks a parsed document; `path` names it in errors.
    ///
    /// # Errors
    /// It is not in MegaDetector's format.
    pub fn from_document(path: &Path, document: Value) -> Result<DetectionFile> {
        let top = document.as_object().ok_or_else(|| bad(path, "not a MegaDetector output (not a JSON object)"))?;
        let version = top
            .get("info")
            .and_then(|i| i.get("format_version"))
            .ok_or_else(|| bad(path, "no info.format_version: not a MegaDetector batch output"))?;
        let version_ok = match version {
            Value::String(s) => s.parse::<f64>().is_ok(),
            Value::Number(_) => true,
            _ => false,
        };
        if !version_ok {
            return Err(bad(path, format!("info.format_version {version} is not a version number")));
        }
        let categories = string_map(path, top, "detection_categories")?
            .ok_or_else(|| bad(path, "no detection_categories (MegaDetector's files always have them)"))?;
        let images = top
            .get("images")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(path, "no images array"))?
            .iter()
            .enumerate()
            .map(|(i, v)| read_image(path, i, v, &categories))
            .collect::<Result<Vec<_>>>()?;
        let root = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(DetectionFile { path: path.to_owned(), root, document, categories, images })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder the photos' relative paths start from (the one the detector ran on):
    /// the file's own folder unless given.
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }

    /// The folder the photos' relative paths start from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The whole document as read, to be written back with classifications added.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// Detection category ids and names (`"1": "animal"`).
    pub fn categories(&self) -> &BTreeMap<String, String> {
        &self.categories
    }

    /// The ids of the categories named "animal" (the ones a species classifier looks at).
    pub fn animal_ids(&self) -> Vec<String> {
        self.categories
            .iter()
            .filter(|(_, name)| name.eq_ignore_ascii_case("animal"))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The photos, in the file's order.
    pub fn images(&self) -> &[DetectedImage] {
        &self.images
    }

    /// Where the photo of `image` is: its path under [`DetectionFile::root`] (or as written,
    /// when absolute; backslashes read as separators, as the format allows).
    pub fn locate(&self, image: &DetectedImage) -> PathBuf {
        let relative = image.file.replace('\\', "/");
        let p = Path::new(&relative);
        if p.is_absolute() { p.to_owned() } else { self.root.join(p) }
    }
}

/// One photo's answers in a detection file: per subject (a detection, or the whole photo),
/// an answer or why that subject could not be classified (a box under a pixel). Empty when the
/// photo had nothing to classify.
pub type DetectionAnswers = Vec<(Subject, Result<Answer>)>;

impl Engine {
    /// Classifies the detections of a MegaDetector file: for each photo of `todo` (indices
    /// into [`DetectionFile::images`], in order), the subjects `plan` picks, each cut out with
    /// [`crop_detection`] and answered by `classifier`. Photos are read from under the file's
    /// [`DetectionFile::root`], once
    /// each, with their EXIF orientation applied (MegaDetector's boxes are drawn on the upright
    /// photo). `each(image, answers)` is called in `todo`'s order; a photo that cannot be read,
    /// or that the detector failed on, gives an error for that photo only.
    ///
    /// # Errors
    /// The model fails (the run stops there).
    pub fn classify_detections(
        &self,
        classifier: &Classifier<'_>,
        file: &DetectionFile,
        plan: &CropPlan,
        todo: &[usize],
        batch_size: usize,
        mut each: impl FnMut(usize, Result<DetectionAnswers>),
    ) -> Result<()> {
        let animals = file.animal_ids();
        for chunk in todo.chunks(batch_size.max(1)) {
            let cut: Vec<CutOut> =
                chunk.par_iter().map(|&i| self.cut_out(file, &file.images[i], plan, &animals)).collect();
            let mut crops = Vec::new();
            for (_, r) in cut.iter().flat_map(|c| c.iter().flatten()) {
                if let Ok((width, height, pixels)) = r {
                    crops.push(Image::Rgb { width: *width, height: *height, pixels });
                }
            }
            let mut answers = self.classify_batch(classifier, &crops).into_iter();
            for (&i, photo) in chunk.iter().zip(cut) {
                let photo = photo.map(|subjects| {
                    subjects
                        .into_iter()
                        .map(|(subject, crop)| {
                            let answer = crop.and_then(|_| {
                                answers.next().unwrap_or_else(|| Err(EngineError::Invalid("no answer".into())))
                            });
                            (subject, answer)
                        })
                        .collect()
                });
                each(i, photo);
            }
        }
        Ok(())
    }

    fn cut_out(&self, file: &DetectionFile, image: &DetectedImage, plan: &CropPlan, animals: &[String]) -> CutOut {
        if let Some(failure) = &image.failure {
            return Err(EngineError::Invalid(format!("{}: the detector could not read it: {failure}", image.file)));
        }
        let subjects = plan.subjects(image, animals);
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let path = file.locate(image);
        let bytes = std::fs::read(&path).map_err(|source| EngineError::Io { path: path.clone(), source })?;
        let decoded = self.preprocessor().decode(&bytes, &path.display().to_string())?.apply_orientation();
        Ok(subjects
            .into_iter()
            .map(|s| {
                let crop = match s {
                    Subject::Detection(d) => crop_detection(&decoded, image.detections[d].bbox, plan.shape),
                    Subject::Whole => crop_detection(&decoded, BBox::WHOLE, CropShape::Box),
                };
                (s, crop.map_err(|e| EngineError::Invalid(format!("{}: {s}: {e}", path.display()))))
            })
            .collect())
    }
}

/// A cut-out: width, height, RGB bytes.
type Crop = (usize, usize, Vec<u8>);

/// A photo's cut-outs, each with its subject, or why the photo could not be read.
type CutOut = Result<Vec<(Subject, Result<Crop>)>>;

fn bad(path: &Path, problem: impl std::fmt::Display) -> EngineError {
    EngineError::Invalid(format!("{}: {problem}", path.display()))
}

fn string_map(
    path: &Path,
    top: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<BTreeMap<String, String>>> {
    let Some(v) = top.get(key) else { return Ok(None) };
    let obj = v.as_object().ok_or_else(|| bad(path, format!("{key} is not an object")))?;
    let mut map = BTreeMap::new();
    for (id, name) in obj {
        if id.parse::<u64>().is_err() {
            return Err(bad(path, format!("{key}: the id {id:?} is not a non-negative integer")));
        }
        let name = name.as_str().filter(|s| !s.is_empty());
        map.insert(id.clone(), name.ok_or_else(|| bad(path, format!("{key}.{id}: not a non-empty name")))?.to_owned());
    }
    Ok(Some(map))
}

fn read_image(path: &Path, i: usize, v: &Value, categories: &BTreeMap<String, String>) -> Result<DetectedImage> {
    let at = |what: &str| format!("images[{i}]{what}");
    let file = v
        .get("file")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| bad(path, format!("{}: no file name", at(""))))?
        .to_owned();
    let failure = match v.get("failure") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => return Err(bad(path, format!("{} ({file}): failure {other} is not a string", at("")))),
    };
    let detections = match v.get("detections") {
        None | Some(Value::Null) if failure.is_some() => Vec::new(),
        None | Some(Value::Null) => {
            return Err(bad(path, format!("{} ({file}): no detections and no failure", at(""))));
        }
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(j, d)| {
                read_detection(d, categories)
                    .map_err(|p| bad(path, format!("{} ({file}): {p}", at(&format!(".detections[{j}]")))))
            })
            .collect::<Result<Vec<_>>>()?,
        Some(other) => return Err(bad(path, format!("{} ({file}): detections {other} is not a list", at("")))),
    };
    Ok(DetectedImage { file, detections, failure })
}

fn read_detection(d: &Value, categories: &BTreeMap<String, String>) -> Result<Detection, String> {
    let category = match d.get("category") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("no category".into()),
    };
    if !categories.contains_key(&category) {
        return Err(format!("category {category:?} is not in detection_categories"));
    }
    let conf = d.get("conf").and_then(Value::as_f64).ok_or("no conf")?;
    if !(0.0..=1.0).contains(&conf) {
        return Err(format!("conf {conf} is not in [0, 1]"));
    }
    let numbers: Vec<f64> = d
        .get("bbox")
        .and_then(Value::as_array)
        .map(|b| b.iter().filter_map(Value::as_f64).collect())
        .ok_or("no bbox")?;
    let bbox = match numbers[..] {
        [x, y, w, h] => BBox::new(x, y, w, h)
            .ok_or_else(|| format!("bbox {numbers:?} is not a normalised [x, y, width, height] inside the image"))?,
        _ => return Err(format!("bbox has {} numbers, not [x, y, width, height]", numbers.len())),
    };
    Ok(Detection { category, conf, bbox })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::ColorMode;

    fn gradient(w: usize, h: usize) -> DecodedImage {
        let pixels = (0..w * h).flat_map(|i| [(i % w) as u8, (i / w) as u8, 7]).collect();
        DecodedImage::new(w, h, ColorMode::Rgb, pixels).unwrap()
    }

    #[test]
    fn boxes_truncate_like_python_and_stay_inside() {
        let b = BBox::new(0.25, 0.5, 0.5, 0.5).unwrap();
        assert_eq!(b.pixels(10, 10), Some(PixelBox { x: 2, y: 5, width: 5, height: 5 }));
        assert!(BBox::new(0.9, 0.0, 0.2, 0.1).is_none(), "past the right edge");
        assert!(BBox::new(0.0, 0.0, 0.0, 0.1).is_none(), "empty");
        assert!(BBox::new(0.0, 0.0, 1.0005, 1.0).is_some(), "rounding slack");
        assert_eq!(BBox::new(0.0, 0.0, 0.05, 0.05).unwrap().pixels(10, 10), None, "under a pixel");
    }

    #[test]
    fn square_crops_centre_move_inside_and_pad() {
        let img = gradient(20, 10);
        // A 4x2 box at (8, 4): the square of side 4 starts one row up.
        let (w, h, px) = crop_detection(&img, BBox::new(0.4, 0.4, 0.2, 0.2).unwrap(), CropShape::Square).unwrap();
        assert_eq!((w, h), (4, 4));
        assert_eq!(&px[..3], &[8, 3, 7]);
        // A box at the left edge: the square is moved right, not padded.
        let (_, _, px) = crop_detection(&img, BBox::new(0.0, 0.0, 0.05, 0.5).unwrap(), CropShape::Square).unwrap();
        assert_eq!(&px[..3], &[0, 0, 7]);
        // A tall box on a short photo: the square is taller than the photo, black above and below.
        let (w, h, px) = crop_detection(&img, BBox::new(0.0, 0.0, 0.6, 1.0).unwrap(), CropShape::Square).unwrap();
        assert_eq!((w, h), (12, 12));
        assert_eq!(&px[..3], &[0, 0, 0]);
        assert_eq!(&px[12 * 3..12 * 3 + 3], &[0, 0, 7], "first photo row after one black row");
        let (w, h, _) = crop_detection(&img, BBox::new(0.4, 0.4, 0.2, 0.2).unwrap(), CropShape::Box).unwrap();
        assert_eq!((w, h), (4, 2));
    }

    /// The fixture cat photo cut by `crop_detection` and by a plain loop over its pixels
    /// (`int(v * size)` per coordinate): the same bytes, for boxes inside, at and across edges.
    #[test]
    fn crops_of_a_real_photo_are_its_pixels() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/openclip/images/chelsea.png");
        let bytes = std::fs::read(path).unwrap();
        let image = crate::preprocess::Preprocessor::new(crate::preprocess::Pipeline::Squash, 224)
            .unwrap()
            .decode(&bytes, path)
            .unwrap();
        let (w, h, rgb) = (image.width(), image.height(), image.to_rgb());
        for b in [[0.2151, 0.1033, 0.4, 0.61], [0.9, 0.0, 0.1, 0.9], [0.0, 0.0, 1.0, 1.0], [0.333, 0.777, 0.5, 0.223]] {
            let bbox = BBox::new(b[0], b[1], b[2], b[3]).unwrap();
            let (x0, y0) = ((b[0] * w as f64) as usize, (b[1] * h as f64) as usize);
            let (bw, bh) = ((b[2] * w as f64) as usize, (b[3] * h as f64) as usize);
            let mut want = Vec::new();
            for y in y0..y0 + bh {
                want.extend_from_slice(&rgb[(y * w + x0) * 3..(y * w + x0 + bw) * 3]);
            }
            assert_eq!(crop_detection(&image, bbox, CropShape::Box).unwrap(), (bw, bh, want), "{b:?}");
        }
    }

    #[test]
    fn malformed_files_name_the_place() {
        let p = Path::new("md.json");
        let doc = |images: Value| serde_json::json!({"info": {"format_version": "1.4"}, "detection_categories": {"1": "animal"}, "images": images});
        let e = DetectionFile::from_document(p, doc(serde_json::json!([{"file": "a.jpg", "detections": [{"category": "1", "conf": 0.9, "bbox": [0.1, 0.1, 2.0, 0.1]}]}])))
            .unwrap_err()
            .to_string();
        assert!(e.contains("md.json: images[0].detections[0] (a.jpg): bbox"), "{e}");
        let e = DetectionFile::from_document(p, doc(serde_json::json!([{"file": "a.jpg", "detections": [{"category": "7", "conf": 0.9, "bbox": [0, 0, 1, 1]}]}])))
            .unwrap_err()
            .to_string();
        assert!(e.contains("category \"7\""), "{e}");
        let e = DetectionFile::from_document(p, doc(serde_json::json!([{"file": "a.jpg"}]))).unwrap_err().to_string();
        assert!(e.contains("no detections and no failure"), "{e}");
        let e = DetectionFile::from_document(p, serde_json::json!({"images": []})).unwrap_err().to_string();
        assert!(e.contains("format_version"), "{e}");
        let ok = DetectionFile::from_document(
            p,
            doc(serde_json::json!([{"file": "b.jpg", "failure": "corrupt", "detections": null}])),
        )
        .unwrap();
        assert_eq!(ok.images()[0].failure.as_deref(), Some("corrupt"));
        assert_eq!(ok.animal_ids(), ["1"]);
    }
}
