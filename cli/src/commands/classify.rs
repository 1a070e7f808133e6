//! `arbor classify`: photos in, taxa out — at any rank, against the tree of
//! life, a subset of it, or the user's own labels and bins.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arbor_engine::embedder::normalize_row;
use arbor_engine::{Centroids, LabelCache, LabelClassifier, Softmax, Templates, TreeClassifier};
use arbor_index::{Rank, RankHit, Scope, TaxonId, TaxonIndex};
use clap::{Args, ValueEnum};

use crate::commands::embed::open_embedder;
use crate::inputs::{expand, read_lines};
use crate::progress::bar;

/// Exit status when some inputs could not be classified (the others were).
pub const EXIT_SOME_FAILED: u8 = 3;

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
  arbor classify --model bioclip --index tol-index img.jpg --min-confidence 0.8
  arbor classify --model bioclip --cls \"cat,dog,raven\" img.jpg
  arbor classify --model bioclip --cls labels.txt --bins bins.csv photos/
  arbor classify --model bioclip --centroids my-classes photos/      # see `arbor fewshot fit`

Exit status: 0 all inputs classified, 1 error, 3 some inputs could not be read (reported on stderr and as rows).")]
pub struct ClassifyArgs {
    /// Arbor model directory.
    #[arg(long)]
    model: PathBuf,
    /// Image files and folders (recursive).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Taxon index (see `arbor index`).
    #[arg(long, required_unless_present_any = ["cls", "bins", "centroids"])]
    index: Option<PathBuf>,
    /// Rank to answer at.
    #[arg(long, default_value = "species")]
    rank: Rank,
    /// Answers per image (default 5; every class with --cls/--bins).
    #[arg(short, long)]
    k: Option<usize>,
    /// Only taxa under this name ("Aves", "Corvidae", "Corvus").
    #[arg(long, conflicts_with = "subset")]
    within: Option<String>,
    /// CSV whose first column is named after a rank, listing the names to keep (pybioclip's --subset).
    #[arg(long)]
    subset: Option<PathBuf>,
    /// Custom classes: "a,b,c" or a file with one per line.
    #[arg(long, conflicts_with = "index")]
    cls: Option<String>,
    /// CSV class,bin: classify into the classes, report summed bins.
    #[arg(long, conflicts_with_all = ["index", "cls"])]
    bins: Option<PathBuf>,
    /// Few-shot centroids (see `arbor fewshot fit`): the nearest class, scored by cosine.
    #[arg(long, conflicts_with_all = ["index", "cls", "bins", "min_confidence"])]
    centroids: Option<PathBuf>,
    /// Exact probabilities over every taxon (pybioclip's). Default; kept for scripts.
    #[arg(long, conflicts_with = "ef")]
    exact: bool,
    /// Approximate softmax over the best taxa the HNSW graph finds with this beam width.
    #[arg(long)]
    ef: Option<usize>,
    /// Per-rank sums ignore species at or below this probability (pybioclip's rule).
    #[arg(long, default_value_t = 1e-9)]
    min_prob: f32,
    /// Open set: report the deepest rank whose best probability is at least this ("unknown" if none).
    #[arg(long, conflicts_with_all = ["cls", "bins"])]
    min_confidence: Option<f32>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: RowFormat,
    /// Write results to this file (streamed and flushed per image) instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Images per model call, and per pass over the taxa's vectors when scoring the whole tree.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Image pipeline: squash (pybioclip) or crop (open_clip); default: the model's.
    #[arg(long)]
    preprocess: Option<arbor_engine::Pipeline>,
}

/// What the images are classified against.
enum Target<'a> {
    Tree { classifier: TreeClassifier<'a>, index: &'a TaxonIndex },
    Labels(LabelClassifier),
    Centroids(Centroids),
}

