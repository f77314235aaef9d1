//! What the raw matrix-product kernels need besides the scalar type: the bounds proof for
//! their operands, and the split of a large product over the crate's threads.

/// Proves that every index `r·rs + c·cs` of a `rows × cols` operand is inside a slice of `len`.
pub(crate) fn check_extent(rows: usize, cols: usize, len: usize, rs: isize, cs: isize) {
    assert!(rs >= 0 && cs >= 0, "negative strides are not used");
    if rows == 0 || cols == 0 {
        return;
    }
    let last = (rows - 1) * rs as usize + (cols - 1) * cs as usize;
    assert!(last < len, "matrix product operand out of bounds");
}

/// `C ← α·A·B + β·C` by `kernel`, split over the crate's threads (`crate::pool`) by blocks of
/// whole output columns when the product is large enough and the split cannot change a bit.
///
/// `kernel(columns, b, c)` computes the product of all of `A` with the first `columns` columns
/// of `b` (the same strides as `B`) into the first `columns` columns of `c` (the same strides
/// as `C`). Every block is an ordinary product, so every output element is computed as without
/// the split. Only α = 1 and β ∈ {0, 1} are split (the only ones the crate uses): a
/// matrixmultiply kernel rounds `α·AB + β·C` once in a full tile and twice in an edge tile,
/// and where a block starts decides which tiles are edge tiles; for α = 1 and β ∈ {0, 1} both
/// roundings are the same. `C` must be column-major (`rsc = 1`, `csc ≥ m`) to be split.
#[cfg(not(feature = "gemm"))]
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn split_columns<T: Copy + PartialEq + Send + Sync>(
    (m, k, n): (usize, usize, usize),
    (one, zero): (T, T),
    alpha: T,
    beta: T,
    b: (&[T], isize, isize),
    c: (&mut [T], isize, isize),
    kernel: impl Fn(usize, &[T], &mut [T]) + Sync,
) {
    let (b, _rsb, csb) = b;
    let (c, rsc, csc) = c;
    let splittable =
        alpha == one && (beta == zero || beta == one) && rsc == 1 && csc as usize >= m && m > 0;
    let parts = if splittable {
        crate::pool::parts(n, m.saturating_mul(n).saturating_mul(k), MIN_PART_COLUMNS)
    } else {
        1
    };
    if parts <= 1 {
        return kernel(n, b, c);
    }
    let width = n.div_ceil(parts).next_multiple_of(BLOCK_ALIGN).min(n);
    let column = csc as usize;
    let blocks: Vec<(usize, &mut [T])> = c
        .chunks_mut(column * width)
        .take(n.div_ceil(width))
        .enumerate()
        .map(|(i, block)| (i * width, block))
        .collect();
    crate::pool::for_each(blocks, |(first, block)| {
        // Column `first` of `B` starts at element `first · csb` of its slice.
        kernel(width.min(n - first), &b[first * csb as usize..], block);
    });
}

/// The fewest output columns a part of a split product gets: narrower blocks waste the
/// kernel's 16-wide tiles and pack too little of `B` to be worth a thread.
#[cfg(not(feature = "gemm"))]
const MIN_PART_COLUMNS: usize = 32;

/// Split blocks start at multiples of this many columns, a multiple of every kernel's tile
/// width, so that only the product's last block has a partial tile (for speed; the bits do not
/// depend on it).
#[cfg(not(feature = "gemm"))]
const BLOCK_ALIGN: usize = 16;
