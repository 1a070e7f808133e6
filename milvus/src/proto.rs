//! The part of Milvus's gRPC protocol (`milvus-proto`, package `milvus.proto.milvus`) that Arbor
//! speaks, declared by hand with `prost`'s derives: no protobuf compiler and no build script.
//! Tags are those of milvus-proto, which keeps them stable across releases (Milvus 2.3 on);
//! fields Arbor does not use are left out, and prost skips them on decoding. Enumerations are
//! plain `int32`s with their values as constants.

#![allow(missing_docs)]

use std::collections::HashMap;

use prost::{Message, Oneof};

/// `common.DataType` values.
pub mod data_type {
    pub const INT64: i32 = 5;
    pub const FLOAT: i32 = 10;
    pub const VARCHAR: i32 = 21;
    pub const FLOAT_VECTOR: i32 = 101;
}

/// `common.ConsistencyLevel::Strong`: a read sees every write acknowledged before it, after
/// waiting for the query nodes to catch up (a time tick, about 200 ms).
pub const STRONG: i32 = 0;
/// `common.ConsistencyLevel::Eventually`: a read sees what the query nodes have, without waiting.
pub const EVENTUALLY: i32 = 3;
/// `common.DslType::BoolExprV1`: the filter is a boolean expression.
pub const BOOL_EXPR: i32 = 1;
/// `common.PlaceholderType::FloatVector`.
pub const PLACEHOLDER_FLOAT_VECTOR: i32 = 101;
/// `common.LoadState::LoadStateLoaded`.
pub const LOADED: i32 = 3;
/// `common.IndexState::Finished` and `::Failed`.
pub const INDEX_FINISHED: i32 = 3;
pub const INDEX_FAILED: i32 = 4;

