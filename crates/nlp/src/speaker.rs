//! Speaker attribution and gender.
//!
//! Rules in order of reliability, each only where the evidence is local:
//! 1. an explicit speech tag next to the quote, after it ("…,” said
//!    Elizabeth / she cried / the old man said) or before it in the same
//!    paragraph (Mr. Bennet said: “…”); failing a speech verb, a name or
//!    pronoun right after a quote that ends mid-sentence ("“…,” Tommy
//!    nodded"), or the subject of the narration sentence just before the quote
//!    in its paragraph ("Tuppence sighed. “Yes.”"). The subject is a name (its
//!    character), a pronoun (the most recent earlier person of that gender in
//!    narration: a name, or a noun phrase such as "a fearful man"; "I" is the
//!    narrator in a first-person book) or a noun phrase ("the old man"), which
//!    becomes a character of its own keyed by its head noun, with NOM mentions;
//! 2. other quotes of a paragraph share its tagged speaker;
//! 3. in a run of untagged dialogue paragraphs, turns alternate: the speaker of
//!    the paragraph two back, or the person the previous turn addressed by name
//!    (a vocative: "My dear Mr. Bennet, …").
//!
//! Otherwise the speaker stays null: no evidence beats a usually wrong guess.
//! The pronoun and noun-phrase mentions an attribution rests on are reported
//! (kinds PRON / NOM). Gender comes from titles ("Mrs.") and from the pronouns
//! that follow a character's name in narration.

use crate::MentionKind;
use crate::cluster::{Cluster, Gender};
use crate::quotes::Quote;
use crate::token::{TokSpan, Token};
use std::collections::HashMap;

/// A mention of a character, token span `[tok_start, tok_end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharMention {
    pub tok_start: u32,
    pub tok_end: u32,
    pub character: usize,
    pub kind: MentionKind,
}

/// A character before ids are assigned.
#[derive(Debug, Clone)]
pub struct CharInfo {
    pub name: String,
    pub aliases: Vec<String>,
    pub gender: Option<&'static str>,
    /// Name words (lower case).
    pub keys: Vec<String>,
}

pub struct Attribution {
    pub mentions: Vec<CharMention>,
    pub characters: Vec<CharInfo>,
    pub speakers: Vec<Option<usize>>,
}

const SPEECH_VERBS: &[&str] = &[
    "said",
    "says",
    "say",
    "replied",
    "replies",
    "answered",
    "answers",
    "asked",
    "asks",
    "cried",
    "cries",
    "exclaimed",
    "exclaims",
    "returned",
    "continued",
    "added",
    "observed",
    "remarked",
    "rejoined",
    "whispered",
    "shouted",
    "muttered",
    "murmured",
    "began",
    "repeated",
    "inquired",
    "enquired",
    "interrupted",
    "thought",
    "called",
    "resumed",
    "declared",
    "responded",
    "retorted",
    "urged",
    "pleaded",
    "protested",
    "explained",
    "suggested",
    "insisted",
    "agreed",
    "admitted",
    "sighed",
    "laughed",
    "groaned",
    "sobbed",
    "screamed",
    "yelled",
    "roared",
    "growled",
    "stammered",
    "faltered",
    "gasped",
    "whimpered",
    "persisted",
    "pursued",
    "demanded",
    "ejaculated",
    "concluded",
    "commenced",
    "interposed",
    "echoed",
    "assented",
    "mused",
    "reasoned",
    "warned",
    "bawled",
    "hissed",
    "snapped",
    "drawled",
    "grumbled",
    "chuckled",
    "smiled",
    "went",
    "goes",
    "cautioned",
    "confessed",
    "corrected",
    "ventured",
    "announced",
    "breathed",
    "panted",
    "wailed",
    "moaned",
    "shrieked",
    "called",
    "told",
    "begged",
    "entreated",
    "implored",
    "lamented",
    "observed",
    "proceeded",
    "queried",
    "quoth",
    "remonstrated",
    "sneered",
    "stormed",
    "thundered",
    "vociferated",
    "joined",
    "put",
    "broke",
    "spoke",
];

