//! `arbor classify`: photos in, taxa out — at any rank, against the tree of life, a subset of
//! it, the user's own labels and bins, or few-shot centroids. The arguments become an
//! [`Engine`] and a [`Classifier`]; every check on them is the library's.

use std::io::{BufWriter, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use arbor_engine::{Answer, Candidates, Classifier, Confidence, Engine, TreeQuestion, read_bins};
use arbor_index::{Rank, RankHit, Scope, TaxonId};
use clap::{Args, ValueEnum};

use crate::inputs::{EXIT_SOME_FAILED, class_list, photo_files};
use crate::output::{Cell, check_output_file, table};
use crate::progress::bar;

/// Answers per photo from the tree when `-k` is not given (pybioclip's default).
const DEFAULT_K: NonZeroUsize = NonZeroUsize::new(5).expect("5 is not zero");

/// Output format of `classify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RowFormat {
    /// Aligned columns for people.
    Table,
    /// pybioclip's CSV columns (plus a trailing `error` column).
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Classify photos at any rank.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  arbor classify --model bioclip --index tol-index photos/ --rank species -k 5
  arbor classify --model bioclip --index tol-index img.jpg --rank family --within Aves --format csv --output out.csv
  arbor classify --model bioclip --index tol-index img.jpg --within \"Sulidae > Morus\"
  arbor classify --model bioclip --index tol-index img.jpg --min-confidence 0.8
  arbor classify --model bioclip --cls \"cat,dog,raven\" img.jpg
  arbor classify --model bioclip --bins bins.csv photos/
  arbor classify --model bioclip --centroids my-classes photos/
  find photos -name '*.jpg' | arbor classify --model bioclip --index tol-index -
  arbor classify --model bioclip --index tol-index photos/ --format jsonl --output out.jsonl --resume
  arbor classify --model bioclip --index tol-index traps/ --format csv --exif

Folders are walked recursively (each file once, links followed, hidden files left out); `-`
reads paths from stdin, one per line.

Exit status: 0 all inputs classified, 1 error, 2 usage error, 3 some inputs could not be read
(reported on stderr and as rows with an error).")]
pub struct ClassifyArgs {
    /// Arbor model directory.
    #[arg(long)]
    model: PathBuf,
    /// Image files and folders (recursive); `-` reads paths from stdin.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Taxon index (see `arbor index`).
    #[arg(long, required_unless_present_any = ["cls", "bins", "centroids"])]
    index: Option<PathBuf>,
    /// Rank to answer at.
    #[arg(long, default_value = "species", conflicts_with_all = ["cls", "bins", "centroids"])]
    rank: Rank,
    /// Answers per image (default 5; every class with --cls/--bins/--centroids).
    #[arg(short, long)]
    k: Option<NonZeroUsize>,
    /// Only taxa under this name ("Aves", "Corvidae", "Corvus"); "Sulidae > Morus" picks one of
    /// two nodes of the same name.
    #[arg(long, conflicts_with = "subset", requires = "index")]
    within: Option<String>,
    /// CSV whose first column is named after a rank, listing the names to keep (pybioclip's --subset).
    #[arg(long, requires = "index")]
    subset: Option<PathBuf>,
    /// Custom classes: "a,b,c", or a file with one per line (which must exist).
    #[arg(long, conflicts_with = "index")]
    cls: Option<String>,
    /// CSV class,bin under a header row: classify into the classes, report summed bins.
    #[arg(long, conflicts_with_all = ["index", "cls"])]
    bins: Option<PathBuf>,
    /// Few-shot centroids (see `arbor fewshot fit`): the nearest class, scored by cosine.
    #[arg(long, conflicts_with_all = ["index", "cls", "bins"])]
    centroids: Option<PathBuf>,
    /// Exact probabilities over every taxon (pybioclip's). Default; kept for scripts.
    #[arg(long, conflicts_with = "ef")]
    exact: bool,
    /// Approximate softmax over the best taxa the HNSW graph finds with this beam width.
    #[arg(long, requires = "index", value_parser = clap::value_parser!(u32).range(1..))]
    ef: Option<u32>,
    /// Per-rank sums ignore species at or below this probability (pybioclip's rule).
    #[arg(long, default_value_t = 1e-9, requires = "index")]
    min_prob: f32,
    /// Open set, in (0, 1]: report the deepest rank whose best probability is at least this
    /// ("unknown" if none), instead of --rank and -k.
    #[arg(long, requires = "index", conflicts_with_all = ["rank", "k"])]
    min_confidence: Option<Confidence>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: RowFormat,
    /// Write results to this file (streamed and flushed per image) instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Carry on a killed run: photos whose rows are complete in --output are skipped, a torn
    /// last photo is classified again, the rest appended (csv and jsonl).
    #[arg(long, requires = "output")]
    resume: bool,
    /// Images per model call, and per pass over the taxa's vectors when scoring the whole tree.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,
    /// Image pipeline: squash (pybioclip) or crop (open_clip); default: the model's.
    #[arg(long)]
    preprocess: Option<arbor_engine::Pipeline>,
    /// Apply EXIF orientation before preprocessing (phone photos; pybioclip does not).
    #[arg(long)]
    exif_orient: bool,
    /// Add each photo's EXIF time, place and camera to its rows: datetime_original,
    /// gps_latitude, gps_longitude (decimal degrees) and camera_model (read from the file's
    /// header, no pixels decoded again; empty where the photo has none).
    #[arg(long)]
    exif: bool,
}

pub fn run(a: ClassifyArgs) -> Result<u8> {
    if let Some(out) = &a.output {
        check_output_file(out)?;
    }
    if a.resume && a.format == RowFormat::Table {
        anyhow::bail!("--resume needs --format csv or jsonl (a table is written at the end, not per photo)");
    }
    let mut files = photo_files(&a.paths)?;
    let mut engine = Engine::builder(&a.model).exif_orientation(a.exif_orient);
    if let Some(index) = &a.index {
        engine = engine.index(index);
    }
    if let Some(p) = a.preprocess {
        engine = engine.pipeline(p);
    }
    let engine = engine.open()?;
    if let Ok(index) = engine.index()
        && !index.unembedded().is_empty()
    {
        eprintln!("{}", crate::commands::index::unembedded_note(index));
    }
    let scope_ids = scope(&engine, &a)?;
    let classifier = classifier(&engine, &a, scope_ids.as_deref())?;
    let mut columns = columns(&classifier, a.rank);
    if a.exif {
        columns.extend(EXIF_COLUMNS.map(String::from));
    }
    let done = match (&a.output, a.resume) {
        (Some(path), true) => {
            let header = (a.format == RowFormat::Csv).then(|| csv_header(&columns));
            let done = crate::resume::prepare(path, header.as_deref())?;
            let before = files.len();
            files.retain(|f| !done.files.contains(&f.display().to_string()));
            eprintln!(
                "resuming {}: {} photos already done, {} to go",
                path.display(),
                before - files.len(),
                files.len()
            );
            Some(done)
        }
        _ => None,
    };
    let mut out = Rows::new(a.format, a.output.as_deref(), columns, done.as_ref().is_some_and(|d| d.started))?;
    let progress = bar(files.len() as u64, "classifying");
    let (mut failed, mut written) = (0usize, Ok(()));
    engine.classify_files(&classifier, &files, a.batch_size as usize, |i, answer| {
        progress.inc(1);
        let name = files[i].display().to_string();
        let tags = a.exif.then(|| exif_cells(&files[i]));
        let row = match answer {
            Ok(answer) => out.answer(&engine, &name, answer, tags.as_deref()),
            Err(e) => {
                failed += 1;
                let message = crate::error_message(&anyhow::Error::from(e));
                progress.suspend(|| eprintln!("error: {message}"));
                out.error(&name, &message)
            }
        };
        if written.is_ok() {
            written = row;
        }
    })?;
    written?;
    out.finish()?;
    progress.finish_and_clear();
    eprintln!("classified {} of {} images (mode: {})", files.len() - failed, files.len(), mode(&classifier, &a));
    Ok(if failed > 0 { EXIT_SOME_FAILED } else { 0 })
}

/// The taxa `--within` or `--subset` keep, if either was given.
fn scope(engine: &Engine, a: &ClassifyArgs) -> Result<Option<Vec<TaxonId>>> {
    if let Some(name) = &a.within {
        return Ok(Some(engine.taxa_within(name)?));
    }
    let Some(csv) = &a.subset else { return Ok(None) };
    let (ids, missing) = engine.taxa_in_subset(csv)?;
    for name in missing {
        eprintln!("warning: {}: no taxon named {name:?} in the index", csv.display());
    }
    Ok(Some(ids))
}

fn classifier<'e>(engine: &'e Engine, a: &ClassifyArgs, scope: Option<&'e [TaxonId]>) -> Result<Classifier<'e>> {
    if a.index.is_some() {
        let candidates = match a.ef {
            Some(ef) => Candidates::Graph { candidates: (ef as usize).max(64), ef: ef as usize },
            None => Candidates::All,
        };
        let question = match a.min_confidence {
            Some(p) => TreeQuestion::Deepest(p),
            None => TreeQuestion::Top { rank: a.rank, k: a.k.unwrap_or(DEFAULT_K) },
        };
        let classifier =
            engine.tree_classifier(scope.map_or(Scope::All, Scope::Taxa))?.candidates(candidates).min_prob(a.min_prob);
        return Ok(Classifier::Tree { classifier, question });
    }
    if let Some(dir) = &a.centroids {
        return Ok(Classifier::Centroids { centroids: engine.load_centroids(dir)?, k: a.k });
    }
    let (classes, bins) = match (&a.cls, &a.bins) {
        (_, Some(bins)) => {
            let (classes, bins) = read_bins(bins)?;
            (classes, Some(bins))
        }
        (Some(cls), None) => (class_list(cls)?, None),
        (None, None) => anyhow::bail!("give --index, --cls, --bins or --centroids"),
    };
    Ok(Classifier::Labels { classifier: engine.label_classifier(&classes, bins)?, k: a.k })
}

/// What `--exif` adds to every row.
const EXIF_COLUMNS: [&str; 4] = ["datetime_original", "gps_latitude", "gps_longitude", "camera_model"];

/// A photo's EXIF time, place and camera as cells, read from the first megabyte of the file
/// (EXIF sits in a JPEG's first segments, a PNG's first chunks, a small TIFF's first IFD).
fn exif_cells(path: &Path) -> Vec<Cell> {
    use std::io::Read;
    let mut head = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(1 << 20).read_to_end(&mut head);
    }
    let tags = arbor_engine::PhotoTags::read(&head);
    let text = |s: Option<String>| s.map_or(Cell::Null, Cell::Text);
    let number = |x: Option<f64>| x.map_or(Cell::Null, Cell::Double);
    vec![text(tags.datetime_original), number(tags.gps_latitude), number(tags.gps_longitude), text(tags.camera_model)]
}

