//! Principal component analysis: the linear baseline for reconstruction at a given code size.

use crate::validate::{check_data, check_nonzero};
use crate::{Error, Result, Scalar};
use nalgebra::{DMatrix, DVector};

/// PCA with `k` components, fitted by the SVD of the covariance matrix.
///
/// The code of `x` is `(x − μ)·Uᵀ` and its reconstruction `μ + code·U`, where the rows of `U`
/// (`k × input_dim`) are the leading eigenvectors of the training data's covariance. This is
/// the best linear code of size `k` in squared error, the baseline for autoencoders (a linear
/// autoencoder with squared error learns the same subspace).
///
/// ```
/// use autoencoders::Pca;
/// use nalgebra::DMatrix;
///
/// // Points on a line in 3-D: one component reconstructs them exactly.
/// let x = DMatrix::from_fn(10, 3, |i, j| i as f64 * [1.0, 2.0, -1.0][j] + 0.5);
/// let pca = Pca::fit(&x, 1)?;
/// approx::assert_relative_eq!(pca.reconstruct(&x)?, x, epsilon = 1e-9);
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Pca<T: Scalar> {
    mean: DVector<T>,
    components: DMatrix<T>,
    explained_variance: DVector<T>,
}

impl<T: Scalar> Pca<T> {
    /// Fits `components` principal components to `x`.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`.
    ///
    /// # Errors
    /// Bad data as in [`Error::EmptyData`] and [`Error::NonFiniteData`];
    /// [`Error::ZeroDimension`] for no components; [`Error::DimensionMismatch`] for more
    /// components than features.
    pub fn fit(x: &DMatrix<T>, components: usize) -> Result<Self> {
        check_data(x, x.ncols(), "data for PCA")?;
        check_nonzero(components, "number of components")?;
        if components > x.ncols() {
            return Err(Error::DimensionMismatch {
                what: "number of PCA components (at most the number of features)",
                expected: x.ncols(),
                found: components,
            });
        }
        let n = T::cast(x.nrows() as f64);
        let mean = x.row_mean().transpose();
        let mut centred = x.clone();
        for (mut column, &m) in centred.column_iter_mut().zip(mean.iter()) {
            column.add_scalar_mut(-m);
        }
        let covariance = centred.tr_mul(&centred) / n;
        // The covariance is symmetric positive semi-definite: its SVD is its eigendecomposition,
        // singular values sorted in decreasing order.
        let svd = covariance.svd(true, false);
        let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
        order.sort_by(|&a, &b| {
            svd.singular_values[b]
                .partial_cmp(&svd.singular_values[a])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let u = svd.u.ok_or(Error::ZeroDimension {
            what: "singular vectors",
        })?;
        let top = &order[..components];
        let mut components_matrix = DMatrix::zeros(components, x.ncols());
        for (row, &c) in top.iter().enumerate() {
            components_matrix
                .row_mut(row)
                .copy_from(&u.column(c).transpose());
        }
        let explained_variance =
            DVector::from_iterator(components, top.iter().map(|&c| svd.singular_values[c]));
        Ok(Self {
            mean,
            components: components_matrix,
            explained_variance,
        })
    }

    /// The training mean `μ`, `input_dim` entries.
    pub fn mean(&self) -> &DVector<T> {
        &self.mean
    }

    /// The components `U`, `k × input_dim`, orthonormal rows, by decreasing variance.
    pub fn components(&self) -> &DMatrix<T> {
        &self.components
    }

    /// The variance of the training data along each component.
    pub fn explained_variance(&self) -> &DVector<T> {
        &self.explained_variance
    }

    /// Codes `(x − μ)·Uᵀ`.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; returns `n × k`.
    ///
    /// # Errors
    /// Bad data as for [`fit`](Self::fit), or [`Error::DimensionMismatch`].
    pub fn transform(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        check_data(x, self.mean.len(), "data to transform")?;
        let mut centred = x.clone();
        for (mut column, &m) in centred.column_iter_mut().zip(self.mean.iter()) {
            column.add_scalar_mut(-m);
        }
        Ok(centred * self.components.transpose())
    }

    /// Reconstructions `μ + code·U`.
    ///
    /// # Shapes
    /// `codes` is `n × k`; returns `n × input_dim`.
    ///
    /// # Errors
    /// Bad data, or [`Error::DimensionMismatch`].
    pub fn inverse_transform(&self, codes: &DMatrix<T>) -> Result<DMatrix<T>> {
        check_data(codes, self.components.nrows(), "PCA codes")?;
        let mut x = codes * &self.components;
        for (mut column, &m) in x.column_iter_mut().zip(self.mean.iter()) {
            column.add_scalar_mut(m);
        }
        Ok(x)
    }

    /// `inverse_transform(transform(x))`.
    ///
    /// # Errors
    /// As [`transform`](Self::transform).
    pub fn reconstruct(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        self.inverse_transform(&self.transform(x)?)
    }
}
