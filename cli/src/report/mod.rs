//! `arbor report`: one self-contained HTML page of a classified folder — thumbnails, ranked
//! taxa with their lineage, confidence bars, open-set verdicts and errors per photo; counts
//! per taxon, filters and sorting over the folder. The page needs no server and fetches
//! nothing (its Content-Security-Policy forbids it): data, CSS and script are inline, and
//! thumbnails are data URIs or, for large folders, files in a sibling folder.

mod results;
mod thumbs;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use rayon::prelude::*;
use serde::Serialize;

use crate::output::check_output_file;
use crate::progress::bar;
use results::Photo;

/// Above this many photos thumbnails go to a sibling folder instead of into the page.
pub const INLINE_LIMIT: usize = 2000;

/// The page, with `/*ARBOR_DATA*/` where the data goes.
const PAGE: &str = include_str!("page.html");

/// Write an HTML report of classify's results.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  arbor report out.csv --out report.html
  arbor report md-classified.json --photos traps/ --out report.html --rank family
  arbor report out.jsonl --out report.html --min-confidence 0.5 --thumbs report-thumbs
  arbor classify --model bioclip --index tol-index photos/ --report report.html

The page works offline from disk in any browser; its filters live in the address (#q=Felidae&min=0.5),
so a filtered view can be bookmarked.")]
pub struct ReportArgs {
    /// classify's output: CSV, JSON lines or md-json.
    results: PathBuf,
    /// The HTML file to write.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    options: ReportOptions,
}

/// How a report is drawn (shared with `classify --report`).
#[derive(Debug, Clone, Args)]
pub struct ReportOptions {
    /// The folder relative photo paths start from (default: as written; for md-json, the
    /// file's folder).
    #[arg(long)]
    pub photos: Option<PathBuf>,
    /// Write thumbnails into this folder (default: inside the page up to 2000 photos, else a
    /// folder beside it).
    #[arg(long, conflicts_with = "no_thumbs")]
    pub thumbs: Option<PathBuf>,
    /// No thumbnails.
    #[arg(long)]
    pub no_thumbs: bool,
    /// Mark photos whose best score is below this as unsure ("unknown" in the page).
    #[arg(long)]
    pub min_confidence: Option<f32>,
    /// The rank the counts are drawn at (default: the deepest the results have).
    #[arg(long)]
    pub rank: Option<arbor_index::Rank>,
    /// The page's title.
    #[arg(long, default_value = "Arbor report")]
    pub title: String,
}

/// What the header says of the run beyond the results (known when classify writes the page).
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// The model.
    pub model: Option<String>,
    /// The taxon index or classes.
    pub index: Option<String>,
    /// Seconds the classification took.
    pub seconds: Option<f64>,
}

#[derive(Serialize)]
struct Page<'a> {
    title: &'a str,
    summary: Summary,
    ranks: Vec<&'static str>,
    rank: &'a str,
    min_confidence: Option<f32>,
    photos: &'a [Photo],
}

#[derive(Serialize)]
struct Summary {
    results: String,
    model: Option<String>,
    index: Option<String>,
    classifier: Option<String>,
    built: String,
    seconds: Option<f64>,
    photos: usize,
    errors: usize,
}

pub fn run(a: ReportArgs) -> Result<u8> {
    write(&a.results, &a.out, &a.options, &RunInfo::default())?;
    Ok(0)
}

