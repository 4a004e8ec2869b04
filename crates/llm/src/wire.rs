//! JSON shapes of the chat-completions protocol and the decoding of streamed chunks.
//!
//! Every field is optional on the way in: OpenAI, Ollama, llama.cpp, vLLM and LM Studio each
//! omit or `null` different ones (a role-only first chunk, `choices: []` in the usage chunk,
//! `content: null`), and none of that is an error.

use serde::{Deserialize, Serialize};

use crate::error::{message_of_json, redact};
use crate::{ChatRequest, Completion, Delta, LlmError, Message, Usage};

#[derive(Serialize)]
pub(crate) struct WireRequest<'a> {
    pub model: &'a str,
    pub messages: &'a [Message],
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
    /// Asks for the final usage chunk; without it OpenAI reports no usage when streaming.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
pub(crate) struct StreamOptions {
    pub include_usage: bool,
}

pub(crate) fn request_body(req: &ChatRequest, default_model: &str, stream: bool) -> Vec<u8> {
    let body = WireRequest {
        model: req.model.as_deref().unwrap_or(default_model),
        messages: &req.messages,
        stream,
        temperature: req.temperature,
        max_tokens: req.max_tokens,
        stop: &req.stop,
        stream_options: stream.then_some(StreamOptions { include_usage: true }),
    };
    serde_json::to_vec(&body).expect("request serialisation cannot fail")
}

/// A non-streamed response or one streamed chunk: the same shape with `message` or `delta`.
#[derive(Deserialize)]
struct WireResponse {
    model: Option<String>,
    choices: Option<Vec<WireChoice>>,
    usage: Option<Usage>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WireChoice {
    index: Option<u32>,
    message: Option<WireContent>,
    delta: Option<WireContent>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireContent {
    content: Option<String>,
}

impl WireResponse {
    /// The first choice: `n` is never set above 1, but some servers number from 1 or omit it.
    fn first_choice(&mut self) -> Option<WireChoice> {
        let mut choices = self.choices.take()?;
        let at = choices.iter().position(|c| c.index.unwrap_or(0) == 0).unwrap_or(0);
        (at < choices.len()).then(|| choices.swap_remove(at))
    }

    /// An `{"error": …}` object inside a 200 response (vLLM and OpenAI send these mid-stream).
    fn error(&self, api_key: Option<&str>) -> Option<LlmError> {
        let err = self.error.as_ref().filter(|e| !e.is_null())?;
        let wrapped = serde_json::json!({ "error": err });
        let message = message_of_json(&wrapped).unwrap_or_else(|| err.to_string());
        let status = err
            .get("code")
            .and_then(|c| c.as_u64())
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (400..600).contains(c))
            .unwrap_or(500);
        Some(LlmError::Upstream {
            status,
            message: redact(message, api_key),
        })
    }
}

fn parse_json(data: &[u8]) -> Result<WireResponse, LlmError> {
    serde_json::from_slice(data).map_err(|e| {
        let shown = String::from_utf8_lossy(&data[..data.len().min(200)]).into_owned();
        LlmError::Protocol(format!("invalid chat-completions JSON ({e}): {shown}"))
    })
}

pub(crate) fn parse_completion(
    body: &[u8],
    default_model: &str,
    api_key: Option<&str>,
) -> Result<Completion, LlmError> {
    let mut resp = parse_json(body)?;
    if let Some(err) = resp.error(api_key) {
        return Err(err);
    }
    let choice = resp
        .first_choice()
        .ok_or_else(|| LlmError::Protocol("response has no choices".into()))?;
    Ok(Completion {
        // `content: null` happens with refusals and tool calls; an empty answer is still an answer.
        content: choice
            .message
            .or(choice.delta)
            .and_then(|m| m.content)
            .unwrap_or_default(),
        model: resp.model.unwrap_or_else(|| default_model.to_owned()),
        finish_reason: choice.finish_reason,
        usage: resp.usage,
    })
}

/// What one SSE event contributes to the stream.
#[derive(Debug, PartialEq)]
pub(crate) enum Decoded {
    Token(String),
    Done(Delta),
    Nothing,
}

/// Turns SSE event payloads into [`Delta`]s, remembering what arrives before `[DONE]`
/// (finish reason, usage, model) so that `Done` can carry it.
#[derive(Debug)]
pub(crate) struct ChunkDecoder {
    model: String,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    api_key: Option<String>,
}

impl ChunkDecoder {
    pub(crate) fn new(requested_model: String, api_key: Option<String>) -> Self {
        Self {
            model: requested_model,
            finish_reason: None,
            usage: None,
            api_key,
        }
    }

    pub(crate) fn decode(&mut self, data: &str) -> Result<Decoded, LlmError> {
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(Decoded::Done(self.done()));
        }
        if data.is_empty() {
            return Ok(Decoded::Nothing);
        }
        let mut chunk = parse_json(data.as_bytes())?;
        if let Some(err) = chunk.error(self.api_key.as_deref()) {
            return Err(err);
        }
        if let Some(model) = chunk.model.take().filter(|m| !m.is_empty()) {
            self.model = model;
        }
        if let Some(usage) = chunk.usage.take() {
            self.usage = Some(usage);
        }
        let Some(choice) = chunk.first_choice() else {
            return Ok(Decoded::Nothing);
        };
        if choice.finish_reason.is_some() {
            self.finish_reason = choice.finish_reason;
        }
        match choice.delta.or(choice.message).and_then(|d| d.content) {
            Some(text) if !text.is_empty() => Ok(Decoded::Token(text)),
            _ => Ok(Decoded::Nothing),
        }
    }

