//! `classify --format camtrap-dp --output DIR`: a Camera Trap Data Package (Camtrap DP 1.0.2,
//! <https://camtrap-dp.tdwg.org>) of the run — `datapackage.json`, `deployments.csv`,
//! `media.csv`, `observations.csv` — as GBIF, Agouti, camtraptor and Wildlife Insights load it.
//!
//! Media are the photos; deployments are their folders (a camera's card is one folder);
//! observations are media-level: one per classified detection (with its box), per person or
//! vehicle detection, one `blank` per photo with no detection above the threshold, or one per
//! photo classified whole. Times are EXIF `DateTimeOriginal` in the offset the user gives (a
//! camera's clock has no zone), or the file's modification time where EXIF has none.
//! Deployments take their coordinates from `--deployments` or from their photos' EXIF GPS.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arbor_engine::{DetectionFile, Engine};
use jiff::tz::{Offset, TimeZone};
use serde_json::{Value, json};

use crate::sidecar::{Assemble, ClassRecord, Record};

/// Camtrap DP's version the package follows (its schemas' URLs carry it).
const VERSION: &str = "1.0.2";

/// What the package says beyond the photos.
pub struct CamtrapDp {
    /// The package folder.
    pub output: PathBuf,
    /// The folder the photos' paths are relative to.
    pub root: PathBuf,
    /// Known deployments (`deploymentID`, `latitude`, `longitude`, …) from `--deployments`.
    pub deployments: BTreeMap<String, BTreeMap<String, String>>,
    /// The offset of the cameras' clocks.
    pub offset: Offset,
    /// `project.title`.
    pub title: String,
    /// `contributors[0].title`.
    pub contributor: String,
    /// The detector's file, in detection mode.
    pub detections: Option<DetectionFile>,
    /// Detections below this are not observations.
    pub threshold: f64,
}

/// A media row being built, with what its observations need.
struct Media {
    id: String,
    /// The photo's path relative to the photo folder (Camtrap DP's `filePath`).
    relative: String,
    deployment: String,
    timestamp: jiff::ZonedDateTime,
    record: Record,
    /// Its entry in the detection file, in detection mode.
    image: Option<usize>,
}

impl CamtrapDp {
    /// Reads `--deployments`: a CSV with a header naming at least `deploymentID`, `latitude`
    /// and `longitude` (Camtrap DP's own column names).
    pub fn read_deployments(path: &Path) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
        let mut reader = csv::Reader::from_path(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
        for need in ["deploymentID", "latitude", "longitude"] {
            if !header.iter().any(|h| h == need) {
                bail!("{}: no {need} column (Camtrap DP's deployments columns are expected)", path.display());
            }
        }
        let mut out = BTreeMap::new();
        for (i, row) in reader.records().enumerate() {
            let row = row.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
            let fields: BTreeMap<String, String> =
                header.iter().cloned().zip(row.iter().map(str::to_owned)).filter(|(_, v)| !v.is_empty()).collect();
            for coord in ["latitude", "longitude"] {
                let v = fields.get(coord).map(|v| v.parse::<f64>());
                if !matches!(v, Some(Ok(x)) if x.is_finite()) {
                    bail!("{}: row {}: {coord} is not a number", path.display(), i + 2);
                }
            }
            let id = fields
                .get("deploymentID")
                .with_context(|| format!("{}: row {}: no deploymentID", path.display(), i + 2))?
                .clone();
            out.insert(id, fields);
        }
        Ok(out)
    }