/// The CSV header line `Rows` writes for `columns`.
fn csv_header(columns: &[String]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record(columns.iter().map(String::as_str).chain(["error"]));
    String::from_utf8_lossy(&w.into_inner().unwrap_or_default()).trim_end().to_owned()
}

fn mode(classifier: &Classifier<'_>, a: &ClassifyArgs) -> String {
    match (classifier, a.ef) {
        (Classifier::Labels { .. }, _) => "labels".into(),
        (Classifier::Centroids { .. }, _) => "few-shot centroids".into(),
        (Classifier::Tree { .. }, None) => "exact".into(),
        (Classifier::Tree { .. }, Some(ef)) => format!("approximate (HNSW ef={ef})"),
    }
}

fn columns(classifier: &Classifier<'_>, rank: Rank) -> Vec<String> {
    let mut c = vec!["file_name".to_string()];
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
    c
}

/// One photo's rows of cells (without the file name).
fn answer_rows(engine: &Engine, answer: Answer) -> Result<Vec<Vec<Cell>>> {
    Ok(match answer {
        Answer::Taxa(hits) => hits.into_iter().map(|h| rank_row(engine, h)).collect::<Result<_>>()?,
        Answer::Deepest(hit) => vec![open_set_row(hit)],
        Answer::Labels(hits) => hits.into_iter().map(|h| vec![h.label.into(), h.score.into()]).collect(),
        Answer::Classes(hits) => hits.into_iter().map(|h| vec![h.label.into(), h.score.into()]).collect(),
    })
}

