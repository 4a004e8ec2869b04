//! Glyph collection: an [`OutputDev`] for pdf-extract's content-stream
//! interpreter that records every glyph with its position instead of
//! writing text. All layout decisions are made later, in `layout`.

use super::engine::{MediaBox, OutputDev, OutputError, Transform};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// One glyph in page space: origin `x`, baseline `y` (y grows downwards,
/// 0 at the top of the media box), advance width `w` and font size `size`,
/// all in points. Its text is `page.text[start..end]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Glyph {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub size: f32,
    pub start: u32,
    pub end: u32,
    /// Text runs upright (left to right on the page). Rotated and vertical
    /// glyphs are laid out separately in their own frame.
    pub upright: bool,
    /// Direction of the baseline in page space (y down), in hundredths of
    /// a degree, -18000..=18000: 9000 runs down the page (0 when upright).
    pub angle: i16,
}

/// The glyphs of one page, in content-stream order.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub glyphs: Vec<Glyph>,
    pub text: String,
}

/// When the work on a document must stop: the time budget's deadline, or
/// the caller gave up waiting (it sets `cancel`). Checked cooperatively by
/// every long loop of the PDF reader, so its thread ends soon after.
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    pub deadline: Instant,
    pub cancel: Arc<AtomicBool>,
}

impl Budget {
    pub fn spent(&self) -> bool {
        self.cancel.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }
}

/// Why collection stopped early.
pub(crate) const STOP_DEADLINE: &str = "time_budget";
pub(crate) const STOP_GLYPHS: &str = "glyphs";

/// Collects glyphs for one page at a time.
pub(crate) struct Collector {
    pub page: Page,
    flip: Transform,
    pub budget: Budget,
    /// Glyphs left before the collector refuses more (memory bound).
    pub glyph_budget: usize,
    pub stopped: Option<&'static str>,
    counter: u32,
}

impl Collector {
    pub fn new(budget: Budget, glyph_budget: usize) -> Self {
        Collector {
            page: Page::default(),
            flip: Transform::identity(),
            budget,
            glyph_budget,
            stopped: None,
            counter: 0,
        }
    }

    fn stop(&mut self, why: &'static str) -> OutputError {
        self.stopped = Some(why);
        OutputError::FormatError(std::fmt::Error)
    }
}

impl OutputDev for Collector {
    fn begin_page(
        &mut self,
        _page_num: u32,
        media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.page = Page::default();
        // Flip y so that it grows downwards from the top of the media box,
        // and move the origin to the media box's lower-left corner.
        self.flip = Transform::row_major(1., 0., 0., -1., -media_box.llx, media_box.ury);
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        text: &str,
    ) -> Result<(), OutputError> {
        self.counter = self.counter.wrapping_add(1);
        if self.counter.is_multiple_of(1024) && self.budget.spent() {
            return Err(self.stop(STOP_DEADLINE));
        }
        if self.glyph_budget == 0 {
            return Err(self.stop(STOP_GLYPHS));
        }
        let m = trm.post_transform(&self.flip);
        // Scale of the text space: the length of the transformed unit
        // vectors. The glyph's baseline direction is (m11, m12).
        let sx = (m.m11 * m.m11 + m.m12 * m.m12).sqrt();
        let sy = (m.m21 * m.m21 + m.m22 * m.m22).sqrt();
        let scale = (sx * sy).sqrt();
        let size = (font_size.abs() * scale) as f32;
        let (x, y) = (m.m31 as f32, m.m32 as f32);
        if !(x.is_finite() && y.is_finite() && size.is_finite()) || size <= 0.01 {
            return Ok(());
        }
        // Upright: baseline points right and the glyph is not mirrored.
        let upright = m.m11 > 0.0 && m.m12.abs() < 0.1 * m.m11 && m.m22 < 0.0;
        // Only rotated glyphs need their direction (atan2 is not free).
        let angle = if upright {
            0
        } else {
            (m.m12.atan2(m.m11).to_degrees() * 100.0).round() as i16
        };
        let w = (width * font_size.abs() * sx) as f32;
        let w = if w.is_finite() { w.max(0.0) } else { 0.0 };
        let start = self.page.text.len() as u32;
        for c in text.chars() {
            // Drop control characters and the replacement for unmapped codes
            // of broken fonts; keep the soft hyphen for hyphenation.
            if c.is_control() || matches!(c, '\u{FFFD}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}') {
                continue;
            }
            self.page.text.push(c);
        }
        let end = self.page.text.len() as u32;
        if end == start {
            return Ok(());
        }
        self.glyph_budget -= 1;
        self.page.glyphs.push(Glyph {
            x,
            y,
            w,
            size,
            start,
            end,
            upright,
            angle,
        });
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn should_stop(&mut self) -> bool {
        if self.budget.spent() {
            self.stopped = Some(STOP_DEADLINE);
            return true;
        }
        false
    }
}
