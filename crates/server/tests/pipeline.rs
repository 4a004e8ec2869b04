//! From upload to cast: jobs, the analysis pipeline, events; on SQLite and
//! PostgreSQL.

mod common;

use common::{Backend, TestApp, assert_problem, connect_ws, next_event, pride, wait_status};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

backend_tests!(
    upload_runs_the_pipeline_to_ready,
    reanalysis_is_idempotent_and_keeps_edits,
    delete_removes_derived_data_but_keeps_edited_characters,
    websocket_delivers_own_events_and_replays,
    server_sent_events_replay_with_last_event_id,
    unreadable_document_fails_with_an_error,
    jobs_api_and_ownership,
    graph_and_exports,
    fifty_concurrent_uploads_from_five_users,
);

async fn count(app: &TestApp, sql: &str, id: &str) -> i64 {
    app.state
        .db
        .fetch_one(sql, &dramatis_server::params![id])
        .await
        .unwrap()
        .get("n")
        .unwrap()
}

async fn upload_runs_the_pipeline_to_ready(app: TestApp) {
    let t = app.token("reader").await;
    let r = app.upload(&t, "pride.epub", pride()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let d: Value = r.json().await.unwrap();
    assert!(d["job_id"].is_string(), "upload answers with its job: {d}");
    let id = d["id"].as_str().unwrap().to_string();
    let d = wait_status(&app, &t, &id, "ready").await;
    assert_eq!(d["title"], "Pride and Prejudice");
    assert_eq!(d["authors"], json!(["Jane Austen"]));
    assert!(d["word_count"].as_i64().unwrap() > 100_000);
    assert!(d["sections"].as_array().unwrap().len() > 50, "chapters");
    assert!(d["stats"]["sentences"].as_i64().unwrap() > 1000);

    let text: Value = app
        .get(&format!("/api/v1/documents/{id}/text"), &t)
        .await
        .json()
        .await
        .unwrap();
    let full = text["text"].as_str().unwrap();
    assert!(full.contains("It is a truth universally acknowledged"));
    let part: Value = app
        .get(&format!("/api/v1/documents/{id}/text?start=10&end=30"), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        part["text"].as_str().unwrap(),
        full.chars().skip(10).take(20).collect::<String>()
    );
    assert_problem(
        app.get(&format!("/api/v1/documents/{id}/text?start=5&end=2"), &t).await,
        422,
    )
    .await;
    assert_problem(
        app.get(&format!("/api/v1/documents/{id}/text?end=999999999"), &t).await,
        422,
    )
    .await;

    let a: Value = app
        .get(&format!("/api/v1/documents/{id}/analysis"), &t)
        .await
        .json()
        .await
        .unwrap();
    assert!(a.get("text").is_none(), "text only on request");
    let cast = a["characters"].as_array().unwrap();
    assert!(
        cast.iter().any(|c| c["name"].as_str().unwrap().contains("Elizabeth")),
        "Elizabeth found"
    );
    assert!(
        cast.iter().any(|c| c["name"].as_str().unwrap().contains("Darcy")),
        "Darcy found"
    );
    assert!(a["quotes"].as_array().unwrap().len() > 500);
    let with_text: Value = app
        .get(&format!("/api/v1/documents/{id}/analysis?include=text"), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(with_text["text"].as_str().unwrap(), full);
    // A quote's offsets point at quoted speech in that text.
    let q = &with_text["quotes"][0];
    let quoted: String = full
        .chars()
        .skip(q["start"].as_u64().unwrap() as usize)
        .take((q["end"].as_u64().unwrap() - q["start"].as_u64().unwrap()) as usize)
        .collect();
    assert!(!quoted.trim().is_empty());

    // The main cast became the user's characters, linked to the document.
    let chars: Value = app.get("/api/v1/characters?limit=100", &t).await.json().await.unwrap();
    let items = chars["items"].as_array().unwrap();
    assert!(items.len() >= 5, "{} characters", items.len());
    assert!(items.iter().all(|c| c["document_id"] == id.as_str()));
    let liz = items
        .iter()
        .find(|c| c["name"].as_str().unwrap().contains("Elizabeth"))
        .expect("Elizabeth");
    assert_eq!(liz["gender"], "she/her");
    assert!(liz["aliases"].as_array().unwrap().len() >= 2);
    assert!(liz["description"].as_str().unwrap().contains("Pride and Prejudice"));
    assert!(
        !liz["example_dialogue"].as_str().unwrap().is_empty(),
        "lines from the book"
    );
    // The persona rests on what the book says about her, in the card spec's example format.
    let desc = liz["description"].as_str().unwrap();
    assert!(desc.contains("In the book: "), "describing sentences: {desc}");
    assert!(
        !liz["personality"].as_str().unwrap().is_empty(),
        "words the book uses for her"
    );
    let examples = liz["example_dialogue"].as_str().unwrap();
    assert!(examples.starts_with("<START>\n{{char}}: \""), "{examples}");
    let text: Value = app
        .get(&format!("/api/v1/documents/{id}/text"), &t)
        .await
        .json()
        .await
        .unwrap();
    let first_line = examples.lines().nth(1).unwrap();
    let line = first_line.trim_start_matches("{{char}}: \"").trim_end_matches('"');
    assert!(
        text["text"].as_str().unwrap().contains(line),
        "example lines are hers, verbatim: {line}"
    );

    let job: Value = app
        .get(&format!("/api/v1/jobs/{}", d["job_id"].as_str().unwrap()), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(job["status"], "succeeded");
    assert_eq!(job["attempts"], 1);
    assert!(job["result"]["passages"].as_i64().unwrap() > 100);
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM passages WHERE document_id = $1", &id).await,
        job["result"]["passages"].as_i64().unwrap()
    );

    // Passages and quotes are char ranges of the stored text (not copies of it): their texts, read by id, are
    // exactly those ranges, whether sliced from a cached index or from the text in the database.
    let full: Vec<char> = full.chars().collect();
    let range = |r: &dramatis_server::db::Row| -> String {
        let (s, e): (i64, i64) = (r.get("start_char").unwrap(), r.get("end_char").unwrap());
        full[s as usize..e as usize].iter().collect()
    };
    for table in ["passages", "quotes"] {
        let rows = app
            .state
            .db
            .fetch_all(
                &format!("SELECT id, start_char, end_char FROM {table} WHERE document_id = $1 ORDER BY idx LIMIT 50"),
                &dramatis_server::params![id.as_str()],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 50);
        let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.get("id").unwrap()).collect();
        let texts = dramatis_server::chat::index::texts(&app.state.db, table, &ids)
            .await
            .unwrap();
        for r in &rows {
            let want = range(r);
            assert!(!want.trim().is_empty());
            assert_eq!(texts[&r.get::<uuid::Uuid>("id").unwrap()], want, "{table}");
        }
    }
    // Search snippets come from the same ranges.
    let hits: Value = app
        .get("/api/v1/search?q=Darcy%20pride&limit=5", &t)
        .await
        .json()
        .await
        .unwrap();
    let hits = hits["items"].as_array().unwrap();
    assert!(!hits.is_empty());
    for h in hits {
        let passage: String = full[h["start"].as_u64().unwrap() as usize..h["end"].as_u64().unwrap() as usize]
            .iter()
            .collect();
        let snippet = h["snippet"].as_str().unwrap();
        assert!(
            !snippet.is_empty() && passage.contains(snippet),
            "snippet {snippet:?} not from its passage"
        );
    }
}

async fn reanalysis_is_idempotent_and_keeps_edits(app: TestApp) {
    let t = app.token("again").await;
    let d: Value = app.upload(&t, "pride.epub", pride()).await.json().await.unwrap();
    let id = d["id"].as_str().unwrap().to_string();
    wait_status(&app, &t, &id, "ready").await;
    let before: Value = app.get("/api/v1/characters?limit=100", &t).await.json().await.unwrap();
    let victim = before["items"][0].clone();
    let vid = victim["id"].as_str().unwrap();
    app.patch_json(
        &format!("/api/v1/characters/{vid}"),
        &t,
        json!({"description": "My own words."}),
    )
    .await;
    let counts = |app: &TestApp| {
        let id = id.clone();
        let app_db = app.state.db.clone();
        async move {
            let mut out = Vec::new();
            for table in ["passages", "quotes", "analyses", "document_texts", "characters"] {
                let n: i64 = app_db
                    .fetch_one(
                        &format!("SELECT COUNT(*) AS n FROM {table} WHERE document_id = $1"),
                        &dramatis_server::params![id.as_str()],
                    )
                    .await
                    .unwrap()
                    .get("n")
                    .unwrap();
                out.push(n);
            }
            out
        }
    };
    let n1 = counts(&app).await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/documents/{id}/analyze")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let job: Value = r.json().await.unwrap();
    let jid = job["job_id"].as_str().unwrap();
    let start = Instant::now();
    loop {
        let j: Value = app.get(&format!("/api/v1/jobs/{jid}"), &t).await.json().await.unwrap();
        if j["status"] == "succeeded" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counts(&app).await, n1, "nothing duplicated");
    let kept: Value = app
        .get(&format!("/api/v1/characters/{vid}"), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kept["description"], "My own words.");
    assert_eq!(kept["edited"], true);
}

async fn delete_removes_derived_data_but_keeps_edited_characters(app: TestApp) {
    let t = app.token("tidy").await;
    let d: Value = app.upload(&t, "pride.epub", pride()).await.json().await.unwrap();
    let id = d["id"].as_str().unwrap().to_string();
    wait_status(&app, &t, &id, "ready").await;
    let chars: Value = app.get("/api/v1/characters?limit=100", &t).await.json().await.unwrap();
    let keep = chars["items"][1]["id"].as_str().unwrap().to_string();
    app.patch_json(
        &format!("/api/v1/characters/{keep}"),
        &t,
        json!({"personality": "mine now"}),
    )
    .await;
    assert_eq!(
        app.delete(&format!("/api/v1/documents/{id}"), &t).await.status(),
        StatusCode::NO_CONTENT
    );
    for table in ["passages", "quotes", "analyses", "document_texts", "characters"] {
        let n = count(
            &app,
            &format!("SELECT COUNT(*) AS n FROM {table} WHERE document_id = $1"),
            &id,
        )
        .await;
        assert_eq!(n, 0, "{table} rows left");
    }
    let left: Value = app.get("/api/v1/characters?limit=100", &t).await.json().await.unwrap();
    assert_eq!(left["total"], 1, "only the edited character stays");
    assert_eq!(left["items"][0]["id"], keep.as_str());
    assert_eq!(left["items"][0]["document_id"], Value::Null, "unlinked");
}

async fn websocket_delivers_own_events_and_replays(app: TestApp) {
    let t = app.token("watcher").await;
    let other = app.token("stranger").await;
    let mut mine = connect_ws(&app, &t, None).await;
    let mut theirs = connect_ws(&app, &other, None).await;
    let d: Value = app.upload(&t, "pride.epub", pride()).await.json().await.unwrap();
    let doc = d["id"].as_str().unwrap();
    let mut seen: Vec<Value> = Vec::new();
    while let Some(e) = next_event(&mut mine, Duration::from_secs(120)).await {
        let done = e["type"] == "job.completed";
        seen.push(e);
        if done {
            break;
        }
    }
    let types: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"job.queued"), "{types:?}");
    assert!(types.contains(&"job.progress"), "{types:?}");
    assert!(types.contains(&"character.created"), "{types:?}");
    assert!(types.contains(&"document.ready"), "{types:?}");
    assert_eq!(types.last(), Some(&"job.completed"), "{types:?}");
    let stages: Vec<&str> = seen.iter().filter_map(|e| e["stage"].as_str()).collect();
    for s in ["extract", "analyze", "persist"] {
        assert!(stages.contains(&s), "stage {s} reported: {stages:?}");
    }
    assert!(seen.iter().all(|e| e["id"].is_string()));
    assert!(
        seen.iter()
            .filter(|e| e["document_id"].is_string())
            .all(|e| e["document_id"] == doc)
    );
    // Ids increase, so a client can resume from any of them.
    let ids: Vec<&str> = seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // The other user saw nothing.
    assert!(next_event(&mut theirs, Duration::from_millis(300)).await.is_none());
    // Ping is answered.
    mine.send(tokio_tungstenite::tungstenite::Message::Text(
        r#"{"type":"ping"}"#.into(),
    ))
    .await
    .unwrap();
    let pong = next_event(&mut mine, Duration::from_secs(5)).await.unwrap();
    assert_eq!(pong["type"], "pong");
    // Reconnecting with `since` replays what came after that event.
    let mut again = connect_ws(&app, &t, Some(ids[0])).await;
    let mut replayed = Vec::new();
    while let Some(e) = next_event(&mut again, Duration::from_secs(2)).await {
        replayed.push(e["id"].as_str().unwrap().to_string());
        if replayed.len() == ids.len() - 1 {
            break;
        }
    }
    assert_eq!(replayed, ids[1..].iter().map(|s| s.to_string()).collect::<Vec<_>>());
    // Bad since, bad token.
    let url = format!(
        "{}/api/v1/ws?access_token={t}&since=nope",
        app.base.replace("http://", "ws://")
    );
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
    let url = format!("{}/api/v1/ws?access_token=forged", app.base.replace("http://", "ws://"));
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
}

