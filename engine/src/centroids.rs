//! Few-shot classification by SimpleShot, the protocol of BioCLIP's few-shot evaluation.
//!
//! Each class is the mean of its support images' embeddings. The mean of *all* support
//! embeddings is subtracted from the centroids and from every query, both are L2-normalised,
//! and a query takes the nearest centroid. Centring matters: CLIP embeddings share a large
//! common component, and without removing it the nearest centroid is dominated by it.

use std::fs;
use std::io::Write;
use std::path::Path;

use arbor_index::{IndexBuilder, IndexKind, TaxonId, TaxonIndex, TaxonRecord};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::embedder::normalize_row;
use crate::error::{EngineError, Result};

/// The small JSON file beside the centroid index: what the index format has no room for.
pub const CENTROIDS_META_FILE: &str = "centroids.json";
const META_FORMAT: &str = "arbor-centroids";
// Version 2: the model identity covers architecture and image pipeline, not only the weights.
const META_VERSION: u32 = 2;

/// Class centroids fitted on labelled support embeddings.
#[derive(Debug, Clone, PartialEq)]
pub struct Centroids {
    labels: Vec<String>,
    support_mean: Vec<f32>,
    /// Centred, unit-length centroids, one row per label.
    vectors: Vec<f32>,
    dim: usize,
}

/// One few-shot answer: a class and its cosine to the query (both centred).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CentroidHit {
    /// The class.
    pub label: String,
    /// Cosine similarity between the centred query and the class centroid.
    pub score: f32,
}

impl Centroids {
    /// Fits centroids on support embeddings (`embeddings` row-major, `dim` wide) with one
    /// label per row. Classes keep the order in which they first appear.
    ///
    /// # Errors
    /// No rows, a row count that does not match the labels, or a non-finite value.
    pub fn fit(labels: &[String], embeddings: &[f32], dim: usize) -> Result<Self> {
        if labels.is_empty() || dim == 0 || embeddings.len() != labels.len() * dim {
            return Err(EngineError::Invalid(format!(
                "few-shot support: {} labels for {} numbers of width {dim}",
                labels.len(),
                embeddings.len()
            )));
        }
        if let Some(row) = embeddings.chunks_exact(dim).position(|r| r.iter().any(|x| !x.is_finite())) {
            return Err(EngineError::Invalid(format!("few-shot support: embedding {row} is not finite")));
        }
        let support_mean = mean_rows(embeddings.chunks_exact(dim), dim);
        let mut classes: Vec<String> = Vec::new();
        let mut sums: Vec<Vec<f32>> = Vec::new();
        for (label, row) in labels.iter().zip(embeddings.chunks_exact(dim)) {
            let slot = match classes.iter().position(|c| c == label) {
                Some(slot) => slot,
                None => {
                    classes.push(label.clone());
                    sums.push(vec![0.0; dim]);
                    classes.len() - 1
                }
            };
            sums[slot].iter_mut().zip(row).for_each(|(s, x)| *s += x);
        }
        // The class mean minus the support mean is parallel to the class sum minus
        // count × support mean, and only the direction survives normalisation.
        let counts = classes.iter().map(|c| labels.iter().filter(|l| *l == c).count());
        let mut vectors = Vec::with_capacity(classes.len() * dim);
        for (mut sum, count) in sums.into_iter().zip(counts) {
            sum.iter_mut().zip(&support_mean).for_each(|(s, m)| *s = *s / count as f32 - m);
            normalize_row(&mut sum);
            vectors.extend(sum);
        }
        Ok(Centroids { labels: classes, support_mean, vectors, dim })
    }

    /// Rebuilds centroids from their parts (as [`Centroids::labels`], [`Centroids::support_mean`]
    /// and [`Centroids::vectors`] return them), e.g. after reading them from disk.
    ///
    /// # Errors
    /// The parts do not fit together.
    pub fn from_parts(labels: Vec<String>, support_mean: Vec<f32>, vectors: Vec<f32>) -> Result<Self> {
        let dim = support_mean.len();
        if labels.is_empty() || dim == 0 || vectors.len() != labels.len() * dim {
            return Err(EngineError::Invalid(format!(
                "few-shot centroids: {} labels, {} numbers, mean of width {dim}",
                labels.len(),
                vectors.len()
            )));
        }
        Ok(Centroids { labels, support_mean, vectors, dim })
    }

    /// The classes, in centroid order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The mean support embedding that is subtracted from every query.
    pub fn support_mean(&self) -> &[f32] {
        &self.support_mean
    }

