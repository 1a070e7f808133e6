//! Reading what `classify` wrote — CSV, JSON lines or MegaDetector's classified JSON — into one
//! shape the report draws: photos, what was classified in each, and its ranked candidates.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

/// The ranks of a lineage, kingdom first (pybioclip's seven).
pub const RANKS: [&str; 7] = ["kingdom", "phylum", "class", "order", "family", "genus", "species"];

/// One photo of the results.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Photo {
    /// As the results name it.
    pub file: String,
    /// Where it is on disk (for its thumbnail).
    #[serde(skip)]
    pub path: PathBuf,
    /// Why it could not be classified.
    pub error: Option<String>,
    /// What was classified in it.
    pub subjects: Vec<Subject>,
    /// Its thumbnail: a data URI or a path relative to the page (filled in later).
    pub thumb: Option<String>,
}

/// A photo, or one detection of it, and its answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Subject {
    /// "detection 0 (0.93)", "whole photo", or `None` for a photo classified whole.
    pub label: Option<String>,
    /// The detection's box (normalised x, y, width, height), for its crop's thumbnail.
    #[serde(skip)]
    pub bbox: Option<[f64; 4]>,
    /// The candidates, best first.
    pub candidates: Vec<Candidate>,
    /// The open-set verdict: "family Felidae", or "unknown"; `None` when not asked.
    pub verdict: Option<String>,
    /// Why this subject could not be classified.
    pub error: Option<String>,
    /// The crop's thumbnail.
    pub thumb: Option<String>,
}

/// One candidate answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Candidate {
    /// Taxon or label name.
    pub name: String,
    /// Kingdom down to the taxon (empty for labels).
    pub lineage: Vec<String>,
    /// Common name, if any.
    pub common: Option<String>,
    /// Score (a probability; a cosine for few-shot classes).
    pub score: Option<f32>,
}

/// Reads `path`, whichever of classify's outputs it is (told by its content). Relative photo
/// paths are taken under `photos` (default: as written, or for md-json the file's folder).
pub fn read(path: &Path, photos: Option<&Path>) -> Result<(Vec<Photo>, Option<String>)> {
    let mut first = String::new();
    std::io::BufReader::new(std::fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?)
        .read_line(&mut first)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    if !first.trim_start().starts_with('{') {
        return Ok((
            group(csv_rows(path)?, photos).with_context(|| format!("{}: not a classify output", path.display()))?,
            None,
        ));
    }
    // One JSON document with MegaDetector's keys, or JSON lines.
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(doc) if doc.get("detection_categories").is_some() => {
            let root = photos
                .map(Path::to_path_buf)
                .unwrap_or_else(|| path.parent().map(Path::to_path_buf).unwrap_or_default());
            read_md(path, &doc, &root)
        }
        _ => Ok((
            group(jsonl_rows(path, &text)?, photos)
                .with_context(|| format!("{}: not a classify output", path.display()))?,
            None,
        )),
    }
}

type Row = BTreeMap<String, String>;

fn csv_rows(path: &Path) -> Result<Vec<Row>> {
    let mut r = csv::Reader::from_path(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let header: Vec<String> = r.headers()?.iter().map(str::to_owned).collect();
    if !header.iter().any(|h| h == "file_name") {
        bail!("{}: no file_name column: not a classify output", path.display());
    }
    r.records()
        .enumerate()
        .map(|(i, row)| {
            let row = row.with_context(|| format!("{} row {}", path.display(), i + 2))?;
            Ok(header.iter().cloned().zip(row.iter().map(str::to_owned)).collect())
        })
        .collect()
}

fn jsonl_rows(path: &Path, text: &str) -> Result<Vec<Row>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v: serde_json::Map<String, Value> =
                serde_json::from_str(l).with_context(|| format!("{} line {}: not JSON", path.display(), i + 1))?;
            Ok(v.into_iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (k, s)
                })
                .collect())
        })
        .collect()
}

