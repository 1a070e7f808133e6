//! Reading open_clip state_dicts: `.safetensors`, and torch `.bin`/`.pt` zip pickles.
//!
//! Torch files are parsed by burn-store's pickle reader, which understands only the opcodes and
//! the few torch globals of a tensor state_dict: it never executes Python, so a hostile
//! checkpoint can at worst be rejected.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor, TensorData};
use burn_store::pytorch::PytorchReader;
use safetensors::Dtype;
use sha2::{Digest, Sha256};

use super::error::ModelError;
use super::params::{Init, ParamSource};

/// One tensor of a state_dict, converted to float32.
#[derive(Clone, Debug)]
struct Entry {
    shape: Vec<usize>,
    values: Vec<f32>,
}

/// The tensors of an open_clip checkpoint, by open_clip key name, converted to float32.
///
/// Build a model from it with [`super::Clip::from_state_dict`].
#[derive(Clone, Debug)]
pub struct StateDict {
    path: PathBuf,
    tensors: BTreeMap<String, Entry>,
}

impl StateDict {
    /// Reads a checkpoint, recognising the format by its first bytes: a zip archive or a
    /// legacy pickle is a torch file, anything else is read as safetensors.
    ///
    /// # Errors
    /// The file cannot be read, is truncated or malformed, or holds non-float tensors.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let mut magic = [0_u8; 4];
        let mut file = File::open(path).map_err(|e| ModelError::io(path, e))?;
        let read = file.read(&mut magic).map_err(|e| ModelError::io(path, e))?;
        match &magic[..read] {
            [b'P', b'K', 3, 4] | [0x80, ..] => Self::from_pytorch(path),
            _ => Self::from_safetensors(path),
        }
    }

    /// Reads a `.safetensors` file, converted to float32. Each tensor is read with positioned
    /// reads straight into its own buffer (float32 tensors with no conversion copy), so loading
    /// costs the weights once in memory: no mapped file pages count against the process.
    ///
    /// # Errors
    /// The file cannot be read, its header is invalid or truncated, or a tensor is not a float.
    pub fn from_safetensors(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| ModelError::io(path, e))?;
        let size = file.metadata().map_err(|e| ModelError::io(path, e))?.len();
        let bad = |problem: String| ModelError::weights(path, format!("not a valid safetensors file: {problem}"));
        let mut len = [0u8; 8];
        arbor_index::read_exact_at(&file, &mut len, 0).map_err(|_| bad("shorter than its header".into()))?;
        let header_len = u64::from_le_bytes(len);
        if header_len > size.saturating_sub(8) || header_len > 100 << 20 {
            return Err(bad(format!("header of {header_len} bytes in a file of {size}")));
        }
        let mut header = vec![0u8; header_len as usize];
        arbor_index::read_exact_at(&file, &mut header, 8).map_err(|e| ModelError::io(path, e))?;
        let header: BTreeMap<String, serde_json::Value> =
            serde_json::from_slice(&header).map_err(|e| bad(format!("header: {e}")))?;
        let data_start = 8 + header_len;
        let mut tensors = BTreeMap::new();
        for (name, info) in header {
            if name == "__metadata__" {
                continue;
            }
            let dtype = info["dtype"].as_str().unwrap_or_default().to_owned();
            let shape: Vec<usize> = info["shape"]
                .as_array()
                .map(|dims| dims.iter().filter_map(|d| d.as_u64().map(|d| d as usize)).collect())
                .ok_or_else(|| bad(format!("tensor `{name}` has no shape")))?;
            let offsets: Vec<u64> = info["data_offsets"]
                .as_array()
                .map(|o| o.iter().filter_map(serde_json::Value::as_u64).collect())
                .filter(|o: &Vec<u64>| o.len() == 2 && o[0] <= o[1])
                .ok_or_else(|| bad(format!("tensor `{name}` has no data offsets")))?;
            let (begin, end) = (data_start + offsets[0], data_start + offsets[1]);
            if end > size {
                return Err(bad(format!("tensor `{name}` ends at byte {end}, past the end of the file ({size})")));
            }
            let count: usize = shape.iter().product();
            let values = read_tensor(&file, &dtype, begin, end - begin, count)
                .map_err(|e| ModelError::io(path, e))?
                .ok_or_else(|| {
                    ModelError::weights(
                        path,
                        format!(
                            "tensor `{name}` has dtype {dtype} and {} bytes for shape {shape:?}; expected a float",
                            end - begin
                        ),
                    )
                })?;
            tensors.insert(name, Entry { shape, values });
        }
        Ok(Self { path: path.to_owned(), tensors })
    }

    /// Reads a torch `torch.save` file of a state_dict (zip or legacy format) without
    /// executing any pickle code.
    ///
    /// # Errors
    /// The file cannot be read, is not a torch state_dict, or holds non-float tensors.
    pub fn from_pytorch(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let reader = PytorchReader::new(path)
            .map_err(|e| ModelError::weights(path, format!("not a readable torch state_dict: {e}")))?;
        let mut tensors = BTreeMap::new();
        for (name, snapshot) in reader.into_tensors() {
            let data = snapshot.to_data().map_err(|e| ModelError::weights(path, format!("tensor `{name}`: {e:?}")))?;
            if !matches!(data.dtype, DType::F32 | DType::F64 | DType::F16 | DType::BF16) {
                return Err(ModelError::weights(
                    path,
                    format!("tensor `{name}` has dtype {:?}; expected a float", data.dtype),
                ));
            }
            let shape = data.shape.to_vec();
            let values = data
                .convert::<f32>()
                .into_vec::<f32>()
                .map_err(|e| ModelError::weights(path, format!("tensor `{name}`: {e:?}")))?;
            tensors.insert(name, Entry { shape, values });
        }
        Ok(Self { path: path.to_owned(), tensors })
    }

    /// The file the tensors were read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tensor names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The shape of tensor `name`, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|entry| entry.shape.as_slice())
    }

    /// The float32 values of tensor `name` in row-major order, if present.
    pub fn values(&self, name: &str) -> Option<&[f32]> {
        self.tensors.get(name).map(|entry| entry.values.as_slice())
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the state_dict has no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Removes a tensor (to test error paths, or to drop unused extras before loading).
    pub fn remove(&mut self, name: &str) -> bool {
        self.tensors.remove(name).is_some()
    }

    /// Hex SHA-256 of the canonical weights: for every tensor in name order, the name's length
    /// and bytes, the rank and dimensions (all as little-endian u64), then the float32 values
    /// little-endian. Equal for the same weights whatever file format or dtype they came in.
    pub fn identity_hash(&self) -> String {
        let mut hasher = Sha256::new();
        let u64_le = |n: usize| (n as u64).to_le_bytes();
        for (name, entry) in &self.tensors {
            hasher.update(u64_le(name.len()));
            hasher.update(name.as_bytes());
            hasher.update(u64_le(entry.shape.len()));
            for &dim in &entry.shape {
                hasher.update(u64_le(dim));
            }
            if cfg!(target_endian = "little") {
                hasher.update(bytemuck::cast_slice::<f32, u8>(&entry.values));
            } else {
                for value in &entry.values {
                    hasher.update(value.to_le_bytes());
                }
            }
        }
        hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// An empty state_dict whose tensors will be said to come from `path`.
    pub(crate) fn empty(path: PathBuf) -> Self {
        Self { path, tensors: BTreeMap::new() }
    }

    /// Adds (or replaces) a tensor.
    pub(crate) fn insert(&mut self, name: String, shape: Vec<usize>, values: Vec<f32>) {
        self.tensors.insert(name, Entry { shape, values });
    }

    /// Writes the tensors to `path` as float32 safetensors, with their names and shapes.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        self.write_safetensors(path.as_ref(), BTreeMap::new())
    }

    /// Writes every tensor as float32 safetensors with the same names and shapes, plus
    /// `metadata` in the header.
    pub(crate) fn write_safetensors(&self, path: &Path, metadata: BTreeMap<String, String>) -> Result<(), ModelError> {
        let views = self
            .tensors
            .iter()
            .map(|(name, entry)| {
                let bytes = bytemuck::cast_slice::<f32, u8>(&entry.values);
                safetensors::tensor::TensorView::new(Dtype::F32, entry.shape.clone(), bytes)
                    .map(|view| (name.as_str(), view))
                    .map_err(|e| ModelError::weights(path, format!("tensor `{name}`: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        safetensors::serialize_to_file(views, Some(metadata.into_iter().collect()), path)
            .map_err(|e| ModelError::weights(path, format!("cannot write safetensors: {e}")))
    }

    /// A [`ParamSource`] that moves tensors out of this state_dict onto `device`.
    pub(crate) fn into_source<B: Backend>(self, device: &B::Device) -> StateDictSource<'_, B> {
        StateDictSource { dict: self, device, missing: Vec::new() }
    }
}

/// The `cols × rows` transpose of a row-major `rows × cols` matrix. Each task fills a band of
/// output rows, reading the input a cache line at a time (a plain column walk over ViT-B/16's
/// weights doubled the model's load time).
pub(crate) fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    use rayon::prelude::*;
    const BAND: usize = 16;
    let mut out = vec![0.0; values.len()];
    out.par_chunks_mut(BAND * rows).enumerate().for_each(|(band, chunk)| {
        let c0 = band * BAND;
        let width = chunk.len() / rows;
        for (r, row) in values.chunks_exact(cols).enumerate() {
            for (i, &value) in row[c0..c0 + width].iter().enumerate() {
                chunk[i * rows + r] = value;
            }
        }
    });
    out
}

/// Reads `count` values of safetensors dtype `dtype` from `len` bytes at `offset` as float32;
/// `None` for non-float dtypes or a byte count that does not fit.
fn read_tensor(file: &File, dtype: &str, offset: u64, len: u64, count: usize) -> std::io::Result<Option<Vec<f32>>> {
    let width = match dtype {
        "F32" => 4,
        "F64" => 8,
        "F16" | "BF16" => 2,
        _ => return Ok(None),
    };
    if len != (count * width) as u64 {
        return Ok(None);
    }
    if dtype == "F32" {
        // Straight into the final buffer.
        let mut values = vec![0f32; count];
        arbor_index::read_exact_at(file, bytemuck::cast_slice_mut(&mut values), offset)?;
        if cfg!(target_endian = "big") {
            values.iter_mut().for_each(|v| *v = f32::from_bits(u32::from_le(v.to_bits())));
        }
        return Ok(Some(values));
    }
    let mut bytes = vec![0u8; len as usize];
    arbor_index::read_exact_at(file, &mut bytes, offset)?;
    let dtype = match dtype {
        "F64" => Dtype::F64,
        "F16" => Dtype::F16,
        _ => Dtype::BF16,
    };
    Ok(safetensors_values(dtype, &bytes))
}

/// Float32 values of a safetensors tensor, or `None` for non-float dtypes.
fn safetensors_values(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        // pod_collect_to_vec copies, so the map's alignment does not matter.
        Dtype::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(bytes),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        Dtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        _ => return None,
    })
}

/// Hands out the tensors of a [`StateDict`] by name, checking shapes, and remembers which
/// names were missing so that all of them can be reported at once.
pub(crate) struct StateDictSource<'a, B: Backend> {
    dict: StateDict,
    device: &'a B::Device,
    missing: Vec<String>,
}

