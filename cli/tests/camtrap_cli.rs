//! `classify --format camtrap-dp`: packages validated offline against the official Camtrap DP
//! 1.0.2 profile (JSON Schema) and table schemas (`tests/data/camtrap-dp-1.0.2`), with their
//! contents checked against the CSV rows of the same run and the photos' EXIF.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use common::{arbor, arg, fixtures, jpeg_with_exif, model, write_png};
use serde_json::{Value, json};

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/camtrap-dp-1.0.2")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The profile's two generic references, answered from the stand-ins (see the data's README).
struct Offline;

impl jsonschema::Retrieve for Offline {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let file = match uri.as_str() {
            "https://specs.frictionlessdata.io/schemas/data-package.json" => "data-package.json",
            "http://json.schemastore.org/geojson.json" => "geojson.json",
            other => return Err(format!("no offline copy of {other}").into()),
        };
        Ok(read_json(&schemas().join("stand-ins").join(file)))
    }
}

/// Every way `dir`'s package breaks Camtrap DP 1.0.2: the descriptor against the profile, each
/// table against its schema (header, types, formats, constraints, keys).
fn problems(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let package = read_json(&dir.join("datapackage.json"));
    let profile = read_json(&schemas().join("camtrap-dp-profile.json"));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .with_retriever(Offline)
        .build(&profile)
        .expect("the profile compiles");
    out.extend(validator.iter_errors(&package).map(|e| format!("datapackage.json: {} at {}", e, e.instance_path())));
    let mut keys: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    let mut foreign: Vec<(String, String, String, String)> = Vec::new();
    for resource in package["resources"].as_array().expect("resources") {
        let name = resource["name"].as_str().unwrap();
        let url = resource["schema"].as_str().unwrap();
        assert!(url.ends_with(&format!("/1.0.2/{name}-table-schema.json")), "{url}");
        let schema = read_json(&schemas().join(format!("{name}-table-schema.json")));
        let path = dir.join(resource["path"].as_str().unwrap());
        let (primary, refs) = check_table(&path, &schema, &mut out);
        keys.insert(name.to_owned(), primary);
        for (field, values, target) in refs {
            for v in values {
                foreign.push((name.to_owned(), field.clone(), v, target.clone()));
            }
        }
    }
    for (table, field, value, target) in foreign {
        if !keys.get(&target).is_some_and(|k| k.contains(&value)) {
            out.push(format!("{table}.{field} = {value:?} is not a key of {target}"));
        }
    }
    out
}

type ForeignValues = Vec<(String, Vec<String>, String)>;

