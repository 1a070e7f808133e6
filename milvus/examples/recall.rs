//! Recall of Milvus's HNSW against exact search, by ef: `ARBOR_MILVUS=127.0.0.1:19530 cargo run
//! --release -p arbor-milvus --example recall [N] [DIM] [M] [EF_CONSTRUCTION]` (random unit vectors; 50
//! queries of which half are stored vectors' neighbours).

use std::time::{Duration, Instant};

use arbor_milvus::{Collection, Hnsw, Layout, PhotoRow, Search};

fn unit(x: &mut u64, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim)
        .map(|_| {
            *x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((*x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect();
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= n);
    v
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let arg = |i: usize, d: usize| args.get(i).copied().unwrap_or(d);
    let (n, dim, m, efc) = (arg(0, 20_000), arg(1, 32), arg(2, 16), arg(3, 200));
    let server = std::env::var("ARBOR_MILVUS").unwrap_or_else(|_| "127.0.0.1:19530".into());
    let url = format!("milvus://{server}/arbor_recall_{}", std::process::id()).parse()?;
    let layout = Layout { hnsw: Hnsw { m: m as u32, ef_construction: efc as u32 }, shards: 1 };
    let (c, _) = Collection::create_or_open(&url, dim, "recall", layout)?;
    let mut seed = 7u64;
    let rows: Vec<PhotoRow> =
        (0..n).map(|i| PhotoRow { path: format!("/r/{i}"), vector: unit(&mut seed, dim), lineage: None }).collect();
    let t = Instant::now();
    for chunk in rows.chunks(1000) {
        c.insert(chunk)?;
    }
    let insert_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    c.flush(Duration::from_secs(600))?;
    c.wait_indexed(Duration::from_secs(600), |_| {})?;
    println!(
        "{n} x {dim}: insert {insert_s:.1} s ({:.0}/s), flush+index {:.1} s",
        n as f64 / insert_s,
        t.elapsed().as_secs_f64()
    );
    let queries: Vec<Vec<f32>> = (0..50).map(|_| unit(&mut seed, dim)).collect();
    let exact: Vec<Vec<String>> = queries
        .iter()
        .map(|q| {
            let mut s: Vec<(f32, usize)> =
                rows.iter().enumerate().map(|(i, r)| (r.vector.iter().zip(q).map(|(a, b)| a * b).sum(), i)).collect();
            s.sort_by(|a, b| b.0.total_cmp(&a.0));
            s[..10].iter().map(|&(_, i)| rows[i].path.clone()).collect()
        })
        .collect();
    for ef in std::env::var("EFS")
        .unwrap_or("10,32,64,128,256,512,1024".into())
        .split(",")
        .map(|e| e.parse::<usize>().unwrap())
    {
        let (mut found, mut same) = (0, 0);
        let t = Instant::now();
        for (q, want) in queries.iter().zip(&exact) {
            let got = c.search(q, Search { k: 10, ef: Some(ef), within: None })?;
            found += got.iter().filter(|h| want.contains(&h.path)).count();
            same += got.iter().zip(want).filter(|(h, w)| &h.path == *w).count();
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0 / queries.len() as f64;
        println!(
            "ef {ef:5}: recall@10 {:.3}, same position {:.3}, {ms:.1} ms/query",
            found as f64 / 500.0,
            same as f64 / 500.0
        );
    }
    Ok(())
}
