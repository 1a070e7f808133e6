//! Damaged files: truncation at every section boundary, byte flips, wrong versions.

mod common;

use arbor_index::layout::Header;
use arbor_index::{HEADER_LEN, IndexBuilder, IndexError, Scope, SearchMode, Section, TaxonIndex};
use rand::{Rng, SeedableRng};

fn built() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let w = common::world(400, 16, 11);
    let dir = tempfile::tempdir().unwrap();
    let path = IndexBuilder::new(w.dim).build(&w.taxa, &w.vectors, dir.path()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (dir, path, bytes)
}

fn header(bytes: &[u8]) -> Header {
    bytemuck::pod_read_unaligned(&bytes[..HEADER_LEN])
}

/// Exercises a (possibly damaged) index the way a user would; must not panic.
fn use_index(index: &TaxonIndex) {
    let q = vec![0.25f32; index.dim()];
    let _ = index.search(&q, 5, SearchMode::Approximate { ef: 32 }, Scope::All);
    let _ = index.search(&q, 5, SearchMode::Exact, Scope::All);
    let _ = index.taxa(None);
    let _ = index.find("Genus7");
}

#[test]
fn truncation_at_every_section_boundary_is_a_clear_error() {
    let (dir, path, bytes) = built();
    let h = header(&bytes);
    let mut cuts = vec![0usize, 4, HEADER_LEN - 1, HEADER_LEN];
    for s in Section::ALL {
        let e = h.sections[s as usize];
        cuts.push(e.offset as usize);
        if e.len > 0 {
            cuts.push((e.offset + e.len) as usize - 1);
        }
    }
    // An empty last section may start at the end of the file: cutting there cuts nothing.
    cuts.retain(|&cut| cut < bytes.len());
    let cut_path = dir.path().join("cut.arbor");
    for cut in cuts {
        std::fs::write(&cut_path, &bytes[..cut]).unwrap();
        let err = match TaxonIndex::open(&cut_path) {
            Err(e) => e,
            Ok(index) => {
                use_index(&index);
                index.verify().expect_err(&format!("cut at {cut} went unnoticed"))
            }
        };
        let msg = err.to_string();
        assert!(matches!(err, IndexError::Corrupt { .. }), "cut at {cut}: {msg}");
        assert!(msg.contains("cut.arbor"), "error must name the file: {msg}");
    }
    // The original is untouched and fine.
    TaxonIndex::open(&path).unwrap().verify().unwrap();
}

#[test]
fn every_random_byte_flip_is_caught_by_open_or_verify() {
    let (dir, _path, bytes) = built();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    let flip_path = dir.path().join("flip.arbor");
    for _ in 0..150 {
        let mut damaged = bytes.clone();
        let at = rng.gen_range(0..damaged.len());
        damaged[at] ^= 1 << rng.gen_range(0..8);
        std::fs::write(&flip_path, &damaged).unwrap();
        match TaxonIndex::open(&flip_path) {
            Err(e) => assert!(e.to_string().contains("flip.arbor"), "{e}"),
            Ok(index) => {
                use_index(&index);
                let e = index.verify().expect_err(&format!("flip at byte {at} went unnoticed"));
                assert!(e.to_string().contains("flip.arbor"), "{e}");
            }
        }
    }
}

#[test]
fn other_versions_and_foreign_files_are_named_as_such() {
    let (dir, _path, bytes) = built();
    let mut h = header(&bytes);
    h.version = 99;
    h.header_crc32 = h.compute_crc();
    let mut newer = bytes.clone();
    newer[..HEADER_LEN].copy_from_slice(bytemuck::bytes_of(&h));
    let p = dir.path().join("v99.arbor");
    std::fs::write(&p, &newer).unwrap();
    let e = TaxonIndex::open(&p).err().expect("version 99 must not open");
    assert!(matches!(e, IndexError::Version { found: 99, .. }), "{e}");
    assert!(e.to_string().contains("v99.arbor") && e.to_string().contains("version 99"));

    let p = dir.path().join("photo.jpg");
    std::fs::write(&p, b"\xff\xd8\xff\xe0 not an index").unwrap();
    assert!(TaxonIndex::open(&p).err().unwrap().to_string().contains("not an Arbor index"));
    let missing = TaxonIndex::open(dir.path().join("nope")).err().unwrap();
    assert!(matches!(missing, IndexError::Io { .. }));
}
