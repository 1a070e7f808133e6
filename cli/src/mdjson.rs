//! `classify --detections … --format md-json`: the detector's file again, with the
//! classifier's answers in MegaDetector's format, as Timelapse and AddaxAI read it: per
//! classified detection `classifications: [[category_id, score], …]` (best first), and at the
//! top `classification_categories` (id → name) and `classification_category_descriptions`
//! (id → `kingdom;phylum;…` lineage). Everything the detector wrote is kept.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use arbor_engine::{DetectionFile, Engine};
use serde_json::{Value, json};

use crate::sidecar::{Assemble, ClassRecord, Record};

/// Writes the classified MegaDetector file.
pub struct MdJson {
    /// The detector's file.
    pub detections: DetectionFile,
    /// Where to write.
    pub output: PathBuf,
    /// What `info.classifier_metadata` says of the run (crop, threshold, mode).
    pub metadata: Value,
}

impl Assemble for MdJson {
    fn assemble(&self, engine: &Engine, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<()> {
        let mut by_file: HashMap<String, Record> = HashMap::new();
        for r in records {
            let r = r?;
            by_file.insert(r.file_name.clone(), r);
        }
        let mut doc = self.detections.document().clone();
        let mut categories = Categories::default();
        let images =
            doc.get_mut("images").and_then(Value::as_array_mut).context("the detection file lost its images")?;
        for image in images.iter_mut() {
            let Some(file) = image.get("file").and_then(Value::as_str) else { continue };
            let Some(record) = by_file.get(file) else { continue };
            for subject in &record.subjects {
                let Some(d) = subject.detection else { continue };
                if subject.classes.is_empty() {
                    continue;
                }
                let list: Vec<Value> = subject.classes.iter().map(|c| json!([categories.id(c), score(c)])).collect();
                if let Some(det) = image.get_mut("detections").and_then(|list| list.get_mut(d)) {
                    det["classifications"] = Value::Array(list);
                }
            }
        }
        let top = doc.as_object_mut().context("the detection file is not an object")?;
        top.insert("classification_categories".into(), categories.names());
        top.insert("classification_category_descriptions".into(), categories.descriptions());
        let info = top.entry("info").or_insert_with(|| json!({}));
        info["classifier"] =
            format!("arbor {} {}", env!("CARGO_PKG_VERSION"), arbor_engine::short_identity(engine.identity().image()))
                .into();
        info["classification_completion_time"] = jiff::Timestamp::now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
            .into();
        info["classifier_metadata"] = self.metadata.clone();
        let text = serde_json::to_vec_pretty(&doc)?;
        arbor_index::write_atomically(&self.output, |w| std::io::Write::write_all(w, &text))
            .with_context(|| format!("{}: cannot write", self.output.display()))
    }
}

/// Scores as MegaDetector's format wants them: confidences in [0, 1] (a few-shot cosine below
/// 0 is written 0), in f32's shortest form.
fn score(c: &ClassRecord) -> Value {
    let s = c.score.clamp(0.0, 1.0);
    serde_json::from_str(&s.to_string()).unwrap_or(Value::Null)
}

/// Classification category ids, given in order of first use: the same answers give the same
/// ids, however the run was interrupted.
#[derive(Default)]
struct Categories {
    ids: HashMap<(String, String), usize>,
    list: Vec<(String, String)>,
}

impl Categories {
    fn id(&mut self, c: &ClassRecord) -> String {
        let description = if c.lineage.is_empty() { c.name.clone() } else { c.lineage.join(";") };
        let key = (c.name.clone(), description);
        let next = self.list.len();
        let id = *self.ids.entry(key.clone()).or_insert_with(|| {
            self.list.push(key);
            next
        });
        // Ids from 1: "0" is informally MegaDetector's "empty".
        (id + 1).to_string()
    }

    fn names(&self) -> Value {
        Value::Object(self.list.iter().enumerate().map(|(i, (n, _))| ((i + 1).to_string(), n.clone().into())).collect())
    }

    fn descriptions(&self) -> Value {
        Value::Object(self.list.iter().enumerate().map(|(i, (_, d))| ((i + 1).to_string(), d.clone().into())).collect())
    }
}
