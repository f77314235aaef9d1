//! Elementwise activation functions `h = s(z)`.

use crate::Scalar;
use nalgebra::DMatrix;

/// An elementwise activation `s`, applied to a pre-activation `z`.
///
/// Besides `s` itself the crate needs its first and second derivatives: the first for
/// backpropagation, the second for the exact gradient of the contractive penalty, whose value
/// holds `s'(z)²`.
///
/// | variant | `s(z)` | `s'(z)` | `s''(z)` |
/// | --- | --- | --- | --- |
/// | `Sigmoid` | `1 / (1 + e^(−z))` | `h(1 − h)` | `h(1 − h)(1 − 2h)` |
/// | `Tanh` | `tanh z` | `1 − h²` | `−2h(1 − h²)` |
/// | `Relu` | `max(z, 0)` | `1` if `z > 0`, else `0` | `0` |
/// | `Linear` | `z` | `1` | `0` |
///
/// The derivatives are written in terms of `h = s(z)`, which is how they are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum Activation {
    /// The logistic function, codes in (0, 1).
    #[default]
    Sigmoid,
    /// The hyperbolic tangent, codes in (−1, 1).
    Tanh,
    /// The rectifier `max(z, 0)`.
    Relu,
    /// The identity.
    Linear,
}

impl Activation {
    /// All activations, for exhaustive tests and command-line parsing.
    pub const ALL: [Activation; 4] = [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::Linear,
    ];

