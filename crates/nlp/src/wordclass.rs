//! Word classes: distributional clusters of words, fitted on unlabelled novels.
//!
//! Why: the name tagger is fitted on ~210k tokens of 80 annotated excerpts, so
//! a word it never saw labelled ("Cromwell", "Magyars", "Chancellor") has only
//! its shape and the book's own statistics to go on. Words used in the same
//! contexts across many novels (after "Mr.", before "said", after "the" as a
//! plural, after "Lord") fall into one class, and the tagger learns a weight per
//! class from the words it did see. Brown clusters play this part in classic
//! NER taggers; these classes are cheaper to fit (about 6 s on one core for
//! the 64 books of a CV fold, no agglomerative merging): each word's contexts (the tokens at −2, −1, +1, +2)
//! as positive PMI weights, randomly projected to 128 dimensions, grouped by
//! spherical k-means into `k` fine classes, whose centroids are grouped again
//! into `k_coarse` coarse ones.
//!
//! Only words seen in several books get a class (`min_books`): a class must
//! say something about the language, not about one book's cast, and a fitted
//! table must not know the character names of the books it is judged on.
//! The table is part of the tagger's model file (see [`crate::ner::Model`]),
//! so a model and the classes its weights refer to never come apart.

use std::collections::HashMap;

/// Fitting parameters.
#[derive(Clone, Copy, Debug)]
pub struct FitParams {
    /// fine classes (at most 65,535)
    pub k: usize,
    /// coarse classes over the fine ones (at most 255)
    pub k_coarse: usize,
    /// a word needs this many occurrences …
    pub min_count: u32,
    /// … in at least this many books
    pub min_books: u32,
    /// at most this many words (the most frequent)
    pub max_words: usize,
    /// context vocabulary: the most frequent tokens; others fall in 4 shape bins
    pub n_ctx: usize,
    /// k-means iterations
    pub iters: usize,
}

impl Default for FitParams {
    fn default() -> Self {
        FitParams {
            k: 256,
            k_coarse: 32,
            min_count: 10,
            min_books: 10,
            max_words: 40_000,
            n_ctx: 600,
            iters: 15,
        }
    }
}

/// A fitted table: exact word form → (fine class, coarse class). Class 0 is
/// "no class" (a word the table does not know).
#[derive(Default, Clone, Debug)]
pub struct WordClasses {
    /// FNV-1a hashes of the word forms, sorted (binary search: 10 bytes a
    /// word, no hash-map overhead)
    keys: Vec<u64>,
    /// fine class (1-based) of `keys[i]`
    fine: Vec<u16>,
    /// coarse class (1-based) of each fine class (index 0 unused)
    coarse: Vec<u8>,
}

const MAGIC: &[u8; 4] = b"WCL1";

#[inline]
fn hash(w: &str) -> u64 {
    let mut h = 0xcbf29ce484222325u64;
    for &b in w.as_bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    h
}

impl WordClasses {
    /// Number of words with a class.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// (fine, coarse) class of an exact word form; (0, 0) when unknown.
    #[inline]
    pub fn get(&self, w: &str) -> (u16, u8) {
        match self.keys.binary_search(&hash(w)) {
            Ok(i) => {
                let f = self.fine[i];
                (f, self.coarse.get(f as usize).copied().unwrap_or(0))
            }
            Err(_) => (0, 0),
        }
    }