    /// The centred, unit-length centroids, row-major in label order.
    pub fn vectors(&self) -> &[f32] {
        &self.vectors
    }

    /// The embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Cosine of the centred query to every centroid, in label order.
    ///
    /// # Errors
    /// The query has another width or is not finite.
    pub fn scores(&self, query: &[f32]) -> Result<Vec<f32>> {
        if query.len() != self.dim || query.iter().any(|x| !x.is_finite()) {
            return Err(EngineError::Invalid(format!(
                "few-shot query: {} numbers (finite: {}), expected {}",
                query.len(),
                query.iter().all(|x| x.is_finite()),
                self.dim
            )));
        }
        let mut centred: Vec<f32> = query.iter().zip(&self.support_mean).map(|(q, m)| q - m).collect();
        normalize_row(&mut centred);
        Ok(self.vectors.chunks_exact(self.dim).map(|c| arbor_index::dot_f32(c, &centred)).collect())
    }

    /// The `k` nearest classes, best first (ties keep label order).
    ///
    /// # Errors
    /// As [`Centroids::scores`].
    pub fn classify(&self, query: &[f32], k: usize) -> Result<Vec<CentroidHit>> {
        let scores = self.scores(query)?;
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        Ok(order.into_iter().take(k).map(|i| CentroidHit { label: self.labels[i].clone(), score: scores[i] }).collect())
    }

    /// The index of the nearest class in [`Centroids::labels`].
    ///
    /// # Errors
    /// As [`Centroids::scores`].
    pub fn nearest(&self, query: &[f32]) -> Result<usize> {
        let scores = self.scores(query)?;
        Ok((0..scores.len()).fold(0, |best, i| if scores[i] > scores[best] { i } else { best }))
    }
}

/// What `centroids.json` holds. The centroids themselves live in a small Arbor index next to it
/// (labels as common names), so they get the index's checksums and memory-mapped reads.
#[derive(serde::Serialize, serde::Deserialize)]
struct CentroidsMeta {
    format: String,
    version: u32,
    /// The weights hash of the model that embedded the support set: centroids are only
    /// meaningful for queries embedded by the same model.
    model_identity: String,
    classes: usize,
    dim: usize,
    support_mean: Vec<f32>,
}

impl Centroids {
    /// Writes the centroids to directory `dir`, tagged with the identity of the model that made
    /// them ([`crate::Embedder::identity`]). The directory is assembled beside its final name
    /// and swapped into place, so a crash leaves either the old centroids or the new ones, never
    /// an index from one fit and a mean from another.
    ///
    /// # Errors
    /// Fewer than two classes (a single centroid is the zero vector once centred), or a file
    /// that cannot be written.
    pub fn save(&self, dir: impl AsRef<Path>, model_identity: &str) -> Result<()> {
        let dir = dir.as_ref();
        if self.labels.len() < 2 {
            return Err(EngineError::Invalid(format!(
                "{}: few-shot centroids need at least two classes, got {}",
                dir.display(),
                self.labels.len()
            )));
        }
        let meta = CentroidsMeta {
            format: META_FORMAT.into(),
            version: META_VERSION,
            model_identity: model_identity.into(),
            classes: self.labels.len(),
            dim: self.dim,
            support_mean: self.support_mean.clone(),
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| EngineError::Invalid(format!("centroids: {e}")))?;
        let records: Vec<TaxonRecord> =
            self.labels.iter().map(|l| TaxonRecord { common_name: l.clone(), ..Default::default() }).collect();
        arbor_index::publish_dir(dir, arbor_index::Existing::Replace, |tmp| {
            IndexBuilder::new(self.dim).graph(None).kind(IndexKind::Centroids).model(model_identity).build(
                &records,
                &self.vectors,
                tmp,
            )?;
            let meta_path = tmp.join(CENTROIDS_META_FILE);
            arbor_index::write_atomically(&meta_path, |w| w.write_all(&json))?;
            Ok(())
        })
    }

