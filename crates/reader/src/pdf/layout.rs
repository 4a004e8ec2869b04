//! Page layout: positioned glyphs → lines → blocks in reading order.
//!
//! 1. *Chunks*: runs of glyphs that follow each other in the content stream
//!    on one baseline, moving right (most producers draw a line, or a piece
//!    of it, in one go).
//! 2. *Lines*: chunks on the same baseline that touch (a small gap) are
//!    merged, so text drawn out of order still forms one line, but two
//!    columns that share baselines stay apart.
//! 3. *Blocks*: lines stacked closely with horizontal overlap and a similar
//!    font size (a paragraph, a column piece, a heading).
//! 4. *Reading order*: recursive XY-cut over the blocks, vertical cuts first
//!    (columns), then horizontal cuts; ties in y order.
//!
//! Word spaces come from the gap between glyphs (more than 0.15 em, or a
//! drawn space glyph); a glyph drawn twice at the same place (fake bold) is
//! kept once.

use super::collect::{Glyph, Page};

/// One line of text on a page.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub x0: f32,
    pub x1: f32,
    pub top: f32,
    pub bottom: f32,
    pub baseline: f32,
    pub size: f32,
    pub text: String,
}

/// Lines that belong together, in order from top to bottom.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub x0: f32,
    pub x1: f32,
    pub top: f32,
    pub bottom: f32,
    pub lines: Vec<Line>,
}

/// A laid-out page: blocks in reading order.
#[derive(Debug, Default)]
pub(crate) struct PageLayout {
    pub blocks: Vec<Block>,
}

/// A chunk under construction: indexes into the page's glyphs.
struct Chunk {
    glyphs: Vec<u32>,
    x0: f32,
    x1: f32,
    baseline: f32,
    size: f32,
}

pub(crate) fn layout_page(page: &Page) -> PageLayout {
    let chunks = make_chunks(page);
    let mut lines = make_lines(page, chunks);
    lines.retain(|l| !l.text.trim().is_empty());
    let blocks = make_blocks(lines);
    let blocks = reading_order(blocks);
    PageLayout { blocks }
}

fn make_chunks(page: &Page) -> Vec<Chunk> {
    let mut chunks: Vec<Chunk> = Vec::new();
    // Rotated text is laid out in its own frame: rotate the page so that its
    // baseline runs left to right. Only upright text is handled here; other
    // glyphs are appended as their own chunks in stream order.
    for (i, g) in page.glyphs.iter().enumerate() {
        if !g.upright {
            continue;
        }
        let join = match chunks.last() {
            Some(c) => {
                let size = c.size.max(g.size);
                (g.y - c.baseline).abs() < 0.3 * size && g.x > c.x1 - 0.5 * size && g.x < c.x1 + 1.5 * size
            }
            None => false,
        };
        if join {
            let c = chunks.last_mut().expect("checked above");
            c.glyphs.push(i as u32);
            c.x1 = c.x1.max(g.x + g.w);
            if g.size > c.size {
                c.size = g.size;
                c.baseline = g.y;
            }
        } else {
            chunks.push(Chunk {
                glyphs: vec![i as u32],
                x0: g.x,
                x1: g.x + g.w,
                baseline: g.y,
                size: g.size,
            });
        }
    }
    rotated_chunks(page, &mut chunks);
    chunks
}

/// Non-upright glyphs: group consecutive ones into chunks in stream order
/// and place them after everything else on the page, so their text is kept
/// (rotated captions, vertical writing) even if the order is approximate.
fn rotated_chunks(page: &Page, chunks: &mut Vec<Chunk>) {
    let mut cur: Option<Chunk> = None;
    let base = chunks.iter().map(|c| c.baseline + c.size).fold(0.0f32, f32::max) + 1000.0;
    let mut n = 0.0f32;
    for (i, g) in page.glyphs.iter().enumerate() {
        if g.upright {
            continue;
        }
        match cur.as_mut() {
            Some(c) if c.glyphs.len() < 4096 => {
                c.glyphs.push(i as u32);
            }
            _ => {
                if let Some(c) = cur.take() {
                    chunks.push(c);
                }
                n += 1.0;
                cur = Some(Chunk {
                    glyphs: vec![i as u32],
                    x0: 0.0,
                    x1: 1.0,
                    baseline: base + n * 2.0 * g.size.max(1.0),
                    size: g.size,
                });
            }
        }
    }
    if let Some(c) = cur {
        chunks.push(c);
    }
}

