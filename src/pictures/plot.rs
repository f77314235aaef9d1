//! Line plots of per-epoch series, such as the losses in a training [`History`].

use super::Picture;
use super::canvas::{Canvas, Coverage, GLYPH, Rgb, text_width};
use crate::validate::check_param;
use crate::{Error, History, Result};

/// The colours of the plotted series, in order (repeating after the last): blue, orange,
/// green, red, purple, brown (matplotlib's first six, the first six of [`CLASS_PALETTE`]).
pub const PALETTE: [[u8; 3]; 6] = [
    CLASS_PALETTE[0],
    CLASS_PALETTE[1],
    CLASS_PALETTE[2],
    CLASS_PALETTE[3],
    CLASS_PALETTE[4],
    CLASS_PALETTE[5],
];

/// The colours of the classes of a scatter plot ([`LinePlot::render_scatter`]), class `c` in
/// colour `c % 10`: matplotlib's ten "tab10" colours.
pub const CLASS_PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

const BACKGROUND: Rgb = [255, 255, 255];
const INK: Rgb = [40, 40, 40];
const FRAME: Rgb = [90, 90, 90];
const GRID: Rgb = [228, 228, 228];
const LEGEND_BORDER: Rgb = [190, 190, 190];
/// Space around the plot and between its parts, in pixels.
const PAD: usize = 10;
const TICK: usize = 5;
/// Half the width of a plotted line.
const LINE_RADIUS: f64 = 1.0;
/// Radius of the dot on every point, drawn while there are at most [`MAX_DOTS`] points.
const DOT_RADIUS: f64 = 2.5;
const MAX_DOTS: usize = 60;
/// Radius of a scatter plot's dots.
const SCATTER_RADIUS: f64 = 1.5;
const MIN_WIDTH: usize = 240;
const MIN_HEIGHT: usize = 160;
/// The largest width or height of a plot; a line plot gains nothing from more.
const MAX_PLOT_SIDE: usize = 4096;
/// Length of a series' line sample in the legend.
const LEGEND_SAMPLE: usize = 22;
/// Height of one legend entry.
const LEGEND_ROW: usize = GLYPH + 6;

/// A line plot of series over epochs 1, 2, …: axes with tick marks and labels, light grid
/// lines, a legend, an optional title.
///
/// Each series is drawn in the next colour of [`PALETTE`] as a 2-pixel line through its points,
/// with a dot on each point while a series has at most 60. The axes span the data with a small
/// margin; the legend goes to the corner of the plot where it hides the fewest curve pixels.
/// Text uses an 8×8 bitmap font (ASCII; other characters show as `?`).
///
/// Defaults: 800 × 500 pixels, no title, x label `"epoch"`, y label `"loss"`.
///
/// ```
/// use autoencoders::pictures::LinePlot;
/// let plot = LinePlot::default().with_title("two curves").with_y_label("error");
/// let picture = plot.render(&[("falling", vec![3.0, 2.0, 1.5]), ("flat", vec![1.0; 3])])?;
/// assert_eq!((picture.width(), picture.height()), (800, 500));
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinePlot {
    width: usize,
    height: usize,
    title: String,
    x_label: String,
    y_label: String,
}

impl Default for LinePlot {
    fn default() -> Self {
        Self {
            width: 800,
            height: 500,
            title: String::new(),
            x_label: "epoch".to_owned(),
            y_label: "loss".to_owned(),
        }
    }
}

