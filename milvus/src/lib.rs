//! # arbor-milvus
//!
//! Photo collections past one machine: an Arbor collection's embeddings put into a Milvus
//! collection (one row per photo: the unit vector, the photo's path, and — where the photos
//! were classified — the predicted taxon at each rank with its score), and searched there by
//! inner product with a taxon filter done by Milvus. The client speaks Milvus's REST API (v1,
//! served on the same port as gRPC since Milvus 2.3) through `ureq`: a few JSON calls need no
//! generated gRPC code, no protobuf compiler and no async runtime. The model that made the
//! vectors is recorded in the collection's description, and a search with another model is
//! refused, as for local collections. Every error names the `milvus://` URL.

#![warn(missing_docs)]

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

/// The ranks stored per photo, kingdom first, as fields `lineage_<rank>`.
pub const RANKS: [&str; 7] = ["kingdom", "phylum", "class", "order", "family", "genus", "species"];

/// How long Milvus may take to show rows just inserted to queries and searches: its default
/// consistency ("Bounded") reads as of `common.gracefulTime` (5 s) ago, and REST v1 offers no
/// stronger level. An export into an existing collection waits this long before asking what
/// it holds, so a run interrupted a moment ago is seen whole.
pub const STALENESS: Duration = Duration::from_millis(5500);

/// Prefix of the description that records the model identity.
const MODEL_PREFIX: &str = "arbor model ";

/// Anything that can go wrong talking to Milvus.
#[derive(Debug, thiserror::Error)]
pub enum MilvusError {
    /// Not a `milvus://host:port/collection` URL.
    #[error("{0:?} is not a Milvus URL (milvus://HOST:PORT/COLLECTION)")]
    Url(String),
    /// The server cannot be reached.
    #[error("{url}: cannot reach the Milvus server: {message}")]
    Connect {
        /// The URL.
        url: String,
        /// What the HTTP client said.
        message: String,
    },
    /// The server answered with an error.
    #[error("{url}: Milvus refused {what}: {message} (code {code})")]
    Server {
        /// The URL.
        url: String,
        /// The request.
        what: &'static str,
        /// Milvus's code.
        code: i64,
        /// Milvus's message.
        message: String,
    },
    /// The collection does not fit what is asked of it.
    #[error("{url}: {message}")]
    Mismatch {
        /// The URL.
        url: String,
        /// What does not fit.
        message: String,
    },
}

/// Result alias.
pub type Result<T, E = MilvusError> = std::result::Result<T, E>;

/// Where a collection is: `milvus://HOST:PORT/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MilvusUrl {
    /// Host name or address.
    pub host: String,
    /// Port of the server (19530 by default).
    pub port: u16,
    /// The collection's name.
    pub collection: String,
}

impl std::str::FromStr for MilvusUrl {
    type Err = MilvusError;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || MilvusError::Url(s.to_owned());
        let rest = s.strip_prefix("milvus://").ok_or_else(bad)?;
        let (authority, collection) = rest.split_once('/').ok_or_else(bad)?;
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
            None => (authority, 19530),
        };
        // Milvus's collection names: a letter or underscore, then letters, digits, underscores.
        let name_ok = collection.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && collection.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if host.is_empty() || !name_ok {
            return Err(bad());
        }
        Ok(MilvusUrl { host: host.to_owned(), port, collection: collection.to_owned() })
    }
}

impl std::fmt::Display for MilvusUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "milvus://{}:{}/{}", self.host, self.port, self.collection)
    }
}

