//! A synthetic tree of life that a small CLIP model can actually learn from.
//!
//! [`World::generate`] draws a seven-rank taxonomy with Latin-like names and unrelated
//! common names, and gives every species heritable [`Traits`]: close relatives look
//! alike because they share what their ancestors fixed. [`World::write_dataset`] paints
//! photos of each species (individual and photographic variation on top of the traits)
//! and writes them as a dataset folder with `manifest.csv`. A fraction of the species
//! appears only in the test split, so zero-shot accuracy on species never seen in training
//! can be measured — the point of BioCLIP's taxonomic captions.
//!
//! Everything is a pure function of the seed.

mod appearance;
mod names;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use arbor_index::{Lineage, Rank, TaxonRecord};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

pub use appearance::{Pattern, Shape, Traits, paint};
pub use names::NameGenerator;

use crate::dataset::{MANIFEST, Split};
use crate::error::{Result, TrainError};

/// What to generate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SynthConfig {
    /// Number of species.
    pub species: usize,
    /// Photos per species.
    pub images_per_species: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Photo width and height in pixels.
    pub image_size: usize,
    /// Fraction of species held out of training entirely (test split only).
    pub unseen_fraction: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig { species: 60, images_per_species: 30, seed: 0, image_size: 64, unseen_fraction: 0.2 }
    }
}

/// One generated species.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpecies {
    /// Its taxon: lineage and common name.
    pub taxon: TaxonRecord,
    /// How it looks.
    pub traits: Traits,
    /// Whether it is held out of training (appears only in the test split).
    pub unseen: bool,
}

/// A generated tree of life.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    /// The settings it was generated from.
    pub config: SynthConfig,
    /// The species, in lineage order.
    pub species: Vec<SynthSpecies>,
}

/// What [`World::write_dataset`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SynthSummary {
    /// The dataset folder.
    pub dir: PathBuf,
    /// Species in the world.
    pub species: usize,
    /// Species that appear only in the test split.
    pub unseen_species: usize,
    /// Photos per split: train, val, test.
    pub images: [usize; 3],
}

impl World {
    /// Draws the taxonomy and the species' traits.
    ///
    /// # Errors
    /// Fewer than 4 species, no photos, a photo smaller than 16 pixels, or an unseen
    /// fraction outside `0..1`.
    pub fn generate(config: &SynthConfig) -> Result<World> {
        validate(config)?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        // paths[s][d]: the node of species s at depth d (kingdom = 0 … genus = 5), numbered
        // in depth-first order so every node's species are consecutive.
        let mut paths = Vec::with_capacity(config.species);
        // Branching per rank such that about 2.5 species share a genus on average.
        let branching = (config.species as f64 / 2.5).max(1.0).powf(1.0 / 6.0);
        let mut tree = Tree { branching, next: [0; 7], paths: &mut paths };
        tree.grow(config.species, 0, &mut [0; 7], &mut rng);
        let mut names = NameGenerator::default();
        let mut node_names: HashMap<(usize, usize), String> = HashMap::new();
        let mut node_traits: HashMap<(usize, usize), f32> = HashMap::new();
        let mut first_child: HashMap<(usize, usize), usize> = HashMap::new();
        let mut species = Vec::with_capacity(config.species);
        for path in &paths {
            // Which child of its parent each node is: siblings get distinct traits.
            let sibling: [usize; 7] = std::array::from_fn(|d| {
                let parent = if d == 0 { 0 } else { path[d - 1] };
                path[d] - *first_child.entry((d, parent)).or_insert(path[d])
            });
            let lineage: [String; 7] = std::array::from_fn(|d| {
                node_names.entry((d, path[d])).or_insert_with(|| names.scientific(Rank::ALL[d], &mut rng)).clone()
            });
            // A continuous trait fixed at depth `d`: drawn once per node, then inherited.
            let mut trait_of = |slot: usize, d: usize, draw: &dyn Fn(&mut ChaCha8Rng) -> f32| {
                *node_traits.entry((slot, path[d])).or_insert_with(|| draw(&mut rng))
            };
            let radial = path[0] % 2 == 0;
            let shapes = if radial { Shape::RADIAL } else { Shape::BILATERAL };
            let body_hue = trait_of(0, 2, &|r| (path[2] as f32 * 137.5 + r.gen_range(-10.0..10.0)).rem_euclid(360.0));
            let mark_hue =
                trait_of(1, 4, &|r| body_hue + 90.0 + (sibling[4] as f32 * 65.0 + r.gen_range(0.0..40.0)) % 180.0);
            let aspect = trait_of(2, 5, &|r| if radial { r.gen_range(1.0..1.25) } else { r.gen_range(1.5..2.1) });
            let frequency = trait_of(3, 5, &|r| 3.0 + 1.3 * (sibling[5] % 4) as f32 + r.gen_range(0.0..0.4));
            // Species of a genus take distinct combinations of angle, stroke and shade.
            let combo = (sibling[6] * 5 + path[5]) % 16;
            let traits = Traits {
                shape: shapes[(sibling[1] + path[0]) % 3],
                body_hue,
                pattern: Pattern::ALL[(sibling[3] + path[2]) % 4],
                mark_hue,
                aspect,
                frequency,
                angle: (combo % 4) as f32 * std::f32::consts::FRAC_PI_4,
                stroke: if (combo / 4).is_multiple_of(2) { 0.3 } else { 0.55 },
                shade: if combo / 8 == 0 { 0.88 } else { 0.55 },
            };
            let common_name = names.common(&mut rng);
            let taxon = TaxonRecord { lineage: Lineage(lineage), common_name };
            species.push(SynthSpecies { taxon, traits, unseen: false });
        }
        mark_unseen(&mut species, &paths, config.unseen_fraction, &mut rng);
        Ok(World { config: config.clone(), species })
    }

