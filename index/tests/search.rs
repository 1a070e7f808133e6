//! Building, opening and searching an index against brute force.

mod common;

use arbor_index::{Dtype, EXACT_BATCH, GraphParams, IndexBuilder, Rank, Scope, SearchMode, TaxonId, TaxonIndex};
use common::{brute_top_k, queries, world};

#[test]
fn exact_search_equals_brute_force_and_ids_survive_reordering() {
    let w = world(1500, 24, 1);
    let dir = tempfile::tempdir().unwrap();
    IndexBuilder::new(w.dim).graph(None).build(&w.taxa, &w.vectors, dir.path()).unwrap();
    let index = TaxonIndex::open(dir.path()).unwrap();
    assert_eq!((index.len(), index.dim(), index.has_graph()), (1500, 24, false));
    // Ids are input rows, whatever order storage uses.
    for id in [0u32, 17, 1499] {
        let t = index.taxon(TaxonId(id)).unwrap();
        assert_eq!(t.lineage, w.taxa[id as usize].lineage);
        assert_eq!(index.vector(TaxonId(id)).unwrap(), &w.vectors[id as usize * 24..(id as usize + 1) * 24]);
    }
    let qs = queries(&w, 40, 1.5, 2);
    // One query at a time and the batched GEMM path must both be exact.
    let batch = index.search_batch(&qs, 10, SearchMode::Exact, Scope::All).unwrap();
    for (i, q) in qs.chunks(24).enumerate() {
        let want = brute_top_k(&w, q, 10, |_| true);
        let single = index.search(q, 10, SearchMode::Exact, Scope::All).unwrap();
        for got in [&single, &batch[i]] {
            let ids: Vec<u32> = got.iter().map(|h| h.taxon.0).collect();
            let want_ids: Vec<u32> = want.iter().map(|h| h.0).collect();
            assert_eq!(ids, want_ids, "query {i}");
            for (h, (_, s)) in got.iter().zip(&want) {
                assert!((h.score - s).abs() < 1e-5);
            }
        }
    }
}

#[test]
fn hnsw_reaches_high_recall_and_subtrees_are_exact() {
    let w = world(2916, 32, 3);
    let dir = tempfile::tempdir().unwrap();
    let params = GraphParams { m: 16, ef_construction: 100 };
    IndexBuilder::new(w.dim).graph(Some(params)).build(&w.taxa, &w.vectors, dir.path()).unwrap();
    let index = TaxonIndex::open(dir.path()).unwrap();
    assert!(index.has_graph());
    let qs = queries(&w, 200, 0.6, 4);
    let approx = index.search_batch(&qs, 10, SearchMode::Approximate { ef: 128 }, Scope::All).unwrap();
    let mut found = 0;
    for (q, got) in qs.chunks(32).zip(&approx) {
        let want = brute_top_k(&w, q, 10, |_| true);
        assert_eq!(got.len(), 10);
        found += got.iter().filter(|h| want.iter().any(|(id, _)| *id == h.taxon.0)).count();
        // Candidates are ranked by exact scores.
        assert!(got.windows(2).all(|p| p[0].score >= p[1].score));
    }
    let recall = found as f64 / (200.0 * 10.0);
    assert!(recall >= 0.95, "recall@10 = {recall}");

    // Restricted to a family: only members, and exactly the brute-force answer.
    let family = w.taxa[5].lineage.get(Rank::Family).to_owned();
    let sub = index.find_one(&family).unwrap();
    assert_eq!(sub.rank, Rank::Family);
    let members = |i: usize| w.taxa[i].lineage.down_to(Rank::Family) == sub.path.as_slice();
    for q in qs.chunks(32).take(20) {
        let got = index.search(q, 5, SearchMode::Approximate { ef: 64 }, Scope::Within(&sub)).unwrap();
        let want: Vec<u32> = brute_top_k(&w, q, 5, members).iter().map(|x| x.0).collect();
        assert_eq!(got.iter().map(|h| h.taxon.0).collect::<Vec<_>>(), want);
    }
}