/// Checks one CSV against its Table Schema; returns its primary-key values and the values of its
/// foreign keys with the table each must be in.
fn check_table(path: &Path, schema: &Value, out: &mut Vec<String>) -> (HashSet<String>, ForeignValues) {
    let table = path.file_name().unwrap().to_string_lossy().into_owned();
    let fields = schema["fields"].as_array().unwrap();
    let missing: Vec<&str> = schema["missingValues"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let names: Vec<&str> = fields.iter().map(|f| f["name"].as_str().unwrap()).collect();
    if header != names {
        out.push(format!("{table}: header {header:?} is not the schema's fields {names:?}"));
    }
    let mut unique: BTreeMap<&str, HashSet<String>> = BTreeMap::new();
    let pk = schema["primaryKey"].as_str().unwrap();
    let fks: Vec<(&str, &str)> = schema["foreignKeys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|fk| (fk["fields"].as_str().unwrap(), fk["reference"]["resource"].as_str().unwrap()))
        .collect();
    let mut fk_values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut primary = HashSet::new();
    for (r, row) in reader.records().enumerate() {
        let row = row.unwrap();
        for (field, value) in fields.iter().zip(row.iter()) {
            let name = field["name"].as_str().unwrap();
            let at = format!("{table} row {} {name}", r + 2);
            let c = &field["constraints"];
            if missing.contains(&value) {
                if c["required"] == true {
                    out.push(format!("{at}: required, empty"));
                }
                continue;
            }
            if let Err(e) = check_value(field, value) {
                out.push(format!("{at} = {value:?}: {e}"));
            }
            if c["unique"] == true && !unique.entry(name).or_default().insert(value.to_owned()) {
                out.push(format!("{at} = {value:?}: not unique"));
            }
            if name == pk {
                primary.insert(value.to_owned());
            }
            if fks.iter().any(|(f, _)| *f == name) {
                fk_values.entry(name).or_default().push(value.to_owned());
            }
        }
    }
    let refs =
        fks.iter().map(|(f, t)| (f.to_string(), fk_values.remove(f).unwrap_or_default(), t.to_string())).collect();
    (primary, refs)
}

fn check_value(field: &Value, value: &str) -> Result<(), String> {
    let c = &field["constraints"];
    let number: Option<f64> = match field["type"].as_str().unwrap() {
        "string" | "any" => None,
        "number" => Some(value.parse::<f64>().map_err(|_| "not a number")?),
        "integer" => Some(value.parse::<i64>().map_err(|_| "not an integer")? as f64),
        "boolean" => {
            if !["true", "false", "True", "False", "TRUE", "FALSE", "1", "0"].contains(&value) {
                return Err("not a boolean".into());
            }
            None
        }
        "datetime" => {
            // The schema's `%Y-%m-%dT%H:%M:%S%z`, as Python's strptime reads it (offsets with a
            // colon, or Z).
            assert_eq!(field["format"], "%Y-%m-%dT%H:%M:%S%z");
            let ok = jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%:z", value).is_ok()
                || jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%z", value).is_ok();
            if !ok {
                return Err("not a %Y-%m-%dT%H:%M:%S%z datetime".into());
            }
            None
        }
        other => return Err(format!("the test does not know type {other}")),
    };
    if let Some(allowed) = c["enum"].as_array()
        && !allowed.iter().any(|a| a == value)
    {
        return Err(format!("not one of {allowed:?}"));
    }
    if let (Some(x), Some(min)) = (number, c["minimum"].as_f64())
        && x < min
    {
        return Err(format!("below {min}"));
    }
    if let (Some(x), Some(max)) = (number, c["maximum"].as_f64())
        && x > max
    {
        return Err(format!("above {max}"));
    }
    if let Some(pattern) = c["pattern"].as_str() {
        // Table Schema patterns match the whole value.
        let re = fancy_regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
        if !re.is_match(value).unwrap() {
            return Err(format!("does not match {pattern}"));
        }
    }
    Ok(())
}

fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    r.records().map(|row| header.iter().cloned().zip(row.unwrap().iter().map(str::to_owned)).collect()).collect()
}

/// Two cameras: `cam1` with two JPEGs carrying EXIF (time, GPS, camera), `cam2` with PNGs
/// without any.
fn traps(dir: &Path) -> PathBuf {
    let root = dir.join("traps");
    std::fs::create_dir_all(root.join("cam1")).unwrap();
    let jpeg = std::fs::read(fixtures().join("images/china.jpg")).unwrap();
    std::fs::write(root.join("cam1/IMG_0001.jpg"), jpeg_with_exif(&jpeg)).unwrap();
    let jpeg = std::fs::read(fixtures().join("images/grace_hopper.jpg")).unwrap();
    std::fs::write(root.join("cam1/IMG_0002.jpg"), jpeg_with_exif(&jpeg)).unwrap();
    write_png(&root.join("cam2/a.png"), [30, 200, 40], 1);
    write_png(&root.join("cam2/b.png"), [220, 30, 30], 2);
    root
}

#[test]
fn a_classified_folder_is_a_valid_camtrap_dp_package() {
    let dir = tempfile::tempdir().unwrap();
    let root = arg(&traps(dir.path()));
    let tol = dir.path().join("tol");
    common::import_fixture_tree(&tol, &[]);
    let (m, tol) = (model(), arg(&tol));
    let pkg = dir.path().join("package");
    let run = |extra: &[&str]| {
        let mut args = vec!["classify", "--model", &m, "--index", &tol, &root, "--timezone", "+02:00"];
        args.extend_from_slice(extra);
        arbor(&args)
    };
    // cam2's photos have no GPS: the package cannot be made, and says how to finish it.
    let failed = run(&["--format", "camtrap-dp", "--output", &arg(&pkg)]);
    assert_eq!(failed.code, Some(1));
    assert!(
        failed.stderr.contains("no coordinates for deployment cam2") && failed.stderr.contains("--deployments"),
        "{}",
        failed.stderr
    );
    assert!(!pkg.exists());
    assert!(common::sidecar(&pkg).exists(), "the results so far are kept");
    let deployments = dir.path().join("deployments.csv");
    std::fs::write(&deployments, "deploymentID,latitude,longitude,locationName,habitat\ncam2,52.1,5.2,Pond,wetland\n")
        .unwrap();
    let done = run(&[
        "--format",
        "camtrap-dp",
        "--output",
        &arg(&pkg),
        "--deployments",
        &arg(&deployments),
        "--resume",
        "--contributor",
        "A. Naturalist",
        "--project",
        "Pond survey",
    ]);
    assert!(done.ok(), "{}", done.stderr);
    assert!(done.stderr.contains("3 photos already done"), "{}", done.stderr);
    assert!(!common::sidecar(&pkg).exists());
    let found = problems(&pkg);
    assert!(found.is_empty(), "{found:#?}");

    // The contents: the same answers as the run's CSV, EXIF times in the given offset.
    let csv = run(&["--format", "csv", "-k", "1"]).success();
    let best: BTreeMap<String, (String, f64)> = csv::Reader::from_reader(csv.stdout.as_bytes())
        .deserialize::<BTreeMap<String, String>>()
        .map(|r| {
            let r = r.unwrap();
            (r["file_name"].clone(), (r["species"].clone(), r["score"].parse().unwrap()))
        })
        .collect();
    let media = rows(&pkg.join("media.csv"));
    let observations = rows(&pkg.join("observations.csv"));
    let deployments = rows(&pkg.join("deployments.csv"));
    assert_eq!(media.len(), 4);
    assert_eq!(observations.len(), 4);
    for m in &media {
        let o = observations.iter().find(|o| o["mediaID"] == m["mediaID"]).unwrap();
        let file = format!("{root}/{}", m["filePath"]);
        let (species, score) = &best[&file];
        assert_eq!(&o["scientificName"], species, "{file}");
        assert!((o["classificationProbability"].parse::<f64>().unwrap() - score).abs() < 1e-6);
        assert_eq!(o["observationType"], "animal");
        assert_eq!(o["classificationMethod"], "machine");
        assert!(o["classifiedBy"].starts_with("Arbor "));
        assert_eq!(o["eventStart"], m["timestamp"]);
        if m["deploymentID"] == "cam1" {
            assert_eq!(m["timestamp"], "2025-01-02T03:04:05+02:00", "EXIF DateTimeOriginal in the cameras' offset");
            assert_eq!(m["fileMediatype"], "image/jpeg");
        } else {
            assert_eq!(m["fileMediatype"], "image/png");
        }
    }
    let cam1 = deployments.iter().find(|d| d["deploymentID"] == "cam1").unwrap();
    assert_eq!((cam1["latitude"].as_str(), cam1["longitude"].as_str()), ("-1.500000", "-70.250000"), "from EXIF GPS");
    assert_eq!(cam1["cameraModel"], "Cam");
    assert_eq!(cam1["deploymentStart"], "2025-01-02T03:04:05+02:00");
    let cam2 = deployments.iter().find(|d| d["deploymentID"] == "cam2").unwrap();
    assert_eq!((cam2["latitude"].as_str(), cam2["habitat"].as_str()), ("52.1", "wetland"), "from --deployments");
    let package = read_json(&pkg.join("datapackage.json"));
    assert_eq!(package["contributors"][0]["title"], "A. Naturalist");
    assert_eq!(package["project"]["title"], "Pond survey");
    let taxonomic = package["taxonomic"].as_array().unwrap();
    let named: HashSet<&str> = observations.iter().map(|o| o["scientificName"].as_str()).collect();
    assert_eq!(taxonomic.iter().map(|t| t["scientificName"].as_str().unwrap()).collect::<HashSet<_>>(), named);
    assert!(taxonomic.iter().all(|t| t["taxonRank"] == "species" && t["kingdom"].is_string()));

    // The validator sees what breaks the standard.
    let broken = dir.path().join("broken");
    copy_dir(&pkg, &broken);
    let text = std::fs::read_to_string(broken.join("media.csv"))
        .unwrap()
        .replacen("+02:00", "", 1)
        .replace("cam1/", "../cam1/");
    std::fs::write(broken.join("media.csv"), text).unwrap();
    let mut descriptor = read_json(&broken.join("datapackage.json"));
    descriptor["project"]["samplingDesign"] = json!("whatever");
    std::fs::write(broken.join("datapackage.json"), serde_json::to_vec(&descriptor).unwrap()).unwrap();
    let found = problems(&broken).join("\n");
    assert!(found.contains("timestamp") && found.contains("filePath") && found.contains("datapackage.json"), "{found}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn detections_become_observations_with_boxes() {
    let dir = tempfile::tempdir().unwrap();
    let root = traps(dir.path());
    let md = dir.path().join("md.json");
    let doc = json!({
        "info": {"format_version": "1.5"},
        "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
        "images": [
            {"file": "cam1/IMG_0001.jpg", "detections": [
                {"category": "1", "conf": 0.9, "bbox": [0.1, 0.2, 0.3, 0.4]},
                {"category": "2", "conf": 0.7, "bbox": [0.5, 0.5, 0.2, 0.2]},
                {"category": "3", "conf": 0.05, "bbox": [0.0, 0.0, 0.2, 0.2]}
            ]},
            {"file": "cam1/IMG_0002.jpg", "detections": []},
            {"file": "cam2/a.png", "detections": [{"category": "1", "conf": 0.6, "bbox": [0.0, 0.0, 1.0, 1.0]}]},
            {"file": "cam2/gone.png", "detections": [{"category": "1", "conf": 0.6, "bbox": [0.0, 0.0, 1.0, 1.0]}]}
        ]
    });
    std::fs::write(&md, serde_json::to_vec(&doc).unwrap()).unwrap();
    let deployments = dir.path().join("deployments.csv");
    std::fs::write(&deployments, "deploymentID,latitude,longitude\ncam2,52.1,5.2\n").unwrap();
    let pkg = dir.path().join("package");
    let m = model();
    let run = arbor(&[
        "classify",
        "--model",
        &m,
        "--cls",
        "a cat,a dog,grass",
        "--detections",
        &arg(&md),
        &arg(&root),
        "--format",
        "camtrap-dp",
        "--output",
        &arg(&pkg),
        "--deployments",
        &arg(&deployments),
    ]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.stderr.contains("left out of the package: 1 photos not on disk (cam2/gone.png)"), "{}", run.stderr);
    let found = problems(&pkg);
    assert!(found.is_empty(), "{found:#?}");
    let observations = rows(&pkg.join("observations.csv"));
    let kinds: Vec<(&str, &str)> =
        observations.iter().map(|o| (o["mediaID"].as_str(), o["observationType"].as_str())).collect();
    assert_eq!(kinds, [("m1", "animal"), ("m1", "human"), ("m2", "blank"), ("m3", "animal")]);
    let animal = &observations[0];
    assert_eq!(
        [&animal["bboxX"], &animal["bboxY"], &animal["bboxWidth"], &animal["bboxHeight"]].map(|s| s.as_str()),
        ["0.1", "0.2", "0.3", "0.4"]
    );
    assert_eq!(animal["count"], "1");
    assert!(["a cat", "a dog", "grass"].contains(&animal["scientificName"].as_str()));
    assert!(observations[1]["scientificName"].is_empty() && observations[2]["bboxX"].is_empty());
    let media = rows(&pkg.join("media.csv"));
    assert_eq!(
        media.iter().map(|m| m["filePath"].as_str()).collect::<Vec<_>>(),
        ["cam1/IMG_0001.jpg", "cam1/IMG_0002.jpg", "cam2/a.png"]
    );
}
