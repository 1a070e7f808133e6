//! `arbor index …`: build, import, inspect, verify and query taxon indexes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arbor_index::{
    BuildStage, Dtype, GraphParams, Hit, IndexBuilder, Rank, Scope, SearchMode, Subtree, TaxonIndex, TaxonRecord,
    VectorSource, read_pybioclip_names, read_taxonomy_csv, write_taxonomy_csv,
};
use clap::{Args, Subcommand, ValueEnum};

use crate::arrays::{Matrix, Normalized, NpyF32, read_matrix, write_npy};
use crate::output::{Cell, Format, check_output_dir, check_output_file, print_json, print_rows};
use crate::progress::bar;

/// Build, inspect and query taxon indexes.
#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Build an index from embeddings (.npy), or by encoding each taxon's label with a model, and a taxonomy CSV.
    #[command(after_help = "Examples:
  arbor index build --vectors txt_emb.npy --taxonomy taxa.csv --out tol-index --dtype f16
  arbor index build --model bioclip --taxonomy taxa.csv --out tol-index      # pybioclip's labels, 80 templates
  arbor index build --model bioclip --taxonomy taxa.csv --out tol-index --text-type scientific --templates none

With --model, encoded labels are saved to <out>.partial as they finish: an interrupted
build run again with the same model, taxonomy and templates resumes where it stopped.")]
    Build(BuildArgs),
    /// Build an index from pybioclip's tree-of-life files (txt_emb_species.npy + .json).
    #[command(
        name = "import-pybioclip",
        after_help = "Example:\n  arbor index import-pybioclip --embeddings txt_emb_species.npy --names txt_emb_species.json --out tol-index"
    )]
    ImportPybioclip(ImportArgs),
    /// Show what an index holds.
    #[command(after_help = "Example:\n  arbor index info tol-index --format json")]
    Info(InfoArgs),
    /// Check every checksum and cross-reference of an index.
    #[command(after_help = "Example:\n  arbor index verify tol-index")]
    Verify(InfoArgs),
    /// Nearest taxa for query vectors (.npy), written as id and score arrays.
    #[command(
        after_help = "Examples:\n  arbor index query tol-index --vectors q.npy -k 10 --out ids.npy --scores scores.npy\n  arbor index query tol-index --vectors q.npy -k 5 --within Aves --format json"
    )]
    Query(QueryArgs),
    /// List taxa as CSV (like pybioclip's list-tol-taxa).
    #[command(after_help = "Example:\n  arbor index taxa tol-index --within Corvidae")]
    Taxa(TaxaArgs),
    /// Embed the taxa that have no embedding (all-zero columns of BioCLIP 2's published file).
    #[command(after_help = "Example:
  arbor index repair tol-index --model bioclip-2

Each taxon without an embedding gets pybioclip's: its label (the seven ranks and the common
name, space-separated) through the 80 OpenAI templates, each embedding normalised, averaged and
normalised again. Finished labels are saved to <index>.repair.partial as they go: an
interrupted repair run again resumes there. The index is rewritten atomically at the end (with
its HNSW graph rebuilt, if it had one). BioCLIP 2's 15,487 empty taxa are 1.24 M text
encodings: hours on a CPU.")]
    Repair(RepairArgs),
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// Index directory (a tree of life).
    index: PathBuf,
    /// Arbor model directory: the model the index's vectors came from.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    precision: crate::commands::PrecisionArg,
    /// Stop after this many taxa in total, keeping the progress file (resume later).
    #[arg(long, hide = true)]
    stop_after: Option<usize>,
}