pub fn run(a: ClassifyArgs) -> Result<u8> {
    let embedder = open_embedder(&a.model, a.preprocess, false)?;
    let files = expand(&a.paths)?;
    let index = a.index.as_deref().map(TaxonIndex::open).transpose()?;
    let scope_ids = match (&index, &a.within, &a.subset) {
        (Some(i), Some(name), _) => Some(within_ids(i, name)?),
        (Some(i), _, Some(csv)) => Some(subset_ids(i, csv)?),
        _ => None,
    };
    let softmax = match a.ef {
        Some(ef) => Softmax::Approximate { candidates: ef.max(64), ef },
        None => Softmax::Exact,
    };
    let target = match &index {
        Some(i) => Target::Tree {
            classifier: TreeClassifier::new(
                i,
                scope_ids.as_deref().map_or(Scope::All, Scope::Taxa),
                embedder.logit_scale(),
            )
            .softmax(softmax)
            .min_prob(a.min_prob),
            index: i,
        },
        None => match &a.centroids {
            Some(dir) => Target::Centroids(load_centroids(dir, embedder.identity())?),
            None => Target::Labels(label_classifier(&a, &embedder)?),
        },
    };
    let columns = columns(&target, a.rank, a.min_confidence.is_some());
    let mut out = Rows::new(a.format, a.output.as_deref(), columns, &files)?;
    let progress = bar(files.len() as u64, "classifying");
    let mut failed = 0usize;
    let mut result = Ok(());
    // Photos are answered a batch at a time: against the whole tree, one pass over the taxa's
    // vectors then scores the batch (at 450K taxa that pass dominates a single photo's time).
    let mut pending: Vec<(usize, Result<Vec<f32>>)> = Vec::with_capacity(a.batch_size.max(1));
    let mut flush = |pending: &mut Vec<(usize, Result<Vec<f32>>)>| {
        for (i, answered) in answer_batch(&target, pending, &a) {
            progress.inc(1);
            let name = files[i].display().to_string();
            let written = match answered {
                Ok(rows) => rows.iter().try_for_each(|row| out.write(&name, row, None)),
                Err(e) => {
                    failed += 1;
                    progress.suspend(|| eprintln!("error: {e:#}"));
                    out.write(&name, &[], Some(&format!("{e:#}")))
                }
            };
            if result.is_ok() {
                result = written;
            }
        }
    };
    embedder.embed_files(&files, a.batch_size, |i, r| {
        pending.push((i, r.map_err(anyhow::Error::from)));
        if pending.len() >= a.batch_size {
            flush(&mut pending);
        }
    })?;
    flush(&mut pending);
    result?;
    progress.finish_and_clear();
    let mode = match (&target, softmax) {
        (Target::Labels(_), _) => "labels".to_string(),
        (Target::Centroids(_), _) => "few-shot centroids".to_string(),
        (_, Softmax::Exact) => "exact".to_string(),
        (_, Softmax::Approximate { ef, .. }) => format!("approximate (HNSW ef={ef})"),
    };
    eprintln!("classified {} of {} images (mode: {mode})", files.len() - failed, files.len());
    Ok(if failed > 0 { EXIT_SOME_FAILED } else { 0 })
}

