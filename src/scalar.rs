//! The floating-point types the crate computes in.

use nalgebra::RealField;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::fmt;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point scalar: `f32` or `f64`.
///
/// Every model, regularizer and optimiser in the crate is generic over it. The trait is sealed
/// because the matrix products dispatch to a kernel per type.
pub trait Scalar:
    RealField + Copy + Default + fmt::Debug + fmt::Display + Send + Sync + sealed::Sealed + 'static
{
    /// The type's name as a dtype string (`"f32"` or `"f64"`).
    const NAME: &'static str;

    /// Which of the two types it is.
    const PRECISION: Precision;

    /// Appends the value's little-endian bytes to `out`.
    #[doc(hidden)]
    fn push_le_bytes(self, out: &mut Vec<u8>);

    /// The value whose little-endian bytes are `bytes`, which hold exactly
    /// `size_of::<Self>()` of them.
    #[doc(hidden)]
    fn from_le_slice(bytes: &[u8]) -> Self;

    /// The two slices as what they are, `f32` or `f64`: for the exchanges of a data-parallel
    /// run, which send the values as they are.
    #[doc(hidden)]
    fn typed_pair<'a>(local: &'a [Self], all: &'a mut [Self]) -> TypedPair<'a>;

    /// Converts from `f64`, rounding to nearest for `f32`.
    fn cast(value: f64) -> Self;

    /// Converts to `f64` exactly.
    fn as_f64(self) -> f64;

    /// Draws one value from the standard normal distribution `N(0, 1)`.
    fn sample_standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self;

    /// Fills `out` with standard normal draws by the crate's own vectorisable Box–Muller
    /// transform (the same bits on every machine for the same generator).
    #[doc(hidden)]
    fn fill_standard_normal<R: Rng + ?Sized>(rng: &mut R, out: &mut [Self]);

    /// `e^self` by the crate's own vectorisable formula (within two ulps; the same bits on every
    /// machine).
    #[doc(hidden)]
    fn exp_fast(self) -> Self;

    /// `ln self` for a normal, positive `self`, by the crate's own vectorisable formula (the
    /// same bits on every machine); meaningless for zero, subnormals, ∞ and NaN.
    #[doc(hidden)]
    fn ln_fast(self) -> Self;

    /// `C ← α·A·B + β·C` on raw strided storage; the caller has checked every dimension.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: (&[Self], isize, isize),
        b: (&[Self], isize, isize),
        beta: Self,
        c: (&mut [Self], isize, isize),
    );
}

/// Two slices of a [`Scalar`] as their own type.
#[doc(hidden)]
#[derive(Debug)]
pub enum TypedPair<'a> {
    /// `f32` slices.
    Single(&'a [f32], &'a mut [f32]),
    /// `f64` slices.
    Double(&'a [f64], &'a mut [f64]),
}

/// The precision of a [`Scalar`]: what a saved file's dtype must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// `f32`.
    Single,
    /// `f64`.
    Double,
}

