//! What the CLI's end-to-end tests share: the fixture folder, one imported tiny model per test
//! binary, a runner for the `arbor` binary, and synthetic photos.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `shared/fixtures/openclip`, a sibling of the repository.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/openclip")
}

/// The fixture photos as paths relative to the fixture folder (`images/chelsea.png`, …), in the
/// order of its manifest, which is the order of every reference array.
pub fn images() -> Vec<String> {
    let manifest = fixtures().join("manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_reader(std::fs::File::open(&manifest).expect("fixture manifest")).expect("manifest JSON");
    let files: Vec<String> = manifest["images"]
        .as_array()
        .expect("manifest lists images")
        .iter()
        .map(|image| image["file"].as_str().expect("image file").to_owned())
        .collect();
    assert_eq!(files.len(), 8, "the fixture has eight photos");
    files
}

/// The result of one `arbor` run.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// The output as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", self.stdout, self.stderr))
    }

    /// Asserts success and returns itself, with stderr in the message when it failed.
    pub fn success(self) -> Run {
        assert!(self.ok(), "exit {:?}: {}", self.code, self.stderr);
        self
    }
}

/// Runs `arbor` with `args` in the fixture folder, with a label cache of its own.
pub fn arbor<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    arbor_in(&fixtures(), args)
}

/// Runs `arbor` with `args` in `dir`, with the test binary's own label cache.
pub fn arbor_in<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_arbor"))
        .args(args)
        .current_dir(dir)
        .env("ARBOR_CACHE_DIR", workspace().join("cache"))
        .output()
        .expect("run arbor");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A folder for the whole test binary, holding the imported model (and what else a test
/// binary shares between its tests).
///
/// A static is never dropped, so a `TempDir` here would leave one folder behind per run (they
/// filled the disk once). Instead: one folder per live test process under the target's temp
/// dir, and the folders of processes that are gone removed when a new one starts.
pub fn workspace() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("arbor-cli-tests");
        std::fs::create_dir_all(&root).expect("test folder root");
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let exe = std::env::current_exe().ok().and_then(|e| e.file_stem().map(|s| s.to_string_lossy().into_owned()));
        let dir = root.join(format!("{}-{}", exe.unwrap_or_else(|| "test".into()), std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test folder");
        dir
    })
}

/// The tiny GELU model, imported once per test binary; its directory as a string argument.
pub fn model() -> String {
    static MODEL: OnceLock<String> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let out = workspace().join("model");
            let f = fixtures().join("tiny_gelu");
            import_openclip(&f.join("model.safetensors"), &f.join("open_clip_config.json"), &out, &[]).success();
            out.to_str().expect("UTF-8 temp path").to_owned()
        })
        .clone()
}

/// A path as a command-line argument.
pub fn arg(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_owned()
}

/// Writes a 48x48 RGB PNG: a flat `colour` with a little deterministic texture that `variant`
/// changes, so photos of one "class" are near neighbours and classes are far apart.
pub fn write_png(path: &Path, colour: [u8; 3], variant: u8) {
    let (w, h) = (48u32, 48u32);
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            for (c, base) in colour.iter().enumerate() {
                let t = ((x * 7 + y * 13 + c as u32 * 5 + u32::from(variant) * 11) % 17) as u8;
                data.push(base.saturating_add(t).saturating_sub(8));
            }
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create folder");
    }
    let file = std::fs::File::create(path).expect("create png");
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header().and_then(|mut w| w.write_image_data(&data)).expect("write png");
}

/// Three colour classes of `per_class` photos each, as `root/<class>/<n>.png`.
pub const CLASSES: [(&str, [u8; 3]); 3] = [("red", [220, 30, 30]), ("green", [30, 200, 40]), ("blue", [20, 40, 230])];

pub fn write_classes(root: &Path, per_class: u8) {
    for (name, colour) in CLASSES {
        for v in 0..per_class {
            write_png(&root.join(name).join(format!("{v}.png")), colour, v);
        }
    }
}

/// `arbor import openclip` of `checkpoint` with `config` into `out`, with `extra` arguments.
pub fn import_openclip(checkpoint: &Path, config: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<String> =
        ["import", "openclip", "--checkpoint", &arg(checkpoint), "--config", &arg(config)].map(String::from).to_vec();
    args.extend(["--out".to_owned(), arg(out)]);
    args.extend(extra.iter().map(|s| s.to_string()));
    arbor(&args)
}

/// `arbor index import-pybioclip` of `embeddings` (.npy) and `names` (.json) into `out`.
pub fn import_pybioclip(embeddings: &Path, names: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<String> = ["index", "import-pybioclip", "--embeddings", &arg(embeddings), "--names", &arg(names)]
        .map(String::from)
        .to_vec();
    args.extend(["--out".to_owned(), arg(out)]);
    args.extend(extra.iter().map(|s| s.to_string()));
    arbor(&args)
}

/// Imports the fixture's pybioclip tree of life (`classify/txt_emb_species.{npy,json}`) into
/// `out`, with `extra` arguments (graph options).
pub fn import_fixture_tree(out: &Path, extra: &[&str]) {
    let f = fixtures().join("classify");
    import_pybioclip(&f.join("txt_emb_species.npy"), &f.join("txt_emb_species.json"), out, extra).success();
}

