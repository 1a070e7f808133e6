//! `classify --resume`: carrying on a run into the output file a killed run left behind.
//!
//! Rows are flushed per photo, so a kill leaves complete photos, then perhaps part of the last
//! one. Resuming cuts the file back to the start of its last photo's rows (a torn line
//! included), takes every photo before it as done, and appends the rest: the finished file holds
//! exactly the rows an uninterrupted run writes, none twice, none missing.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// What an output file already holds.
#[derive(Debug, Default)]
pub struct Done {
    /// Hashes of the photos (as written in `file_name`) whose rows are complete: 8 bytes a
    /// photo, however long its path, so a million done photos stay small.
    files: HashSet<u64>,
    /// Whether the file holds anything (a CSV header included), so no header is written again.
    pub started: bool,
}

impl Done {
    /// Whether `file` (a `file_name`) is done.
    pub fn has(&self, file: &str) -> bool {
        self.files.contains(&key(file))
    }

    /// How many photos are done.
    pub fn len(&self) -> usize {
        self.files.len()
    }
}

fn key(file: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    file.hash(&mut h);
    h.finish()
}

/// Reads `path` (CSV with `header` as its first line, or JSON lines), cuts it back to its last
/// complete photo and says which photos are done. A missing or empty file is a fresh start.
/// The file is read a line at a time: a million photos' rows are not held in memory.
pub fn prepare(path: &Path, csv_header: Option<&str>) -> Result<Done> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Done::default()),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
    };
    let mut reader = std::io::BufReader::new(file);
    let mut done = Done::default();
    // The photo whose rows are being read: its name and where its first row starts.
    let mut current: Option<(String, usize)> = None;
    let (mut at, mut complete_end, mut line) = (0usize, 0usize, Vec::new());
    let mut first = true;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).with_context(|| format!("{}: cannot read", path.display()))?;
        // End of file, or a torn last line (no newline): it is dropped.
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        let row = &line[..n - 1];
        let start = at;
        at += n;
        complete_end = at;
        if std::mem::take(&mut first)
            && let Some(header) = csv_header
        {
            if row != header.as_bytes() {
                bail!(
                    "{}: its columns are not this run's ({header}); resume with the same options, or choose another --output",
                    path.display()
                );
            }
            continue;
        }
        let name = file_name(row, csv_header.is_some())
            .with_context(|| format!("{}: not a classify output", path.display()))?;
        match &current {
            Some((photo, _)) if *photo == name => {}
            _ => {
                if let Some((photo, _)) = current.replace((name, start)) {
                    done.files.insert(key(&photo));
                }
            }
        }
    }
    // The last photo's rows may be incomplete: cut them, it is classified again. With no rows,
    // every complete line (the CSV header) is kept and a torn one dropped.
    let keep = current.map_or(complete_end, |(_, start)| start);
    truncate(path, keep)?;
    done.started = keep > 0;
    Ok(done)
}

fn truncate(path: &Path, len: usize) -> Result<()> {
    let file = OpenOptions::new().write(true).open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    file.set_len(len as u64).with_context(|| format!("{}: cannot truncate", path.display()))?;
    file.sync_all().with_context(|| path.display().to_string())
}

/// The `file_name` of one row.
fn file_name(line: &[u8], csv: bool) -> Result<String> {
    if csv {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(line);
        let record = reader.records().next().context("an empty row")??;
        return Ok(record.get(0).context("a row without columns")?.to_owned());
    }
    let value: serde_json::Value = serde_json::from_slice(line)?;
    Ok(value.get("file_name").and_then(|v| v.as_str()).context("a line without file_name")?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_file_is_cut_back_to_its_last_complete_photo() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        std::fs::write(&p, "file_name,score,error\na.jpg,0.5,\na.jpg,0.4,\nb.jpg,0.9,\nb.jpg,0.").unwrap();
        let done = prepare(&p, Some("file_name,score,error")).unwrap();
        assert!(done.has("a.jpg") && !done.has("b.jpg") && done.len() == 1);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "file_name,score,error\na.jpg,0.5,\na.jpg,0.4,\n");
        let e = prepare(&p, Some("file_name,rank,error")).err().unwrap().to_string();
        assert!(e.contains("columns"), "{e}");
        let j = dir.path().join("out.jsonl");
        std::fs::write(&j, "{\"file_name\":\"a\"}\n{\"file_name\":\"b\"}\n{\"file_na").unwrap();
        let done = prepare(&j, None).unwrap();
        assert!(done.has("a") && done.len() == 1);
        assert!(done.started);
        assert!(!prepare(&dir.path().join("missing"), None).unwrap().started);
    }
}