const PERSON_NOUNS: &[(&str, Option<Gender>)] = &[
    ("man", Some(Gender::Male)),
    ("woman", Some(Gender::Female)),
    ("lady", Some(Gender::Female)),
    ("gentleman", Some(Gender::Male)),
    ("boy", Some(Gender::Male)),
    ("girl", Some(Gender::Female)),
    ("child", None),
    ("fellow", Some(Gender::Male)),
    ("stranger", None),
    ("officer", Some(Gender::Male)),
    ("doctor", None),
    ("captain", Some(Gender::Male)),
    ("colonel", Some(Gender::Male)),
    ("servant", None),
    ("maid", Some(Gender::Female)),
    ("driver", Some(Gender::Male)),
    ("clerk", Some(Gender::Male)),
    ("lawyer", Some(Gender::Male)),
    ("priest", Some(Gender::Male)),
    ("mother", Some(Gender::Female)),
    ("father", Some(Gender::Male)),
    ("sister", Some(Gender::Female)),
    ("brother", Some(Gender::Male)),
    ("aunt", Some(Gender::Female)),
    ("uncle", Some(Gender::Male)),
    ("wife", Some(Gender::Female)),
    ("husband", Some(Gender::Male)),
    ("landlord", Some(Gender::Male)),
    ("landlady", Some(Gender::Female)),
    ("youth", Some(Gender::Male)),
    ("host", Some(Gender::Male)),
    ("hostess", Some(Gender::Female)),
    ("visitor", None),
    ("king", Some(Gender::Male)),
    ("queen", Some(Gender::Female)),
    ("soldier", Some(Gender::Male)),
    ("sailor", Some(Gender::Male)),
    ("judge", Some(Gender::Male)),
    ("squire", Some(Gender::Male)),
    ("nurse", Some(Gender::Female)),
    ("governess", Some(Gender::Female)),
    ("housekeeper", Some(Gender::Female)),
    ("cook", None),
    ("lad", Some(Gender::Male)),
    ("lass", Some(Gender::Female)),
    ("old", None),
    ("count", Some(Gender::Male)),
    ("girls", None),
    ("boys", None),
    ("mate", Some(Gender::Male)),
    ("skipper", Some(Gender::Male)),
    ("prisoner", None),
    ("guard", Some(Gender::Male)),
    ("inspector", Some(Gender::Male)),
    ("professor", Some(Gender::Male)),
    ("baronet", Some(Gender::Male)),
    ("knight", Some(Gender::Male)),
    ("waiter", Some(Gender::Male)),
    ("porter", Some(Gender::Male)),
    ("rabbit", None),
    ("caterpillar", None),
    ("cat", None),
    ("hatter", Some(Gender::Male)),
    ("mouse", None),
    ("duchess", Some(Gender::Female)),
    ("dodo", None),
    ("voice", None),
    ("cousin", None),
    ("attendant", None),
    ("convict", Some(Gender::Male)),
    ("leader", Some(Gender::Male)),
    ("person", None),
    ("widow", Some(Gender::Female)),
    ("farmer", Some(Gender::Male)),
    ("footman", Some(Gender::Male)),
    ("butler", Some(Gender::Male)),
    ("coachman", Some(Gender::Male)),
    ("vicar", Some(Gender::Male)),
    ("rector", Some(Gender::Male)),
    ("parson", Some(Gender::Male)),
    ("matron", Some(Gender::Female)),
    ("daughter", Some(Gender::Female)),
    ("son", Some(Gender::Male)),
    ("mamma", Some(Gender::Female)),
    ("papa", Some(Gender::Male)),
    ("traveller", None),
    ("companion", None),
    ("friend", None),
    ("sheriff", Some(Gender::Male)),
    ("cowboy", Some(Gender::Male)),
    ("chief", Some(Gender::Male)),
    ("gentlewoman", Some(Gender::Female)),
    ("creature", None),
    ("keeper", Some(Gender::Male)),
    ("jailer", Some(Gender::Male)),
    ("sergeant", Some(Gender::Male)),
    ("clergyman", Some(Gender::Male)),
    ("innkeeper", Some(Gender::Male)),
];

fn lower_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether `w` is a verb of speech ("said", "replied", …).
pub fn is_speech_verb(w: &str) -> bool {
    is_verb(w)
}

