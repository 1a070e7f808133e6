//! What `classify` found for each photo, and the sinks that write it: rows (a table, CSV,
//! JSON lines) here, MegaDetector's and Camtrap DP's files through [`crate::sidecar`].

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use arbor_engine::{Answer, Classifier, Engine, PhotoTags, TreeQuestion};
use arbor_index::{Rank, RankHit};

use crate::output::{Cell, table};

/// One photo's results.
pub struct PhotoResult {
    /// The photo as reported (`file_name`): the path given or walked, or a detection file's
    /// `file` entry.
    pub file: String,
    /// Where it is on disk.
    pub path: PathBuf,
    /// The answers, or why the photo could not be classified.
    pub outcome: Result<Vec<Unit>, String>,
    /// Its EXIF time, place and camera (when asked for).
    pub tags: Option<PhotoTags>,
}

/// One thing classified in a photo: the photo, or one detection of it.
pub struct Unit {
    /// `None` for a photo classified whole without detections.
    pub subject: Option<Subject>,
    /// The answer, or why this detection could not be classified.
    pub answer: Result<Answer, String>,
}

/// A detection-file subject, as reported.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    /// Index into the photo's `detections`; `None` for the whole photo.
    pub detection: Option<usize>,
    /// The detector's confidence (for detections).
    pub conf: Option<f64>,
}

/// Where results go.
pub trait Sink {
    /// Records one photo (written through before the next, so a kill loses at most it).
    fn photo(&mut self, engine: &Engine, result: &PhotoResult) -> Result<()>;
    /// Ends the output (a table printed, a file assembled).
    fn finish(self: Box<Self>, engine: &Engine) -> Result<()>;
}

/// Output format of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    /// Aligned columns, written at the end.
    Table,
    /// CSV, streamed.
    Csv,
    /// JSON lines, streamed.
    Jsonl,
}

/// What `--exif` adds to every row.
pub const EXIF_COLUMNS: [&str; 4] = ["datetime_original", "gps_latitude", "gps_longitude", "camera_model"];

/// The columns of `classify`'s rows (without the trailing `error`).
pub fn columns(classifier: &Classifier<'_>, rank: Rank, detections: bool, exif: bool) -> Vec<String> {
    let mut c = vec!["file_name".to_string()];
    if detections {
        c.extend(["detection", "detection_conf"].map(String::from));
    }
    match classifier {
        Classifier::Labels { .. } | Classifier::Centroids { .. } => c.push("classification".into()),
        Classifier::Tree { question: TreeQuestion::Deepest(_), .. } => {
            c.extend(["rank", "name", "lineage"].map(String::from));
        }
        Classifier::Tree { question: TreeQuestion::Top { .. }, .. } => {
            c.extend(
                rank.down_to()
                    .iter()
                    .map(|r| if *r == Rank::Species { "species_epithet".into() } else { r.to_string() }),
            );
            if rank == Rank::Species {
                c.extend(["species", "common_name"].map(String::from));
            }
        }
    }
    c.push("score".into());
    if exif {
        c.extend(EXIF_COLUMNS.map(String::from));
    }
    c
}

/// The CSV header line [`Rows`] writes for `columns`.
pub fn csv_header(columns: &[String]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record(columns.iter().map(String::as_str).chain(["error"]));
    String::from_utf8_lossy(&w.into_inner().unwrap_or_default()).trim_end().to_owned()
}

/// Writes result rows: CSV and JSON lines streamed and flushed per photo; the table, for
/// people, kept until the end so its columns can be aligned.
pub struct Rows {
    format: RowFormat,
    out: Box<dyn Write>,
    columns: Vec<String>,
    detections: bool,
    table: Vec<Vec<Cell>>,
}

impl Rows {
    /// Rows to `path` (or stdout); `append` carries on a file a resumed run already started.
    pub fn new(
        format: RowFormat,
        path: Option<&Path>,
        columns: Vec<String>,
        detections: bool,
        append: bool,
    ) -> Result<Rows> {
        let out: Box<dyn Write> = match path {
            Some(p) => {
                let file =
                    std::fs::OpenOptions::new().create(true).write(true).append(append).truncate(!append).open(p);
                Box::new(BufWriter::new(file.with_context(|| format!("{}: cannot create", p.display()))?))
            }
            None => Box::new(BufWriter::new(std::io::stdout())),
        };
        let mut rows = Rows { format, out, columns, detections, table: Vec::new() };
        if format == RowFormat::Csv && !append {
            let mut header = rows.columns.clone();
            header.push("error".into());
            rows.csv_line(&header)?;
        }
        rows.out.flush()?;
        Ok(rows)
    }

    fn write(&mut self, file: &str, cells: Vec<Cell>, error: Option<&str>) -> Result<()> {
        match self.format {
            RowFormat::Csv => {
                let mut row = vec![file.to_string()];
                row.extend(cells.iter().map(Cell::to_string));
                row.resize(self.columns.len(), String::new());
                row.push(error.unwrap_or("").to_string());
                self.csv_line(&row)?;
            }
            RowFormat::Jsonl => {
                let mut obj = serde_json::Map::new();
                obj.insert("file_name".into(), file.into());
                for (c, v) in self.columns[1..].iter().zip(&cells) {
                    obj.insert(c.clone(), v.to_json());
                }
                if let Some(e) = error {
                    obj.insert("error".into(), e.into());
                }
                writeln!(self.out, "{}", serde_json::Value::Object(obj))?;
            }
            RowFormat::Table => {
                let mut row: Vec<Cell> = vec![file.into()];
                row.extend(cells);
                if let Some(e) = error {
                    row.push(format!("error: {e}").into());
                }
                self.table.push(row);
            }
        }
        Ok(())
    }

