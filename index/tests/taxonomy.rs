//! Name lookups, subtrees and rank-level aggregation on a hand-made tree.

use arbor_index::{IndexBuilder, Lineage, Rank, Scope, TaxonId, TaxonIndex, TaxonRecord, softmax};

fn record(names: [&str; 7], common: &str) -> TaxonRecord {
    TaxonRecord { lineage: Lineage::new(names), common_name: common.into() }
}

fn tree() -> Vec<TaxonRecord> {
    vec![
        record(["Animalia", "Chordata", "Aves", "Passeriformes", "Corvidae", "Corvus", "corax"], "common raven"),
        record(["Plantae", "Tracheophyta", "Magnoliopsida", "Rosales", "Moraceae", "Morus", "alba"], "white mulberry"),
        record(["Animalia", "Chordata", "Aves", "Suliformes", "Sulidae", "Morus", "bassanus"], "northern gannet"),
        record(["Animalia", "Chordata", "Aves", "Passeriformes", "Corvidae", "Corvus", "corone"], "carrion crow"),
        record(
            ["Animalia", "Chordata", "Mammalia", "Carnivora", "Ursidae", "Ursus", "arctos syriacus"],
            "Syrian brown bear",
        ),
        record(["Animalia", "Chordata", "Aves", "", "", "Pica", "pica"], ""),
    ]
}

fn build(taxa: &[TaxonRecord]) -> (tempfile::TempDir, TaxonIndex) {
    let dim = 8;
    let mut vectors = vec![0f32; taxa.len() * dim];
    for i in 0..taxa.len() {
        vectors[i * dim + i % dim] = 1.0;
    }
    let dir = tempfile::tempdir().unwrap();
    IndexBuilder::new(dim).build(taxa, &vectors, dir.path()).unwrap();
    let index = TaxonIndex::open(dir.path()).unwrap();
    (dir, index)
}

#[test]
fn finds_names_at_every_rank_ignoring_case() {
    let (_d, index) = build(&tree());
    let aves = index.find_one("aves").unwrap();
    assert_eq!((aves.rank, aves.len()), (Rank::Class, 4));
    let ids: Vec<u32> = index.taxa(Some(&aves)).unwrap().iter().map(|t| t.id.0).collect();
    assert_eq!(ids, vec![0, 2, 3, 5]);
    let corvus = index.find_one("Corvus").unwrap();
    assert_eq!((corvus.rank, corvus.len()), (Rank::Genus, 2));
    let raven = index.find_one("Corvus corax").unwrap();
    assert_eq!((raven.rank, raven.len(), raven.name()), (Rank::Species, 1, "Corvus corax".to_string()));
    let bear = index.find_one("Ursus arctos syriacus").unwrap();
    assert_eq!(index.taxa(Some(&bear)).unwrap()[0].common_name, "Syrian brown bear");
    // Morus is a plant genus and a bird genus: two subtrees, and find_one refuses to pick.
    let morus = index.find("MORUS").unwrap();
    assert_eq!(morus.len(), 2);
    assert!(morus.iter().all(|s| s.rank == Rank::Genus && s.len() == 1));
    assert!(index.find_one("Morus").unwrap_err().to_string().contains("2 nodes"));
    assert!(index.find("Draco").unwrap_err().to_string().contains("Draco"));
    // An empty rank is not a name.
    assert!(index.find("").is_err());
}

#[test]
fn rank_aggregation_matches_an_independent_string_grouping() {
    let taxa = tree();
    let (_d, index) = build(&taxa);
    let scores: Vec<f32> = (0..taxa.len()).map(|i| (i as f32 * 0.37).sin()).collect();
    let probs = softmax(&scores, 5.0);
    let pairs: Vec<(TaxonId, f32)> = probs.iter().enumerate().map(|(i, p)| (TaxonId(i as u32), *p)).collect();
    for rank in Rank::ALL {
        let got = index.rank_top_k(&pairs, rank, 3, 1e-9).unwrap();
        // pybioclip: key = " ".join(kingdom..rank), sums in id order, stable sort.
        let mut groups: Vec<(String, f32)> = Vec::new();
        for (i, t) in taxa.iter().enumerate() {
            let key = t.lineage.down_to(rank).join(" ");
            match groups.iter_mut().find(|g| g.0 == key) {
                Some(g) => g.1 += probs[i],
                None => groups.push((key, probs[i])),
            }
        }
        groups.sort_by(|a, b| b.1.total_cmp(&a.1));
        let want: Vec<&(String, f32)> = groups.iter().take(3).collect();
        assert_eq!(got.len(), want.len(), "{rank}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.path.join(" "), w.0, "{rank}");
            assert!((g.score - w.1).abs() < 1e-6, "{rank}");
        }
    }
    // The two Morus genera stay separate groups.
    let genus = index.rank_top_k(&pairs, Rank::Genus, 10, 1e-9).unwrap();
    assert_eq!(genus.iter().filter(|h| h.path.last().unwrap() == "Morus").count(), 2);
    // min_prob drops taxa from the sums.
    let floor = probs[0] + 1e-6;
    let kingdoms = index.rank_top_k(&pairs, Rank::Kingdom, 5, floor).unwrap();
    let animalia = kingdoms.iter().find(|h| h.path[0] == "Animalia").unwrap();
    let want: f32 = [2usize, 3, 4, 5].iter().filter(|&&i| probs[i] > floor).map(|&i| probs[i]).sum();
    assert!((animalia.score - want).abs() < 1e-6);
}

#[test]
fn scope_ids_cover_a_subtree_in_id_order() {
    let (_d, index) = build(&tree());
    let corvidae = index.find_one("Corvidae").unwrap();
    assert_eq!(index.scope_ids(Scope::Within(&corvidae)).unwrap(), vec![TaxonId(0), TaxonId(3)]);
    assert_eq!(index.scope_ids(Scope::All).unwrap().len(), 6);
    let info = index.info();
    assert_eq!(info.taxa, 6);
    assert_eq!(info.nodes_per_rank[0], (Rank::Kingdom, 2));
    assert_eq!(info.nodes_per_rank[5], (Rank::Genus, 5));
}
