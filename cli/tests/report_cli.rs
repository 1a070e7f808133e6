//! `arbor report` and `classify --report`: the page's data against classify's own rows, the
//! page self-contained; and, in headless Chromium (`--ignored`, run by `.ci/run`, which
//! installs Debian's chromium), one card per photo with the right taxa and scores, filters
//! that change what is shown, no console errors and nothing fetched.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{arbor, arg, fixtures, model};
use serde_json::Value;

/// The fixture photos' classification at species (k = 3) as CSV, with one unreadable file.
struct Run {
    dir: tempfile::TempDir,
    csv: PathBuf,
}

fn classified() -> Run {
    let dir = tempfile::tempdir().unwrap();
    let tol = dir.path().join("tol");
    common::import_fixture_tree(&tol, &[]);
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    for f in std::fs::read_dir(fixtures().join("images")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, photos.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(photos.join("torn.jpg"), b"\xFF\xD8\xFF\xE0 not a photo").unwrap();
    let csv = dir.path().join("out.csv");
    let (m, tol) = (model(), arg(&tol));
    let run = arbor(&[
        "classify",
        "--model",
        &m,
        "--index",
        &tol,
        &arg(&photos),
        "-k",
        "3",
        "--format",
        "csv",
        "--output",
        &arg(&csv),
    ]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    Run { dir, csv }
}

/// classify's CSV as photo → [(species, score)], best first.
fn rows(csv: &Path) -> BTreeMap<String, Vec<(String, f64)>> {
    let mut out: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for r in csv::Reader::from_path(csv).unwrap().deserialize::<BTreeMap<String, String>>() {
        let r = r.unwrap();
        let entry = out.entry(r["file_name"].clone()).or_default();
        if r["error"].is_empty() {
            entry.push((r["species"].clone(), r["score"].parse().unwrap()));
        }
    }
    out
}

/// The data the page carries.
fn page_data(html: &str) -> Value {
    let tag = r#"<script type="application/json" id="data">"#;
    let start = html.find(tag).expect("a data block") + tag.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[test]
fn the_page_carries_classify_s_answers_and_needs_nothing_else() {
    let run = classified();
    let out = run.dir.path().join("report.html");
    let report = arbor(&["report", &arg(&run.csv), "--out", &arg(&out), "--title", "Fixture <photos>"]).success();
    assert!(report.stderr.contains("9 photos"), "{}", report.stderr);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("<title>Fixture &lt;photos&gt;</title>"));
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    // Nothing is fetched: no URL of a server anywhere but the SVG namespace.
    let urls: Vec<&str> = ["http://", "https://"]
        .iter()
        .flat_map(|p| html.match_indices(p))
        .map(|(i, _)| &html[i..(i + 40).min(html.len())])
        .collect();
    assert!(urls.iter().all(|u| u.starts_with("http://www.w3.org/2000/svg")), "{urls:?}");
    assert!(!html.contains("fetch(") && !html.contains("XMLHttpRequest"));
    let data = page_data(&html);
    let want = rows(&run.csv);
    let photos = data["photos"].as_array().unwrap();
    assert_eq!(photos.len(), want.len());
    for p in photos {
        let file = p["file"].as_str().unwrap();
        if file.ends_with("torn.jpg") {
            assert!(p["error"].as_str().unwrap().contains("torn.jpg"), "{p}");
            assert!(p["thumb"].is_null());
            continue;
        }
        let got: Vec<(String, f64)> = p["subjects"][0]["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_owned(), c["score"].as_f64().unwrap()))
            .collect();
        assert_eq!(got.len(), 3, "{file}");
        for ((a, x), (b, y)) in got.iter().zip(&want[file]) {
            assert_eq!(a, b, "{file}");
            assert!((x - y).abs() < 1e-6, "{file}: {x} vs {y}");
        }
        assert_eq!(p["subjects"][0]["candidates"][0]["lineage"].as_array().unwrap().len(), 7);
        assert!(p["thumb"].as_str().unwrap().starts_with("data:image/jpeg;base64,"), "thumbnails are inside the page");
    }
    assert_eq!(data["ranks"].as_array().unwrap().len(), 7);
    assert_eq!(data["summary"]["errors"], 1);

    // Thumbnails in a folder instead, named relative to the page.
    let out2 = run.dir.path().join("with-folder.html");
    let thumbs = run.dir.path().join("thumbs");
    arbor(&["report", &arg(&run.csv), "--out", &arg(&out2), "--thumbs", &arg(&thumbs)]).success();
    let data = page_data(&std::fs::read_to_string(&out2).unwrap());
    let first = data["photos"][0]["thumb"].as_str().unwrap();
    assert!(first.starts_with("thumbs/") && first.ends_with(".jpg"), "{first}");
    assert_eq!(std::fs::read_dir(&thumbs).unwrap().count(), 8);
    // Bad input is named.
    let bad = run.dir.path().join("bad.csv");
    std::fs::write(&bad, "a,b\n1,2\n").unwrap();
    let failed = arbor(&["report", &arg(&bad), "--out", &arg(&out2)]);
    assert!(
        failed.code == Some(1) && failed.stderr.contains("bad.csv") && failed.stderr.contains("file_name"),
        "{}",
        failed.stderr
    );
}

#[test]
fn classify_writes_its_report_in_one_go() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.html");
    let m = model();
    let run = arbor(&[
        "classify",
        "--model",
        &m,
        "--cls",
        "a cat,a rocket",
        "images",
        "--report",
        &arg(&out),
        "--report-title",
        "Two labels",
    ]);
    assert!(run.ok(), "{}", run.stderr);
    let data = page_data(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(data["photos"].as_array().unwrap().len(), 8);
    assert_eq!(data["title"], "Two labels");
    assert!(data["summary"]["seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(data["summary"]["index"], "a cat,a rocket");
    let labels: Vec<&str> = data["photos"][0]["subjects"][0]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(labels.len(), 2);
    assert!(!dir.path().join("r.rows.jsonl").exists(), "the rows written for the report are removed");
}

#[test]
fn open_set_json_lines_and_md_json_results_read_alike() {
    let dir = tempfile::tempdir().unwrap();
    let tol = dir.path().join("tol");
    common::import_fixture_tree(&tol, &[]);
    let (m, tol) = (model(), arg(&tol));
    // Open set, as JSON lines: the verdict is the deepest confident rank, or "unknown".
    let jsonl = dir.path().join("open.jsonl");
    let run = arbor(&[
        "classify",
        "--model",
        &m,
        "--index",
        &tol,
        "images",
        "--min-confidence",
        "0.9",
        "--format",
        "jsonl",
        "--output",
        &arg(&jsonl),
    ]);
    assert!(run.ok(), "{}", run.stderr);
    let out = dir.path().join("open.html");
    common::arbor_in(&fixtures(), &["report", &arg(&jsonl), "--out", &arg(&out), "--no-thumbs"]).success();
    let data = page_data(&std::fs::read_to_string(&out).unwrap());
    let rows: Vec<Value> =
        std::fs::read_to_string(&jsonl).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (p, row) in data["photos"].as_array().unwrap().iter().zip(&rows) {
        assert_eq!(p["file"], row["file_name"]);
        assert!(p["thumb"].is_null(), "--no-thumbs");
        let verdict = p["subjects"][0]["verdict"].as_str().unwrap();
        match row["rank"].as_str().unwrap() {
            "unknown" => assert_eq!(verdict, "unknown"),
            rank => assert_eq!(verdict, format!("{rank} {}", row["name"].as_str().unwrap())),
        }
    }
    // md-json: one subject per classified detection, named by the file's categories.
    let md = dir.path().join("md.json");
    let doc = serde_json::json!({"info": {"format_version": "1.4"}, "detection_categories": {"1": "animal"}, "images": [
        {"file": "images/chelsea.png", "detections": [{"category": "1", "conf": 0.8, "bbox": [0.1, 0.1, 0.5, 0.5]}]},
        {"file": "images/china.jpg", "detections": []}]});
    std::fs::write(&md, serde_json::to_vec(&doc).unwrap()).unwrap();
    let classified = dir.path().join("classified.json");
    arbor(&[
        "classify",
        "--model",
        &m,
        "--index",
        &tol,
        "--detections",
        &arg(&md),
        &arg(&fixtures()),
        "--format",
        "md-json",
        "--output",
        &arg(&classified),
        "-k",
        "2",
    ])
    .success();
    let out = dir.path().join("md.html");
    arbor(&["report", &arg(&classified), "--photos", &arg(&fixtures()), "--out", &arg(&out)]).success();
    let data = page_data(&std::fs::read_to_string(&out).unwrap());
    let cat = &data["photos"][0]["subjects"][0];
    assert_eq!(cat["label"], "detection 0 (0.8)");
    assert_eq!(cat["candidates"].as_array().unwrap().len(), 2);
    assert_eq!(cat["candidates"][0]["lineage"].as_array().unwrap().len(), 7);
    assert!(cat["thumb"].as_str().unwrap().starts_with("data:image/jpeg"), "the crop's thumbnail");
    assert_eq!(data["photos"][1]["subjects"][0]["label"], "no classified detection");
    assert!(data["summary"]["classifier"].as_str().unwrap().starts_with("arbor "));
}

/// Headless Chromium: the page as a browser builds it, under `hash` (the page's filters).
fn dom(page: &Path, hash: &str, profile: &Path) -> (String, String) {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|c| Path::new(c).exists())
        .expect("headless Chromium is needed (Debian: apt-get install chromium; .ci/run installs it)");
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .args(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}{hash}", page.display()))
        .output()
        .expect("run chromium");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The cards of a dumped page: (file, best taxon, best score).
fn cards(dom: &str) -> Vec<(String, String, Option<f64>)> {
    dom.split("<article class=\"card\"")
        .skip(1)
        .map(|c| {
            let attr = |name: &str| {
                let tag = &c[..c.find('>').unwrap()];
                tag.split(&format!("{name}=\"")).nth(1).map(|v| v[..v.find('"').unwrap()].replace("&amp;", "&"))
            };
            (
                attr("data-file").unwrap(),
                attr("data-top").unwrap_or_default(),
                attr("data-score").map(|s| s.parse().unwrap()),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs headless Chromium: run by .ci/run (cargo test -p arbor-cli --test report_cli -- --ignored)"]
fn in_a_browser_every_photo_has_its_card_and_filters_work() {
    let run = classified();
    let page = run.dir.path().join("report.html");
    arbor(&["report", &arg(&run.csv), "--out", &arg(&page), "--min-confidence", "0.3"]).success();
    let profile = run.dir.path().join("chromium-profile");
    let want = rows(&run.csv);
    let (all, log) = dom(&page, "", &profile);
    assert!(all.contains("data-ready=\"1\""), "the script ran: {log}");
    assert!(!all.contains("data-errors"), "no script errors: {all}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE") || l.contains("Refused to")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let shown = cards(&all);
    assert_eq!(shown.len(), want.len(), "one card per photo");
    for (file, top, score) in &shown {
        match want[file].first() {
            Some((species, s)) => {
                assert_eq!(top, species, "{file}");
                assert!((score.unwrap() - s).abs() < 1e-6);
            }
            None => assert!(top.is_empty() && score.is_none(), "{file} could not be read"),
        }
    }
    // Every candidate row of every card, in order, as in the CSV.
    for (file, taxa) in &want {
        let start = all.find(&format!("data-file=\"{file}\"")).unwrap();
        let card = &all[start..start + all[start..].find("</article>").unwrap()];
        let names: Vec<&str> = card.split("<li data-name=\"").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect();
        assert_eq!(names, taxa.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), "{file}");
    }
    assert!(all.contains("<svg") && all.contains("role=\"img\""), "the counts chart is drawn");
    // For screen readers: every picture described, the result count announced, meters valued.
    let images = all.matches("<img ").count();
    assert!(images >= 8, "{images} thumbnails");
    assert_eq!(all.split("<img ").skip(1).filter(|i| i[..i.find('>').unwrap()].contains(" alt=\"")).count(), images);
    assert!(all.contains("aria-live=\"polite\"") && all.contains("role=\"search\""));
    assert!(all.contains("role=\"meter\"") && all.contains("aria-valuenow="));

    // A taxon filter at a rank (as a lineage link sets it) keeps exactly the photos whose best
    // answer is under it.
    let (family, count) = {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let data = page_data(&std::fs::read_to_string(&page).unwrap());
        for p in data["photos"].as_array().unwrap() {
            if let Some(f) = p["subjects"][0]["candidates"][0]["lineage"][4].as_str() {
                *counts.entry(f.to_owned()).or_default() += 1;
            }
        }
        counts.into_iter().max_by_key(|(_, n)| *n).unwrap()
    };
    let (filtered, _) = dom(&page, &format!("#q={family}&rank=family"), &profile);
    assert_eq!(cards(&filtered).len(), count, "{family}");
    assert!(filtered.contains(&format!("filtered from {}", want.len())));
    // A confidence floor, and sorting.
    let (confident, _) = dom(&page, "#min=0.5&sort=score-desc", &profile);
    let kept = cards(&confident);
    let expected = want.values().filter(|t| t.first().is_some_and(|(_, s)| *s >= 0.5)).count();
    assert_eq!(kept.len(), expected);
    assert!(kept.windows(2).all(|w| w[0].2 >= w[1].2), "highest first");
    // Unknowns (best below --min-confidence 0.3, or unreadable-free photos with no answer) first.
    let (unknown_first, _) = dom(&page, "#unknown=1", &profile);
    let order = cards(&unknown_first);
    let unsure = order.iter().take_while(|c| c.2.is_some_and(|s| s < 0.3)).count();
    assert_eq!(unsure, want.values().filter(|t| t.first().is_some_and(|(_, s)| *s < 0.3)).count());

    // A screenshot for people to look at.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("arbor-report.png");
    let shot_run = Command::new("/usr/bin/chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=1280,1600", "--hide-scrollbars"])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        shot_run.status.success() && std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a screenshot at {}: {}",
        shot.display(),
        String::from_utf8_lossy(&shot_run.stderr)
    );
    eprintln!("screenshot: {}", shot.display());
}
