//! Sets of photos as the few-shot and collection commands take them: embedded with a progress
//! bar, unreadable ones reported and left out, and labelled sets read from a folder per class
//! or a CSV.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arbor_engine::Engine;

use crate::progress::bar;

/// Photos that were embedded: their positions in the input, unit embeddings row-major.
pub struct Embedded {
    /// Indices into the input list of the photos that could be embedded.
    pub kept: Vec<usize>,
    /// One unit row per kept photo.
    pub rows: Vec<f32>,
    /// How many could not be read.
    pub failed: usize,
}

/// Embeds `files` (unit rows), reporting each unreadable one on stderr and leaving it out.
pub fn embed_skipping_bad(engine: &Engine, files: &[PathBuf], batch_size: usize, what: &str) -> Result<Embedded> {
    let progress = bar(files.len() as u64, what);
    let mut out = Embedded { kept: Vec::new(), rows: Vec::new(), failed: 0 };
    engine.embed_files(files, batch_size, |i, r| {
        progress.inc(1);
        match r {
            Ok(row) => {
                out.kept.push(i);
                out.rows.extend(row);
            }
            Err(e) => {
                out.failed += 1;
                progress.suspend(|| eprintln!("skipped: {e}"));
            }
        }
    })?;
    progress.finish_and_clear();
    Ok(out)
}

/// Photos with a class label each.
pub struct Labelled {
    pub files: Vec<PathBuf>,
    pub labels: Vec<String>,
}

impl Labelled {
    /// A folder with one sub-folder per class (the sub-folder's name is the label; photos are
    /// found recursively inside it). Loose files at the top level have no class and are an error,
    /// so a wrong folder is not silently read as no data.
    pub fn from_folder(dir: &Path) -> Result<Labelled> {
        let mut classes: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("{}: cannot list folder", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        classes.sort();
        let mut set = Labelled { files: Vec::new(), labels: Vec::new() };
        for class in &classes {
            let label = class.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let found = arbor_engine::find_photos(std::slice::from_ref(class))?;
            if let Some(skipped) = found.skipped.describe() {
                eprintln!("{}: left out {skipped}", class.display());
            }
            let files = found.files;
            if files.is_empty() {
                eprintln!("warning: {}: no images, class {label:?} left out", class.display());
            }
            set.labels.extend(std::iter::repeat_n(label, files.len()));
            set.files.extend(files);
        }
        if set.files.is_empty() {
            bail!("{}: expected one sub-folder of images per class, found no images in sub-folders", dir.display());
        }
        Ok(set)
    }

    /// A CSV of `path,label` rows (a header row `path,label` is optional). Relative paths are
    /// relative to the CSV's folder, so the CSV can travel with its photos.
    pub fn from_csv(csv_path: &Path) -> Result<Labelled> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_path(csv_path)
            .with_context(|| format!("{}: cannot read", csv_path.display()))?;
        let base = csv_path.parent().unwrap_or(Path::new(""));
        let mut set = Labelled { files: Vec::new(), labels: Vec::new() };
        for (i, row) in reader.records().enumerate() {
            let row = row.with_context(|| format!("{}: line {}", csv_path.display(), i + 1))?;
            let (Some(path), Some(label)) = (row.get(0).map(str::trim), row.get(1).map(str::trim)) else {
                bail!("{}: line {}: expected path,label", csv_path.display(), i + 1);
            };
            if i == 0 && path.eq_ignore_ascii_case("path") && label.eq_ignore_ascii_case("label") {
                continue;
            }
            if path.is_empty() || label.is_empty() {
                bail!("{}: line {}: empty path or label", csv_path.display(), i + 1);
            }
            set.files.push(base.join(path));
            set.labels.push(label.to_string());
        }
        if set.files.is_empty() {
            bail!("{}: no path,label rows", csv_path.display());
        }
        Ok(set)
    }

    /// From whichever of the two a command was given.
    pub fn read(folder: Option<&Path>, csv: Option<&Path>) -> Result<Labelled> {
        match (folder, csv) {
            (Some(dir), _) => Labelled::from_folder(dir),
            (None, Some(csv)) => Labelled::from_csv(csv),
            (None, None) => bail!("give a folder of class sub-folders or a path,label CSV"),
        }
    }

    /// Embeds the photos, leaving out (and reporting) unreadable ones; returns the labels of the
    /// embedded photos with their unit rows.
    pub fn embed(&self, engine: &Engine, batch_size: usize) -> Result<(Vec<String>, Vec<f32>, usize)> {
        let e = embed_skipping_bad(engine, &self.files, batch_size, "embedding")?;
        let labels = e.kept.iter().map(|&i| self.labels[i].clone()).collect();
        Ok((labels, e.rows, e.failed))
    }
}