async fn server_sent_events_replay_with_last_event_id(app: TestApp) {
    let t = app.token("listener").await;
    let d: Value = app
        .upload(&t, "note.txt", b"Chapter 1\n\n\"Hello,\" said Anne.\n".to_vec())
        .await
        .json()
        .await
        .unwrap();
    wait_status(&app, &t, d["id"].as_str().unwrap(), "ready").await;
    let first: String = app
        .state
        .db
        .fetch_one("SELECT MIN(id) AS id FROM events", &[])
        .await
        .unwrap()
        .get("id")
        .unwrap();
    let resp = app
        .client
        .get(app.url("/api/v1/events"))
        .bearer_auth(&t)
        .header("last-event-id", first.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = resp.bytes_stream();
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text.contains("document.ready") && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), body.next()).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    assert!(text.contains("event: document.ready"), "{text}");
    assert!(text.contains("event: job.progress"), "{text}");
    assert!(
        !text.contains(&format!("id: {first}\n")),
        "replay starts after the given id"
    );
    assert_problem(app.client.get(app.url("/api/v1/events")).send().await.unwrap(), 401).await;
}

async fn unreadable_document_fails_with_an_error(app: TestApp) {
    let t = app.token("unlucky").await;
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 2000));
    let d: Value = app.upload(&t, "broken.pdf", bytes).await.json().await.unwrap();
    assert_eq!(d["format"], "pdf");
    let d = wait_status(&app, &t, d["id"].as_str().unwrap(), "failed").await;
    assert!(d["error"].as_str().is_some_and(|e| !e.is_empty()), "{d}");
    let job: Value = app
        .get(&format!("/api/v1/jobs/{}", d["job_id"].as_str().unwrap()), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(job["status"], "dead", "a corrupt file is not retried: {job}");
    assert!(job["last_error"].as_str().is_some());
    assert_problem(
        app.get(&format!("/api/v1/documents/{}/text", d["id"].as_str().unwrap()), &t)
            .await,
        409,
    )
    .await;
}

