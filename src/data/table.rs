//! A data set read from files: a feature matrix with optional labels.

use crate::Scalar;
use nalgebra::DMatrix;

/// A data set read from a file: features, one sample per row, with optional class labels.
///
/// [`read_idx_table`](super::read_idx_table) returns it. Values are as in the file, not
/// scaled.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Table<T: Scalar> {
    /// `n × input_dim`: one sample per row, in file order.
    pub features: DMatrix<T>,
    /// One class label per sample (`n` of them), when the source has a label column or file.
    pub labels: Option<Vec<usize>>,
    /// The names of the feature columns (`input_dim` of them), when the source has a header.
    pub feature_names: Option<Vec<String>>,
}