/// Orientation of the vectors array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Layout {
    /// One taxon per row: shape (N, D).
    Rows,
    /// One taxon per column: shape (D, N), pybioclip's layout.
    Cols,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Vector storage type.
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    dtype: Dtype,
    /// With --graph: HNSW neighbours per node (level 0 keeps 2·M).
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// With --graph: HNSW construction beam width.
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    /// Also build an HNSW graph, for approximate search (`classify --ef`, `index query`
    /// without --exact). Costs minutes per 100K taxa and about 2·M·4 bytes per taxon; buys
    /// faster whole-tree searches. Exact classification (the default) never uses it.
    #[arg(long)]
    graph: bool,
    /// No graph (the default; kept for scripts).
    #[arg(long, hide = true, conflicts_with = "graph")]
    no_graph: bool,
    /// L2-normalise the vectors instead of rejecting rows that are not unit length.
    #[arg(long)]
    normalize: bool,
    /// Worker threads for the graph build (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Embeddings, float32 .npy.
    #[arg(long, required_unless_present = "model", conflicts_with = "model")]
    vectors: Option<PathBuf>,
    /// Encode each taxon's label with this Arbor model instead of reading --vectors.
    #[arg(long)]
    model: Option<PathBuf>,
    #[command(flatten)]
    precision: crate::commands::PrecisionArg,
    /// With --model: prompt templates (openai80: pybioclip's 80, averaged) or none.
    #[arg(long, default_value = "openai80", requires = "model")]
    templates: arbor_engine::Templates,
    /// With --model: how each taxon is named (default: pybioclip's label, the seven ranks and
    /// the common name): common, scientific, taxonomic, sci+common, taxonomic+common.
    #[arg(long, requires = "model")]
    text_type: Option<arbor_engine::TextType>,
    /// With --model: stop after this many labels in total, keeping <out>.partial (resume later).
    #[arg(long, hide = true, requires = "model")]
    stop_after: Option<usize>,
    /// Orientation of --vectors.
    #[arg(long, value_enum, default_value = "rows")]
    layout: Layout,
    /// Taxonomy CSV: kingdom,phylum,class,order,family,genus,species_epithet,common_name (same order as the vectors).
    #[arg(long)]
    taxonomy: PathBuf,
    /// Output index directory.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    graph: GraphArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// pybioclip's txt_emb_species.npy, shape (D, N).
    #[arg(long)]
    embeddings: PathBuf,
    /// pybioclip's txt_emb_species.json.
    #[arg(long)]
    names: PathBuf,
    /// Output index directory.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    graph: GraphArgs,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Index directory.
    index: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Index directory.
    index: PathBuf,
    /// Query vectors, float32 .npy of shape (Q, D).
    #[arg(long)]
    vectors: PathBuf,
    /// Results per query.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// HNSW beam width (ignored with --exact). A batch of 256 or more queries with an ef of at
    /// least 1/256 of the index is answered by the exact scan instead: faster there, and exact
    /// (see docs/benchmarks.md).
    #[arg(long, default_value_t = 256)]
    ef: usize,
    /// Score every taxon: the true top-k.
    #[arg(long)]
    exact: bool,
    /// Only taxa under this name (any rank: "Aves", "Corvus", "Corvus corax").
    #[arg(long)]
    within: Option<String>,
    /// Write taxon ids as int64 (Q, k) .npy (-1 where fewer than k taxa qualify).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write scores as float32 (Q, k) .npy (NaN where fewer than k taxa qualify).
    #[arg(long)]
    scores: Option<PathBuf>,
    /// How to print results when --out is not given.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Worker threads for the search (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(Debug, Args)]
pub struct TaxaArgs {
    /// Index directory.
    index: PathBuf,
    /// Only taxa under this name.
    #[arg(long)]
    within: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
}

fn parse_dtype(s: &str) -> Result<Dtype, String> {
    s.parse()
}

use super::set_threads;

pub fn run(cmd: IndexCommand) -> Result<()> {
    match cmd {
        IndexCommand::Build(a) => {
            check_output_dir(&a.out)?;
            set_threads(a.graph.threads)?;
            let taxa = read_taxonomy_csv(&a.taxonomy)?;
            match (&a.vectors, &a.model) {
                (Some(vectors), _) => build_from_file(&taxa, vectors, a.layout, &a.out, &a.graph),
                (None, Some(model)) => build_with_model(&a, &taxa, model),
                (None, None) => bail!("give --vectors or --model"),
            }
        }
        IndexCommand::ImportPybioclip(a) => {
            check_output_dir(&a.out)?;
            set_threads(a.graph.threads)?;
            let taxa = read_pybioclip_names(&a.names)?;
            build_from_file(&taxa, &a.embeddings, Layout::Cols, &a.out, &a.graph)
        }
        IndexCommand::Info(a) => info(&a),
        IndexCommand::Verify(a) => verify(&a),
        IndexCommand::Query(a) => {
            set_threads(a.threads)?;
            query(&a)
        }
        IndexCommand::Taxa(a) => taxa(&a),
        IndexCommand::Repair(a) => repair(&a),
    }
}