impl MilvusUrl {
    /// Whether `s` names a Milvus collection (rather than a local folder).
    pub fn is_milvus(s: &str) -> bool {
        s.starts_with("milvus://")
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

/// A Milvus collection of photos.
pub struct Collection {
    url: MilvusUrl,
    agent: ureq::Agent,
}

impl Collection {
    /// A handle on `url`'s collection (nothing is sent yet).
    pub fn new(url: MilvusUrl) -> Collection {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .build();
        Collection { url, agent: config.into() }
    }

    /// The URL.
    pub fn url(&self) -> &MilvusUrl {
        &self.url
    }

    fn call(&self, what: &'static str, path: &str, body: Option<Value>) -> Result<Value> {
        let endpoint = format!("http://{}:{}{path}", self.url.host, self.url.port);
        let connect = |e: ureq::Error| MilvusError::Connect { url: self.url.to_string(), message: e.to_string() };
        let mut response = match body {
            Some(b) => self.agent.post(&endpoint).send_json(b).map_err(connect)?,
            None => self.agent.get(&endpoint).call().map_err(connect)?,
        };
        let status = response.status().as_u16();
        let value: Value = response.body_mut().read_json().map_err(|e| MilvusError::Server {
            url: self.url.to_string(),
            what,
            code: i64::from(status),
            message: format!("not a Milvus answer ({e}); is this Milvus's port?"),
        })?;
        match value.get("code").and_then(Value::as_i64) {
            Some(200) => Ok(value.get("data").cloned().unwrap_or(Value::Null)),
            code => Err(MilvusError::Server {
                url: self.url.to_string(),
                what,
                code: code.unwrap_or(i64::from(status)),
                message: value.get("message").and_then(Value::as_str).unwrap_or("no message").to_owned(),
            }),
        }
    }

    /// The collection's width and the model identity it records, if it exists.
    ///
    /// # Errors
    /// The server cannot be reached or refuses.
    pub fn describe(&self) -> Result<Option<(usize, String)>> {
        let names = self.call("listing collections", "/v1/vector/collections", None)?;
        if !names.as_array().is_some_and(|a| a.iter().any(|n| n.as_str() == Some(&self.url.collection))) {
            return Ok(None);
        }
        let d = self.call(
            "describing the collection",
            &format!("/v1/vector/collections/describe?collectionName={}", self.url.collection),
            None,
        )?;
        let dim = d["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|f| f["type"].as_str()?.strip_prefix("FloatVector(")?.strip_suffix(')')?.parse().ok())
            .ok_or_else(|| self.mismatch("it has no float vector field: not an Arbor collection".into()))?;
        let model = d["description"].as_str().and_then(|s| s.strip_prefix(MODEL_PREFIX)).unwrap_or_default();
        Ok(Some((dim, model.to_owned())))
    }

    fn mismatch(&self, message: String) -> MilvusError {
        MilvusError::Mismatch { url: self.url.to_string(), message }
    }

    /// Opens the collection for vectors of `dim` from `model`, creating it (inner product on
    /// unit vectors, the server's own vector index) if it does not exist.
    ///
    /// # Errors
    /// It exists with another width or model, or the server refuses.
    pub fn create_or_check(&self, dim: usize, model: &str) -> Result<bool> {
        if let Some(found) = self.describe()? {
            self.check(&found, dim, model)?;
            return Ok(false);
        }
        self.call(
            "creating the collection",
            "/v1/vector/collections/create",
            Some(json!({
                "collectionName": self.url.collection, "dimension": dim, "metricType": "IP",
                "primaryField": "id", "vectorField": "vector", "description": format!("{MODEL_PREFIX}{model}"),
            })),
        )?;
        Ok(true)
    }

    fn check(&self, (found_dim, found_model): &(usize, String), dim: usize, model: &str) -> Result<()> {
        if *found_dim != dim {
            return Err(self.mismatch(format!("its vectors are {found_dim}-d, these are {dim}-d")));
        }
        if found_model != model {
            return Err(self.mismatch(format!(
                "its vectors come from model {}, not this one ({}): use the model it was built with",
                short(found_model),
                short(model)
            )));
        }
        Ok(())
    }

    /// Which of `paths` are already in the collection.
    ///
    /// # Errors
    /// The server refuses.
    pub fn existing(&self, paths: &[String]) -> Result<HashSet<String>> {
        Ok(self.rows_of(paths)?.into_iter().collect())
    }

    /// The stored rows' paths for `paths` (at most 8,000 at a time), one per row: a path
    /// stored twice comes back twice. Read with strong consistency, so rows inserted a moment
    /// ago count (an export rerun right after an interrupted one must see them).
    ///
    /// # Errors
    /// The server refuses.
    pub fn rows_of(&self, paths: &[String]) -> Result<Vec<String>> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = paths.iter().map(|p| quote(p)).collect();
        let data = self.call(
            "listing what it holds",
            "/v1/vector/query",
            Some(json!({
                "collectionName": self.url.collection, "filter": format!("path in [{}]", list.join(",")),
                "outputFields": ["path"], "limit": (2 * paths.len()).min(16384), "consistencyLevel": "Strong",
            })),
        )?;
        Ok(data.as_array().into_iter().flatten().filter_map(|r| r["path"].as_str().map(str::to_owned)).collect())
    }

    /// Waits (up to a minute) until every one of `paths` is visible to queries.
    ///
    /// # Errors
    /// The server refuses, or the rows do not show within the minute.
    pub fn wait_visible(&self, paths: &[String]) -> Result<()> {
        let start = std::time::Instant::now();
        loop {
            if self.existing(paths)?.len() == paths.iter().collect::<HashSet<_>>().len() {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(self.mismatch("inserted rows did not become visible within a minute".into()));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Inserts rows; returns how many.
    ///
    /// # Errors
    /// The server refuses.
    pub fn insert(&self, rows: &[PhotoRow]) -> Result<usize> {
        if rows.is_empty() {
            return Ok(0);
        }
        let data: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut row = json!({"vector": r.vector, "path": r.path});
                if let Some((lineage, score)) = &r.lineage {
                    for (rank, name) in RANKS.iter().zip(lineage) {
                        row[format!("lineage_{rank}")] = name.clone().into();
                    }
                    row["lineage_score"] = (*score).into();
                }
                row
            })
            .collect();
        let done = self.call(
            "the insert",
            "/v1/vector/insert",
            Some(json!({"collectionName": self.url.collection, "data": data})),
        )?;
        Ok(done["insertCount"].as_u64().unwrap_or(0) as usize)
    }

    /// The `k` photos nearest `query` (a unit vector of `model`), optionally only those whose
    /// predicted lineage holds `within` at some rank. The server's own index answers (REST v1
    /// takes no search parameters: an HNSW beam width cannot be passed through it).
    ///
    /// # Errors
    /// The collection does not exist, is of another width or model, or the server refuses.
    pub fn search(&self, query: &[f32], model: &str, k: usize, within: Option<&str>) -> Result<Vec<Hit>> {
        let found = self.describe()?.ok_or_else(|| self.mismatch("no such collection".into()))?;
        self.check(&found, query.len(), model)?;
        let mut body = json!({
            "collectionName": self.url.collection, "vector": query, "limit": k, "outputFields": ["path"],
            "consistencyLevel": "Strong",
        });
        if let Some(name) = within {
            let q = quote(name);
            body["filter"] =
                RANKS.iter().map(|r| format!("lineage_{r} == {q}")).collect::<Vec<_>>().join(" or ").into();
        }
        let data = self.call("the search", "/v1/vector/search", Some(body))?;
        Ok(data
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| Some(Hit { path: h["path"].as_str()?.to_owned(), score: h["distance"].as_f64()? as f32 }))
            .collect())
    }
}

/// A string literal of Milvus's filter language.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn short(identity: &str) -> &str {
    identity.get(..12).unwrap_or(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_port_and_collection() {
        let u: MilvusUrl = "milvus://127.0.0.1:19531/my_photos".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port, u.collection.as_str()), ("127.0.0.1", 19531, "my_photos"));
        assert_eq!(u.to_string(), "milvus://127.0.0.1:19531/my_photos");
        assert_eq!("milvus://db/p".parse::<MilvusUrl>().unwrap().port, 19530);
        for bad in
            ["http://h:1/c", "milvus://h:1", "milvus://h:x/c", "milvus://h:1/9c", "milvus://h:1/a-b", "milvus://:1/c"]
        {
            assert!(bad.parse::<MilvusUrl>().is_err(), "{bad}");
        }
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }

    #[test]
    fn a_server_that_is_not_there_is_named() {
        // Port 9 (discard) on localhost: nothing listens there.
        let c = Collection::new("milvus://127.0.0.1:9/photos".parse().unwrap());
        let e = c.describe().unwrap_err().to_string();
        assert!(e.starts_with("milvus://127.0.0.1:9/photos: cannot reach the Milvus server"), "{e}");
    }
}