fn within_ids(index: &TaxonIndex, name: &str) -> Result<Vec<TaxonId>> {
    let mut ids = Vec::new();
    for sub in index.find(name).with_context(|| index.path().display().to_string())? {
        ids.extend(index.scope_ids(Scope::Within(&sub))?);
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// pybioclip's `--subset`: first column named after a rank, one name per row.
fn subset_ids(index: &TaxonIndex, csv_path: &Path) -> Result<Vec<TaxonId>> {
    let mut reader =
        csv::Reader::from_path(csv_path).with_context(|| format!("{}: cannot read", csv_path.display()))?;
    let header = reader.headers()?.get(0).unwrap_or("").to_string();
    let rank: Rank = header
        .parse()
        .map_err(|e: String| anyhow::anyhow!("{}: first column must name a rank: {e}", csv_path.display()))?;
    let mut ids = Vec::new();
    for row in reader.records() {
        let row = row.with_context(|| csv_path.display().to_string())?;
        let name = row.get(0).unwrap_or("").trim();
        let subs = index.find(name).unwrap_or_default();
        let subs: Vec<_> = subs.into_iter().filter(|s| s.rank == rank && s.name() == name).collect();
        if subs.is_empty() {
            eprintln!("warning: {}: no {rank} named {name:?} in the index", csv_path.display());
        }
        for s in subs {
            ids.extend(index.scope_ids(Scope::Within(&s))?);
        }
    }
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        bail!("{}: the subset selects no taxa", csv_path.display());
    }
    Ok(ids)
}

fn label_classifier(a: &ClassifyArgs, embedder: &arbor_engine::Embedder) -> Result<LabelClassifier> {
    let (classes, bins) = match (&a.cls, &a.bins) {
        (_, Some(bins)) => {
            let mut reader =
                csv::Reader::from_path(bins).with_context(|| format!("{}: cannot read", bins.display()))?;
            let mut classes = Vec::new();
            let mut names = Vec::new();
            for row in reader.records() {
                let row = row.with_context(|| bins.display().to_string())?;
                let (Some(c), Some(b)) = (row.get(0), row.get(1)) else {
                    bail!("{}: expected rows of class,bin", bins.display());
                };
                classes.push(c.trim().to_string());
                names.push(b.trim().to_string());
            }
            (classes, Some(names))
        }
        (Some(cls), None) if Path::new(cls).is_file() => (read_lines(Path::new(cls))?, None),
        (Some(cls), None) => (cls.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(), None),
        (None, None) => bail!("give --index, --cls or --bins"),
    };
    if classes.is_empty() {
        bail!("no classes given");
    }
    let cache = LabelCache::new(LabelCache::default_dir());
    let (vectors, encoded) = cache.embed(embedder, &classes, Templates::OpenAi80, |_| {})?;
    if encoded > 0 {
        eprintln!("encoded {encoded} new labels (cached in {})", LabelCache::default_dir().display());
    }
    let c = LabelClassifier::new(classes, vectors, embedder.logit_scale())?;
    Ok(match bins {
        Some(b) => c.with_bins(b)?,
        None => c,
    })
}

/// Centroids fitted with this model; those of another model would answer nonsense.
fn load_centroids(dir: &Path, identity: &str) -> Result<Centroids> {
    let (centroids, fitted_with) = Centroids::load(dir)?;
    if fitted_with != identity {
        bail!(
            "{}: the centroids were fitted with another model (weights {}…, this one {}…)",
            dir.display(),
            fitted_with.chars().take(12).collect::<String>(),
            identity.chars().take(12).collect::<String>()
        );
    }
    Ok(centroids)
}

/// Rows of answer cells for one image (without the file name).
/// Answers the photos of `pending` (emptied) in their order: each photo's rows, or its error.
fn answer_batch(
    target: &Target<'_>,
    pending: &mut Vec<(usize, Result<Vec<f32>>)>,
    a: &ClassifyArgs,
) -> Vec<(usize, Result<Vec<Vec<String>>>)> {
    let mut features = Vec::new();
    for (_, r) in pending.iter_mut() {
        if let Ok(f) = r {
            normalize_row(f);
            features.extend_from_slice(f);
        }
    }
    // One pass over the taxa for the whole batch: the tree's softmax needs every taxon's score.
    let tree = match target {
        Target::Tree { classifier, .. } if !features.is_empty() => {
            classifier.probabilities(&features).map_err(|e| format!("{e:#}"))
        }
        _ => Ok(Vec::new()),
    };
    let mut decoded = 0;
    pending
        .drain(..)
        .map(|(i, r)| {
            let answered = r.and_then(|f| match target {
                Target::Tree { classifier, index } => {
                    decoded += 1;
                    let probs = tree.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
                    let probs = probs.get(decoded - 1).context("one row of probabilities per photo")?;
                    tree_answer(classifier, index, probs, a)
                }
                Target::Labels(c) => {
                    Ok(c.classify(&f, a.k).into_iter().map(|h| vec![h.label, h.score.to_string()]).collect())
                }
                Target::Centroids(c) => Ok(c
                    .classify(&f, a.k.unwrap_or(c.labels().len()))?
                    .into_iter()
                    .map(|h| vec![h.label, h.score.to_string()])
                    .collect()),
            });
            (i, answered)
        })
        .collect()
}

/// One photo's rows from its per-taxon probabilities.
fn tree_answer(
    classifier: &TreeClassifier<'_>,
    index: &TaxonIndex,
    probs: &[(TaxonId, f32)],
    a: &ClassifyArgs,
) -> Result<Vec<Vec<String>>> {
    if let Some(p) = a.min_confidence {
        let hit = classifier.deepest_confident(probs, p)?;
        return Ok(vec![open_set_row(hit)]);
    }
    let hits = classifier.rank_top_k(probs, a.rank, a.k.unwrap_or(5))?;
    hits.into_iter().map(|h| rank_row(index, h)).collect()
}

fn rank_row(index: &TaxonIndex, h: RankHit) -> Result<Vec<String>> {
    let mut row = h.path.clone();
    if let Some(id) = h.taxon {
        let t = index.taxon(id)?;
        row.push(t.lineage.species());
        row.push(t.common_name);
    }
    row.push(h.score.to_string());
    Ok(row)
}

fn open_set_row(hit: Option<RankHit>) -> Vec<String> {
    match hit {
        None => vec!["unknown".into(), String::new(), String::new(), String::new()],
        Some(h) => {
            let name = match h.rank {
                Rank::Species => format!("{} {}", h.path[5], h.path[6]),
                r => h.path[r.depth()].clone(),
            };
            vec![h.rank.to_string(), name, h.path.join(" "), h.score.to_string()]
        }
    }
}

fn columns(target: &Target<'_>, rank: Rank, open_set: bool) -> Vec<String> {
    let mut c = vec!["file_name".to_string()];
    match target {
        Target::Labels(_) | Target::Centroids(_) => c.push("classification".into()),
        Target::Tree { .. } if open_set => c.extend(["rank", "name", "lineage"].map(String::from)),
        Target::Tree { .. } => {
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

/// Streams result rows to stdout or a file, flushing after every image.
struct Rows {
    format: RowFormat,
    out: Box<dyn Write>,
    columns: Vec<String>,
    name_width: usize,
}

impl Rows {
    fn new(format: RowFormat, path: Option<&Path>, columns: Vec<String>, files: &[PathBuf]) -> Result<Rows> {
        let out: Box<dyn Write> = match path {
            Some(p) => {
                Box::new(BufWriter::new(File::create(p).with_context(|| format!("{}: cannot create", p.display()))?))
            }
            None => Box::new(BufWriter::new(std::io::stdout())),
        };
        let name_width = files.iter().map(|f| f.display().to_string().chars().count()).max().unwrap_or(9).max(9);
        let mut rows = Rows { format, out, columns, name_width };
        match format {
            RowFormat::Csv => {
                let mut header = rows.columns.clone();
                header.push("error".into());
                rows.csv_line(&header)?;
            }
            RowFormat::Table => {
                let header = rows.columns.clone();
                let line = rows.table_line(&header[0], &header[1..]);
                writeln!(rows.out, "{line}")?;
            }
            RowFormat::Jsonl => {}
        }
        rows.out.flush()?;
        Ok(rows)
    }

    fn write(&mut self, file: &str, cells: &[String], error: Option<&str>) -> Result<()> {
        match self.format {
            RowFormat::Csv => {
                let mut row = vec![file.to_string()];
                row.extend(cells.iter().cloned());
                row.resize(self.columns.len(), String::new());
                row.push(error.unwrap_or("").to_string());
                self.csv_line(&row)?;
            }
            RowFormat::Jsonl => {
                let mut obj = serde_json::Map::new();
                obj.insert("file_name".into(), file.into());
                for (c, v) in self.columns[1..].iter().zip(cells) {
                    let value = if c == "score" {
                        v.parse::<f64>().map(serde_json::Value::from).unwrap_or_default()
                    } else {
                        v.clone().into()
                    };
                    obj.insert(c.clone(), value);
                }
                if let Some(e) = error {
                    obj.insert("error".into(), e.into());
                }
                writeln!(self.out, "{}", serde_json::Value::Object(obj))?;
            }
            RowFormat::Table => {
                let line = match error {
                    Some(e) => self.table_line(file, &[format!("error: {e}")]),
                    None => self.table_line(file, cells),
                };
                writeln!(self.out, "{line}")?;
            }
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

    fn table_line(&self, file: &str, cells: &[String]) -> String {
        let w = self.name_width;
        let mut line = format!("{file:<w$}");
        for c in cells {
            line.push_str("  ");
            line.push_str(c);
        }
        line
    }
}