    /// Paints every photo and writes the dataset folder `out` (`manifest.csv`, `taxa.csv`,
    /// `world.json` and `images/`). The folder appears complete or not at all: it is written
    /// under a temporary name and renamed. `progress(done, total)` is called as photos are
    /// painted.
    ///
    /// # Errors
    /// `out` already exists, or a file cannot be written.
    pub fn write_dataset(&self, out: &Path, progress: impl Fn(usize, usize) + Sync) -> Result<SynthSummary> {
        if out.exists() {
            return Err(TrainError::Invalid(format!("{}: already exists; choose a new folder", out.display())));
        }
        let summary =
            arbor_index::publish_dir(out, arbor_index::Existing::Refuse, |staging| self.write_into(staging, progress))?;
        Ok(SynthSummary { dir: out.to_owned(), ..summary })
    }

    fn write_into(&self, dir: &Path, progress: impl Fn(usize, usize) + Sync) -> Result<SynthSummary> {
        let config = &self.config;
        let photos: Vec<(usize, usize, Split)> = self
            .species
            .iter()
            .enumerate()
            .flat_map(|(s, sp)| {
                splits(config, s, sp.unseen).into_iter().enumerate().map(move |(k, split)| (s, k, split))
            })
            .collect();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let rows: Vec<String> = photos
            .par_iter()
            .map(|&(s, k, split)| {
                let sp = &self.species[s];
                let folder = format!("images/{:04}-{}", s, sp.taxon.lineage.species().replace(' ', "_"));
                let relative = format!("{folder}/{k:03}.png");
                let mut rng = ChaCha8Rng::seed_from_u64(
                    config.seed ^ ((s as u64) << 32 | k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                let rgb = paint(&sp.traits, config.image_size, &mut rng);
                let path = dir.join(&relative);
                fs::create_dir_all(dir.join(&folder)).map_err(|e| TrainError::io(dir.join(&folder), e))?;
                write_png(&path, &rgb, config.image_size)?;
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, photos.len());
                Ok(manifest_row(&relative, split, &sp.taxon))
            })
            .collect::<Result<_>>()?;
        let manifest = dir.join(MANIFEST);
        let mut text = String::from("path,split,kingdom,phylum,class,order,family,genus,species_epithet,common_name\n");
        rows.iter().for_each(|r| text.push_str(r));
        fs::write(&manifest, text).map_err(|e| TrainError::io(&manifest, e))?;
        let taxa: Vec<TaxonRecord> = self.species.iter().map(|s| s.taxon.clone()).collect();
        let taxa_csv = dir.join("taxa.csv");
        let file = fs::File::create(&taxa_csv).map_err(|e| TrainError::io(&taxa_csv, e))?;
        let rows = taxa.iter().map(|t| (t.lineage.clone(), t.common_name.clone()));
        arbor_index::write_taxonomy_csv(std::io::BufWriter::new(file), rows)
            .map_err(|e| TrainError::io(&taxa_csv, std::io::Error::other(e)))?;
        let mut images = [0usize; 3];
        photos.iter().for_each(|(_, _, split)| images[*split as usize] += 1);
        let unseen_species = self.species.iter().filter(|s| s.unseen).count();
        let summary = SynthSummary { dir: dir.to_owned(), species: self.species.len(), unseen_species, images };
        let json = serde_json::json!({ "config": config, "species": summary.species, "unseen_species": unseen_species,
            "images": { "train": images[0], "val": images[1], "test": images[2] } });
        let world = dir.join("world.json");
        fs::write(&world, format!("{json:#}\n")).map_err(|e| TrainError::io(&world, e))?;
        Ok(summary)
    }
}

fn validate(config: &SynthConfig) -> Result<()> {
    let problem = if config.species < 4 {
        "at least 4 species are needed"
    } else if config.images_per_species < 3 {
        "at least 3 photos per species are needed (train, val and test)"
    } else if !(16..=1024).contains(&config.image_size) {
        "the image size must be 16 to 1024 pixels"
    } else if !(0.0..1.0).contains(&config.unseen_fraction) {
        "the unseen fraction must be at least 0 and below 1"
    } else {
        return Ok(());
    };
    Err(TrainError::Invalid(format!("synthetic world: {problem}")))
}

/// Builds the tree top-down, numbering nodes depth-first.
struct Tree<'a> {
    /// Mean children per node above the species.
    branching: f64,
    /// The next free node number at each depth.
    next: [usize; 7],
    /// The finished species' paths.
    paths: &'a mut Vec<[usize; 7]>,
}

