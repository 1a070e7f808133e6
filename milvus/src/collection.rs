//! An Arbor photo collection in Milvus: its schema (checked on open), its HNSW index, rows in,
//! searches out.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use prost::Message;
use serde::Serialize;

use crate::client::Client;
use crate::proto::{self, FieldData, Scalars, data_type, kv};
use crate::{MilvusError, MilvusUrl, Result};

/// The ranks stored per photo, kingdom first, as fields `lineage_<rank>`.
pub const RANKS: [&str; 7] = ["kingdom", "phylum", "class", "order", "family", "genus", "species"];

/// The kind and version of collection this crate writes and reads, first in the collection's
/// description (the model's identity follows it).
pub const FORMAT: &str = "arbor-photos v2";

/// Longest photo path Milvus keeps (its VarChar limit).
const PATH_MAX: usize = 65_535;
/// Longest taxon name at one rank.
const NAME_MAX: usize = 1024;
/// The score stored for a photo exported without a prediction.
const NO_SCORE: f32 = -1.0;
/// HNSW search width used when a search names none (as for local collections' graphs).
pub const DEFAULT_EF: usize = 256;

/// HNSW construction parameters of a new collection's vector index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hnsw {
    /// Links per node (Milvus: 4–64).
    pub m: u32,
    /// Beam width while building (Milvus: 8–512).
    pub ef_construction: u32,
}

impl Default for Hnsw {
    /// M 16, efConstruction 200: the local taxon index's parameters.
    fn default() -> Self {
        Hnsw { m: 16, ef_construction: 200 }
    }
}

/// How a new collection is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The vector index.
    pub hnsw: Hnsw,
    /// Shards (one per data node that writes in parallel; 1 for a standalone server).
    pub shards: u32,
}

impl Default for Layout {
    fn default() -> Self {
        Layout { hnsw: Hnsw::default(), shards: 1 }
    }
}

/// One photo's row.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoRow {
    /// The photo's path (the collection's key).
    pub path: String,
    /// Its unit embedding.
    pub vector: Vec<f32>,
    /// Its predicted taxon, kingdom down to species, and the prediction's probability.
    pub lineage: Option<([String; 7], f32)>,
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// The photo's path.
    pub path: String,
    /// Cosine similarity (inner product of unit vectors).
    pub score: f32,
}

/// What a search asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Search<'a> {
    /// How many photos.
    pub k: usize,
    /// HNSW beam width (at least `k`; [`DEFAULT_EF`] or `k` when `None`).
    pub ef: Option<usize>,
    /// Only photos whose predicted lineage holds this taxon, at any rank.
    pub within: Option<&'a str>,
}

/// How far the server has indexed the collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexProgress {
    /// Rows in sealed segments the index covers.
    pub indexed: u64,
    /// Rows the index will cover once built.
    pub total: u64,
    /// Whether the build is finished and the query nodes search every row through it.
    pub finished: bool,
}

/// An open Arbor photo collection in Milvus: it exists, was made for vectors of this width by
/// this model, and is loaded for search.
pub struct Collection {
    client: Client,
    url: MilvusUrl,
    dim: usize,
    hnsw: Option<Hnsw>,
}

/// What `describe` finds in a collection's schema.
struct Found {
    dim: usize,
    model: String,
}

impl Collection {
    /// Opens `url`'s collection for vectors of `dim` from `model`.
    ///
    /// # Errors
    /// The server cannot be reached, the collection does not exist, is not an Arbor photo
    /// collection, or was made for another width or model.
    pub fn open(url: &MilvusUrl, dim: usize, model: &str) -> Result<Collection> {
        let client = Client::connect(url)?;
        let found = describe(&client, url)?.ok_or_else(|| mismatch(url, "no such collection".into()))?;
        Collection::opened(client, url, found, dim, model)
    }