fn is_verb(w: &str) -> bool {
    w.len() <= 14 && w.bytes().all(|b| b.is_ascii_lowercase()) && SPEECH_VERBS.contains(&w)
}

fn person_noun(w: &str) -> Option<Option<Gender>> {
    if w.len() > 12 {
        return None;
    }
    let lw = w.to_ascii_lowercase();
    PERSON_NOUNS.iter().find(|p| p.0 == lw).map(|p| p.1)
}

/// The gender of a third-person pronoun.
pub fn pron_gender(w: &str) -> Option<Gender> {
    match w {
        "he" | "He" | "him" | "his" | "His" | "himself" => Some(Gender::Male),
        "she" | "She" | "her" | "Her" | "hers" | "herself" => Some(Gender::Female),
        _ => None,
    }
}

const NONE: u32 = u32::MAX;

struct Ctx<'a> {
    text: &'a str,
    toks: &'a [Token],
    /// quote index containing the token, or NONE
    /// whether each token is inside a quotation
    in_q: Vec<bool>,
    /// name-mention index covering the token, or NONE
    name_at: Vec<u32>,
    names: &'a [(usize, usize, usize)],
    genders: Vec<Option<Gender>>,
    narrator: Option<usize>,
    /// noun-phrase person mentions in narration ("a fearful man"), by start
    noms: Vec<(usize, usize, Option<Gender>)>,
}

impl<'a> Ctx<'a> {
    fn w(&self, i: usize) -> &'a str {
        self.toks[i].text(self.text)
    }
}

enum Subj {
    Char(usize, Option<(u32, u32, MentionKind)>),
    /// head noun, gender, span, pronoun that referred to it
    Nom(String, Option<Gender>, u32, u32, Option<u32>),
}

/// End (token index, exclusive) of the sentence holding token `i`; `i + 1`
/// when no sentence does. A binary search: no per-token table.
pub fn sentence_end(sents: &[TokSpan], i: usize) -> u32 {
    let k = sents.partition_point(|s| (s.end as usize) <= i);
    match sents.get(k) {
        Some(s) if (s.start as usize) <= i => s.end,
        _ => i as u32 + 1,
    }
}

enum Target {
    Char(usize),
    Nom(usize, usize, Option<Gender>),
}

