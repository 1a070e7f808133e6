//! `.npy` files in and out: the exchange format of the Python tools Arbor sits beside.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use npyz::WriterBuilder;

/// A row-major 2-D f32 matrix.
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    /// The transpose (pybioclip stores one taxon per column).
    pub fn transposed(&self) -> Matrix {
        let mut data = vec![0f32; self.data.len()];
        for r in 0..self.rows {
            for c in 0..self.cols {
                data[c * self.rows + r] = self.data[r * self.cols + c];
            }
        }
        Matrix { rows: self.cols, cols: self.rows, data }
    }
}

impl arbor_index::VectorSource for Matrix {
    fn dim(&self) -> usize {
        self.cols
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn read_row(&self, id: usize, out: &mut [f32]) -> Result<(), arbor_index::IndexError> {
        out.copy_from_slice(&self.data[id * self.cols..(id + 1) * self.cols]);
        Ok(())
    }
}

/// Reads a 2-D float array (f32, or f64/f16 converted to f32). A 1-D array is one row.
pub fn read_matrix(path: &Path) -> Result<Matrix> {
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let npy =
        npyz::NpyFile::new(BufReader::new(file)).with_context(|| format!("{}: not a .npy file", path.display()))?;
    let shape = npy.shape().to_vec();
    let (rows, cols) = match shape[..] {
        [n] => (1, n as usize),
        [r, c] => (r as usize, c as usize),
        _ => bail!("{}: expected a 2-D array, found shape {shape:?}", path.display()),
    };
    if npy.order() == npyz::Order::Fortran {
        bail!("{}: Fortran-ordered arrays are not supported; save with numpy.ascontiguousarray", path.display());
    }
    let type_str = npy.dtype().descr();
    let data: Vec<f32> = match type_str.as_str() {
        "'<f4'" => npy.into_vec::<f32>()?,
        "'<f8'" => npy.into_vec::<f64>()?.into_iter().map(|x| x as f32).collect(),
        _ => bail!("{}: expected float32 data, found dtype {type_str}", path.display()),
    };
    if data.len() != rows * cols {
        bail!("{}: truncated: {} values for shape {shape:?}", path.display(), data.len());
    }
    Ok(Matrix { rows, cols, data })
}

/// Writes `data` as a `(rows, cols)` array, atomically.
pub fn write_npy<T: npyz::Serialize + npyz::AutoSerialize + Copy>(
    path: &Path,
    rows: usize,
    cols: usize,
    data: &[T],
) -> Result<()> {
    arbor_index::write_atomically(path, |w| {
        let mut writer =
            npyz::WriteOptions::new().default_dtype().shape(&[rows as u64, cols as u64]).writer(w).begin_nd()?;
        writer.extend(data.iter().copied())?;
        writer.finish()
    })?;
    Ok(())
}

/// A 2-D little-endian float32 `.npy` on disk, read in pieces with positioned reads: never
/// loaded whole or mapped, so an 867,455 × 768 tree of life (2.7 GB) costs no more memory than
/// the block being read.
pub struct NpyF32 {
    path: PathBuf,
    file: File,
    /// Rows and columns in memory order (a Fortran-ordered (r, c) array is read as (c, r)).
    rows: usize,
    cols: usize,
    data_offset: u64,
}

impl NpyF32 {
    /// Opens a `.npy` file and reads its header; `None` when it is not float32 (callers fall
    /// back to [`read_matrix`], which converts).
    pub fn open(path: &Path) -> Result<Option<NpyF32>> {
        let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        let bad = |problem: &str| anyhow::anyhow!("{}: not a .npy file: {problem}", path.display());
        let mut start = [0u8; 12];
        arbor_index::read_exact_at(&file, &mut start[..10], 0).map_err(|_| bad("shorter than a header"))?;
        if &start[..6] != b"\x93NUMPY" {
            return Err(bad("bad magic bytes"));
        }
        let (header_len, header_start) = match start[6] {
            1 => (u16::from_le_bytes([start[8], start[9]]) as usize, 10u64),
            2 | 3 => {
                arbor_index::read_exact_at(&file, &mut start[..12], 0).map_err(|_| bad("truncated header"))?;
                (u32::from_le_bytes([start[8], start[9], start[10], start[11]]) as usize, 12u64)
            }
            v => return Err(bad(&format!("format version {v}"))),
        };
        let mut header = vec![0u8; header_len];
        arbor_index::read_exact_at(&file, &mut header, header_start).map_err(|_| bad("truncated header"))?;
        let header = String::from_utf8_lossy(&header);
        let field = |key: &str| {
            let at = header.find(&format!("'{key}'"))? + key.len() + 2;
            Some(header[at..].trim_start().trim_start_matches(':').trim_start().to_owned())
        };
        let descr = field("descr").ok_or_else(|| bad("no descr"))?;
        if !descr.starts_with("'<f4'") {
            return Ok(None);
        }
        let fortran = field("fortran_order").ok_or_else(|| bad("no fortran_order"))?.starts_with("True");
        let shape = field("shape").ok_or_else(|| bad("no shape"))?;
        let dims: Vec<usize> = shape
            .trim_start_matches('(')
            .split(')')
            .next()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| bad(&format!("shape {shape}"))))
            .collect::<Result<_>>()?;
        let (rows, cols) = match dims[..] {
            [r, c] if fortran => (c, r),
            [r, c] => (r, c),
            [n] => (1, n),
            _ => bail!("{}: expected a 2-D array, found shape {dims:?}", path.display()),
        };
        let data_offset = header_start + header_len as u64;
        let size = file.metadata().with_context(|| path.display().to_string())?.len();
        let want = data_offset + (rows * cols * 4) as u64;
        if size < want {
            bail!("{}: truncated: {size} bytes, a {rows}×{cols} float32 array needs {want}", path.display());
        }
        Ok(Some(NpyF32 { path: path.to_owned(), file, rows, cols, data_offset }))
    }

    /// Rows (in memory order).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (in memory order).
    pub fn cols(&self) -> usize {
        self.cols
    }

    fn read(&self, out: &mut [f32], element: usize) -> Result<(), arbor_index::IndexError> {
        let offset = self.data_offset + 4 * element as u64;
        arbor_index::read_exact_at(&self.file, bytemuck::cast_slice_mut(out), offset)
            .map_err(|e| arbor_index::IndexError::Io { path: self.path.clone(), source: e })
    }

    /// Writes the transpose as raw row-major float32 to `temp` in blocks of columns, so a
    /// (D, N) pybioclip matrix becomes N rows readable one by one; returns them as a source.
    pub fn transpose_to(&self, temp: &Path) -> Result<NpyF32> {
        use std::io::Write;
        let (d, n) = (self.rows, self.cols);
        // About 32 MB of input per block.
        let block = ((32 << 20) / (4 * d.max(1))).clamp(1, n.max(1));
        let mut input = vec![0f32; d * block];
        let mut output = vec![0f32; d * block];
        let mut w =
            std::io::BufWriter::new(File::create(temp).with_context(|| format!("{}: cannot create", temp.display()))?);
        for c0 in (0..n).step_by(block) {
            let width = block.min(n - c0);
            for r in 0..d {
                self.read(&mut input[r * width..(r + 1) * width], r * n + c0)?;
            }
            for r in 0..d {
                for c in 0..width {
                    output[c * d + r] = input[r * width + c];
                }
            }
            w.write_all(bytemuck::cast_slice(&output[..width * d])).with_context(|| temp.display().to_string())?;
        }
        w.flush().with_context(|| temp.display().to_string())?;
        let file = File::open(temp).with_context(|| temp.display().to_string())?;
        // The same reader serves the transpose: raw rows are an array with no header.
        Ok(NpyF32 { path: temp.to_owned(), file, rows: n, cols: d, data_offset: 0 })
    }
}

impl arbor_index::VectorSource for NpyF32 {
    fn dim(&self) -> usize {
        self.cols
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn read_row(&self, id: usize, out: &mut [f32]) -> Result<(), arbor_index::IndexError> {
        self.read(out, id * self.cols)
    }
}

/// Rows of another source scaled to unit length (all-zero rows stay zero: taxa without an
/// embedding).
pub struct Normalized<'a>(pub &'a dyn arbor_index::VectorSource);

impl arbor_index::VectorSource for Normalized<'_> {
    fn dim(&self) -> usize {
        self.0.dim()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn read_row(&self, id: usize, out: &mut [f32]) -> Result<(), arbor_index::IndexError> {
        self.0.read_row(id, out)?;
        if out.iter().any(|&x| x != 0.0) {
            arbor_index::normalize(id, out)?;
        }
        Ok(())
    }
}