    fn media(&self, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<Vec<Media>> {
        let tz = TimeZone::fixed(self.offset);
        let (mut media, mut absent) = (Vec::new(), Vec::new());
        // Each record's entry in the detection file, found once (a file may hold 10⁶ photos).
        let entries: HashMap<&str, usize> = self
            .detections
            .iter()
            .flat_map(|f| f.images().iter().enumerate().map(|(i, image)| (image.file.as_str(), i)))
            .collect();
        for r in records {
            let record = r?;
            let image = entries.get(record.file_name.as_str()).copied();
            let path = match (&self.detections, image) {
                (Some(file), Some(i)) => file.locate(&file.images()[i]),
                _ => PathBuf::from(&record.file_name),
            };
            // Camtrap DP's filePath is relative and never climbs (`..`): photos outside the
            // folder keep only their plain components.
            let relative: PathBuf = match path.strip_prefix(&self.root) {
                Ok(r) => r.to_path_buf(),
                Err(_) => path.components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect(),
            };
            let deployment = match relative.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(folder) => folder.to_string_lossy().replace('\\', "/"),
                None => self.root.file_name().map_or("deployment".into(), |n| n.to_string_lossy().into_owned()),
            };
            let exif_time = record
                .exif
                .datetime_original
                .as_deref()
                .and_then(|t| jiff::civil::DateTime::strptime("%Y:%m:%d %H:%M:%S", t.trim_end_matches('\0')).ok());
            let timestamp = match (exif_time, record.modified) {
                (Some(t), _) => t.to_zoned_datetime(tz.clone())?,
                (None, Some(secs)) => jiff::Timestamp::from_second(secs)?.to_zoned_datetime(tz.clone()),
                // Not on disk: not a medium of the package.
                (None, None) => {
                    absent.push(record.file_name);
                    continue;
                }
            };
            let relative = relative.to_string_lossy().replace('\\', "/").trim_start_matches("./").to_owned();
            media.push(Media { id: format!("m{}", media.len() + 1), relative, deployment, timestamp, record, image });
        }
        if !absent.is_empty() {
            eprintln!("left out of the package: {} photos not on disk ({})", absent.len(), absent.join(", "));
        }
        Ok(media)
    }

    fn write(&self, dir: &Path, engine: &Engine, media: &[Media]) -> Result<()> {
        let classified_by = format!(
            "Arbor {} ({})",
            env!("CARGO_PKG_VERSION"),
            arbor_engine::short_identity(engine.identity().image())
        );
        let now = jiff::Timestamp::now().to_zoned_datetime(TimeZone::fixed(self.offset));
        let deployments = self.deployment_rows(media)?;
        let mut taxa: BTreeMap<String, ClassRecord> = BTreeMap::new();
        let mut observations = Vec::new();
        for m in media {
            for mut o in self.observations(m) {
                if let Some(top) = o.class.take() {
                    o.row.insert("scientificName", top.name.clone());
                    o.row.insert("classificationMethod", "machine".into());
                    o.row.insert("classifiedBy", classified_by.clone());
                    o.row.insert("classificationTimestamp", format_time(&now));
                    if top.probability {
                        o.row.insert("classificationProbability", format!("{}", top.score.clamp(0.0, 1.0)));
                    }
                    taxa.entry(top.name.clone()).or_insert(top);
                }
                o.row.insert("observationID", format!("o{}", observations.len() + 1));
                observations.push(o.row);
            }
        }
        write_csv(&dir.join("deployments.csv"), DEPLOYMENT_FIELDS, deployments.iter().map(|d| d as &dyn Fields))?;
        let media_rows: Vec<BTreeMap<&str, String>> = media.iter().map(media_row).collect();
        write_csv(&dir.join("media.csv"), MEDIA_FIELDS, media_rows.iter().map(|m| m as &dyn Fields))?;
        write_csv(&dir.join("observations.csv"), OBSERVATION_FIELDS, observations.iter().map(|o| o as &dyn Fields))?;
        let package = self.package(media, &deployments, taxa.values(), &now)?;
        std::fs::write(dir.join("datapackage.json"), serde_json::to_vec_pretty(&package)?)
            .with_context(|| format!("{}: cannot write", dir.display()))
    }

