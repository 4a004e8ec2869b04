//! The `dramatis` command line, run as a user would run it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn dramatis(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dramatis"));
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

#[test]
fn help_explains_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dramatis(dir.path()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "migrate", "user", "extract", "openapi"] {
        assert!(text.contains(cmd), "{cmd} missing from --help:\n{text}");
    }
    let out = dramatis(dir.path()).args(["serve", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("--bind"));
}

#[test]
fn bad_configuration_is_named_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dramatis(dir.path())
        .arg("serve")
        .env("DRAMATIS_ENV", "production")
        .env("DRAMATIS_BIND", "not-an-address")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DRAMATIS_SECRET_KEY"), "{err}");
    assert!(err.contains("DRAMATIS_BIND"), "{err}");
    // A weak key is refused in production too.
    let out = dramatis(dir.path())
        .arg("serve")
        .env("DRAMATIS_ENV", "production")
        .env("DRAMATIS_SECRET_KEY", "secretsecretsecretsecretsecretsecret")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("too weak"));
    // dramatis.toml values are validated the same way.
    std::fs::write(dir.path().join("dramatis.toml"), "max_upload_mb = \"lots\"\n").unwrap();
    let out = dramatis(dir.path()).arg("migrate").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DRAMATIS_MAX_UPLOAD_MB"));
}

#[test]
fn migrate_and_user_create() {
    let dir = tempfile::tempdir().unwrap();
    let out = dramatis(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        dir.path().join("data/dramatis.db").exists(),
        "SQLite file under ./data by default"
    );
    let create = |name: &str, pw: &str, admin: bool| {
        let mut c = dramatis(dir.path());
        c.args(["user", "create", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if admin {
            c.arg("--admin");
        }
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{pw}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = create("boss", "Sup3r-Secret-Pw", true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("role admin"));
    let out = create("boss", "Sup3r-Secret-Pw", false);
    assert!(!out.status.success(), "duplicate refused");
    let out = create("weak", "short", false);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
}

#[test]
fn serve_answers_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = dramatis(dir.path())
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut answered = false;
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::Read;
            s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.1 200") && buf.contains("healthy") {
                answered = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(answered, "serve did not answer /health");
    #[cfg(unix)]
    {
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "clean exit after SIGTERM: {status}");
                break;
            }
            assert!(Instant::now() < deadline, "serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    #[cfg(not(unix))]
    child.kill().unwrap();
    assert!(
        dir.path().join("data/secret_key").exists(),
        "development secret kept under ./data"
    );
}

#[test]
fn extract_prints_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "It is a truth universally acknowledged.\n").unwrap();
    let out = dramatis(dir.path())
        .args(["extract", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("universally acknowledged"));
    let out = dramatis(dir.path())
        .args(["extract", file.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format"], "text");
    let out = dramatis(dir.path())
        .args(["extract", "/nonexistent/file.pdf"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn openapi_prints_a_3_1_document() {
    let dir = tempfile::tempdir().unwrap();
    let out = dramatis(dir.path()).arg("openapi").output().unwrap();
    let spec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
}