/// Builds from a `.npy` of vectors: float32 files are streamed (a (D, N) file transposed in
/// blocks through a temporary file beside the output), others read whole and converted.
fn build_from_file(taxa: &[TaxonRecord], path: &Path, layout: Layout, out: &Path, g: &GraphArgs) -> Result<()> {
    let Some(npy) = NpyF32::open(path)? else {
        let m = read_matrix(path)?;
        let m = if layout == Layout::Cols { m.transposed() } else { m };
        return build(taxa, &m, path, out, g, None);
    };
    let (n, d) = match layout {
        Layout::Rows => (npy.rows(), npy.cols()),
        Layout::Cols => (npy.cols(), npy.rows()),
    };
    if n != taxa.len() {
        bail!(
            "{}: {n} vectors of width {d} (shape {}×{}) but the names list {} taxa{}",
            path.display(),
            npy.rows(),
            npy.cols(),
            taxa.len(),
            if layout == Layout::Rows { "; use --layout cols for (D, N) arrays" } else { "" }
        );
    }
    if layout == Layout::Rows {
        return build(taxa, &npy, path, out, g, None);
    }
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = out.with_file_name(format!(".{name}.transposed-{}", std::process::id()));
    let built = npy.transpose_to(&temp).and_then(|rows| build(taxa, &rows, path, out, g, None));
    let _ = std::fs::remove_file(&temp);
    built
}

fn build(
    taxa: &[TaxonRecord],
    vectors: &dyn VectorSource,
    source: &Path,
    out: &Path,
    g: &GraphArgs,
    model: Option<&str>,
) -> Result<()> {
    if vectors.len() != taxa.len() {
        bail!("{}: {} vectors but the taxonomy lists {} taxa", source.display(), vectors.len(), taxa.len());
    }
    let normalized = Normalized(vectors);
    let vectors: &dyn VectorSource = if g.normalize { &normalized } else { vectors };
    let bar = bar(taxa.len() as u64, "indexing");
    let report = |stage: BuildStage, done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
        bar.set_message(format!("{stage:?}"));
    };
    let params = g.graph.then_some(GraphParams { m: g.m, ef_construction: g.ef_construction });
    let path = IndexBuilder::new(vectors.dim())
        .dtype(g.dtype)
        .graph(params)
        .source(source.display().to_string())
        .model(model.unwrap_or_default())
        .progress(&report)
        .build_from(taxa, vectors, out)
        .with_context(|| source.display().to_string())?;
    bar.finish_and_clear();
    let index = TaxonIndex::open(&path)?;
    eprintln!(
        "wrote {} ({} taxa, {} dims, {}{})",
        path.display(),
        index.len(),
        index.dim(),
        g.dtype,
        if index.has_graph() { ", HNSW graph" } else { ", exact search only" }
    );
    if !index.unembedded().is_empty() {
        eprintln!("{}", unembedded_note(&index));
    }
    Ok(())
}

/// What to tell a user about taxa without an embedding.
pub fn unembedded_note(index: &TaxonIndex) -> String {
    let clades: Vec<String> =
        index.unembedded_clades(Rank::Class, 3).iter().map(|(c, n)| format!("{c}: {n}")).collect();
    format!(
        "note: {} of {} taxa have no embedding (all-zero vectors) and can never be predicted ({}); \
         `arbor index repair {} --model MODEL` embeds them",
        index.unembedded().len(),
        index.len(),
        clades.join("; "),
        index.path().parent().unwrap_or(index.path()).display()
    )
}