/// Attributes speakers, adds NOM characters and PRON/NOM mentions, infers gender.
pub fn attribute(
    text: &str,
    toks: &[Token],
    sents: &[TokSpan],
    paras: &[TokSpan],
    quotes: &[Quote],
    names: &[(usize, usize, usize)],
    clusters: &[Cluster],
) -> Attribution {
    let n = toks.len();
    let mut in_q = vec![false; n];
    for q in quotes {
        for x in &mut in_q[q.tok_start as usize..(q.tok_end as usize).min(n)] {
            *x = true;
        }
    }
    let mut name_at = vec![NONE; n];
    for (k, &(a, b, _)) in names.iter().enumerate() {
        for x in &mut name_at[a.min(n)..b.min(n)] {
            *x = k as u32;
        }
    }
    // gender votes
    let nc = clusters.len();
    let mut votes = vec![[0i32; 2]; nc];
    for (c, cl) in clusters.iter().enumerate() {
        match cl.title_gender {
            Some(Gender::Male) => votes[c][0] += 3 * cl.count as i32,
            Some(Gender::Female) => votes[c][1] += 3 * cl.count as i32,
            None => {}
        }
    }
    for &(_, b, c) in names {
        if b >= n || in_q[b.saturating_sub(1)] {
            continue;
        }
        let end = (sentence_end(sents, b - 1) as usize).min(b + 10);
        for j in b..end {
            if name_at[j] != NONE || in_q[j] {
                break;
            }
            match pron_gender(toks[j].text(text)) {
                Some(Gender::Male) => {
                    votes[c][0] += 1;
                    break;
                }
                Some(Gender::Female) => {
                    votes[c][1] += 1;
                    break;
                }
                None => {}
            }
        }
    }
    let genders: Vec<Option<Gender>> = votes
        .iter()
        .map(|v| {
            if v[0] > v[1] {
                Some(Gender::Male)
            } else if v[1] > v[0] {
                Some(Gender::Female)
            } else {
                None
            }
        })
        .collect();
    let mut characters: Vec<CharInfo> = clusters
        .iter()
        .zip(&genders)
        .map(|(c, g)| CharInfo {
            name: c.name.clone(),
            aliases: c.aliases.clone(),
            gender: g.map(gender_str),
            keys: c.keys.clone(),
        })
        .collect();
    let mut mentions: Vec<CharMention> = names
        .iter()
        .map(|&(a, b, c)| CharMention {
            tok_start: a as u32,
            tok_end: b as u32,
            character: c,
            kind: MentionKind::Prop,
        })
        .collect();

    // first-person narration: "I" outside quotes
    let mut narr_i = 0usize;
    let mut narr_words = 0usize;
    for (i, t) in toks.iter().enumerate() {
        if !in_q[i] && t.is(Token::WORD) {
            narr_words += 1;
            if t.text(text) == "I" {
                narr_i += 1;
            }
        }
    }
    let mut narrator = None;
    if narr_words > 0 && narr_i * 1000 >= narr_words * 8 && narr_i >= 5 {
        let c = characters.len();
        characters.push(CharInfo {
            name: "Narrator".to_string(),
            aliases: vec!["I".to_string()],
            gender: None,
            keys: Vec::new(),
        });
        narrator = Some(c);
        for (i, t) in toks.iter().enumerate() {
            if !in_q[i] && t.text(text) == "I" {
                mentions.push(CharMention {
                    tok_start: i as u32,
                    tok_end: i as u32 + 1,
                    character: c,
                    kind: MentionKind::Pron,
                });
            }
        }
    }
    let mut genders = genders;
    if narrator.is_some() {
        genders.push(None);
    }
    let mut ctx = Ctx {
        text,
        toks,
        in_q,
        name_at,
        names,
        genders,
        narrator,
        noms: Vec::new(),
    };
    let mut noms = Vec::new();
    for i in 0..n {
        if ctx.in_q[i] || !matches!(ctx.w(i), "the" | "a" | "an" | "The" | "A" | "An") {
            continue;
        }
        if let Some(Subj::Nom(_, g, a, b, _)) = subject_at(&ctx, i, true) {
            noms.push((a as usize, b as usize, g));
        }
    }
    ctx.noms = noms;

    let mut speakers: Vec<Option<usize>> = vec![None; quotes.len()];
    let mut nom_chars: HashMap<String, (usize, u32)> = HashMap::new();
    // paragraph of each quote
    let mut q_para = vec![0usize; quotes.len()];
    {
        let mut p = 0usize;
        for (qi, q) in quotes.iter().enumerate() {
            while p + 1 < paras.len() && paras[p].end <= q.tok_start {
                p += 1;
            }
            q_para[qi] = p;
        }
    }
    for (qi, q) in quotes.iter().enumerate() {
        let para = paras.get(q_para[qi]).copied().unwrap_or(TokSpan {
            start: 0,
            end: n as u32,
        });
        let subj = tag_after(&ctx, q, para)
            .or_else(|| tag_before(&ctx, q, para))
            .or_else(|| narration_subject(&ctx, q, para));
        let Some(subj) = subj else { continue };
        match subj {
            Subj::Char(c, m) => {
                speakers[qi] = Some(c);
                if let Some((a, b, k)) = m {
                    mentions.push(CharMention {
                        tok_start: a,
                        tok_end: b,
                        character: c,
                        kind: k,
                    });
                }
            }
            Subj::Nom(key, g, a, b, pron) => {
                let fresh = match nom_chars.get(&key) {
                    Some(&(_, last)) => last + 3000 < a,
                    None => true,
                };
                if fresh {
                    characters.push(CharInfo {
                        name: format!("the {key}"),
                        aliases: vec![format!("the {key}")],
                        gender: g.map(gender_str),
                        keys: Vec::new(),
                    });
                    nom_chars.insert(key.clone(), (characters.len() - 1, a));
                }
                let e = nom_chars.get_mut(&key).expect("inserted above");
                e.1 = e.1.max(a);
                let c = e.0;
                speakers[qi] = Some(c);
                mentions.push(CharMention {
                    tok_start: a,
                    tok_end: b,
                    character: c,
                    kind: MentionKind::Nom,
                });
                if let Some(p) = pron {
                    mentions.push(CharMention {
                        tok_start: p,
                        tok_end: p + 1,
                        character: c,
                        kind: MentionKind::Pron,
                    });
                }
            }
        }
    }
    // quotes of a paragraph share its speaker
    let mut i = 0;
    while i < quotes.len() {
        let mut j = i;
        while j < quotes.len() && q_para[j] == q_para[i] {
            j += 1;
        }
        let sp: Vec<usize> = speakers[i..j].iter().flatten().copied().collect();
        if !sp.is_empty() && sp.iter().all(|&s| s == sp[0]) {
            for s in &mut speakers[i..j] {
                if s.is_none() {
                    *s = Some(sp[0]);
                }
            }
        }
        i = j;
    }
    // alternation in runs of dialogue paragraphs
    let mut runs: Vec<(usize, usize, usize)> = Vec::new(); // (para, first quote, end quote)
    let mut i = 0;
    while i < quotes.len() {
        let mut j = i;
        while j < quotes.len() && q_para[j] == q_para[i] {
            j += 1;
        }
        runs.push((q_para[i], i, j));
        i = j;
    }
    for k in 0..runs.len() {
        let (p, a, b) = runs[k];
        if speakers[a..b].iter().any(|s| s.is_some()) {
            continue;
        }
        if k == 0 || runs[k - 1].0 + 1 != p {
            continue;
        }
        let (_, pa, pb) = runs[k - 1];
        let prev = speakers[pa];
        // vocative in the previous turn names the next speaker
        let voc = vocative(&ctx, &quotes[pa..pb]);
        let guess = match (voc, prev) {
            (Some(v), Some(pv)) if v != pv => Some(v),
            (Some(v), None) => Some(v),
            _ => {
                if k >= 2 && runs[k - 2].0 + 2 == p {
                    let pp = speakers[runs[k - 2].1];
                    match (pp, prev) {
                        (Some(x), Some(y)) if x != y => Some(x),
                        _ => None,
                    }
                } else {
                    None
                }
            }
        };
        if let Some(g) = guess {
            for s in &mut speakers[a..b] {
                *s = Some(g);
            }
        }
    }
    // and backwards: a turn two paragraphs ahead, across a known turn
    for k in (0..runs.len()).rev() {
        let (p, a, b) = runs[k];
        if speakers[a..b].iter().any(|s| s.is_some()) {
            continue;
        }
        if k + 2 < runs.len()
            && runs[k + 1].0 == p + 1
            && runs[k + 2].0 == p + 2
            && let (Some(x), Some(y)) = (speakers[runs[k + 2].1], speakers[runs[k + 1].1])
            && x != y
        {
            for s in &mut speakers[a..b] {
                *s = Some(x);
            }
        }
    }
    mentions.sort_by_key(|m| (m.tok_start, m.tok_end));
    mentions.dedup_by_key(|m| (m.tok_start, m.tok_end));
    Attribution {
        mentions,
        characters,
        speakers,
    }
}