fn rank_row(engine: &Engine, h: RankHit) -> Result<Vec<Cell>> {
    let mut row: Vec<Cell> = h.path.iter().map(|p| p.as_str().into()).collect();
    if let Some(id) = h.taxon {
        let t = engine.index()?.taxon(id)?;
        row.push(t.lineage.species().into());
        row.push(t.common_name.into());
    }
    row.push(h.score.into());
    Ok(row)
}

fn open_set_row(hit: Option<RankHit>) -> Vec<Cell> {
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

/// Writes result rows: CSV and JSON lines streamed and flushed per image; the table, for
/// people, kept until the end so its columns can be aligned.
struct Rows {
    format: RowFormat,
    out: Box<dyn Write>,
    columns: Vec<String>,
    table: Vec<Vec<Cell>>,
}

impl Rows {
    /// Rows to `path` (or stdout); `append` carries on a file a resumed run already started.
    fn new(format: RowFormat, path: Option<&Path>, columns: Vec<String>, append: bool) -> Result<Rows> {
        let out: Box<dyn Write> = match path {
            Some(p) => {
                let file =
                    std::fs::OpenOptions::new().create(true).write(true).append(append).truncate(!append).open(p);
                Box::new(BufWriter::new(file.with_context(|| format!("{}: cannot create", p.display()))?))
            }
            None => Box::new(BufWriter::new(std::io::stdout())),
        };
        let mut rows = Rows { format, out, columns, table: Vec::new() };
        if format == RowFormat::Csv && !append {
            let mut header = rows.columns.clone();
            header.push("error".into());
            rows.csv_line(&header)?;
        }
        rows.out.flush()?;
        Ok(rows)
    }

    fn answer(&mut self, engine: &Engine, file: &str, answer: Answer, tags: Option<&[Cell]>) -> Result<()> {
        for mut cells in answer_rows(engine, answer)? {
            if let Some(tags) = tags {
                // The answer's columns first (a short open-set row is padded), then the tags.
                cells.resize(self.columns.len() - 1 - tags.len(), Cell::Null);
                cells.extend_from_slice(tags);
            }
            self.write(file, cells, None)?;
        }
        self.out.flush()?;
        Ok(())
    }

    fn error(&mut self, file: &str, message: &str) -> Result<()> {
        self.write(file, Vec::new(), Some(message))?;
        self.out.flush()?;
        Ok(())
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
                match error {
                    Some(e) => row.push(format!("error: {e}").into()),
                    None => row.extend(cells),
                }
                self.table.push(row);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.format == RowFormat::Table {
            let header: Vec<&str> = self.columns.iter().map(String::as_str).collect();
            self.out.write_all(table(&header, &self.table).as_bytes())?;
        }
        self.out.flush()?;
        Ok(())
    }

    fn csv_line(&mut self, row: &[String]) -> Result<()> {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        w.write_record(row)?;
        self.out.write_all(&w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
        Ok(())
    }
}
