//! Arbor model directories: an open_clip checkpoint converted once into files that load fast.
//!
//! A directory holds `arbor-model.json` (a [`ModelManifest`]: the parsed config, the image
//! pipeline and the weights' identity hash) and `model.safetensors` (float32, open_clip's key
//! names, so the file stays usable by open_clip itself).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use arbor_index::{Existing, publish_dir};

use super::Cpu;
use super::clip::{Clip, tensor_names};
use super::config::ClipConfig;
use super::error::ModelError;
use super::state_dict::StateDict;

/// The image preprocessing a model directory asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageTransform {
    /// pybioclip's pipeline: squash to the model's size with antialiased bilinear on the float
    /// image, then normalise. What BioCLIP users get today, hence the default.
    Squash,
    /// open_clip's evaluation pipeline described by [`ClipConfig::preprocess`].
    OpenClip,
}

/// The contents of `arbor-model.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelManifest {
    /// Version of this manifest's layout.
    pub format_version: u32,
    /// The model configuration.
    pub config: ClipConfig,
    /// The image preprocessing to use with this model.
    pub image_transform: ImageTransform,
    /// [`StateDict::identity_hash`] of the weights.
    pub weights_sha256: String,
    /// File name of the checkpoint the directory was imported from.
    pub source: String,
    /// Size of `model.safetensors` in bytes, checked on every open (a full re-hash is
    /// `arbor model verify`). Absent in directories written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_bytes: Option<u64>,
}

/// An Arbor model directory, opened (its manifest read and checked).
#[derive(Clone, Debug)]
pub struct ModelDir {
    path: PathBuf,
    manifest: ModelManifest,
}

impl ModelDir {
    /// Name of the manifest file.
    pub const MANIFEST: &'static str = "arbor-model.json";
    /// Name of the weights file.
    pub const WEIGHTS: &'static str = "model.safetensors";
    /// The manifest layout this version writes and reads.
    pub const FORMAT_VERSION: u32 = 1;

    /// Opens the model directory at `path` and reads its manifest.
    ///
    /// # Errors
    /// The manifest is missing, not valid JSON, of another format version, or its config is
    /// invalid.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let manifest_path = path.join(Self::MANIFEST);
        let text = fs::read_to_string(&manifest_path).map_err(|e| ModelError::io(&manifest_path, e))?;
        let manifest: ModelManifest = serde_json::from_str(&text)
            .map_err(|e| ModelError::Json { path: manifest_path.clone(), message: e.to_string() })?;
        if manifest.format_version != Self::FORMAT_VERSION {
            return Err(ModelError::Json {
                path: manifest_path,
                message: format!(
                    "format_version {} is not supported (expected {})",
                    manifest.format_version,
                    Self::FORMAT_VERSION
                ),
            });
        }
        manifest.config.validate()?;
        Ok(Self { path: path.to_owned(), manifest })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The manifest.
    pub fn manifest(&self) -> &ModelManifest {
        &self.manifest
    }

    /// The model configuration.
    pub fn config(&self) -> &ClipConfig {
        &self.manifest.config
    }

    /// Path of the weights file.
    pub fn weights_path(&self) -> PathBuf {
        self.path.join(Self::WEIGHTS)
    }

    /// Loads the model onto `device`.
    ///
    /// # Errors
    /// The weights file is missing, truncated, or does not match the config.
    pub fn load<B: Backend>(&self, device: &B::Device) -> Result<Clip<B>, ModelError> {
        self.check_size()?;
        Clip::from_weights_file(self.config(), self.weights_path(), device)
    }

    /// A weights file of another size than recorded was truncated or replaced.
    fn check_size(&self) -> Result<(), ModelError> {
        let Some(expected) = self.manifest.weights_bytes else { return Ok(()) };
        let path = self.weights_path();
        let found = fs::metadata(&path).map_err(|e| ModelError::io(&path, e))?.len();
        if found != expected {
            return Err(ModelError::weights(
                path,
                format!("{found} bytes, but {} records {expected}: the file was truncated or replaced", Self::MANIFEST),
            ));
        }
        Ok(())
    }

