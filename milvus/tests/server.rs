//! `arbor_milvus::Collection` against a real Milvus (the PyPI `milvus` standalone server that
//! `.ci/run` starts; its address in `ARBOR_MILVUS`, e.g. `127.0.0.1:19530`). Ignored by plain
//! `cargo test`: run by `.ci/run`.

use std::time::Duration;

use arbor_milvus::{Collection, Hnsw, Layout, MilvusError, MilvusUrl, PhotoRow, Search};

fn url(what: &str) -> MilvusUrl {
    let server = std::env::var("ARBOR_MILVUS").expect("ARBOR_MILVUS=HOST:PORT of a Milvus server (.ci/run starts one)");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("milvus://{server}/arbor_lib_{what}_{}_{nanos}", std::process::id()).parse().unwrap()
}

fn unit(seed: u64, dim: usize) -> Vec<f32> {
    // A small deterministic generator: no test dependency needed.
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut v: Vec<f32> = (0..dim)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect();
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= n);
    v
}

fn lineage(class: &str, species: &str) -> Option<([String; 7], f32)> {
    let names = ["Animalia", "Chordata", class, "O", "F", "G", species].map(str::to_owned);
    Some((names, 0.75))
}

#[test]
#[ignore = "needs a Milvus server: run by .ci/run (ARBOR_MILVUS=127.0.0.1:19530)"]
fn rows_go_in_are_found_by_path_vector_and_taxon_and_the_index_is_ours() {
    let u = url("rows");
    let layout = Layout { hnsw: Hnsw { m: 24, ef_construction: 96 }, shards: 1 };
    let (c, created) = Collection::create_or_open(&u, 16, "model-a", layout).unwrap();
    assert!(created);
    assert_eq!(c.hnsw(), Some(Hnsw { m: 24, ef_construction: 96 }), "the index is built with the asked parameters");
    let mut want: Vec<(String, String)> =
        arbor_milvus::RANKS.iter().map(|r| (format!("lineage_{r}"), "Trie".to_owned())).collect();
    want.push(("vector".into(), "HNSW".into()));
    want.sort();
    assert_eq!(c.indexes().unwrap(), want, "a trie per rank for --within, HNSW for the vectors");
    let rows: Vec<PhotoRow> = (0..3000)
        .map(|i| PhotoRow {
            path: format!("/p/{i}.jpg"),
            vector: unit(i, 16),
            lineage: match i % 3 {
                0 => lineage("Aves", "Corvus corax"),
                1 => lineage("Mammalia", "Felis catus"),
                _ => None,
            },
        })
        .collect();
    assert_eq!(c.insert(&rows[..1500]).unwrap(), 1500);
    // Strong reads: rows just inserted are there at once.
    let asked: Vec<String> = vec!["/p/3.jpg".into(), "/p/1499.jpg".into(), "/p/1500.jpg".into()];
    let have = c.existing(&asked).unwrap();
    assert!(have.contains("/p/3.jpg") && have.contains("/p/1499.jpg") && !have.contains("/p/1500.jpg"), "{have:?}");
    assert_eq!(c.insert(&rows[1500..]).unwrap(), 1500);
    assert_eq!(c.count().unwrap(), 3000);

    c.flush(Duration::from_secs(120)).unwrap();
    let mut seen = Vec::new();
    c.wait_indexed(Duration::from_secs(120), |p| seen.push(p)).unwrap();
    let last = seen.last().unwrap();
    assert!(last.finished && last.indexed == 3000, "{seen:?}");

    // The nearest photo to a stored vector is itself, with cosine 1.
    let hits = c.search(&rows[42].vector, Search { k: 5, ef: Some(64), within: None }).unwrap();
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[0].path, "/p/42.jpg");
    assert!((hits[0].score - 1.0).abs() < 1e-5, "{hits:?}");
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    // ef reaches the server: a beam of k misses neighbours that a wide one finds (exact
    // neighbours by brute force here).
    let recall = |ef: usize| {
        let mut found = 0;
        for q in 0..40u64 {
            let query = unit(1_000_000 + q, 16);
            let mut exact: Vec<(f32, usize)> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| (r.vector.iter().zip(&query).map(|(a, b)| a * b).sum(), i))
                .collect();
            exact.sort_by(|a, b| b.0.total_cmp(&a.0));
            let want: Vec<&str> = exact[..10].iter().map(|&(_, i)| rows[i].path.as_str()).collect();
            let got = c.search(&query, Search { k: 10, ef: Some(ef), within: None }).unwrap();
            found += got.iter().filter(|h| want.contains(&h.path.as_str())).count();
        }
        found as f64 / 400.0
    };
    let (narrow, wide) = (recall(10), recall(512));
    assert!(wide >= 0.99 && narrow < wide, "recall@10 at ef 10: {narrow}, at ef 512: {wide}");

    // The taxon filter, at any rank; rows without a prediction match no taxon.
    let birds = c.search(&rows[1].vector, Search { k: 50, ef: Some(100), within: Some("Aves") }).unwrap();
    assert_eq!(birds.len(), 50);
    assert!(
        birds
            .iter()
            .all(|h| h.path.trim_start_matches("/p/").trim_end_matches(".jpg").parse::<u64>().unwrap() % 3 == 0),
        "{birds:?}"
    );
    let ravens = c.search(&rows[1].vector, Search { k: 10, ef: None, within: Some("Corvus corax") }).unwrap();
    assert_eq!(ravens.len(), 10);
    assert!(c.search(&rows[1].vector, Search { k: 10, ef: None, within: Some("Plantae") }).unwrap().is_empty());
    // A quote in a taxon name is a literal, not a filter.
    assert!(
        c.search(&rows[1].vector, Search { k: 10, ef: None, within: Some("x\" || path != \"") }).unwrap().is_empty()
    );

    // ef below k, a query of another width, and rows of another width are refused.
    let e = c.search(&rows[1].vector, Search { k: 20, ef: Some(10), within: None }).unwrap_err().to_string();
    assert!(e.contains("ef 10 is below k 20"), "{e}");
    assert!(c.search(&[1.0; 8], Search { k: 1, ef: None, within: None }).is_err());
    let wide = PhotoRow { path: "/w.jpg".into(), vector: vec![0.0; 17], lineage: None };
    assert!(c.insert(&[wide]).unwrap_err().to_string().contains("/w.jpg: a 17-d vector"));

    // Reopened: same parameters, and another model or width is refused, naming the URL.
    let (again, created) = Collection::create_or_open(&u, 16, "model-a", Layout::default()).unwrap();
    assert!(!created);
    assert_eq!(again.hnsw(), Some(Hnsw { m: 24, ef_construction: 96 }));
    let other = Collection::open(&u, 16, "model-b").err().unwrap();
    assert!(matches!(other, MilvusError::Mismatch { .. }) && other.to_string().starts_with(&u.to_string()), "{other}");
    let width = Collection::open(&u, 32, "model-a").err().unwrap().to_string();
    assert!(width.contains("its vectors are 16-d, these are 32-d"), "{width}");
}

#[test]
#[ignore = "needs a Milvus server: run by .ci/run (ARBOR_MILVUS=127.0.0.1:19530)"]
fn missing_collections_and_wrong_ports_are_named() {
    let u = url("missing");
    let e = Collection::open(&u, 16, "m").err().unwrap().to_string();
    assert!(e == format!("{u}: no such collection"), "{e}");
    let closed: MilvusUrl = "milvus://127.0.0.1:9/photos".parse().unwrap();
    let e = Collection::open(&closed, 16, "m").err().unwrap().to_string();
    assert!(e.starts_with("milvus://127.0.0.1:9/photos: cannot reach the Milvus server"), "{e}");
}
