//! The literary NLP engine: `&str` in, [`Analysis`] out.
//!
//! Pure, deterministic, synchronous, no I/O. It is not a general NLP toolkit:
//! it does exactly what a book's cast needs — tokens, sentences, paragraphs
//! ([`token`]), quotations ([`quotes`]), person names ([`ner`], a fitted
//! averaged perceptron), alias clustering ([`cluster`]), speaker attribution
//! and gender ([`speaker`]) — in a handful of linear passes over plain vectors
//! of byte spans. Byte offsets are converted to the char offsets of the
//! analysis JSON once, at the very end.
//!
//! Besides the fields of DESIGN.md's analysis JSON, an [`Analysis`] carries
//! fields DESIGN.md allows to be added: `language`, `keywords`, `summary`,
//! `profiles` (per character: representative quotes, describing sentences,
//! agent verbs, modifiers, first appearance, sections — [`Profile`]) and
//! `timeline` (per character: mentions per section — [`TimelineEntry`]).

pub mod cluster;
pub mod ner;
pub mod quotes;
pub mod speaker;
pub mod token;
pub mod wordclass;

use serde::{Deserialize, Serialize};

/// A section of the input (a chapter), char offsets into the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub title: String,
    pub start: usize,
    pub end: usize,
}

/// A character of the book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Character {
    /// `c1`, `c2`, … in order of decreasing mention count.
    pub id: String,
    /// Canonical name: the fullest frequent form.
    pub name: String,
    /// Every name form used for it, most frequent first (includes `name`).
    pub aliases: Vec<String>,
    /// `she/her`, `he/him`, `they/them` or null.
    pub gender: Option<String>,
    pub mention_count: usize,
    pub quote_count: usize,
    /// Char offset of the first mention.
    pub first_mention: usize,
}

/// What kind of phrase a mention is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MentionKind {
    /// A proper name ("Mr. Bennet").
    Prop,
    /// A common noun phrase ("the old man").
    Nom,
    /// A pronoun ("she").
    Pron,
}

/// A mention of a character; char offsets, end exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    pub start: usize,
    pub end: usize,
    pub character: String,
    pub kind: MentionKind,
}

/// A quotation and its speaker (a character id), char offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub start: usize,
    pub end: usize,
    pub speaker: Option<String>,
}

/// A tie between two characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relationship {
    pub source: String,
    pub target: String,
    pub weight: f64,
    pub interactions: usize,
}

/// The analysis of one text; serialises as the analysis JSON of DESIGN.md.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Analysis {
    pub text: String,
    /// Words, sentences, paragraphs, reading time, readability ([`stats`]).
    pub stats: stats::Stats,
    pub sections: Vec<Section>,
    pub characters: Vec<Character>,
    pub mentions: Vec<Mention>,
    pub quotes: Vec<Quote>,
    pub relationships: Vec<Relationship>,
    /// ISO 639-1 code of the text's language, when detection is confident ([`lang`]).
    pub language: Option<String>,
    /// Words most characteristic of the text against general English ([`keywords`]).
    pub keywords: Vec<keywords::Keyword>,
    /// An extractive summary: representative sentences in text order ([`summary`]).
    pub summary: Vec<SummarySentence>,
    /// Persona material per character, in the order of `characters` ([`profile`]).
    #[serde(default)]
    pub profiles: Vec<Profile>,
    /// Mentions per character per section, in the order of `characters`
    /// ([`relations::timeline`]).
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
}

/// A passage of the text with its char offsets (a quote, a sentence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextSpan {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// What the book says about one character, for building its persona
/// (issue item 8). Offsets are chars into `text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The character's id (`c1`, …).
    pub character: String,
    /// Its most representative quotes, best first (at most
    /// [`profile::REPRESENTATIVE`]): a useful length, words it uses more than
    /// the others do, no two alike.
    pub quotes: Vec<TextSpan>,
    /// All its quotes as indices into [`Analysis::quotes`]: the representative
    /// ones first (same order as `quotes`), then the rest in text order.
    pub quote_indices: Vec<usize>,
    /// Sentences that describe it ("Mr. Bingley was good-looking and
    /// gentlemanlike", apposition, "her fine eyes"), in text order (at most
    /// [`profile::MAX_DESCRIPTIONS`]).
    pub descriptions: Vec<TextSpan>,
    /// Verbs it is the agent of, lower case, most frequent first (at most [`profile::MAX_TERMS`]).
    pub agent_verbs: Vec<profile::TermCount>,
    /// Adjectives predicated of or attached to it, most frequent first.
    pub modifiers: Vec<profile::TermCount>,
    /// Char offset of its first mention or quote.
    pub first_appearance: usize,
    /// Indices into `sections` of the sections it is mentioned or quoted in
    /// (empty when the analysis has no sections).
    pub sections: Vec<usize>,
}