fn gender_str(g: Gender) -> &'static str {
    match g {
        Gender::Male => "he/him",
        Gender::Female => "she/her",
    }
}

/// A name addressed at the start or end of a quote ("Lizzy, …", "…, Mr. Bennet.").
fn vocative(ctx: &Ctx, qs: &[Quote]) -> Option<usize> {
    for q in qs {
        let (a, b) = (q.tok_start as usize, q.tok_end as usize);
        for i in a..b {
            let k = ctx.name_at[i];
            if k == NONE {
                continue;
            }
            let (s, e, c) = ctx.names[k as usize];
            let before = if s > a { ctx.w(s - 1) } else { "" };
            let after = if e < b { ctx.w(e) } else { "" };
            let before_ok = s == a + 1
                || matches!(before, "," | "dear" | "Oh" | "oh" | "O")
                || (s >= a + 2 && lower_eq(ctx.w(s - 2), "my") && before == "dear");
            let after_ok = matches!(after, "," | "!" | "?" | "." | "\u{201D}" | "\u{2019}" | "\"" | "'");
            if (before_ok && after_ok) && (before == "," || before == "dear" || after == ",") {
                return Some(c);
            }
        }
    }
    None
}

fn tag_after(ctx: &Ctx, q: &Quote, para: TokSpan) -> Option<Subj> {
    let n = ctx.toks.len();
    let start = q.tok_end as usize;
    let end = (start + 12).min(para.end as usize).min(n);
    let mut i = start;
    while i < end {
        if ctx.in_q[i] {
            break;
        }
        let w = ctx.w(i);
        if matches!(w, "." | "!" | "?" | ";") {
            break;
        }
        if is_verb(w)
            && let Some(s) = subject_around(ctx, i, start)
        {
            return Some(s);
        }
        i += 1;
    }
    // “…,” Tommy nodded / “…!” cried the girl: a mention right after a quote
    // that ends mid-sentence is the speaker whatever the verb
    let last = ctx.w((q.tok_end as usize).saturating_sub(2).max(q.tok_start as usize));
    if matches!(last, "," | "!" | "?" | "--" | "\u{2014}") && start < end {
        let mut j = start;
        if matches!(ctx.w(j), "," | "--" | "\u{2014}") {
            j += 1;
        }
        if j < end && !ctx.in_q[j] {
            let w = ctx.w(j);
            if let Some(s) = subject_at(ctx, j, true) {
                return Some(s);
            }
            // verb first: “…,” whispered Jo
            if j + 1 < end
                && w.bytes().all(|b| b.is_ascii_lowercase())
                && (w.ends_with("ed") || w.ends_with('s'))
                && !ctx.in_q[j + 1]
                && let Some(s) = subject_at(ctx, j + 1, true)
            {
                return Some(s);
            }
        }
    }
    None
}