#[test]
fn large_batches_with_a_wide_beam_get_the_exact_answer() {
    let w = world(2916, 32, 3);
    let dir = tempfile::tempdir().unwrap();
    let params = GraphParams { m: 8, ef_construction: 16 };
    IndexBuilder::new(w.dim).graph(Some(params)).build(&w.taxa, &w.vectors, dir.path()).unwrap();
    let index = TaxonIndex::open(dir.path()).unwrap();
    // 2916 taxa: ef 12 is at least 1/256 of the index, ef 11 is not.
    assert!(index.exact_is_faster(12, EXACT_BATCH) && !index.exact_is_faster(11, EXACT_BATCH));
    assert!(!index.exact_is_faster(100_000, EXACT_BATCH - 1), "small batches keep the graph");
    let qs = queries(&w, EXACT_BATCH, 0.6, 4);
    let exact = index.search_batch(&qs, 10, SearchMode::Exact, Scope::All).unwrap();
    let wide = index.search_batch(&qs, 10, SearchMode::Approximate { ef: 12 }, Scope::All).unwrap();
    assert_eq!(wide, exact);
    // Just below the threshold the graph answers, and a beam of 11 on a sparse graph misses some.
    let narrow = index.search_batch(&qs, 10, SearchMode::Approximate { ef: 11 }, Scope::All).unwrap();
    assert_ne!(narrow, exact);
}

#[test]
fn f16_storage_halves_the_vectors_and_keeps_scores_close() {
    let w = world(500, 64, 5);
    let (d32, d16) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    IndexBuilder::new(w.dim).graph(None).build(&w.taxa, &w.vectors, d32.path()).unwrap();
    IndexBuilder::new(w.dim).graph(None).dtype(Dtype::F16).build(&w.taxa, &w.vectors, d16.path()).unwrap();
    let (a, b) = (TaxonIndex::open(d32.path()).unwrap(), TaxonIndex::open(d16.path()).unwrap());
    assert_eq!(b.dtype(), Dtype::F16);
    let size = |d: &tempfile::TempDir| std::fs::metadata(d.path().join("index.arbor")).unwrap().len();
    assert!(size(&d16) + 500 * 64 * 2 - 64 <= size(&d32), "{} vs {}", size(&d16), size(&d32));
    for q in queries(&w, 10, 0.5, 6).chunks(64) {
        let (x, y) = (
            a.search(q, 1, SearchMode::Exact, Scope::All).unwrap(),
            b.search(q, 1, SearchMode::Exact, Scope::All).unwrap(),
        );
        assert!((x[0].score - y[0].score).abs() < 2e-3);
    }
}

#[test]
fn explicit_taxon_lists_and_dense_scores() {
    let w = world(300, 16, 7);
    let dir = tempfile::tempdir().unwrap();
    IndexBuilder::new(w.dim).graph(None).build(&w.taxa, &w.vectors, dir.path()).unwrap();
    let index = TaxonIndex::open(dir.path()).unwrap();
    let q = &queries(&w, 1, 0.5, 8)[..];
    let list = [TaxonId(250), TaxonId(3), TaxonId(99)];
    let got = index.search(q, 10, SearchMode::Exact, Scope::Taxa(&list)).unwrap();
    let want: Vec<u32> = brute_top_k(&w, q, 10, |i| [250, 3, 99].contains(&i)).iter().map(|x| x.0).collect();
    assert_eq!(got.iter().map(|h| h.taxon.0).collect::<Vec<_>>(), want);
    assert!(index.search(q, 1, SearchMode::Exact, Scope::Taxa(&[TaxonId(300)])).is_err());

    let scores = &index.scores_batch(q, Scope::All).unwrap()[0];
    assert_eq!(scores.len(), 300);
    for id in [0usize, 150, 299] {
        let want: f32 = w.vectors[id * 16..(id + 1) * 16].iter().zip(q).map(|(a, b)| a * b).sum();
        assert!((scores[id] - want).abs() < 1e-5);
    }
}