/// One character's mention counts per section (for a timeline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub character: String,
    /// `counts[i]` = its mentions in `sections[i]`; one entry (the whole
    /// text) when there are no sections.
    pub counts: Vec<u32>,
}

impl Analysis {
    /// Names of the `n` characters most strongly tied to character `id`,
    /// strongest first (for cast tables and persona descriptions).
    pub fn strongest_ties(&self, id: &str, n: usize) -> Vec<&str> {
        let mut ties: Vec<&Relationship> = self
            .relationships
            .iter()
            .filter(|r| r.source == id || r.target == id)
            .collect();
        ties.sort_by(|a, b| b.weight.partial_cmp(&a.weight).unwrap_or(std::cmp::Ordering::Equal));
        ties.iter()
            .take(n)
            .filter_map(|r| {
                let other = if r.source == id { &r.target } else { &r.source };
                self.characters.iter().find(|c| &c.id == other).map(|c| c.name.as_str())
            })
            .collect()
    }
}

/// A sentence of the summary, char offsets into the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummarySentence {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Keywords and summary sentences an analysis reports.
pub const KEYWORDS: usize = 20;
pub const SUMMARY_SENTENCES: usize = 5;

/// Everything the stages produce, in byte / token coordinates. Public so other
/// modules (statistics, relationships, profiles) can build on it.
pub struct Doc<'a> {
    pub text: &'a str,
    pub tokens: Vec<token::Token>,
    pub sentences: Vec<token::TokSpan>,
    pub paragraphs: Vec<token::TokSpan>,
    pub quotes: Vec<quotes::Quote>,
    /// Character mentions, token spans, sorted by position.
    pub mentions: Vec<speaker::CharMention>,
    pub characters: Vec<speaker::CharInfo>,
    /// Speaker (character index) of each quote.
    pub speakers: Vec<Option<usize>>,
}

/// Knobs for [`analyze_with`]; the default is what [`analyze`] uses.
#[derive(Default, Clone, Copy)]
pub struct Options<'m> {
    /// A name-tagger model to use instead of the shipped `data/ner.bin`
    /// (cross-validation runs each fold's model through the harness).
    pub ner_model: Option<&'m ner::Model>,
}

/// Runs every stage and keeps the intermediate results.
pub fn process(text: &str) -> Doc<'_> {
    process_with(text, &Options::default())
}

/// [`process`] with options.
pub fn process_with<'a>(text: &'a str, opts: &Options) -> Doc<'a> {
    let mut tokens = token::tokenize(text);
    let sentences = token::sentences(text, &mut tokens);
    let paragraphs = token::paragraphs(&tokens);
    // names
    let stats = ner::DocStats::from_tokens(text, &tokens);
    let seq = ner::Seq::new(text, &tokens);
    let mut tags = ner::tag_seq(opts.ner_model.unwrap_or_else(|| ner::default_model()), &seq, &stats);
    ner::propagate(&seq, &mut tags);
    ner::families(&seq, &mut tags);
    let core: Vec<(usize, usize)> = split_at_paragraphs(&tokens, ner::spans_of(&tags))
        .into_iter()
        .filter(|&(a, b)| !not_a_person(&seq, a, b))
        .collect();
    let forms: Vec<Vec<&str>> = core
        .iter()
        .map(|&(a, b)| (a..b).map(|k| seq.word(k)).collect())
        .collect();
    let quotes = quotes::find_quotes(text, &tokens, &paragraphs);
    let hints = gender_hints(text, &tokens, &sentences, &quotes, &core);
    let (assign, clusters) = cluster::cluster(&forms, &hints, |w| stats.is_namey(w));
    let names: Vec<(usize, usize, usize)> = core
        .iter()
        .zip(&assign)
        .filter_map(|(&(a, b), c)| c.map(|c| (a, b, c)))
        .map(|(a, b, c)| {
            let (a2, b2) = extend_span(&seq, &tokens, a, b);
            (a2, b2, c)
        })
        .collect();
    // the per-token vectors of the tagger are not needed any more: keep the
    // peak memory down
    drop((tags, stats, forms, hints, assign));
    let att = speaker::attribute(text, &tokens, &sentences, &paragraphs, &quotes, &names, &clusters);
    Doc {
        text,
        tokens,
        sentences,
        paragraphs,
        quotes,
        mentions: att.mentions,
        characters: att.characters,
        speakers: att.speakers,
    }
}

