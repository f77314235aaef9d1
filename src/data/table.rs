//! A data set read from files: a feature matrix with optional labels.

use crate::{Result, Scalar};
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

impl<T: Scalar> Table<T> {
    /// The samples at `indices`, in that order, with their labels; the feature names are kept.
    ///
    /// With [`split_rows`](super::split_rows) it splits a table read from one file into
    /// training and test tables.
    ///
    /// ```
    /// use autoencoders::data::{CsvOptions, LabelColumn, SplitSize, parse_csv, split_rows};
    /// use rand::{SeedableRng, rngs::ChaCha8Rng};
    ///
    /// let options = CsvOptions::default().with_label_column(LabelColumn::Last);
    /// let table = parse_csv::<f64>("x,y\n1,0\n2,1\n3,0\n4,1\n", "inline", &options)?;
    /// let (train, test) = split_rows(4, SplitSize::Count(3), &mut ChaCha8Rng::seed_from_u64(1))?;
    /// let (train, test) = (table.select_rows(&train)?, table.select_rows(&test)?);
    /// assert_eq!((train.features.nrows(), test.features.nrows()), (3, 1));
    /// let (x, y) = (test.features[(0, 0)], test.labels.as_ref().unwrap()[0]);
    /// assert_eq!(y, (x as usize + 1) % 2); // each sample keeps its label
    /// assert_eq!(test.feature_names, table.feature_names);
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`select_rows`](super::select_rows): [`Error::EmptyData`](crate::Error::EmptyData)
    /// for no indices, [`Error::RowOutOfRange`](crate::Error::RowOutOfRange) for an index
    /// beyond the last sample.
    pub fn select_rows(&self, indices: &[usize]) -> Result<Self> {
        let features = super::select_rows(&self.features, indices)?;
        let labels = match &self.labels {
            Some(labels) => Some(super::select_labels(labels, indices)?),
            None => None,
        };
        Ok(Self {
            features,
            labels,
            feature_names: self.feature_names.clone(),
        })
    }
}