/// Builds the report of `results` into `out`.
pub fn write(results: &Path, out: &Path, o: &ReportOptions, run: &RunInfo) -> Result<()> {
    check_output_file(out)?;
    if let Some(p) = o.min_confidence
        && !(0.0..=1.0).contains(&p)
    {
        bail!("--min-confidence must be in [0, 1], got {p}");
    }
    let started = Instant::now();
    let (mut photos, classifier) = results::read(results, o.photos.as_deref())?;
    if photos.is_empty() {
        bail!("{}: no photos in it", results.display());
    }
    let thumbs_dir = match (&o.thumbs, o.no_thumbs) {
        (_, true) => None,
        (Some(dir), false) => Some(Some(dir.clone())),
        (None, false) if photos.len() > INLINE_LIMIT => Some(Some(sibling_folder(out))),
        (None, false) => Some(None),
    };
    if let Some(dir) = &thumbs_dir {
        add_thumbnails(&mut photos, dir.as_deref(), out)?;
    }
    let deepest = photos
        .iter()
        .flat_map(|p| &p.subjects)
        .flat_map(|s| s.candidates.first())
        .map(|c| c.lineage.len())
        .max()
        .unwrap_or(0);
    let ranks: Vec<&'static str> = results::RANKS[..deepest.min(7)].to_vec();
    let rank = o.rank.map(|r| r.to_string()).unwrap_or_else(|| ranks.last().copied().unwrap_or("species").to_owned());
    let page = Page {
        title: &o.title,
        summary: Summary {
            results: results.display().to_string(),
            model: run.model.clone(),
            index: run.index.clone(),
            classifier,
            built: jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC").to_string(),
            seconds: run.seconds,
            photos: photos.len(),
            errors: photos.iter().filter(|p| p.error.is_some()).count(),
        },
        ranks,
        rank: &rank,
        min_confidence: o.min_confidence,
        photos: &photos,
    };
    // Inside <script>, "</" could end the element: JSON allows the slash escaped.
    let data = serde_json::to_string(&page)?.replace("</", "<\\/");
    let html = PAGE.replacen("/*ARBOR_DATA*/", &data, 1).replacen("ARBOR_TITLE", &html_escape(&o.title), 1);
    arbor_index::write_atomically(out, |w| std::io::Write::write_all(w, html.as_bytes()))
        .with_context(|| format!("{}: cannot write", out.display()))?;
    eprintln!(
        "wrote {} ({} photos, {:.1} MB) in {:.1} s",
        out.display(),
        photos.len(),
        html.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `report.html` → `report_thumbs/`.
fn sibling_folder(out: &Path) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    out.with_file_name(format!("{stem}_thumbs"))
}

/// Decodes every photo once (on all cores) for its thumbnail and its detections' crops: data
/// URIs, or files in `dir` named in the page relative to it.
fn add_thumbnails(photos: &mut [Photo], dir: Option<&Path>, out: &Path) -> Result<()> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let page_dir = out.parent().map(Path::to_path_buf).unwrap_or_default();
    let progress = bar(photos.len() as u64, "thumbnails");
    photos.par_iter_mut().enumerate().try_for_each(|(i, photo)| -> Result<()> {
        progress.inc(1);
        if photo.error.is_some() {
            return Ok(());
        }
        let boxes: Vec<Option<[f64; 4]>> = photo.subjects.iter().map(|s| s.bbox).collect();
        let Ok(thumbs::Thumbs { whole, crops }) = thumbs::photo_thumbs(&photo.path, &boxes) else {
            return Ok(());
        };
        let place = |jpeg: &[u8], name: String| -> Result<String> {
            match dir {
                None => Ok(thumbs::data_uri(jpeg)),
                Some(dir) => {
                    let file = dir.join(&name);
                    std::fs::write(&file, jpeg).with_context(|| format!("{}: cannot write", file.display()))?;
                    Ok(relative_url(&file, &page_dir))
                }
            }
        };
        photo.thumb = Some(place(&whole, format!("{i:06}.jpg"))?);
        for (j, (subject, crop)) in photo.subjects.iter_mut().zip(crops).enumerate() {
            if let Some(crop) = crop {
                subject.thumb = Some(place(&crop, format!("{i:06}-{j}.jpg"))?);
            }
        }
        Ok(())
    })?;
    progress.finish_and_clear();
    Ok(())
}

/// `file` as a URL relative to the page's folder (percent-encoding what a URL cannot hold).
fn relative_url(file: &Path, page_dir: &Path) -> String {
    let rel = file.strip_prefix(page_dir).unwrap_or(file);
    let text = rel.to_string_lossy().replace('\\', "/");
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
