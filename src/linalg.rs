//! Matrix products on nalgebra matrices, with transposes passed as strides.
//!
//! nalgebra's `gemm` copies nothing but only multiplies untransposed operands fast; its `gemm_tr`
//! is an order of magnitude slower. Every product the crate needs is `A·B`, `A·Bᵀ` or `Aᵀ·B`, so
//! they all go straight to `matrixmultiply` with the right strides, writing into a reused buffer.

use crate::Scalar;
use nalgebra::{DMatrix, DVector};

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `A`
    Plain,
    /// `Aᵀ`
    Transposed,
}

/// Rows, columns and strides of `op(a)` for a column-major matrix.
fn view<T: Scalar>(a: &DMatrix<T>, op: Op) -> (usize, usize, isize, isize) {
    let (rows, cols) = a.shape();
    let lead = rows as isize;
    match op {
        Op::Plain => (rows, cols, 1, lead),
        Op::Transposed => (cols, rows, lead, 1),
    }
}

/// `out ← α·op(a)·op(b) + β·out`.
///
/// The shapes are the caller's invariant (checked at the public boundary); they are asserted here
/// because a wrong one would otherwise be undefined behaviour in the kernel.
pub(crate) fn gemm<T: Scalar>(
    alpha: T,
    a: &DMatrix<T>,
    op_a: Op,
    b: &DMatrix<T>,
    op_b: Op,
    beta: T,
    out: &mut DMatrix<T>,
) {
    let (m, k, rsa, csa) = view(a, op_a);
    let (k2, n, rsb, csb) = view(b, op_b);
    assert!(
        k == k2 && out.shape() == (m, n),
        "matrix product shapes disagree"
    );
    let rsc = 1;
    let csc = m as isize;
    if k == 0 {
        // matrixmultiply handles k = 0, but the scaling is then all there is to do.
        out.scale_mut(beta);
        return;
    }
    T::gemm_raw(
        m,
        k,
        n,
        alpha,
        (a.as_slice(), rsa, csa),
        (b.as_slice(), rsb, csb),
        beta,
        (out.as_mut_slice(), rsc, csc),
    );
}

/// `out ← x·op(W) + 1·bᵀ`: a dense layer's pre-activation.
pub(crate) fn affine_forward<T: Scalar>(
    x: &DMatrix<T>,
    weights: &DMatrix<T>,
    op: Op,
    bias: &DVector<T>,
    out: &mut DMatrix<T>,
) {
    resize(out, x.nrows(), bias.len());
    gemm(T::one(), x, Op::Plain, weights, op, T::zero(), out);
    let rows = out.nrows();
    if rows == 0 {
        return;
    }
    // Whole columns per piece, on several threads when the matrix is large.
    let columns = crate::pool::piece_len(out.len()).div_ceil(rows).max(1);
    let pieces = out
        .as_mut_slice()
        .chunks_mut(rows.saturating_mul(columns))
        .zip(bias.as_slice().chunks(columns))
        .map(|piece| (piece.0.len(), piece));
    crate::pool::for_each_piece(pieces, |(out, bias): (&mut [T], &[T])| {
        crate::simd::wide(
            #[inline(always)]
            || {
                for (column, &b) in out.chunks_exact_mut(rows).zip(bias.iter()) {
                    column.iter_mut().for_each(|v| *v += b);
                }
            },
        );
    });
}

/// `sums[j] ← Σ_i m[i, j]`, each column summed in order (columns on several threads when the
/// matrix is large).
pub(crate) fn column_sums<T: Scalar>(m: &DMatrix<T>, sums: &mut DVector<T>) {
    let rows = m.nrows();
    if rows == 0 {
        sums.fill(T::zero());
        return;
    }
    let columns = crate::pool::piece_len(m.len()).div_ceil(rows).max(1);
    let pieces = sums
        .as_mut_slice()
        .chunks_mut(columns)
        .zip(m.as_slice().chunks(rows.saturating_mul(columns)))
        .map(|piece| (piece.1.len(), piece));
    crate::pool::for_each_piece(pieces, |(sums, m): (&mut [T], &[T])| {
        for (s, column) in sums.iter_mut().zip(m.chunks_exact(rows)) {
            *s = column.iter().fold(T::zero(), |sum, &v| sum + v);
        }
    });
}

/// Gives `m` the shape `rows × cols`, reallocating only when the shape changes.
pub(crate) fn resize<T: Scalar>(m: &mut DMatrix<T>, rows: usize, cols: usize) {
    if m.shape() != (rows, cols) {
        *m = DMatrix::zeros(rows, cols);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn all_transpose_combinations_match_nalgebra() {
        let a = DMatrix::<f64>::from_fn(3, 4, |i, j| (i * 4 + j) as f64 * 0.5 - 2.0);
        let b = DMatrix::<f64>::from_fn(4, 5, |i, j| (i as f64 - j as f64) * 0.25);
        let bt = b.transpose();
        let at = a.transpose();
        let expected = &a * &b;
        for (lhs, op_a, rhs, op_b) in [
            (&a, Op::Plain, &b, Op::Plain),
            (&at, Op::Transposed, &b, Op::Plain),
            (&a, Op::Plain, &bt, Op::Transposed),
            (&at, Op::Transposed, &bt, Op::Transposed),
        ] {
            let mut out = DMatrix::from_element(3, 5, 1.0);
            gemm(2.0, lhs, op_a, rhs, op_b, 0.5, &mut out);
            let want = &expected * 2.0 + DMatrix::from_element(3, 5, 0.5);
            assert_relative_eq!(out, want, epsilon = 1e-12);
        }
    }

    #[test]
    fn f32_kernel_agrees() {
        let a = DMatrix::<f32>::from_fn(7, 3, |i, j| (i + 2 * j) as f32 * 0.1);
        let b = DMatrix::<f32>::from_fn(6, 3, |i, j| (i as f32) - (j as f32));
        let mut out = DMatrix::zeros(7, 6);
        gemm(1.0, &a, Op::Plain, &b, Op::Transposed, 0.0, &mut out);
        assert_relative_eq!(out, &a * b.transpose(), epsilon = 1e-5);
    }
}
