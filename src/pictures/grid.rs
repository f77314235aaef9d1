//! Grids of tiles: learned filters, and inputs above their reconstructions.

use super::{Picture, PixelFormat, check_size};
use crate::validate::check_nonzero;
use crate::{Error, Result, Scalar};
use nalgebra::DMatrix;

/// Grey level of the borders between filters: black, as in `display_network`.
const FILTER_BACKGROUND: u8 = 0;
/// Grey level of the borders between digits: mid-grey, so a black digit background stays apart.
const RECONSTRUCTION_BACKGROUND: u8 = 96;
/// Extra rows of background between one pair of rows (inputs, reconstructions) and the next.
const PAIR_GAP: usize = 3;
/// Columns of a reconstruction grid when none are given.
const DEFAULT_RECONSTRUCTION_COLUMNS: usize = 10;

/// How rows of a matrix are laid out as tiles in a picture.
///
/// Each row of `height · width` values becomes one `height × width` tile, the row read in
/// row-major order (value `r · width + c` is pixel row `r`, column `c`), which is how the bundled
/// digits store their 28×28 pixels. Tiles sit in a grid with a 1-pixel border around and
/// between them.
///
/// Defaults: columns chosen by the picture (see [`filter_grid`] and [`reconstruction_grid`]);
/// scale 1 (one pixel per value).
///
/// ```
/// use autoencoders::pictures::TileGrid;
/// let grid = TileGrid::new(28, 28).with_columns(10).with_scale(3);
/// assert_eq!((grid.height(), grid.width(), grid.columns(), grid.scale()), (28, 28, Some(10), 3));
/// assert!(TileGrid::new(28, 0).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileGrid {
    height: usize,
    width: usize,
    columns: Option<usize>,
    scale: usize,
}

impl TileGrid {
    /// Tiles of `height × width` pixels (before scaling).
    pub fn new(height: usize, width: usize) -> Self {
        Self {
            height,
            width,
            columns: None,
            scale: 1,
        }
    }

    /// Tiles per row of the grid (at most the number of tiles is used).
    pub fn with_columns(mut self, columns: usize) -> Self {
        self.columns = Some(columns);
        self
    }

    /// Draws every value as a `scale × scale` block of pixels; the borders stay 1 pixel wide.
    pub fn with_scale(mut self, scale: usize) -> Self {
        self.scale = scale;
        self
    }

    /// Tile height, in values.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Tile width, in values.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Tiles per row, if chosen.
    pub fn columns(&self) -> Option<usize> {
        self.columns
    }

