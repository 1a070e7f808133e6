//! How commands print results (an aligned table, CSV, JSON) and where they write files: every
//! output is checked before the work starts, so a long run never ends in "cannot create".

use std::path::Path;

use anyhow::{Result, bail};
use clap::ValueEnum;

/// Output format of commands that print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON document.
    Json,
}

/// One cell of a result row: text, or a number that JSON writes as a number.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A score or probability, printed as f32 prints (the shortest form that reads back).
    Float(f32),
    /// A measurement in f64.
    Double(f64),
    /// Nothing known: empty in tables and CSV, `null` in JSON.
    Null,
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Text(s) => f.write_str(s),
            Cell::Int(n) => write!(f, "{n}"),
            Cell::Float(x) => write!(f, "{x}"),
            Cell::Double(x) => write!(f, "{x}"),
            Cell::Null => Ok(()),
        }
    }
}

impl Cell {
    /// The cell as a JSON value: numbers stay numbers (non-finite ones become null).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Text(s) => s.clone().into(),
            Cell::Int(n) => (*n).into(),
            // Through f32's own shortest form, so 0.1f32 is written 0.1, not 0.10000000149011612.
            Cell::Float(x) if x.is_finite() => serde_json::from_str(&x.to_string()).unwrap_or(serde_json::Value::Null),
            Cell::Float(_) => serde_json::Value::Null,
            Cell::Double(x) => serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into),
            Cell::Null => serde_json::Value::Null,
        }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<f32> for Cell {
    fn from(x: f32) -> Self {
        Cell::Float(x)
    }
}

impl From<f64> for Cell {
    fn from(x: f64) -> Self {
        Cell::Double(x)
    }
}

macro_rules! int_cells {
    ($($t:ty),*) => {$(
        impl From<$t> for Cell {
            fn from(n: $t) -> Self {
                Cell::Int(n as i64)
            }
        }
    )*};
}
int_cells!(usize, u32, u64, i32, i64);

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Rows as an aligned text table (columns padded to their widest cell).
pub fn table(header: &[&str], rows: &[Vec<Cell>]) -> String {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(Cell::to_string).collect()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// Prints rows in the chosen format (JSON: a list of objects keyed by header, numbers as
/// numbers where the cells are numbers).
pub fn print_rows<C: Clone + Into<Cell>>(format: Format, header: &[&str], rows: &[Vec<C>]) -> Result<()> {
    let rows: Vec<Vec<Cell>> = rows.iter().map(|r| r.iter().cloned().map(Into::into).collect()).collect();
    match format {
        Format::Table => print!("{}", table(header, &rows)),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout().lock());
            w.write_record(header)?;
            for row in &rows {
                w.write_record(row.iter().map(Cell::to_string))?;
            }
            w.flush()?;
        }
        Format::Json => {
            let objects: Vec<serde_json::Map<String, serde_json::Value>> = rows
                .iter()
                .map(|row| header.iter().zip(row).map(|(h, c)| (h.to_string(), c.to_json())).collect())
                .collect();
            print_json(&objects)?;
        }
    }
    Ok(())
}

/// Checks that a file can be written at `path` before any work is done: its folder exists and
/// it is not itself a folder.
pub fn check_output_file(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("{}: is a folder; give a file name to write", path.display());
    }
    check_parent(path)
}

/// Checks that a folder can be created or replaced at `path`: its parent exists and it is not a
/// file.
pub fn check_output_dir(path: &Path) -> Result<()> {
    if path.is_file() {
        bail!("{}: is a file; give a folder name to write", path.display());
    }
    check_parent(path)
}

fn check_parent(path: &Path) -> Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        bail!("{}: the folder {} does not exist (create it first)", path.display(), parent.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers_are_numbers_and_tables_align() {
        assert_eq!(Cell::from(0.25f32).to_json(), serde_json::json!(0.25));
        assert_eq!(Cell::from(0.1f32).to_json().to_string(), "0.1");
        assert_eq!(Cell::from(3usize).to_json(), serde_json::json!(3));
        assert_eq!(Cell::from(f32::NAN).to_json(), serde_json::Value::Null);
        assert_eq!(Cell::from("x").to_json(), serde_json::json!("x"));
        let t = table(&["a", "bb"], &[vec!["long cell".into(), 1usize.into()], vec!["x".into(), 22usize.into()]]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0].find("bb"), lines[1].find('1'));
        assert_eq!(lines[1].find('1'), lines[2].find("22"));
    }

    #[test]
    fn outputs_are_checked_before_work() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_output_file(&dir.path().join("e.npy")).is_ok());
        let e = check_output_file(&dir.path().join("missing/e.npy")).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        assert!(check_output_file(dir.path()).unwrap_err().to_string().contains("is a folder"));
        assert!(check_output_dir(&dir.path().join("new")).is_ok());
    }
}