fn build_with_model(a: &BuildArgs, taxa: &[TaxonRecord], model: &Path) -> Result<()> {
    let engine = crate::commands::open_engine(model, None, false, a.precision)?;
    let embedder = engine.embedder();
    let labels = arbor_engine::taxon_labels(taxa, a.text_type);
    let progress_file = PathBuf::from(format!("{}.partial", a.out.display()));
    let progress = bar(labels.len() as u64, "encoding labels");
    let encoding =
        arbor_engine::encode_resumable(embedder, &labels, a.templates, &progress_file, a.stop_after, |done| {
            progress.set_position(done as u64)
        })
        .with_context(|| format!("encoding the labels of {}", a.taxonomy.display()))?;
    progress.finish_and_clear();
    if encoding.discarded_progress {
        eprintln!("warning: {} was for another model, taxonomy or templates; started over", progress_file.display());
    }
    if encoding.resumed > 0 {
        eprintln!(
            "resumed: {} of {} labels were already encoded in {}",
            encoding.resumed,
            labels.len(),
            progress_file.display()
        );
    }
    if !encoding.is_complete() {
        eprintln!(
            "stopped after {} of {} labels; run the same command again to resume from {}",
            encoding.done,
            labels.len(),
            progress_file.display()
        );
        return Ok(());
    }
    let m = Matrix { rows: labels.len(), cols: embedder.dim(), data: encoding.rows };
    build(taxa, &m, model, &a.out, &a.graph, Some(engine.identity().text()))?;
    std::fs::remove_file(&progress_file).with_context(|| format!("{}: cannot remove", progress_file.display()))?;
    Ok(())
}

fn info(a: &InfoArgs) -> Result<()> {
    let index = TaxonIndex::open(&a.index)?;
    let info = index.info();
    if a.format == Format::Json {
        return print_json(&info);
    }
    let mut rows = vec![
        vec!["file".into(), info.path.display().to_string()],
        vec!["format version".into(), info.version.to_string()],
        vec!["kind".into(), info.kind.to_string()],
        vec!["model".into(), info.meta.model.clone()],
        vec!["taxa".into(), info.taxa.to_string()],
        vec!["dimension".into(), info.dim.to_string()],
        vec!["dtype".into(), info.dtype.to_string()],
        vec!["size".into(), format!("{:.1} MB", info.bytes as f64 / 1e6)],
        vec![
            "graph".into(),
            info.graph_m.map_or("none (exact only)".into(), |m| format!("HNSW M={m}, {} levels", info.graph_levels)),
        ],
        vec!["source".into(), info.meta.source.clone()],
    ];
    rows.push(vec!["taxa without an embedding".into(), info.unembedded.to_string()]);
    for (clade, n) in &info.unembedded_clades {
        rows.push(vec!["  of which in".into(), format!("{clade}: {n}")]);
    }
    rows.extend(info.nodes_per_rank.iter().map(|(r, n)| vec![format!("{r} nodes"), n.to_string()]));
    print_rows(a.format, &["property", "value"], &rows)
}

fn repair(a: &RepairArgs) -> Result<()> {
    let before = TaxonIndex::open_kind(&a.index, arbor_index::IndexKind::TreeOfLife)?;
    if before.unembedded().is_empty() {
        eprintln!("{}: every taxon has an embedding; nothing to repair", a.index.display());
        return Ok(());
    }
    let clades = before.unembedded_clades(Rank::Class, 3);
    drop(before);
    let engine = crate::commands::open_engine(&a.model, None, false, a.precision)?;
    let name = a.index.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let progress_file = a.index.with_file_name(format!("{name}.repair.partial"));
    let progress = bar(0, "embedding taxa");
    let repair = arbor_engine::repair_unembedded(&engine, &a.index, &progress_file, a.stop_after, |done| {
        progress.set_position(done as u64)
    })
    .with_context(|| format!("repairing {}", a.index.display()))?;
    progress.finish_and_clear();
    if repair.resumed > 0 {
        eprintln!(
            "resumed: {} of {} taxa were already embedded in {}",
            repair.resumed,
            repair.missing,
            progress_file.display()
        );
    }
    if !repair.complete {
        eprintln!(
            "stopped after {} of {} taxa; run the same command again to resume from {}",
            repair.encoded,
            repair.missing,
            progress_file.display()
        );
        return Ok(());
    }
    let clades: Vec<String> = clades.iter().map(|(c, n)| format!("{c}: {n}")).collect();
    eprintln!("repaired {}: embedded {} taxa ({})", a.index.display(), repair.missing, clades.join("; "));
    Ok(())
}