    /// Opens `url`'s collection for vectors of `dim` from `model`, creating it with `layout`
    /// if it does not exist; says whether it was created. An existing collection keeps its
    /// own layout (see [`Collection::hnsw`]).
    ///
    /// # Errors
    /// As [`Collection::open`], or the server refuses to create it.
    pub fn create_or_open(url: &MilvusUrl, dim: usize, model: &str, layout: Layout) -> Result<(Collection, bool)> {
        let client = Client::connect(url)?;
        if let Some(found) = describe(&client, url)? {
            return Ok((Collection::opened(client, url, found, dim, model)?, false));
        }
        create(&client, url, dim, model, layout)?;
        let found = Found { dim, model: model.to_owned() };
        Ok((Collection::opened(client, url, found, dim, model)?, true))
    }

    fn opened(client: Client, url: &MilvusUrl, found: Found, dim: usize, model: &str) -> Result<Collection> {
        if found.dim != dim {
            return Err(mismatch(url, format!("its vectors are {}-d, these are {dim}-d", found.dim)));
        }
        if found.model != model {
            return Err(mismatch(
                url,
                format!(
                    "its vectors come from model {}, not this one ({}): use the model it was built with",
                    short(&found.model),
                    short(model)
                ),
            ));
        }
        let hnsw = vector_index(&client, url)?;
        let collection = Collection { client, url: url.clone(), dim, hnsw };
        collection.load()?;
        Ok(collection)
    }

    /// The URL.
    pub fn url(&self) -> &MilvusUrl {
        &self.url
    }

    /// The vectors' width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The HNSW parameters of its vector index (`None`: another index type).
    pub fn hnsw(&self) -> Option<Hnsw> {
        self.hnsw
    }

    /// Each indexed field with its index type (`HNSW` for the vectors, `Trie` for the lineage
    /// names of a collection this crate created), sorted by field.
    ///
    /// # Errors
    /// The server refuses.
    pub fn indexes(&self) -> Result<Vec<(String, String)>> {
        let request =
            proto::DescribeIndexRequest { collection_name: self.url.collection.clone(), field_name: String::new() };
        let d = self.client.call("describing the indexes", request)?;
        let mut found: Vec<(String, String)> = d
            .index_descriptions
            .into_iter()
            .map(|i| {
                let kind = i.params.iter().find(|p| p.key == "index_type").map(|p| p.value.clone()).unwrap_or_default();
                (i.field_name, kind)
            })
            .collect();
        found.sort();
        Ok(found)
    }

