//! A client for OpenAI-compatible chat-completions servers: OpenAI, Ollama, the llama.cpp
//! server, vLLM, LM Studio. They all speak `POST {base}/chat/completions`, so one small client
//! covers hosted and local models alike.
//!
//! What this crate is for is the unglamorous part of talking to a model server:
//!
//! - **Streaming** that survives the real wire: SSE split at arbitrary byte boundaries
//!   (even inside a UTF-8 character), CRLF or LF, keep-alive comments, the role-only first
//!   chunk, the usage-only last chunk, `[DONE]`, error objects in the middle of a stream.
//! - **Timeouts** that match how generation behaves: an idle timeout between chunks rather
//!   than a total one for streams, a total one for [`Client::complete`].
//! - **Retries** on 408/429/5xx and connection failures, with jittered exponential back-off
//!   and `Retry-After`, but only before the first token, so text is never duplicated.
//! - **Cancellation**: dropping a [`ChatStream`] closes the connection, and servers stop
//!   generating when their client goes away.
//! - **Errors** the HTTP layer can map without string matching ([`LlmError::is_timeout`]),
//!   with upstream messages extracted from error bodies and the API key scrubbed out.
//!
//! What it deliberately does not do: tool calls, images, multiple choices (`n`), embeddings,
//! or provider-specific extras such as `reasoning_content`. Characters chat; they do not call
//! functions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), llm::LlmError> {
//! use futures_util::StreamExt;
//! use llm::{ChatRequest, Client, Config, Delta, Message};
//!
//! let client = Client::new(Config::new("http://127.0.0.1:11434/v1", "llama3.2"))?;
//! let req = ChatRequest::new(vec![Message::system("You are Mr Darcy."), Message::user("Do you dance?")]);
//! let mut stream = client.stream(&req).await?;
//! while let Some(delta) = stream.next().await {
//!     match delta? {
//!         Delta::Token(text) => print!("{text}"),
//!         Delta::Done { usage, .. } => println!("\n{usage:?}"),
//!     }
//! }
//! # Ok(()) }
//! ```

mod client;
mod config;
mod error;
mod retry;
mod sse;
mod tokens;
mod types;
mod wire;

pub use client::{ChatStream, Client};
pub use config::Config;
pub use error::LlmError;
pub use tokens::estimate_tokens;
pub use types::{ChatRequest, Completion, Delta, Message, Role, Usage};