    fn csv_line(&mut self, row: &[String]) -> Result<()> {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        w.write_record(row)?;
        self.out.write_all(&w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
        Ok(())
    }

    /// The cells before the answer: which detection (in detection mode).
    fn subject_cells(&self, subject: Option<Subject>, none: bool) -> Vec<Cell> {
        if !self.detections {
            return Vec::new();
        }
        match subject {
            _ if none => vec!["none".into(), Cell::Null],
            Some(Subject { detection: Some(d), conf }) => {
                vec![Cell::Int(d as i64), conf.map_or(Cell::Null, Cell::Double)]
            }
            _ => vec!["whole".into(), Cell::Null],
        }
    }
}

impl Sink for Rows {
    fn photo(&mut self, engine: &Engine, r: &PhotoResult) -> Result<()> {
        let tags = r.tags.as_ref().map(exif_cells);
        let answer_width = self.columns.len() - 1 - tags.as_ref().map_or(0, Vec::len);
        // The answer's columns first (short rows padded), then the tags.
        let finish = |mut cells: Vec<Cell>| {
            cells.resize(answer_width, Cell::Null);
            cells.extend(tags.iter().flatten().cloned());
            cells
        };
        match &r.outcome {
            Err(message) => self.write(&r.file, Vec::new(), Some(message))?,
            Ok(units) if units.is_empty() => {
                let cells = finish(self.subject_cells(None, true));
                self.write(&r.file, cells, None)?;
            }
            Ok(units) => {
                for unit in units {
                    let lead = self.subject_cells(unit.subject, false);
                    match &unit.answer {
                        Ok(answer) => {
                            for cells in answer_rows(engine, answer)? {
                                let mut row = lead.clone();
                                row.extend(cells);
                                self.write(&r.file, finish(row), None)?;
                            }
                        }
                        Err(e) => self.write(&r.file, finish(lead.clone()), Some(e))?,
                    }
                }
            }
        }
        self.out.flush()?;
        Ok(())
    }

    fn finish(mut self: Box<Self>, _: &Engine) -> Result<()> {
        if self.format == RowFormat::Table {
            let header: Vec<&str> = self.columns.iter().map(String::as_str).collect();
            self.out.write_all(table(&header, &self.table).as_bytes())?;
        }
        self.out.flush()?;
        Ok(())
    }
}

/// A photo's EXIF time, place and camera as cells.
fn exif_cells(tags: &PhotoTags) -> Vec<Cell> {
    let text = |s: &Option<String>| s.clone().map_or(Cell::Null, Cell::Text);
    let number = |x: Option<f64>| x.map_or(Cell::Null, Cell::Double);
    vec![text(&tags.datetime_original), number(tags.gps_latitude), number(tags.gps_longitude), text(&tags.camera_model)]
}

/// The first `len` bytes of a photo file. Its first megabyte holds its EXIF (a JPEG's first
/// segments, a PNG's first chunks, a small TIFF's first IFD), read without decoding pixels.
pub fn file_head(path: &Path, len: u64) -> Vec<u8> {
    use std::io::Read;
    let mut head = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(len).read_to_end(&mut head);
    }
    head
}

/// One answer's rows of cells (without the file name).
fn answer_rows(engine: &Engine, answer: &Answer) -> Result<Vec<Vec<Cell>>> {
    Ok(match answer {
        Answer::Taxa(hits) => hits.iter().map(|h| rank_row(engine, h)).collect::<Result<_>>()?,
        Answer::Deepest(hit) => vec![open_set_row(hit.as_ref())],
        Answer::Labels(hits) => hits.iter().map(|h| vec![h.label.as_str().into(), h.score.into()]).collect(),
        Answer::Classes(hits) => hits.iter().map(|h| vec![h.label.as_str().into(), h.score.into()]).collect(),
    })
}

fn rank_row(engine: &Engine, h: &RankHit) -> Result<Vec<Cell>> {
    let mut row: Vec<Cell> = h.path.iter().map(|p| p.as_str().into()).collect();
    if let Some(id) = h.taxon {
        let t = engine.index()?.taxon(id)?;
        row.push(t.lineage.species().into());
        row.push(t.common_name.into());
    }
    row.push(h.score.into());
    Ok(row)
}

fn open_set_row(hit: Option<&RankHit>) -> Vec<Cell> {
    match hit {
        None => vec!["unknown".into(), "".into(), "".into(), Cell::Null],
        Some(h) => {
            let name = match h.rank {
                Rank::Species => format!("{} {}", h.path[5], h.path[6]),
                r => h.path[r.depth()].clone(),
            };
            vec![h.rank.to_string().into(), name.into(), h.path.join(" ").into(), h.score.into()]
        }
    }
}