fn verify(a: &InfoArgs) -> Result<()> {
    let index = TaxonIndex::open(&a.index)?;
    let report = index.verify()?;
    if a.format == Format::Json {
        return print_json(&report);
    }
    println!(
        "{}: ok ({} sections, {} bytes checksummed, {} taxa, {} without an embedding)",
        index.path().display(),
        report.sections,
        report.bytes,
        report.taxa,
        report.unembedded
    );
    Ok(())
}

fn within(index: &TaxonIndex, name: Option<&str>) -> Result<Option<Subtree>> {
    name.map(|n| index.find_one(n).with_context(|| index.path().display().to_string())).transpose()
}

fn query(a: &QueryArgs) -> Result<()> {
    for out in a.out.iter().chain(&a.scores) {
        check_output_file(out)?;
    }
    let index = TaxonIndex::open(&a.index)?;
    let q = read_matrix(&a.vectors)?;
    if q.cols != index.dim() {
        bail!("{}: queries have {} dimensions, the index has {}", a.vectors.display(), q.cols, index.dim());
    }
    let sub = within(&index, a.within.as_deref())?;
    let scope = sub.as_ref().map_or(Scope::All, Scope::Within);
    let mode = if a.exact { SearchMode::Exact } else { SearchMode::Approximate { ef: a.ef } };
    let hits = index.search_batch(&q.data, a.k, mode, scope).with_context(|| a.vectors.display().to_string())?;
    if a.out.is_none() && a.scores.is_none() {
        return print_hits(&index, &hits, a.format);
    }
    let cell = |i: usize, j: usize| hits[i].get(j);
    if let Some(out) = &a.out {
        let ids: Vec<i64> = (0..q.rows)
            .flat_map(|i| (0..a.k).map(move |j| (i, j)))
            .map(|(i, j)| cell(i, j).map_or(-1, |h| h.taxon.0 as i64))
            .collect();
        write_npy(out, q.rows, a.k, &ids)?;
    }
    if let Some(out) = &a.scores {
        let s: Vec<f32> = (0..q.rows)
            .flat_map(|i| (0..a.k).map(move |j| (i, j)))
            .map(|(i, j)| cell(i, j).map_or(f32::NAN, |h| h.score))
            .collect();
        write_npy(out, q.rows, a.k, &s)?;
    }
    Ok(())
}

fn print_hits(index: &TaxonIndex, hits: &[Vec<Hit>], format: Format) -> Result<()> {
    let mut rows = Vec::new();
    for (q, list) in hits.iter().enumerate() {
        for (rank, h) in list.iter().enumerate() {
            let t = index.taxon(h.taxon)?;
            rows.push(vec![
                Cell::from(q),
                Cell::from(rank + 1),
                Cell::from(h.taxon.0),
                t.lineage.species().into(),
                t.common_name.into(),
                h.score.into(),
            ]);
        }
    }
    print_rows(format, &["query", "rank", "taxon_id", "species", "common_name", "score"], &rows)
}

fn taxa(a: &TaxaArgs) -> Result<()> {
    let index = TaxonIndex::open_kind(&a.index, arbor_index::IndexKind::TreeOfLife)?;
    let sub = within(&index, a.within.as_deref())?;
    let taxa = index.taxa(sub.as_ref())?;
    match a.format {
        Format::Csv => {
            write_taxonomy_csv(std::io::stdout().lock(), taxa.into_iter().map(|t| (t.lineage, t.common_name)))?;
            Ok(())
        }
        Format::Json => print_json(&taxa),
        Format::Table => {
            let rows: Vec<Vec<String>> = taxa
                .into_iter()
                .map(|t| {
                    let mut row = vec![t.id.to_string()];
                    row.extend(Rank::ALL.iter().map(|&r| t.lineage.get(r).to_owned()));
                    row.push(t.common_name);
                    row
                })
                .collect();
            print_rows(
                Format::Table,
                &["id", "kingdom", "phylum", "class", "order", "family", "genus", "species_epithet", "common_name"],
                &rows,
            )
        }
    }
}
