//! Characters and documents: CRUD, pagination, ownership, bad input; on
//! SQLite and PostgreSQL.

mod common;

use common::{TestApp, assert_problem, shared};
use reqwest::StatusCode;
use serde_json::{Value, json};

backend_tests!(
    characters_crud,
    characters_pagination,
    characters_bad_input,
    ownership_is_404_and_admin_sees_all,
    documents_upload_list_get_delete,
    documents_type_by_content,
    documents_dedup_and_shared_blob,
    documents_bad_uploads,
    pagination_bad_values,
    malformed_ids,
    documents_filter_and_sort,
);

async fn characters_crud(app: TestApp) {
    let t = app.token("lizzy").await;
    let r = app
        .post_json(
            "/api/v1/characters",
            &t,
            json!({"name": "  Elizabeth Bennet ", "description": "Second daughter", "tags": ["austen", "heroine"],
                   "avatar_url": "https://example.com/liz.png", "greeting": "How do you do?"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let c: Value = r.json().await.unwrap();
    let id = c["id"].as_str().unwrap();
    assert_eq!(c["name"], "Elizabeth Bennet");
    assert_eq!(c["tags"], json!(["austen", "heroine"]));
    assert_eq!(c["personality"], "");
    let created_at = c["created_at"].as_str().unwrap().to_string();
    assert!(created_at.ends_with('Z') && created_at.contains('T'));

    let r = app
        .patch_json(&format!("/api/v1/characters/{id}"), &t, json!({"personality": "witty"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["personality"], "witty");
    assert_eq!(p["description"], "Second daughter", "untouched fields stay");
    assert_eq!(p["avatar_url"], "https://example.com/liz.png");
    assert!(p["updated_at"].as_str().unwrap() >= created_at.as_str());
    // null clears a nullable field; absent leaves it.
    let p: Value = app
        .patch_json(&format!("/api/v1/characters/{id}"), &t, json!({"avatar_url": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["avatar_url"], Value::Null);
    assert_eq!(p["personality"], "witty");
    let got: Value = app
        .get(&format!("/api/v1/characters/{id}"), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, p);
    assert_eq!(
        app.delete(&format!("/api/v1/characters/{id}"), &t).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(app.get(&format!("/api/v1/characters/{id}"), &t).await, 404).await;
    assert_problem(app.delete(&format!("/api/v1/characters/{id}"), &t).await, 404).await;
}

async fn characters_pagination(app: TestApp) {
    let t = app.token("mary").await;
    for i in 0..25 {
        let r = app
            .post_json("/api/v1/characters", &t, json!({"name": format!("Character {i:02}")}))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let page: Value = app.get("/api/v1/characters", &t).await.json().await.unwrap();
    assert_eq!(page["total"], 25);
    assert_eq!(page["skip"], 0);
    assert_eq!(page["limit"], 20);
    assert_eq!(page["items"].as_array().unwrap().len(), 20);
    assert_eq!(page["items"][0]["name"], "Character 24", "newest first");
    let rest: Value = app
        .get("/api/v1/characters?skip=20&limit=20", &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 5);
    assert_eq!(rest["items"][4]["name"], "Character 00");
    let mut seen: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25, "pages neither overlap nor skip");
    let beyond: Value = app
        .get("/api/v1/characters?skip=1000000", &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(beyond["items"], json!([]));
    assert_eq!(beyond["total"], 25);
}

async fn characters_bad_input(app: TestApp) {
    let t = app.token("kitty").await;
    let post = |body: Value| app.post_json("/api/v1/characters", &t, body);
    let d = assert_problem(post(json!({})).await, 422).await;
    assert!(d.contains("name"), "{d}");
    assert_problem(post(json!({"name": ""})).await, 422).await;
    assert_problem(post(json!({"name": "   "})).await, 422).await;
    assert_problem(post(json!({"name": "x".repeat(201)})).await, 422).await;
    assert_problem(post(json!({"name": "Nul\u{0}Byte"})).await, 422).await;
    assert_problem(post(json!({"name": "ok", "description": "bad\u{0}"})).await, 422).await;
    assert_problem(
        post(json!({"name": "ok", "description": "x".repeat(20_001)})).await,
        422,
    )
    .await;
    let d = assert_problem(post(json!({"name": "ok", "nickname": "x"})).await, 422).await;
    assert!(d.contains("nickname"), "{d}");
    assert_problem(post(json!({"name": 42})).await, 422).await;
    assert_problem(post(json!({"name": "ok", "tags": "austen"})).await, 422).await;
    assert_problem(post(json!({"name": "ok", "tags": vec!["t"; 51]})).await, 422).await;
    assert_problem(
        post(json!({"name": "ok", "avatar_url": "javascript:alert(1)"})).await,
        422,
    )
    .await;
    assert_problem(
        post(json!({"name": "ok", "document_id": uuid::Uuid::new_v4()})).await,
        422,
    )
    .await;
    assert_problem(post(json!({"name": "ok", "document_id": "nope"})).await, 422).await;
    // A body over the JSON limit (1 MiB).
    // The unread rest of the body means the server closes the connection, and it says so, so keep-alive
    // clients do not reuse a socket that is about to close.
    let r = post(json!({"name": "ok", "description": "x".repeat(2 * 1024 * 1024)})).await;
    assert_eq!(
        r.headers().get("connection").map(|v| v.to_str().unwrap()),
        Some("close")
    );
    assert_problem(r, 413).await;
    // Odd but valid Unicode round-trips exactly: RTL text and marks, emoji, combining marks.
    for name in [
        "\u{5D0}\u{5DC}\u{5D9}\u{5D6}\u{5D1}\u{5EA} \u{200F}",
        "Lizzy 👩‍🎤🎻",
        "Zoë Ǹ̃",
    ] {
        let r = post(json!({"name": name})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let c: Value = r.json().await.unwrap();
        assert_eq!(c["name"], name.trim());
    }
    // PATCH: name cannot be nulled or emptied.
    let c: Value = post(json!({"name": "Lydia"})).await.json().await.unwrap();
    let path = format!("/api/v1/characters/{}", c["id"].as_str().unwrap());
    assert_problem(app.patch_json(&path, &t, json!({"name": ""})).await, 422).await;
    assert_problem(app.patch_json(&path, &t, json!({"name": null})).await, 422).await;
    assert_problem(app.patch_json(&path, &t, json!({"unknown": 1})).await, 422).await;
    let r = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400).await;
    let r = app
        .client
        .post(app.url("/api/v1/characters"))
        .bearer_auth(&t)
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_problem(r, 415).await;
}

async fn ownership_is_404_and_admin_sees_all(app: TestApp) {
    let a = app.token("alice").await;
    let b = app.token("bob").await;
    let c: Value = app
        .post_json("/api/v1/characters", &a, json!({"name": "Mr. Darcy"}))
        .await
        .json()
        .await
        .unwrap();
    let cid = c["id"].as_str().unwrap();
    let doc: Value = app
        .upload(&a, "a.txt", b"It is a truth universally acknowledged.\n".to_vec())
        .await
        .json()
        .await
        .unwrap();
    let did = doc["id"].as_str().unwrap();
    for path in [format!("/api/v1/characters/{cid}"), format!("/api/v1/documents/{did}")] {
        assert_problem(app.get(&path, &b).await, 404).await;
        assert_problem(app.delete(&path, &b).await, 404).await;
    }
    assert_problem(
        app.patch_json(&format!("/api/v1/characters/{cid}"), &b, json!({"name": "Mine"}))
            .await,
        404,
    )
    .await;
    // b cannot link a's document to b's character.
    assert_problem(
        app.post_json("/api/v1/characters", &b, json!({"name": "x", "document_id": did}))
            .await,
        422,
    )
    .await;
    let list: Value = app.get("/api/v1/characters", &b).await.json().await.unwrap();
    assert_eq!(list["total"], 0);
    let list: Value = app.get("/api/v1/documents", &b).await.json().await.unwrap();
    assert_eq!(list["total"], 0);
    // a still has them, untouched.
    let got: Value = app
        .get(&format!("/api/v1/characters/{cid}"), &a)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["name"], "Mr. Darcy");
    // The admin sees everyone's.
    let admin = app.admin_token().await;
    assert_eq!(
        app.get(&format!("/api/v1/characters/{cid}"), &admin).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/v1/documents/{did}"), &admin).await.status(),
        StatusCode::OK
    );
    let all: Value = app.get("/api/v1/characters", &admin).await.json().await.unwrap();
    assert_eq!(all["total"], 1);
}

async fn documents_upload_list_get_delete(app: TestApp) {
    let t = app.token("jane").await;
    let text = b"It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.\n";
    let r = app.upload(&t, "../../pride.txt", text.to_vec()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["filename"], "pride.txt", "path components are dropped");
    assert_eq!(d["format"], "text");
    assert_eq!(d["size_bytes"], text.len());
    // A worker may already have picked it up.
    assert!(
        ["queued", "processing", "ready"].contains(&d["status"].as_str().unwrap()),
        "{d}"
    );
    let sha = d["sha256"].as_str().unwrap().to_string();
    assert_eq!(sha.len(), 64);
    let blob = app
        .dir
        .path()
        .join("files/blobs")
        .join(&sha[..2])
        .join(&sha[2..4])
        .join(&sha);
    assert_eq!(std::fs::read(&blob).unwrap(), text, "stored byte for byte");
    let id = d["id"].as_str().unwrap();
    let got: Value = app
        .get(&format!("/api/v1/documents/{id}"), &t)
        .await
        .json()
        .await
        .unwrap();
    for k in [
        "id",
        "filename",
        "sha256",
        "size_bytes",
        "format",
        "created_at",
        "job_id",
    ] {
        assert_eq!(got[k], d[k], "{k}");
    }
    let list: Value = app.get("/api/v1/documents?limit=5", &t).await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], id);
    assert_eq!(
        app.delete(&format!("/api/v1/documents/{id}"), &t).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(!blob.exists(), "the file is removed with its last document");
    assert_problem(app.get(&format!("/api/v1/documents/{id}"), &t).await, 404).await;
    // Nothing left behind in the temporary directory.
    assert_eq!(std::fs::read_dir(app.dir.path().join("files/tmp")).unwrap().count(), 0);
}

async fn documents_type_by_content(app: TestApp) {
    let t = app.token("kitty").await;
    let cases = [
        ("docs/bench/pride_and_prejudice.epub", "book.txt", "epub"),
        ("docs/bench/middlemarch.docx", "novel.pdf", "docx"),
        ("docs/bench/middlemarch.pdf", "novel", "pdf"),
        ("docs/bench/middlemarch.md", "novel.md", "markdown"),
    ];
    for (path, name, want) in cases {
        let bytes = std::fs::read(shared(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let r = app.upload(&t, name, bytes).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{path}");
        let d: Value = r.json().await.unwrap();
        assert_eq!(d["format"], want, "{path} named {name}");
    }
}

async fn documents_dedup_and_shared_blob(app: TestApp) {
    let a = app.token("alice").await;
    let b = app.token("bob").await;
    let bytes = b"Call me Ishmael. Some years ago, never mind how long precisely.\n".to_vec();
    let d1: Value = app.upload(&a, "moby.txt", bytes.clone()).await.json().await.unwrap();
    let d2: Value = app
        .upload(&b, "moby-copy.txt", bytes.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d1["sha256"], d2["sha256"]);
    assert_ne!(d1["id"], d2["id"]);
    let blobs = walk(&app.dir.path().join("files/blobs"));
    assert_eq!(blobs, 1, "identical content is stored once");
    // Deleting one keeps the blob for the other.
    app.delete(&format!("/api/v1/documents/{}", d1["id"].as_str().unwrap()), &a)
        .await;
    assert_eq!(walk(&app.dir.path().join("files/blobs")), 1);
    app.delete(&format!("/api/v1/documents/{}", d2["id"].as_str().unwrap()), &b)
        .await;
    assert_eq!(walk(&app.dir.path().join("files/blobs")), 0);
}

fn walk(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        n += if p.is_dir() { walk(&p) } else { 1 };
    }
    n
}

async fn documents_bad_uploads(app: TestApp) {
    let t = app.token("lydia").await;
    // Binary garbage: 415, and nothing stored.
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    assert_problem(app.upload(&t, "x.pdf", garbage).await, 415).await;
    // An executable named .txt.
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.extend(std::iter::repeat_n(0u8, 512));
    assert_problem(app.upload(&t, "notes.txt", elf).await, 415).await;
    assert_problem(app.upload(&t, "empty.txt", Vec::new()).await, 422).await;
    // No `file` field.
    let form = reqwest::multipart::Form::new().text("other", "value");
    let r = app.post_form("/api/v1/documents", &t, form).await;
    assert_problem(r, 400).await;
    // Not multipart at all.
    let r = app.post_json("/api/v1/documents", &t, json!({"file": "x"})).await;
    assert_problem(r, 415).await;
    // Not authenticated.
    let r = app.client.post(app.url("/api/v1/documents")).send().await.unwrap();
    assert_problem(r, 401).await;
    let list: Value = app.get("/api/v1/documents", &t).await.json().await.unwrap();
    assert_eq!(list["total"], 0);
    assert_eq!(walk(&app.dir.path().join("files/blobs")), 0);
    assert_eq!(std::fs::read_dir(app.dir.path().join("files/tmp")).unwrap().count(), 0);
}

async fn pagination_bad_values(app: TestApp) {
    let t = app.token("hill").await;
    for q in [
        "skip=-1",
        "limit=0",
        "limit=-5",
        "limit=101",
        "limit=1000000",
        "skip=99999999999999999999",
        "limit=abc",
        "skip=1.5",
    ] {
        for base in ["/api/v1/characters", "/api/v1/documents"] {
            let d = assert_problem(app.get(&format!("{base}?{q}"), &t).await, 422).await;
            assert!(d.contains("skip") || d.contains("limit"), "{q}: {d}");
        }
    }
    let ok: Value = app
        .get("/api/v1/characters?skip=0&limit=100", &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ok["limit"], 100);
}

async fn malformed_ids(app: TestApp) {
    let t = app.token("reynolds").await;
    for id in ["not-a-uuid", "123", "%00", "00000000-0000-0000-0000-00000000000g"] {
        for base in ["/api/v1/characters", "/api/v1/documents"] {
            let d = assert_problem(app.get(&format!("{base}/{id}"), &t).await, 422).await;
            assert!(d.contains("UUID"), "{d}");
        }
    }
    let missing = uuid::Uuid::new_v4();
    assert_problem(app.get(&format!("/api/v1/characters/{missing}"), &t).await, 404).await;
}

async fn documents_filter_and_sort(app: TestApp) {
    let t = app.token("sorter").await;
    for (name, body) in [
        ("b.md", "# Bee\n\nText.\n"),
        ("a.txt", "Plain words here.\n"),
        ("c.txt", "More plain words, longer.\n"),
    ] {
        assert_eq!(
            app.upload(&t, name, body.as_bytes().to_vec()).await.status(),
            StatusCode::CREATED
        );
    }
    let names = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["filename"].as_str().unwrap().to_string())
            .collect()
    };
    let v: Value = app
        .get("/api/v1/documents?sort=filename", &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(v), ["a.txt", "b.md", "c.txt"]);
    let v: Value = app
        .get("/api/v1/documents?sort=-filename", &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(v), ["c.txt", "b.md", "a.txt"]);
    let v: Value = app
        .get("/api/v1/documents?format=text&sort=filename", &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 2);
    assert_eq!(names(v), ["a.txt", "c.txt"]);
    let v: Value = app
        .get("/api/v1/documents?format=markdown", &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(v), ["b.md"]);
    let v: Value = app
        .get("/api/v1/documents?status=failed", &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 0);
    for bad in ["sort=evil;drop", "status=done", "format=exe"] {
        assert_problem(app.get(&format!("/api/v1/documents?{bad}"), &t).await, 422).await;
    }
}