    /// Reads centroids written by [`Centroids::save`], with the identity of the model that made
    /// them.
    ///
    /// # Errors
    /// A missing or damaged file (the error names it), or parts that do not fit together.
    pub fn load(dir: impl AsRef<Path>) -> Result<(Centroids, String)> {
        let dir = dir.as_ref();
        // The index first: a tree of life or a collection given as centroids is named as such.
        let index = TaxonIndex::open_kind(dir, IndexKind::Centroids)?;
        let meta_path = dir.join(CENTROIDS_META_FILE);
        let text = fs::read(&meta_path).map_err(|source| EngineError::Io { path: meta_path.clone(), source })?;
        let bad = |problem: String| {
            EngineError::Invalid(format!("{}: not few-shot centroids: {problem}", meta_path.display()))
        };
        let meta: CentroidsMeta = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        if meta.format != META_FORMAT || meta.version != META_VERSION {
            return Err(bad(format!(
                "format {:?} version {}, expected {META_FORMAT:?} version {META_VERSION}",
                meta.format, meta.version
            )));
        }
        if index.len() != meta.classes || index.dim() != meta.dim || meta.support_mean.len() != meta.dim {
            return Err(bad(format!(
                "it describes {} classes of width {}, but {} holds {} of width {}",
                meta.classes,
                meta.dim,
                index.path().display(),
                index.len(),
                index.dim()
            )));
        }
        let mut labels = Vec::with_capacity(index.len());
        let mut vectors = Vec::with_capacity(index.len() * index.dim());
        for i in 0..index.len() as u32 {
            labels.push(index.taxon(TaxonId(i))?.common_name);
            vectors.extend(index.vector(TaxonId(i))?);
        }
        Ok((Centroids::from_parts(labels, meta.support_mean, vectors)?, meta.model_identity))
    }
}

fn mean_rows<'a>(rows: impl Iterator<Item = &'a [f32]>, dim: usize) -> Vec<f32> {
    let mut mean = vec![0.0f64; dim];
    let mut n = 0usize;
    for row in rows {
        mean.iter_mut().zip(row).for_each(|(m, x)| *m += f64::from(*x));
        n += 1;
    }
    mean.into_iter().map(|m| (m / n.max(1) as f64) as f32).collect()
}

/// Accuracy of one few-shot protocol, over seeds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FewShotScore {
    /// Support images per class.
    pub shots: usize,
    /// Mean top-1 accuracy over seeds.
    pub mean: f64,
    /// Standard deviation of the accuracy over seeds (population, as numpy's `std`).
    pub std: f64,
    /// Classes that had more than `shots` images and so took part.
    pub classes: usize,
    /// Query images per seed.
    pub queries: usize,
}