    /// Re-hashes the weights file and compares it with the manifest (slow: reads every byte).
    ///
    /// # Errors
    /// The weights cannot be read, or their hash differs from the manifest's.
    pub fn verify(&self) -> Result<(), ModelError> {
        let found = StateDict::from_safetensors(self.weights_path())?.identity_hash();
        if found == self.manifest.weights_sha256 {
            Ok(())
        } else {
            Err(ModelError::weights(
                self.weights_path(),
                format!("weights hash {found} differs from {} in {}", self.manifest.weights_sha256, Self::MANIFEST),
            ))
        }
    }
}

/// Converts an open_clip checkpoint (`.safetensors` or torch `.bin`) and its
/// `open_clip_config.json` into an Arbor model directory at `out_dir`, and opens it.
///
/// The directory is assembled under a temporary name beside `out_dir` and renamed into place
/// once complete, so `out_dir` either does not exist or is whole. The weights are checked by
/// loading them back before the rename.
///
/// # Errors
/// `out_dir` already exists, the config or checkpoint is invalid (missing or wrong-shaped
/// tensors; tensors open_clip's CLIP does not have are left out, see [`import_openclip_as`]),
/// or a file cannot be written.
pub fn import_openclip(
    checkpoint: impl AsRef<Path>,
    config_json: impl AsRef<Path>,
    out_dir: impl AsRef<Path>,
) -> Result<ModelDir, ModelError> {
    Ok(import_openclip_as(checkpoint, config_json, out_dir, ImageTransform::Squash)?.dir)
}

/// What [`import_openclip_as`] made.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The new model directory.
    pub dir: ModelDir,
    /// Tensors of the checkpoint that open_clip's CLIP does not have (BioCLIP 2's training fork
    /// adds `visual.continual_proj`), left out of the model.
    pub dropped: Vec<String>,
}

/// [`import_openclip`] with the image pipeline the model gets by default: pybioclip's squash
/// for the tree-of-life models (BioCLIP, BioCLIP 2, BioCLIP 2.5, as pybioclip preprocesses them
/// whatever their config says), open_clip's transform for others.
///
/// # Errors
/// As [`import_openclip`]; a tensor the model needs is missing or of the wrong shape.
pub fn import_openclip_as(
    checkpoint: impl AsRef<Path>,
    config_json: impl AsRef<Path>,
    out_dir: impl AsRef<Path>,
    transform: ImageTransform,
) -> Result<Imported, ModelError> {
    let (checkpoint, out_dir) = (checkpoint.as_ref(), out_dir.as_ref());
    if out_dir.exists() {
        return Err(ModelError::AlreadyExists(out_dir.to_owned()));
    }
    let config = ClipConfig::from_open_clip_json(config_json)?;
    let mut state = StateDict::open(checkpoint)?;
    let wanted: std::collections::HashSet<String> = tensor_names(&config).into_iter().collect();
    let dropped: Vec<String> = state.names().filter(|n| !wanted.contains(*n)).map(str::to_owned).collect();
    for name in &dropped {
        state.remove(name);
    }
    let source = checkpoint.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    // The checkpoint's tensors are written out and dropped before the new file is loaded back
    // to check it, so an import holds the weights in memory once, not twice.
    let mut manifest = manifest(&state, config, &source);
    manifest.image_transform = transform;
    publish_dir(out_dir, Existing::Refuse, move |staging| {
        let manifest = write_weights(staging, &state, &manifest)?;
        drop(state);
        check_and_finish(staging, &manifest)
    })?;
    let dir = ModelDir::open(out_dir)?;
    Ok(Imported { dir, dropped })
}

impl ModelDir {
    /// Writes `state` with `config` as a new model directory at `out_dir` (atomically, checked
    /// by loading it back, as [`import_openclip`] describes) and opens it. `source` names where
    /// the weights came from. Use [`Clip::to_state_dict`] to save a trained model.
    ///
    /// # Errors
    /// `out_dir` already exists, the weights do not fit `config`, or a file cannot be written.
    pub fn write(
        state: &StateDict,
        config: ClipConfig,
        source: &str,
        out_dir: impl AsRef<Path>,
    ) -> Result<Self, ModelError> {
        Self::write_as(state, config, source, ImageTransform::Squash, out_dir)
    }

