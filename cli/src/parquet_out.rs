//! `embed image --format parquet`: one row per photo, `path` (string) and `embedding` (Arrow's
//! fixed-size list of float32, the model's width), as pandas, polars and DuckDB read it. The
//! model and whether rows are unit-normalised go in the file's key-value metadata.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

/// Rows per Parquet row group (and Arrow batch): about 24 MB of ViT-L/14 embeddings.
const ROW_GROUP: usize = 8192;

/// Writes `paths` with their `rows` (row-major, `dim` wide) to `out`, atomically.
pub fn write_embeddings(
    out: &Path,
    paths: &[PathBuf],
    rows: &[f32],
    dim: usize,
    metadata: &[(&str, String)],
) -> Result<()> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let schema = Arc::new(Schema::new(vec![
        Field::new("path", DataType::Utf8, false),
        Field::new("embedding", DataType::FixedSizeList(item.clone(), dim as i32), false),
    ]));
    let kv = metadata.iter().map(|(k, v)| KeyValue::new((*k).to_owned(), v.clone())).collect();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .set_key_value_metadata(Some(kv))
        .build();
    arbor_index::write_atomically(out, |w| {
        let io = |e: parquet::errors::ParquetError| std::io::Error::other(e.to_string());
        let mut writer = ArrowWriter::try_new(w, schema.clone(), Some(props)).map_err(io)?;
        for (names, values) in paths.chunks(ROW_GROUP).zip(rows.chunks(ROW_GROUP * dim)) {
            let names: ArrayRef =
                Arc::new(StringArray::from_iter_values(names.iter().map(|p| p.display().to_string())));
            let values = Arc::new(Float32Array::from(values.to_vec()));
            let list = FixedSizeListArray::try_new(item.clone(), dim as i32, values, None)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            let batch = RecordBatch::try_new(schema.clone(), vec![names, Arc::new(list)])
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            writer.write(&batch).map_err(io)?;
        }
        writer.close().map_err(io)?;
        Ok(())
    })
    .with_context(|| format!("{}: cannot write", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// A file read back.
    struct Back {
        paths: Vec<String>,
        rows: Vec<f32>,
        dim: usize,
        meta: Vec<(String, String)>,
    }

    fn read(path: &Path) -> Back {
        let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
        let kv = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
        let meta = kv
            .into_iter()
            .filter(|k| k.key.starts_with("arbor."))
            .map(|k| (k.key, k.value.unwrap_or_default()))
            .collect();
        let field = builder.schema().field_with_name("embedding").unwrap().clone();
        let DataType::FixedSizeList(item, dim) = field.data_type() else {
            panic!("{field:?} is not a fixed-size list")
        };
        assert_eq!(item.data_type(), &DataType::Float32);
        let (mut paths, mut rows) = (Vec::new(), Vec::new());
        for batch in builder.build().unwrap() {
            let batch = batch.unwrap();
            let names = batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            paths.extend(names.iter().map(|n| n.unwrap().to_owned()));
            let list = batch.column(1).as_any().downcast_ref::<FixedSizeListArray>().unwrap();
            assert_eq!(list.null_count(), 0);
            rows.extend_from_slice(list.values().as_any().downcast_ref::<Float32Array>().unwrap().values());
        }
        Back { paths, rows, dim: *dim as usize, meta }
    }

    #[test]
    fn rows_come_back_across_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("e.parquet");
        let (n, dim) = (ROW_GROUP * 2 + 5, 3);
        let paths: Vec<PathBuf> = (0..n).map(|i| PathBuf::from(format!("p/{i}.jpg"))).collect();
        let rows: Vec<f32> = (0..n * dim).map(|i| i as f32 * 0.5).collect();
        write_embeddings(&out, &paths, &rows, dim, &[("arbor.normalized", "false".into())]).unwrap();
        let back = read(&out);
        assert_eq!(back.dim, dim);
        assert_eq!(back.paths.len(), n);
        assert_eq!(back.paths[n - 1], "p/16388.jpg");
        assert_eq!(back.rows, rows);
        assert_eq!(back.meta, [("arbor.normalized".to_string(), "false".to_string())]);
        let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&out).unwrap()).unwrap();
        assert_eq!(builder.metadata().num_row_groups(), 3);
    }
}