    /// The lowercase name used in files and on the command line (`"sigmoid"`, `"tanh"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Linear => "linear",
        }
    }

    /// The activation with the given [`name`](Self::name), if any.
    pub fn from_name(name: &str) -> Option<Activation> {
        Activation::ALL.into_iter().find(|a| a.name() == name)
    }

    /// `s(z)` for one value. The sigmoid never overflows: for `z ≪ 0` it evaluates
    /// `e^z / (1 + e^z)`.
    #[inline]
    pub fn apply<T: Scalar>(self, z: T) -> T {
        match self {
            Activation::Sigmoid => sigmoid(z),
            Activation::Tanh => tanh_fast(z),
            Activation::Relu => z.max(T::zero()),
            Activation::Linear => z,
        }
    }

    /// `s'(z)`, from `z` and `h = s(z)`.
    #[inline]
    pub fn derivative<T: Scalar>(self, z: T, h: T) -> T {
        match self {
            Activation::Sigmoid => h * (T::one() - h),
            Activation::Tanh => T::one() - h * h,
            Activation::Relu => {
                if z > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Activation::Linear => T::one(),
        }
    }

    /// `s''(z)`, from `z` and `h = s(z)`.
    #[inline]
    pub fn second_derivative<T: Scalar>(self, z: T, h: T) -> T {
        let two = T::one() + T::one();
        match self {
            Activation::Sigmoid => h * (T::one() - h) * (T::one() - two * h),
            Activation::Tanh => -two * h * (T::one() - h * h),
            Activation::Relu | Activation::Linear => {
                let _ = z;
                T::zero()
            }
        }
    }

    /// Applies `s` to every element of `z`, writing `h`.
    ///
    /// # Shapes
    /// `z` and `h` are the same shape; `h` is resized if it is not.
    pub fn apply_matrix<T: Scalar>(self, z: &DMatrix<T>, h: &mut DMatrix<T>) {
        if h.shape() != z.shape() {
            *h = DMatrix::zeros(z.nrows(), z.ncols());
        }
        let (z, h) = (z.as_slice(), h.as_mut_slice());
        // Pieces on several threads when the matrix is large: every element the same bits.
        let piece = crate::pool::piece_len(h.len());
        let pieces = h
            .chunks_mut(piece)
            .zip(z.chunks(piece))
            .map(|pair| (pair.1.len(), pair));
        // One loop per activation, so that each compiles to a tight (vectorisable) loop.
        crate::pool::for_each_piece(pieces, |(h, z)| match self {
            Activation::Sigmoid => crate::simd::wide(
                #[inline(always)]
                || {
                    h.iter_mut().zip(z).for_each(|(h, &z)| *h = sigmoid(z));
                },
            ),
            Activation::Tanh => crate::simd::wide(
                #[inline(always)]
                || {
                    h.iter_mut().zip(z).for_each(|(h, &z)| *h = tanh_fast(z));
                },
            ),
            Activation::Relu => h
                .iter_mut()
                .zip(z)
                .for_each(|(h, &z)| *h = z.max(T::zero())),
            Activation::Linear => h.copy_from_slice(z),
        });
    }

    /// `out[i] += upstream[i]·s'(z[i])` for every element: the chain rule through `s`, with
    /// `h = s(z)` already computed.
    ///
    /// # Shapes
    /// All four slices have the same length.
    pub fn accumulate_chain<T: Scalar>(self, z: &[T], h: &[T], upstream: &[T], out: &mut [T]) {
        let one = T::one();
        let piece = crate::pool::piece_len(out.len());
        let pieces = out
            .chunks_mut(piece)
            .zip(upstream.chunks(piece))
            .zip(z.chunks(piece).zip(h.chunks(piece)))
            .map(|piece| (piece.0.1.len(), piece));
        crate::pool::for_each_piece(pieces, |((out, upstream), (z, h))| {
            let terms = out.iter_mut().zip(upstream).zip(z.iter().zip(h));
            crate::simd::wide(
                #[inline(always)]
                || match self {
                    Activation::Sigmoid => {
                        terms.for_each(|((o, &u), (_, &h))| *o += u * h * (one - h))
                    }
                    Activation::Tanh => {
                        terms.for_each(|((o, &u), (_, &h))| *o += u * (one - h * h))
                    }
                    Activation::Relu => terms.for_each(|((o, &u), (&z, _))| {
                        if z > T::zero() {
                            *o += u;
                        }
                    }),
                    Activation::Linear => terms.for_each(|((o, &u), _)| *o += u),
                },
            );
        });
    }

    /// The contractive penalty's pass over one code unit's column: adds
    /// `c·s'(z[i])·s''(z[i])` to `g[i]` and returns `Σ_i s'(z[i])²`, with `h = s(z)`.
    ///
    /// # Shapes
    /// All three slices have the same length.
    pub(crate) fn accumulate_contractive<T: Scalar>(
        self,
        z: &[T],
        h: &[T],
        c: T,
        g: &mut [T],
    ) -> T {
        // One loop per activation, and eight partial sums, so that each loop vectorises.
        #[inline(always)]
        fn pass<T: Scalar>(a: Activation, z: &[T], h: &[T], c: T, g: &mut [T]) -> T {
            const LANES: usize = 8;
            let mut lanes = [T::zero(); LANES];
            let step = |lane: &mut T, g: &mut T, z: T, h: T| {
                let slope = a.derivative(z, h);
                *lane += slope * slope;
                *g += c * slope * a.second_derivative(z, h);
            };
            let mut g_chunks = g.chunks_exact_mut(LANES);
            let (z_chunks, h_chunks) = (z.chunks_exact(LANES), h.chunks_exact(LANES));
            let (z_rest, h_rest) = (z_chunks.remainder(), h_chunks.remainder());
            for ((g, z), h) in (&mut g_chunks).zip(z_chunks).zip(h_chunks) {
                for (((lane, g), &z), &h) in lanes.iter_mut().zip(g).zip(z).zip(h) {
                    step(lane, g, z, h);
                }
            }
            let g_rest = g_chunks.into_remainder();
            for (((lane, g), &z), &h) in lanes.iter_mut().zip(g_rest).zip(z_rest).zip(h_rest) {
                step(lane, g, z, h);
            }
            lanes.iter().fold(T::zero(), |sum, &lane| sum + lane)
        }
        match self {
            Activation::Sigmoid => pass(Activation::Sigmoid, z, h, c, g),
            Activation::Tanh => pass(Activation::Tanh, z, h, c, g),
            Activation::Relu => pass(Activation::Relu, z, h, c, g),
            Activation::Linear => pass(Activation::Linear, z, h, c, g),
        }
    }

    /// `g[i] *= s'(z[i])` for every element, with `h = s(z)` already computed.
    ///
    /// # Shapes
    /// All three slices have the same length.
    pub fn scale_by_derivative<T: Scalar>(self, z: &[T], h: &[T], g: &mut [T]) {
        let one = T::one();
        let piece = crate::pool::piece_len(g.len());
        let pieces = g
            .chunks_mut(piece)
            .zip(z.chunks(piece).zip(h.chunks(piece)))
            .map(|piece| (piece.1.0.len(), piece));
        crate::pool::for_each_piece(pieces, |(g, (z, h))| {
            let terms = g.iter_mut().zip(z.iter().zip(h));
            crate::simd::wide(
                #[inline(always)]
                || match self {
                    Activation::Sigmoid => terms.for_each(|(g, (_, &h))| *g *= h * (one - h)),
                    Activation::Tanh => terms.for_each(|(g, (_, &h))| *g *= one - h * h),
                    Activation::Relu => terms.for_each(|(g, (&z, _))| {
                        if z <= T::zero() {
                            *g = T::zero();
                        }
                    }),
                    Activation::Linear => {}
                },
            );
        });
    }
}