/// Superscripts and subscripts (footnote marks, exponents): a chunk in a
/// smaller size next to a larger one, raised or lowered a little, is moved
/// onto its neighbour's baseline so it joins that line.
fn snap_scripts(chunks: &mut [Chunk]) {
    if chunks.len() > 20_000 {
        return;
    }
    for i in 0..chunks.len() {
        let (cs, cb, cx0, cx1) = (chunks[i].size, chunks[i].baseline, chunks[i].x0, chunks[i].x1);
        let mut best: Option<(usize, f32)> = None;
        for (j, h) in chunks.iter().enumerate() {
            if j == i || h.size < cs * 1.12 {
                continue;
            }
            let hs = h.size;
            let rise = h.baseline - cb;
            if !(-0.35 * hs..=0.65 * hs).contains(&rise) || rise.abs() < 0.05 * hs {
                continue;
            }
            let gap = (cx0 - h.x1).max(h.x0 - cx1);
            if gap > 0.6 * hs {
                continue;
            }
            let d = gap.max(0.0) + rise.abs();
            if best.is_none_or(|(_, bd)| d < bd) {
                best = Some((j, d));
            }
        }
        if let Some((j, _)) = best {
            chunks[i].baseline = chunks[j].baseline;
        }
    }
}

fn make_lines(page: &Page, mut chunks: Vec<Chunk>) -> Vec<Line> {
    snap_scripts(&mut chunks);
    // Merge chunks on one baseline that touch. Sort by baseline then x and
    // sweep; a chunk joins the previous line when baselines agree and the
    // gap is small.
    chunks.sort_by(|a, b| a.baseline.total_cmp(&b.baseline).then(a.x0.total_cmp(&b.x0)));
    // Group chunks into baseline bands first.
    let mut merged: Vec<Chunk> = Vec::with_capacity(chunks.len());
    let mut band_start = 0;
    let mut i = 0;
    while i < chunks.len() {
        let b = chunks[band_start].baseline;
        let s = chunks[band_start].size;
        if i > band_start && (chunks[i].baseline - b).abs() > 0.3 * s {
            merge_band(&mut chunks[band_start..i], &mut merged);
            band_start = i;
        }
        i += 1;
    }
    if band_start < chunks.len() {
        merge_band(&mut chunks[band_start..], &mut merged);
    }
    merged.into_iter().map(|c| chunk_to_line(page, c)).collect()
}

/// Merges the touching chunks of one baseline band (sorted by x within).
fn merge_band(band: &mut [Chunk], out: &mut Vec<Chunk>) {
    band.sort_by(|a, b| a.x0.total_cmp(&b.x0));
    let first = out.len();
    for c in band.iter_mut() {
        let c = Chunk {
            glyphs: std::mem::take(&mut c.glyphs),
            x0: c.x0,
            x1: c.x1,
            baseline: c.baseline,
            size: c.size,
        };
        if out.len() > first {
            let last = out.last_mut().expect("non-empty");
            let size = last.size.max(c.size);
            if c.x0 < last.x1 + 0.8 * size {
                last.glyphs.extend_from_slice(&c.glyphs);
                last.x1 = last.x1.max(c.x1);
                if c.size > last.size {
                    last.size = c.size;
                    last.baseline = c.baseline;
                }
                continue;
            }
        }
        out.push(c);
    }
}

fn chunk_to_line(page: &Page, c: Chunk) -> Line {
    let mut text = String::new();
    let mut prev: Option<&Glyph> = None;
    let mut prev_text = "";
    let mut size_sum = 0.0f32;
    let mut size_n = 0.0f32;
    for &gi in &c.glyphs {
        let g = &page.glyphs[gi as usize];
        let t = page.glyph_text(g);
        if let Some(p) = prev {
            // Fake bold / shadow: the same glyph drawn again nearly in place.
            if t == prev_text && (g.x - p.x).abs() < 0.2 * g.size && (g.y - p.y).abs() < 0.2 * g.size {
                continue;
            }
            let gap = g.x - (p.x + p.w);
            let is_space = t.chars().all(char::is_whitespace);
            if !is_space && !text.ends_with(' ') && (gap > 0.1 * g.size.min(p.size) || g.x + 0.5 * g.w < p.x) {
                text.push(' ');
            }
        }
        if t.chars().all(char::is_whitespace) {
            if !text.is_empty() && !text.ends_with(' ') {
                text.push(' ');
            }
        } else {
            text.push_str(t);
            let n = t.chars().count() as f32;
            size_sum += g.size * n;
            size_n += n;
        }
        prev = Some(g);
        prev_text = t;
    }
    let size = if size_n > 0.0 { size_sum / size_n } else { c.size };
    while text.ends_with(' ') {
        text.pop();
    }
    if !text.is_ascii() {
        text = visual_to_logical(text);
    }
    Line {
        x0: c.x0,
        x1: c.x1,
        top: c.baseline - 0.8 * c.size,
        bottom: c.baseline + 0.2 * c.size,
        baseline: c.baseline,
        size,
        text,
    }
}

