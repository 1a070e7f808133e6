//! Turning what a user typed into inputs: photo paths (folders walked by the engine, `-` for
//! stdin), class lists, text lines; and the one exit-status convention.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Exit status when some inputs could not be processed (the others were). Every command that
/// takes many photos uses it: 0 all done, 3 some inputs failed, 1 error, 2 usage.
pub const EXIT_SOME_FAILED: u8 = 3;

/// The photos the arguments name: files as given, folders walked (each file once, hidden
/// files left out, links followed without loops), `-` replaced by the paths on stdin. What the
/// walk left out is said on stderr.
pub fn photo_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut args = Vec::with_capacity(paths.len());
    for p in paths {
        if p.as_os_str() == "-" {
            for path in stdin_paths() {
                args.push(path?);
            }
        } else {
            args.push(p.clone());
        }
    }
    let photos = arbor_engine::find_photos(&args)?;
    if let Some(skipped) = photos.skipped.describe() {
        eprintln!("left out: {skipped}");
    }
    if photos.files.is_empty() {
        bail!("no photos found in {}", args.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    }
    Ok(photos.files)
}

/// The photos the arguments name, as a stream: a thread walks the folders (and reads `-`'s
/// paths from stdin) while photos are classified, through a bounded queue, so nothing per
/// photo is held however many there are. Paths on stdin that do not exist are passed on (the
/// classifier reports them like any unreadable photo).
pub struct PhotoStream {
    first: Option<PathBuf>,
    rx: Option<std::sync::mpsc::Receiver<PathBuf>>,
    /// How many photos the walk has found so far.
    pub found: std::sync::Arc<std::sync::atomic::AtomicU64>,
    walker: std::thread::JoinHandle<Result<arbor_engine::Skipped>>,
}

/// How many found photos may wait for the classifier.
const QUEUE: usize = 4096;

impl PhotoStream {
    /// Starts the walk; fails at once if an argument does not exist or nothing is found.
    pub fn start(paths: &[PathBuf]) -> Result<PhotoStream> {
        for p in paths.iter().filter(|p| p.as_os_str() != "-") {
            std::fs::metadata(p).with_context(|| format!("{}: cannot read", p.display()))?;
        }
        let folders: Vec<PathBuf> = paths.iter().filter(|p| p.is_dir()).cloned().collect();
        let args = paths.to_vec();
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let found = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = found.clone();
        let walker = std::thread::spawn(move || -> Result<arbor_engine::Skipped> {
            let mut walk = arbor_engine::PhotoWalk::new(&folders)?;
            let mut send = |p: PathBuf| {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // A closed queue means the classifier stopped; the walk then ends too.
                let _ = tx.send(p);
            };
            for p in &args {
                if p.as_os_str() != "-" {
                    walk.add(p, &mut send)?;
                    continue;
                }
                for path in stdin_paths() {
                    let path = path?;
                    if !path.exists() {
                        send(path);
                    } else {
                        walk.add(&path, &mut send)?;
                    }
                }
            }
            Ok(walk.skipped())
        });
        let first = rx.recv().ok();
        let stream = PhotoStream { first, rx: Some(rx), found, walker };
        if stream.first.is_none() {
            let skipped = stream.finish()?;
            let left_out = skipped.describe().map_or(String::new(), |s| format!(" ({s})"));
            bail!("no photos found in {}{left_out}", paths_list(paths));
        }
        Ok(stream)
    }

    /// How many photos the walk has found so far.
    pub fn found(&self) -> u64 {
        self.found.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The photos, as the walk finds them.
    pub fn paths(&mut self) -> impl Iterator<Item = PathBuf> + Send + use<> {
        self.first.take().into_iter().chain(self.rx.take().into_iter().flatten())
    }

    /// Waits for the walk's end and says on stderr what it left out.
    ///
    /// # Errors
    /// A folder could not be listed.
    pub fn finish(self) -> Result<arbor_engine::Skipped> {
        drop(self.rx);
        let skipped = self.walker.join().map_err(|_| anyhow::anyhow!("the folder walk failed"))??;
        if let Some(s) = skipped.describe() {
            eprintln!("left out: {s}");
        }
        Ok(skipped)
    }
}

/// The paths on stdin, one per line, trimmed; blank lines skipped.
fn stdin_paths() -> impl Iterator<Item = Result<PathBuf>> {
    std::io::stdin().lines().filter_map(|line| match line {
        Ok(l) if l.trim().is_empty() => None,
        Ok(l) => Some(Ok(PathBuf::from(l.trim()))),
        Err(e) => Some(Err(anyhow::Error::from(e).context("reading paths from stdin"))),
    })
}

fn paths_list(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// `--cls`: "a,b,c", or a file with one class per line. A value that looks like a file name
/// (a path separator, or a text/CSV extension, and no comma) must be an existing file, so a
/// typo is an error and not a class named after it.
pub fn class_list(value: &str) -> Result<Vec<String>> {
    let path = Path::new(value);
    if path.is_file() {
        return read_lines(path);
    }
    let looks_like_file = !value.contains(',')
        && (value.contains(std::path::MAIN_SEPARATOR)
            || path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["txt", "csv", "tsv", "list", "lst"].iter().any(|x| x.eq_ignore_ascii_case(e))));
    if looks_like_file {
        bail!("--cls {value}: no such file (give classes as \"a,b,c\" or an existing file with one per line)");
    }
    Ok(value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
}

/// Non-empty, trimmed lines of a text file (labels, one per line).
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_lists_from_text_or_an_existing_file() {
        assert_eq!(class_list("cat, dog").unwrap(), ["cat", "dog"]);
        let e = class_list("lables.txt").unwrap_err().to_string();
        assert!(e.contains("no such file"), "{e}");
        assert!(class_list("dir/labels").is_err());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("labels.txt");
        std::fs::write(&f, "a\n\n b \n").unwrap();
        assert_eq!(class_list(f.to_str().unwrap()).unwrap(), ["a", "b"]);
    }
}
