//! `.npy` files in and out: the exchange format of the Python tools Arbor sits beside.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

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