/// One property of `arbor model info --format json`.
pub fn model_info(model: &str, property: &str) -> serde_json::Value {
    let info = arbor(&["model", "info", model, "--format", "json"]).success().json();
    let row = info.as_array().expect("rows").iter().find(|r| r["property"] == property);
    row.unwrap_or_else(|| panic!("no {property} in {info}"))["value"].clone()
}

/// Writes a float32 `.npy` of `shape`.
pub fn write_npy(p: &Path, shape: &[u64], data: &[f32]) {
    use npyz::WriterBuilder;
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(std::fs::File::create(p).expect("create npy"))
        .begin_nd()
        .expect("npy header");
    w.extend(data.iter().copied()).expect("npy data");
    w.finish().expect("finish npy");
}

/// Our CSV against pybioclip's: same columns (ours adds `error`), same rows in
/// the same order, names exact, scores within `tolerance`.
pub fn assert_same_csv(ours: &str, path: &Path, tolerance: f64) {
    let expected = path.display();
    let mut want = csv::Reader::from_path(path).unwrap();
    let want_header = want.headers().unwrap().clone();
    let want_rows: Vec<csv::StringRecord> = want.records().map(|r| r.unwrap()).collect();
    let mut got = csv::Reader::from_reader(ours.as_bytes());
    let got_header = got.headers().unwrap().clone();
    let got_rows: Vec<csv::StringRecord> = got.records().map(|r| r.unwrap()).collect();
    assert_eq!(got_header.len(), want_header.len() + 1, "{expected}");
    assert_eq!(&got_header[got_header.len() - 1], "error");
    assert_eq!(got_rows.len(), want_rows.len(), "{expected}: row count");
    for (i, (g, w)) in got_rows.iter().zip(&want_rows).enumerate() {
        for (c, name) in want_header.iter().enumerate() {
            assert_eq!(&got_header[c], name, "{expected}");
            if name == "score" {
                let (a, b): (f64, f64) = (g[c].parse().unwrap(), w[c].parse().unwrap());
                assert!((a - b).abs() < tolerance, "{expected} row {i}: score {a} vs {b}");
            } else {
                assert_eq!(&g[c], &w[c], "{expected} row {i} column {name}");
            }
        }
        assert_eq!(&g[want_header.len()], "", "{expected} row {i} has no error");
    }
}

/// A JPEG with an EXIF block (camera, time, and a position south and east) spliced in after SOI.
pub fn jpeg_with_exif(jpeg: &[u8]) -> Vec<u8> {
    let mut t = b"MM\0*".to_vec();
    t.extend(8u32.to_be_bytes());
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        t.extend(tag.to_be_bytes());
        t.extend(kind.to_be_bytes());
        t.extend(count.to_be_bytes());
        t.extend(value);
    };
    t.extend(3u16.to_be_bytes());
    entry(&mut t, 0x0110, 2, 4, *b"Cam\0");
    entry(&mut t, 0x8769, 4, 1, 50u32.to_be_bytes());
    entry(&mut t, 0x8825, 4, 1, 90u32.to_be_bytes());
    t.extend(0u32.to_be_bytes());
    t.resize(50, 0);
    t.extend(1u16.to_be_bytes());
    entry(&mut t, 0x9003, 2, 20, 68u32.to_be_bytes());
    t.extend(0u32.to_be_bytes());
    t.extend(b"2025:01:02 03:04:05\0");
    t.resize(90, 0);
    t.extend(4u16.to_be_bytes());
    entry(&mut t, 1, 2, 2, *b"S\0\0\0");
    entry(&mut t, 2, 5, 3, 144u32.to_be_bytes());
    entry(&mut t, 3, 2, 2, *b"W\0\0\0");
    entry(&mut t, 4, 5, 3, 168u32.to_be_bytes());
    t.extend(0u32.to_be_bytes());
    for (n, d) in [(1u32, 1u32), (30, 1), (0, 1), (70, 1), (15, 1), (0, 1)] {
        t.extend(n.to_be_bytes());
        t.extend(d.to_be_bytes());
    }
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((2 + 6 + t.len()) as u16).to_be_bytes());
    out.extend(b"Exif\0\0");
    out.extend(t);
    out.extend(&jpeg[2..]);
    out
}

/// An 8-bit RGB PNG's size and pixels.
pub fn read_png_rgb(path: &Path) -> (usize, usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("open png")));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("png size")];
    let info = reader.next_frame(&mut buf).expect("png pixels");
    assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight), "an RGB8 PNG");
    buf.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, buf)
}

/// Writes 8-bit RGB pixels as a PNG.
pub fn write_png_rgb(path: &Path, width: usize, height: usize, pixels: &[u8]) {
    let file = std::fs::File::create(path).expect("create png");
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header().and_then(|mut w| w.write_image_data(pixels)).expect("write png");
}

/// The checkpoint file beside an md-json or Camtrap DP output while a run is under way.
pub fn sidecar(output: &Path) -> PathBuf {
    let mut name = output.file_name().expect("a file name").to_os_string();
    name.push(".partial.jsonl");
    output.with_file_name(name)
}