/// A name never runs over a paragraph break (headings: "BIDDY\n\nMrs Gildea").
/// The first he/she pronoun after each name in narration, within its
/// sentence and before the next name: evidence of the name's gender.
fn gender_hints(
    text: &str,
    toks: &[token::Token],
    sents: &[token::TokSpan],
    quotes: &[quotes::Quote],
    spans: &[(usize, usize)],
) -> Vec<Option<cluster::Gender>> {
    let n = toks.len();
    let mut in_q = vec![false; n];
    for q in quotes {
        for x in &mut in_q[q.tok_start as usize..(q.tok_end as usize).min(n)] {
            *x = true;
        }
    }
    spans
        .iter()
        .enumerate()
        .map(|(k, &(a, b))| {
            if b == 0 || b >= n || in_q[a] {
                return None;
            }
            let next_name = spans.get(k + 1).map(|s| s.0).unwrap_or(n);
            let end = (speaker::sentence_end(sents, b - 1) as usize)
                .min(b + 10)
                .min(next_name);
            (b..end)
                .take_while(|&j| !in_q[j])
                .find_map(|j| match toks[j].text(text) {
                    "he" | "He" => Some(cluster::Gender::Male),
                    "she" | "She" => Some(cluster::Gender::Female),
                    _ => None,
                })
        })
        .collect()
}

/// Spans the tagger proposes that are not a person's name: "God" and the
/// like in an exclamation ("My God!", "for God's sake"); a run of initials
/// alone ("P.S.", "M.R.C.S."); common-noun phrases LitBank's annotators do
/// not count as names ("a Mrs. Weston", "X, Esq.", the singular untitled
/// "the Chancellor"); places named after people ("Pyncheon Street").
fn not_a_person(seq: &ner::Seq, a: usize, b: usize) -> bool {
    // only initials: "P.S.", "P.M.", "M.R.C.S." are abbreviations, not people
    if (a..b).map(|k| seq.word(k)).all(|w| {
        w.contains('.')
            && w.split('.')
                .all(|p| p.is_empty() || (p.chars().count() == 1 && is_upper_initial(p)))
    }) {
        return true;
    }
    // "the Chancellor", "the Rector", "the Admiral Benbow" (an inn), "the
    // Pyncheon Elm": a singular capitalised phrase right after "the" is a
    // title or a thing named after someone, which LitBank annotates (when a
    // person) as a common-noun phrase; "the Lady Bridget", "the Hon. Alice"
    // (a title first) and "the Wilcoxes" (a family) stay names
    if a > 0 && matches!(seq.word(a - 1), "the" | "The") {
        let last = seq.word(b - 1);
        let plural = last.ends_with('s') && !last.ends_with("ss") && !last.ends_with("'s");
        if !plural && !ner::is_honorific(seq.word(a)) && !cluster::is_title(seq.word(a)) {
            return true;
        }
    }
    if names_a_place(seq, a, b) {
        return true;
    }
    let at = |k: usize| seq.word_or_empty(k);
    // "a Mrs. Weston", "a Dowell of Philadelphia", "an Irish cook": after an
    // indefinite article a capitalised word is a common noun phrase (in the
    // train books' annotations 51 times to once)
    if a > 0 && matches!(seq.word(a - 1), "a" | "an" | "A" | "An") {
        return true;
    }
    // "Charles Musgrove, Esq. of Uppercross", "John Sedley, Esquire": the
    // annotations take the whole phrase as one common-noun mention, every time
    if at(b) == "," && matches!(at(b + 1), "Esq." | "Esq" | "Esquire") || matches!(seq.word(a), "Esq." | "Esquire") {
        return true;
    }
    if b != a + 1 {
        return false;
    }
    let w = seq.word(a);
    let prev = if a > 0 { seq.word(a - 1) } else { "" };
    let next = seq.word_or_empty(b);
    if matches!(
        w,
        "God" | "Lord" | "Heaven" | "Heavens" | "Jove" | "Christ" | "Jesus" | "Gad"
    ) && (next == "!"
        || matches!(
            prev,
            "My" | "my"
                | "Oh"
                | "oh"
                | "O"
                | "Good"
                | "good"
                | "Thank"
                | "thank"
                | "by"
                | "By"
                | "for"
                | "For"
                | "Great"
                | "great"
        ))
    {
        return true;
    }
    false
}

/// Heads of place names that are rarely surnames: "Pyncheon Street",
/// "Thrushcross Grange", "Emanuel College" end a span with one.
const PLACE_HEADS: &[&str] = &[
    "Street",
    "Square",
    "Road",
    "Avenue",
    "Terrace",
    "Grange",
    "Abbey",
    "Cathedral",
    "College",
    "Hotel",
    "Inn",
    "Tavern",
    "Hollow",
    "Valley",
    "Island",
    "Harbour",
    "Harbor",
    "Manor",
    "Cottage",
    "Lodge",
    "Palace",
    "Station",
    "Creek",
    "Falls",
    "Gardens",
    "Chapel",
    "Priory",
    "Rectory",
    "Vicarage",
];