async fn jobs_api_and_ownership(app: TestApp) {
    let t = app.token("owner").await;
    let other = app.token("nosy").await;
    let d: Value = app
        .upload(&t, "note.txt", b"A short note.\n".to_vec())
        .await
        .json()
        .await
        .unwrap();
    let jid = d["job_id"].as_str().unwrap();
    wait_status(&app, &t, d["id"].as_str().unwrap(), "ready").await;
    let list: Value = app.get("/api/v1/jobs?status=succeeded", &t).await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], jid);
    let none: Value = app.get("/api/v1/jobs?status=queued", &t).await.json().await.unwrap();
    assert_eq!(none["total"], 0);
    assert_problem(app.get("/api/v1/jobs?status=bogus", &t).await, 422).await;
    assert_problem(app.get(&format!("/api/v1/jobs/{jid}"), &other).await, 404).await;
    assert_problem(app.delete(&format!("/api/v1/jobs/{jid}"), &other).await, 404).await;
    assert_problem(app.delete(&format!("/api/v1/jobs/{jid}"), &t).await, 409).await;
    let theirs: Value = app.get("/api/v1/jobs", &other).await.json().await.unwrap();
    assert_eq!(theirs["total"], 0);
}

/// With no workers in the server, a job waits; it can be cancelled; and a
/// job whose worker died (lease expired) is finished by another worker,
/// with its results stored exactly once.
async fn queue_semantics(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("DRAMATIS_WORKERS", "0")]).await;
    let t = app.token("patient").await;
    let d: Value = app
        .upload(&t, "a.txt", b"\"Hi,\" said Tom.\n".to_vec())
        .await
        .json()
        .await
        .unwrap();
    let jid = d["job_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let j: Value = app.get(&format!("/api/v1/jobs/{jid}"), &t).await.json().await.unwrap();
    assert_eq!(j["status"], "queued");
    let r = app.delete(&format!("/api/v1/jobs/{jid}"), &t).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let j: Value = app.get(&format!("/api/v1/jobs/{jid}"), &t).await.json().await.unwrap();
    assert_eq!(j["status"], "cancelled");

    // A worker claims the next job and "dies" (never heartbeats or finishes).
    let d: Value = app.upload(&t, "pride.epub", pride()).await.json().await.unwrap();
    let doc = d["id"].as_str().unwrap().to_string();
    let claimed = app
        .state
        .queue
        .claim("doomed-worker", Duration::from_millis(500))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id.to_string(), d["job_id"].as_str().unwrap());
    assert!(
        app.state
            .queue
            .claim("another", Duration::from_secs(30))
            .await
            .unwrap()
            .is_none(),
        "leased"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Healthy workers take it over once the lease has expired.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handles = dramatis_server::worker::spawn(&app.state, 2, stop_rx);
    wait_status(&app, &t, &doc, "ready").await;
    let j: Value = app
        .get(&format!("/api/v1/jobs/{}", d["job_id"].as_str().unwrap()), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(j["status"], "succeeded");
    assert_eq!(j["attempts"], 2);
    // The doomed worker's late success is refused: the job is no longer its.
    app.state
        .queue
        .succeed(claimed.id, "doomed-worker", &json!({}))
        .await
        .unwrap();
    let j2: Value = app
        .get(&format!("/api/v1/jobs/{}", d["job_id"].as_str().unwrap()), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(j2["result"], j["result"]);
    let quotes = count(&app, "SELECT COUNT(*) AS n FROM quotes WHERE document_id = $1", &doc).await;
    let a: Value = app
        .get(&format!("/api/v1/documents/{doc}/analysis"), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        quotes as usize,
        a["quotes"].as_array().unwrap().len(),
        "quotes stored exactly once"
    );
    let _ = stop_tx.send(true);
    for h in handles {
        let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_semantics_sqlite() {
    queue_semantics(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_semantics_postgres() {
    queue_semantics(Backend::Postgres).await;
}

async fn graph_and_exports(app: TestApp) {
    let t = app.token("exporter").await;
    let d: Value = app.upload(&t, "pride.epub", pride()).await.json().await.unwrap();
    let id = d["id"].as_str().unwrap().to_string();
    wait_status(&app, &t, &id, "ready").await;
    let g: Value = app
        .get(&format!("/api/v1/documents/{id}/graph"), &t)
        .await
        .json()
        .await
        .unwrap();
    let nodes = g["nodes"].as_array().unwrap();
    assert!(nodes.len() >= 5);
    assert!(nodes.iter().all(|n| n["id"].is_string() && n["label"].is_string()));
    let ids: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
    for e in g["edges"].as_array().unwrap() {
        assert!(ids.contains(&e["source"].as_str().unwrap()) && ids.contains(&e["target"].as_str().unwrap()));
    }
    for (format, ctype, needle) in [
        ("json", "application/json", "\"characters\""),
        ("md", "text/markdown", "# Pride and Prejudice"),
        ("txt", "text/plain", "It is a truth universally acknowledged"),
        ("csv", "text/csv", "id,name,aliases,gender"),
        ("graphml", "application/graphml+xml", "<graphml"),
        ("gexf", "application/gexf+xml", "<gexf"),
        ("cypher", "application/x-cypher-query", "MERGE (c:Character {book:"),
    ] {
        let r = app
            .get(&format!("/api/v1/documents/{id}/export?format={format}"), &t)
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{format}");
        assert!(
            r.headers()["content-type"].to_str().unwrap().starts_with(ctype),
            "{format}"
        );
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains(&format!(".{format}\""))
        );
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{format}: {}", &body[..body.len().min(300)]);
        if format == "graphml" || format == "gexf" {
            assert!(body.trim_end().ends_with(&format!("</{format}>")), "{format} closes");
        }
    }
    assert_problem(
        app.get(&format!("/api/v1/documents/{id}/export?format=docx"), &t).await,
        422,
    )
    .await;
    let other = app.token("peeker").await;
    assert_problem(app.get(&format!("/api/v1/documents/{id}/graph"), &other).await, 404).await;
}

async fn fifty_concurrent_uploads_from_five_users(app: TestApp) {
    let mut tokens = Vec::new();
    for u in 0..5 {
        tokens.push(app.token(&format!("crowd{u}")).await);
    }
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for (u, t) in tokens.iter().enumerate() {
        for i in 0..10 {
            let (app, t) = (app.clone(), t.clone());
            tasks.push(tokio::spawn(async move {
                let body = format!(
                    "Chapter 1\n\n\"Good morning, Mr. Crowd{u},\" said Mrs. Number{i}. \"It is upload {i} of user {u}.\"\n"
                );
                let r = app.upload(&t, &format!("u{u}-{i}.txt"), body.into_bytes()).await;
                assert_eq!(r.status(), StatusCode::CREATED);
                r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
            }));
        }
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    for (u, t) in tokens.iter().enumerate() {
        let mine = &ids[u * 10..u * 10 + 10];
        for id in mine {
            wait_status(&app, t, id, "ready").await;
        }
        let list: Value = app.get("/api/v1/documents?limit=100", t).await.json().await.unwrap();
        assert_eq!(list["total"], 10, "user {u} sees exactly their own documents");
        let listed: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert!(mine.iter().all(|id| listed.contains(&id.as_str())));
        // Their events mention only their documents.
        let user_id: String = app.get("/api/v1/auth/me", t).await.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let rows = app
            .state
            .db
            .fetch_all(
                "SELECT data FROM events WHERE user_id = $1 AND type = 'document.ready'",
                &dramatis_server::params![user_id.as_str()],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 10);
        for r in rows {
            let data: Value = serde_json::from_str(&r.get::<String>("data").unwrap()).unwrap();
            assert!(mine.contains(&data["document_id"].as_str().unwrap().to_string()));
        }
    }
}
