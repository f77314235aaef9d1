//! Drawing on an RGB picture: rectangles, anti-aliased lines and dots, and 8×8 bitmap text.

use super::{Picture, PixelFormat};

/// A colour: red, green, blue.
pub(super) type Rgb = [u8; 3];

/// Height and advance of one character, in pixels.
pub(super) const GLYPH: usize = 8;

/// An RGB picture being drawn on. Everything drawn is clipped to the picture.
pub(super) struct Canvas {
    picture: Picture,
}

impl Canvas {
    /// A canvas of one colour; the caller has checked the size.
    pub(super) fn new(width: usize, height: usize, background: Rgb) -> Self {
        Self {
            picture: Picture::filled(width, height, PixelFormat::Rgb, &background),
        }
    }

    pub(super) fn width(&self) -> usize {
        self.picture.width()
    }

    pub(super) fn height(&self) -> usize {
        self.picture.height()
    }

    pub(super) fn into_picture(self) -> Picture {
        self.picture
    }

    /// Fills the pixels `x0 ≤ x < x1`, `y0 ≤ y < y1`.
    pub(super) fn fill_rect(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, color: Rgb) {
        for y in y0..y1.min(self.height()) {
            for x in x0..x1.min(self.width()) {
                self.blend(x, y, color, 1.0);
            }
        }
    }

    /// Draws the outline, 1 pixel wide, of the rectangle `x0 ≤ x < x1`, `y0 ≤ y < y1`.
    pub(super) fn outline_rect(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, color: Rgb) {
        if x1 <= x0 || y1 <= y0 {
            return;
        }
        self.fill_rect(x0, y0, x1, y0 + 1, color);
        self.fill_rect(x0, y1 - 1, x1, y1, color);
        self.fill_rect(x0, y0, x0 + 1, y1, color);
        self.fill_rect(x1 - 1, y0, x1, y1, color);
    }

    /// Mixes `color` into the pixel `(x, y)` with opacity `alpha` in `[0, 1]`.
    fn blend(&mut self, x: usize, y: usize, color: Rgb, alpha: f64) {
        if let Some(pixel) = self.picture.pixel_mut(x, y) {
            for (p, c) in pixel.iter_mut().zip(color) {
                let mixed = f64::from(*p) * (1.0 - alpha) + f64::from(c) * alpha;
                *p = mixed.round().clamp(0.0, 255.0) as u8;
            }
        }
    }

    /// Paints `color` wherever `coverage` covers, with its opacity.
    pub(super) fn paint(&mut self, coverage: &Coverage, color: Rgb) {
        let [x0, y0, x1, y1] = coverage.clip;
        for y in y0..y1 {
            for x in x0..x1 {
                let alpha = coverage.alpha[coverage.index(x, y)];
                if alpha > 0.0 {
                    self.blend(x, y, color, f64::from(alpha));
                }
            }
        }
    }

