//! Talking to a character: extractive and model-backed turns, conversations,
//! streaming over SSE and WebSocket, the spoiler limit, search and character
//! cards; on SQLite and PostgreSQL. The model is a scripted OpenAI-compatible
//! server in this file that speaks the real wire format.

mod common;

use common::{Backend, TestApp, assert_problem, connect_ws, next_event as next_json, pride, wait_status};
use futures_util::SinkExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

backend_tests!(
    extractive_chat_is_grounded_and_kept,
    spoiler_limit_holds_for_every_citation,
    replies_stream_over_sse_and_websocket,
    search_ranks_passages_and_quotes,
    cards_round_trip_and_import,
);

/// Uploads P&P and waits until its characters exist; returns (document id, Elizabeth's character).
async fn book(app: &TestApp, token: &str) -> (String, Value) {
    let d: Value = app.upload(token, "pride.epub", pride()).await.json().await.unwrap();
    let id = d["id"].as_str().unwrap().to_string();
    wait_status(app, token, &id, "ready").await;
    let list: Value = app
        .get("/api/v1/characters?limit=100", token)
        .await
        .json()
        .await
        .unwrap();
    let lizzy = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str().unwrap().contains("Elizabeth"))
        .unwrap_or_else(|| panic!("Elizabeth is among the characters: {list}"))
        .clone();
    (id, lizzy)
}

async fn chat(app: &TestApp, token: &str, character: &str, body: Value) -> reqwest::Response {
    app.post_json(&format!("/api/v1/characters/{character}/chat"), token, body)
        .await
}

/// Every citation points at exactly its text in the document.
async fn check_citations(app: &TestApp, token: &str, doc: &str, msg: &Value) {
    for c in msg["citations"].as_array().unwrap() {
        assert_eq!(c["document_id"], doc);
        let (s, e) = (c["start"].as_u64().unwrap(), c["end"].as_u64().unwrap());
        let t: Value = app
            .get(&format!("/api/v1/documents/{doc}/text?start={s}&end={e}"), token)
            .await
            .json()
            .await
            .unwrap();
        let shown = t["text"].as_str().unwrap();
        let words: Vec<&str> = c["text"].as_str().unwrap().split_whitespace().take(5).collect();
        for w in words {
            let w = w.trim_matches(|ch: char| !ch.is_alphanumeric());
            assert!(shown.contains(w), "cited word `{w}` is in the cited range: {shown}");
        }
    }
}