/// Rows (one per candidate) into photos: consecutive rows of one `file_name` are one photo, and
/// within it rows of one `detection` are one subject.
fn group(rows: Vec<Row>, photos: Option<&Path>) -> Result<Vec<Photo>> {
    let mut out: Vec<Photo> = Vec::new();
    for row in rows {
        let get = |k: &str| row.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let file = get("file_name").context("a row without file_name")?.to_owned();
        if out.last().is_none_or(|p| p.file != file) {
            let path = match photos {
                Some(root) if Path::new(&file).is_relative() => root.join(&file),
                _ => PathBuf::from(&file),
            };
            out.push(Photo { file: file.clone(), path, error: None, subjects: Vec::new(), thumb: None });
        }
        let photo = out.last_mut().context("a photo")?;
        let detection = get("detection");
        let label = match (detection, get("detection_conf")) {
            (None, _) => None,
            (Some("whole"), _) => Some("whole photo".to_owned()),
            (Some("none"), _) => Some("no animal detected".to_owned()),
            (Some(d), Some(c)) => Some(format!("detection {d} ({c})")),
            (Some(d), None) => Some(format!("detection {d}")),
        };
        if let (Some(e), None) = (get("error"), detection) {
            photo.error = Some(e.to_owned());
            continue;
        }
        if photo.subjects.last().is_none_or(|s| s.label != label) {
            photo.subjects.push(Subject {
                label,
                bbox: None,
                candidates: Vec::new(),
                verdict: None,
                error: None,
                thumb: None,
            });
        }
        let subject = photo.subjects.last_mut().context("a subject")?;
        if let Some(e) = get("error") {
            subject.error = Some(e.to_owned());
            continue;
        }
        if detection == Some("none") {
            continue;
        }
        let score = get("score").and_then(|s| s.parse::<f32>().ok());
        if let Some(name) = get("classification") {
            subject.candidates.push(Candidate { name: name.to_owned(), lineage: Vec::new(), common: None, score });
        } else if let Some(rank) = get("rank") {
            // Open set: the deepest confident rank, or "unknown".
            if rank == "unknown" {
                subject.verdict = Some("unknown".into());
            } else {
                let name = get("name").unwrap_or_default().to_owned();
                subject.verdict = Some(format!("{rank} {name}"));
                let lineage = lineage_of_open_set(get("lineage").unwrap_or_default());
                subject.candidates.push(Candidate { name, lineage, common: None, score });
            }
        } else {
            let mut lineage: Vec<String> = RANKS[..6].iter().map_while(|r| get(r).map(str::to_owned)).collect();
            let epithet = get("species_epithet");
            if let Some(e) = epithet {
                lineage.push(e.to_owned());
            }
            let name = match (get("species"), epithet) {
                (Some(s), _) => s.to_owned(),
                (None, Some(e)) if lineage.len() == 7 => format!("{} {e}", lineage[5]),
                _ => lineage.last().cloned().unwrap_or_default(),
            };
            subject.candidates.push(Candidate { name, lineage, common: get("common_name").map(str::to_owned), score });
        }
    }
    Ok(out)
}

/// The open-set `lineage` column is the path joined by spaces (one word per rank, the
/// species' epithet last).
fn lineage_of_open_set(text: &str) -> Vec<String> {
    text.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// A classified MegaDetector file: one subject per classified detection.
fn read_md(path: &Path, doc: &Value, root: &Path) -> Result<(Vec<Photo>, Option<String>)> {
    let names = doc.get("classification_categories").and_then(Value::as_object);
    let descriptions = doc.get("classification_category_descriptions").and_then(Value::as_object);
    let images =
        doc.get("images").and_then(Value::as_array).with_context(|| format!("{}: no images", path.display()))?;
    let mut photos = Vec::with_capacity(images.len());
    for image in images {
        let file = image.get("file").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut photo = Photo {
            path: root.join(file.replace('\\', "/")),
            file,
            error: image.get("failure").and_then(Value::as_str).map(str::to_owned),
            subjects: Vec::new(),
            thumb: None,
        };
        for (d, det) in image.get("detections").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let Some(list) = det.get("classifications").and_then(Value::as_array) else { continue };
            let conf = det.get("conf").and_then(Value::as_f64).unwrap_or_default();
            let bbox = det.get("bbox").and_then(Value::as_array).and_then(|b| {
                let v: Vec<f64> = b.iter().filter_map(Value::as_f64).collect();
                <[f64; 4]>::try_from(v).ok()
            });
            let candidates = list
                .iter()
                .filter_map(|c| {
                    let id = c.get(0)?.as_str()?;
                    let name = names?.get(id)?.as_str()?.to_owned();
                    let lineage = descriptions
                        .and_then(|d| d.get(id)?.as_str())
                        .filter(|l| l.contains(';'))
                        .map(|l| l.split(';').map(str::to_owned).collect())
                        .unwrap_or_default();
                    Some(Candidate { name, lineage, common: None, score: c.get(1)?.as_f64().map(|s| s as f32) })
                })
                .collect();
            photo.subjects.push(Subject {
                label: Some(format!("detection {d} ({conf})")),
                bbox,
                candidates,
                verdict: None,
                error: None,
                thumb: None,
            });
        }
        if photo.subjects.is_empty() && photo.error.is_none() {
            photo.subjects.push(Subject {
                label: Some("no classified detection".into()),
                bbox: None,
                candidates: Vec::new(),
                verdict: None,
                error: None,
                thumb: None,
            });
        }
        photos.push(photo);
    }
    let classifier = doc.pointer("/info/classifier").and_then(Value::as_str).map(str::to_owned);
    Ok((photos, classifier))
}
