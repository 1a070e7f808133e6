//! `arbor classify`: photos in, taxa out — at any rank, against the tree of life, a subset of
//! it, the user's own labels and bins, or few-shot centroids. The arguments become an
//! [`Engine`] and a [`Classifier`]; every check on them is the library's.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use arbor_engine::{
    Candidates, Classifier, Confidence, CropPlan, CropShape, DetectionFile, Engine, PhotoTags,
    Subject as EngineSubject, TreeQuestion, read_bins,
};
use arbor_index::{Rank, Scope, TaxonId};
use clap::{Args, ValueEnum};

use crate::camtrap::CamtrapDp;
use crate::inputs::{EXIT_SOME_FAILED, PhotoStream, class_list};
use crate::mdjson::MdJson;
use crate::output::{check_output_dir, check_output_file};
use crate::progress::bar;
use crate::results::{PhotoResult, RowFormat, Rows, Sink, Subject, Unit, columns, csv_header, file_head};
use crate::resume::Done;
use crate::sidecar::{Checkpointed, sidecar_path};

/// Answers per photo from the tree when `-k` is not given (pybioclip's default).
const DEFAULT_K: NonZeroUsize = NonZeroUsize::new(5).expect("5 is not zero");

/// Output format of `classify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// pybioclip's CSV columns (plus a trailing `error` column).
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// MegaDetector's batch output with classifications (needs --detections and --output).
    #[value(name = "md-json")]
    MdJson,
    /// A Camtrap DP 1.0 package in the --output folder.
    #[value(name = "camtrap-dp")]
    CamtrapDp,
}

impl OutputFormat {
    fn rows(self) -> Option<RowFormat> {
        match self {
            OutputFormat::Table => Some(RowFormat::Table),
            OutputFormat::Csv => Some(RowFormat::Csv),
            OutputFormat::Jsonl => Some(RowFormat::Jsonl),
            OutputFormat::MdJson | OutputFormat::CamtrapDp => None,
        }
    }
}

/// Classify photos at any rank.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  arbor classify --model bioclip --index tol-index photos/ --rank species -k 5
  arbor classify --model bioclip --index tol-index photos/ --precision bf16
  arbor classify --model bioclip --index tol-index img.jpg --rank family --within Aves --format csv --output out.csv
  arbor classify --model bioclip --index tol-index img.jpg --within \"Sulidae > Morus\"
  arbor classify --model bioclip --index tol-index img.jpg --min-confidence 0.8
  arbor classify --model bioclip --cls \"cat,dog,raven\" img.jpg
  arbor classify --model bioclip --bins bins.csv photos/
  arbor classify --model bioclip --centroids my-classes photos/
  find photos -name '*.jpg' | arbor classify --model bioclip --index tol-index -
  arbor classify --model bioclip --index tol-index photos/ --format jsonl --output out.jsonl --resume
  arbor classify --model bioclip --index tol-index traps/ --format csv --exif
  arbor classify --model bioclip --index tol-index --detections md.json traps/ --format md-json --output md-classified.json
  arbor classify --model bioclip --index tol-index --detections md.json traps/ --crop square --format csv
  arbor classify --model bioclip --index tol-index traps/ --format camtrap-dp --output package --timezone +02:00
  arbor classify --model bioclip --index tol-index photos/ --report report.html

With --detections (MegaDetector's batch output, format 1.0 and later), each animal detection at or
above --detection-threshold is cut out of its photo (EXIF orientation applied, as MegaDetector
does) and classified; the photo paths in the file are taken relative to the folder given (default:
the detection file's folder). --crop box cuts exactly the box (SpeciesNet's crop); --crop square
cuts a square of the box's longer side around it (MegaDetector's --square-crops), black where it
passes the photo's edge.

Folders are walked recursively (each file once, links followed, hidden files left out); `-`
reads paths from stdin, one per line.

