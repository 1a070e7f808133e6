//! Finding the photos in what a user points at: files as given, folders walked.
//!
//! A walk visits every file once however links are laid out (each folder is recognised by its
//! canonical path, so `sub/up -> ..` ends instead of looping and a link to a folder does not
//! list its photos twice; a link to a file the walk finds anyway is left to the walk), leaves
//! out hidden files and macOS's `._*` resource forks, and counts what it left out so the user
//! can be told. It streams ([`walk_photos`]): nothing per photo is kept.

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
    let mut files = Vec::new();
    let skipped = walk_photos(paths, |p| files.push(p))?;
    Ok(Photos { files, skipped })
}

/// [`find_photos`] as a stream: each photo is handed to `each` as the walk finds it, and the
/// walk keeps no list of them, so a folder of a million photos costs the memory of its
/// folders' names. Files are told apart without a list: a file a link points to, or a file
/// named on the command line, that lies inside a folder being walked is the walk's (it is
/// found there, once); only files outside every walked folder are remembered, to take each of
/// them once.
///
/// # Errors
/// A path that does not exist, or a folder that cannot be listed.
pub fn walk_photos(paths: &[PathBuf], mut each: impl FnMut(PathBuf)) -> Result<Skipped> {
    let folders: Vec<PathBuf> = paths.iter().filter(|p| p.is_dir()).cloned().collect();
    let mut walk = PhotoWalk::new(&folders)?;
    for p in paths {
        walk.add(p, &mut each)?;
    }
    Ok(walk.skipped())
}

/// A walk fed one path at a time (paths read from a pipe, say): [`walk_photos`] without the
/// list. Give it the folders that will be walked up front, so files named before their folder
/// are known to be the folder's.
#[derive(Debug, Default)]
pub struct PhotoWalk {
    skipped: Skipped,
    /// The walked folders, canonical.
    roots: Vec<PathBuf>,
    /// Folders already walked (canonical), so links cannot loop or walk one twice.
    seen_dirs: HashSet<PathBuf>,
    /// Hashes of the canonical paths of files taken from outside the walked folders.
    seen_outside: HashSet<u64>,
}

impl PhotoWalk {
    /// A walk that will go through `folders` (among other paths).
    ///
    /// # Errors
    /// A folder that does not exist.
    pub fn new(folders: &[PathBuf]) -> Result<PhotoWalk> {
        let mut walk = PhotoWalk::default();
        for f in folders {
            walk.roots.push(std::fs::canonicalize(f).map_err(|source| EngineError::Io { path: f.clone(), source })?);
        }
        Ok(walk)
    }

    /// Walks `path`: a folder recursively, a file as it is; each photo found goes to `each`.
    ///
    /// # Errors
    /// The path does not exist, or a folder cannot be listed.
    pub fn add(&mut self, path: &Path, each: &mut impl FnMut(PathBuf)) -> Result<()> {
        let meta = std::fs::metadata(path).map_err(|source| EngineError::Io { path: path.to_owned(), source })?;
        if meta.is_dir() {
            let canonical =
                std::fs::canonicalize(path).map_err(|source| EngineError::Io { path: path.to_owned(), source })?;
            if !self.roots.contains(&canonical) {
                self.roots.push(canonical);
            }
            self.folder(path, each)
        } else {
            self.outside_file(path.to_owned(), each);
            Ok(())
        }
    }

    /// What the walk has left out so far.
    pub fn skipped(&self) -> Skipped {
        self.skipped
    }
}

impl PhotoWalk {
    /// Whether the walk itself takes `canonical` (a photo file): it lies under a walked
    /// folder, through no hidden folder, with an extension the walk takes.
    fn walk_takes(&self, canonical: &Path) -> bool {
        self.roots.iter().any(|root| {
            canonical.strip_prefix(root).is_ok_and(|rest| {
                !rest.components().any(|c| c.as_os_str().to_str().is_some_and(|n| n.starts_with('.')))
            })
        }) && canonical.extension().and_then(|e| e.to_str()).is_some_and(ImageFormat::decodes_extension)
    }

