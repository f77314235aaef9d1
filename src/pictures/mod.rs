//! Pictures of what a model learned, as PNG files (feature `pictures`).
//!
//! - [`filter_grid`]: the encoder's weight rows as a grid of tiles, each normalised on its own,
//!   the way the UFLDL tutorial's `display_network` shows learned filters.
//! - [`reconstruction_grid`]: inputs above their reconstructions.
//! - [`loss_curves`] (and [`LinePlot`] for any series): the per-epoch losses of a [`History`].
//!
//! Each function draws a [`Picture`] in memory; [`Picture::save_png`] writes it. The module
//! draws everything itself (lines, an 8×8 bitmap font for the text) and needs no system fonts.
//!
//! ```no_run
//! use autoencoders::pictures::{TileGrid, filter_grid, loss_curves, reconstruction_grid};
//! use autoencoders::{Adam, DenseBuilder, TrainingConfig};
//! use rand::{SeedableRng, rngs::ChaCha8Rng};
//!
//! let digits = autoencoders::data::bundled_digits::<f32>()?;
//! let mut rng = ChaCha8Rng::seed_from_u64(0);
//! let mut model = DenseBuilder::new(784, 100).build::<f32, _>(&mut rng)?;
//! let config = TrainingConfig::default().with_epochs(3);
//! let history = model.fit(&digits.train_images, &config, &mut Adam::new(1e-3)?, &mut rng)?;
//!
//! let digit = TileGrid::new(28, 28);
//! filter_grid(model.encoder().weights(), &digit.with_scale(2))?.save_png("filters.png")?;
//! let test = digits.test_images.rows(0, 20).into_owned();
//! reconstruction_grid(&test, &model.reconstruct(&test)?, &digit)?.save_png("reconstructions.png")?;
//! loss_curves(&history)?.save_png("losses.png")?;
//! # Ok::<(), autoencoders::Error>(())
//! ```
//!
//! [`History`]: crate::History

mod canvas;
mod grid;
mod plot;

pub use grid::{TileGrid, filter_grid, image_grid, reconstruction_grid};
pub use plot::{CLASS_PALETTE, LinePlot, PALETTE, loss_curves};

use crate::{Error, Result};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest width or height, in pixels, of a picture this module draws.
pub const MAX_SIDE: usize = 16_384;

/// How a [`Picture`] stores a pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PixelFormat {
    /// One byte, 0 black to 255 white.
    Gray,
    /// Three bytes: red, green, blue.
    Rgb,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub fn channels(self) -> usize {
        match self {
            PixelFormat::Gray => 1,
            PixelFormat::Rgb => 3,
        }
    }
}

/// An 8-bit image in memory, rows from the top, pixels from the left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    width: usize,
    height: usize,
    format: PixelFormat,
    data: Vec<u8>,
}

impl Picture {
    /// A picture of one colour; the callers have checked the size against [`MAX_SIDE`].
    pub(crate) fn filled(width: usize, height: usize, format: PixelFormat, value: &[u8]) -> Self {
        Self {
            width,
            height,
            format,
            data: value.repeat(width * height),
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// How each pixel is stored.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// All pixels, row by row from the top, [`PixelFormat::channels`] bytes each.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The bytes of the pixel in column `x` and row `y` (from the top left), if inside.
    pub fn pixel(&self, x: usize, y: usize) -> Option<&[u8]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let channels = self.format.channels();
        let start = (y * self.width + x) * channels;
        self.data.get(start..start + channels)
    }

    pub(crate) fn pixel_mut(&mut self, x: usize, y: usize) -> Option<&mut [u8]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let channels = self.format.channels();
        let start = (y * self.width + x) * channels;
        self.data.get_mut(start..start + channels)
    }

    /// Writes the picture as a PNG file, replacing any file at `path`.
    ///
    /// The PNG goes first to a temporary file beside `path` (a hidden name ending in `.tmp`),
    /// which is flushed to disk and then renamed over `path`: a reader never sees a half-written
    /// picture, and a crash leaves at worst the temporary file behind.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written or renamed, or `path` names no file.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = self.encode_png().map_err(|e| Error::io(&name, e))?;
        let temporary = temporary_path(path).map_err(|e| Error::io(&name, e))?;
        let written = write_synced(&temporary, &bytes).and_then(|()| fs::rename(&temporary, path));
        if let Err(source) = written {
            // Best effort: the temporary file may not exist, and the first error is the one
            // worth reporting.
            let _ = fs::remove_file(&temporary);
            return Err(Error::io(&name, source));
        }
        Ok(())
    }

    /// The picture as the bytes of a PNG file.
    fn encode_png(&self) -> io::Result<Vec<u8>> {
        let too_large = || io::Error::new(io::ErrorKind::InvalidInput, "picture too large");
        let width = u32::try_from(self.width).map_err(|_| too_large())?;
        let height = u32::try_from(self.height).map_err(|_| too_large())?;
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(match self.format {
            PixelFormat::Gray => png::ColorType::Grayscale,
            PixelFormat::Rgb => png::ColorType::Rgb,
        });
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.data)?;
        writer.finish()?;
        Ok(bytes)
    }
}

/// A fresh name beside `path` for the file being written: `.NAME.PID-N.tmp`.
fn temporary_path(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(path.with_file_name(format!(
        ".{}.{}-{n}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    )))
}

/// Creates `path`, writes `bytes` and waits until they are on disk.
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Checks that a picture of `width × height` pixels may be drawn.
pub(crate) fn check_size(width: usize, height: usize) -> Result<()> {
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(Error::PictureTooLarge {
            width,
            height,
            limit: MAX_SIDE,
        });
    }
    Ok(())
}