Exit status: 0 all inputs classified, 1 error, 2 usage error, 3 some inputs could not be read
(reported on stderr and as rows with an error).")]
pub struct ClassifyArgs {
    /// Arbor model directory.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    precision: crate::commands::PrecisionArg,
    /// Image files and folders (recursive); `-` reads paths from stdin. With --detections: the
    /// folder the detection file's paths are relative to.
    #[arg(required_unless_present = "detections")]
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
    /// MegaDetector batch output (JSON): classify the crops of its animal detections.
    #[arg(long)]
    detections: Option<PathBuf>,
    /// Detections below this confidence are not classified (MegaDetector's typical 0.2).
    #[arg(long, default_value_t = 0.2, requires = "detections")]
    detection_threshold: f64,
    /// How a detection is cut out: box (exactly the box) or square (around it).
    #[arg(long, default_value = "box", requires = "detections")]
    crop: CropShape,
    /// Classify a photo whole when it has no animal detection above the threshold.
    #[arg(long, requires = "detections")]
    whole_images: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
    /// Write results to this file (streamed and flushed per image) instead of stdout; for
    /// camtrap-dp, the package folder.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Carry on a killed run: photos whose results are complete in --output (or, for md-json
    /// and camtrap-dp, in its `.partial.jsonl` sidecar) are skipped, a torn last photo is
    /// classified again, the rest appended.
    #[arg(long, requires = "output")]
    resume: bool,
    /// camtrap-dp: a CSV of deployments (deploymentID = photo folder, latitude, longitude, and
    /// any other Camtrap DP deployment columns); otherwise coordinates come from EXIF GPS.
    #[arg(long)]
    deployments: Option<PathBuf>,
    /// camtrap-dp: the UTC offset of the cameras' clocks (EXIF times have no zone).
    #[arg(long, default_value = "Z", value_parser = crate::camtrap::parse_offset)]
    timezone: jiff::tz::Offset,
    /// camtrap-dp: the project's title.
    #[arg(long, default_value = "Camera-trap photos classified by Arbor")]
    project: String,
    /// camtrap-dp: who made the package.
    #[arg(long)]
    contributor: Option<String>,
    /// Also write an HTML report of the results (see `arbor report`); with no --output, the
    /// rows go to a file beside the report.
    #[arg(long, conflicts_with = "resume")]
    report: Option<PathBuf>,
    /// The report's title.
    #[arg(long, default_value = "Arbor report", requires = "report")]
    report_title: String,
    /// Stop after this many photos, as a killed run would (for testing --resume).
    #[arg(long, hide = true)]
    stop_after: Option<usize>,
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

pub fn run(mut a: ClassifyArgs) -> Result<u8> {
    check_combinations(&a)?;
    let started = std::time::Instant::now();
    // A report needs the results in a file: the rows go beside it when no --output is given.
    let report_rows = match (&a.report, &a.output) {
        (Some(report), None) => {
            crate::output::check_output_file(report)?;
            let rows = report.with_extension("rows.jsonl");
            a.format = OutputFormat::Jsonl;
            a.output = Some(rows.clone());
            Some(rows)
        }
        _ => None,
    };
    let mut engine = Engine::builder(&a.model).exif_orientation(a.exif_orient).precision(a.precision.precision);
    if let Some(index) = &a.index {
        engine = engine.index(index);
    }
    if let Some(p) = a.preprocess {
        engine = engine.pipeline(p);
    }
    let mut work = match &a.detections {
        Some(path) => Work::Detections(read_detections(&a, path)?),
        None => Work::Photos(PhotoStream::start(&a.paths)?),
    };
    let engine = engine.open()?;
    if let Ok(index) = engine.index()
        && !index.unembedded().is_empty()
    {
        eprintln!("{}", crate::commands::index::unembedded_note(index));
    }
    let scope_ids = scope(&engine, &a)?;
    let classifier = classifier(&engine, &a, scope_ids.as_deref())?;
    let (sink, done) = sink(&a, &classifier, &work)?;
    let mut sink: Box<dyn Sink> = match a.stop_after {
        Some(limit) => Box::new(StopAfter { inner: sink, limit }),
        None => sink,
    };
    let done = done.unwrap_or_default();
    let (failed, total) = match &mut work {
        Work::Detections(file) => classify_detections(&engine, &classifier, &a, file, &done, sink.as_mut())?,
        Work::Photos(stream) => classify_photos(&engine, &classifier, &a, stream, &done, sink.as_mut())?,
    };
    if let Work::Photos(stream) = work {
        stream.finish()?;
    }
    sink.finish(&engine)?;
    eprintln!("classified {} of {} images (mode: {})", total - failed, total, mode(&classifier, &a));
    if let (Some(report), Some(results)) = (&a.report, &a.output) {
        let info = crate::report::RunInfo {
            model: Some(a.model.display().to_string()),
            index: a.index.as_ref().or(a.centroids.as_ref()).map(|p| p.display().to_string()).or_else(|| a.cls.clone()),
            seconds: Some(started.elapsed().as_secs_f64()),
        };
        let options = crate::report::ReportOptions {
            photos: (a.format == OutputFormat::MdJson).then(|| a.paths.first().cloned()).flatten(),
            thumbs: None,
            no_thumbs: false,
            min_confidence: a.min_confidence.map(Confidence::get),
            rank: a.index.is_some().then_some(a.rank),
            title: a.report_title.clone(),
        };
        crate::report::write(results, report, &options, &info)?;
        if let Some(rows) = report_rows {
            let _ = std::fs::remove_file(rows);
        }
    }
    Ok(if failed > 0 { EXIT_SOME_FAILED } else { 0 })
}

/// `--stop-after`: passes `limit` photos on, then drops the rest and never finishes, leaving
/// the output as a kill would.
struct StopAfter {
    inner: Box<dyn Sink>,
    limit: usize,
}

impl Sink for StopAfter {
    fn photo(&mut self, engine: &Engine, result: &PhotoResult) -> Result<()> {
        if self.limit == 0 {
            return Ok(());
        }
        self.limit -= 1;
        self.inner.photo(engine, result)
    }

