//! Many simultaneous streams through one client: the pool, the runtime and the parser must
//! not serialise or drop anything.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use llm::{ChatRequest, Client, Config, Delta, Message};
use support::{Server, paced_stream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_streams_all_complete() {
    const N: usize = 200;
    let tokens: Vec<String> = (0..20).map(|i| format!(" w{i}")).collect();
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let server = Server::start(vec![paced_stream("m", &refs, Duration::from_millis(5))]).await;
    let client = Client::new(Config::new(server.base_url(), "m")).unwrap();
    let expected = tokens.concat();

    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let req = ChatRequest::new(vec![Message::user(format!("question {i}"))]);
                let mut stream = client.stream(&req).await?;
                let mut text = String::new();
                while let Some(item) = stream.next().await {
                    match item? {
                        Delta::Token(t) => text.push_str(&t),
                        Delta::Done { usage, .. } => assert_eq!(usage.unwrap().completion_tokens, 20),
                    }
                }
                Ok::<_, llm::LlmError>(text)
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), expected);
    }
    assert_eq!(server.requests().len(), N, "no retries were needed");
}