    /// Loads the collection into the query nodes (a released one cannot be searched) and waits
    /// until it is.
    fn load(&self) -> Result<()> {
        let name = self.url.collection.clone();
        let state = |c: &Client| -> Result<i32> {
            Ok(c.call("asking whether it is loaded", proto::GetLoadStateRequest { collection_name: name.clone() })?
                .state)
        };
        if state(&self.client)? == proto::LOADED {
            return Ok(());
        }
        self.client.call(
            "loading the collection",
            proto::LoadCollectionRequest { collection_name: name.clone(), replica_number: 0 },
        )?;
        let start = Instant::now();
        while state(&self.client)? != proto::LOADED {
            if start.elapsed() > Duration::from_secs(600) {
                return Err(mismatch(&self.url, "the collection did not load within 10 minutes".into()));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    /// Which of `paths` are already in the collection (read with strong consistency: rows
    /// inserted a moment ago count).
    ///
    /// # Errors
    /// The server refuses.
    pub fn existing(&self, paths: &[String]) -> Result<HashSet<String>> {
        Ok(self.rows_of(paths)?.into_iter().collect())
    }

    /// The stored rows' paths for `paths`, one per row: a path stored twice comes back twice.
    ///
    /// # Errors
    /// The server refuses.
    pub fn rows_of(&self, paths: &[String]) -> Result<Vec<String>> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = paths.iter().map(|p| quote(p)).collect();
        let answer = self.query("listing what it holds", format!("path in [{}]", list.join(",")), "path")?;
        Ok(answer.iter().find(|f| f.field_name == "path").and_then(FieldData::strings).unwrap_or_default().to_vec())
    }

    /// How many photos it holds.
    ///
    /// # Errors
    /// The server refuses.
    pub fn count(&self) -> Result<u64> {
        let answer = self.query("counting its rows", String::new(), "count(*)")?;
        let n = answer.iter().find_map(FieldData::longs).and_then(|l| l.first().copied());
        n.map(|n| n as u64).ok_or_else(|| mismatch(&self.url, "the server did not answer count(*)".into()))
    }

    fn query(&self, what: &'static str, expr: String, field: &str) -> Result<Vec<FieldData>> {
        let request = proto::QueryRequest {
            collection_name: self.url.collection.clone(),
            expr,
            output_fields: vec![field.to_owned()],
            query_params: Vec::new(),
            consistency_level: proto::STRONG,
            use_default_consistency: false,
        };
        Ok(self.client.call(what, request)?.fields_data)
    }

    /// Inserts rows; returns how many.
    ///
    /// # Errors
    /// A row is not of the collection's width, a name is too long, or the server refuses.
    pub fn insert(&self, rows: &[PhotoRow]) -> Result<usize> {
        if rows.is_empty() {
            return Ok(0);
        }
        let mut vectors = Vec::with_capacity(rows.len() * self.dim);
        for r in rows {
            if r.vector.len() != self.dim {
                return Err(mismatch(
                    &self.url,
                    format!("{}: a {}-d vector for a {}-d collection", r.path, r.vector.len(), self.dim),
                ));
            }
            if r.path.len() > PATH_MAX {
                return Err(mismatch(
                    &self.url,
                    format!("{}…: a path longer than Milvus keeps ({PATH_MAX} bytes)", truncate(&r.path, 64)),
                ));
            }
            vectors.extend_from_slice(&r.vector);
        }
        let mut columns = vec![
            FieldData::scalars(
                "path",
                data_type::VARCHAR,
                Scalars::String(proto::StringArray { data: rows.iter().map(|r| r.path.clone()).collect() }),
            ),
            FieldData {
                r#type: data_type::FLOAT_VECTOR,
                field_name: "vector".into(),
                field: Some(proto::Field::Vectors(proto::VectorField {
                    dim: self.dim as i64,
                    float_vector: Some(proto::FloatArray { data: vectors }),
                })),
                is_dynamic: false,
            },
        ];
        for (i, rank) in RANKS.iter().enumerate() {
            let names = rows.iter().map(|r| r.lineage.as_ref().map_or("", |(l, _)| l[i].as_str()));
            let names: Vec<String> = names.map(|n| truncate(n, NAME_MAX).to_owned()).collect();
            columns.push(FieldData::scalars(
                &format!("lineage_{rank}"),
                data_type::VARCHAR,
                Scalars::String(proto::StringArray { data: names }),
            ));
        }
        let scores = rows.iter().map(|r| r.lineage.as_ref().map_or(NO_SCORE, |(_, s)| *s)).collect();
        columns.push(FieldData::scalars(
            "lineage_score",
            data_type::FLOAT,
            Scalars::Float(proto::FloatArray { data: scores }),
        ));
        let request = proto::InsertRequest {
            collection_name: self.url.collection.clone(),
            fields_data: columns,
            num_rows: rows.len() as u32,
        };
        Ok(self.client.call("the insert", request)?.insert_cnt as usize)
    }

    /// Seals what was inserted into segments, which the server persists and indexes, and
    /// waits until they are written.
    ///
    /// # Errors
    /// The server refuses, or the segments are not written within `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        let name = &self.url.collection;
        let mut answer = self.client.call("the flush", proto::FlushRequest { collection_names: vec![name.clone()] })?;
        let mut segment_ids = answer.coll_seg_ids.remove(name).unwrap_or_default().data;
        segment_ids.extend(answer.flush_coll_seg_ids.remove(name).unwrap_or_default().data);
        let request = proto::GetFlushStateRequest {
            segment_ids,
            flush_ts: answer.coll_flush_ts.get(name).copied().unwrap_or(0),
            collection_name: name.clone(),
        };
        let start = Instant::now();
        while !self.client.call("asking whether the flush is done", request.clone())?.flushed {
            if start.elapsed() > timeout {
                return Err(mismatch(&self.url, format!("the flush was not done within {} s", timeout.as_secs())));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    /// How far the vector index is built and served.
    ///
    /// # Errors
    /// The server refuses, or reports that the build failed.
    pub fn index_progress(&self) -> Result<IndexProgress> {
        let built = self.index_built()?;
        // Built is not yet served: until the query nodes load the sealed segments with their
        // index (measured: 5-10 s after the build on a standalone server), searches still go
        // to the growing segments' interim index, whose recall no `ef` changes.
        let finished = built.finished && self.served_sealed()? >= self.count()?;
        Ok(IndexProgress { finished, ..built })
    }

    fn index_built(&self) -> Result<IndexProgress> {
        let d = describe_index(&self.client, &self.url)?
            .ok_or_else(|| mismatch(&self.url, "its vector field has no index".into()))?;
        if d.state == proto::INDEX_FAILED {
            return Err(mismatch(&self.url, format!("the index build failed: {}", d.index_state_fail_reason)));
        }
        Ok(IndexProgress {
            indexed: d.indexed_rows.max(0) as u64,
            total: d.total_rows.max(0) as u64,
            finished: d.state == proto::INDEX_FINISHED && d.pending_index_rows == 0 && d.indexed_rows >= d.total_rows,
        })
    }

    /// The `k` photos nearest `query` (a unit vector), optionally only those whose predicted
    /// lineage holds `within` at some rank; ranked and filtered by the server.
    ///
    /// # Errors
    /// The query is of another width, `ef` is below `k`, or the server refuses.
    pub fn search(&self, query: &[f32], search: Search<'_>) -> Result<Vec<Hit>> {
        if query.len() != self.dim {
            return Err(mismatch(&self.url, format!("a {}-d query for a {}-d collection", query.len(), self.dim)));
        }
        let ef = search.ef.unwrap_or(DEFAULT_EF.max(search.k));
        if ef < search.k {
            return Err(mismatch(
                &self.url,
                format!("ef {ef} is below k {}: HNSW cannot return more than ef", search.k),
            ));
        }
        let vector: Vec<u8> = query.iter().flat_map(|x| x.to_le_bytes()).collect();
        let placeholders = proto::PlaceholderGroup {
            placeholders: vec![proto::PlaceholderValue {
                tag: "$0".into(),
                r#type: proto::PLACEHOLDER_FLOAT_VECTOR,
                values: vec![vector],
            }],
        };
        let filter = search.within.map_or(String::new(), |name| {
            let q = quote(name);
            RANKS.iter().map(|r| format!("lineage_{r} == {q}")).collect::<Vec<_>>().join(" || ")
        });
        let request = proto::SearchRequest {
            collection_name: self.url.collection.clone(),
            dsl: filter,
            placeholder_group: placeholders.encode_to_vec(),
            dsl_type: proto::BOOL_EXPR,
            output_fields: vec!["path".into()],
            search_params: vec![
                kv("anns_field", "vector"),
                kv("topk", search.k.to_string()),
                kv("metric_type", "IP"),
                kv("params", format!("{{\"ef\": {ef}}}")),
                kv("round_decimal", "-1"),
            ],
            nq: 1,
            // No wait for the query nodes' clock: a strong read costs a time tick (measured 280
            // ms a query instead of 2), and every Arbor write ends by flushing and waiting until
            // the query nodes serve the sealed, indexed segments, so what it wrote is there.
            consistency_level: proto::EVENTUALLY,
            use_default_consistency: false,
        };
        let results = self.client.call("the search", request)?.results.unwrap_or_default();
        let paths = results
            .fields_data
            .iter()
            .find(|f| f.field_name == "path")
            .and_then(FieldData::strings)
            .unwrap_or_default();
        if paths.len() != results.scores.len() {
            return Err(mismatch(
                &self.url,
                format!("the server answered {} scores for {} paths", results.scores.len(), paths.len()),
            ));
        }
        Ok(paths.iter().zip(&results.scores).map(|(p, &score)| Hit { path: p.clone(), score }).collect())
    }

    /// Rows the query nodes serve from sealed segments (with their index, where the segment
    /// is big enough for one); rows still in growing segments are not counted.
    fn served_sealed(&self) -> Result<u64> {
        let info = self.client.call(
            "asking which segments are served",
            proto::GetQuerySegmentInfoRequest { collection_name: self.url.collection.clone() },
        )?;
        Ok(info.infos.iter().filter(|s| s.state != proto::GROWING).map(|s| s.num_rows.max(0) as u64).sum())
    }

    /// Waits until the vector index covers every row, calling `progress` with each answer.
    ///
    /// # Errors
    /// The server refuses, the build fails, or it makes no progress for `stall`.
    pub fn wait_indexed(&self, stall: Duration, mut progress: impl FnMut(IndexProgress)) -> Result<()> {
        let (mut last, mut since) = (None, Instant::now());
        loop {
            let p = self.index_progress()?;
            progress(p);
            if p.finished {
                return Ok(());
            }
            if last != Some(p.indexed) {
                (last, since) = (Some(p.indexed), Instant::now());
            } else if since.elapsed() > stall {
                return Err(mismatch(
                    &self.url,
                    format!(
                        "the index build made no progress in {} s ({} of {} rows)",
                        stall.as_secs(),
                        p.indexed,
                        p.total
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// The collection's width and model, if it exists; an error if it is not an Arbor photo
/// collection of this format.
fn describe(client: &Client, url: &MilvusUrl) -> Result<Option<Found>> {
    let has = client
        .call("asking for the collection", proto::HasCollectionRequest { collection_name: url.collection.clone() })?;
    if !has.value {
        return Ok(None);
    }
    let d = client.call(
        "describing the collection",
        proto::DescribeCollectionRequest { collection_name: url.collection.clone() },
    )?;
    let schema = d.schema.unwrap_or_default();
    let Some(model) = schema.description.strip_prefix(FORMAT).and_then(|rest| rest.strip_prefix(" model ")) else {
        let found = if schema.description.starts_with("arbor") {
            format!(
                "written by another version of Arbor ({:?}); this one reads {FORMAT}: export it again",
                schema.description
            )
        } else {
            "not an Arbor photo collection".to_owned()
        };
        return Err(mismatch(url, found));
    };
    let field = |name: &str, ty: i32| schema.fields.iter().find(|f| f.name == name && f.data_type == ty);
    let vector = field("vector", data_type::FLOAT_VECTOR)
        .ok_or_else(|| mismatch(url, "it has no float vector field `vector`".into()))?;
    let dim = vector.type_params.iter().find(|p| p.key == "dim").and_then(|p| p.value.parse().ok());
    let dim = dim.ok_or_else(|| mismatch(url, "its vector field has no dimension".into()))?;
    let texts = std::iter::once("path".to_owned()).chain(RANKS.iter().map(|r| format!("lineage_{r}")));
    for name in texts {
        if field(&name, data_type::VARCHAR).is_none() {
            return Err(mismatch(url, format!("it has no text field `{name}`")));
        }
    }
    Ok(Some(Found { dim, model: model.to_owned() }))
}

fn create(client: &Client, url: &MilvusUrl, dim: usize, model: &str, layout: Layout) -> Result<()> {
    let text = |name: &str, max: usize| proto::FieldSchema {
        name: name.into(),
        data_type: data_type::VARCHAR,
        type_params: vec![kv("max_length", max.to_string())],
        ..Default::default()
    };
    let mut fields = vec![
        proto::FieldSchema {
            name: "id".into(),
            is_primary_key: true,
            data_type: data_type::INT64,
            auto_id: true,
            ..Default::default()
        },
        text("path", PATH_MAX),
        proto::FieldSchema {
            name: "vector".into(),
            data_type: data_type::FLOAT_VECTOR,
            type_params: vec![kv("dim", dim.to_string())],
            ..Default::default()
        },
    ];
    fields.extend(RANKS.iter().map(|r| text(&format!("lineage_{r}"), NAME_MAX)));
    fields.push(proto::FieldSchema { name: "lineage_score".into(), data_type: data_type::FLOAT, ..Default::default() });
    let schema = proto::CollectionSchema {
        name: url.collection.clone(),
        description: format!("{FORMAT} model {model}"),
        fields,
        enable_dynamic_field: false,
    };
    client.call(
        "creating the collection",
        proto::CreateCollectionRequest {
            collection_name: url.collection.clone(),
            schema: schema.encode_to_vec(),
            shards_num: layout.shards as i32,
            consistency_level: proto::STRONG,
        },
    )?;
    let params = format!("{{\"M\": {}, \"efConstruction\": {}}}", layout.hnsw.m, layout.hnsw.ef_construction);
    client.call(
        "creating the HNSW index",
        proto::CreateIndexRequest {
            collection_name: url.collection.clone(),
            field_name: "vector".into(),
            extra_params: vec![kv("index_type", "HNSW"), kv("metric_type", "IP"), kv("params", params)],
            index_name: "vector".into(),
        },
    )?;
    // A trie per rank, so `--within` looks names up instead of scanning every row's strings.
    for rank in RANKS {
        let field = format!("lineage_{rank}");
        client.call(
            "creating a lineage index",
            proto::CreateIndexRequest {
                collection_name: url.collection.clone(),
                field_name: field.clone(),
                extra_params: vec![kv("index_type", "Trie")],
                index_name: field,
            },
        )?;
    }
    Ok(())
}

fn describe_index(client: &Client, url: &MilvusUrl) -> Result<Option<proto::IndexDescription>> {
    let request = proto::DescribeIndexRequest { collection_name: url.collection.clone(), field_name: "vector".into() };
    match client.call("describing the index", request) {
        Ok(d) => Ok(d.index_descriptions.into_iter().find(|d| d.field_name == "vector")),
        // Milvus answers "index not found" with an error status.
        Err(MilvusError::Server { message, .. }) if message.contains("not found") || message.contains("not exist") => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The vector index's HNSW parameters, if it is an HNSW index.
fn vector_index(client: &Client, url: &MilvusUrl) -> Result<Option<Hnsw>> {
    let Some(d) = describe_index(client, url)? else { return Ok(None) };
    let get = |key: &str| d.params.iter().find(|p| p.key == key).map(|p| p.value.clone());
    if get("index_type").as_deref() != Some("HNSW") {
        return Ok(None);
    }
    // Milvus keeps the build parameters as a JSON object under "params", or flat.
    let nested: Option<serde_json::Value> = get("params").and_then(|p| serde_json::from_str(&p).ok());
    let number = |key: &str| {
        nested
            .as_ref()
            .and_then(|n| n.get(key))
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .or_else(|| get(key)?.parse().ok())
            .map(|v| v as u32)
    };
    Ok(number("M").zip(number("efConstruction")).map(|(m, ef_construction)| Hnsw { m, ef_construction }))
}

fn mismatch(url: &MilvusUrl, message: String) -> MilvusError {
    MilvusError::Mismatch { url: url.to_string(), message }
}

/// A string literal of Milvus's filter language.
pub(crate) fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn short(identity: &str) -> &str {
    identity.get(..12).unwrap_or(identity)
}

/// `s` cut to at most `max` bytes on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_literals_are_escaped_and_names_cut_on_characters() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("aéb", 2), "a");
        assert_eq!(truncate("aéb", 3), "aé");
    }

    #[test]
    fn a_server_that_is_not_there_is_named() {
        // Port 9 (discard) on localhost: nothing listens there.
        let url: MilvusUrl = "milvus://127.0.0.1:9/photos".parse().unwrap();
        let e = Collection::open(&url, 4, "m").err().unwrap().to_string();
        assert!(e.starts_with("milvus://127.0.0.1:9/photos: cannot reach the Milvus server"), "{e}");
    }
}
