//! The tokenizer against open_clip itself: every case of the shared fixture
//! (`tokenizer_cases.jsonl`, made with open_clip 3.3.0 and ftfy 6.3.1), the
//! 20 texts the reference models were run on, and randomized mojibake cases
//! covering every branch of ftfy's repair (`data/random_cases.jsonl`, made by
//! `data/make_random_cases.py` with the same versions).

use std::path::PathBuf;

use arbor_engine::{EOT_TOKEN, Tokenizer, clean_text as clean};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/openclip")
}

/// Reads a fixture file, failing (never skipping) when it is missing.
fn read_fixture(name: &str) -> Vec<u8> {
    let path = fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {} is missing: {e}", path.display()))
}

struct Case {
    line: usize,
    text: String,
    clean: String,
    ids: Vec<u32>,
    n_tokens: usize,
}

fn cases() -> Vec<Case> {
    let bytes = read_fixture("tokenizer_cases.jsonl");
    let text = String::from_utf8(bytes).expect("tokenizer_cases.jsonl is UTF-8");
    let cases: Vec<Case> = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
            let field = |k: &str| v.get(k).unwrap_or_else(|| panic!("line {} has no {k}", i + 1));
            Case {
                line: i + 1,
                text: field("text").as_str().expect("text is a string").to_owned(),
                clean: field("clean").as_str().expect("clean is a string").to_owned(),
                ids: field("ids")
                    .as_array()
                    .expect("ids is an array")
                    .iter()
                    .map(|x| x.as_u64().expect("id is an integer") as u32)
                    .collect(),
                n_tokens: field("n_tokens").as_u64().expect("n_tokens is an integer") as usize,
            }
        })
        .collect();
    assert_eq!(cases.len(), 3000, "tokenizer_cases.jsonl should have 3000 lines");
    cases
}

/// Fails listing every mismatch (up to a screenful) with its text.
fn report(what: &str, total: usize, failures: &[String]) {
    if !failures.is_empty() {
        let shown: Vec<&String> = failures.iter().take(40).collect();
        panic!(
            "{what}: {}/{total} cases differ from open_clip:\n{}",
            failures.len(),
            shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
        );
    }
}

#[test]
fn clean_matches_open_clip() {
    let cases = cases();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            let got = clean(&c.text);
            (got != c.clean).then(|| format!("line {}: {:?}\n   want {:?}\n    got {:?}", c.line, c.text, c.clean, got))
        })
        .collect();
    report("clean", cases.len(), &failures);
}

#[test]
fn ids_match_open_clip() {
    let tokenizer = Tokenizer::openai().expect("bundled vocabulary");
    let cases = cases();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            let encoded = tokenizer.encode(&c.text);
            let ids = tokenizer.tokenize(&c.text);
            (ids != c.ids || encoded.len() != c.n_tokens).then(|| {
                format!("line {}: {:?} (clean {:?})\n   want {:?}\n    got {:?}", c.line, c.text, c.clean, c.ids, ids)
            })
        })
        .collect();
    report("ids", cases.len(), &failures);
    // The fixture exercises truncation: some texts exceed the context.
    assert!(cases.iter().any(|c| c.n_tokens > 75));
}

#[test]
fn batch_matches_single() {
    let tokenizer = Tokenizer::openai().expect("bundled vocabulary");
    let cases = cases();
    let texts: Vec<&str> = cases.iter().take(200).map(|c| c.text.as_str()).collect();
    let batch = tokenizer.tokenize_batch(&texts);
    for (c, ids) in cases.iter().zip(&batch) {
        assert_eq!(ids, &c.ids, "line {}: {:?}", c.line, c.text);
    }
}

#[test]
fn model_texts_match_text_ids_npy() {
    let texts_json: Value = serde_json::from_slice(&read_fixture("texts.json")).expect("texts.json is JSON");
    let texts_json = texts_json.as_array().expect("texts.json is a list");
    let texts: Vec<&str> =
        texts_json.iter().map(|t| t["text"].as_str().expect("each text has a string `text`")).collect();
    let npy_bytes = read_fixture("text_ids.npy");
    let npy = npyz::NpyFile::new(&npy_bytes[..]).expect("text_ids.npy is an .npy file");
    assert_eq!(npy.shape(), &[20, 77]);
    let want: Vec<i64> = npy.into_vec().expect("text_ids.npy holds int64");
    let tokenizer = Tokenizer::openai().expect("bundled vocabulary");
    let got = tokenizer.tokenize_batch(&texts);
    assert_eq!(got.len(), 20);
    for (i, (row, ids)) in want.chunks(77).zip(&got).enumerate() {
        let ids: Vec<i64> = ids.iter().map(|&id| i64::from(id)).collect();
        assert_eq!(row, &ids[..], "text {i}: {:?}", texts[i]);
        let json_ids: Vec<i64> = texts_json[i]["ids"]
            .as_array()
            .expect("each text has `ids`")
            .iter()
            .map(|x| x.as_i64().expect("id is an integer"))
            .collect();
        assert_eq!(json_ids, ids, "text {i}: texts.json ids");
    }
    // Text 19 holds a literal <end_of_text>: pooling takes that first EOT.
    let first_eot = got[19].iter().position(|&id| id == EOT_TOKEN).expect("text 19 has an EOT");
    assert_eq!(Tokenizer::eot_position(&got[19]), first_eot);
    assert!(got[19][first_eot + 1..].contains(&EOT_TOKEN));
}

#[test]
fn random_mojibake_cases_match_open_clip() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/random_cases.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} is missing: {e}", path.display()));
    let tokenizer = Tokenizer::openai().expect("bundled vocabulary");
    let mut total = 0;
    let mut failures = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let input = v["text"].as_str().expect("text is a string");
        let want_clean = v["clean"].as_str().expect("clean is a string");
        let mut want_ids: Vec<u32> = v["ids"]
            .as_array()
            .expect("ids is an array")
            .iter()
            .map(|x| x.as_u64().expect("id is an integer") as u32)
            .collect();
        want_ids.resize(77, 0);
        let (got_clean, got_ids) = (clean(input), tokenizer.tokenize(input));
        if got_clean != want_clean || got_ids != want_ids {
            failures.push(format!("line {}: {input:?}\n   want {want_clean:?}\n    got {got_clean:?}", i + 1));
        }
        total += 1;
    }
    assert!(total > 300, "random_cases.jsonl has only {total} cases");
    report("random cases", total, &failures);
}
