//! Language of a document, as an ISO 639-1 code.
//!
//! Why it works the way it does:
//!
//! * Detection is delegated to `whatlang` (MIT, no dependencies of its own):
//!   a trigram model over 70 languages and all major scripts that would cost
//!   far more to rebuild than to depend on. A stop-word profile of our own
//!   would be smaller but would only separate a dozen Latin-script languages.
//! * A novel does not need to be read whole to know its language, and
//!   whatlang's cost grows with the input. We look at **three samples of
//!   about 1 KB** taken at 15 %, 50 % and 85 % of the text (snapped to char
//!   and word boundaries), so the cost is constant (well under a millisecond)
//!   and a licence header or a foreign-language epigraph at the very start
//!   does not decide the result.
//! * whatlang speaks ISO 639-3 (`eng`); the analysis JSON wants the
//!   two-letter ISO 639-1 code (`en`), so we map. Languages without a 639-1
//!   code (none among whatlang's today, but the mapping is total) keep their
//!   three-letter code.
//! * When whatlang is not confident (very short or mixed text) we answer
//!   `None` rather than guess.

use whatlang::Lang;

/// Bytes per sample.
const SAMPLE: usize = 1024;

/// Minimum confidence (0..1) below which [`detect`] answers `None`.
const MIN_CONFIDENCE: f64 = 0.3;

/// The language of `text` as an ISO 639-1 code (`"en"`, `"fr"`, …), or `None`
/// when the text is too short or too mixed to tell.
pub fn detect(text: &str) -> Option<String> {
    detect_with_confidence(text).map(|(code, _)| code)
}

/// [`detect`] with whatlang's confidence in 0..1.
pub fn detect_with_confidence(text: &str) -> Option<(String, f64)> {
    let sample = sample(text);
    if sample.chars().filter(|c| c.is_alphabetic()).take(8).count() < 8 {
        return None;
    }
    let info = whatlang::detect(&sample)?;
    if !info.is_reliable() && info.confidence() < MIN_CONFIDENCE {
        return None;
    }
    Some((iso639_1(info.lang()).to_string(), info.confidence()))
}

/// Up to three ~1 KB pieces of `text` joined by newlines; the whole text if it
/// is short.
fn sample(text: &str) -> String {
    if text.len() <= 3 * SAMPLE + SAMPLE / 2 {
        return text.to_string();
    }
    let mut out = String::with_capacity(3 * SAMPLE + 8);
    for frac in [15usize, 50, 85] {
        let at = text.len() / 100 * frac;
        let start = snap_word(text, at);
        let end = snap_word(text, (start + SAMPLE).min(text.len()));
        if let Some(piece) = text.get(start..end) {
            out.push_str(piece);
            out.push('\n');
        }
    }
    out
}

/// The first word boundary (after whitespace) at or after byte `at`, on a char
/// boundary; `text.len()` if there is none within 64 bytes' reach.
fn snap_word(text: &str, at: usize) -> usize {
    let mut i = at.min(text.len());
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    let limit = (i + 64).min(text.len());
    let mut j = i;
    while j < limit {
        match text[j..].chars().next() {
            Some(c) if c.is_whitespace() => return j + c.len_utf8(),
            Some(c) => j += c.len_utf8(),
            None => break,
        }
    }
    i
}

/// ISO 639-1 code of a whatlang language (its 639-3 code when there is none).
pub(crate) fn iso639_1(lang: Lang) -> &'static str {
    let three = lang.code();
    match three {
        "epo" => "eo",
        "eng" => "en",
        "rus" => "ru",
        "cmn" => "zh",
        "spa" => "es",
        "por" => "pt",
        "ita" => "it",
        "ben" => "bn",
        "fra" => "fr",
        "deu" => "de",
        "ukr" => "uk",
        "kat" => "ka",
        "ara" => "ar",
        "hin" => "hi",
        "jpn" => "ja",
        "heb" => "he",
        "yid" => "yi",
        "pol" => "pl",
        "amh" => "am",
        "jav" => "jv",
        "kor" => "ko",
        "nob" => "nb",
        "dan" => "da",
        "swe" => "sv",
        "fin" => "fi",
        "tur" => "tr",
        "nld" => "nl",
        "hun" => "hu",
        "ces" => "cs",
        "ell" => "el",
        "bul" => "bg",
        "bel" => "be",
        "mar" => "mr",
        "kan" => "kn",
        "ron" => "ro",
        "slv" => "sl",
        "hrv" => "hr",
        "srp" => "sr",
        "mkd" => "mk",
        "lit" => "lt",
        "lav" => "lv",
        "est" => "et",
        "tam" => "ta",
        "vie" => "vi",
        "urd" => "ur",
        "tha" => "th",
        "guj" => "gu",
        "uzb" => "uz",
        "pan" => "pa",
        "aze" => "az",
        "ind" => "id",
        "tel" => "te",
        "pes" => "fa",
        "mal" => "ml",
        "ori" => "or",
        "mya" => "my",
        "nep" => "ne",
        "sin" => "si",
        "khm" => "km",
        "tuk" => "tk",
        "aka" => "ak",
        "zul" => "zu",
        "sna" => "sn",
        "afr" => "af",
        "lat" => "la",
        "slk" => "sk",
        "cat" => "ca",
        "tgl" => "tl",
        "hye" => "hy",
        "cym" => "cy",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::single_range_in_vec_init, clippy::reversed_empty_ranges)]
    use super::*;

    #[test]
    fn every_language_maps_to_two_letters() {
        for &l in Lang::all() {
            assert_eq!(iso639_1(l).len(), 2, "{l:?}");
        }
    }

    #[test]
    fn common_languages() {
        let en = "It is a truth universally acknowledged, that a single man in possession \
                  of a good fortune, must be in want of a wife.";
        assert_eq!(detect(en).as_deref(), Some("en"));
        let fr = "Longtemps, je me suis couché de bonne heure. Parfois, à peine ma bougie \
                  éteinte, mes yeux se fermaient si vite que je n'avais pas le temps de me dire.";
        assert_eq!(detect(fr).as_deref(), Some("fr"));
        let de = "Als Gregor Samsa eines Morgens aus unruhigen Träumen erwachte, fand er sich \
                  in seinem Bett zu einem ungeheueren Ungeziefer verwandelt.";
        assert_eq!(detect(de).as_deref(), Some("de"));
        let ru = "Все смешалось в доме Облонских. Жена узнала, что муж был в связи с бывшею \
                  в их доме француженкою-гувернанткой, и объявила мужу, что не может жить с ним \
                  в одном доме. Положение это продолжалось уже третий день и мучительно \
                  чувствовалось и самими супругами, и всеми членами семьи и домочадцами.";
        assert_eq!(detect(ru).as_deref(), Some("ru"));
    }

    #[test]
    fn edge_cases() {
        assert_eq!(detect(""), None);
        assert_eq!(detect("   \n"), None);
        assert_eq!(detect("12345 !!! ..."), None);
        assert_eq!(detect("ok"), None);
        // Long text with multi-byte chars at the sample cut points: no panic.
        let long = "Ça été très agréable, n'est-ce pas? ".repeat(500);
        assert_eq!(detect(&long).as_deref(), Some("fr"));
        let emoji = "🙂é".repeat(3000);
        let _ = detect(&emoji);
    }
}