    /// Pixels per value along each side.
    pub fn scale(&self) -> usize {
        self.scale
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for a zero height, width, column count or scale.
    pub fn validate(&self) -> Result<()> {
        check_nonzero(self.height, "tile height")?;
        check_nonzero(self.width, "tile width")?;
        check_nonzero(self.columns.unwrap_or(1), "columns")?;
        check_nonzero(self.scale, "scale")
    }

    /// Checks the settings and that rows of `input_dim` values fill a tile.
    fn check(&self, input_dim: usize) -> Result<()> {
        self.validate()?;
        if self.height.checked_mul(self.width) != Some(input_dim) {
            return Err(Error::TileShape {
                height: self.height,
                width: self.width,
                input_dim,
            });
        }
        Ok(())
    }

    /// Pixels from one tile's left edge to the next one's.
    fn pitch_x(&self) -> usize {
        self.width.saturating_mul(self.scale).saturating_add(1)
    }

    /// Pixels from one tile's top edge to the next one's.
    fn pitch_y(&self) -> usize {
        self.height.saturating_mul(self.scale).saturating_add(1)
    }

    /// Draws `row` (already mapped to grey levels) as the tile whose top-left pixel is `(x, y)`.
    fn draw_tile(&self, picture: &mut Picture, x: usize, y: usize, row: impl Fn(usize) -> u8) {
        for r in 0..self.height * self.scale {
            for c in 0..self.width * self.scale {
                let value = row((r / self.scale) * self.width + c / self.scale);
                if let Some(pixel) = picture.pixel_mut(x + c, y + r) {
                    pixel.fill(value);
                }
            }
        }
    }
}

/// Draws each row of `weights` as a tile: the filters an encoder learned.
///
/// Each tile is normalised on its own, so that every filter shows its full contrast: its mean
/// is subtracted, the result divided by its largest absolute value, and `[-1, 1]` mapped to
/// black … white, so zero (after centring) is mid-grey. A tile whose values are all equal is
/// uniform mid-grey. This is the per-tile scaling of the UFLDL tutorial's `display_network`
/// (which subtracts the mean of the whole matrix instead of each tile's; the two agree when
/// the filters have similar means). Tiles are laid out row by row with a 1-pixel black border
/// around and between them; grid cells past the last filter stay black.
///
/// Without [`TileGrid::with_columns`], the grid is near-square as in `display_network`:
/// `⌈√code_dim⌉` columns, widened (up to `1.2·√code_dim`) until they divide `code_dim`, so 100
/// filters make 10 × 10 and 64 make 8 × 8.
///
/// # Shapes
/// `weights` is `code_dim × input_dim` (as [`DenseEncoder::weights`](crate::DenseEncoder::weights)),
/// with `input_dim = height · width` of the grid's tiles.
///
/// # Errors
/// [`Error::ZeroDimension`] from [`TileGrid::validate`]; [`Error::EmptyData`] for no rows;
/// [`Error::TileShape`] when a row does not fill a tile; [`Error::NonFiniteData`] for NaN or ∞;
/// [`Error::PictureTooLarge`] when a side would exceed [`MAX_SIDE`](super::MAX_SIDE) pixels.
pub fn filter_grid<T: Scalar>(weights: &DMatrix<T>, grid: &TileGrid) -> Result<Picture> {
    grid.check(weights.ncols())?;
    check_rows(weights, "weights")?;
    let (columns, width, height) = grid.square_layout(weights.nrows())?;

    let mut picture = Picture::filled(width, height, PixelFormat::Gray, &[FILTER_BACKGROUND]);
    let mut tile = vec![0.0; weights.ncols()];
    for (k, row) in weights.row_iter().enumerate() {
        for (t, w) in tile.iter_mut().zip(row.iter()) {
            *t = w.as_f64();
        }
        normalise_tile(&mut tile);
        let (x, y) = (
            1 + (k % columns) * grid.pitch_x(),
            1 + (k / columns) * grid.pitch_y(),
        );
        grid.draw_tile(&mut picture, x, y, |i| grey_from_signed(tile[i]));
    }
    Ok(picture)
}

/// Draws inputs above their reconstructions: a row of input tiles, below it the same
/// samples' reconstructions, and so on for the next row of samples.
///
/// Values are clipped to `[0, 1]` and drawn from black (0) to white (1), which suits inputs in
/// `[0, 1]` such as the bundled digits; anything outside shows as black or white. Tiles have
/// a 1-pixel mid-grey border around and between them, and pairs of rows are set 3 pixels
/// further apart. Without [`TileGrid::with_columns`], rows hold 10 samples (or all of them,
/// if fewer).
///
/// # Shapes
/// `originals` and `reconstructions` are both `n × input_dim`, with `input_dim = height ·
/// width` of the grid's tiles.
///
/// # Errors
/// [`Error::ZeroDimension`] from [`TileGrid::validate`]; [`Error::EmptyData`] for no rows;
/// [`Error::DimensionMismatch`] when the two matrices differ in shape; [`Error::TileShape`];
/// [`Error::NonFiniteData`] for NaN or ∞; [`Error::PictureTooLarge`].
pub fn reconstruction_grid<T: Scalar>(
    originals: &DMatrix<T>,
    reconstructions: &DMatrix<T>,
    grid: &TileGrid,
) -> Result<Picture> {
    let shape_mismatch = |what, expected, found| Error::DimensionMismatch {
        what,
        expected,
        found,
    };
    if reconstructions.nrows() != originals.nrows() {
        return Err(shape_mismatch(
            "rows of the reconstructions",
            originals.nrows(),
            reconstructions.nrows(),
        ));
    }
    if reconstructions.ncols() != originals.ncols() {
        return Err(shape_mismatch(
            "columns of the reconstructions",
            originals.ncols(),
            reconstructions.ncols(),
        ));
    }
    grid.check(originals.ncols())?;
    check_rows(originals, "originals")?;
    check_rows(reconstructions, "reconstructions")?;

    let n = originals.nrows();
    let columns = grid
        .columns
        .unwrap_or(DEFAULT_RECONSTRUCTION_COLUMNS)
        .min(n);
    let pairs = n.div_ceil(columns);
    let pair_pitch = grid.pitch_y().saturating_mul(2).saturating_add(PAIR_GAP);
    let width = grid.pitch_x().saturating_mul(columns).saturating_add(1);
    let height = pair_pitch
        .saturating_mul(pairs)
        .saturating_add(1)
        .saturating_sub(PAIR_GAP);
    check_size(width, height)?;

    let mut picture = Picture::filled(
        width,
        height,
        PixelFormat::Gray,
        &[RECONSTRUCTION_BACKGROUND],
    );
    for k in 0..n {
        let x = 1 + (k % columns) * grid.pitch_x();
        let y = 1 + (k / columns) * pair_pitch;
        for (matrix, y) in [(originals, y), (reconstructions, y + grid.pitch_y())] {
            let row = matrix.row(k);
            grid.draw_tile(&mut picture, x, y, |i| grey_from_unit(row[i].as_f64()));
        }
    }
    Ok(picture)
}

/// Draws each row of `images` as one tile, row by row: samples of a generative model, or a
/// manifold of decoded latent points laid out on a grid.
///
/// Values are clipped to `[0, 1]` and drawn from black (0) to white (1), as in
/// [`reconstruction_grid`], with a 1-pixel mid-grey border around and between the tiles.
/// Without [`TileGrid::with_columns`], the grid is near-square, as in [`filter_grid`].
///
/// # Shapes
/// `images` is `n × (height · width)` of the grid's tiles.
///
/// # Errors
/// As [`filter_grid`].
pub fn image_grid<T: Scalar>(images: &DMatrix<T>, grid: &TileGrid) -> Result<Picture> {
    grid.check(images.ncols())?;
    check_rows(images, "images")?;
    let (columns, width, height) = grid.square_layout(images.nrows())?;
    let mut picture = Picture::filled(
        width,
        height,
        PixelFormat::Gray,
        &[RECONSTRUCTION_BACKGROUND],
    );
    for k in 0..images.nrows() {
        let (x, y) = (
            1 + (k % columns) * grid.pitch_x(),
            1 + (k / columns) * grid.pitch_y(),
        );
        let row = images.row(k);
        grid.draw_tile(&mut picture, x, y, |i| grey_from_unit(row[i].as_f64()));
    }
    Ok(picture)
}

/// Checks that `x` has rows and only finite values.
fn check_rows<T: Scalar>(x: &DMatrix<T>, what: &'static str) -> Result<()> {
    crate::validate::check_data(x, x.ncols(), what)
}

impl TileGrid {
    /// The columns, width and height of a grid of `tiles` tiles, near-square (see
    /// [`filter_grid`]) unless the grid sets its columns.
    ///
    /// # Errors
    /// [`Error::PictureTooLarge`] when a side would exceed [`MAX_SIDE`](super::MAX_SIDE).
    fn square_layout(&self, tiles: usize) -> Result<(usize, usize, usize)> {
        let columns = self
            .columns
            .unwrap_or_else(|| near_square_columns(tiles))
            .min(tiles);
        let rows = tiles.div_ceil(columns);
        let width = self.pitch_x().saturating_mul(columns).saturating_add(1);
        let height = self.pitch_y().saturating_mul(rows).saturating_add(1);
        check_size(width, height)?;
        Ok((columns, width, height))
    }
}

/// `display_network`'s column count for `tiles` tiles: `⌈√tiles⌉`, or the next count up to
/// `1.2·√tiles` that divides `tiles`.
fn near_square_columns(tiles: usize) -> usize {
    let root = (tiles as f64).sqrt();
    let mut columns = tiles.isqrt();
    if columns * columns == tiles {
        return columns.max(1);
    }
    columns += 1;
    while !tiles.is_multiple_of(columns) && (columns as f64) < 1.2 * root {
        columns += 1;
    }
    columns
}

/// Centres `tile` on its mean and divides by its largest absolute value, into `[-1, 1]`.
fn normalise_tile(tile: &mut [f64]) {
    // Scale into [-1, 1] first so that neither the mean nor the centring can overflow.
    let scale_to_unit = |tile: &mut [f64]| {
        let largest = tile.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        if largest > 0.0 {
            tile.iter_mut().for_each(|v| *v /= largest);
        }
    };
    scale_to_unit(tile);
    let mean = tile.iter().sum::<f64>() / tile.len() as f64;
    tile.iter_mut().for_each(|v| *v -= mean);
    let largest = tile.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    // Values equal up to rounding: draw the tile flat rather than magnify the noise.
    if largest <= 1e-12 {
        tile.fill(0.0);
    } else {
        tile.iter_mut().for_each(|v| *v /= largest);
    }
}

/// `[-1, 1]` to grey levels 0 … 255 (0 is 128).
fn grey_from_signed(v: f64) -> u8 {
    grey_from_unit((v + 1.0) / 2.0)
}

/// `[0, 1]` to grey levels 0 … 255, clipping outside values.
fn grey_from_unit(v: f64) -> u8 {
    // In range after the clamp, so the cast is exact.
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_square_columns_follow_display_network() {
        for (tiles, columns) in [
            (1, 1),
            (2, 2),
            (3, 3),
            (10, 4),
            (50, 9),
            (64, 8),
            (100, 10),
            (200, 17),
        ] {
            assert_eq!(near_square_columns(tiles), columns, "{tiles} tiles");
        }
    }

    #[test]
    fn normalised_tiles_span_minus_one_to_one() {
        let mut tile = vec![1.0, 2.0, 3.0, 6.0];
        normalise_tile(&mut tile);
        approx::assert_relative_eq!(
            tile.as_slice(),
            [-2.0 / 3.0, -1.0 / 3.0, 0.0, 1.0].as_slice()
        );
        let mut flat = vec![1e300; 4];
        normalise_tile(&mut flat);
        assert_eq!(flat, [0.0; 4]);
        let mut extreme = vec![-f64::MAX, f64::MAX];
        normalise_tile(&mut extreme);
        approx::assert_relative_eq!(extreme.as_slice(), [-1.0, 1.0].as_slice());
    }

    #[test]
    fn grey_levels() {
        assert_eq!(
            [-1.0, 0.0, 1.0, 2.0].map(grey_from_signed),
            [0, 128, 255, 255]
        );
        assert_eq!([-0.5, 0.5, 1.5].map(grey_from_unit), [0, 128, 255]);
    }
}
