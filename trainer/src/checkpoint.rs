//! Resumable training state in one file, written atomically.
//!
//! Layout: the magic `ARBOR-CKPT2\n`, then four length-prefixed (u64 LE) parts — the
//! [`RunState`] as JSON, the model, and the two optimisers' states (burn records, bincode) —
//! then a CRC-32 of everything before it. The CRC is checked before any part is decoded, so a
//! torn or damaged file is a clear error rather than a decoder panic.

use std::io::Write;
use std::path::{Path, PathBuf};

use arbor_engine::Clip;
use burn::module::Module;
use burn::optim::Optimizer;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;

use crate::error::{Result, TrainError};
use crate::run::{Optim, RunState};

const MAGIC: &[u8] = b"ARBOR-CKPT2\n";
/// Version 1 held attention's `in_proj_weight` in torch's `[3·width, width]` layout; its model
/// record does not fit today's modules, so it is refused by name rather than misread.
const MAGIC_V1: &[u8] = b"ARBOR-CKPT\n";

/// The checkpoint file of a run folder.
pub fn path(out: &Path) -> PathBuf {
    out.join("checkpoint.bin")
}

type Bytes = BinBytesRecorder<FullPrecisionSettings>;

/// Saves the run state, model and optimisers to `file`.
pub fn save<B: AutodiffBackend>(file: &Path, state: &RunState, model: &Clip<B>, optims: &[Optim<B>; 2]) -> Result<()> {
    let fail = |message: String| TrainError::Checkpoint { path: file.to_owned(), message };
    let json = serde_json::to_vec(state).map_err(|e| fail(e.to_string()))?;
    let recorder = Bytes::default();
    let model_bytes =
        Recorder::<B>::record(&recorder, model.clone().into_record(), ()).map_err(|e| fail(e.to_string()))?;
    let mut parts = vec![json, model_bytes];
    for optim in optims {
        parts.push(Recorder::<B>::record(&recorder, optim.to_record(), ()).map_err(|e| fail(e.to_string()))?);
    }
    let mut body = MAGIC.to_vec();
    for part in &parts {
        body.extend_from_slice(&(part.len() as u64).to_le_bytes());
        body.extend_from_slice(part);
    }
    let crc = crc32fast::hash(&body);
    arbor_index::write_atomically(file, |w| {
        w.write_all(&body)?;
        w.write_all(&crc.to_le_bytes())
    })?;
    Ok(())
}

/// Reads only the run state of a checkpoint (to learn its settings before building anything).
pub fn read_state(file: &Path) -> Result<RunState> {
    let parts = read_parts(file)?;
    serde_json::from_slice(&parts[0])
        .map_err(|e| TrainError::Checkpoint { path: file.to_owned(), message: format!("run state: {e}") })
}

/// Loads a checkpoint's tensors into a freshly built `model` and optimisers of the same shape
/// (its run state is [`read_state`]'s).
pub fn load<B: AutodiffBackend>(
    file: &Path,
    model: Clip<B>,
    optims: [Optim<B>; 2],
    device: &B::Device,
) -> Result<(Clip<B>, [Optim<B>; 2])> {
    // Part 0 is the run state.
    let mut parts = read_parts(file)?.into_iter().skip(1);
    let fail = |message: String| TrainError::Checkpoint { path: file.to_owned(), message };
    let recorder = Bytes::default();
    let record =
        Recorder::<B>::load(&recorder, parts.next().unwrap_or_default(), device).map_err(|e| fail(e.to_string()))?;
    let model = model.load_record(record);
    let [decay, no_decay] = optims;
    let mut load_optim = |optim: Optim<B>| -> Result<Optim<B>> {
        let record = Recorder::<B>::load(&recorder, parts.next().unwrap_or_default(), device)
            .map_err(|e| fail(e.to_string()))?;
        Ok(optim.load_record(record))
    };
    let optims = [load_optim(decay)?, load_optim(no_decay)?];
    Ok((model, optims))
}

fn read_parts(file: &Path) -> Result<Vec<Vec<u8>>> {
    let fail = |message: &str| TrainError::Checkpoint { path: file.to_owned(), message: message.to_owned() };
    let bytes = std::fs::read(file).map_err(|e| TrainError::io(file, e))?;
    if bytes.starts_with(MAGIC_V1) {
        return Err(fail(
            "written by an older Arbor (checkpoint format 1); start the run again or finish it with that version",
        ));
    }
    if bytes.len() < MAGIC.len() + 4 || !bytes.starts_with(MAGIC) {
        return Err(fail("not an Arbor checkpoint"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err(fail("checksum mismatch: the file is truncated or damaged"));
    }
    let mut rest = &body[MAGIC.len()..];
    let mut parts = Vec::with_capacity(4);
    while !rest.is_empty() {
        let (len, tail) = rest.split_at_checked(8).ok_or_else(|| fail("truncated part header"))?;
        let len = u64::from_le_bytes(len.try_into().map_err(|_| fail("bad part header"))?) as usize;
        let (part, tail) = tail.split_at_checked(len).ok_or_else(|| fail("truncated part"))?;
        parts.push(part.to_vec());
        rest = tail;
    }
    if parts.len() != 4 {
        return Err(fail("expected 4 parts (state, model, 2 optimisers)"));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-formed file of four parts, as `save` frames them.
    fn framed(parts: &[&[u8]]) -> Vec<u8> {
        let mut body = MAGIC.to_vec();
        for part in parts {
            body.extend_from_slice(&(part.len() as u64).to_le_bytes());
            body.extend_from_slice(part);
        }
        let crc = crc32fast::hash(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        body
    }

    fn error_of(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("checkpoint.bin");
        std::fs::write(&file, bytes).unwrap();
        let error = read_parts(&file).expect_err("a bad checkpoint must be refused").to_string();
        assert!(error.contains("checkpoint.bin"), "the error names the file: {error}");
        error
    }

    #[test]
    fn damaged_old_and_foreign_files_are_refused_by_name() {
        let good = framed(&[b"{}", b"model", b"decay", b"no decay"]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("checkpoint.bin");
        std::fs::write(&file, &good).unwrap();
        assert_eq!(read_parts(&file).unwrap()[2], b"decay");

        let mut flipped = good.clone();
        flipped[MAGIC.len() + 10] ^= 1;
        assert!(error_of(&flipped).contains("checksum mismatch"));
        assert!(error_of(&good[..good.len() - 7]).contains("checksum mismatch"));
        assert!(error_of(b"PK\x03\x04 a zip file").contains("not an Arbor checkpoint"));
        let mut old = MAGIC_V1.to_vec();
        old.extend_from_slice(&good[MAGIC.len()..]);
        assert!(error_of(&old).contains("older Arbor"));
        assert!(error_of(&framed(&[b"{}", b"model"])).contains("expected 4 parts"));
    }
}
