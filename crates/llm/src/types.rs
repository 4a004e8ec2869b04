//! The request and response values callers see. They mirror the OpenAI chat-completions
//! shapes but keep only what dramatis uses, so servers that implement a subset still fit.

use serde::{Deserialize, Serialize};

/// Who wrote a message. Tool and function roles are deliberately absent: characters chat,
/// they do not call tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One message of the conversation, serialised exactly as the wire format wants it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

/// A chat request. `None` and empty fields are left out of the JSON body so each server
/// applies its own defaults (servers disagree, e.g. on the default `max_tokens`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    /// Overrides [`Config::model`](crate::Config::model) for this request.
    pub model: Option<String>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub stop: Vec<String>,
}

impl ChatRequest {
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            messages,
            ..Self::default()
        }
    }
}

/// Token counts as reported by the server (not estimated).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u32,
    #[serde(default)]
    pub completion_tokens: u32,
}

/// The result of a non-streamed call.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub content: String,
    /// The model that answered, as the server names it (falls back to the requested one).
    pub model: String,
    /// `stop`, `length`, ... ; `None` when the server did not say.
    pub finish_reason: Option<String>,
    /// `None` when the server does not report usage.
    pub usage: Option<Usage>,
}

/// One item of a streamed answer. Empty content deltas (the role-only first chunk, keep-alive
/// chunks) are never yielded, so every `Token` carries text.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    Token(String),
    /// The last item of a successful stream.
    Done {
        finish_reason: Option<String>,
        usage: Option<Usage>,
        model: String,
    },
}