/// The logistic function `1 / (1 + e^(−z))`, without a branch: for `z ≪ 0` the exponential
/// overflows to ∞ and the result is exactly 0, for `z ≫ 0` it underflows to 0 and the result
/// is 1, so no finite `z` gives NaN. The exponential is the crate's own, so that a loop of
/// sigmoids vectorises.
#[inline(always)]
pub(crate) fn sigmoid<T: Scalar>(z: T) -> T {
    T::one() / (T::one() + (-z).exp_fast())
}

/// `ln(1 + e^z)`, stable for any finite `z`.
#[inline]
pub(crate) fn softplus<T: Scalar>(z: T) -> T {
    let zero = T::zero();
    let positive = if z > zero { z } else { zero };
    positive + (-z.abs()).exp().ln_1p()
}

/// `1/1!, 1/2!, …, 1/16!`.
const INVERSE_FACTORIALS: [f64; 16] = [
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
    1.0 / 87_178_291_200.0,
    1.0 / 1_307_674_368_000.0,
    1.0 / 20_922_789_888_000.0,
];

/// `tanh z` by the crate's own exponential, branch-free so that a loop of them vectorises (the
/// C library's is an opaque call per element): `tanh |z| = −t/(t + 2)` with
/// `t = e^(−2|z|) − 1`, which for `|2z| < ½` (where `e^x − 1` would cancel) comes from its
/// Taylor series instead. The same bits on every machine, within a few ulps of the C library.
#[inline(always)]
pub(crate) fn tanh_fast<T: Scalar>(z: T) -> T {
    let x = T::cast(-2.0) * z.abs();
    // e^x − 1 = x·Σ_j x^j/(j + 1)!: the terms fall below half an ulp of the type by x^9/9!
    // (f32) and x^16/16! (f64) for |x| ≤ ½.
    let terms = if T::PRECISION == crate::Precision::Single {
        9
    } else {
        16
    };
    let mut series = T::zero();
    for &c in INVERSE_FACTORIALS[..terms].iter().rev() {
        series = series * x + T::cast(c);
    }
    let small = x * series;
    let large = x.exp_fast() - T::one();
    let t = if x > T::cast(-0.5) { small } else { large };
    let magnitude = -t / (t + T::cast(2.0));
    if z < T::zero() { -magnitude } else { magnitude }
}