/// Heads that name a place when they follow a name ("the old Pyncheon House",
/// "Maule's Lane", "Lynde's Hollow") but may be surnames at a span's end.
const PLACE_HEADS_AFTER: &[&str] = &[
    "House", "Hall", "Lane", "Church", "Castle", "Park", "Hill", "Court", "Place", "Land", "Farm", "Ranch", "Mill",
    "Bridge", "Gate", "Wood", "Woods", "Forest", "Lake", "River", "Mountain", "Bay", "Cape", "Tower",
];

/// A place named after someone: "Pyncheon Street", "Thrushcross Grange",
/// "Lynde's Hollow", "S. Catherine's Church", "the old Pyncheon House" —
/// LitBank annotates these as places (FAC/GPE/LOC), not people. A span with a
/// title ("Mrs. Hall", "Mr Lake") is a person.
fn names_a_place(seq: &ner::Seq, a: usize, b: usize) -> bool {
    if (a..b).any(|k| cluster::is_title(seq.word(k))) {
        return false;
    }
    let head = |w: &str| PLACE_HEADS.contains(&w) || PLACE_HEADS_AFTER.contains(&w);
    let last = seq.word(b - 1);
    if b - a >= 2 && PLACE_HEADS.contains(&last) && seq.word(b - 2) != "of" {
        return true;
    }
    let at = |k: usize| seq.word_or_empty(k);
    head(at(b)) || (matches!(at(b), "'s" | "\u{2019}s" | "'" | "\u{2019}") && head(at(b + 1)))
}

fn is_upper_initial(w: &str) -> bool {
    ner::is_upper_initial(w)
}

#[allow(clippy::needless_range_loop)]
fn split_at_paragraphs(toks: &[token::Token], spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        let mut s = a;
        for k in a..b {
            if toks[k].is(token::Token::PARA_END) && k + 1 < b {
                out.push((s, k + 1));
                s = k + 1;
            }
        }
        out.push((s, b));
    }
    out
}

/// Modifiers LitBank includes in a proper-name mention ("old Cotter", "poor
/// Becky", "uncle Charles").
const NAME_MODIFIERS: &[&str] = &[
    "old",
    "young",
    "little",
    "poor",
    "good",
    "late",
    "great",
    "uncle",
    "aunt",
    "squire",
    "plain",
    "wise",
    "lovely",
    "amiable",
    "gallant",
    "famous",
    "celebrated",
    "future",
    "unfortunate",
    "sainted",
    "admirable",
    "excellent",
    "worthy",
    "honest",
    "beautiful",
    "pretty",
    "handsome",
    "sweet",
    "kind",
    "brave",
    "elder",
    "younger",
    "eldest",
    "youngest",
    "big",
    "tall",
    "fat",
    "the",
];
const DETERMINERS: &[&str] = &[
    "the", "this", "that", "my", "our", "his", "her", "your", "a", "The", "This", "That", "My", "A",
];

fn adjective_like(w: &str) -> bool {
    NAME_MODIFIERS.contains(&w)
        || (w.len() > 4
            && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && ["ful", "ous", "able", "ible", "ive", "less", "-looking", "-natured"]
                .iter()
                .any(|s| w.ends_with(s)))
}

/// Widens a name span to the noun phrase LitBank annotates: modifiers and a
/// determiner before it ("the late John Jacob Astor", "the Ambersons"), and
/// "of Place" / "the Ordinal" after it ("Perrotin of Nice", "Rudolf the Fifth").
fn extend_span(seq: &ner::Seq, toks: &[token::Token], a: usize, b: usize) -> (usize, usize) {
    use token::Token;
    let words = |k: usize| seq.word(k);
    let mut s = a;
    let gap_ok = |k: usize| !toks[k].is(Token::PARA_END);
    // left: known modifiers, then a determiner if any modifier was taken
    let mut took = 0;
    while s > 0 && took < 3 && gap_ok(s - 1) {
        let w = words(s - 1);
        if w != "the"
            && adjective_like(w)
            && (took > 0 || NAME_MODIFIERS.contains(&w) || (s >= 2 && DETERMINERS.contains(&words(s - 2))))
        {
            s -= 1;
            took += 1;
        } else {
            break;
        }
    }
    if s > 0 && gap_ok(s - 1) && DETERMINERS.contains(&words(s - 1)) {
        let plural = b == a + 1 && words(a).ends_with('s') && !words(a).ends_with("ss");
        if took > 0 || (plural && matches!(words(s - 1), "the" | "The")) {
            s -= 1;
        }
    }
    // right: "of Place", "the Fifth"
    let mut e = b;
    if e + 1 < seq.len() && gap_ok(e - 1) && gap_ok(e) {
        let nw = words(e + 1);
        if (words(e) == "of" || words(e) == "the")
            && ner::is_upper_initial(nw)
            && !toks[e + 1].is(Token::SENT_START)
            && !cluster::is_title(nw)
            && nw != "I"
        {
            e += 2;
        }
    }
    (s, e)
}

