//! Files: publishing them atomically — everything Arbor writes is assembled beside its final
//! name and renamed into place, so a reader (or a crash) sees the old version or the new one,
//! never half of either — and reading pieces of large ones with positioned reads (no memory
//! map, so file pages never count against the process). The one place this is done; every
//! crate calls it.

use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::error::{IndexError, Result};

/// Writes a file atomically: `body` writes a hidden sibling, which is synced and renamed over
/// `path`. On failure nothing is left behind and `path` is untouched.
///
/// # Errors
/// The sibling cannot be created or written, or the rename fails (the error names `path`).
pub fn write_atomically(path: &Path, body: impl FnOnce(&mut BufWriter<fs::File>) -> std::io::Result<()>) -> Result<()> {
    let tmp = sibling(path, "tmp");
    let result = (|| {
        let mut w = BufWriter::new(fs::File::create(&tmp)?);
        body(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        IndexError::io(path, e)
    })
}

/// Fills `buf` from `file` at byte `offset` (a positioned read: no shared cursor, no mapping).
///
/// # Errors
/// The file ends before `buf` is full, or the read fails.
#[cfg(unix)]
pub fn read_exact_at(file: &fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

/// Fills `buf` from `file` at byte `offset`.
///
/// # Errors
/// The file ends before `buf` is full, or the read fails.
#[cfg(not(unix))]
pub fn read_exact_at(mut file: &fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

/// Whether [`publish_dir`] may replace a folder already at its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// An existing folder is an error (`AlreadyExists`).
    Refuse,
    /// An existing folder is swapped out once the new one is complete.
    Replace,
}

/// Publishes a folder atomically: `fill` writes into a fresh hidden sibling of `dir`, which is
/// then renamed to `dir`. With [`Existing::Replace`] an old `dir` is moved aside first and
/// removed only once the new one is in place (two renames: a non-empty folder cannot be
/// renamed over). If `fill` fails, the sibling is removed and `dir` is untouched.
///
/// # Errors
/// What `fill` returns, or an I/O error naming the folder (as `E` via `From<IndexError>`).
pub fn publish_dir<T, E: From<IndexError>>(
    dir: &Path,
    existing: Existing,
    fill: impl FnOnce(&Path) -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    if existing == Existing::Refuse && dir.exists() {
        return Err(IndexError::io(dir, std::io::Error::from(std::io::ErrorKind::AlreadyExists)).into());
    }
    let staging = sibling(dir, "partial");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| IndexError::io(&staging, e))?;
    }
    fs::create_dir(&staging).map_err(|e| IndexError::io(&staging, e))?;
    let value = match fill(&staging) {
        Ok(value) => value,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    swap_in(&staging, dir).map_err(|e| {
        let _ = fs::remove_dir_all(&staging);
        E::from(e)
    })?;
    Ok(value)
}

fn swap_in(staging: &Path, dir: &Path) -> Result<()> {
    let old = sibling(dir, "old");
    let had_old = dir.exists();
    if had_old {
        fs::rename(dir, &old).map_err(|e| IndexError::io(dir, e))?;
    }
    if let Err(e) = fs::rename(staging, dir) {
        if had_old {
            let _ = fs::rename(&old, dir);
        }
        return Err(IndexError::io(dir, e));
    }
    if had_old {
        let _ = fs::remove_dir_all(&old);
    }
    Ok(())
}

/// A hidden sibling of `path` unique to this process, on the same file system so a rename is
/// atomic: `.name.what-PID`.
fn sibling(path: &Path, what: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_appear_whole_or_not_at_all() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        publish_dir::<_, IndexError>(&dir, Existing::Refuse, |d| {
            fs::write(d.join("a"), "1").map_err(|e| IndexError::io(d, e))
        })
        .unwrap();
        assert_eq!(fs::read_to_string(dir.join("a")).unwrap(), "1");
        let again = publish_dir::<(), IndexError>(&dir, Existing::Refuse, |_| Ok(()));
        assert!(again.unwrap_err().to_string().contains("out"));
        let failed: Result<()> = publish_dir(&dir, Existing::Replace, |d| {
            fs::write(d.join("a"), "2").unwrap();
            Err(IndexError::BadRequest("stop".into()))
        });
        assert!(failed.is_err());
        assert_eq!(fs::read_to_string(dir.join("a")).unwrap(), "1", "a failed fill leaves the old folder");
        publish_dir::<_, IndexError>(&dir, Existing::Replace, |d| {
            fs::write(d.join("b"), "3").map_err(|e| IndexError::io(d, e))
        })
        .unwrap();
        assert!(!dir.join("a").exists() && dir.join("b").exists());
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["out"], "no staging folders left behind");
    }
}
