//! Crash recovery with real processes: `kill -9` the embedded-default server
//! in the middle of an analysis; after a restart the analysis is taken over
//! and completes, and its results exist exactly once. And `kill -9` it in the
//! middle of an upload: after a restart no half-registered document exists,
//! maintenance removes the interrupted upload's temporary file, and a new
//! upload works.

#![cfg(unix)]

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    base: String,
}

fn start(dir: &std::path::Path, port: u16) -> Server {
    start_with(dir, port, &[])
}

fn start_with(dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_dramatis"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DRAMATIS_JOB_LEASE_SECS", "2")
        .envs(env.iter().copied())
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn login(base: &str) -> String {
    let token = json(&[
        "-X",
        "POST",
        &format!("{base}/api/v1/auth/login"),
        "-d",
        "username=testuser&password=testpass123",
    ])["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    format!("authorization: Bearer {token}")
}

/// Regular files under `dir`, recursively (none if it does not exist).
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), m.len()));
            }
        }
    }
    out
}

#[test]
fn killed_during_an_upload_leaves_no_half_registered_document() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = start(dir.path(), port);
    let auth = login(&s.base);
    // 24 MiB of text, sent at 1 MiB/s: the upload is still streaming when the
    // server dies.
    let big = dir.path().join("big.txt");
    let line = "It was a dark and stormy night; the rain fell in torrents, except at occasional intervals.\n";
    std::fs::write(&big, line.repeat(24 * 1024 * 1024 / line.len())).unwrap();
    let mut upload = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--limit-rate", "1M", "-H", &auth, "-F"])
        .arg(format!("file=@{}", big.display()))
        .arg(format!("{}/api/v1/documents", s.base))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let files = dir.path().join("data/files");
    let t0 = Instant::now();
    loop {
        let parts = files_under(&files.join("tmp"));
        if parts.iter().any(|(_, len)| *len > 1024 * 1024) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the upload never reached the server: {parts:?}"
        );
        assert!(
            upload.try_wait().unwrap().is_none(),
            "the upload finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut s = s;
    s.child.kill().unwrap(); // SIGKILL, mid-upload
    s.child.wait().unwrap();
    let _ = upload.kill();
    upload.wait().unwrap();
    let left = files_under(&files.join("tmp"));
    assert_eq!(left.len(), 1, "the interrupted upload's temporary file: {left:?}");
    assert!(files_under(&files.join("blobs")).is_empty(), "nothing was committed");

    // Restart with a grace period shorter than the file's age: the
    // maintenance that runs at start removes the leftover.
    std::thread::sleep(Duration::from_millis(1500));
    let s = start_with(dir.path(), port, &[("DRAMATIS_ORPHAN_GRACE_SECS", "1")]);
    let t1 = Instant::now();
    while !files_under(&files.join("tmp")).is_empty() {
        assert!(t1.elapsed() < Duration::from_secs(30), "temporary upload not removed");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        files_under(&files.join("blobs")).is_empty(),
        "no blob without a document"
    );
    let docs = json(&["-H", &auth, &format!("{}/api/v1/documents", s.base)]);
    assert_eq!(docs["total"], 0, "no half-registered document: {docs}");

    // A fresh upload works and is analysed.
    let small = dir.path().join("small.md");
    std::fs::write(
        &small,
        "# A Visit\n\n\"Mr. Darcy is here,\" said Elizabeth Bennet to Jane. Jane Bennet smiled at Elizabeth.\n"
            .repeat(20),
    )
    .unwrap();
    let doc = json(&[
        "-X",
        "POST",
        &format!("{}/api/v1/documents", s.base),
        "-H",
        &auth,
        "-F",
        &format!("file=@{}", small.display()),
    ]);
    let id = doc["id"]
        .as_str()
        .unwrap_or_else(|| panic!("uploaded: {doc}"))
        .to_string();
    let t2 = Instant::now();
    loop {
        let d = json(&["-H", &auth, &format!("{}/api/v1/documents/{id}", s.base)]);
        if d["status"] == "ready" {
            break;
        }
        assert!(d["status"] != "failed", "{d}");
        assert!(t2.elapsed() < Duration::from_secs(60), "not analysed: {d}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(files_under(&files.join("blobs")).len(), 1);
    assert!(files_under(&files.join("tmp")).is_empty());
    let docs = json(&["-H", &auth, &format!("{}/api/v1/documents", s.base)]);
    assert_eq!(docs["total"], 1);
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
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