impl<B: Backend> StateDictSource<'_, B> {
    /// Fails if any tensor was missing or any tensor of the file was not used.
    pub(crate) fn finish(self) -> Result<(), ModelError> {
        if !self.missing.is_empty() {
            return Err(ModelError::MissingTensors { path: self.dict.path, names: self.missing });
        }
        if !self.dict.tensors.is_empty() {
            return Err(ModelError::UnexpectedTensors {
                path: self.dict.path,
                names: self.dict.tensors.into_keys().collect(),
            });
        }
        Ok(())
    }
}

impl<B: Backend> StateDictSource<'_, B> {
    /// Moves tensor `name` out of the state_dict after checking its shape; `None` (and the name
    /// noted) if the file lacks it.
    fn take<const D: usize>(&mut self, name: &str, shape: [usize; D]) -> Result<Option<Vec<f32>>, ModelError> {
        let Some(entry) = self.dict.tensors.remove(name) else {
            self.missing.push(name.to_owned());
            return Ok(None);
        };
        // torch stores scalars such as `logit_scale` with shape []; burn has no 0-d tensors.
        let scalar_as_vector = entry.shape.is_empty() && shape == [1; D] && D == 1;
        if entry.shape != shape && !scalar_as_vector {
            return Err(ModelError::TensorShape {
                path: self.dict.path.clone(),
                name: name.to_owned(),
                expected: shape.to_vec(),
                found: entry.shape,
            });
        }
        Ok(Some(entry.values))
    }
}

impl<B: Backend> ParamSource<B> for StateDictSource<'_, B> {
    fn device(&self) -> &B::Device {
        self.device
    }

    fn tensor<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        _init: Init,
    ) -> Result<Tensor<B, D>, ModelError> {
        // A missing tensor gets a placeholder so construction can go on and collect every
        // missing name; the model is discarded by `finish`.
        Ok(match self.take(name, shape)? {
            Some(values) => Tensor::from_data(TensorData::new(values, shape), self.device),
            None => Tensor::zeros(shape, self.device),
        })
    }

    fn matrix_in_out(
        &mut self,
        name: &str,
        [d_out, d_in]: [usize; 2],
        _init: Init,
    ) -> Result<Tensor<B, 2>, ModelError> {
        // Transposed here, in tiles, rather than by the backend's strided copy.
        Ok(match self.take(name, [d_out, d_in])? {
            Some(values) => {
                Tensor::from_data(TensorData::new(transpose(&values, d_out, d_in), [d_in, d_out]), self.device)
            }
            None => Tensor::zeros([d_in, d_out], self.device),
        })
    }
}
