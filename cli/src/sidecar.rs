//! Outputs written whole at the end (MegaDetector's JSON, a Camtrap DP package) are
//! checkpointed as they go: one JSON line per photo in a sidecar file beside the output
//! (`<output>.partial.jsonl`), flushed per photo. A killed run leaves the sidecar; `--resume`
//! carries it on like any JSON-lines output ([`crate::resume`]), and the output is assembled
//! from it, atomically, once every photo is in. The sidecar is removed after that.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arbor_engine::{Engine, ImageFormat, NamedScore, PhotoTags};
use serde::{Deserialize, Serialize};

use crate::results::{PhotoResult, Sink};

/// One photo in the sidecar.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The photo as reported (a detection file's `file`, or the path).
    pub file_name: String,
    /// Why it could not be classified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was classified in it, in order.
    #[serde(default)]
    pub subjects: Vec<SubjectRecord>,
    /// EXIF time, place, camera.
    #[serde(default)]
    pub exif: ExifRecord,
    /// The file's media type, from its content (`image/jpeg`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The file's modification time, seconds since 1970 (a timestamp where EXIF has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<i64>,
}

/// One classified subject of a photo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubjectRecord {
    /// Index into the photo's detections; `None` for the whole photo.
    pub detection: Option<usize>,
    /// Why it could not be classified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The answer's candidates, best first.
    #[serde(default)]
    pub classes: Vec<ClassRecord>,
}

/// A candidate by name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClassRecord {
    /// Taxon, label or class name.
    pub name: String,
    /// The taxon's rank ("species").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<String>,
    /// Kingdom down to the taxon.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<String>,
    /// Common name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// Score.
    pub score: f32,
    /// Whether the score is a probability.
    pub probability: bool,
}

/// EXIF, as recorded.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ExifRecord {
    /// `YYYY:MM:DD HH:MM:SS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datetime_original: Option<String>,
    /// Decimal degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps_latitude: Option<f64>,
    /// Decimal degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps_longitude: Option<f64>,
    /// Camera model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_model: Option<String>,
}

impl From<NamedScore> for ClassRecord {
    fn from(n: NamedScore) -> Self {
        ClassRecord {
            name: n.name,
            rank: n.rank.map(|r| r.to_string()),
            lineage: n.lineage,
            common_name: n.common_name,
            score: n.score,
            probability: n.is_probability,
        }
    }
}

impl Record {
    /// The record of `result`; with `facts`, also the photo's EXIF, media type and modification
    /// time, read from its head (which the md-json output does not need).
    fn of(result: &PhotoResult, facts: bool) -> Record {
        let (error, subjects) = match &result.outcome {
            Err(e) => (Some(e.clone()), Vec::new()),
            Ok(units) => (
                None,
                units
                    .iter()
                    .map(|u| SubjectRecord {
                        detection: u.subject.and_then(|s| s.detection),
                        error: u.answer.as_ref().err().cloned(),
                        classes: u
                            .answer
                            .as_ref()
                            .map(|a| a.named().into_iter().map(Into::into).collect())
                            .unwrap_or_default(),
                    })
                    .collect(),
            ),
        };
        // EXIF sits in the file's head; the media type needs only its first bytes.
        let head = match (facts, result.tags.is_some()) {
            (false, _) => Vec::new(),
            (true, true) => crate::results::file_head(&result.path, 64),
            (true, false) => crate::results::file_head(&result.path, 1 << 20),
        };
        let tags =
            result.tags.clone().unwrap_or_else(|| if facts { PhotoTags::read(&head) } else { PhotoTags::default() });
        let modified = facts
            .then(|| std::fs::metadata(&result.path).and_then(|m| m.modified()).ok())
            .flatten()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64);
        Record {
            file_name: result.file.clone(),
            error,
            subjects,
            exif: ExifRecord {
                datetime_original: tags.datetime_original,
                gps_latitude: tags.gps_latitude,
                gps_longitude: tags.gps_longitude,
                camera_model: tags.camera_model,
            },
            media_type: ImageFormat::sniff(&head).map(|f| f.media_type().to_owned()),
            modified,
        }
    }
}

/// The sidecar of `output`.
pub fn sidecar_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial.jsonl");
    output.with_file_name(name)
}

/// Builds the finished output from every record, in order.
pub trait Assemble {
    /// Writes the output (atomically) from the sidecar's records.
    fn assemble(&self, engine: &Engine, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<()>;

    /// Whether records need each photo's EXIF, media type and file time (a Camtrap DP package
    /// does; an md-json file does not, and its photos' heads are then not read again).
    fn needs_photo_facts(&self) -> bool {
        false
    }
}

/// A sink that checkpoints into the sidecar and assembles the output at the end.
pub struct Checkpointed<A: Assemble> {
    path: PathBuf,
    out: BufWriter<File>,
    assembler: A,
}

impl<A: Assemble> Checkpointed<A> {
    /// Starts (or, when `resumed`, carries on) the sidecar of `output`. A sidecar left by a
    /// killed run is not overwritten without `--resume`.
    pub fn new(output: &Path, resumed: bool, assembler: A) -> Result<Self> {
        let path = sidecar_path(output);
        if !resumed && path.exists() {
            bail!(
                "{}: an interrupted run's results are here; add --resume to carry it on, or delete the file to start again",
                path.display()
            );
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
        let out = BufWriter::new(file.with_context(|| format!("{}: cannot create", path.display()))?);
        Ok(Checkpointed { path, out, assembler })
    }
}

impl<A: Assemble> Sink for Checkpointed<A> {
    fn photo(&mut self, _: &Engine, result: &PhotoResult) -> Result<()> {
        serde_json::to_writer(&mut self.out, &Record::of(result, self.assembler.needs_photo_facts()))?;
        self.out.write_all(b"\n")?;
        self.out.flush().with_context(|| format!("{}: cannot write", self.path.display()))
    }

    fn finish(mut self: Box<Self>, engine: &Engine) -> Result<()> {
        self.out.flush()?;
        let file = File::open(&self.path).with_context(|| format!("{}: cannot read", self.path.display()))?;
        let path = self.path.clone();
        let mut records = BufReader::new(file).lines().enumerate().map(move |(i, line)| {
            let line = line.with_context(|| format!("{}: cannot read", path.display()))?;
            serde_json::from_str::<Record>(&line).with_context(|| format!("{} line {}: damaged", path.display(), i + 1))
        });
        self.assembler.assemble(engine, &mut records)?;
        std::fs::remove_file(&self.path).with_context(|| format!("{}: cannot remove", self.path.display()))
    }
}
