//! What the raw matrix-product kernels need besides the scalar type: the bounds proof for
//! their operands and, with the `gemm` feature, how many threads they may use.

/// Proves that every index `r·rs + c·cs` of a `rows × cols` operand is inside a slice of `len`.
pub(crate) fn check_extent(rows: usize, cols: usize, len: usize, rs: isize, cs: isize) {
    assert!(rs >= 0 && cs >= 0, "negative strides are not used");
    if rows == 0 || cols == 0 {
        return;
    }
    let last = (rows - 1) * rs as usize + (cols - 1) * cs as usize;
    assert!(last < len, "matrix product operand out of bounds");
}

/// How the `gemm` crate may split a product: over `MATMUL_NUM_THREADS` threads (default: the
/// available parallelism; read once) with the `threading` feature, on the calling thread
/// without it.
#[cfg(feature = "gemm")]
pub(crate) fn gemm_parallelism() -> gemm::Parallelism {
    #[cfg(feature = "threading")]
    {
        static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let threads = *THREADS.get_or_init(|| {
            std::env::var("MATMUL_NUM_THREADS")
                .ok()
                .and_then(|value| value.trim().parse::<usize>().ok())
                .filter(|&n| n >= 1)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        });
        if threads > 1 {
            return gemm::Parallelism::Rayon(threads);
        }
    }
    gemm::Parallelism::None
}
