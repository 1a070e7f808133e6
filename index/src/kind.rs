//! What an index file holds. The same file format stores four kinds of rows, and each
//! command can use only some of them: a photo collection answered as a tree of life would
//! give confident nonsense, so the kind is recorded in the header and checked on open.

/// The kind of rows an index file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IndexKind {
    /// Taxa of a tree of life (lineage + common name) with their text embeddings.
    TreeOfLife,
    /// Few-shot class centroids (the class label as the common name).
    Centroids,
    /// A photo collection (the photo's path as the common name, image embeddings).
    Collection,
    /// Cached embeddings of custom labels (the label as the common name).
    LabelCache,
}

impl IndexKind {
    /// Every kind.
    pub const ALL: [IndexKind; 4] =
        [IndexKind::TreeOfLife, IndexKind::Centroids, IndexKind::Collection, IndexKind::LabelCache];

    pub(crate) fn code(self) -> u32 {
        match self {
            IndexKind::TreeOfLife => 1,
            IndexKind::Centroids => 2,
            IndexKind::Collection => 3,
            IndexKind::LabelCache => 4,
        }
    }

    pub(crate) fn from_code(code: u32) -> Option<IndexKind> {
        IndexKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Format version 1 had no kind field; its writers left a recognisable `source` text.
    pub(crate) fn infer_v1(source: &str) -> IndexKind {
        if source.contains("\"arbor-collection\"") {
            IndexKind::Collection
        } else if source == "arbor few-shot centroids" {
            IndexKind::Centroids
        } else if source == "label cache" {
            IndexKind::LabelCache
        } else {
            IndexKind::TreeOfLife
        }
    }

    /// What a person calls it, with the command that makes one.
    pub fn describe(self) -> &'static str {
        match self {
            IndexKind::TreeOfLife => "a tree of life (see `arbor index`)",
            IndexKind::Centroids => "few-shot centroids (see `arbor fewshot fit`)",
            IndexKind::Collection => "a photo collection (see `arbor collection build`)",
            IndexKind::LabelCache => "a label cache",
        }
    }
}

impl std::fmt::Display for IndexKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IndexKind::TreeOfLife => "tree-of-life",
            IndexKind::Centroids => "centroids",
            IndexKind::Collection => "collection",
            IndexKind::LabelCache => "label-cache",
        })
    }
}
