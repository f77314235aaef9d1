//! Sums of many terms in the model's scalar type, accurate in `f32`: blocks of a fixed size
//! summed in the scalar type, the blocks' sums added in `f64`. The grouping does not depend on
//! the machine, so the same data gives the same bits everywhere.

use crate::Scalar;

/// Elements summed in the model's scalar type before their sum joins an `f64` total: few
/// enough that an `f32` partial sum never grows so large that the terms added to it lose their
/// low bits (8,000 digits' squared errors in one `f32` accumulator came out 0.2 % low), many
/// enough that the loops stay tight.
pub(crate) const SUM_BLOCK: usize = 1024;

/// Per row of two matrices of the same shape, `Σ_j term(x_ij, y_ij)` with the terms and the sum
/// in `f64`, the columns added in order: per-sample losses and scores, accurate in `f32`.
pub(crate) fn row_sums_f64<T: Scalar>(
    x: &nalgebra::DMatrix<T>,
    y: &nalgebra::DMatrix<T>,
    term: impl Fn(f64, f64) -> f64,
) -> Vec<f64> {
    let mut sums = vec![0.0; x.nrows()];
    for (x, y) in x.column_iter().zip(y.column_iter()) {
        for (sum, (&a, &b)) in sums.iter_mut().zip(x.iter().zip(y.iter())) {
            *sum += term(a.as_f64(), b.as_f64());
        }
    }
    sums
}

/// `Σ term(x_i, y_i)` over two slices, in `f64`: each block of [`SUM_BLOCK`] pairs by
/// [`block_sum`], the blocks' sums added in `f64`, in a fixed order.
#[inline(always)]
pub(crate) fn pair_sum<T: Scalar>(x: &[T], y: &[T], term: impl Fn(T, T) -> T) -> f64 {
    let mut total = 0.0;
    for (x, y) in x.chunks(SUM_BLOCK).zip(y.chunks(SUM_BLOCK)) {
        total += block_sum(x, y, &term).as_f64();
    }
    total
}

/// `Σ term(x_i, y_i)` over one block in eight interleaved partial sums (the loop vectorises;
/// one sum would be a chain of dependent additions), added in a fixed order.
#[inline(always)]
pub(crate) fn block_sum<T: Scalar>(x: &[T], y: &[T], term: impl Fn(T, T) -> T) -> T {
    let mut lanes = [T::zero(); 8];
    let (x_chunks, y_chunks) = (x.chunks_exact(8), y.chunks_exact(8));
    let (x_rest, y_rest) = (x_chunks.remainder(), y_chunks.remainder());
    for (xs, ys) in x_chunks.zip(y_chunks) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(xs).zip(ys) {
            *lane += term(x, y);
        }
    }
    for ((lane, &x), &y) in lanes.iter_mut().zip(x_rest).zip(y_rest) {
        *lane += term(x, y);
    }
    let [a, b, c, d, e, f, g, h] = lanes;
    ((a + b) + (c + d)) + ((e + f) + (g + h))
}

/// `Σ term(v, g)` over the pairs of `values` and `grads`, in `f64`, while `term` may also write
/// into `g` (a gradient): each block of [`SUM_BLOCK`] pairs summed in the scalar type, the
/// blocks' sums added in `f64`, in a fixed order.
pub(crate) fn sum_with_gradient<T: Scalar>(
    values: &[T],
    grads: &mut [T],
    mut term: impl FnMut(T, &mut T) -> T,
) -> f64 {
    let mut total = 0.0;
    for (vs, gs) in values.chunks(SUM_BLOCK).zip(grads.chunks_mut(SUM_BLOCK)) {
        let mut block = T::zero();
        for (&v, g) in vs.iter().zip(gs) {
            block += term(v, g);
        }
        total += block.as_f64();
    }
    total
}

/// `Σ term(v_i)` grouped exactly as [`sum_with_gradient`] groups it (the same bits), for the
/// value of a penalty whose gradient is not wanted.
pub(crate) fn sum_like_gradient<T: Scalar>(values: &[T], term: impl Fn(T) -> T) -> f64 {
    let mut total = 0.0;
    for vs in values.chunks(SUM_BLOCK) {
        let mut block = T::zero();
        for &v in vs {
            block += term(v);
        }
        total += block.as_f64();
    }
    total
}