    /// A file named explicitly, reached through a link, or in a folder outside the walked
    /// ones: taken once, unless the walk takes it where it really is.
    fn outside_file(&mut self, path: PathBuf, each: &mut impl FnMut(PathBuf)) {
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self.walk_takes(&canonical) {
            self.skipped.revisited += 1;
            return;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&canonical, &mut hasher);
        if self.seen_outside.insert(std::hash::Hasher::finish(&hasher)) {
            each(path);
        } else {
            self.skipped.revisited += 1;
        }
    }

    /// Walks `dir`. A folder that no walked folder holds (reached through a link) has its files
    /// remembered, as [`PhotoWalk::outside_file`] does.
    fn folder(&mut self, dir: &Path, each: &mut impl FnMut(PathBuf)) -> Result<()> {
        let io = |source| EngineError::Io { path: dir.to_owned(), source };
        let key = std::fs::canonicalize(dir).map_err(io)?;
        if !self.seen_dirs.insert(key.clone()) {
            self.skipped.revisited += 1;
            return Ok(());
        }
        let outside = !self.roots.iter().any(|r| key.starts_with(r));
        let mut entries: Vec<(PathBuf, std::fs::FileType)> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok())
            .filter_map(|e| Some((e.path(), e.file_type().ok()?)))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (entry, kind) in entries {
            let link = kind.is_symlink();
            let is_dir = if link { entry.is_dir() } else { kind.is_dir() };
            if is_hidden(&entry) {
                self.skipped.hidden += 1;
            } else if is_dir {
                self.folder(&entry, each)?;
            } else {
                let format = entry.extension().and_then(|e| e.to_str()).and_then(ImageFormat::from_extension);
                match format {
                    Some(f) if f.is_decoded() && (link || outside) => self.outside_file(entry, each),
                    Some(f) if f.is_decoded() => each(entry),
                    Some(_) => self.skipped.undecoded += 1,
                    None => self.skipped.other += 1,
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
        // The link to a.jpg and a.jpg named again are the walk's a.jpg. HEIC is decoded only
        // with the `heif` feature.
        let heif = cfg!(feature = "heif");
        let mut want = vec![root.join("a.jpg")];
        want.extend(heif.then(|| root.join("d.heic")));
        want.push(root.join("sub/b.PNG"));
        assert_eq!(found.files, want);
        assert_eq!(found.skipped, Skipped { hidden: 2, revisited: 5, undecoded: usize::from(!heif), other: 1 });
        assert!(found.skipped.describe().unwrap().contains("2 hidden"));
    }

    #[test]
    #[cfg(unix)]
    fn links_out_of_the_walk_and_back_take_each_photo_once() {
        let tmp = tempfile::tempdir().unwrap();
        let (photos, elsewhere) = (tmp.path().join("photos"), tmp.path().join("elsewhere"));
        touch(&photos.join("sub/x.jpg"));
        touch(&elsewhere.join("y.jpg"));
        std::os::unix::fs::symlink(&elsewhere, photos.join("a-out")).unwrap();
        std::os::unix::fs::symlink(photos.join("sub"), elsewhere.join("back")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("y.jpg"), elsewhere.join("y2.jpg")).unwrap();
        let found = find_photos(std::slice::from_ref(&photos)).unwrap();
        let canonical: Vec<PathBuf> = found.files.iter().map(|f| std::fs::canonicalize(f).unwrap()).collect();
        let real = |p: PathBuf| std::fs::canonicalize(p).unwrap();
        assert_eq!(canonical, [real(photos.join("sub/x.jpg")), real(elsewhere.join("y.jpg"))]);
        assert_eq!(found.skipped.revisited, 2, "sub through its own name, y.jpg through y2.jpg");
        // Fed one path at a time, files named before their folder are the folder's.
        let mut walk = PhotoWalk::new(std::slice::from_ref(&photos)).unwrap();
        let mut files = Vec::new();
        walk.add(&photos.join("sub/x.jpg"), &mut |p| files.push(p)).unwrap();
        walk.add(&photos, &mut |p| files.push(p)).unwrap();
        assert_eq!(files.len(), 2);
        assert!(walk.add(Path::new("/no/such/photo.jpg"), &mut |_| ()).is_err());
    }

    #[test]
    fn a_missing_path_is_named() {
        let e = find_photos(&[PathBuf::from("/no/such/dir")]).unwrap_err().to_string();
        assert!(e.contains("/no/such/dir"), "{e}");
    }
}