impl LinePlot {
    /// The picture's size in pixels.
    pub fn with_size(mut self, width: usize, height: usize) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// A title above the plot; empty for none.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// The label under the horizontal axis; empty for none.
    pub fn with_x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    /// The label beside the vertical axis; empty for none.
    pub fn with_y_label(mut self, label: impl Into<String>) -> Self {
        self.y_label = label.into();
        self
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The horizontal axis' label.
    pub fn x_label(&self) -> &str {
        &self.x_label
    }

    /// The vertical axis' label.
    pub fn y_label(&self) -> &str {
        &self.y_label
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for a width outside 240 … 4096 pixels or a height
    /// outside 160 … 4096.
    pub fn validate(&self) -> Result<()> {
        check_param(
            "width",
            self.width as f64,
            (MIN_WIDTH..=MAX_PLOT_SIDE).contains(&self.width),
            "between 240 and 4096 pixels",
        )?;
        check_param(
            "height",
            self.height as f64,
            (MIN_HEIGHT..=MAX_PLOT_SIDE).contains(&self.height),
            "between 160 and 4096 pixels",
        )
    }

    /// Plots named series, value `i` (from 0) of each at epoch `i + 1`.
    ///
    /// Series may differ in length.
    ///
    /// ```
    /// use autoencoders::pictures::LinePlot;
    /// let losses = vec![("train".to_string(), vec![0.9, 0.5, 0.4])];
    /// let picture = LinePlot::default().render(&losses)?;
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`validate`](Self::validate)'s errors; [`Error::EmptyData`] for no series or an empty
    /// one; [`Error::NonFiniteSeries`] for a NaN or infinite value.
    pub fn render<S, V>(&self, series: &[(S, V)]) -> Result<Picture>
    where
        S: AsRef<str>,
        V: AsRef<[f64]>,
    {
        let curves = series
            .iter()
            .map(|(name, values)| {
                Curve::new(
                    name.as_ref(),
                    values
                        .as_ref()
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| ((i + 1) as f64, v)),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        self.draw(&curves)
    }

    /// Plots the losses of `history` per epoch: the training objective (only when some epoch
    /// had a non-zero penalty; otherwise it equals the reconstruction loss), the training
    /// reconstruction loss, and the validation reconstruction loss of the epochs that have one.
    ///
    /// # Errors
    /// [`validate`](Self::validate)'s errors; [`Error::EmptyData`] for a history without
    /// epochs; [`Error::NonFiniteSeries`] for a NaN or infinite loss.
    pub fn render_history(&self, history: &History) -> Result<Picture> {
        let epochs = &history.epochs;
        let at_epoch = |f: fn(&crate::EpochReport) -> Option<f64>| {
            epochs
                .iter()
                .filter_map(move |r| f(r).map(|v| ((r.epoch + 1) as f64, v)))
        };
        let mut curves = Vec::new();
        if epochs.iter().any(|r| r.penalty != 0.0) {
            curves.push(Curve::new(
                "train objective",
                at_epoch(|r| Some(r.objective)),
            )?);
        }
        curves.push(Curve::new(
            "train reconstruction",
            at_epoch(|r| Some(r.reconstruction_loss)),
        )?);
        if epochs.iter().any(|r| r.validation_loss.is_some()) {
            curves.push(Curve::new(
                "validation reconstruction",
                at_epoch(|r| r.validation_loss),
            )?);
        }
        self.draw(&curves)
    }

    fn draw(&self, curves: &[Curve<'_>]) -> Result<Picture> {
        self.validate()?;
        if curves.is_empty() {
            return Err(Error::EmptyData { what: "series" });
        }
        let points = || curves.iter().flat_map(|c| c.points.iter().copied());
        let x_range = padded_range(points().map(|p| p.0), 0.02, |_| 0.5);
        let y_range = padded_range(points().map(|p| p.1), 0.05, |v| {
            if v == 0.0 { 1.0 } else { 0.1 * v.abs() }
        });
        let (mut canvas, area) = self.frame(x_range, y_range, 1.0);
        for (curve, color) in curves.iter().zip(PALETTE.iter().cycle()) {
            canvas.paint(&area.cover(curve), *color);
        }
        let entries: Vec<LegendEntry<'_>> = curves
            .iter()
            .zip(PALETTE.iter().cycle())
            .map(|(curve, &color)| LegendEntry {
                name: curve.name,
                color,
                line: true,
                dot: curve.points.len() <= MAX_DOTS,
            })
            .collect();
        draw_legend(&mut canvas, &area, &entries);
        Ok(canvas.into_picture())
    }

    /// A scatter plot of `points` coloured by class: a dot per point in
    /// [`CLASS_PALETTE`]`[label % 10]`, with the plot's title and axis labels, and a legend of
    /// the classes present (in the corner that hides the fewest dots). For the 2-D codes of a
    /// variational autoencoder coloured by digit, for example.
    ///
    /// ```
    /// use autoencoders::pictures::LinePlot;
    /// let points = [(0.0, 0.0), (1.0, 2.0), (-1.0, 0.5)];
    /// let picture = LinePlot::default()
    ///     .with_x_label("z1")
    ///     .with_y_label("z2")
    ///     .render_scatter(&points, &[0, 1, 1])?;
    /// assert_eq!(picture.width(), 800);
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`validate`](Self::validate)'s errors; [`Error::EmptyData`] for no points;
    /// [`Error::DimensionMismatch`] unless there is one label per point;
    /// [`Error::NonFiniteSeries`] (series `"points"`) for a NaN or infinite coordinate.
    pub fn render_scatter(&self, points: &[(f64, f64)], labels: &[usize]) -> Result<Picture> {
        self.validate()?;
        if points.is_empty() {
            return Err(Error::EmptyData { what: "points" });
        }
        if labels.len() != points.len() {
            return Err(Error::DimensionMismatch {
                what: "labels of a scatter plot (one per point)",
                expected: points.len(),
                found: labels.len(),
            });
        }
        if let Some(index) = points
            .iter()
            .position(|(x, y)| !(x.is_finite() && y.is_finite()))
        {
            return Err(Error::NonFiniteSeries {
                series: "points".to_owned(),
                index,
            });
        }
        let flat = |v: f64| if v == 0.0 { 1.0 } else { 0.1 * v.abs() };
        let x_range = padded_range(points.iter().map(|p| p.0), 0.04, flat);
        let y_range = padded_range(points.iter().map(|p| p.1), 0.04, flat);
        let (mut canvas, area) = self.frame(x_range, y_range, 0.0);
        let mut present = [false; CLASS_PALETTE.len()];
        for (class, color) in CLASS_PALETTE.iter().enumerate() {
            let mut coverage = Coverage::new([area.left, area.top, area.right, area.bottom]);
            for (&(x, y), _) in points
                .iter()
                .zip(labels)
                .filter(|&(_, &l)| l % CLASS_PALETTE.len() == class)
            {
                coverage.dot((area.x(x), area.y(y)), SCATTER_RADIUS);
                present[class] = true;
            }
            canvas.paint(&coverage, *color);
        }
        let names: Vec<String> = (0..CLASS_PALETTE.len()).map(|c| c.to_string()).collect();
        let entries: Vec<LegendEntry<'_>> = (0..CLASS_PALETTE.len())
            .filter(|&c| present[c])
            .map(|c| LegendEntry {
                name: &names[c],
                color: CLASS_PALETTE[c],
                line: false,
                dot: true,
            })
            .collect();
        draw_legend(&mut canvas, &area, &entries);
        Ok(canvas.into_picture())
    }

    /// The canvas with the axes, ticks, grid, labels and title drawn for the data ranges, and
    /// the plotting area inside them; ticks on the x axis are at least `x_min_step` apart.
    fn frame(&self, x_range: (f64, f64), y_range: (f64, f64), x_min_step: f64) -> (Canvas, Area) {
        let x_ticks = ticks(x_range, 8, x_min_step);
        let y_ticks = ticks(y_range, 6, 0.0);
        let y_labels: Vec<String> = y_ticks.iter().map(|&v| tick_label(v, &y_ticks)).collect();
        let x_labels: Vec<String> = x_ticks.iter().map(|&v| tick_label(v, &x_ticks)).collect();

        let label_width = y_labels.iter().map(|l| text_width(l)).max().unwrap_or(0);
        let band = |text: &str| if text.is_empty() { 0 } else { GLYPH + PAD };
        let left = PAD + band(&self.y_label) + label_width + TICK + 4;
        let top = PAD + band(&self.title) + PAD / 2;
        let right = self.width.saturating_sub(2 * PAD).max(left + 1);
        let bottom = self
            .height
            .saturating_sub(PAD + band(&self.x_label) + GLYPH + TICK + 4)
            .max(top + 1);
        let area = Area {
            left,
            top,
            right,
            bottom,
            x_range,
            y_range,
        };

        let mut canvas = Canvas::new(self.width, self.height, BACKGROUND);
        for &x in &x_ticks {
            let px = area.x(x).round() as usize;
            canvas.fill_rect(px, top, px + 1, bottom, GRID);
        }
        for &y in &y_ticks {
            let py = area.y(y).round() as usize;
            canvas.fill_rect(left, py, right, py + 1, GRID);
        }

        canvas.outline_rect(left - 1, top - 1, right + 1, bottom + 1, FRAME);

        for (&x, label) in x_ticks.iter().zip(&x_labels) {
            let px = area.x(x).round() as usize;
            canvas.fill_rect(px, bottom + 1, px + 1, bottom + 1 + TICK, FRAME);
            let half = text_width(label) / 2;
            canvas.text(px.saturating_sub(half), bottom + TICK + 4, label, INK);
        }
        for (&y, label) in y_ticks.iter().zip(&y_labels) {
            let py = area.y(y).round() as usize;
            canvas.fill_rect(left - 1 - TICK, py, left - 1, py + 1, FRAME);
            let x = (left - TICK - 4).saturating_sub(text_width(label));
            canvas.text(x, py.saturating_sub(GLYPH / 2), label, INK);
        }
        let centre =
            |from: usize, to: usize, text: &str| (from + to).saturating_sub(text_width(text)) / 2;
        if !self.x_label.is_empty() {
            let y = self.height - PAD - GLYPH;
            canvas.text(centre(left, right, &self.x_label), y, &self.x_label, INK);
        }
        if !self.y_label.is_empty() {
            let up = (top + bottom + text_width(&self.y_label)) / 2;
            canvas.text_upwards(PAD, up, &self.y_label, INK);
        }
        if !self.title.is_empty() {
            canvas.text(centre(left, right, &self.title), PAD, &self.title, INK);
        }
        (canvas, area)
    }
}

/// Plots the per-epoch losses of a training run with [`LinePlot`]'s defaults and the title
/// "loss per epoch"; see [`LinePlot::render_history`] for the curves drawn.
///
/// ```
/// use autoencoders::pictures::loss_curves;
/// use autoencoders::{Adam, DenseBuilder, TrainingConfig};
/// use nalgebra::DMatrix;
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let mut rng = ChaCha8Rng::seed_from_u64(1);
/// let x = DMatrix::from_fn(64, 4, |i, j| ((i * 7 + j * 3) % 5) as f64 / 4.0);
/// let mut model = DenseBuilder::new(4, 2).build::<f64, _>(&mut rng)?;
/// let config = TrainingConfig::default().with_epochs(5);
/// let history = model.fit(&x, &config, &mut Adam::new(1e-2)?, &mut rng)?;
/// let picture = loss_curves(&history)?;
/// assert_eq!(picture.width(), 800);
/// # Ok::<(), autoencoders::Error>(())
/// ```
///
/// # Errors
/// As [`LinePlot::render_history`].
pub fn loss_curves(history: &History) -> Result<Picture> {
    LinePlot::default()
        .with_title("loss per epoch")
        .render_history(history)
}

/// A named series of checked `(x, y)` points.
struct Curve<'a> {
    name: &'a str,
    points: Vec<(f64, f64)>,
}

impl<'a> Curve<'a> {
    /// Collects the points, rejecting an empty series or a non-finite value.
    fn new(name: &'a str, points: impl Iterator<Item = (f64, f64)>) -> Result<Self> {
        let points: Vec<(f64, f64)> = points.collect();
        if points.is_empty() {
            return Err(Error::EmptyData { what: "a series" });
        }
        if let Some(index) = points.iter().position(|p| !p.1.is_finite()) {
            return Err(Error::NonFiniteSeries {
                series: name.to_owned(),
                index,
            });
        }
        Ok(Self { name, points })
    }
}

/// The plotting area `left ≤ x < right`, `top ≤ y < bottom` in pixels, and the data ranges it
/// shows.
struct Area {
    left: usize,
    top: usize,
    right: usize,
    bottom: usize,
    x_range: (f64, f64),
    y_range: (f64, f64),
}

impl Area {
    /// Horizontal pixel coordinate of `x`.
    fn x(&self, x: f64) -> f64 {
        let (low, high) = self.x_range;
        self.left as f64 + (x - low) / (high - low) * (self.right - self.left) as f64
    }

    /// Vertical pixel coordinate of `y`, upwards.
    fn y(&self, y: f64) -> f64 {
        let (low, high) = self.y_range;
        self.bottom as f64 - (y - low) / (high - low) * (self.bottom - self.top) as f64
    }

    /// The pixels `curve`'s line and dots cover, clipped to the area.
    fn cover(&self, curve: &Curve<'_>) -> Coverage {
        let mut coverage = Coverage::new([self.left, self.top, self.right, self.bottom]);
        let pixels: Vec<(f64, f64)> = curve
            .points
            .iter()
            .map(|&(x, y)| (self.x(x), self.y(y)))
            .collect();
        for pair in pixels.windows(2) {
            coverage.segment(pair[0], pair[1], LINE_RADIUS);
        }
        if pixels.len() <= MAX_DOTS {
            for &p in &pixels {
                coverage.dot(p, DOT_RADIUS);
            }
        }
        coverage
    }
}

/// One line of a legend: a sample (a line, a dot or both) in `color`, then `name`.
struct LegendEntry<'a> {
    name: &'a str,
    color: Rgb,
    line: bool,
    dot: bool,
}

/// Draws the legend in the corner of `area` where it covers the least of what is plotted (the
/// only coloured pixels there).
fn draw_legend(canvas: &mut Canvas, area: &Area, entries: &[LegendEntry<'_>]) {
    let names = entries
        .iter()
        .map(|e| text_width(e.name))
        .max()
        .unwrap_or(0);
    let width = PAD + LEGEND_SAMPLE + PAD / 2 + names + PAD;
    let height = PAD / 2 + entries.len() * LEGEND_ROW + PAD / 2;
    let inset = PAD;
    let corners = [
        (area.right.saturating_sub(width + inset), area.top + inset),
        (
            area.right.saturating_sub(width + inset),
            area.bottom.saturating_sub(height + inset),
        ),
        (area.left + inset, area.top + inset),
        (
            area.left + inset,
            area.bottom.saturating_sub(height + inset),
        ),
    ];
    let Some((x0, y0)) = corners
        .iter()
        .copied()
        .min_by_key(|&(x, y)| canvas.count_coloured(x, y, x + width, y + height))
    else {
        return;
    };
    canvas.fill_rect(x0, y0, x0 + width, y0 + height, BACKGROUND);
    canvas.outline_rect(x0, y0, x0 + width, y0 + height, LEGEND_BORDER);
    for (i, entry) in entries.iter().enumerate() {
        let top = y0 + PAD / 2 + i * LEGEND_ROW;
        let middle = (top + LEGEND_ROW / 2) as f64;
        let (from, to) = (x0 + PAD, x0 + PAD + LEGEND_SAMPLE);
        let mut sample = Coverage::new([from - 1, top, to + 1, top + LEGEND_ROW]);
        if entry.line {
            sample.segment((from as f64, middle), (to as f64, middle), LINE_RADIUS);
        }
        if entry.dot {
            sample.dot(((from + to) as f64 / 2.0, middle), DOT_RADIUS);
        }
        canvas.paint(&sample, entry.color);
        let text_x = to + PAD / 2;
        canvas.text(text_x, top + (LEGEND_ROW - GLYPH) / 2, entry.name, INK);
    }
}

/// The smallest and largest of `values`, widened by `fraction` of their span on each side, or
/// by `flat(value)` when all are equal.
fn padded_range(
    values: impl Iterator<Item = f64>,
    fraction: f64,
    flat: impl Fn(f64) -> f64,
) -> (f64, f64) {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let span = high - low;
    let pad = if span > 0.0 {
        span * fraction
    } else {
        flat(low)
    };
    (low - pad, high + pad)
}

/// Round values between `range.0` and `range.1`, `1`, `2` or `5` times a power of ten apart
/// and at least `min_step` apart, as close to `target` of them as such steps allow. None for a
/// range without a finite span.
fn ticks(range: (f64, f64), target: usize, min_step: f64) -> Vec<f64> {
    let span = range.1 - range.0;
    if !(span.is_finite() && span > 0.0) || target == 0 {
        return Vec::new();
    }
    // Casts saturate, and the count is only compared, so no range can make this loop long.
    let count = |step: f64| ((range.1 / step).floor() - (range.0 / step).ceil() + 1.0).max(0.0);
    let magnitude = 10_f64.powf((span / target as f64).log10().floor());
    let Some(step) = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
        .iter()
        .map(|m| m * magnitude)
        .filter(|&step| step >= min_step && count(step) >= 1.0)
        .min_by(|&a, &b| {
            let miss = |step: f64| (count(step) - target as f64).abs();
            miss(a).total_cmp(&miss(b)).then(b.total_cmp(&a))
        })
    else {
        return Vec::new();
    };
    let first = (range.0 / step).ceil() as i64;
    let last = (range.1 / step).floor() as i64;
    (first..=last)
        .take(4 * target + 1)
        .map(|k| k as f64 * step)
        .collect()
}

/// `value` written with as many decimals as the spacing of `ticks` needs.
fn tick_label(value: f64, ticks: &[f64]) -> String {
    let step = match ticks {
        [a, b, ..] => b - a,
        _ => value.abs(),
    };
    if value.abs() >= 1e7 || (step > 0.0 && step < 1e-6) {
        return format!("{value:.1e}");
    }
    let decimals = if step > 0.0 {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        0
    };
    // Snap values that should be zero, so the label does not read "-0.0".
    let value = if value.abs() < step * 1e-6 {
        0.0
    } else {
        value
    };
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers_inside_the_range() {
        assert_eq!(ticks((0.0, 10.0), 5, 0.0), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks((0.8, 3.2), 8, 1.0), [1.0, 2.0, 3.0]);
        assert_eq!(
            ticks((103.0, 232.0), 6, 0.0),
            [120.0, 140.0, 160.0, 180.0, 200.0, 220.0]
        );
        assert_eq!(ticks((0.5, 1.5), 8, 1.0), [1.0]);
        let small = ticks((0.0312, 0.0871), 6, 0.0);
        assert_eq!(small.len(), 5);
        approx::assert_relative_eq!(small[0], 0.04);
        assert!(ticks((1.0, 1.0), 5, 0.0).is_empty());
        assert!(ticks((-f64::MAX, f64::MAX), 5, 0.0).is_empty());
        assert!(ticks((f64::NAN, 1.0), 5, 0.0).is_empty());
    }

    #[test]
    fn labels_carry_the_decimals_the_step_needs() {
        let t = [0.0, 0.05, 0.1];
        let labels: Vec<String> = t.iter().map(|&v| tick_label(v, &t)).collect();
        assert_eq!(labels, ["0.00", "0.05", "0.10"]);
        assert_eq!(tick_label(200.0, &[100.0, 200.0]), "200");
        assert_eq!(tick_label(-1e-17, &[-0.5, 0.0, 0.5]), "0.0");
        assert_eq!(tick_label(3e9, &[1e9, 2e9]), "3.0e9");
    }

    #[test]
    fn flat_data_get_a_visible_range() {
        let flat = |v: f64| if v == 0.0 { 1.0 } else { 0.5 * v.abs() };
        assert_eq!(padded_range([2.0, 2.0].into_iter(), 0.05, flat), (1.0, 3.0));
        assert_eq!(padded_range([0.0].into_iter(), 0.05, flat), (-1.0, 1.0));
        assert_eq!(
            padded_range([0.0, 10.0].into_iter(), 0.05, flat),
            (-0.5, 10.5)
        );
    }
}
