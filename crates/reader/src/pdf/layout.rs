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
//! Word spaces come from the gap between glyphs (more than 0.1 em plus the
//! line's letter spacing when it draws its own spaces, or a drawn space
//! glyph); a glyph drawn twice at the same place (fake bold) is kept once,
//! also when the second copy comes in another chunk. Chunks drawn out of
//! order are put in page order. Rotated text goes through the same steps
//! in a frame turned with its baseline (`rotated_blocks`).

use super::collect::{Budget, Glyph, Page};

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

/// Lays out one page; `None` if the time budget ran out meanwhile.
pub(crate) fn layout_page(page: &Page, budget: &Budget) -> Option<PageLayout> {
    let view = View {
        glyphs: &page.glyphs,
        text: &page.text,
    };
    let mut blocks = layout_upright(&view, budget)?;
    if page.glyphs.iter().any(|g| !g.upright) {
        rotated_blocks(&view, &mut blocks, budget)?;
    }
    Some(PageLayout { blocks })
}

/// Glyphs and the text they index, in one frame (the page, or the page
/// turned so that a rotated baseline runs left to right).
struct View<'a> {
    glyphs: &'a [Glyph],
    text: &'a str,
}

impl View<'_> {
    fn glyph_text(&self, g: &Glyph) -> &str {
        &self.text[g.start as usize..g.end as usize]
    }
}

/// Lays out the upright glyphs of a frame: chunks, lines, blocks, order.
fn layout_upright(view: &View, budget: &Budget) -> Option<Vec<Block>> {
    let chunks = make_chunks(view);
    let mut lines = make_lines(view, chunks, budget)?;
    lines.retain(|l| !l.text.trim().is_empty());
    let blocks = make_blocks(lines);
    Some(reading_order(blocks))
}

fn make_chunks(page: &View) -> Vec<Chunk> {
    let mut chunks: Vec<Chunk> = Vec::new();
    // Only upright text is handled here: rotated glyphs are laid out in
    // their own frame by `rotated_blocks`.
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
    chunks
}

/// Rotated text (a landscape table, a caption turned 90°, a word set at
/// 45°) is laid out like upright text in its own frame: the glyphs of one
/// baseline direction are turned so that it runs left to right, so lines,
/// word spaces and blocks come from the same geometry as on an upright
/// page. Each direction's blocks follow the upright text, in the order
/// the directions first appear. A glyph alone in its direction (text set
/// along a curve) is read in stream order, spaced by the distance from the
/// end of the glyph before it.
fn rotated_blocks(page: &View, blocks: &mut Vec<Block>, budget: &Budget) -> Option<()> {
    // Directions in whole degrees, in order of first appearance.
    let mut groups: Vec<Vec<u32>> = Vec::new();
    let mut group_of = [u16::MAX; 360];
    for (i, g) in page.glyphs.iter().enumerate() {
        if g.upright {
            continue;
        }
        let key = (i32::from(g.angle) + 18_050).div_euclid(100).rem_euclid(360) as usize;
        if group_of[key] == u16::MAX {
            group_of[key] = groups.len() as u16;
            groups.push(Vec::new());
        }
        groups[usize::from(group_of[key])].push(i as u32);
    }
    let mut loose: Vec<u32> = Vec::new();
    let mut frames: Vec<(u32, Vec<Glyph>)> = Vec::new();
    for idx in groups {
        if idx.len() < 2 {
            loose.extend(idx);
            continue;
        }
        let first = &page.glyphs[idx[0] as usize];
        let (sin, cos) = (f32::from(first.angle) / 100.0).to_radians().sin_cos();
        let turned = idx
            .iter()
            .map(|&i| {
                let g = &page.glyphs[i as usize];
                Glyph {
                    x: g.x * cos + g.y * sin,
                    y: -g.x * sin + g.y * cos,
                    upright: true,
                    ..*g
                }
            })
            .collect();
        frames.push((idx[0], turned));
    }
    if !loose.is_empty() {
        loose.sort_unstable();
        frames.push((loose[0], path_frame(page, &loose)));
    }
    frames.sort_by_key(|(first, _)| *first);
    for (_, glyphs) in frames {
        let view = View {
            glyphs: &glyphs,
            text: page.text,
        };
        let mut more = layout_upright(&view, budget)?;
        // Below everything so far, left edge at 0: the paragraph and
        // running-header passes see it as the end of the page.
        let base = blocks.iter().map(|b| b.bottom).fold(0.0f32, f32::max) + 1000.0;
        let top = more.iter().map(|b| b.top).fold(f32::INFINITY, f32::min);
        let left = more.iter().map(|b| b.x0).fold(f32::INFINITY, f32::min);
        let (dx, dy) = (-left, base - top);
        for b in &mut more {
            b.x0 += dx;
            b.x1 += dx;
            b.top += dy;
            b.bottom += dy;
            for l in &mut b.lines {
                l.x0 += dx;
                l.x1 += dx;
                l.top += dy;
                l.bottom += dy;
                l.baseline += dy;
            }
        }
        blocks.extend(more);
    }
    Some(())
}

