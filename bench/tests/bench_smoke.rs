//! The benchmark runs end to end: tiny sizes, a fifth of a second per
//! scenario (the live one with 5 idle subscribers and 2 watchers), every
//! scenario in the JSON and no errors.

use std::process::Command;

#[test]
fn the_benchmark_runs_every_scenario_without_errors() {
    let folder = tempfile::tempdir().unwrap();
    let json = folder.path().join("bench.json");
    let svg = folder.path().join("bench.svg");
    let output = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "--users",
            "3",
            "--notebooks",
            "60",
            "--revisions-per-notebook",
            "2",
            "--revision-bytes",
            "2000",
            "--files",
            "1",
            "--upload-bytes",
            "1000",
            "--connections",
            "2",
            "--seconds",
            "0.2",
            "--idle-subscribers",
            "5",
            "--watchers",
            "2",
        ])
        .arg("--json-out")
        .arg(&json)
        .arg("--svg-out")
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "bench failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let scenarios = report["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "heartbeat",
            "notebook",
            "notebook-signed-in",
            "first-page",
            "keyset-page",
            "deep-page",
            "autosave",
            "file",
            "mix",
            "upload",
            "live"
        ]
    );
    for scenario in scenarios {
        assert_eq!(scenario["errors"], 0, "{scenario}");
        assert!(scenario["requests"].as_u64().unwrap() > 0, "{scenario}");
    }
    let named = |name: &str| {
        scenarios
            .iter()
            .find(|scenario| scenario["scenario"] == name)
            .unwrap()
    };
    let autosave = named("autosave");
    assert_eq!(
        autosave["revisions_acknowledged"],
        autosave["revisions_stored"]
    );
    let live = named("live");
    assert_eq!(live["revisions_acknowledged"], live["revisions_stored"]);
    let subscribers = &live["live"];
    assert_eq!(subscribers["idle_subscribers"], 5, "{live}");
    assert_eq!(subscribers["deliveries_lost"], 0, "{live}");
    assert_eq!(
        subscribers["deliveries"], subscribers["deliveries_expected"],
        "{live}"
    );
    assert!(subscribers["deliveries"].as_u64().unwrap() > 0, "{live}");
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
}