/// BioCLIP's few-shot protocol on labelled embeddings: for each seed, draw `shots` random
/// images per class as support and use the rest as queries; report the mean and standard
/// deviation of the top-1 accuracy over `seeds` seeds (0, 1, …). Classes with no more than
/// `shots` images cannot give a query and are left out.
///
/// # Errors
/// As [`Centroids::fit`], or no class has enough images.
pub fn evaluate_few_shot(
    labels: &[String],
    embeddings: &[f32],
    dim: usize,
    shots: usize,
    seeds: u64,
) -> Result<FewShotScore> {
    if shots == 0 || seeds == 0 {
        return Err(EngineError::Invalid("few-shot evaluation needs shots ≥ 1 and seeds ≥ 1".into()));
    }
    if dim == 0 || embeddings.len() != labels.len() * dim {
        return Err(EngineError::Invalid(format!(
            "few-shot evaluation: {} labels for {} numbers",
            labels.len(),
            embeddings.len()
        )));
    }
    let mut classes: Vec<(&String, Vec<usize>)> = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        match classes.iter_mut().find(|(c, _)| *c == label) {
            Some((_, rows)) => rows.push(i),
            None => classes.push((label, vec![i])),
        }
    }
    classes.retain(|(_, rows)| rows.len() > shots);
    if classes.is_empty() {
        return Err(EngineError::Invalid(format!("few-shot evaluation: no class has more than {shots} images")));
    }
    let row = |i: usize| &embeddings[i * dim..(i + 1) * dim];
    let mut accuracies = Vec::new();
    let mut queries_per_seed = 0;
    for seed in 0..seeds {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut support_labels, mut support, mut queries) = (Vec::new(), Vec::new(), Vec::new());
        for (label, rows) in &classes {
            let mut rows = rows.clone();
            rows.shuffle(&mut rng);
            for &i in &rows[..shots] {
                support_labels.push((*label).clone());
                support.extend_from_slice(row(i));
            }
            queries.extend(rows[shots..].iter().map(|&i| (i, *label)));
        }
        let centroids = Centroids::fit(&support_labels, &support, dim)?;
        let mut correct = 0usize;
        for (i, label) in &queries {
            correct += usize::from(&centroids.labels[centroids.nearest(row(*i))?] == *label);
        }
        queries_per_seed = queries.len();
        accuracies.push(correct as f64 / queries.len() as f64);
    }
    let mean = accuracies.iter().sum::<f64>() / accuracies.len() as f64;
    let var = accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / accuracies.len() as f64;
    Ok(FewShotScore { shots, mean, std: var.sqrt(), classes: classes.len(), queries: queries_per_seed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn centroids_are_centred_class_means() {
        // Two classes in 2-D: the support mean is (1, 1); class a's mean (2, 1) centres to
        // (1, 0), class b's mean (0, 1) to (-1, 0).
        let c = Centroids::fit(&labels(&["a", "a", "b"]), &[2.0, 0.0, 2.0, 2.0, 0.0, 1.0], 2).unwrap();
        assert_eq!(c.labels(), ["a", "b"]);
        let mean = c.support_mean();
        assert!((mean[0] - 4.0 / 3.0).abs() < 1e-6 && (mean[1] - 1.0).abs() < 1e-6);
        // a: (2,1) - (4/3,1) = (2/3, 0) → (1, 0); b: (0,1) - (4/3,1) → (-1, 0).
        assert_eq!(c.vectors(), [1.0, 0.0, -1.0, 0.0]);
        // A query right of the mean goes to a, left of it to b, whatever its y.
        assert_eq!(c.classify(&[1.5, -7.0], 1).unwrap()[0].label, "a");
        assert_eq!(c.classify(&[1.0, 9.0], 1).unwrap()[0].label, "b");
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(Centroids::fit(&labels(&["a"]), &[1.0, 2.0, 3.0], 2).is_err());
        assert!(Centroids::fit(&labels(&["a"]), &[f32::NAN, 0.0], 2).is_err());
        let c = Centroids::fit(&labels(&["a", "b"]), &[1.0, 0.0, 0.0, 1.0], 2).unwrap();
        assert!(c.scores(&[1.0]).is_err());
        assert!(c.scores(&[f32::INFINITY, 0.0]).is_err());
        assert!(evaluate_few_shot(&labels(&["a", "b"]), &[1.0, 0.0, 0.0, 1.0], 2, 1, 3).is_err());
    }

    #[test]
    fn separable_classes_score_perfectly_and_seeds_matter_when_noisy() {
        // Three well separated clusters of four points each.
        let mut names = Vec::new();
        let mut data = Vec::new();
        for (c, centre) in [[5.0f32, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 5.0]].iter().enumerate() {
            for j in 0..4 {
                names.push(format!("c{c}"));
                data.extend(centre.iter().map(|x| x + 0.1 * j as f32));
            }
        }
        let score = evaluate_few_shot(&names, &data, 3, 1, 5).unwrap();
        assert_eq!((score.mean, score.std, score.classes, score.queries), (1.0, 0.0, 3, 9));
    }

    #[test]
    fn saved_centroids_read_back_identically_and_damage_is_named() {
        let c = Centroids::fit(&labels(&["raven", "rose", "raven"]), &[2.0, 0.5, 0.0, 1.0, 2.0, 0.1], 2).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        c.save(&path, "model-a").unwrap();
        let (back, identity) = Centroids::load(&path).unwrap();
        assert_eq!((back, identity.as_str()), (c.clone(), "model-a"));

        // Saving again replaces the directory in place and leaves no temporary behind.
        let other = Centroids::fit(&labels(&["x", "y"]), &[1.0, 0.0, 0.0, 1.0], 2).unwrap();
        other.save(&path, "model-b").unwrap();
        assert_eq!(Centroids::load(&path).unwrap().0.labels(), ["x", "y"]);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        // A single class cannot be saved: its centred centroid is zero.
        let one = Centroids::fit(&labels(&["a", "a"]), &[1.0, 0.0, 0.0, 1.0], 2).unwrap();
        assert!(one.save(dir.path().join("one"), "m").is_err());

        fs::write(path.join(CENTROIDS_META_FILE), b"{not json").unwrap();
        let e = Centroids::load(&path).unwrap_err().to_string();
        assert!(e.contains(CENTROIDS_META_FILE), "{e}");
        other.save(&path, "model-b").unwrap();
        fs::write(path.join(arbor_index::INDEX_FILE), b"garbage").unwrap();
        let e = Centroids::load(&path).unwrap_err().to_string();
        assert!(e.contains(arbor_index::INDEX_FILE), "{e}");
    }
}