/// Analyses a text whose sections the caller already knows (may be empty).
pub fn analyze(text: &str, sections: &[Section]) -> Analysis {
    analyze_with(text, sections, &Options::default())
}

/// [`analyze`] with options.
pub fn analyze_with(text: &str, sections: &[Section], opts: &Options) -> Analysis {
    let doc = process_with(text, opts);
    to_analysis(doc, sections)
}

/// Byte offset → char offset, from a checkpoint every 64 bytes (the number of
/// chars before it) plus a count of char-starting bytes since: one pass to
/// build, 1/16 of the text's size in memory, O(64) per lookup.
struct CharIndex<'a> {
    bytes: &'a [u8],
    checkpoints: Vec<u32>,
}

impl<'a> CharIndex<'a> {
    const STEP: usize = 64;

    fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let mut checkpoints = Vec::with_capacity(bytes.len() / Self::STEP + 1);
        let mut n = 0u32;
        for chunk in bytes.chunks(Self::STEP) {
            checkpoints.push(n);
            n += chunk.iter().filter(|&&b| (b as i8) >= -0x40).count() as u32;
        }
        checkpoints.push(n);
        CharIndex { bytes, checkpoints }
    }

    /// Char offset of byte offset `b` (clamped to the text).
    fn get(&self, b: u32) -> usize {
        let b = (b as usize).min(self.bytes.len());
        let k = b / Self::STEP;
        let base = self.checkpoints[k] as usize;
        base + self.bytes[k * Self::STEP..b]
            .iter()
            .filter(|&&x| (x as i8) >= -0x40)
            .count()
    }
}

fn to_analysis(mut owned: Doc, sections: &[Section]) -> Analysis {
    // the tokens (the largest part of a Doc) are freed as soon as the
    // mentions, quotes and sentences are in byte offsets
    let tokens = std::mem::take(&mut owned.tokens);
    let doc = &owned;
    let text = doc.text;
    let ci = CharIndex::new(text);
    let cx = |b: u32| ci.get(b);
    let nchar = doc.characters.len();
    let mut mcount = vec![0usize; nchar];
    let mut qcount = vec![0usize; nchar];
    let mut first = vec![u32::MAX; nchar];
    for m in &doc.mentions {
        mcount[m.character] += 1;
        let s = tokens[m.tok_start as usize].start;
        first[m.character] = first[m.character].min(s);
    }
    for s in doc.speakers.iter().flatten() {
        qcount[*s] += 1;
    }
    // ids in order of decreasing mention count; characters without mentions dropped
    let mut order: Vec<usize> = (0..nchar).filter(|&c| mcount[c] > 0).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(mcount[c]), first[c]));
    let mut id = vec![String::new(); nchar];
    for (k, &c) in order.iter().enumerate() {
        id[c] = format!("c{}", k + 1);
    }
    let characters = order
        .iter()
        .map(|&c| {
            let ch = &doc.characters[c];
            Character {
                id: id[c].clone(),
                name: ch.name.clone(),
                aliases: ch.aliases.clone(),
                gender: ch.gender.map(|g| g.to_string()),
                mention_count: mcount[c],
                quote_count: qcount[c],
                first_mention: cx(first[c]),
            }
        })
        .collect();
    let mentions: Vec<Mention> = doc
        .mentions
        .iter()
        .map(|m| Mention {
            start: cx(tokens[m.tok_start as usize].start),
            end: cx(tokens[m.tok_end as usize - 1].end),
            character: id[m.character].clone(),
            kind: m.kind,
        })
        .collect();
    let quotes: Vec<Quote> = doc
        .quotes
        .iter()
        .zip(&doc.speakers)
        .map(|(q, s)| Quote {
            start: cx(q.start),
            end: cx(q.end),
            speaker: s.and_then(|c| (mcount[c] > 0).then(|| id[c].clone())),
        })
        .collect();
    let sentence_ranges: Vec<std::ops::Range<usize>> = doc
        .sentences
        .iter()
        .filter(|s| s.end > s.start)
        .map(|s| tokens[s.start as usize].start as usize..tokens[s.end as usize - 1].end as usize)
        .collect();
    let mrefs = profile_mentions(doc, &tokens, &id);
    drop(tokens);
    let (stats, keywords) = stats::compute_with_keywords(
        text,
        &sentence_ranges,
        doc.paragraphs.len(),
        KEYWORDS,
        &keywords::Options::default(),
    );
    let summary = summary::extract(text, &sentence_ranges, SUMMARY_SENTENCES)
        .into_iter()
        .filter_map(|r| {
            let t = text.get(r.clone())?;
            Some(SummarySentence {
                start: cx(r.start as u32),
                end: cx(r.end as u32),
                text: t.trim().to_string(),
            })
        })
        .collect();
    let (relationships, timeline) = relationships(doc, &mentions, &quotes, sections, &id);
    let profiles = profiles(doc, &mrefs, &ci, &sentence_ranges, sections, &id);
    drop(ci);
    drop(sentence_ranges);
    // the tokens and the rest of the stages' output are not needed any more:
    // free them before the result's copy of the text (the peak)
    drop(owned);
    Analysis {
        text: text.to_string(),
        stats,
        sections: sections.to_vec(),
        characters,
        mentions,
        quotes,
        relationships,
        language: lang::detect(text),
        keywords,
        summary,
        profiles,
        timeline,
    }
}