macro_rules! impl_scalar {
    ($t:ty, $name:literal, $precision:ident, $gemm:path, $exp:path, $ln:path, $normals:path) => {
        impl Scalar for $t {
            const NAME: &'static str = $name;
            const PRECISION: Precision = Precision::$precision;

            #[inline]
            fn typed_pair<'a>(local: &'a [Self], all: &'a mut [Self]) -> TypedPair<'a> {
                TypedPair::$precision(local, all)
            }

            #[inline]
            fn push_le_bytes(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }

            #[inline]
            fn from_le_slice(bytes: &[u8]) -> Self {
                let mut raw = [0; std::mem::size_of::<$t>()];
                raw.copy_from_slice(bytes);
                <$t>::from_le_bytes(raw)
            }

            #[inline]
            fn cast(value: f64) -> Self {
                value as $t
            }

            #[inline]
            fn as_f64(self) -> f64 {
                f64::from(self)
            }

            #[inline]
            fn sample_standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
                <StandardNormal as Distribution<$t>>::sample(&StandardNormal, rng)
            }

            fn fill_standard_normal<R: Rng + ?Sized>(rng: &mut R, out: &mut [Self]) {
                $normals(rng, out)
            }

            #[inline(always)]
            fn exp_fast(self) -> Self {
                $exp(self)
            }

            #[inline(always)]
            fn ln_fast(self) -> Self {
                $ln(self)
            }

            #[allow(unsafe_code)]
            fn gemm_raw(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: (&[Self], isize, isize),
                b: (&[Self], isize, isize),
                beta: Self,
                c: (&mut [Self], isize, isize),
            ) {
                crate::kernel::check_extent(m, k, a.0.len(), a.1, a.2);
                crate::kernel::check_extent(k, n, b.0.len(), b.1, b.2);
                crate::kernel::check_extent(m, n, c.0.len(), c.1, c.2);
                #[cfg(feature = "gemm")]
                {
                    // The `gemm` crate divides a large product over the current rayon pool
                    // itself, so it runs on the crate's pool with its thread count.
                    let large =
                        crate::pool::parts(n, m.saturating_mul(n).saturating_mul(k), 32) > 1;
                    let mut product = |threads: usize| {
                        let parallelism = if threads > 1 {
                            gemm::Parallelism::Rayon(threads)
                        } else {
                            gemm::Parallelism::None
                        };
                        // SAFETY: `check_extent` proved that every index the kernel touches,
                        // `row * row_stride + col * col_stride`, lies inside the borrowed slice,
                        // and the output slice is borrowed mutably, so it aliases neither input.
                        // The `gemm` crate computes `dst ← α·dst + β·lhs·rhs` and takes column
                        // strides first; with `read_dst` false it never reads `dst`.
                        unsafe {
                            gemm::gemm(
                                m,
                                n,
                                k,
                                c.0.as_mut_ptr(),
                                c.2,
                                c.1,
                                beta != 0.0,
                                a.0.as_ptr(),
                                a.2,
                                a.1,
                                b.0.as_ptr(),
                                b.2,
                                b.1,
                                beta,
                                alpha,
                                false,
                                false,
                                false,
                                parallelism,
                            )
                        }
                    };
                    if large {
                        crate::pool::install(product)
                    } else {
                        product(1)
                    }
                }
                #[cfg(not(feature = "gemm"))]
                let (rsc, csc) = (c.1, c.2);
                #[cfg(not(feature = "gemm"))]
                crate::kernel::split_columns(
                    (m, k, n),
                    (1.0, 0.0),
                    alpha,
                    beta,
                    b,
                    c,
                    |columns, b_block, c_block| {
                        crate::kernel::check_extent(k, columns, b_block.len(), b.1, b.2);
                        crate::kernel::check_extent(m, columns, c_block.len(), rsc, csc);
                        // SAFETY: `check_extent` proved just above and for `a` at the top that
                        // every index the kernel touches, `row * row_stride + col *
                        // col_stride`, lies inside the borrowed slice, and the output block is
                        // borrowed mutably, so it aliases neither input.
                        unsafe {
                            $gemm(
                                m,
                                k,
                                columns,
                                alpha,
                                a.0.as_ptr(),
                                a.1,
                                a.2,
                                b_block.as_ptr(),
                                b.1,
                                b.2,
                                beta,
                                c_block.as_mut_ptr(),
                                rsc,
                                csc,
                            )
                        }
                    },
                );
            }
        }
    };
}

impl_scalar!(
    f32,
    "f32",
    Single,
    matrixmultiply::sgemm,
    crate::math::exp_f32,
    crate::math::ln_f32,
    crate::math::standard_normals_f32
);
impl_scalar!(
    f64,
    "f64",
    Double,
    matrixmultiply::dgemm,
    crate::math::exp_f64,
    crate::math::ln_f64,
    crate::math::standard_normals_f64
);