fn tag_before(ctx: &Ctx, q: &Quote, para: TokSpan) -> Option<Subj> {
    let qs = q.tok_start as usize;
    let mut lo = (para.start as usize).max(qs.saturating_sub(14));
    // "His mother said:\n\n—O, Stephen will apologise."
    if qs == para.start as usize && qs > 0 && ctx.w(qs - 1) == ":" {
        lo = qs.saturating_sub(14);
    }
    let mut i = qs;
    while i > lo {
        i -= 1;
        if ctx.in_q[i] {
            break;
        }
        let w = ctx.w(i);
        if matches!(w, "." | "!" | "?") {
            break;
        }
        if is_verb(w) {
            return subject_around(ctx, i, lo);
        }
    }
    None
}

/// The subject of the narration sentence right before the quote in its
/// paragraph ("Tuppence sighed. “Yes. You too?”").
fn narration_subject(ctx: &Ctx, q: &Quote, para: TokSpan) -> Option<Subj> {
    let qs = q.tok_start as usize;
    if qs <= para.start as usize {
        return None;
    }
    // walk back to the start of the preceding narration sentence
    let mut i = qs;
    let mut seen_word = false;
    while i > para.start as usize {
        let k = i - 1;
        if ctx.in_q[k] {
            break;
        }
        let w = ctx.w(k);
        if matches!(w, "." | "!" | "?") && seen_word {
            break;
        }
        if ctx.toks[k].is(Token::WORD) {
            seen_word = true;
        }
        i = k;
    }
    if i >= qs || !seen_word {
        return None;
    }
    // first token(s) of that sentence: a name or a pronoun
    let mut j = i;
    while j < qs && !ctx.toks[j].is(Token::WORD) {
        j += 1;
    }
    if j >= qs {
        return None;
    }
    if ctx.name_at[j] != NONE {
        return Some(Subj::Char(ctx.names[ctx.name_at[j] as usize].2, None));
    }
    match ctx.w(j) {
        "He" | "She" | "I" | "The" | "A" | "An" => subject_at(ctx, j, true),
        _ => None,
    }
}

/// Subject of the speech verb at `v`: right before it, maybe across one adverb
/// ("Elizabeth quietly said", "he asked Katharine"), or right after it ("said
/// Elizabeth").
fn subject_around(ctx: &Ctx, v: usize, lo: usize) -> Option<Subj> {
    let n = ctx.toks.len();
    // before
    let mut j = v;
    for _ in 0..2 {
        if j <= lo {
            break;
        }
        j -= 1;
        if ctx.in_q[j] {
            break;
        }
        if let Some(s) = subject_at(ctx, j, false) {
            return Some(s);
        }
        let w = ctx.w(j);
        if !(w.ends_with("ly") || matches!(w, "then" | "again" | "at" | "once" | "had" | "has" | "have")) {
            break;
        }
    }
    // after
    if v + 1 < n
        && !ctx.in_q[v + 1]
        && let Some(s) = subject_at(ctx, v + 1, true)
    {
        return Some(s);
    }
    None
}