/// The position of a character id (`c7` → 7) in `characters`' order.
fn id_rank(id: &str) -> usize {
    id.get(1..).and_then(|n| n.parse().ok()).unwrap_or(usize::MAX)
}

/// Char offset → byte offset for a few sorted-or-not positions, in one pass.
fn char_to_byte(text: &str, chars: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..chars.len()).collect();
    order.sort_by_key(|&k| chars[k]);
    let mut out = vec![text.len(); chars.len()];
    let mut it = text.char_indices().enumerate();
    let mut cur = it.next();
    for k in order {
        let want = chars[k];
        while let Some((ci, (bi, _))) = cur {
            if ci >= want {
                out[k] = bi;
                break;
            }
            cur = it.next();
        }
    }
    out
}

/// The mentions of characters with an id, in byte offsets (for [`profiles`]).
fn profile_mentions(doc: &Doc, tokens: &[token::Token], id: &[String]) -> Vec<relations::MentionRef> {
    doc.mentions
        .iter()
        .filter(|m| !id[m.character].is_empty())
        .map(|m| relations::MentionRef {
            start: tokens[m.tok_start as usize].start as usize,
            end: tokens[m.tok_end as usize - 1].end as usize,
            character: m.character as u32,
        })
        .collect()
}

/// The persona material of every character with an id ([`profile::build`]
/// over byte offsets, converted to chars).
fn profiles(
    doc: &Doc,
    mrefs: &[relations::MentionRef],
    ci: &CharIndex,
    sentences: &[std::ops::Range<usize>],
    sections: &[Section],
    id: &[String],
) -> Vec<Profile> {
    let text = doc.text;
    let qrefs: Vec<relations::QuoteRef> = doc
        .quotes
        .iter()
        .zip(&doc.speakers)
        .map(|(q, s)| relations::QuoteRef {
            start: q.start as usize,
            end: q.end as usize,
            speaker: s.filter(|&c| !id[c].is_empty()).map(|c| c as u32),
        })
        .collect();
    let bounds: Vec<usize> = sections.iter().flat_map(|s| [s.start, s.end]).collect();
    let bytes = char_to_byte(text, &bounds);
    let sec_bytes: Vec<std::ops::Range<usize>> = bytes.chunks_exact(2).map(|b| b[0]..b[1]).collect();
    let span = |start: usize, end: usize| TextSpan {
        start: ci.get(start as u32),
        end: ci.get(end as u32),
        text: text.get(start..end).unwrap_or("").trim().to_string(),
    };
    let q_index = |s: &profile::Span| doc.quotes.partition_point(|q| (q.start as usize) < s.start);
    let mut out: Vec<Profile> = profile::build(text, sentences, mrefs, &qrefs, &sec_bytes)
        .into_iter()
        .filter_map(|p| {
            let cid = id.get(p.character as usize).filter(|s| !s.is_empty())?;
            Some(Profile {
                character: cid.clone(),
                quotes: p.quotes[..p.representative]
                    .iter()
                    .map(|s| span(s.start, s.end))
                    .collect(),
                quote_indices: p.quotes.iter().map(q_index).collect(),
                descriptions: p.descriptions.iter().map(|s| span(s.start, s.end)).collect(),
                agent_verbs: p.agent_verbs,
                modifiers: p.modifiers,
                first_appearance: ci.get(p.first_appearance.unwrap_or(0) as u32),
                sections: p.sections,
            })
        })
        .collect();
    out.sort_by_key(|p| id_rank(&p.character));
    out
}