    fn deployment_rows(&self, media: &[Media]) -> Result<Vec<BTreeMap<String, String>>> {
        let mut groups: BTreeMap<&str, Vec<&Media>> = BTreeMap::new();
        for m in media {
            groups.entry(&m.deployment).or_default().push(m);
        }
        let mut rows = Vec::new();
        let mut missing = Vec::new();
        for (id, photos) in groups {
            let mut row = self.deployments.get(id).cloned().unwrap_or_default();
            row.insert("deploymentID".into(), id.to_owned());
            if !row.contains_key("latitude") {
                let fixes: Vec<(f64, f64)> = photos
                    .iter()
                    .filter_map(|m| Some((m.record.exif.gps_latitude?, m.record.exif.gps_longitude?)))
                    .collect();
                if fixes.is_empty() {
                    missing.push(id.to_owned());
                    continue;
                }
                let n = fixes.len() as f64;
                row.insert("latitude".into(), format!("{:.6}", fixes.iter().map(|f| f.0).sum::<f64>() / n));
                row.insert("longitude".into(), format!("{:.6}", fixes.iter().map(|f| f.1).sum::<f64>() / n));
            }
            let first = photos.iter().map(|m| &m.timestamp).min().context("a deployment without photos")?;
            let last = photos.iter().map(|m| &m.timestamp).max().context("a deployment without photos")?;
            row.entry("deploymentStart".into()).or_insert_with(|| format_time(first));
            row.entry("deploymentEnd".into()).or_insert_with(|| format_time(last));
            if let Some(model) = photos.iter().find_map(|m| m.record.exif.camera_model.clone()) {
                row.entry("cameraModel".into()).or_insert(model);
            }
            rows.push(row);
        }
        if !missing.is_empty() {
            bail!(
                "no coordinates for deployment{} {} (their photos have no EXIF GPS): give them with --deployments FILE.csv \
                 (columns deploymentID,latitude,longitude) and run again with --resume; the results so far are kept",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", ")
            );
        }
        Ok(rows)
    }

    fn observations(&self, m: &Media) -> Vec<Observation> {
        let base = |kind: &str| {
            let mut row: BTreeMap<&'static str, String> = BTreeMap::new();
            row.insert("deploymentID", m.deployment.clone());
            row.insert("mediaID", m.id.clone());
            row.insert("eventStart", format_time(&m.timestamp));
            row.insert("eventEnd", format_time(&m.timestamp));
            row.insert("observationLevel", "media".into());
            row.insert("observationType", kind.into());
            row
        };
        let r = &m.record;
        if let Some(e) = &r.error {
            let mut row = base("unclassified");
            row.insert("observationComments", e.clone());
            return vec![Observation { row, class: None }];
        }
        let Some(file) = &self.detections else {
            // Photos classified whole: one observation each.
            return r.subjects.iter().map(|s| classified(base, s, None)).collect();
        };
        let Some(image) = m.image.map(|i| &file.images()[i]) else { return Vec::new() };
        let mut out = Vec::new();
        for (d, det) in image.detections.iter().enumerate() {
            if det.conf < self.threshold {
                continue;
            }
            let category = file.categories().get(&det.category).map_or("", String::as_str).to_ascii_lowercase();
            let bbox = det.bbox.to_array();
            let mut o = match r.subjects.iter().find(|s| s.detection == Some(d)) {
                Some(s) => classified(base, s, Some(bbox)),
                None => {
                    let kind = match category.as_str() {
                        "person" | "human" => "human",
                        "vehicle" => "vehicle",
                        "animal" => "unclassified",
                        _ => "unknown",
                    };
                    Observation { row: with_box(base(kind), bbox), class: None }
                }
            };
            o.row.insert("count", "1".into());
            out.push(o);
        }
        for s in r.subjects.iter().filter(|s| s.detection.is_none()) {
            out.push(classified(base, s, None));
        }
        if out.is_empty() {
            out.push(Observation { row: base("blank"), class: None });
        }
        out
    }

    fn package<'a>(
        &self,
        media: &[Media],
        deployments: &[BTreeMap<String, String>],
        taxa: impl Iterator<Item = &'a ClassRecord>,
        now: &jiff::ZonedDateTime,
    ) -> Result<Value> {
        let schema = |name: &str| {
            format!("https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/{name}-table-schema.json")
        };
        let resource = |name: &str| {
            json!({"name": name, "path": format!("{name}.csv"), "profile": "tabular-data-resource",
                   "format": "csv", "mediatype": "text/csv", "encoding": "utf-8", "schema": schema(name)})
        };
        let coord = |key: &str| -> Vec<f64> { deployments.iter().filter_map(|d| d.get(key)?.parse().ok()).collect() };
        let (lats, lons) = (coord("latitude"), coord("longitude"));
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (w, s, e, n) = (min(&lons), min(&lats), max(&lons), max(&lats));
        let spatial = json!({"type": "Polygon", "bbox": [w, s, e, n],
                              "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]});
        let first = media.iter().map(|m| &m.timestamp).min().context("no photos")?;
        let last = media.iter().map(|m| &m.timestamp).max().context("no photos")?;
        let taxonomic: Vec<Value> = taxa.map(taxon_entry).collect();
        Ok(json!({
            "name": "arbor-classification",
            "title": self.title,
            "profile": format!("https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/camtrap-dp-profile.json"),
            "created": format_time(now),
            "contributors": [{"title": self.contributor, "role": "contributor"}],
            "project": {
                "title": self.title,
                "samplingDesign": "opportunistic",
                "captureMethod": ["activityDetection"],
                "individualAnimals": false,
                "observationLevel": ["media"]
            },
            "spatial": spatial,
            "temporal": {"start": first.strftime("%Y-%m-%d").to_string(), "end": last.strftime("%Y-%m-%d").to_string()},
            "taxonomic": taxonomic,
            "sources": [{"title": format!("Arbor {}", env!("CARGO_PKG_VERSION")), "version": env!("CARGO_PKG_VERSION")}],
            "resources": [resource("deployments"), resource("media"), resource("observations")]
        }))
    }
}

impl Assemble for CamtrapDp {
    fn needs_photo_facts(&self) -> bool {
        true
    }

    fn assemble(&self, engine: &Engine, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<()> {
        let media = self.media(records)?;
        if media.is_empty() {
            bail!("no photos were classified: nothing to package");
        }
        arbor_index::publish_dir(&self.output, arbor_index::Existing::Replace, |dir| -> Result<()> {
            self.write(dir, engine, &media)
        })
    }
}

/// An observation row, and the answer's best candidate still to be written into it.
struct Observation {
    row: BTreeMap<&'static str, String>,
    class: Option<ClassRecord>,
}

fn classified(
    base: impl Fn(&str) -> BTreeMap<&'static str, String>,
    s: &crate::sidecar::SubjectRecord,
    bbox: Option<[f64; 4]>,
) -> Observation {
    let (kind, class) = match (&s.error, s.classes.first()) {
        (Some(_), _) => ("unclassified", None),
        // An open-set "unknown": an animal nobody (and no model) could name.
        (None, None) => ("unknown", None),
        (None, Some(c)) => ("animal", Some(c.clone())),
    };
    let mut row = base(kind);
    if let Some(e) = &s.error {
        row.insert("observationComments", e.clone());
    }
    if let Some(b) = bbox {
        row = with_box(row, b);
    }
    Observation { row, class }
}

fn with_box(mut row: BTreeMap<&'static str, String>, b: [f64; 4]) -> BTreeMap<&'static str, String> {
    for (k, v) in ["bboxX", "bboxY", "bboxWidth", "bboxHeight"].into_iter().zip(b) {
        row.insert(k, format!("{v}"));
    }
    row
}

fn taxon_entry(c: &ClassRecord) -> Value {
    let mut t = serde_json::Map::new();
    t.insert("scientificName".into(), c.name.clone().into());
    if let Some(rank) = &c.rank {
        t.insert("taxonRank".into(), rank.clone().into());
    }
    for (rank, name) in ["kingdom", "phylum", "class", "order", "family", "genus"].iter().zip(&c.lineage) {
        t.insert((*rank).into(), name.clone().into());
    }
    if let Some(common) = &c.common_name {
        t.insert("vernacularNames".into(), json!({"eng": common}));
    }
    Value::Object(t)
}

fn media_row(m: &Media) -> BTreeMap<&'static str, String> {
    let file = Path::new(&m.record.file_name);
    let mut row = BTreeMap::new();
    row.insert("mediaID", m.id.clone());
    row.insert("deploymentID", m.deployment.clone());
    row.insert("timestamp", format_time(&m.timestamp));
    row.insert("filePath", m.relative.clone());
    row.insert("filePublic", "false".into());
    row.insert("fileName", file.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned()));
    let extension = file.extension().map_or("unknown".into(), |e| e.to_string_lossy().to_ascii_lowercase());
    row.insert("fileMediatype", m.record.media_type.clone().unwrap_or_else(|| format!("image/{extension}")));
    if let Some(e) = &m.record.error {
        row.insert("mediaComments", e.clone());
    }
    row
}

/// Camtrap DP's datetime form, `%Y-%m-%dT%H:%M:%S%z` with a colon in the offset (ISO 8601).
fn format_time(t: &jiff::ZonedDateTime) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Parses `--timezone`: `Z`, `+02:00`, `-0500`.
pub fn parse_offset(s: &str) -> Result<Offset, String> {
    if s == "Z" || s.eq_ignore_ascii_case("utc") {
        return Ok(Offset::UTC);
    }
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(format!("{s:?} is not an offset like +02:00, -05:00 or Z")),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok(), Some(0)),
        4 => (digits[..2].parse::<i32>().ok(), digits[2..].parse::<i32>().ok()),
        _ => (None, None),
    };
    match (h, m) {
        (Some(h), Some(m)) if h <= 14 && m < 60 => {
            Offset::from_seconds(sign * (h * 3600 + m * 60)).map_err(|e| format!("{s:?}: {e}"))
        }
        _ => Err(format!("{s:?} is not an offset like +02:00, -05:00 or Z")),
    }
}

