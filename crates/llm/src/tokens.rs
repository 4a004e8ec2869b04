//! Token estimation without a tokenizer.
//!
//! The real vocabularies (tiktoken, Llama's SentencePiece) cannot be downloaded here and
//! differ per model anyway, so prompt budgeting uses a cheap estimate that errs high: an
//! overestimate wastes a little context, an underestimate makes the server truncate or
//! reject the prompt.

/// Roughly how many tokens `text` costs, leaning towards too many.
///
/// Calibrated on BPE behaviour (cl100k/Llama 3): a common English word with its leading space
/// is one token, longer words split about every 6 letters, digits go in groups of up to 3,
/// each punctuation mark is about a token, a line break run is one, letters outside ASCII
/// cost about two bytes' worth, CJK ideographs and kana about one token each, emoji two.
/// English prose comes out near 1.3 tokens per word (about 4 characters per token).
pub fn estimate_tokens(text: &str) -> usize {
    let mut tokens = 0usize;
    let mut word_units = 0usize; // letters of the current word, non-ASCII counted double
    let mut digits = 0usize;
    let mut newline_run = false;
    let flush = |tokens: &mut usize, word_units: &mut usize, digits: &mut usize| {
        *tokens += word_units.div_ceil(6) + digits.div_ceil(3);
        *word_units = 0;
        *digits = 0;
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            if word_units > 0 {
                flush(&mut tokens, &mut word_units, &mut digits);
            }
            digits += 1;
            newline_run = false;
            continue;
        }
        if digits > 0 {
            flush(&mut tokens, &mut word_units, &mut digits);
        }
        if c.is_alphabetic() && !is_wide(c) {
            word_units += if c.is_ascii() { 1 } else { 2 };
            newline_run = false;
            continue;
        }
        flush(&mut tokens, &mut word_units, &mut digits);
        if c == '\n' || c == '\r' {
            if !newline_run {
                tokens += 1;
            }
            newline_run = true;
            continue;
        }
        newline_run = false;
        if c.is_whitespace() {
            continue; // merges with the next word
        }
        tokens += match c {
            _ if is_wide(c) => 1,
            _ if c.is_ascii() => 1,
            _ => 2, // emoji, symbols, typographic punctuation: often several byte-level tokens
        };
    }
    flush(&mut tokens, &mut word_units, &mut digits);
    tokens
}

/// Scripts written without spaces, where BPE vocabularies hold about one token per character.
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x9FFF      // CJK radicals, kana, CJK ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x3FFFF) // CJK extensions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("Hello, world!"), 4);
        assert_eq!(estimate_tokens("internationalization"), 4);
        assert_eq!(estimate_tokens("1234567"), 3);
        assert_eq!(estimate_tokens("a\n\n\nb"), 3);
        assert_eq!(estimate_tokens("東京タワー"), 5);
    }

    #[test]
    fn english_prose_is_about_four_characters_per_token() {
        let text = "It is a truth universally acknowledged, that a single man in possession of a good fortune, \
                    must be in want of a wife. However little known the feelings or views of such a man may be \
                    on his first entering a neighbourhood, this truth is so well fixed in the minds of the \
                    surrounding families, that he is considered the rightful property of some one or other of \
                    their daughters.";
        let est = estimate_tokens(text) as f64;
        let by_chars = text.len() as f64 / 4.0;
        assert!(
            est >= by_chars * 0.85 && est <= by_chars * 1.4,
            "estimate {est}, chars/4 {by_chars}"
        );
    }
}