fn subject_at(ctx: &Ctx, i: usize, forward: bool) -> Option<Subj> {
    let w = ctx.w(i);
    let k = ctx.name_at[i];
    if k != NONE {
        return Some(Subj::Char(ctx.names[k as usize].2, None));
    }
    match w {
        "I" => return ctx.narrator.map(|c| Subj::Char(c, None)),
        "he" | "she" | "He" | "She" => {
            let g = pron_gender(w)?;
            return match resolve(ctx, i, g)? {
                Target::Char(c) => Some(Subj::Char(c, Some((i as u32, i as u32 + 1, MentionKind::Pron)))),
                Target::Nom(a, b, ng) => match nom(ctx, a, b, ng) {
                    Subj::Nom(k, g2, a, b, _) => Some(Subj::Nom(k, g2, a, b, Some(i as u32))),
                    other => Some(other),
                },
            };
        }
        _ => {}
    }
    // noun phrase: forward "the old man", backward "... old man"
    if forward {
        if !matches!(w, "the" | "a" | "an" | "his" | "her" | "my" | "our" | "The" | "A") {
            return None;
        }
        let mut j = i + 1;
        while j < ctx.toks.len() && j <= i + 3 {
            let x = ctx.w(j);
            if let Some(g) = person_noun(x) {
                if x.eq_ignore_ascii_case("old") && j + 1 < ctx.toks.len() && person_noun(ctx.w(j + 1)).is_some() {
                    j += 1;
                    continue;
                }
                return Some(nom(ctx, i, j + 1, g));
            }
            if !ctx.toks[j].is(Token::WORD) {
                return None;
            }
            j += 1;
        }
        None
    } else {
        let g = person_noun(w)?;
        let mut j = i;
        let lo = i.saturating_sub(3);
        while j > lo {
            j -= 1;
            let x = ctx.w(j);
            if matches!(
                x,
                "the" | "a" | "an" | "his" | "her" | "my" | "our" | "The" | "A" | "His" | "Her" | "My"
            ) {
                return Some(nom(ctx, j, i + 1, g));
            }
            if !ctx.toks[j].is(Token::WORD) {
                return None;
            }
        }
        None
    }
}

fn nom(ctx: &Ctx, a: usize, b: usize, g: Option<Gender>) -> Subj {
    let key = ctx.w(b - 1).to_lowercase();
    Subj::Nom(key, g, a as u32, b as u32, None)
}

