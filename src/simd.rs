//! The crate's elementwise loops, run wider where the CPU allows.
//!
//! The crate is built for the baseline x86-64 instruction set, where the compiler vectorises a
//! loop of `f32` four elements wide (SSE). [`wide`] runs a loop inside a function compiled with
//! AVX2 enabled when the CPU has it, so that the same Rust loop is vectorised eight wide. Only
//! the width changes: every element gets the same IEEE operations in the same order (no fused
//! multiply-add is enabled, and the compiler never reorders a floating-point sum), so the
//! results are the same bits with and without AVX2.

/// Runs `f`, compiled with AVX2 enabled when the CPU has it (x86-64 only). `f` should be a
/// closure marked `#[inline(always)]`: only what is inlined into the AVX2 function is compiled
/// for AVX2, and the compiler keeps a large closure a separate, baseline function otherwise.
#[inline(always)]
pub(crate) fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above, which is all `with_avx2`
            // requires.
            #[allow(unsafe_code)]
            return unsafe { with_avx2(f) };
        }
    }
    f()
}

/// `f()`, with AVX2 code generation for whatever of `f` is inlined here.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::wide;
    use crate::activation::sigmoid;

    /// The AVX2 loop and the baseline loop give the same bits, over the whole range where the
    /// sigmoid is not exactly 0 or 1, and at its edges.
    #[test]
    fn wide_sigmoid_gives_the_same_bits() {
        let z: Vec<f32> = (0..200_003)
            .map(|i| (i as f32 - 100_001.0) * 1e-3)
            .chain([-800.0, 800.0, 0.0, -0.0, 1e-30, f32::MIN_POSITIVE])
            .collect();
        let mut narrow = vec![0.0_f32; z.len()];
        for (h, &z) in narrow.iter_mut().zip(&z) {
            *h = std::hint::black_box(sigmoid(z));
        }
        let mut widened = vec![0.0_f32; z.len()];
        wide(
            #[inline(always)]
            || {
                for (h, &z) in widened.iter_mut().zip(&z) {
                    *h = sigmoid(z);
                }
            },
        );
        let differ = narrow
            .iter()
            .zip(&widened)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!(differ, 0, "{differ} of {} sigmoids differ", z.len());
    }
}