/// Ties between characters from [`relations::compute`] (co-occurrence within
/// a window and quotes answered by another speaker), in char offsets.
fn relationships(
    doc: &Doc,
    mentions: &[Mention],
    quotes: &[Quote],
    sections: &[Section],
    id: &[String],
) -> (Vec<Relationship>, Vec<TimelineEntry>) {
    let mrefs: Vec<relations::MentionRef> = doc
        .mentions
        .iter()
        .zip(mentions)
        .map(|(m, o)| relations::MentionRef {
            start: o.start,
            end: o.end,
            character: m.character as u32,
        })
        .collect();
    let qrefs: Vec<relations::QuoteRef> = doc
        .speakers
        .iter()
        .zip(quotes)
        .map(|(s, q)| relations::QuoteRef {
            start: q.start,
            end: q.end,
            speaker: s.filter(|_| q.speaker.is_some()).map(|c| c as u32),
        })
        .collect();
    let ranges: Vec<std::ops::Range<usize>> = sections.iter().map(|s| s.start..s.end).collect();
    let rel = relations::compute(&mrefs, &qrefs, &ranges, relations::DEFAULT_WINDOW);
    let mut timeline = rel
        .timeline
        .into_iter()
        .filter_map(|t| {
            let c = id.get(t.character as usize).filter(|x| !x.is_empty())?;
            Some(TimelineEntry {
                character: c.clone(),
                counts: t.counts,
            })
        })
        .collect::<Vec<_>>();
    timeline.sort_by_key(|t: &TimelineEntry| id_rank(&t.character));
    let pairs = rel
        .pairs
        .into_iter()
        .filter_map(|r| {
            let s = id.get(r.source as usize).filter(|x| !x.is_empty())?;
            let t = id.get(r.target as usize).filter(|x| !x.is_empty())?;
            Some(Relationship {
                source: s.clone(),
                target: t.clone(),
                weight: r.weight,
                interactions: r.interactions as usize,
            })
        })
        .collect();
    (pairs, timeline)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Token span `[a, b)` of the first occurrence of `phrase` at or after byte `from`.
    fn tok_span(text: &str, toks: &[token::Token], phrase: &str, from: usize) -> (usize, usize) {
        let start = from + text[from..].find(phrase).expect("phrase in text");
        let end = start + phrase.len();
        let a = toks
            .iter()
            .position(|t| t.start as usize == start)
            .expect("starts a token");
        let b = toks.iter().position(|t| t.end as usize == end).expect("ends a token") + 1;
        (a, b)
    }

    #[test]
    fn common_noun_phrases_and_places_are_not_names() {
        // (sentence from a train book, spans that are not person names, spans that are)
        let cases: [(&str, &[&str], &[&str]); 5] = [
            (
                // Emma, ch. 1
                "Emma was aware that great must be the difference between a Mrs. Weston, only half a mile from them, and a Miss Taylor in the house.",
                &["Mrs. Weston", "Miss Taylor"],
                &["Emma"],
            ),
            (
                // The House of the Seven Gables, ch. 1
                "The street is Pyncheon Street; the house is the old Pyncheon House; and Colonel Pyncheon built it.",
                &["Pyncheon Street", "Pyncheon"],
                &["Colonel Pyncheon"],
            ),
            (
                // Persuasion, ch. 1
                "\"Heir presumptive, William Walter Elliot, Esq., great grandson of the second Sir Walter.\"",
                &["William Walter Elliot"],
                &["Sir Walter"],
            ),
            (
                // Middlemarch, ch. 1 / Bleak House, ch. 1: a title after "the"
                "She went to see the Rector, and the Chancellor sat in Lincoln's Inn Hall with Mrs. Hall.",
                &["Rector", "Chancellor"],
                &["Mrs. Hall"],
            ),
            (
                // Wuthering Heights, ch. 1; The Good Soldier, ch. 1
                "'Thrushcross Grange is my own, sir,' he interrupted. A Dowell of Philadelphia met the Ashburnhams.",
                &["Thrushcross Grange", "Dowell"],
                &["Ashburnhams"],
            ),
        ];
        for (text, not_names, names) in cases {
            let mut toks = token::tokenize(text);
            let _ = token::sentences(text, &mut toks);
            let seq = ner::Seq::new(text, &toks);
            let mut from = 0;
            for phrase in not_names {
                let (a, b) = tok_span(text, &toks, phrase, from);
                from = toks[a].start as usize + 1;
                assert!(not_a_person(&seq, a, b), "{phrase:?} in {text:?}");
            }
            for phrase in names {
                let (a, b) = tok_span(text, &toks, phrase, 0);
                assert!(!not_a_person(&seq, a, b), "{phrase:?} in {text:?}");
            }
        }
        // through the whole analysis: no proper-name mention for "a Mrs. Weston"
        let text = cases[0].0;
        let a = analyze(text, &[]);
        let at = text.find("Mrs. Weston").unwrap();
        let at = text[..at].chars().count();
        assert!(
            !a.mentions
                .iter()
                .any(|m| m.kind == MentionKind::Prop && m.start <= at && at < m.end),
            "{:?}",
            a.mentions
        );
    }

    #[test]
    fn empty_and_odd_inputs() {
        for s in [
            "",
            " ",
            "\"",
            "\u{201C}\u{201C}\u{201C}",
            "Mr.",
            "Mr. Mr. Mr.",
            "'''''",
            "\u{1F600}\u{1F600} Mr. \u{1F600} said \u{2018}",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "\u{201C}Hi,\u{201D} said he. \u{201C}Yes,\u{201D} said she. \u{201D}\u{201D}",
        ] {
            let a = analyze(s, &[]);
            assert_eq!(a.text, s);
            for m in &a.mentions {
                assert!(m.start <= m.end && m.end <= s.chars().count());
            }
        }
    }

    #[test]
    fn random_inputs_do_not_panic() {
        // deterministic pseudo-random strings over the characters that matter
        let alphabet: Vec<&str> = vec![
            "a",
            "Mr.",
            " ",
            "\n",
            "\n\n",
            "\"",
            "'",
            "\u{201C}",
            "\u{201D}",
            "\u{2018}",
            "\u{2019}",
            "\u{2014}",
            "--",
            ".",
            ",",
            "!",
            "?",
            "said",
            "Bennet",
            "he",
            "she",
            "I",
            "the",
            "man",
            "\u{00E9}",
            "\u{1F600}",
            "\u{0301}",
            "_",
            ":",
            "Elizabeth",
        ];
        let mut x = 0x9E3779B97F4A7C15u64;
        for len in [0usize, 1, 2, 5, 30, 200, 2000] {
            for _ in 0..20 {
                let mut s = String::new();
                for _ in 0..len {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    s.push_str(alphabet[(x % alphabet.len() as u64) as usize]);
                }
                let a = analyze(&s, &[]);
                let n = s.chars().count();
                for m in &a.mentions {
                    assert!(m.start < m.end && m.end <= n);
                }
                for q in &a.quotes {
                    assert!(q.start < q.end && q.end <= n);
                }
            }
        }
    }

    #[test]
    fn huge_single_token_and_all_quotes() {
        let s = "x".repeat(200_000);
        assert!(analyze(&s, &[]).mentions.is_empty());
        let s = "\u{201C}".repeat(10_000);
        let _ = analyze(&s, &[]);
        let s = "\"a\" ".repeat(10_000);
        let _ = analyze(&s, &[]);
    }

    #[test]
    fn initials_alone_are_not_people() {
        // Vanity Fair, chapter 1; The Hound of the Baskervilles, chapter 1
        let s = "Your most obliged humble servant,\n\nBARBARA PINKERTON\n\nP.S.--Miss Sharp accompanies \
                 Miss Sedley. \u{201C}To James Mortimer, M.R.C.S., from his friends of the C.C.H.,\u{201D} was \
                 engraved upon it.";
        let a = analyze(s, &[]);
        let got: Vec<String> = a
            .mentions
            .iter()
            .map(|m| s.chars().skip(m.start).take(m.end - m.start).collect())
            .collect();
        assert!(got.iter().any(|m| m == "Miss Sharp"), "{got:?}");
        for bad in ["P.S.", "M.R.C.S.", "C.C.H."] {
            assert!(!got.iter().any(|m| m == bad), "{bad}: {got:?}");
        }
    }

    #[test]
    fn char_offsets_are_chars() {
        let s = "\u{00E9}\u{00E9}. \u{201C}Well,\u{201D} said Mr. Bennet.";
        let a = analyze(s, &[]);
        let q = &a.quotes[0];
        let got: String = s.chars().skip(q.start).take(q.end - q.start).collect();
        assert_eq!(got, "\u{201C}Well,\u{201D}");
    }
}

// --- feature modules (stats/keywords/summary/lang/relations/profile) ---
pub mod keywords;
pub mod lang;
pub mod profile;
pub mod relations;
pub mod stats;
pub mod summary;