/// The most recent person mentioned in narration before token `i` whose
/// gender is `g`: a named character or a noun phrase ("the doctor").
fn resolve(ctx: &Ctx, i: usize, g: Gender) -> Option<Target> {
    // names are sorted by start
    let pos = ctx.names.partition_point(|m| m.0 < i);
    let lo = i.saturating_sub(600);
    let mut best_name = None;
    let mut k = pos;
    while k > 0 {
        k -= 1;
        let (a, _, c) = ctx.names[k];
        if a < lo {
            break;
        }
        if ctx.in_q[a] {
            continue;
        }
        if ctx.genders.get(c).copied().flatten() == Some(g) {
            best_name = Some((a, c));
            break;
        }
    }
    let pos = ctx.noms.partition_point(|m| m.0 < i);
    let mut best_nom = None;
    let mut k = pos;
    while k > 0 {
        k -= 1;
        let (a, b, ng) = ctx.noms[k];
        if a < lo {
            break;
        }
        if b <= i && (ng == Some(g) || ng.is_none()) {
            best_nom = Some((a, b, ng));
            break;
        }
    }
    match (best_name, best_nom) {
        (Some((na, c)), Some((ma, mb, ng))) => {
            if ma > na {
                Some(Target::Nom(ma, mb, ng))
            } else {
                Some(Target::Char(c))
            }
        }
        (Some((_, c)), None) => Some(Target::Char(c)),
        (None, Some((ma, mb, ng))) => Some(Target::Nom(ma, mb, ng)),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{TokSpan, sentence_end};
    use crate::analyze;

    #[test]
    fn sentence_end_by_binary_search() {
        let sents = [
            TokSpan { start: 0, end: 4 },
            TokSpan { start: 4, end: 9 },
            TokSpan { start: 11, end: 12 },
        ];
        assert_eq!(sentence_end(&sents, 0), 4);
        assert_eq!(sentence_end(&sents, 3), 4);
        assert_eq!(sentence_end(&sents, 4), 9);
        assert_eq!(sentence_end(&sents, 8), 9);
        // tokens no sentence holds: an empty window
        assert_eq!(sentence_end(&sents, 9), 10);
        assert_eq!(sentence_end(&sents, 11), 12);
        assert_eq!(sentence_end(&sents, 20), 21);
    }

    fn speaker_names(text: &str) -> Vec<Option<String>> {
        let a = analyze(text, &[]);
        a.quotes
            .iter()
            .map(|q| {
                q.speaker.as_ref().map(|s| {
                    a.characters
                        .iter()
                        .find(|c| &c.id == s)
                        .map(|c| c.name.clone())
                        .unwrap_or_default()
                })
            })
            .collect()
    }

    #[test]
    fn explicit_tags_and_pronouns() {
        // Pride and Prejudice, chapter 1 (abridged)
        let text = "Mr. Bennet was among the earliest of those who waited on Mr. Bingley. Mrs. Bennet had four daughters.\n\n\u{201C}But it is very likely that he may fall in love with one of them,\u{201D} said Mrs. Bennet.\n\n\u{201C}I see no occasion for that,\u{201D} replied Mr. Bennet.\n\n\u{201C}My dear, you flatter me,\u{201D} she cried.";
        let s = speaker_names(text);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].as_deref(), Some("Mrs. Bennet"));
        assert_eq!(s[1].as_deref(), Some("Mr. Bennet"));
        assert_eq!(s[2].as_deref(), Some("Mrs. Bennet"));
    }

    #[test]
    fn alternation_in_untagged_runs() {
        // Pride and Prejudice, chapter 1: two tagged turns, then untagged ones
        let text = "Mr. Bennet was so odd a mixture of quick parts. Mrs. Bennet was less difficult to develop.\n\n\u{201C}Is that his design in settling here?\u{201D} said Mr. Bennet.\n\n\u{201C}Design! Nonsense, how can you talk so!\u{201D} replied Mrs. Bennet.\n\n\u{201C}I see no occasion for that.\u{201D}\n\n\u{201C}My dear, you flatter me.\u{201D}";
        let s = speaker_names(text);
        assert_eq!(s.len(), 4);
        assert_eq!(s[2].as_deref(), Some("Mr. Bennet"));
        assert_eq!(s[3].as_deref(), Some("Mrs. Bennet"));
    }

    #[test]
    fn no_evidence_means_null() {
        let text = "It was a dark night.\n\n\u{201C}Who goes there?\u{201D}";
        assert_eq!(speaker_names(text), vec![None]);
    }

    #[test]
    fn first_person_narrator() {
        // Great Expectations, chapter 1 (shortened), told by Pip
        let mut text = String::from(
            "I give Pirrip as my father's family name. I was a small boy. I looked round. I cried. I said nothing. I ran.\n\n",
        );
        text.push_str("\u{201C}Pip, sir.\u{201D} said I.\n\n");
        let a = analyze(&text, &[]);
        let sp = a.quotes[0].speaker.clone().expect("speaker");
        let c = a.characters.iter().find(|c| c.id == sp).expect("character");
        assert_eq!(c.name, "Narrator");
        assert!(a.mentions.iter().any(|m| m.kind == crate::MentionKind::Pron));
    }

    #[test]
    fn nominal_speaker() {
        let text = "\u{201C}Who is there?\u{201D} said the old man.";
        let a = analyze(text, &[]);
        assert!(a.quotes[0].speaker.is_some());
        assert!(a.mentions.iter().any(|m| m.kind == crate::MentionKind::Nom));
    }
}
