//! The persona prompt: who the character is, what the book says that matters
//! now, how they speak, and as much of the conversation as fits.
//!
//! Budget: the model's context (`DRAMATIS_LLM_CONTEXT_TOKENS`) minus the
//! reply's `max_tokens`. The system part is fitted first (passages are
//! dropped from the least relevant if it is too big), then history from the
//! newest turn backwards, whole messages only. Turns that do not fit are
//! dropped whole and their gist (the first sentence of each of the user's
//! dropped messages) is noted, so nothing is ever cut mid-message silently.

use super::Turn;
use crate::config::Config;
use llm::{ChatRequest, Message, Role, estimate_tokens};

/// Reply length when neither the character nor the server sets one.
pub const DEFAULT_MAX_TOKENS: u32 = 512;
/// Passages are quoted at most this long in a prompt (chars).
const PASSAGE_CHARS: usize = 1500;

fn first_sentence(s: &str) -> String {
    let end = s
        .char_indices()
        .find(|(_, c)| matches!(c, '.' | '!' | '?' | '\n'))
        .map_or(s.len(), |(i, c)| i + c.len_utf8());
    let mut out: String = s[..end].chars().take(160).collect();
    if out.len() < s[..end].len() {
        out.push('…');
    }
    out.trim().to_string()
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    if let Some(cut) = out.rfind(char::is_whitespace) {
        out.truncate(cut);
    }
    out.push_str(" …");
    out
}

/// The system message, with the first `passages` retrieved passages.
fn system(turn: &Turn, passages: usize, dropped: &[String]) -> String {
    let c = &turn.character;
    let g = &turn.grounding;
    let mut s = String::new();
    match &g.book_title {
        Some(t) => s.push_str(&format!("You are {}, a character from the book \"{t}\".", c.name)),
        None => s.push_str(&format!("You are {}.", c.name)),
    }
    s.push_str(
        " Stay in character: answer as they would, in the first person, in their voice and with their knowledge. \
         Do not say you are an AI or a character in a book. Keep to what the book establishes; \
         if it does not say, answer as the character plausibly would without inventing major events.\n",
    );
    for (label, v) in [
        ("Description", &c.description),
        ("Personality", &c.personality),
        ("Speech style", &c.speech_style),
        ("Scenario", &c.scenario),
    ] {
        if !v.trim().is_empty() {
            s.push_str(&format!("\n{label}: {}\n", v.trim()));
        }
    }
    if let Some(until) = &g.known_until {
        s.push_str(&format!(
            "\nYou know the story only up to \"{until}\". Never mention or hint at anything that happens later.\n"
        ));
    }
    if passages > 0 {
        s.push_str("\nPassages of the book that matter now (your memory of events):\n");
        for (i, p) in g.passages.iter().take(passages).enumerate() {
            let at = p.section_title.clone().unwrap_or_default();
            let head = if at.is_empty() {
                format!("[{}]", i + 1)
            } else {
                format!("[{}] ({at})", i + 1)
            };
            s.push_str(&format!("{head} {}\n", clip(p.text.trim(), PASSAGE_CHARS)));
        }
    }
    if !g.lines.is_empty() {
        s.push_str(&format!(
            "\nThings {} actually said in the book (match this voice):\n",
            c.name
        ));
        for l in &g.lines {
            s.push_str(&format!("- \"{}\"\n", l.text));
        }
    } else if !c.example_dialogue.trim().is_empty() {
        s.push_str(&format!("\nExample dialogue:\n{}\n", c.example_dialogue.trim()));
    }
    if !dropped.is_empty() {
        s.push_str(&format!(
            "\nEarlier in this conversation ({} older messages not shown), the user said: {}\n",
            dropped.len(),
            dropped.join(" / ")
        ));
    }
    s
}

/// Builds the request for this turn within the context budget.
pub fn build(turn: &Turn, config: &Config, model: Option<String>) -> ChatRequest {
    let overrides = &turn.character.llm;
    let max_tokens = overrides.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    let budget = config.llm_context_tokens.saturating_sub(max_tokens as usize).max(256);
    let mut passages = turn.grounding.passages.len();
    let mut sys = system(turn, passages, &[]);
    while passages > 0 && estimate_tokens(&sys) > budget / 2 {
        passages -= 1;
        sys = system(turn, passages, &[]);
    }
    let mut left = budget.saturating_sub(estimate_tokens(&sys));
    // Newest first, whole messages; the message being answered always goes in.
    let mut kept = Vec::new();
    let mut cut = 0;
    for (i, m) in turn.history.iter().enumerate().rev() {
        let cost = estimate_tokens(&m.content) + 4;
        if cost > left && !kept.is_empty() {
            cut = i + 1;
            break;
        }
        left = left.saturating_sub(cost);
        kept.push(m);
    }
    kept.reverse();
    let dropped: Vec<String> = turn.history[..cut]
        .iter()
        .filter(|m| m.role == "user")
        .map(|m| first_sentence(&m.content))
        .collect();
    if !dropped.is_empty() {
        let mut note: Vec<String> = dropped.clone();
        // The gist itself must fit: keep the most recent ones.
        while note.len() > 1 && estimate_tokens(&note.join(" / ")) > left.max(64) {
            note.remove(0);
        }
        sys = system(turn, passages, &note);
    }
    let mut messages = vec![Message {
        role: Role::System,
        content: sys,
    }];
    for m in kept {
        messages.push(Message {
            role: if m.role == "assistant" {
                Role::Assistant
            } else {
                Role::User
            },
            content: m.content.clone(),
        });
    }
    ChatRequest {
        messages,
        model,
        temperature: overrides.temperature,
        max_tokens: Some(max_tokens),
        stop: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sentences_and_clips() {
        assert_eq!(first_sentence("Where were you? I waited."), "Where were you?");
        assert_eq!(first_sentence("no end"), "no end");
        let long = "word ".repeat(100);
        assert!(clip(&long, 50).chars().count() <= 52);
        assert!(clip(&long, 50).ends_with('…'));
        assert_eq!(clip("short", 50), "short");
    }
}
