//! Crash recovery with real processes: `kill -9` the embedded-default server
//! in the middle of an analysis; after a restart the analysis is taken over
//! and completes, and its results exist exactly once.

#![cfg(unix)]

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    base: String,
}

fn start(dir: &std::path::Path, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_dramatis"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DRAMATIS_JOB_LEASE_SECS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while curl(&["-fsS", &format!("{base}/health/ready")]).is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Server { child, base }
}

/// curl is on every machine this runs on; it keeps this test free of an HTTP client.
fn curl(args: &[&str]) -> Option<String> {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "30"])
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&curl(args).expect("request")).expect("json")
}

#[test]
fn killed_server_resumes_the_analysis_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = start(dir.path(), port);
    let token = json(&[
        "-X",
        "POST",
        &format!("{}/api/v1/auth/login", s.base),
        "-d",
        "username=testuser&password=testpass123",
    ])["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let auth = format!("authorization: Bearer {token}");
    let book =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/docs/bench/middlemarch.epub");
    let doc = json(&[
        "-X",
        "POST",
        &format!("{}/api/v1/documents", s.base),
        "-H",
        &auth,
        "-F",
        &format!("file=@{}", book.display()),
    ]);
    let id = doc["id"].as_str().expect("uploaded").to_string();
    let job = doc["job_id"].as_str().unwrap().to_string();
    // Kill -9 as soon as the job is running.
    let t0 = Instant::now();
    loop {
        let j = json(&["-H", &auth, &format!("{}/api/v1/jobs/{job}", s.base)]);
        if j["status"] == "running" {
            break;
        }
        assert!(j["status"] == "queued", "job finished before it could be killed: {j}");
        assert!(t0.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(5));
    }
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();

    let s = start(dir.path(), port);
    let t1 = Instant::now();
    let d = loop {
        let d = json(&["-H", &auth, &format!("{}/api/v1/documents/{id}", s.base)]);
        let j = json(&["-H", &auth, &format!("{}/api/v1/jobs/{job}", s.base)]);
        if d["status"] == "ready" && j["status"] == "succeeded" {
            assert!(j["attempts"].as_i64().unwrap() >= 2, "taken over after the crash: {j}");
            break d;
        }
        assert!(d["status"] != "failed", "{d}");
        assert!(t1.elapsed() < Duration::from_secs(120), "not resumed: {d} {j}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(d["word_count"].as_i64().unwrap() > 100_000);
    // Exactly once: the stored quotes are the analysis' quotes, characters are not doubled.
    let a = json(&["-H", &auth, &format!("{}/api/v1/documents/{id}/analysis", s.base)]);
    let chars = json(&["-H", &auth, &format!("{}/api/v1/characters?limit=100", s.base)]);
    let names: Vec<&str> = chars["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "no duplicated characters: {names:?}");
    assert!(!a["quotes"].as_array().unwrap().is_empty());
    // Only one document, no half-registered one.
    let docs = json(&["-H", &auth, &format!("{}/api/v1/documents", s.base)]);
    assert_eq!(docs["total"], 1);
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
}