    /// How many pixels with `x0 ≤ x < x1`, `y0 ≤ y < y1` are coloured rather than grey.
    pub(super) fn count_coloured(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> usize {
        let coloured = |p: &[u8]| {
            let (low, high) = p
                .iter()
                .fold((u8::MAX, 0), |(l, h), &c| (l.min(c), h.max(c)));
            high - low > 30
        };
        (y0..y1.min(self.height()))
            .flat_map(|y| (x0..x1.min(self.width())).map(move |x| (x, y)))
            .filter(|&(x, y)| self.picture.pixel(x, y).is_some_and(coloured))
            .count()
    }

    /// Writes `text` left to right with its top-left corner at `(x, y)`.
    pub(super) fn text(&mut self, x: usize, y: usize, text: &str, color: Rgb) {
        for (i, glyph) in text.chars().map(glyph).enumerate() {
            for (r, bits) in glyph.iter().enumerate() {
                for b in 0..GLYPH {
                    if bits >> b & 1 == 1 {
                        self.blend(x + i * GLYPH + b, y + r, color, 1.0);
                    }
                }
            }
        }
    }

    /// Writes `text` turned a quarter left (reading upwards), its box's bottom-left corner at
    /// `(x, y)`.
    pub(super) fn text_upwards(&mut self, x: usize, y: usize, text: &str, color: Rgb) {
        for (i, glyph) in text.chars().map(glyph).enumerate() {
            for (r, bits) in glyph.iter().enumerate() {
                for b in 0..GLYPH {
                    if bits >> b & 1 == 1
                        && let Some(row) = y.checked_sub(i * GLYPH + b)
                    {
                        self.blend(x + r, row, color, 1.0);
                    }
                }
            }
        }
    }
}

/// Width in pixels of `text` written with [`Canvas::text`].
pub(super) fn text_width(text: &str) -> usize {
    text.chars().count() * GLYPH
}

/// The 8×8 bitmap of `c` (bit `b` of row `r` is pixel column `b`); `?` outside ASCII.
fn glyph(c: char) -> [u8; 8] {
    let index = if c.is_ascii() {
        c as usize
    } else {
        '?' as usize
    };
    font8x8::legacy::BASIC_LEGACY
        .get(index)
        .copied()
        .unwrap_or_default()
}

/// How much of each pixel of a clip rectangle the shapes drawn so far cover, from 0 to 1.
///
/// Overlapping shapes take the larger coverage, so a polyline's joints are not painted twice.
pub(super) struct Coverage {
    /// `x0 ≤ x < x1`, `y0 ≤ y < y1`, in canvas pixels.
    clip: [usize; 4],
    /// Row-major over the clip rectangle.
    alpha: Vec<f32>,
}

impl Coverage {
    /// Nothing covered; shapes reach only pixels with `x0 ≤ x < x1`, `y0 ≤ y < y1`.
    pub(super) fn new(clip: [usize; 4]) -> Self {
        let [x0, y0, x1, y1] = clip;
        let clip = [x0, y0, x1.max(x0), y1.max(y0)];
        Self {
            clip,
            alpha: vec![0.0; (clip[2] - x0) * (clip[3] - y0)],
        }
    }

    fn index(&self, x: usize, y: usize) -> usize {
        (y - self.clip[1]) * (self.clip[2] - self.clip[0]) + (x - self.clip[0])
    }

    /// Covers the points within `radius` of the segment from `a` to `b` (pixel `(x, y)` spans
    /// `[x, x + 1) × [y, y + 1)`), with edges smoothed over one pixel.
    pub(super) fn segment(&mut self, a: (f64, f64), b: (f64, f64), radius: f64) {
        if ![a.0, a.1, b.0, b.1, radius].iter().all(|v| v.is_finite()) {
            return;
        }
        let reach = radius + 1.0;
        let [x0, y0, x1, y1] = self.clip;
        let columns = clip_range(a.0.min(b.0) - reach, a.0.max(b.0) + reach, x0, x1);
        let rows = clip_range(a.1.min(b.1) - reach, a.1.max(b.1) + reach, y0, y1);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let length_squared = dx * dx + dy * dy;
        for y in rows {
            for x in columns.clone() {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let t = if length_squared > 0.0 {
                    (((px - a.0) * dx + (py - a.1) * dy) / length_squared).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let distance = (px - a.0 - t * dx).hypot(py - a.1 - t * dy);
                let cover = (radius + 0.5 - distance).clamp(0.0, 1.0) as f32;
                let index = self.index(x, y);
                let cell = &mut self.alpha[index];
                *cell = cell.max(cover);
            }
        }
    }

    /// Covers the disc of `radius` around `centre`.
    pub(super) fn dot(&mut self, centre: (f64, f64), radius: f64) {
        self.segment(centre, centre, radius);
    }
}

/// The whole pixels from `low` to `high` (floored), within `min..max`.
fn clip_range(low: f64, high: f64, min: usize, max: usize) -> std::ops::Range<usize> {
    // Float-to-integer casts saturate, so huge or negative coordinates land on the clip edges.
    let low = (low.floor().max(0.0) as usize).max(min);
    let high = ((high.floor().max(0.0) as usize).saturating_add(1)).min(max);
    low..high.max(low)
}