    fn finish(self: Box<Self>, _: &Engine) -> Result<()> {
        anyhow::bail!("stopped early (--stop-after)")
    }
}

/// What the run goes through.
enum Work {
    /// Photo files, as a walk finds them.
    Photos(PhotoStream),
    /// A detection file's photos.
    Detections(DetectionFile),
}

/// Refuses what cannot be combined, before any work.
fn check_combinations(a: &ClassifyArgs) -> Result<()> {
    if let Some(out) = &a.output {
        match a.format {
            OutputFormat::CamtrapDp => check_output_dir(out)?,
            _ => check_output_file(out)?,
        }
    }
    if a.report.is_some() && a.output.is_some() && matches!(a.format, OutputFormat::CamtrapDp | OutputFormat::Table) {
        anyhow::bail!("--report reads csv, jsonl or md-json results: choose one of those with --format");
    }
    if a.resume && a.format == OutputFormat::Table {
        anyhow::bail!(
            "--resume needs --format csv, jsonl, md-json or camtrap-dp (a table is written at the end, not per photo)"
        );
    }
    match a.format {
        OutputFormat::MdJson if a.detections.is_none() => {
            anyhow::bail!("--format md-json writes classifications into a MegaDetector file: give it with --detections")
        }
        OutputFormat::MdJson if a.whole_images => anyhow::bail!(
            "--whole-images cannot be written as md-json: MegaDetector's format has classifications only on detections \
             (use csv, jsonl or camtrap-dp)"
        ),
        OutputFormat::MdJson | OutputFormat::CamtrapDp if a.output.is_none() => {
            anyhow::bail!(
                "--format {} needs --output",
                if a.format == OutputFormat::MdJson { "md-json" } else { "camtrap-dp FOLDER" }
            )
        }
        _ => {}
    }
    if a.format != OutputFormat::CamtrapDp && (a.deployments.is_some() || a.contributor.is_some()) {
        anyhow::bail!("--deployments and --contributor describe a Camtrap DP package: add --format camtrap-dp");
    }
    Ok(())
}

/// The detection file, its photos' relative paths starting from the one folder given (or the
/// file's own folder).
fn read_detections(a: &ClassifyArgs, path: &Path) -> Result<DetectionFile> {
    let file = DetectionFile::read(path)?;
    if file.animal_ids().is_empty() {
        eprintln!("warning: {}: no detection category is named \"animal\"; nothing to crop", path.display());
    }
    match &a.paths[..] {
        [] => Ok(file),
        [root] if root.is_dir() => Ok(file.with_root(root)),
        [root] => {
            anyhow::bail!("{}: not a folder (with --detections, give the folder the photos are in)", root.display())
        }
        _ => anyhow::bail!("with --detections, give one folder: the one the detection file's paths start from"),
    }
}

/// The sink the format asks for, and what a resumed output already holds.
fn sink(a: &ClassifyArgs, classifier: &Classifier<'_>, work: &Work) -> Result<(Box<dyn Sink>, Option<Done>)> {
    let detections = match work {
        Work::Detections(file) => Some(file),
        Work::Photos(_) => None,
    };
    let prepare = |path: &Path, header: Option<&str>| -> Result<Option<crate::resume::Done>> {
        if !a.resume {
            return Ok(None);
        }
        let done = crate::resume::prepare(path, header)?;
        eprintln!("resuming {}: {} photos already done", path.display(), done.len());
        Ok(Some(done))
    };
    if let Some(format) = a.format.rows() {
        let columns = columns(classifier, a.rank, detections.is_some(), a.exif);
        let header = (format == RowFormat::Csv).then(|| csv_header(&columns));
        let done = match &a.output {
            Some(path) => prepare(path, header.as_deref())?,
            None => None,
        };
        let started = done.as_ref().is_some_and(|d| d.started);
        let rows = Rows::new(format, a.output.as_deref(), columns, detections.is_some(), started)?;
        return Ok((Box::new(rows), done));
    }
    let output = a.output.clone().context("this format needs --output")?;
    let done = prepare(&sidecar_path(&output), None)?;
    let sink: Box<dyn Sink> = match a.format {
        OutputFormat::MdJson => Box::new(Checkpointed::new(
            &output,
            a.resume,
            MdJson {
                detections: detections.context("md-json needs --detections")?.clone(),
                output: output.clone(),
                metadata: serde_json::json!({
                    "arbor_mode": mode(classifier, a),
                    "crop": format!("{:?}", a.crop).to_lowercase(),
                    "detection_threshold": a.detection_threshold,
                }),
            },
        )?),
        _ => {
            let root = match detections {
                Some(file) => file.root().to_path_buf(),
                None => common_folder(&a.paths),
            };
            let deployments =
                a.deployments.as_deref().map(CamtrapDp::read_deployments).transpose()?.unwrap_or_default();
            let contributor =
                a.contributor.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "Arbor user".into());
            Box::new(Checkpointed::new(
                &output,
                a.resume,
                CamtrapDp {
                    output: output.clone(),
                    root,
                    deployments,
                    offset: a.timezone,
                    title: a.project.clone(),
                    contributor,
                    detections: detections.cloned(),
                    threshold: a.detection_threshold,
                },
            )?)
        }
    };
    Ok((sink, done))
}