#[test]
fn bad_queries_and_inputs_are_errors_not_panics() {
    let w = world(50, 8, 9);
    let dir = tempfile::tempdir().unwrap();
    IndexBuilder::new(8).build(&w.taxa, &w.vectors, dir.path()).unwrap();
    let index = TaxonIndex::open(dir.path()).unwrap();
    let mode = SearchMode::Approximate { ef: 16 };
    assert!(index.search(&[0.0; 7], 3, mode, Scope::All).unwrap_err().to_string().contains("dimension 8"));
    let mut nan = vec![0.1f32; 8];
    nan[2] = f32::NAN;
    assert!(index.search(&nan, 3, mode, Scope::All).unwrap_err().to_string().contains("not finite"));
    assert!(index.search(&[], 3, mode, Scope::All).is_err());

    // Build-time checks: non-unit, non-finite, count mismatch, zero taxa.
    let mut v = w.vectors.clone();
    v[8 * 3] *= 3.0;
    let e = IndexBuilder::new(8).build(&w.taxa, &v, dir.path()).unwrap_err().to_string();
    assert!(e.contains("vector 3") && e.contains("unit length"), "{e}");
    v[8 * 3] = f32::INFINITY;
    assert!(IndexBuilder::new(8).build(&w.taxa, &v, dir.path()).unwrap_err().to_string().contains("not finite"));
    assert!(IndexBuilder::new(8).build(&w.taxa[..49], &w.vectors, dir.path()).is_err());
    assert!(IndexBuilder::new(8).build(&[], &[], dir.path()).is_err());
    let huge = GraphParams { m: 300, ef_construction: 10 };
    assert!(IndexBuilder::new(8).graph(Some(huge)).build(&w.taxa, &w.vectors, dir.path()).is_err());
    // The failed builds left the good index in place and no temporary files.
    assert_eq!(TaxonIndex::open(dir.path()).unwrap().len(), 50);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_resolved_scope_scores_like_the_scope_and_is_refused_by_another_index() {
    let w = world(600, 16, 5);
    let dir = tempfile::tempdir().unwrap();
    IndexBuilder::new(w.dim).graph(None).build(&w.taxa, &w.vectors, dir.path()).unwrap();
    let index = TaxonIndex::open(dir.path()).unwrap();
    let qs = queries(&w, 3, 1.0, 6);
    let sub = index.find(w.taxa[42].lineage.get(Rank::Order)).unwrap().remove(0);
    for scope in [Scope::All, Scope::Within(&sub)] {
        let resolved = index.resolve_scope(scope).unwrap();
        assert_eq!(resolved.ids(), index.scope_ids(scope).unwrap());
        assert_eq!(index.scores_resolved(&qs, &resolved).unwrap(), index.scores_batch(&qs, scope).unwrap());
    }
    let small = world(50, 16, 7);
    let other_dir = tempfile::tempdir().unwrap();
    IndexBuilder::new(16).graph(None).build(&small.taxa, &small.vectors, other_dir.path()).unwrap();
    let other = TaxonIndex::open(other_dir.path()).unwrap();
    let resolved = index.resolve_scope(Scope::All).unwrap();
    assert!(other.scores_resolved(&qs, &resolved).is_err());
}

#[test]
fn batched_scores_equal_one_query_at_a_time_across_blocks_and_dtypes() {
    // More than one scan block of 2048 taxa, the last one partial.
    let w = world(5000, 16, 11);
    let n = w.taxa.len() as u32;
    assert!(n > 2048 && !n.is_multiple_of(2048), "{n} taxa");
    let qs = queries(&w, 7, 1.0, 12);
    for dtype in [Dtype::F32, Dtype::F16] {
        let dir = tempfile::tempdir().unwrap();
        IndexBuilder::new(w.dim).graph(None).dtype(dtype).build(&w.taxa, &w.vectors, dir.path()).unwrap();
        let index = TaxonIndex::open(dir.path()).unwrap();
        let list: Vec<TaxonId> = (0..n).rev().step_by(3).map(TaxonId).collect();
        for scope in [Scope::All, Scope::Taxa(&list)] {
            let batch = index.scores_batch(&qs, scope).unwrap();
            let ids = index.scope_ids(scope).unwrap();
            assert_eq!(batch.len(), 7);
            for (q, scores) in qs.chunks(16).zip(&batch) {
                let single = &index.scores_batch(q, scope).unwrap()[0];
                assert_eq!(scores.len(), ids.len());
                for ((a, b), id) in scores.iter().zip(single).zip(&ids) {
                    let i = id.0 as usize;
                    let brute: f32 = w.vectors[i * 16..(i + 1) * 16].iter().zip(q).map(|(x, y)| x * y).sum();
                    let tolerance = if dtype == Dtype::F16 { 2e-3 } else { 1e-5 };
                    assert!(
                        (a - b).abs() < 1e-5 && (a - brute).abs() < tolerance,
                        "{dtype:?} taxon {i}: {a} {b} {brute}"
                    );
                }
            }
        }
    }
}