#[derive(Clone, PartialEq, Message)]
pub struct Status {
    /// The deprecated `ErrorCode` (Milvus 2.3 still answers with it; 0 is success).
    #[prost(int32, tag = "1")]
    pub error_code: i32,
    #[prost(string, tag = "2")]
    pub reason: String,
    /// The newer error code (0 is success).
    #[prost(int32, tag = "3")]
    pub code: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct KeyValuePair {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

pub fn kv(key: &str, value: impl Into<String>) -> KeyValuePair {
    KeyValuePair { key: key.to_owned(), value: value.into() }
}

// ---- schema.proto ----

#[derive(Clone, PartialEq, Message)]
pub struct CollectionSchema {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub description: String,
    #[prost(message, repeated, tag = "4")]
    pub fields: Vec<FieldSchema>,
    #[prost(bool, tag = "5")]
    pub enable_dynamic_field: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct FieldSchema {
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(bool, tag = "3")]
    pub is_primary_key: bool,
    #[prost(int32, tag = "5")]
    pub data_type: i32,
    #[prost(message, repeated, tag = "6")]
    pub type_params: Vec<KeyValuePair>,
    #[prost(bool, tag = "8")]
    pub auto_id: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct LongArray {
    #[prost(int64, repeated, tag = "1")]
    pub data: Vec<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct FloatArray {
    #[prost(float, repeated, tag = "1")]
    pub data: Vec<f32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct StringArray {
    #[prost(string, repeated, tag = "1")]
    pub data: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ScalarField {
    #[prost(oneof = "Scalars", tags = "3, 4, 6")]
    pub data: Option<Scalars>,
}

#[derive(Clone, PartialEq, Oneof)]
pub enum Scalars {
    #[prost(message, tag = "3")]
    Long(LongArray),
    #[prost(message, tag = "4")]
    Float(FloatArray),
    #[prost(message, tag = "6")]
    String(StringArray),
}

#[derive(Clone, PartialEq, Message)]
pub struct VectorField {
    #[prost(int64, tag = "1")]
    pub dim: i64,
    #[prost(message, optional, tag = "2")]
    pub float_vector: Option<FloatArray>,
}

#[derive(Clone, PartialEq, Message)]
pub struct FieldData {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub field_name: String,
    #[prost(oneof = "Field", tags = "3, 4")]
    pub field: Option<Field>,
    #[prost(bool, tag = "6")]
    pub is_dynamic: bool,
}

#[derive(Clone, PartialEq, Oneof)]
pub enum Field {
    #[prost(message, tag = "3")]
    Scalars(ScalarField),
    #[prost(message, tag = "4")]
    Vectors(VectorField),
}

impl FieldData {
    pub fn scalars(name: &str, r#type: i32, data: Scalars) -> FieldData {
        FieldData {
            r#type,
            field_name: name.to_owned(),
            field: Some(Field::Scalars(ScalarField { data: Some(data) })),
            is_dynamic: false,
        }
    }

    pub fn strings(&self) -> Option<&[String]> {
        match &self.field {
            Some(Field::Scalars(ScalarField { data: Some(Scalars::String(s)) })) => Some(&s.data),
            _ => None,
        }
    }

    pub fn longs(&self) -> Option<&[i64]> {
        match &self.field {
            Some(Field::Scalars(ScalarField { data: Some(Scalars::Long(s)) })) => Some(&s.data),
            _ => None,
        }
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct SearchResultData {
    #[prost(int64, tag = "1")]
    pub num_queries: i64,
    #[prost(int64, tag = "2")]
    pub top_k: i64,
    #[prost(message, repeated, tag = "3")]
    pub fields_data: Vec<FieldData>,
    #[prost(float, repeated, tag = "4")]
    pub scores: Vec<f32>,
    #[prost(int64, repeated, tag = "6")]
    pub topks: Vec<i64>,
}

// ---- common.proto: search placeholders ----

#[derive(Clone, PartialEq, Message)]
pub struct PlaceholderGroup {
    #[prost(message, repeated, tag = "1")]
    pub placeholders: Vec<PlaceholderValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PlaceholderValue {
    #[prost(string, tag = "1")]
    pub tag: String,
    #[prost(int32, tag = "2")]
    pub r#type: i32,
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub values: Vec<Vec<u8>>,
}

// ---- milvus.proto: requests and responses ----

#[derive(Clone, PartialEq, Message)]
pub struct HasCollectionRequest {
    #[prost(string, tag = "3")]
    pub collection_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct BoolResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(bool, tag = "2")]
    pub value: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct DescribeCollectionRequest {
    #[prost(string, tag = "3")]
    pub collection_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct DescribeCollectionResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, optional, tag = "2")]
    pub schema: Option<CollectionSchema>,
}

#[derive(Clone, PartialEq, Message)]
pub struct CreateCollectionRequest {
    #[prost(string, tag = "3")]
    pub collection_name: String,
    /// A serialised `CollectionSchema`.
    #[prost(bytes = "vec", tag = "4")]
    pub schema: Vec<u8>,
    #[prost(int32, tag = "5")]
    pub shards_num: i32,
    #[prost(int32, tag = "6")]
    pub consistency_level: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct CreateIndexRequest {
    #[prost(string, tag = "3")]
    pub collection_name: String,
    #[prost(string, tag = "4")]
    pub field_name: String,
    #[prost(message, repeated, tag = "5")]
    pub extra_params: Vec<KeyValuePair>,
    #[prost(string, tag = "6")]
    pub index_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct DescribeIndexRequest {
    #[prost(string, tag = "3")]
    pub collection_name: String,
    #[prost(string, tag = "4")]
    pub field_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct DescribeIndexResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, repeated, tag = "2")]
    pub index_descriptions: Vec<IndexDescription>,
}

#[derive(Clone, PartialEq, Message)]
pub struct IndexDescription {
    #[prost(string, tag = "1")]
    pub index_name: String,
    #[prost(message, repeated, tag = "3")]
    pub params: Vec<KeyValuePair>,
    #[prost(string, tag = "4")]
    pub field_name: String,
    #[prost(int64, tag = "5")]
    pub indexed_rows: i64,
    #[prost(int64, tag = "6")]
    pub total_rows: i64,
    #[prost(int32, tag = "7")]
    pub state: i32,
    #[prost(string, tag = "8")]
    pub index_state_fail_reason: String,
    #[prost(int64, tag = "9")]
    pub pending_index_rows: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct LoadCollectionRequest {
    #[prost(string, tag = "3")]
    pub collection_name: String,
    #[prost(int32, tag = "4")]
    pub replica_number: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetLoadStateRequest {
    #[prost(string, tag = "2")]
    pub collection_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetLoadStateResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(int32, tag = "2")]
    pub state: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct InsertRequest {
    #[prost(string, tag = "3")]
    pub collection_name: String,
    #[prost(message, repeated, tag = "5")]
    pub fields_data: Vec<FieldData>,
    #[prost(uint32, tag = "7")]
    pub num_rows: u32,
}

#[derive(Clone, PartialEq, Message)]
pub struct MutationResult {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(int64, tag = "6")]
    pub insert_cnt: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct FlushRequest {
    #[prost(string, repeated, tag = "3")]
    pub collection_names: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct FlushResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    /// Per collection: its segments sealed by this flush.
    #[prost(map = "string, message", tag = "3")]
    pub coll_seg_ids: HashMap<String, LongArray>,
    /// Per collection: its segments that were already flushed.
    #[prost(map = "string, message", tag = "4")]
    pub flush_coll_seg_ids: HashMap<String, LongArray>,
    /// Per collection: the flush's timestamp, for `GetFlushState`.
    #[prost(map = "string, uint64", tag = "6")]
    pub coll_flush_ts: HashMap<String, u64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetFlushStateRequest {
    #[prost(int64, repeated, tag = "1")]
    pub segment_ids: Vec<i64>,
    #[prost(uint64, tag = "2")]
    pub flush_ts: u64,
    #[prost(string, tag = "4")]
    pub collection_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetFlushStateResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(bool, tag = "2")]
    pub flushed: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct QueryRequest {
    #[prost(string, tag = "3")]
    pub collection_name: String,
    #[prost(string, tag = "4")]
    pub expr: String,
    #[prost(string, repeated, tag = "5")]
    pub output_fields: Vec<String>,
    #[prost(message, repeated, tag = "9")]
    pub query_params: Vec<KeyValuePair>,
    #[prost(int32, tag = "11")]
    pub consistency_level: i32,
    #[prost(bool, tag = "12")]
    pub use_default_consistency: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct QueryResults {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, repeated, tag = "2")]
    pub fields_data: Vec<FieldData>,
}

#[derive(Clone, PartialEq, Message)]
pub struct SearchRequest {
    #[prost(string, tag = "3")]
    pub collection_name: String,
    /// The filter expression.
    #[prost(string, tag = "5")]
    pub dsl: String,
    /// A serialised `PlaceholderGroup`: the query vectors.
    #[prost(bytes = "vec", tag = "6")]
    pub placeholder_group: Vec<u8>,
    #[prost(int32, tag = "7")]
    pub dsl_type: i32,
    #[prost(string, repeated, tag = "8")]
    pub output_fields: Vec<String>,
    #[prost(message, repeated, tag = "9")]
    pub search_params: Vec<KeyValuePair>,
    #[prost(int64, tag = "12")]
    pub nq: i64,
    #[prost(int32, tag = "14")]
    pub consistency_level: i32,
    #[prost(bool, tag = "15")]
    pub use_default_consistency: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct SearchResults {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, optional, tag = "2")]
    pub results: Option<SearchResultData>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetQuerySegmentInfoRequest {
    #[prost(string, tag = "3")]
    pub collection_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetQuerySegmentInfoResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, repeated, tag = "2")]
    pub infos: Vec<QuerySegmentInfo>,
}

/// A segment as the query nodes serve it.
#[derive(Clone, PartialEq, Message)]
pub struct QuerySegmentInfo {
    #[prost(int64, tag = "1")]
    pub segment_id: i64,
    #[prost(int64, tag = "5")]
    pub num_rows: i64,
    #[prost(string, tag = "6")]
    pub index_name: String,
    #[prost(int64, tag = "7")]
    pub index_id: i64,
    /// `common.SegmentState` (2: growing, 3: sealed, 4: flushed).
    #[prost(int32, tag = "9")]
    pub state: i32,
}

/// `common.SegmentState::Growing`.
pub const GROWING: i32 = 2;

/// Responses that carry a `Status` (the bare `Status` is one too).
pub trait HasStatus {
    fn status(&self) -> Option<&Status>;
}

impl HasStatus for Status {
    fn status(&self) -> Option<&Status> {
        Some(self)
    }
}

macro_rules! has_status {
    ($($t:ty),*) => {$(
        impl HasStatus for $t {
            fn status(&self) -> Option<&Status> {
                self.status.as_ref()
            }
        }
    )*};
}

has_status!(
    BoolResponse,
    DescribeCollectionResponse,
    DescribeIndexResponse,
    GetLoadStateResponse,
    MutationResult,
    FlushResponse,
    GetFlushStateResponse,
    GetQuerySegmentInfoResponse,
    QueryResults,
    SearchResults
);

/// A request and the `MilvusService` method that takes it.
pub trait Rpc: Message + Default + Send + 'static {
    /// The response.
    type Response: Message + Default + HasStatus + Send + 'static;
    /// `/milvus.proto.milvus.MilvusService/<Method>`.
    const PATH: &'static str;
}

macro_rules! rpc {
    ($($req:ty => $resp:ty, $method:literal;)*) => {$(
        impl Rpc for $req {
            type Response = $resp;
            const PATH: &'static str = concat!("/milvus.proto.milvus.MilvusService/", $method);
        }
    )*};
}

rpc! {
    HasCollectionRequest => BoolResponse, "HasCollection";
    DescribeCollectionRequest => DescribeCollectionResponse, "DescribeCollection";
    CreateCollectionRequest => Status, "CreateCollection";
    CreateIndexRequest => Status, "CreateIndex";
    DescribeIndexRequest => DescribeIndexResponse, "DescribeIndex";
    LoadCollectionRequest => Status, "LoadCollection";
    GetLoadStateRequest => GetLoadStateResponse, "GetLoadState";
    InsertRequest => MutationResult, "Insert";
    FlushRequest => FlushResponse, "Flush";
    GetFlushStateRequest => GetFlushStateResponse, "GetFlushState";
    GetQuerySegmentInfoRequest => GetQuerySegmentInfoResponse, "GetQuerySegmentInfo";
    QueryRequest => QueryResults, "Query";
    SearchRequest => SearchResults, "Search";
}
