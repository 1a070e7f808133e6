//! Training data: a folder with `manifest.csv` naming each photo, its split and its taxon.
//!
//! ```text
//! path,split,kingdom,phylum,class,order,family,genus,species_epithet,common_name
//! images/0001.png,train,Animalia,Chordata,Aves,Passeriformes,Corvidae,Corvus,corax,common raven
//! ```
//!
//! Paths are relative to the folder; ranks may be empty. A row that cannot be used (wrong
//! number of fields, unknown split, missing file, no name at any rank) is skipped and
//! reported with its line number, never fatal: one bad row in a million must not stop a
//! run. So is a photo that cannot be decoded, when [`Dataset::load_images`] reads it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arbor_engine::{ColorMode, DecodedImage, decode_image as decode};
use arbor_index::{Lineage, TaxonRecord};
use rayon::prelude::*;

use crate::error::{Result, TrainError};

/// The manifest's file name inside a dataset folder.
pub const MANIFEST: &str = "manifest.csv";

const COLUMNS: [&str; 10] =
    ["path", "split", "kingdom", "phylum", "class", "order", "family", "genus", "species_epithet", "common_name"];

/// Which part of the data a photo belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Used to fit the model.
    Train = 0,
    /// Watched during training (zero- and few-shot accuracy per epoch).
    Val = 1,
    /// Held out for the final evaluation.
    Test = 2,
}

impl Split {
    /// The manifest's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

impl std::str::FromStr for Split {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" => Ok(Split::Train),
            "val" | "valid" | "validation" => Ok(Split::Val),
            "test" => Ok(Split::Test),
            other => Err(format!("unknown split {other:?} (expected train, val or test)")),
        }
    }
}

/// One usable manifest row.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The photo (absolute, or relative to the working directory).
    pub path: PathBuf,
    /// Its split.
    pub split: Split,
    /// Its taxon.
    pub taxon: TaxonRecord,
    /// Index of the taxon in [`Dataset::taxa`].
    pub taxon_index: usize,
    /// 1-based line in the manifest (for reports).
    pub line: usize,
}

/// A row or photo that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// 1-based manifest line.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// A dataset folder's usable rows.
#[derive(Debug, Clone)]
pub struct Dataset {
    root: PathBuf,
    samples: Vec<Sample>,
    taxa: Vec<TaxonRecord>,
    skipped: Vec<Skipped>,
}

impl Dataset {
    /// Reads `dir/manifest.csv`.
    ///
    /// # Errors
    /// The manifest is missing, unreadable, lacks a required column, or has no usable row.
    pub fn open(dir: impl AsRef<Path>) -> Result<Dataset> {
        let root = dir.as_ref().to_owned();
        let path = root.join(MANIFEST);
        let fail = |message: String| TrainError::Manifest { path: path.clone(), message };
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(&path).map_err(|e| fail(e.to_string()))?;
        let header = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
        let column = |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
        let positions: Vec<usize> = COLUMNS
            .iter()
            .map(|name| {
                column(name).ok_or_else(|| fail(format!("no `{name}` column (expected {})", COLUMNS.join(","))))
            })
            .collect::<Result<_>>()?;
        let mut dataset = Dataset { root: root.clone(), samples: Vec::new(), taxa: Vec::new(), skipped: Vec::new() };
        let mut taxon_ids: HashMap<TaxonRecord, usize> = HashMap::new();
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let row = record.map_err(|e| e.to_string()).and_then(|r| parse_row(&root, &r, &positions));
            match row {
                Ok((path, split, taxon)) => {
                    let taxon_index = *taxon_ids.entry(taxon.clone()).or_insert_with(|| {
                        dataset.taxa.push(taxon.clone());
                        dataset.taxa.len() - 1
                    });
                    dataset.samples.push(Sample { path, split, taxon, taxon_index, line });
                }
                Err(reason) => dataset.skipped.push(Skipped { line, reason }),
            }
        }
        if dataset.samples.is_empty() {
            return Err(fail(format!("no usable row ({} skipped)", dataset.skipped.len())));
        }
        Ok(dataset)
    }

    /// The dataset folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every usable row, in manifest order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The rows of one split.
    pub fn split(&self, split: Split) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.split == split).collect()
    }

    /// Every distinct taxon (lineage + common name), in order of first appearance.
    pub fn taxa(&self) -> &[TaxonRecord] {
        &self.taxa
    }

    /// Whether taxon `index` has photos in the train split ("seen" in training).
    pub fn seen_in_training(&self) -> Vec<bool> {
        let mut seen = vec![false; self.taxa.len()];
        self.samples.iter().filter(|s| s.split == Split::Train).for_each(|s| seen[s.taxon_index] = true);
        seen
    }

    /// Rows left out so far: bad manifest rows, and photos that failed to decode.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Decodes the photos of `split` to RGB in parallel. Photos that cannot be read are
    /// dropped from the dataset and added to [`Dataset::skipped`].
    pub fn load_images(&mut self, split: Split, max_pixels: u64) -> ImageSet {
        let decoded: Vec<std::result::Result<DecodedImage, String>> = self
            .samples
            .par_iter()
            .filter(|s| s.split == split)
            .map(|s| {
                let bytes = std::fs::read(&s.path).map_err(|e| format!("{}: {e}", s.path.display()))?;
                let image = decode(&bytes, &s.path.to_string_lossy(), max_pixels).map_err(|e| e.to_string())?;
                // Training works on RGB; convert once here rather than on every epoch.
                DecodedImage::new(image.width(), image.height(), ColorMode::Rgb, image.to_rgb())
                    .ok_or_else(|| format!("{}: cannot convert to RGB", s.path.display()))
            })
            .collect();
        let mut images = ImageSet { samples: Vec::new(), images: Vec::new() };
        let mut kept = Vec::with_capacity(self.samples.len());
        let mut results = decoded.into_iter();
        for sample in std::mem::take(&mut self.samples) {
            if sample.split != split {
                kept.push(sample);
                continue;
            }
            match results.next() {
                Some(Ok(image)) => {
                    images.samples.push(sample.clone());
                    images.images.push(image);
                    kept.push(sample);
                }
                Some(Err(reason)) => self.skipped.push(Skipped { line: sample.line, reason }),
                None => kept.push(sample),
            }
        }
        self.samples = kept;
        images
    }
}

/// Decoded RGB photos of one split, with their rows.
#[derive(Debug, Clone, Default)]
pub struct ImageSet {
    /// The rows, in manifest order.
    pub samples: Vec<Sample>,
    /// `images[i]` is the photo of `samples[i]`.
    pub images: Vec<DecodedImage>,
}

impl ImageSet {
    /// Number of photos.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

fn parse_row(
    root: &Path,
    row: &csv::StringRecord,
    positions: &[usize],
) -> std::result::Result<(PathBuf, Split, TaxonRecord), String> {
    let field =
        |i: usize| row.get(positions[i]).map(str::trim).ok_or_else(|| format!("missing field `{}`", COLUMNS[i]));
    let relative = field(0)?;
    if relative.is_empty() {
        return Err("empty path".into());
    }
    let path = root.join(relative);
    if !path.is_file() {
        return Err(format!("{}: no such file", path.display()));
    }
    let split = field(1)?.parse::<Split>()?;
    let mut names: [String; 7] = Default::default();
    for (d, name) in names.iter_mut().enumerate() {
        *name = field(2 + d)?.to_owned();
    }
    if names.iter().all(String::is_empty) {
        return Err("no taxon name at any rank".into());
    }
    let common_name = field(9)?.to_owned();
    Ok((path, split, TaxonRecord { lineage: Lineage(names), common_name }))
}