    /// The body ended without `[DONE]`. Tolerated when the server had already said why it
    /// stopped (a few servers just close); otherwise the answer was cut off.
    pub(crate) fn at_eof(&mut self) -> Result<Delta, LlmError> {
        if self.finish_reason.is_some() {
            Ok(self.done())
        } else {
            Err(LlmError::Transport(
                "connection closed before the stream finished".into(),
            ))
        }
    }

    fn done(&mut self) -> Delta {
        Delta::Done {
            finish_reason: self.finish_reason.take(),
            usage: self.usage.take(),
            model: std::mem::take(&mut self.model),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder() -> ChunkDecoder {
        ChunkDecoder::new("asked".into(), Some("sk-k".into()))
    }

    #[test]
    fn request_body_leaves_out_unset_fields() {
        let req = ChatRequest::new(vec![Message::user("hi")]);
        let v: serde_json::Value = serde_json::from_slice(&request_body(&req, "m", false)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":false})
        );
        let req = ChatRequest {
            model: Some("other".into()),
            temperature: Some(0.7),
            max_tokens: Some(9),
            stop: vec!["\n\n".into()],
            ..req
        };
        let v: serde_json::Value = serde_json::from_slice(&request_body(&req, "m", true)).unwrap();
        assert_eq!(v["model"], "other");
        assert_eq!(v["temperature"].as_f64().unwrap() as f32, 0.7);
        assert_eq!(v["max_tokens"], 9);
        assert_eq!(v["stop"], serde_json::json!(["\n\n"]));
        assert_eq!(v["stream_options"], serde_json::json!({"include_usage": true}));
    }

    #[test]
    fn openai_stream_sequence() {
        let mut d = decoder();
        let role = r#"{"id":"c","object":"chat.completion.chunk","model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#;
        assert_eq!(d.decode(role).unwrap(), Decoded::Nothing);
        let tok = r#"{"model":"gpt-x","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#;
        assert_eq!(d.decode(tok).unwrap(), Decoded::Token("Hel".into()));
        let fin = r#"{"model":"gpt-x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
        assert_eq!(d.decode(fin).unwrap(), Decoded::Nothing);
        let usage =
            r#"{"model":"gpt-x","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#;
        assert_eq!(d.decode(usage).unwrap(), Decoded::Nothing);
        let done = d.decode("[DONE]").unwrap();
        let usage = Some(Usage {
            prompt_tokens: 5,
            completion_tokens: 2,
        });
        assert_eq!(
            done,
            Decoded::Done(Delta::Done {
                finish_reason: Some("stop".into()),
                usage,
                model: "gpt-x".into()
            })
        );
    }

    #[test]
    fn null_choices_content_and_usage_are_fine() {
        let mut d = decoder();
        assert_eq!(d.decode(r#"{"choices":null,"usage":null}"#).unwrap(), Decoded::Nothing);
        assert_eq!(
            d.decode(r#"{"choices":[{"delta":{"content":null}}]}"#).unwrap(),
            Decoded::Nothing
        );
        assert!(d.at_eof().is_err(), "no finish reason: the answer was cut off");
    }

    #[test]
    fn error_object_in_stream_is_upstream_error_without_key() {
        let mut d = decoder();
        let e = d
            .decode(r#"{"error":{"message":"bad key sk-k","code":401}}"#)
            .unwrap_err();
        assert_eq!(
            e,
            LlmError::Upstream {
                status: 401,
                message: "bad key [redacted]".into()
            }
        );
        let e = d
            .decode(r#"{"error":{"message":"overloaded","type":"server_error","code":null}}"#)
            .unwrap_err();
        assert_eq!(
            e,
            LlmError::Upstream {
                status: 500,
                message: "overloaded".into()
            }
        );
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        assert!(matches!(decoder().decode("{not json"), Err(LlmError::Protocol(_))));
    }

    #[test]
    fn completion_parsing() {
        let body = br#"{"model":"llama3","choices":[{"index":0,"message":{"role":"assistant","content":"Hi."},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#;
        let c = parse_completion(body, "asked", None).unwrap();
        assert_eq!(c.content, "Hi.");
        assert_eq!(c.model, "llama3");
        assert_eq!(c.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            c.usage,
            Some(Usage {
                prompt_tokens: 3,
                completion_tokens: 2
            })
        );
        let c = parse_completion(br#"{"choices":[{"message":{"content":null}}]}"#, "asked", None).unwrap();
        assert_eq!((c.content.as_str(), c.model.as_str(), c.usage), ("", "asked", None));
        assert!(matches!(
            parse_completion(br#"{"choices":[]}"#, "a", None),
            Err(LlmError::Protocol(_))
        ));
    }
}
