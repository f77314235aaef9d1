//! A data set read from files: a feature matrix with optional labels.

use crate::Scalar;
use nalgebra::DMatrix;

/// A data set read from a file: features, one sample per row, with optional class labels.
///
/// [`read_csv`](super::read_csv), [`parse_csv`](super::parse_csv) and
/// [`read_idx_table`](super::read_idx_table) return it. Values are as in the file, not scaled:
/// see [`Scaler`](super::Scaler).
///
/// ```
/// use autoencoders::data::{CsvOptions, LabelColumn, parse_csv};
///
/// let options = CsvOptions::default().with_label_column(LabelColumn::Last);
/// let table = parse_csv::<f64>("x,y,digit\n0.5,1,7\n2,3,1\n", "inline", &options)?;
/// assert_eq!(table.features.shape(), (2, 2));
/// assert_eq!(table.labels, Some(vec![7, 1]));
/// assert_eq!(table.feature_names, Some(vec!["x".to_owned(), "y".to_owned()]));
/// # Ok::<(), autoencoders::Error>(())
/// ```
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