async fn extractive_chat_is_grounded_and_kept(app: TestApp) {
    let t = app.token("reader").await;
    let (doc, lizzy) = book(&app, &t).await;
    let id = lizzy["id"].as_str().unwrap();
    let r = chat(
        &app,
        &t,
        id,
        json!({"message": "What do you think of Mr. Darcy's pride?"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let reply: Value = r.json().await.unwrap();
    let msg = &reply["message"];
    assert_eq!(msg["role"], "assistant");
    assert_eq!(msg["mode"], "extractive");
    let content = msg["content"].as_str().unwrap().to_lowercase();
    assert!(
        content.contains("pride") || content.contains("proud") || content.contains("darcy"),
        "Elizabeth answers with her own words on the topic: {content}"
    );
    assert!(!msg["citations"].as_array().unwrap().is_empty(), "{msg}");
    check_citations(&app, &t, &doc, msg).await;
    // Continue the conversation, then read it back.
    let cid = reply["conversation_id"].as_str().unwrap().to_string();
    let r2: Value = chat(
        &app,
        &t,
        id,
        json!({"message": "And what of your sister Jane?", "conversation_id": cid}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r2["conversation_id"], cid.as_str());
    let conv: Value = app
        .get(&format!("/api/v1/conversations/{cid}"), &t)
        .await
        .json()
        .await
        .unwrap();
    let roles: Vec<&str> = conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(conv["message_count"], 4);
    assert_eq!(conv["character_id"], id);
    let list: Value = app
        .get(&format!("/api/v1/characters/{id}/conversations"), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    // Regenerate replaces the last reply; the count stays.
    let last_id = conv["messages"][3]["id"].clone();
    let r = app
        .post_json(&format!("/api/v1/conversations/{cid}/regenerate"), &t, json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let regen: Value = r.json().await.unwrap();
    assert_ne!(regen["message"]["id"], last_id);
    let conv: Value = app
        .get(&format!("/api/v1/conversations/{cid}"), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(conv["messages"].as_array().unwrap().len(), 4);
    assert_eq!(conv["messages"][3]["id"], regen["message"]["id"]);
    // Editing the first message drops everything after it and answers anew.
    let first = conv["messages"][0]["id"].as_str().unwrap();
    let r = app
        .patch_json(
            &format!("/api/v1/conversations/{cid}/messages/{first}"),
            &t,
            json!({"content": "Tell me about the ball at Netherfield."}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let conv: Value = app
        .get(&format!("/api/v1/conversations/{cid}"), &t)
        .await
        .json()
        .await
        .unwrap();
    let msgs = conv["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["content"], "Tell me about the ball at Netherfield.");
    // An assistant message cannot be edited.
    let a = msgs[1]["id"].as_str().unwrap();
    assert_problem(
        app.patch_json(
            &format!("/api/v1/conversations/{cid}/messages/{a}"),
            &t,
            json!({"content": "x"}),
        )
        .await,
        422,
    )
    .await;
    // Bad input.
    assert_problem(chat(&app, &t, id, json!({"message": "   "})).await, 422).await;
    assert_problem(chat(&app, &t, id, json!({"message": "x".repeat(8001)})).await, 422).await;
    assert_problem(chat(&app, &t, id, json!({"text": "hi"})).await, 422).await;
    assert_problem(
        chat(
            &app,
            &t,
            id,
            json!({"message": "hi", "conversation_id": uuid::Uuid::new_v4()}),
        )
        .await,
        404,
    )
    .await;
    // Another user sees none of it.
    let other = app.token("someone-else").await;
    assert_problem(app.get(&format!("/api/v1/conversations/{cid}"), &other).await, 404).await;
    assert_problem(chat(&app, &other, id, json!({"message": "hello"})).await, 404).await;
    assert_problem(
        app.post_json(&format!("/api/v1/conversations/{cid}/regenerate"), &other, json!({}))
            .await,
        404,
    )
    .await;
    // Deleting removes it; a conversation of another character is refused.
    let r = app.delete(&format!("/api/v1/conversations/{cid}"), &t).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&format!("/api/v1/conversations/{cid}"), &t).await, 404).await;
}

async fn spoiler_limit_holds_for_every_citation(app: TestApp) {
    let t = app.token("careful").await;
    let (doc, lizzy) = book(&app, &t).await;
    let id = lizzy["id"].as_str().unwrap();
    let d: Value = app
        .get(&format!("/api/v1/documents/{doc}"), &t)
        .await
        .json()
        .await
        .unwrap();
    let sections = d["sections"].as_array().unwrap().len();
    assert!(sections > 20, "P&P has its chapters as sections: {sections}");
    assert_problem(
        chat(&app, &t, id, json!({"message": "hi", "max_section": sections})).await,
        422,
    )
    .await;
    let limit = 6u64;
    let boundary = d["sections"][limit as usize + 1]["start"]
        .as_u64()
        .expect("sections have a start");
    let first: Value = chat(
        &app,
        &t,
        id,
        json!({"message": "Do you love Mr. Darcy? Will you marry him?", "max_section": limit}),
    )
    .await
    .json()
    .await
    .unwrap();
    let cid = first["conversation_id"].as_str().unwrap().to_string();
    let mut cited = 0;
    for q in [
        "Do you love Mr. Darcy? Will you marry him?",
        "What happened at Pemberley with your aunt and uncle?",
        "What do you think of Mr. Wickham and Lydia running away?",
        "Lady Catherine came to see you; what did she want?",
        "Tell me about Jane and Mr. Bingley.",
    ] {
        let r: Value = chat(&app, &t, id, json!({"message": q, "conversation_id": cid}))
            .await
            .json()
            .await
            .unwrap();
        for c in r["message"]["citations"].as_array().unwrap() {
            cited += 1;
            let s = c["section"].as_u64().expect("every citation of P&P has a section");
            assert!(s <= limit, "citation after the spoiler limit: {c}");
            assert!(
                c["end"].as_u64().unwrap() <= boundary,
                "a citation runs past the limit's end: {c}"
            );
        }
    }
    assert!(cited > 0, "the limited conversation still cites the early book");
    // Lifting the limit lets later chapters in.
    let r = app
        .patch_json(
            &format!("/api/v1/conversations/{cid}"),
            &t,
            json!({"max_section": null}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["max_section"], Value::Null);
    assert_problem(
        app.patch_json(
            &format!("/api/v1/conversations/{cid}"),
            &t,
            json!({"max_section": 100000}),
        )
        .await,
        422,
    )
    .await;
    // Deleting the book keeps a character the user talked to, and the talk.
    let before: Value = app.get("/api/v1/characters?limit=100", &t).await.json().await.unwrap();
    assert!(before["total"].as_i64().unwrap() > 1);
    assert_eq!(
        app.delete(&format!("/api/v1/documents/{doc}"), &t).await.status(),
        StatusCode::NO_CONTENT
    );
    let after: Value = app.get("/api/v1/characters?limit=100", &t).await.json().await.unwrap();
    assert_eq!(
        after["total"], 1,
        "only the character with a conversation stays: {after}"
    );
    assert_eq!(after["items"][0]["id"], id);
    assert_eq!(after["items"][0]["document_id"], Value::Null);
    let conv: Value = app
        .get(&format!("/api/v1/conversations/{cid}"), &t)
        .await
        .json()
        .await
        .unwrap();
    assert!(conv["messages"].as_array().unwrap().len() >= 12);
    // Without its book the character still answers (from its profile), never with a 500.
    let r = chat(
        &app,
        &t,
        id,
        json!({"message": "Are you there?", "conversation_id": cid}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// Reads an SSE body into (event, data) pairs.
fn sse_events(body: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for block in body.split("\n\n") {
        let mut event = String::new();
        let mut data = String::new();
        for line in block.lines() {
            if let Some(e) = line.strip_prefix("event:") {
                event = e.trim().to_string();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        if !event.is_empty() {
            out.push((event, serde_json::from_str(&data).unwrap_or(Value::Null)));
        }
    }
    out
}

async fn replies_stream_over_sse_and_websocket(app: TestApp) {
    let t = app.token("streamer").await;
    let (_, lizzy) = book(&app, &t).await;
    let id = lizzy["id"].as_str().unwrap();
    let r = app
        .client
        .post(app.url(&format!("/api/v1/characters/{id}/chat")))
        .bearer_auth(&t)
        .header("accept", "text/event-stream")
        .json(&json!({"message": "What do you say of dancing and balls?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = sse_events(&r.text().await.unwrap());
    assert_eq!(events.first().map(|e| e.0.as_str()), Some("start"), "{events:?}");
    let (last, reply) = events.last().unwrap();
    assert_eq!(last, "message", "{events:?}");
    let streamed: String = events
        .iter()
        .filter(|(e, _)| e == "token")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert!(
        events.iter().filter(|(e, _)| e == "token").count() > 1,
        "streams in pieces"
    );
    assert_eq!(streamed, reply["message"]["content"].as_str().unwrap());
    assert_eq!(reply["conversation_id"], events[0].1["conversation_id"]);

    // The same over the WebSocket, then errors and a cancel of an unknown request.
    let mut ws = connect_ws(&app, &t, None).await;
    let msg = json!({"type": "chat", "request_id": "r1", "character_id": id, "message": "What of Mr. Collins?"});
    ws.send(tokio_tungstenite::tungstenite::Message::Text(msg.to_string().into()))
        .await
        .unwrap();
    let mut tokens = String::new();
    let mut done = None;
    while let Some(e) = next_json(&mut ws, Duration::from_secs(30)).await {
        match e["type"].as_str().unwrap() {
            "chat.start" => assert_eq!(e["request_id"], "r1"),
            "chat.token" => tokens.push_str(e["delta"].as_str().unwrap()),
            "chat.message" => {
                done = Some(e);
                break;
            }
            "chat.error" => panic!("chat failed: {e}"),
            _ => {}
        }
    }
    let done = done.expect("a chat.message arrives");
    assert_eq!(done["request_id"], "r1");
    assert_eq!(tokens, done["message"]["content"].as_str().unwrap());
    let bad = json!({"type": "chat", "request_id": "r2", "character_id": uuid::Uuid::new_v4(), "message": "hi"});
    ws.send(tokio_tungstenite::tungstenite::Message::Text(bad.to_string().into()))
        .await
        .unwrap();
    let e = next_json(&mut ws, Duration::from_secs(10)).await.unwrap();
    assert_eq!(e["type"], "chat.error");
    assert_eq!(e["status"], 404);
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        json!({"type": "chat.cancel", "request_id": "nope"}).to_string().into(),
    ))
    .await
    .unwrap();
    let e = next_json(&mut ws, Duration::from_secs(10)).await.unwrap();
    assert_eq!(e["status"], 404, "{e}");
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        "{\"type\":\"ping\"}".into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        next_json(&mut ws, Duration::from_secs(10)).await.unwrap()["type"],
        "pong"
    );
    ws.send(tokio_tungstenite::tungstenite::Message::Text("not json".into()))
        .await
        .unwrap();
    assert_eq!(
        next_json(&mut ws, Duration::from_secs(10)).await.unwrap()["status"],
        422
    );
}

async fn search_ranks_passages_and_quotes(app: TestApp) {
    let t = app.token("searcher").await;
    let (doc, lizzy) = book(&app, &t).await;
    let r = app
        .get(
            "/api/v1/search?q=truth%20universally%20acknowledged%20single%20man%20fortune",
            &t,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let hits: Value = r.json().await.unwrap();
    let first = &hits["items"][0];
    assert_eq!(first["kind"], "passage");
    assert_eq!(first["document_id"], doc.as_str());
    assert!(
        first["start"].as_u64().unwrap() < 2000,
        "the opening passage ranks first: {first}"
    );
    let snippet = first["snippet"].as_str().unwrap();
    assert!(snippet.contains("universally acknowledged"), "{snippet}");
    for h in first["highlights"].as_array().unwrap() {
        let (a, b) = (h[0].as_u64().unwrap() as usize, h[1].as_u64().unwrap() as usize);
        let word: String = snippet.chars().skip(a).take(b - a).collect();
        assert!(!word.trim().is_empty(), "highlight {a}..{b} covers a word");
    }
    assert!(hits["total"].as_i64().unwrap() >= hits["items"].as_array().unwrap().len() as i64);
    // Paging: the second page starts where the first ended.
    let p1: Value = app
        .get("/api/v1/search?q=Darcy&limit=5", &t)
        .await
        .json()
        .await
        .unwrap();
    let p2: Value = app
        .get("/api/v1/search?q=Darcy&limit=5&skip=5", &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p1["items"].as_array().unwrap().len(), 5);
    assert_ne!(p1["items"][0]["id"], p2["items"][0]["id"]);
    assert_eq!(p1["total"], p2["total"]);
    // Quotes of one character: all hers.
    let id = lizzy["id"].as_str().unwrap();
    let q: Value = app
        .get(&format!("/api/v1/search?q=pride&kind=quotes&character_id={id}"), &t)
        .await
        .json()
        .await
        .unwrap();
    let items = q["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{q}");
    for h in items {
        assert_eq!(h["kind"], "quote");
        assert_eq!(h["speaker"], lizzy["name"]);
    }
    // An admin searching the user's book sees the speakers named by the user's characters.
    let admin = app.admin_token().await;
    let q: Value = app
        .get(&format!("/api/v1/search?q=pride&kind=quotes&document_id={doc}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let items = q["items"].as_array().unwrap();
    assert!(items.iter().any(|h| h["speaker"] == lizzy["name"]), "{q}");
    // Bad input and other users.
    assert_problem(app.get("/api/v1/search?q=", &t).await, 422).await;
    assert_problem(app.get("/api/v1/search?q=the%20and%20of", &t).await, 422).await;
    assert_problem(app.get("/api/v1/search?q=darcy&limit=0", &t).await, 422).await;
    assert_problem(app.get("/api/v1/search?q=darcy&kind=chapters", &t).await, 422).await;
    assert_problem(app.get("/api/v1/search", &t).await, 422).await;
    let other = app.token("nosy").await;
    let none: Value = app.get("/api/v1/search?q=Darcy", &other).await.json().await.unwrap();
    assert_eq!(none["total"], 0, "another user's books are not searched");
    assert_problem(
        app.get(&format!("/api/v1/search?q=Darcy&document_id={doc}"), &other)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.get(&format!("/api/v1/search?q=Darcy&character_id={id}"), &other)
            .await,
        404,
    )
    .await;
}

async fn export(app: &TestApp, token: &str, id: &str, format: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/characters/{id}/export?format={format}"), token)
        .await
}

async fn import(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    app.post_file("/api/v1/characters/import", token, name, bytes).await
}

async fn cards_round_trip_and_import(app: TestApp) {
    let t = app.token("carder").await;
    let (doc, lizzy) = book(&app, &t).await;
    let id = lizzy["id"].as_str().unwrap();
    let v2: Value = export(&app, &t, id, "chara_card_v2").await.json().await.unwrap();
    assert_eq!(cards::validate_v2(&v2), Vec::<String>::new(), "{v2}");
    assert_eq!(v2["spec"], "chara_card_v2");
    assert_eq!(v2["data"]["name"], lizzy["name"]);
    let book = &v2["data"]["character_book"];
    assert!(
        book["entries"].as_array().is_some_and(|e| e.len() >= 2),
        "a lorebook from her relationships: {book}"
    );
    // A tie's entry says what the user's character of that name from the book is described as.
    let cast: Value = app.get("/api/v1/characters?limit=100", &t).await.json().await.unwrap();
    let mut described = 0;
    for e in book["entries"].as_array().unwrap() {
        let c = cast["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == e["name"] && c["document_id"] == doc.as_str());
        let Some(d) = c.and_then(|c| c["description"].as_str()).map(str::trim) else {
            continue;
        };
        if !d.is_empty() {
            assert!(e["content"].as_str().unwrap().contains(d), "{e} lacks {d}");
            described += 1;
        }
    }
    assert!(described > 0, "{book}");
    let r = export(&app, &t, id, "chara_card_v3").await;
    assert_eq!(r.headers()["content-type"], "application/json");
    let v3_bytes = r.bytes().await.unwrap().to_vec();
    let v3: Value = serde_json::from_slice(&v3_bytes).unwrap();
    assert_eq!(cards::validate_v3(&v3), Vec::<String>::new(), "{v3}");
    // Export → import → export gives the same card, for each format.
    for (format, name) in [
        ("chara_card_v3", "c.json"),
        ("chara_card_v2", "c2.json"),
        ("png", "c.png"),
        ("json", "full.json"),
    ] {
        let bytes = export(&app, &t, id, format).await.bytes().await.unwrap().to_vec();
        let r = import(&app, &t, name, bytes).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{format}");
        let imported: Value = r.json().await.unwrap();
        let new_id = imported["character"]["id"].as_str().unwrap();
        assert_ne!(new_id, id);
        assert_eq!(imported["character"]["name"], lizzy["name"]);
        assert_eq!(imported["character"]["speech_style"], lizzy["speech_style"]);
        assert_eq!(imported["character"]["aliases"], lizzy["aliases"]);
        let again: Value = export(&app, &t, new_id, "chara_card_v3").await.json().await.unwrap();
        if format == "chara_card_v2" {
            // V2 has no V3-only fields; everything V2 carries is the same.
            assert_eq!(again["data"]["description"], v3["data"]["description"]);
            assert_eq!(again["data"]["character_book"], v3["data"]["character_book"]);
        } else {
            assert_eq!(again, v3, "lossless through {format}");
        }
    }
    let png = export(&app, &t, id, "png").await;
    assert_eq!(png.headers()["content-type"], "image/png");
    let png = png.bytes().await.unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let md = export(&app, &t, id, "md").await.text().await.unwrap();
    assert!(
        md.starts_with(&format!("# {}", lizzy["name"].as_str().unwrap())),
        "{md}"
    );
    let full: Value = export(&app, &t, id, "json").await.json().await.unwrap();
    assert_eq!(full["character"]["id"], id);
    assert!(!full["lines"].as_array().unwrap().is_empty());
    assert_problem(export(&app, &t, id, "docx").await, 422).await;
    // Cards made by hand from the specs and in another tool's shape.
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cards/tests/fixtures");
    for f in ["handwritten.v3.json", "st_export_shape.v2.json", "tavern.v1.json"] {
        let bytes = std::fs::read(fixtures.join(f)).unwrap();
        let r = import(&app, &t, f, bytes).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{f}");
        let c: Value = r.json().await.unwrap();
        assert!(!c["character"]["name"].as_str().unwrap().is_empty());
    }
    // Not cards.
    assert_problem(import(&app, &t, "x.json", b"{\"hello\": 1}".to_vec()).await, 422).await;
    assert_problem(import(&app, &t, "x.png", png[..40].to_vec()).await, 422).await;
    assert_problem(import(&app, &t, "x.txt", b"just text".to_vec()).await, 422).await;
    assert_problem(import(&app, &t, "x.json", Vec::new()).await, 422).await;
    // Not a form with a file in it, or too big a file: nothing is imported.
    let count = || async {
        let all: Value = app.get("/api/v1/characters", &t).await.json().await.unwrap();
        all["total"].as_i64().unwrap()
    };
    let before = count().await;
    let r = app
        .post_json("/api/v1/characters/import", &t, json!({"file": "x"}))
        .await;
    assert_problem(r, 415).await;
    let form = reqwest::multipart::Form::new().text("card", "{}");
    let r = app.post_form("/api/v1/characters/import", &t, form).await;
    let d = assert_problem(r, 400).await;
    assert!(d.contains("no `file` field"), "{d}");
    let r = app
        .client
        .post(app.url("/api/v1/characters/import"))
        .bearer_auth(&t)
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno end")
        .send()
        .await
        .unwrap();
    let d = assert_problem(r, 400).await;
    assert!(d.contains("broken multipart body"), "{d}");
    let d = assert_problem(
        import(&app, &t, "big.json", vec![b' '; 20 * 1024 * 1024 + 1]).await,
        413,
    )
    .await;
    assert!(d.contains("at most 20 MiB"), "{d}");
    assert_eq!(count().await, before);
    let other = app.token("thief").await;
    assert_problem(export(&app, &other, id, "png").await, 404).await;
}

async fn message_count(app: &TestApp, token: &str, conversation: &str) -> i64 {
    app.get(&format!("/api/v1/conversations/{conversation}"), token)
        .await
        .json::<Value>()
        .await
        .unwrap()["message_count"]
        .as_i64()
        .unwrap()
}

/// Waits until the scripted model saw its client hang up mid-stream.
async fn wait_closed(model: &Model, what: &str) {
    let start = Instant::now();
    while !model.closed_early.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(start.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------
// A scripted OpenAI-compatible model server.

#[derive(Clone, Debug)]
enum Script {
    /// Answers (streamed when asked) with these pieces.
    Reply(Vec<&'static str>),
    Status(u16),
    /// Accepts and never answers.
    Stall,
    /// Streams these pieces, then hangs with the connection open.
    Hang(Vec<&'static str>),
}

#[derive(Default)]
struct Model {
    script: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<Value>>,
    /// Set when a client closed a connection the server was still streaming on.
    closed_early: std::sync::atomic::AtomicBool,
}

async fn model_server() -> (String, Arc<Model>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let model = Arc::new(Model::default());
    let m = model.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            let m = m.clone();
            tokio::spawn(async move { serve_one(sock, m).await });
        }
    });
    (base, model)
}

async fn serve_one(mut sock: tokio::net::TcpStream, m: Arc<Model>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, len) = loop {
        let n = sock.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..p]).to_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (p + 4, len);
        }
    };
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body: Value = serde_json::from_slice(&buf[head_end..head_end + len]).unwrap_or(Value::Null);
    let stream = body["stream"] == true;
    m.requests.lock().unwrap().push(body);
    let script = m
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Script::Reply(vec!["Indeed."]));
    let hang = matches!(script, Script::Hang(_));
    let chunk_of = |t: &str| {
        format!(
            "data: {}\n\n",
            json!({"id": "x", "object": "chat.completion.chunk", "model": "scripted",
                   "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": null}]})
        )
    };
    match script {
        Script::Status(code) => {
            let body = r#"{"error":{"message":"scripted failure"}}"#;
            let _ = sock
                .write_all(
                    format!(
                        "HTTP/1.1 {code} Oops\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await;
        }
        Script::Stall => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Script::Reply(pieces) if !stream => {
            let body = json!({"id": "x", "object": "chat.completion", "model": "scripted",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": pieces.concat()}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333}})
            .to_string();
            let _ = sock
                .write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await;
        }
        Script::Reply(pieces) | Script::Hang(pieces) => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for p in &pieces {
                if sock.write_all(chunk_of(p).as_bytes()).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if hang {
                // Wait for the client to go away (read returns 0 or fails).
                let mut one = [0u8; 1];
                if let Ok(Ok(0)) | Ok(Err(_)) = tokio::time::timeout(Duration::from_secs(20), sock.read(&mut one)).await
                {
                    m.closed_early.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                return;
            }
            let usage = json!({"id": "x", "object": "chat.completion.chunk", "model": "scripted", "choices": [],
                               "usage": {"prompt_tokens": 321, "completion_tokens": pieces.len()}});
            let _ = sock
                .write_all(format!("data: {usage}\n\ndata: [DONE]\n\n").as_bytes())
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_backed_chat_sqlite() {
    model_backed_chat(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_backed_chat_postgres() {
    model_backed_chat(Backend::Postgres).await;
}

async fn model_backed_chat(backend: Backend) {
    let (base, model) = model_server().await;
    let app = TestApp::spawn_with(
        backend,
        &[
            ("DRAMATIS_LLM_BASE_URL", base.as_str()),
            ("DRAMATIS_LLM_MODEL", "scripted-model"),
            ("DRAMATIS_LLM_TIMEOUT_SECS", "2"),
            ("DRAMATIS_LLM_MAX_RETRIES", "1"),
            ("DRAMATIS_LLM_CONTEXT_TOKENS", "4096"),
        ],
    )
    .await;
    let t = app.token("talker").await;
    let (_, lizzy) = book(&app, &t).await;
    let id = lizzy["id"].as_str().unwrap();
    // A whole reply: stored with the model's usage and the passages it rests on.
    model
        .script
        .lock()
        .unwrap()
        .push_back(Script::Reply(vec!["I ", "think him ", "proud."]));
    let r = chat(&app, &t, id, json!({"message": "What do you think of Mr. Darcy?"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let reply: Value = r.json().await.unwrap();
    let msg = &reply["message"];
    assert_eq!(msg["content"], "I think him proud.");
    assert_eq!(msg["mode"], "llm");
    assert_eq!(msg["prompt_tokens"], 321);
    assert_eq!(msg["completion_tokens"], 12);
    assert!(!msg["citations"].as_array().unwrap().is_empty());
    let sent = model.requests.lock().unwrap().last().unwrap().clone();
    assert_eq!(sent["model"], "scripted-model");
    let system = sent["messages"][0]["content"].as_str().unwrap();
    assert_eq!(sent["messages"][0]["role"], "system");
    assert!(system.contains(lizzy["name"].as_str().unwrap()), "{system}");
    assert!(
        system.contains("Darcy"),
        "retrieved passages are in the prompt: {system}"
    );
    let last = sent["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["role"], "user");
    assert_eq!(last["content"], "What do you think of Mr. Darcy?");
    // Per-character overrides reach the model.
    let r = app
        .patch_json(
            &format!("/api/v1/characters/{id}"),
            &t,
            json!({"llm": {"model": "other-model", "temperature": 0.3, "max_tokens": 77}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_problem(
        app.patch_json(
            &format!("/api/v1/characters/{id}"),
            &t,
            json!({"llm": {"temperature": 9}}),
        )
        .await,
        422,
    )
    .await;
    let cid = reply["conversation_id"].as_str().unwrap();
    model.script.lock().unwrap().push_back(Script::Reply(vec!["Yes."]));
    let r = chat(&app, &t, id, json!({"message": "Truly?", "conversation_id": cid})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let sent = model.requests.lock().unwrap().last().unwrap().clone();
    assert_eq!(sent["model"], "other-model");
    assert_eq!(sent["max_tokens"], 77);
    assert!((sent["temperature"].as_f64().unwrap() - 0.3).abs() < 1e-6);
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"], "history goes along");
    // An edited question is answered from the history as the edit left it; a regeneration from the same.
    let conv: Value = app
        .get(&format!("/api/v1/conversations/{cid}"), &t)
        .await
        .json()
        .await
        .unwrap();
    let first = conv["messages"][0]["id"].as_str().unwrap();
    let turns = |sent: &Value| -> Vec<(String, String)> {
        sent["messages"].as_array().unwrap()[1..]
            .iter()
            .map(|m| {
                (
                    m["role"].as_str().unwrap().into(),
                    m["content"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let edited = vec![("user".to_string(), "What of Mr. Bingley?".to_string())];
    model.script.lock().unwrap().push_back(Script::Reply(vec!["Amiable."]));
    let r = app
        .patch_json(
            &format!("/api/v1/conversations/{cid}/messages/{first}"),
            &t,
            json!({"content": "What of Mr. Bingley?"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(turns(model.requests.lock().unwrap().last().unwrap()), edited);
    model
        .script
        .lock()
        .unwrap()
        .push_back(Script::Reply(vec!["Most amiable."]));
    let r = app
        .post_json(&format!("/api/v1/conversations/{cid}/regenerate"), &t, json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(turns(model.requests.lock().unwrap().last().unwrap()), edited);
    // A long conversation is fitted into the context: whole messages only, the newest kept.
    for i in 0..12 {
        model.script.lock().unwrap().push_back(Script::Reply(vec!["Hm."]));
        let long = format!("Message {i}: {}", "and so on and so forth ".repeat(60));
        assert_eq!(
            chat(&app, &t, id, json!({"message": long, "conversation_id": cid}))
                .await
                .status(),
            200
        );
    }
    let sent = model.requests.lock().unwrap().last().unwrap().clone();
    let msgs = sent["messages"].as_array().unwrap();
    assert!(msgs.len() < 26, "older turns were dropped: {}", msgs.len());
    assert!(
        msgs.last().unwrap()["content"]
            .as_str()
            .unwrap()
            .starts_with("Message 11:")
    );
    for m in &msgs[1..] {
        let c = m["content"].as_str().unwrap();
        assert!(
            c == "Hm." || c.starts_with("Message ") || c.starts_with("What") || c == "Most amiable.",
            "{c}"
        );
        if c.starts_with("Message ") {
            assert!(c.ends_with("and so forth"), "never cut mid-message: {c}");
        }
    }
    assert!(
        msgs[0]["content"]
            .as_str()
            .unwrap()
            .contains("older messages not shown")
    );
    // Upstream failures become clear problems; nothing half is stored.
    let before: Value = app
        .get(&format!("/api/v1/conversations/{cid}"), &t)
        .await
        .json()
        .await
        .unwrap();
    model
        .script
        .lock()
        .unwrap()
        .extend([Script::Status(500), Script::Status(500)]);
    let d = assert_problem(
        chat(&app, &t, id, json!({"message": "Again?", "conversation_id": cid})).await,
        502,
    )
    .await;
    assert!(d.contains("model"), "{d}");
    model
        .script
        .lock()
        .unwrap()
        .extend([Script::Status(429), Script::Reply(vec!["After a pause."])]);
    let r: Value = chat(&app, &t, id, json!({"message": "And now?", "conversation_id": cid}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["message"]["content"], "After a pause.", "a 429 is retried");
    model.script.lock().unwrap().push_back(Script::Stall); // timeouts are not retried
    assert_problem(
        chat(&app, &t, id, json!({"message": "Hello?", "conversation_id": cid})).await,
        504,
    )
    .await;
    let after: Value = app
        .get(&format!("/api/v1/conversations/{cid}"), &t)
        .await
        .json()
        .await
        .unwrap();
    let added: Vec<&str> = after["messages"].as_array().unwrap()[before["messages"].as_array().unwrap().len()..]
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        added,
        ["user", "user", "assistant", "user"],
        "failed turns keep the question, not a reply"
    );
    // Streaming, and a client that leaves mid-stream stops the model.
    model
        .script
        .lock()
        .unwrap()
        .push_back(Script::Reply(vec!["Ver", "y ", "well", "é", "!"]));
    let r = app
        .client
        .post(app.url(&format!("/api/v1/characters/{id}/chat")))
        .bearer_auth(&t)
        .header("accept", "text/event-stream")
        .json(&json!({"message": "Stream it", "conversation_id": cid}))
        .send()
        .await
        .unwrap();
    let events = sse_events(&r.text().await.unwrap());
    let (last, reply) = events.last().unwrap();
    assert_eq!(last, "message", "{events:?}");
    assert_eq!(reply["message"]["content"], "Very wellé!");
    assert_eq!(reply["message"]["completion_tokens"], 5);
    let count_before = message_count(&app, &t, cid).await;
    model
        .script
        .lock()
        .unwrap()
        .push_back(Script::Hang(vec!["I was ", "saying"]));
    let mut r = app
        .client
        .post(app.url(&format!("/api/v1/characters/{id}/chat")))
        .bearer_auth(&t)
        .header("accept", "text/event-stream")
        .json(&json!({"message": "Go on", "conversation_id": cid}))
        .send()
        .await
        .unwrap();
    let mut got = String::new();
    while !got.contains("saying") {
        let c = tokio::time::timeout(Duration::from_secs(10), r.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        got.push_str(&String::from_utf8_lossy(&c));
    }
    drop(r);
    wait_closed(&model, "the model request is dropped when the client leaves").await;
    let after = message_count(&app, &t, cid).await;
    assert_eq!(after, count_before + 1, "the question is kept, no half reply is stored");
    // Over the WebSocket, chat.cancel stops the reply and the model request.
    model.closed_early.store(false, std::sync::atomic::Ordering::SeqCst);
    model
        .script
        .lock()
        .unwrap()
        .push_back(Script::Hang(vec!["Let me ", "think"]));
    let mut ws = connect_ws(&app, &t, None).await;
    let msg =
        json!({"type": "chat", "request_id": "c1", "character_id": id, "message": "Well?", "conversation_id": cid});
    ws.send(tokio_tungstenite::tungstenite::Message::Text(msg.to_string().into()))
        .await
        .unwrap();
    let mut got = String::new();
    while !got.contains("think") {
        let e = next_json(&mut ws, Duration::from_secs(10))
            .await
            .expect("tokens arrive");
        if e["type"] == "chat.token" {
            got.push_str(e["delta"].as_str().unwrap());
        }
    }
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        json!({"type": "chat.cancel", "request_id": "c1"}).to_string().into(),
    ))
    .await
    .unwrap();
    loop {
        let e = next_json(&mut ws, Duration::from_secs(10))
            .await
            .expect("the cancel is confirmed");
        assert_ne!(e["type"], "chat.message", "a cancelled reply is not finished: {e}");
        if e["type"] == "chat.cancelled" {
            assert_eq!(e["request_id"], "c1");
            break;
        }
    }
    wait_closed(&model, "cancel drops the model request").await;
    let n = message_count(&app, &t, cid).await;
    assert_eq!(n, after + 1, "only the question was stored");
}
