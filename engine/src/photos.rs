//! Finding the photos in what a user points at: files as given, folders walked.
//!
//! A walk visits every file once however links are laid out (each folder and file is
//! recognised by its canonical path, so `sub/up -> ..` ends instead of looping and a link to a
//! folder does not list its photos twice), leaves out hidden files and macOS's `._*`
//! resource forks, and counts what it left out so the user can be told.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::error::{EngineError, Result};
use crate::preprocess::ImageFormat;

/// The photos found, in order: the arguments' order, folders in sorted order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Photos {
    /// The photo files, each once.
    pub files: Vec<PathBuf>,
    /// What the walk left out.
    pub skipped: Skipped,
}

/// Counts of what a walk left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Hidden files and folders (`.name`, macOS `._name`).
    pub hidden: usize,
    /// Files or folders reached a second time through a link (loops included).
    pub revisited: usize,
    /// Photos in formats this build does not decode.
    pub undecoded: usize,
    /// Files that are not photos.
    pub other: usize,
}

impl Skipped {
    /// A sentence for people ("2 hidden, 1 reached twice through links"), or `None`.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            (self.hidden, "hidden"),
            (self.revisited, "reached again through a link"),
            (self.undecoded, "in a photo format this build does not decode"),
            (self.other, "not photos"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Files as given, folders walked recursively. A path that does not exist is an error; a file
/// named explicitly is taken whatever its name (the decoder sniffs its content).
///
/// ```
/// let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/openclip");
/// let photos = arbor_engine::find_photos(&[format!("{fixtures}/images").into()])?;
/// assert_eq!(photos.files.len(), 8);
/// assert!(photos.files.windows(2).all(|w| w[0] < w[1]), "sorted");
/// # Ok::<(), arbor_engine::EngineError>(())
/// ```
///
/// # Errors
/// A path that does not exist, or a folder that cannot be listed.
pub fn find_photos(paths: &[PathBuf]) -> Result<Photos> {
    let mut walk = Walk::default();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| EngineError::Io { path: p.clone(), source })?;
        if meta.is_dir() {
            walk.folder(p)?;
        } else {
            walk.file(p.clone());
        }
    }
    Ok(walk.photos)
}

#[derive(Default)]
struct Walk {
    photos: Photos,
    seen_files: HashSet<PathBuf>,
    seen_dirs: HashSet<PathBuf>,
}

impl Walk {
    fn file(&mut self, path: PathBuf) {
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self.seen_files.insert(key) {
            self.photos.files.push(path);
        } else {
            self.photos.skipped.revisited += 1;
        }
    }

    fn folder(&mut self, dir: &Path) -> Result<()> {
        let io = |source| EngineError::Io { path: dir.to_owned(), source };
        let key = std::fs::canonicalize(dir).map_err(io)?;
        if !self.seen_dirs.insert(key) {
            self.photos.skipped.revisited += 1;
            return Ok(());
        }
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(dir).map_err(io)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for entry in entries {
            if is_hidden(&entry) {
                self.photos.skipped.hidden += 1;
            } else if entry.is_dir() {
                self.folder(&entry)?;
            } else {
                let format = entry.extension().and_then(|e| e.to_str()).and_then(ImageFormat::from_extension);
                match format {
                    Some(f) if f.is_decoded() => self.file(entry),
                    Some(_) => self.photos.skipped.undecoded += 1,
                    None => self.photos.skipped.other += 1,
                }
            }
        }
        Ok(())
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    #[cfg(unix)]
    fn links_loops_and_hidden_files_are_walked_once_or_not_at_all() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("photos");
        touch(&root.join("a.jpg"));
        touch(&root.join("sub/b.PNG"));
        touch(&root.join("sub/._b.png"));
        touch(&root.join(".hidden/c.jpg"));
        touch(&root.join("notes.txt"));
        touch(&root.join("d.heic"));
        std::os::unix::fs::symlink("..", root.join("sub/up")).unwrap();
        std::os::unix::fs::symlink(".", root.join("self")).unwrap();
        std::os::unix::fs::symlink("sub", root.join("sub-link")).unwrap();
        std::os::unix::fs::symlink("a.jpg", root.join("a-link.jpg")).unwrap();
        let found = find_photos(&[root.clone(), root.join("a.jpg")]).unwrap();
        // The link sorts first, so a.jpg is the second visit of that file. HEIC is decoded only
        // with the `heif` feature.
        let heif = cfg!(feature = "heif");
        let mut want = vec![root.join("a-link.jpg")];
        want.extend(heif.then(|| root.join("d.heic")));
        want.push(root.join("sub/b.PNG"));
        assert_eq!(found.files, want);
        assert_eq!(found.skipped, Skipped { hidden: 2, revisited: 5, undecoded: usize::from(!heif), other: 1 });
        assert!(found.skipped.describe().unwrap().contains("2 hidden"));
    }

    #[test]
    fn a_missing_path_is_named() {
        let e = find_photos(&[PathBuf::from("/no/such/dir")]).unwrap_err().to_string();
        assert!(e.contains("/no/such/dir"), "{e}");
    }
}