impl Tree<'_> {
    /// Places `n` species in new nodes at `depth` (0 = kingdom) under the current path.
    /// Each node has ⌊b⌋ or ⌈b⌉ children (mean b), as long as every child keeps two or more
    /// species — so genera hold at least two (an unseen species has seen relatives), some
    /// taxa are monotypic as in real trees, and there are always two kingdoms.
    fn grow(&mut self, n: usize, depth: usize, path: &mut [usize; 7], rng: &mut impl Rng) {
        if depth == 6 {
            for _ in 0..n {
                path[6] = self.next[6];
                self.next[6] += 1;
                self.paths.push(*path);
            }
            return;
        }
        let whole = self.branching.floor();
        let mut children = whole as usize + usize::from(rng.gen_bool(self.branching - whole));
        if depth == 0 {
            children = children.max(2);
        }
        let children = children.min(n / 2).max(1);
        // Near-equal shares, the remainder spread over randomly chosen children.
        let mut shares = vec![n / children; children];
        let mut order: Vec<usize> = (0..children).collect();
        order.shuffle(rng);
        order.iter().take(n % children).for_each(|&c| shares[c] += 1);
        for share in shares {
            path[depth] = self.next[depth];
            self.next[depth] += 1;
            self.grow(share, depth + 1, path, rng);
        }
    }
}

/// Holds out about `fraction` of the species, at most one per genus and only from genera
/// that keep a seen species, so every unseen species has seen relatives.
fn mark_unseen(species: &mut [SynthSpecies], paths: &[[usize; 7]], fraction: f64, rng: &mut impl Rng) {
    let target = (species.len() as f64 * fraction).round() as usize;
    let mut genera: Vec<usize> = paths.iter().map(|p| p[5]).collect();
    genera.dedup();
    genera.shuffle(rng);
    let mut held = 0;
    for genus in genera {
        if held == target {
            break;
        }
        let members: Vec<usize> = (0..species.len()).filter(|&s| paths[s][5] == genus).collect();
        if members.len() >= 2 {
            species[members[members.len() - 1]].unseen = true;
            held += 1;
        }
    }
}

/// The split of each photo of species `s`: all test when unseen, else about 70 % train,
/// 10 % val and 20 % test (at least one val and one test photo).
fn splits(config: &SynthConfig, s: usize, unseen: bool) -> Vec<Split> {
    let n = config.images_per_species;
    if unseen {
        return vec![Split::Test; n];
    }
    let val = (n / 10).max(1);
    let test = (n / 5).max(1);
    let mut out = vec![Split::Train; n - val - test];
    out.extend(std::iter::repeat_n(Split::Val, val));
    out.extend(std::iter::repeat_n(Split::Test, test));
    out.shuffle(&mut ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(s as u64)));
    out
}

fn manifest_row(path: &str, split: Split, taxon: &TaxonRecord) -> String {
    let mut fields = vec![path.to_owned(), split.name().to_owned()];
    fields.extend(taxon.lineage.0.iter().cloned());
    fields.push(taxon.common_name.clone());
    // Generated names are letters and spaces only, so no field needs quoting.
    fields.join(",") + "\n"
}

fn write_png(path: &Path, rgb: &[u8], size: usize) -> Result<()> {
    let file = fs::File::create(path).map_err(|e| TrainError::io(path, e))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), size as u32, size as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let fail = |e: png::EncodingError| TrainError::io(path, std::io::Error::other(e));
    let mut writer = encoder.write_header().map_err(fail)?;
    writer.write_image_data(rgb).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(())
}