    /// [`ModelDir::write`] with the image pipeline the model gets by default.
    ///
    /// # Errors
    /// As [`ModelDir::write`].
    pub fn write_as(
        state: &StateDict,
        config: ClipConfig,
        source: &str,
        transform: ImageTransform,
        out_dir: impl AsRef<Path>,
    ) -> Result<Self, ModelError> {
        let out_dir = out_dir.as_ref();
        if out_dir.exists() {
            return Err(ModelError::AlreadyExists(out_dir.to_owned()));
        }
        let mut manifest = manifest(state, config, source);
        manifest.image_transform = transform;
        publish_dir(out_dir, Existing::Refuse, |staging| write_dir(staging, state, &manifest))?;
        Self::open(out_dir)
    }
}

impl ModelDir {
    /// Writes `state` as the model of an existing directory `dir` (a training run's output
    /// folder, which also holds its logs and checkpoints), replacing any model there. Both
    /// files are staged and checked first, then renamed into place, the manifest last: a
    /// reader sees the old model or the new one, and a crash between the two renames leaves a
    /// hash mismatch that [`ModelDir::verify`] reports.
    ///
    /// # Errors
    /// `dir` is not a directory, the weights do not fit `config`, or a file cannot be written.
    pub fn write_into(
        state: &StateDict,
        config: ClipConfig,
        source: &str,
        dir: impl AsRef<Path>,
    ) -> Result<Self, ModelError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(ModelError::io(dir, std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory")));
        }
        // The two files are published into a folder that holds the run's logs too, so they are
        // assembled (and checked) in a staging folder of their own, then moved in one by one.
        let manifest = manifest(state, config, source);
        let staging = dir.join(".model");
        publish_dir(&staging, Existing::Replace, |staging| write_dir(staging, state, &manifest))?;
        let moved = [Self::WEIGHTS, Self::MANIFEST].into_iter().try_for_each(|name| {
            fs::rename(staging.join(name), dir.join(name)).map_err(|e| ModelError::io(dir.join(name), e))
        });
        let _ = fs::remove_dir_all(&staging);
        moved?;
        Self::open(dir)
    }
}

/// The manifest of `state` with `config` (its size is filled in once the weights are written).
fn manifest(state: &StateDict, config: ClipConfig, source: &str) -> ModelManifest {
    ModelManifest {
        format_version: ModelDir::FORMAT_VERSION,
        config,
        image_transform: ImageTransform::Squash,
        weights_sha256: state.identity_hash(),
        source: source.to_owned(),
        weights_bytes: None,
    }
}

fn write_dir(dir: &Path, state: &StateDict, manifest: &ModelManifest) -> Result<(), ModelError> {
    let manifest = write_weights(dir, state, manifest)?;
    check_and_finish(dir, &manifest)
}

/// Writes the weights into `dir` and returns the manifest with their size filled in.
fn write_weights(dir: &Path, state: &StateDict, manifest: &ModelManifest) -> Result<ModelManifest, ModelError> {
    let mut manifest = manifest.clone();
    let weights = dir.join(ModelDir::WEIGHTS);
    let metadata = BTreeMap::from([
        ("format".to_owned(), "pt".to_owned()),
        ("arbor_weights_sha256".to_owned(), manifest.weights_sha256.clone()),
    ]);
    state.write_safetensors(&weights, metadata)?;
    sync(&weights)?;
    manifest.weights_bytes = Some(fs::metadata(&weights).map_err(|e| ModelError::io(&weights, e))?.len());
    Ok(manifest)
}

/// Proves the written weights build the config, then writes the manifest.
fn check_and_finish(dir: &Path, manifest: &ModelManifest) -> Result<(), ModelError> {
    let weights = dir.join(ModelDir::WEIGHTS);
    Clip::<Cpu>::from_weights_file(&manifest.config, &weights, &Default::default())?;
    let manifest_path = dir.join(ModelDir::MANIFEST);
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| ModelError::Json { path: manifest_path.clone(), message: e.to_string() })?;
    fs::write(&manifest_path, json).map_err(|e| ModelError::io(&manifest_path, e))?;
    sync(&manifest_path)
}

fn sync(path: &Path) -> Result<(), ModelError> {
    File::open(path).and_then(|file| file.sync_all()).map_err(|e| ModelError::io(path, e))
}