/// `ln(1 + e^z)` by the crate's own vectorisable exponential and logarithm: the same bits on
/// every machine, within a few ulps of [`softplus`] (absolutely, for `|z|` up to 1; relatively
/// beyond). NaN for NaN.
#[inline(always)]
pub(crate) fn softplus_fast<T: Scalar>(z: T) -> T {
    let zero = T::zero();
    let positive = if z > zero { z } else { zero };
    // 1 + e^−|z| lies in [1, 2], where the logarithm is accurate.
    let y = positive + (T::one() + (-z.abs()).exp_fast()).ln_fast();
    #[allow(clippy::eq_op)] // NaN is the one value not equal to itself.
    let nan = z != z;
    if nan { z } else { y }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn fast_tanh_is_within_a_few_ulps_of_the_c_library() {
        let (mut worst64, mut worst32) = (0.0_f64, 0.0_f64);
        let relative = |a: f64, b: f64| if a == b { 0.0 } else { (a - b).abs() / b.abs() };
        for i in -200_000..=200_000 {
            // Dense near 0, where the series takes over, and out to ±20 (tanh = ±1 beyond).
            let z = (i as f64 * 1e-4).powi(3) / 100.0;
            worst64 = worst64.max(relative(tanh_fast(z), z.tanh()));
            let z32 = z as f32;
            worst32 = worst32.max(relative(f64::from(tanh_fast(z32)), f64::from(z32).tanh()));
        }
        assert!(worst64 <= 4.0 * f64::EPSILON, "f64: {worst64:e}");
        assert!(worst32 <= 4.0 * f64::from(f32::EPSILON), "f32: {worst32:e}");
        for z in [
            0.0,
            1e-300,
            -1e-30,
            0.25,
            -0.25,
            50.0,
            -800.0,
            f64::INFINITY,
        ] {
            assert!(
                relative(tanh_fast(z), z.tanh()) <= 4.0 * f64::EPSILON,
                "{z}"
            );
        }
        assert_eq!(tanh_fast(f64::NEG_INFINITY), -1.0);
        assert!(tanh_fast(f64::NAN).is_nan());
        assert!(tanh_fast(f32::NAN).is_nan());
    }

    #[test]
    fn fast_softplus_is_within_a_few_ulps_of_the_c_library() {
        let (mut worst64, mut worst32) = (0.0_f64, 0.0_f64);
        for i in -400_000..=400_000 {
            let z = i as f64 * 1e-4;
            let exact = softplus(z);
            worst64 = worst64.max((softplus_fast(z) - exact).abs() / exact.max(1.0));
            let z32 = z as f32;
            let exact32 = softplus(f64::from(z32));
            worst32 =
                worst32.max((f64::from(softplus_fast(z32)) - exact32).abs() / exact32.max(1.0));
        }
        assert!(worst64 <= 4.0 * f64::EPSILON, "f64: {worst64:e}");
        assert!(worst32 <= 4.0 * f64::from(f32::EPSILON), "f32: {worst32:e}");
        // Far out, within an ulp of the larger of 1 and the value (e^−50 is lost in 1 + e^−50).
        for z in [
            -800.0,
            -50.0,
            0.0,
            50.0,
            800.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let (fast, exact) = (softplus_fast(z), softplus(z));
            assert!(
                fast == exact || (fast - exact).abs() <= f64::EPSILON * exact.max(1.0),
                "{z}"
            );
        }
        assert!(softplus_fast(f64::NAN).is_nan());
        assert!(softplus_fast(f32::NAN).is_nan());
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let step = 1e-5;
        for activation in Activation::ALL {
            for z in [-2.3, -0.4, 0.3, 1.7] {
                let h = activation.apply(z);
                let numeric =
                    (activation.apply(z + step) - activation.apply(z - step)) / (2.0 * step);
                assert_relative_eq!(activation.derivative(z, h), numeric, epsilon = 1e-8);
                let d = |z: f64| activation.derivative(z, activation.apply(z));
                let numeric2 = (d(z + step) - d(z - step)) / (2.0 * step);
                assert_relative_eq!(activation.second_derivative(z, h), numeric2, epsilon = 1e-7);
            }
        }
    }

    #[test]
    fn sigmoid_and_softplus_are_stable_at_the_edges() {
        assert_eq!(sigmoid(-800.0_f64), 0.0);
        assert_eq!(sigmoid(800.0_f64), 1.0);
        assert_relative_eq!(softplus(0.0_f64), 2.0_f64.ln());
        assert_relative_eq!(softplus(1000.0_f64), 1000.0);
        assert!(softplus(-1000.0_f64) >= 0.0);
        assert!(sigmoid(-100.0_f32).is_finite());
    }

    #[test]
    fn names_round_trip() {
        for activation in Activation::ALL {
            assert_eq!(Activation::from_name(activation.name()), Some(activation));
        }
        assert_eq!(Activation::from_name("softmax"), None);
    }
}