    /// `WCL1`, word count (u32), fine class count (u16), then the coarse class
    /// of each fine class (u8 each, from class 1), the sorted keys (u64 each)
    /// and their fine classes (u16 each), little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let k = self.coarse.len().saturating_sub(1);
        let mut out = Vec::with_capacity(10 + k + self.keys.len() * 10);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.keys.len() as u32).to_le_bytes());
        out.extend_from_slice(&(k as u16).to_le_bytes());
        out.extend_from_slice(self.coarse.get(1..).unwrap_or(&[]));
        for key in &self.keys {
            out.extend_from_slice(&key.to_le_bytes());
        }
        for f in &self.fine {
            out.extend_from_slice(&f.to_le_bytes());
        }
        out
    }

    /// Parses [`WordClasses::to_bytes`]; `None` when malformed (unsorted
    /// keys or classes out of range included: lookups rely on both).
    pub fn from_bytes(b: &[u8]) -> Option<WordClasses> {
        if b.len() < 10 || &b[..4] != MAGIC {
            return None;
        }
        let n = u32::from_le_bytes(b[4..8].try_into().ok()?) as usize;
        let k = u16::from_le_bytes(b[8..10].try_into().ok()?) as usize;
        let need = 10usize.checked_add(k)?.checked_add(n.checked_mul(10)?)?;
        if b.len() != need {
            return None;
        }
        let mut coarse = Vec::with_capacity(k + 1);
        coarse.push(0);
        coarse.extend_from_slice(&b[10..10 + k]);
        let kb = &b[10 + k..10 + k + n * 8];
        let keys: Vec<u64> = kb
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        let fine: Vec<u16> = b[10 + k + n * 8..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        if keys.windows(2).any(|w| w[0] >= w[1]) || fine.iter().any(|&f| f == 0 || f as usize > k) {
            return None;
        }
        Some(WordClasses { keys, fine, coarse })
    }

    /// Fits classes on whole texts (one per book).
    pub fn fit(texts: &[&str], p: &FitParams) -> WordClasses {
        let k = p.k.clamp(1, u16::MAX as usize);
        let kc = p.k_coarse.clamp(1, 255);
        // token streams (borrowed forms) and counts
        let books: Vec<Vec<&str>> = texts
            .iter()
            .map(|t| crate::token::tokenize(t).iter().map(|tok| tok.text(t)).collect())
            .collect();
        // per form: (count, books, last book seen + 1)
        let mut counts: HashMap<&str, (u32, u32, u32)> = HashMap::new();
        for (bi, toks) in books.iter().enumerate() {
            for &w in toks {
                let e = counts.entry(w).or_insert((0, 0, 0));
                e.0 += 1;
                if e.2 != bi as u32 + 1 {
                    e.1 += 1;
                    e.2 = bi as u32 + 1;
                }
            }
        }
        let mut by_count: Vec<(&str, u32, u32)> = counts.iter().map(|(w, c)| (*w, c.0, c.1)).collect();
        // most frequent first, ties by form (deterministic)
        by_count.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let ctx_ids: HashMap<&str, u32> = by_count
            .iter()
            .take(p.n_ctx)
            .enumerate()
            .map(|(i, (w, _, _))| (*w, i as u32))
            .collect();
        let words: Vec<&str> = by_count
            .iter()
            .filter(|(w, c, nb)| {
                *c >= p.min_count && *nb >= p.min_books && w.chars().next().is_some_and(char::is_alphabetic)
            })
            .take(p.max_words)
            .map(|x| x.0)
            .collect();
        if words.len() < k {
            return WordClasses::default();
        }
        let word_ids: HashMap<&str, u32> = words.iter().enumerate().map(|(i, w)| (*w, i as u32)).collect();
        let c = p.n_ctx + 5;
        let ctx_of = |w: Option<&&str>| -> usize {
            match w {
                None => p.n_ctx + 4,
                Some(w) => match ctx_ids.get(*w) {
                    Some(&i) => i as usize,
                    None => {
                        let f = w.chars().next().unwrap_or(' ');
                        if f.is_uppercase() {
                            p.n_ctx
                        } else if f.is_lowercase() {
                            p.n_ctx + 1
                        } else if f.is_numeric() {
                            p.n_ctx + 2
                        } else {
                            p.n_ctx + 3
                        }
                    }
                },
            }
        };
        // co-occurrence counts, one block of `c` per relative position
        let dims = 4 * c;
        let mut m = vec![0f32; words.len() * dims];
        let mut ctx_tot = vec![0f64; dims];
        for toks in &books {
            for (i, w) in toks.iter().enumerate() {
                let Some(&wi) = word_ids.get(w) else {
                    continue;
                };
                let row = &mut m[wi as usize * dims..(wi as usize + 1) * dims];
                for (blk, off) in [-2isize, -1, 1, 2].into_iter().enumerate() {
                    let j = i as isize + off;
                    let cx = if j < 0 { None } else { toks.get(j as usize) };
                    let d = blk * c + ctx_of(cx);
                    row[d] += 1.0;
                    ctx_tot[d] += 1.0;
                }
            }
        }
        drop(books);
        // positive PMI, context counts smoothed (^0.75), per position block
        let mut smooth = vec![0f64; dims];
        let mut blk_tot = [0f64; 4];
        for d in 0..dims {
            smooth[d] = ctx_tot[d].powf(0.75);
            blk_tot[d / c] += smooth[d];
        }
        const R: usize = 128;
        // a ±1 projection row per context dimension, from a fixed seed
        let mut seed = 0x9E3779B97F4A7C15u64;
        let mut next = || {
            seed = seed.wrapping_add(0x9E3779B97F4A7C15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
            z ^ (z >> 31)
        };
        let proj: Vec<[u64; R / 64]> = (0..dims).map(|_| [next(), next()]).collect();
        let mut vecs = vec![0f32; words.len() * R];
        for wi in 0..words.len() {
            let row = &m[wi * dims..(wi + 1) * dims];
            let v = &mut vecs[wi * R..(wi + 1) * R];
            for b in 0..4 {
                let nw: f64 = row[b * c..(b + 1) * c].iter().map(|&x| x as f64).sum();
                if nw == 0.0 {
                    continue;
                }
                for d in b * c..(b + 1) * c {
                    if row[d] == 0.0 {
                        continue;
                    }
                    let pmi = ((row[d] as f64 / nw) / (smooth[d] / blk_tot[b])).ln();
                    if pmi <= 0.0 {
                        continue;
                    }
                    let bits = &proj[d];
                    for (r, x) in v.iter_mut().enumerate() {
                        let s = (bits[r / 64] >> (r % 64)) & 1;
                        *x += if s == 1 { pmi as f32 } else { -(pmi as f32) };
                    }
                }
            }
            normalise(v);
        }
        drop(m);
        let weights = vec![1f32; words.len()];
        let assign = kmeans(&vecs, R, &weights, k, p.iters, &mut next);
        // coarse classes over the fine centroids, weighted by class size
        let mut cent = vec![0f32; k * R];
        let mut size = vec![0f32; k];
        for (wi, &a) in assign.iter().enumerate() {
            size[a] += 1.0;
            for r in 0..R {
                cent[a * R + r] += vecs[wi * R + r];
            }
        }
        for a in 0..k {
            normalise(&mut cent[a * R..(a + 1) * R]);
        }
        let cassign = kmeans(&cent, R, &size, kc.min(k), p.iters, &mut next);
        let mut coarse = vec![0u8; k + 1];
        for a in 0..k {
            coarse[a + 1] = cassign[a] as u8 + 1;
        }
        let mut pairs: Vec<(u64, u16)> = words
            .iter()
            .zip(&assign)
            .map(|(w, &a)| (hash(w), a as u16 + 1))
            .collect();
        pairs.sort_unstable();
        pairs.dedup_by_key(|x| x.0);
        WordClasses {
            keys: pairs.iter().map(|x| x.0).collect(),
            fine: pairs.iter().map(|x| x.1).collect(),
            coarse,
        }
    }
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Spherical k-means (cosine) with k-means++ seeding; returns each row's class.
#[allow(clippy::needless_range_loop)]
fn kmeans(x: &[f32], r: usize, w: &[f32], k: usize, iters: usize, rng: &mut impl FnMut() -> u64) -> Vec<usize> {
    let n = x.len() / r;
    let row = |i: usize| &x[i * r..(i + 1) * r];
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f32>();
    // k-means++: the next centre drawn with probability ∝ weight × distance²
    let mut cent: Vec<f32> = Vec::with_capacity(k * r);
    cent.extend_from_slice(row((rng() % n as u64) as usize));
    let mut d2: Vec<f32> = (0..n).map(|i| (2.0 - 2.0 * dot(row(i), &cent[..r])).max(0.0)).collect();
    while cent.len() < k * r {
        let tot: f64 = d2.iter().zip(w).map(|(d, w)| (*d * *w) as f64).sum();
        let mut t = (rng() >> 11) as f64 / (1u64 << 53) as f64 * tot;
        let mut pick = n - 1;
        for i in 0..n {
            t -= (d2[i] * w[i]) as f64;
            if t <= 0.0 {
                pick = i;
                break;
            }
        }
        let start = cent.len();
        cent.extend_from_slice(row(pick));
        for i in 0..n {
            let d = (2.0 - 2.0 * dot(row(i), &cent[start..start + r])).max(0.0);
            if d < d2[i] {
                d2[i] = d;
            }
        }
    }
    let mut assign = vec![0usize; n];
    for _ in 0..iters.max(1) {
        let mut changed = 0;
        for i in 0..n {
            let xi = row(i);
            let mut best = 0;
            let mut bs = f32::NEG_INFINITY;
            for a in 0..k {
                let s = dot(xi, &cent[a * r..(a + 1) * r]);
                if s > bs {
                    bs = s;
                    best = a;
                }
            }
            if assign[i] != best {
                changed += 1;
                assign[i] = best;
            }
        }
        let mut next = vec![0f32; k * r];
        for i in 0..n {
            let a = assign[i];
            for (q, v) in next[a * r..(a + 1) * r].iter_mut().zip(row(i)) {
                *q += v * w[i];
            }
        }
        for a in 0..k {
            let c = &mut next[a * r..(a + 1) * r];
            if c.iter().all(|&v| v == 0.0) {
                // an empty class keeps its old centre
                c.copy_from_slice(&cent[a * r..(a + 1) * r]);
            } else {
                normalise(c);
            }
        }
        cent = next;
        if changed == 0 {
            break;
        }
    }
    assign
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_malformed() {
        let wc = WordClasses {
            keys: {
                let mut k = vec![hash("Mr."), hash("Cromwell"), hash("said")];
                k.sort_unstable();
                k
            },
            fine: vec![1, 2, 2],
            coarse: vec![0, 1, 1],
        };
        let b = wc.to_bytes();
        let back = WordClasses::from_bytes(&b).expect("parses");
        assert_eq!(back.get("said"), wc.get("said"));
        assert_eq!(back.get("unknown-word"), (0, 0));
        assert!(WordClasses::from_bytes(&b[..b.len() - 1]).is_none());
        assert!(WordClasses::from_bytes(b"WCL1\xff\xff\xff\xff\x01\x00").is_none());
        let mut bad = b.clone();
        let n = bad.len();
        bad[n - 2] = 9; // a fine class out of range
        assert!(WordClasses::from_bytes(&bad).is_none());
    }

    #[test]
    fn fit_groups_words_by_context() {
        // a tiny corpus where names follow titles and precede "said", and
        // places follow "in": the two kinds must not share a class
        let names = ["Smith", "Jones", "Brown", "Green", "Black", "White"];
        let places = ["London", "Paris", "Rome", "Berlin", "Vienna", "Madrid"];
        let mut books = Vec::new();
        for b in 0..4 {
            let mut t = String::new();
            for i in 0..300 {
                let n = names[(i + b) % names.len()];
                let p = places[(i * 7 + b) % places.len()];
                t.push_str(&format!(
                    "Mr. {n} said that he lived in {p} and went to {p} with Mrs. {n} . "
                ));
            }
            books.push(t);
        }
        let texts: Vec<&str> = books.iter().map(|s| s.as_str()).collect();
        let p = FitParams {
            k: 8,
            k_coarse: 2,
            min_count: 5,
            min_books: 2,
            n_ctx: 20,
            ..FitParams::default()
        };
        let wc = WordClasses::fit(&texts, &p);
        let (a, _) = wc.get("Smith");
        let (b, _) = wc.get("Jones");
        let (c, _) = wc.get("London");
        let (d, _) = wc.get("Paris");
        assert!(a > 0 && c > 0, "both kinds have classes");
        assert_eq!(a, b);
        assert_eq!(c, d);
        assert_ne!(a, c);
    }
}