/// Glyphs each alone in their direction, put on synthetic lines in stream
/// order: a glyph follows the one before at the distance between the end
/// of that glyph's advance and its own origin; a jump of more than three
/// ems starts a new line.
fn path_frame(page: &View, idx: &[u32]) -> Vec<Glyph> {
    let mut out: Vec<Glyph> = Vec::with_capacity(idx.len());
    let (mut x, mut y) = (0.0f32, 0.0f32);
    let mut prev: Option<&Glyph> = None;
    for &i in idx {
        let g = &page.glyphs[i as usize];
        if let Some(p) = prev {
            let (sin, cos) = (f32::from(p.angle) / 100.0).to_radians().sin_cos();
            let (ex, ey) = (p.x + p.w * cos, p.y + p.w * sin);
            let d = ((g.x - ex).powi(2) + (g.y - ey).powi(2)).sqrt();
            let size = p.size.max(g.size);
            if d > 3.0 * size || !d.is_finite() {
                x = 0.0;
                y += 2.0 * size;
            } else {
                x += p.w + d;
            }
        }
        out.push(Glyph {
            x,
            y,
            upright: true,
            ..*g
        });
        prev = Some(g);
    }
    out
}

/// Superscripts and subscripts (footnote marks, exponents): a chunk in a
/// smaller size next to a larger one, raised or lowered a little, is moved
/// onto its neighbour's baseline so it joins that line.
fn snap_scripts(chunks: &mut [Chunk], budget: &Budget) -> Option<()> {
    if chunks.len() > 20_000 {
        return Some(());
    }
    for i in 0..chunks.len() {
        // Quadratic: up to 4·10⁸ steps on a page of tiny chunks.
        if i % 256 == 255 && budget.spent() {
            return None;
        }
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
    Some(())
}

fn make_lines(page: &View, mut chunks: Vec<Chunk>, budget: &Budget) -> Option<Vec<Line>> {
    for c in &mut chunks {
        order_clusters(page, &mut c.glyphs);
    }
    snap_scripts(&mut chunks, budget)?;
    // Merge chunks on one baseline that touch. Sort by baseline then x and
    // sweep; a chunk joins the previous line when baselines agree and the
    // gap is small.
    chunks.sort_by(|a, b| a.baseline.total_cmp(&b.baseline).then(a.x0.total_cmp(&b.x0)));
    // Group chunks into baseline bands first.
    let mut merged: Vec<Chunk> = Vec::with_capacity(chunks.len());
    let mut work = 0usize;
    let mut band_start = 0;
    let mut i = 0;
    while i < chunks.len() {
        let b = chunks[band_start].baseline;
        let s = chunks[band_start].size;
        if i > band_start && (chunks[i].baseline - b).abs() > 0.3 * s {
            if budget.spent() {
                return None;
            }
            merge_band(page, &mut chunks[band_start..i], &mut merged, &mut work);
            band_start = i;
        }
        i += 1;
    }
    if band_start < chunks.len() {
        merge_band(page, &mut chunks[band_start..], &mut merged, &mut work);
    }
    let mut gaps = Vec::new();
    Some(merged.into_iter().map(|c| chunk_to_line(page, c, &mut gaps)).collect())
}

/// A glyph and the combining marks drawn after it (Thai vowels and tone
/// marks, accents) stay together, in stream order.
fn is_mark(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(unicode_normalization::char::is_combining_mark)
}

/// Puts a chunk drawn partly out of order (an exponent drawn before its
/// base, a formula's pieces in the order the equation editor kept them)
/// into page order: clusters of a glyph and its combining marks are
/// sorted by x. Chunks that only move right are left alone.
fn order_clusters(page: &View, glyphs: &mut Vec<u32>) {
    let backwards = glyphs.windows(2).any(|w| {
        let (p, g) = (&page.glyphs[w[0] as usize], &page.glyphs[w[1] as usize]);
        g.x + 0.5 * g.w < p.x && !is_mark(page.glyph_text(g))
    });
    if !backwards {
        return;
    }
    // (x of the cluster's base, first index, end index)
    let mut clusters: Vec<(f32, usize, usize)> = Vec::new();
    for (i, &gi) in glyphs.iter().enumerate() {
        let g = &page.glyphs[gi as usize];
        match clusters.last_mut() {
            Some(c) if is_mark(page.glyph_text(g)) => c.2 = i + 1,
            _ => clusters.push((g.x, i, i + 1)),
        }
    }
    clusters.sort_by(|a, b| a.0.total_cmp(&b.0));
    let sorted: Vec<u32> = clusters
        .iter()
        .flat_map(|&(_, a, b)| glyphs[a..b].iter().copied())
        .collect();
    *glyphs = sorted;
}

/// Merges the touching chunks of one baseline band (sorted by x within).
fn merge_band(page: &View, band: &mut [Chunk], out: &mut Vec<Chunk>, work: &mut usize) {
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
                if c.x0 < last.x1 - 0.1 * size {
                    splice(page, &mut last.glyphs, c.glyphs, work);
                } else {
                    last.glyphs.extend_from_slice(&c.glyphs);
                }
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

/// Glyphs looked at by all splices of a page, at most: past it chunks are
/// appended. Each splice sorts the line and compares every new glyph with
/// the line's glyphs near it, so a hostile page of many overlapping chunks,
/// or of a million glyphs drawn at one spot twice, would otherwise cost
/// lines × chunks or glyphs × glyphs.
const MAX_SPLICE_WORK: usize = 4_000_000;

/// Adds the glyphs of a chunk that overlaps a line drawn earlier:
/// - a glyph drawn again where the line already has the same glyph (fake
///   bold, shadowed or duplicated text) is dropped;
/// - the rest goes where it is on the page when it fits in a gap of the
///   line (an exponent or an operator drawn after the formula around it),
///   else after the line: two different texts drawn over each other are
///   not interleaved letter by letter.
fn splice(page: &View, line: &mut Vec<u32>, new: Vec<u32>, work: &mut usize) {
    *work += line.len() + new.len();
    if *work > MAX_SPLICE_WORK {
        line.extend(new);
        return;
    }
    let mut by_x: Vec<(f32, u32)> = line.iter().map(|&i| (page.glyphs[i as usize].x, i)).collect();
    by_x.sort_by(|a, b| a.0.total_cmp(&b.0));
    // every glyph a duplicate scan visits counts: once the page's work is
    // spent, the remaining glyphs are kept without looking
    let mut left = MAX_SPLICE_WORK - *work;
    let rest: Vec<u32> = new
        .into_iter()
        .filter(|&ni| {
            let g = &page.glyphs[ni as usize];
            let tol = 0.2 * g.size;
            let t = page.glyph_text(g);
            let from = by_x.partition_point(|&(x, _)| x < g.x - tol);
            for &(x, oi) in &by_x[from..] {
                if x > g.x + tol || left == 0 {
                    break;
                }
                left -= 1;
                let o = &page.glyphs[oi as usize];
                if (o.y - g.y).abs() < tol && page.glyph_text(o) == t {
                    return false;
                }
            }
            true
        })
        .collect();
    *work = MAX_SPLICE_WORK - left;
    let Some(&head) = rest.first() else { return };
    let centre = |i: u32| {
        let g = &page.glyphs[i as usize];
        g.x + 0.5 * g.w
    };
    let g0 = &page.glyphs[head as usize];
    let rx0 = rest.iter().map(|&i| page.glyphs[i as usize].x).fold(g0.x, f32::min);
    let rx1 = rest
        .iter()
        .map(|&i| page.glyphs[i as usize].x + page.glyphs[i as usize].w)
        .fold(g0.x + g0.w, f32::max);
    // It goes before the first glyph right of its start when nothing of
    // the line is in its way, counting either every glyph or only those on
    // its own baseline (accents and scripts appended before, such as a
    // vector arrow over a letter, are not in the way of an operator
    // between two letters); else after the line.
    let level = |i: &u32| (page.glyphs[*i as usize].y - g0.y).abs() < 0.3 * g0.size;
    let on_level = line.iter().position(|i| level(i) && centre(*i) > rx0).filter(|&k| {
        line[..k].iter().filter(|i| level(i)).all(|&i| centre(i) <= rx0)
            && line[k..].iter().filter(|i| level(i)).all(|&i| centre(i) >= rx1)
    });
    let at = on_level.unwrap_or_else(|| line.iter().position(|&i| centre(i) > rx0).unwrap_or(line.len()));
    let fits = on_level.is_some()
        || line[..at].iter().all(|&i| centre(i) <= rx0) && line[at..].iter().all(|&i| centre(i) >= rx1);
    if fits {
        line.splice(at..at, rest);
    } else {
        line.extend(rest);
    }
}

/// Letter spacing of a line that draws its word spaces as glyphs: the
/// median gap between neighbouring letters, at most 0.3 em. Such a line
/// marks its words itself, so a gap only as wide as the tracking (a chart
/// label set glyph by glyph, text with wide character spacing) is not a
/// word space. 0 for a line without space glyphs: there, gaps are all
/// there is to find words by.
fn letter_spacing(page: &View, glyphs: &[u32], gaps: &mut Vec<f32>) -> f32 {
    gaps.clear();
    let mut spaces = false;
    let mut wide = false;
    let mut prev: Option<&Glyph> = None;
    let mut size = 0.0f32;
    for &gi in glyphs {
        let g = &page.glyphs[gi as usize];
        if page.glyph_text(g).chars().all(char::is_whitespace) {
            spaces = true;
            prev = None;
            continue;
        }
        if let Some(p) = prev {
            let gap = g.x - (p.x + p.w);
            wide |= gap > 0.1 * g.size.min(p.size);
            gaps.push(gap.max(0.0));
        }
        size = size.max(g.size);
        prev = Some(g);
    }
    // No gap between letters would be a word space anyway: nothing to do.
    if !spaces || !wide || gaps.len() < 6 {
        return 0.0;
    }
    let mid = gaps.len() / 2;
    let (_, median, _) = gaps.select_nth_unstable_by(mid, f32::total_cmp);
    median.min(0.3 * size)
}

fn chunk_to_line(page: &View, c: Chunk, gaps: &mut Vec<f32>) -> Line {
    // Computed on the first gap that could be a word space (most lines
    // never have one that is not a drawn space).
    let mut tracking: Option<f32> = None;
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
            let min_gap = 0.1 * g.size.min(p.size);
            let word_gap =
                gap > min_gap && gap > *tracking.get_or_insert_with(|| letter_spacing(page, &c.glyphs, gaps)) + min_gap;
            if !is_space && !text.ends_with(' ') && (word_gap || g.x + 0.5 * g.w < p.x) {
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
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    /// A page from (text, x, baseline, advance, angle in degrees) at 10 pt.
    fn page(glyphs: &[(&str, f32, f32, f32, f32)]) -> Page {
        let mut p = Page::default();
        for &(t, x, y, w, a) in glyphs {
            let start = p.text.len() as u32;
            p.text.push_str(t);
            p.glyphs.push(Glyph {
                x,
                y,
                w,
                size: 10.0,
                start,
                end: p.text.len() as u32,
                upright: a == 0.0,
                angle: (a * 100.0) as i16,
            });
        }
        p
    }

    fn lines(p: &Page) -> Vec<String> {
        let budget = Budget {
            deadline: Instant::now() + Duration::from_secs(60),
            cancel: Arc::new(AtomicBool::new(false)),
        };
        let l = layout_page(p, &budget).expect("within budget");
        l.blocks
            .iter()
            .flat_map(|b| b.lines.iter().map(|l| l.text.clone()))
            .collect()
    }

    #[test]
    fn overlapping_chunks_are_deduplicated_or_placed() {
        // "ab" drawn, then "ab" again 0.5 pt right (fake bold) and "cd"
        // drawn over the same place: "ab" once, "cd" after it whole.
        let p = page(&[
            ("a", 100.0, 50.0, 5.0, 0.0),
            ("b", 105.0, 50.0, 5.0, 0.0),
            ("a", 100.5, 50.0, 5.0, 0.0),
            ("b", 105.5, 50.0, 5.0, 0.0),
            ("c", 100.0, 50.0, 5.0, 0.0),
            ("d", 105.0, 50.0, 5.0, 0.0),
        ]);
        assert_eq!(lines(&p), ["ab cd"]);
        // A piece drawn later that fits in a gap of the line goes there.
        let p = page(&[
            ("a", 100.0, 50.0, 5.0, 0.0),
            ("b", 105.0, 50.0, 5.0, 0.0),
            ("c", 118.0, 50.0, 5.0, 0.0),
            ("X", 111.0, 50.0, 5.0, 0.0),
        ]);
        assert_eq!(lines(&p), ["abX c"]);
        // Also when an accent drawn above the line came before it: "u · v"
        // with arrows over u and v drawn between the letters and the dot.
        let mut p = page(&[
            ("u", 100.0, 50.0, 5.0, 0.0),
            ("v", 110.0, 50.0, 5.0, 0.0),
            ("→", 100.5, 46.0, 4.0, 0.0),
            ("→", 110.5, 46.0, 4.0, 0.0),
            ("·", 106.5, 50.0, 2.0, 0.0),
        ]);
        // The arrows are smaller and raised: they join the line as scripts.
        p.glyphs[2].size = 6.0;
        p.glyphs[3].size = 6.0;
        assert_eq!(lines(&p), ["u · v → →"]);
    }

    #[test]
    fn many_overlapping_chunks_keep_every_glyph() {
        // 3000 glyphs each drawn 3 pt left of the one before: every one is
        // its own chunk overlapping the line (the splice work bound).
        let letters: Vec<String> = (0..3000)
            .map(|i| char::from(b'a' + (i % 26) as u8).to_string())
            .collect();
        let glyphs: Vec<(&str, f32, f32, f32, f32)> = letters
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), 10_000.0 - 3.0 * i as f32, 50.0, 5.0, 0.0))
            .collect();
        let out = lines(&page(&glyphs)).concat();
        assert_eq!(out.chars().filter(|c| c.is_alphabetic()).count(), 3000);
    }

    #[test]
    fn duplicate_scan_counts_towards_the_work_bound() {
        // Two runs of 3000 different glyphs drawn at one spot (zero advance):
        // every glyph of the second is compared with every glyph of the
        // first — 9M comparisons, which must count against the page's bound
        // (a million glyphs each would otherwise be 10^12).
        let mut p = Page::default();
        for i in 0..6000u32 {
            let start = p.text.len() as u32;
            p.text.push(if i < 3000 { 'a' } else { 'b' });
            p.glyphs.push(Glyph {
                x: 100.0,
                y: 50.0,
                w: 0.0,
                size: 10.0,
                start,
                end: p.text.len() as u32,
                upright: true,
                angle: 0,
            });
        }
        let view = View {
            glyphs: &p.glyphs,
            text: &p.text,
        };
        let mut line: Vec<u32> = (0..3000).collect();
        let mut work = 0;
        splice(&view, &mut line, (3000..6000).collect(), &mut work);
        assert_eq!(work, MAX_SPLICE_WORK, "the scan's comparisons are counted");
        assert_eq!(line.len(), 6000, "nothing is dropped: the texts differ");
        // once spent, later splices only append
        let mut more = vec![0u32];
        splice(&view, &mut more, vec![1, 2], &mut work);
        assert_eq!(more, [0, 1, 2]);
    }

    #[test]
    fn rotated_glyphs_group_by_direction() {
        // "up" at 90° and "hi" at 45° (advances along the baseline), plus
        // one glyph alone at 30°.
        let s = std::f32::consts::FRAC_1_SQRT_2 * 5.0;
        let p = page(&[
            ("u", 50.0, 100.0, 5.0, 90.0),
            ("h", 200.0, 200.0, 5.0, 45.0),
            ("p", 50.0, 105.0, 5.0, 90.0),
            ("i", 200.0 + s, 200.0 + s, 5.0, 45.0),
            ("z", 300.0, 300.0, 5.0, 30.0),
        ]);
        assert_eq!(lines(&p), ["up", "hi", "z"]);
    }

    #[test]
    fn rtl_lines_are_reversed() {
        // "שלום 12 abc" drawn left to right on the page.
        let visual: String = "abc 12 םולש".into();
        assert_eq!(visual_to_logical(visual), "abc 12 םולש");
        assert_eq!(visual_to_logical("םלוע םולש".into()), "שלום עולם");
        assert_eq!(visual_to_logical("15 ףיעס".into()), "סעיף 15");
    }
}