/// A row by column name.
trait Fields {
    fn field(&self, name: &str) -> Option<&str>;
}

impl Fields for BTreeMap<String, String> {
    fn field(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Fields for BTreeMap<&'static str, String> {
    fn field(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

fn write_csv<'a>(path: &Path, fields: &[&str], rows: impl Iterator<Item = &'a dyn Fields>) -> Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("{}: cannot create", path.display()))?;
    w.write_record(fields)?;
    for row in rows {
        w.write_record(fields.iter().map(|f| row.field(f).unwrap_or("")))?;
    }
    w.flush().with_context(|| format!("{}: cannot write", path.display()))
}

/// Camtrap DP 1.0's columns, in its schemas' order (its validators compare the header with
/// them).
const DEPLOYMENT_FIELDS: &[&str] = &[
    "deploymentID",
    "locationID",
    "locationName",
    "latitude",
    "longitude",
    "coordinateUncertainty",
    "deploymentStart",
    "deploymentEnd",
    "setupBy",
    "cameraID",
    "cameraModel",
    "cameraDelay",
    "cameraHeight",
    "cameraDepth",
    "cameraTilt",
    "cameraHeading",
    "detectionDistance",
    "timestampIssues",
    "baitUse",
    "featureType",
    "habitat",
    "deploymentGroups",
    "deploymentTags",
    "deploymentComments",
];
const MEDIA_FIELDS: &[&str] = &[
    "mediaID",
    "deploymentID",
    "captureMethod",
    "timestamp",
    "filePath",
    "filePublic",
    "fileName",
    "fileMediatype",
    "exifData",
    "favorite",
    "mediaComments",
];
const OBSERVATION_FIELDS: &[&str] = &[
    "observationID",
    "deploymentID",
    "mediaID",
    "eventID",
    "eventStart",
    "eventEnd",
    "observationLevel",
    "observationType",
    "cameraSetupType",
    "scientificName",
    "count",
    "lifeStage",
    "sex",
    "behavior",
    "individualID",
    "individualPositionRadius",
    "individualPositionAngle",
    "individualSpeed",
    "bboxX",
    "bboxY",
    "bboxWidth",
    "bboxHeight",
    "classificationMethod",
    "classifiedBy",
    "classificationTimestamp",
    "classificationProbability",
    "observationTags",
    "observationComments",
];