fn make_blocks(mut lines: Vec<Line>) -> Vec<Block> {
    lines.sort_by(|a, b| a.baseline.total_cmp(&b.baseline).then(a.x0.total_cmp(&b.x0)));
    let mut blocks: Vec<Block> = Vec::new();
    for line in lines {
        let mut best: Option<(usize, f32)> = None;
        // Only recent blocks can be just above this line.
        for (bi, b) in blocks.iter().enumerate().rev().take(64) {
            let last = b.lines.last().expect("blocks are never empty");
            let size = last.size.max(line.size);
            let dy = line.baseline - last.baseline;
            if dy < 0.5 * size || dy > 2.0 * size {
                continue;
            }
            if (last.size - line.size).abs() > 0.2 * size {
                continue;
            }
            let overlap = line.x1.min(b.x1) - line.x0.max(b.x0);
            if overlap <= 0.0 {
                continue;
            }
            // Keep the line spacing regular within a block.
            if b.lines.len() >= 2 {
                let prev = &b.lines[b.lines.len() - 2];
                let spacing = last.baseline - prev.baseline;
                if dy > spacing * 1.6 + 0.1 * size {
                    continue;
                }
            }
            if best.is_none_or(|(_, o)| overlap > o) {
                best = Some((bi, overlap));
            }
        }
        match best {
            Some((bi, _)) => {
                let b = &mut blocks[bi];
                b.x0 = b.x0.min(line.x0);
                b.x1 = b.x1.max(line.x1);
                b.bottom = b.bottom.max(line.bottom);
                b.lines.push(line);
            }
            None => blocks.push(Block {
                x0: line.x0,
                x1: line.x1,
                top: line.top,
                bottom: line.bottom,
                lines: vec![line],
            }),
        }
    }
    blocks
}

/// Recursive XY-cut: split at the widest vertical gap that no block spans
/// (columns), else at horizontal gaps, else keep top-to-bottom order.
fn reading_order(blocks: Vec<Block>) -> Vec<Block> {
    let mut out = Vec::with_capacity(blocks.len());
    xy_cut(blocks, &mut out, 0);
    out
}

fn xy_cut(mut blocks: Vec<Block>, out: &mut Vec<Block>, depth: u32) {
    if blocks.len() <= 1 || depth > 64 {
        blocks.sort_by(|a, b| a.top.total_cmp(&b.top).then(a.x0.total_cmp(&b.x0)));
        out.extend(blocks);
        return;
    }
    // Vertical cut: sort by x0 and find a gap in the x coverage.
    blocks.sort_by(|a, b| a.x0.total_cmp(&b.x0));
    let mut reach = blocks[0].x1;
    for i in 1..blocks.len() {
        if blocks[i].x0 > reach + 1.0 {
            let right = blocks.split_off(i);
            xy_cut(blocks, out, depth + 1);
            xy_cut(right, out, depth + 1);
            return;
        }
        reach = reach.max(blocks[i].x1);
    }
    // Horizontal cuts: every gap in the y coverage.
    blocks.sort_by(|a, b| a.top.total_cmp(&b.top));
    let mut reach = blocks[0].bottom;
    for i in 1..blocks.len() {
        if blocks[i].top > reach {
            let below = blocks.split_off(i);
            xy_cut(blocks, out, depth + 1);
            xy_cut(below, out, depth + 1);
            return;
        }
        reach = reach.max(blocks[i].bottom);
    }
    blocks.sort_by(|a, b| a.top.total_cmp(&b.top).then(a.x0.total_cmp(&b.x0)));
    out.extend(blocks);
}

fn is_rtl(c: char) -> bool {
    matches!(c, '\u{0590}'..='\u{08FF}' | '\u{FB1D}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

/// Glyphs come in visual order (left to right on the page). A line that is
/// mostly right-to-left script is reversed into logical order, keeping runs
/// of left-to-right text (numbers, Latin words) as they were.
fn visual_to_logical(text: String) -> String {
    let rtl = text.chars().filter(|&c| is_rtl(c)).count();
    let ltr = text.chars().filter(|&c| c.is_alphanumeric() && !is_rtl(c)).count();
    if rtl == 0 || rtl <= ltr {
        return text;
    }
    let mut v: Vec<char> = text.chars().rev().collect();
    let strong_ltr = |c: char| c.is_alphanumeric() && !is_rtl(c);
    let mut i = 0;
    while i < v.len() {
        if strong_ltr(v[i]) {
            let mut j = i;
            let mut end = i;
            while j < v.len() && (strong_ltr(v[j]) || matches!(v[j], '.' | ',' | ':' | '/' | '-' | '%' | ' ')) {
                if strong_ltr(v[j]) {
                    end = j;
                }
                j += 1;
            }
            v[i..=end].reverse();
            i = end + 1;
        } else {
            v[i] = match v[i] {
                '(' => ')',
                ')' => '(',
                '[' => ']',
                ']' => '[',
                '{' => '}',
                '}' => '{',
                '<' => '>',
                '>' => '<',
                c => c,
            };
            i += 1;
        }
    }
    v.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtl_lines_are_reversed() {
        // "שלום 12 abc" drawn left to right on the page.
        let visual: String = "abc 12 םולש".into();
        assert_eq!(visual_to_logical(visual), "abc 12 םולש");
        assert_eq!(visual_to_logical("םלוע םולש".into()), "שלום עולם");
        assert_eq!(visual_to_logical("15 ףיעס".into()), "סעיף 15");
    }
}