/// The deepest folder every argument is in (a folder argument counts as its own).
fn common_folder(paths: &[PathBuf]) -> PathBuf {
    let mut common: Option<PathBuf> = None;
    for f in paths {
        let parent = match f {
            f if f.as_os_str() == "-" => PathBuf::new(),
            f if f.is_dir() => f.clone(),
            f => f.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        common = Some(match common {
            None => parent,
            Some(c) => c.components().zip(parent.components()).take_while(|(x, y)| x == y).map(|(x, _)| x).collect(),
        });
    }
    common.unwrap_or_default()
}

/// Classifies photo files into `sink` as the walk finds them; returns (failed, total).
fn classify_photos(
    engine: &Engine,
    classifier: &Classifier<'_>,
    a: &ClassifyArgs,
    stream: &mut PhotoStream,
    done: &Done,
    sink: &mut dyn Sink,
) -> Result<(usize, usize)> {
    let progress = bar(stream.found(), "classifying");
    let found = stream.found.clone();
    let todo = stream.paths().filter(|f| !done.has(&f.display().to_string()));
    let (mut failed, mut total, mut written) = (0usize, 0usize, Ok(()));
    engine.classify_stream(classifier, todo, a.batch_size as usize, |_, path, answer| {
        // The walk may still be finding photos: the bar's end moves with it.
        progress.set_length(found.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(done.len() as u64));
        progress.inc(1);
        total += 1;
        let outcome = match answer {
            Ok(answer) => Ok(vec![Unit { subject: None, answer: Ok(answer) }]),
            Err(e) => {
                failed += 1;
                let message = crate::error_message(&anyhow::Error::from(e));
                progress.suspend(|| eprintln!("error: {message}"));
                Err(message)
            }
        };
        let tags = tags(a, &path);
        let result = PhotoResult { file: path.display().to_string(), path, outcome, tags };
        if written.is_ok() {
            written = sink.photo(engine, &result);
        }
    })?;
    written?;
    progress.finish_and_clear();
    Ok((failed, total))
}

/// Classifies a detection file's photos into `sink`; returns (failed, total).
fn classify_detections(
    engine: &Engine,
    classifier: &Classifier<'_>,
    a: &ClassifyArgs,
    file: &DetectionFile,
    done: &Done,
    sink: &mut dyn Sink,
) -> Result<(usize, usize)> {
    let plan = CropPlan { threshold: a.detection_threshold, shape: a.crop, whole_when_none: a.whole_images };
    let todo: Vec<usize> = (0..file.images().len()).filter(|&i| !done.has(&file.images()[i].file)).collect();
    let progress = bar(todo.len() as u64, "classifying");
    let (mut failed, mut written) = (0usize, Ok(()));
    engine.classify_detections(classifier, file, &plan, &todo, a.batch_size as usize, |i, answers| {
        progress.inc(1);
        let image = &file.images()[i];
        let outcome = match answers {
            Ok(units) => Ok(units
                .into_iter()
                .map(|(subject, answer)| {
                    let detection = match subject {
                        EngineSubject::Detection(d) => Some(d),
                        EngineSubject::Whole => None,
                    };
                    let conf = detection.map(|d| image.detections[d].conf);
                    let answer = answer.map_err(|e| {
                        let message = crate::error_message(&anyhow::Error::from(e));
                        progress.suspend(|| eprintln!("error: {message}"));
                        message
                    });
                    Unit { subject: Some(Subject { detection, conf }), answer }
                })
                .collect()),
            Err(e) => {
                failed += 1;
                let message = crate::error_message(&anyhow::Error::from(e));
                progress.suspend(|| eprintln!("error: {message}"));
                Err(message)
            }
        };
        let path = file.locate(image);
        let result = PhotoResult { file: image.file.clone(), tags: tags(a, &path), path, outcome };
        if written.is_ok() {
            written = sink.photo(engine, &result);
        }
    })?;
    written?;
    progress.finish_and_clear();
    Ok((failed, todo.len()))
}

/// `--exif`: the photo's tags, read from its head.
fn tags(a: &ClassifyArgs, path: &Path) -> Option<PhotoTags> {
    a.exif.then(|| PhotoTags::read(&file_head(path, 1 << 20)))
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

fn mode(classifier: &Classifier<'_>, a: &ClassifyArgs) -> String {
    match (classifier, a.ef) {
        (Classifier::Labels { .. }, _) => "labels".into(),
        (Classifier::Centroids { .. }, _) => "few-shot centroids".into(),
        (Classifier::Tree { .. }, None) => "exact".into(),
        (Classifier::Tree { .. }, Some(ef)) => format!("approximate (HNSW ef={ef})"),
    }
}
