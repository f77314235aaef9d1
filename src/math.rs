//! Elementary functions of the crate's own, branch-free so that loops of them compile to
//! vector instructions, unlike the C library's, which are an opaque call per element. Pure
//! arithmetic without fused multiply-adds, so they give the same bits on every machine.
//!
//! - `e^x`, for the sigmoid of every code and every reconstructed pixel (a tenth of a plain
//!   training step through the C library).
//! - Standard normal draws by the Box–Muller transform, with its logarithm, sine and cosine,
//!   for Gaussian corruption (a ziggurat draw per element cost over a tenth of a denoising
//!   step).
//!
//! The exponential: classic Cody–Waite reduction, `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`, a Taylor polynomial
//! for `e^r` (its truncation error is below half an ulp of the type), and `2^n` built from the
//! exponent bits in two halves so that results that underflow to subnormals or overflow to ∞
//! come out as the C library's do. The result is within two ulps of the exact value.

macro_rules! exp_impl {
    ($name:ident, $t:ty, $bits:ty, $ubits:ty, $mantissa:expr, $bias:expr, $low:expr, $high:expr,
     $ln2_hi:expr, $ln2_lo:expr, [$($c:expr),+]) => {
        /// `e^x`: NaN for NaN, `0` (or a subnormal) far below zero, `∞` above the overflow
        /// threshold.
        #[inline(always)]
        pub(crate) fn $name(x: $t) -> $t {
            // Clamping keeps `n` inside the range where the two halves of 2^n are normal numbers;
            // beyond it the result is 0 or ∞ anyway.
            let clamped = x.max($low).min($high);
            // Adding 1.5·2^mantissa rounds to the nearest integer (ties to even) and leaves it
            // in the low bits, with no rounding instruction (absent from baseline x86-64).
            let magic: $t = 1.5 * (1u64 << $mantissa) as $t;
            let shifted = clamped * core::f64::consts::LOG2_E as $t + magic;
            let n = shifted - magic;
            let r = (clamped - n * $ln2_hi) - n * $ln2_lo;
            let mut p: $t = 0.0;
            for c in [$($c),+] {
                p = p * r + c;
            }
            let n = shifted.to_bits().wrapping_sub(magic.to_bits()) as $bits;
            let half = n >> 1;
            let scale = |e: $bits| <$t>::from_bits(((e + $bias) as $ubits) << $mantissa);
            let y = p * scale(half) * scale(n - half);
            if x.is_nan() { x } else { y }
        }
    };
}

// Taylor coefficients of e^r, highest degree first (1/k!).
exp_impl!(
    exp_f32,
    f32,
    i32,
    u32,
    23,
    127,
    -104.0,
    89.0,
    0.693_145_75_f32,
    1.428_606_8e-6_f32,
    [
        1.0 / 5040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0
    ]
);
exp_impl!(
    exp_f64,
    f64,
    i64,
    u64,
    52,
    1023,
    -746.0,
    710.0,
    0.693_147_180_369_123_8_f64,
    1.908_214_929_270_587_7e-10_f64,
    [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0
    ]
);

macro_rules! normal_impl {
    ($name:ident, $ln:ident, $sincos:ident, $t:ty, $bits:ty, $signed:ty, $bytes:expr, $mantissa:expr,
     $bias:expr, [$($ln_c:expr),+], [$($sin_c:expr),+], [$($cos_c:expr),+]) => {
        /// `ln x` for a normal, positive `x` (the Box–Muller uniforms: `(0, 1]`): `x = 2^e·m`
        /// with `m ∈ [√½, √2)`, then `ln m = 2·atanh(s)`, `s = (m − 1)/(m + 1)`, by its series.
        #[inline(always)]
        pub(crate) fn $ln(x: $t) -> $t {
            let bits = x.to_bits();
            // Exponent and mantissa, the mantissa moved into [√½, √2).
            let exponent = ((bits >> $mantissa) as i64 - $bias) as $t;
            let m = <$t>::from_bits((bits & ((1 << $mantissa) - 1)) | (($bias as $bits) << $mantissa));
            let big = m > core::f64::consts::SQRT_2 as $t;
            let (m, exponent) = if big { (m * 0.5, exponent + 1.0) } else { (m, exponent) };
            let s = (m - 1.0) / (m + 1.0);
            let s2 = s * s;
            let mut p: $t = 0.0;
            for c in [$($ln_c),+] {
                p = p * s2 + c;
            }
            exponent * core::f64::consts::LN_2 as $t + 2.0 * s * p
        }

        /// `(sin 2πu, cos 2πu)` for `u ∈ [0, 1)`: the nearest quarter turn `q/4` is split off,
        /// the rest (an angle within ±π/4) goes through Taylor series, and the quarter turn
        /// swaps and negates.
        #[inline(always)]
        fn $sincos(u: $t) -> ($t, $t) {
            // The nearest quarter turn, by truncation (the argument is positive): no rounding
            // instruction in baseline x86-64.
            let q = (u * 4.0 + 0.5) as i32;
            let a = (u - q as $t * 0.25) * core::f64::consts::TAU as $t;
            let a2 = a * a;
            let mut sin: $t = 0.0;
            for c in [$($sin_c),+] {
                sin = sin * a2 + c;
            }
            let sin = sin * a;
            let mut cos: $t = 0.0;
            for c in [$($cos_c),+] {
                cos = cos * a2 + c;
            }
            let q = q & 3;
            let (s, c) = if q & 1 == 1 { (cos, -sin) } else { (sin, cos) };
            if q & 2 == 2 { (-s, -c) } else { (s, c) }
        }

        /// Fills `out` with standard normal draws: Box–Muller on uniforms made of the top
        /// mantissa bits of the generator's output, `u₁ ∈ (0, 1]` (so `ln u₁` is finite; the
        /// draws are bounded by `√(−2 ln 2^−(mantissa + 1))`, 5.8 for `f32` and 8.6 for `f64`)
        /// and `u₂ ∈ [0, 1)`.
        pub(crate) fn $name<R: rand::Rng + ?Sized>(rng: &mut R, out: &mut [$t]) {
            const CHUNK: usize = 64;
            const HALF: usize = CHUNK / 2;
            const WIDTH: usize = $bytes;
            let step = 1.0 / (1u64 << ($mantissa + 1)) as $t;
            let mut bytes = [0u8; CHUNK * WIDTH];
            let mut normals = [0.0 as $t; CHUNK];
            // Vectorised eight wide where the CPU allows, with the same bits.
            crate::simd::wide(#[inline(always)] || {
                for chunk in out.chunks_mut(CHUNK) {
                    rng.fill_bytes(&mut bytes);
                    let mut uniforms = [0.0 as $t; CHUNK];
                    for (u, b) in uniforms.iter_mut().zip(bytes.chunks_exact(WIDTH)) {
                        let word = <$bits>::from_le_bytes(b.try_into().expect("WIDTH bytes"));
                        // Through the signed type: converting it vectorises (it fits).
                        *u = (word >> (8 * WIDTH - $mantissa - 1)) as $signed as $t * step;
                    }
                    let (first, second) = uniforms.split_at(HALF);
                    let (cosines, sines) = normals.split_at_mut(HALF);
                    for (((&u1, &u2), c), s) in first.iter().zip(second).zip(cosines).zip(sines) {
                        let radius = (-2.0 * $ln(1.0 - u1)).sqrt();
                        let (sin, cos) = $sincos(u2);
                        *c = radius * cos;
                        *s = radius * sin;
                    }
                    let n = chunk.len();
                    chunk.copy_from_slice(&normals[..n]);
                }
            });
        }
    };
}

// ln: the series 2·atanh(s)/s = 2·Σ s^(2k)/(2k + 1), as coefficients of s² in Horner order and
// halved (the factor 2 is applied at the end); sine and cosine: Taylor coefficients in a².
normal_impl!(
    standard_normals_f32,
    ln_f32,
    sincos_f32,
    f32,
    u32,
    i32,
    4,
    23,
    127,
    [1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 1.0],
    [
        1.0 / 362_880.0,
        -1.0 / 5_040.0,
        1.0 / 120.0,
        -1.0 / 6.0,
        1.0
    ],
    [
        -1.0 / 3_628_800.0,
        1.0 / 40_320.0,
        -1.0 / 720.0,
        1.0 / 24.0,
        -0.5,
        1.0
    ]
);
normal_impl!(
    standard_normals_f64,
    ln_f64,
    sincos_f64,
    f64,
    u64,
    i64,
    8,
    52,
    1023,
    [
        1.0 / 21.0,
        1.0 / 19.0,
        1.0 / 17.0,
        1.0 / 15.0,
        1.0 / 13.0,
        1.0 / 11.0,
        1.0 / 9.0,
        1.0 / 7.0,
        1.0 / 5.0,
        1.0 / 3.0,
        1.0
    ],
    [
        1.0 / 355_687_428_096_000.0,
        -1.0 / 1_307_674_368_000.0,
        1.0 / 6_227_020_800.0,
        -1.0 / 39_916_800.0,
        1.0 / 362_880.0,
        -1.0 / 5_040.0,
        1.0 / 120.0,
        -1.0 / 6.0,
        1.0
    ],
    [
        1.0 / 20_922_789_888_000.0,
        -1.0 / 87_178_291_200.0,
        1.0 / 479_001_600.0,
        -1.0 / 3_628_800.0,
        1.0 / 40_320.0,
        -1.0 / 720.0,
        1.0 / 24.0,
        -0.5,
        1.0
    ]
);

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::ChaCha8Rng;

    /// Distance in units in the last place between two finite values of the same sign.
    fn ulps32(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    fn ulps64(a: f64, b: f64) -> u64 {
        (a.to_bits() as i128 - b.to_bits() as i128).unsigned_abs() as u64
    }

    #[test]
    fn f32_within_two_ulps_of_the_exact_value_over_the_whole_range() {
        let mut worst = 0;
        let mut x = -103.9_f32;
        while x < 88.7 {
            // The exact value, rounded once to f32 from f64.
            let exact = (x as f64).exp() as f32;
            worst = worst.max(ulps32(exp_f32(x), exact));
            x += 0.001_3;
        }
        assert!(worst <= 2, "worst error {worst} ulps");
    }

    #[test]
    fn f64_within_two_ulps_of_the_c_library() {
        let mut worst = 0;
        let mut x = -708.0_f64;
        while x < 709.0 {
            worst = worst.max(ulps64(exp_f64(x), x.exp()));
            x += 0.000_71;
        }
        assert!(worst <= 2, "worst error {worst} ulps");
    }

    #[test]
    fn edges_match_the_c_library() {
        for x in [
            0.0_f64, -0.0, 1.0, -1.0, 1e-300, -745.0, -744.5, -800.0, 709.7, 710.0, 800.0,
        ] {
            let (ours, libm) = (exp_f64(x), x.exp());
            assert!(
                ulps64(ours, libm) <= 2 || ours == libm,
                "e^{x}: {ours} vs {libm}"
            );
        }
        assert_eq!(exp_f64(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp_f64(f64::NEG_INFINITY), 0.0);
        assert!(exp_f64(f64::NAN).is_nan());
        assert_eq!(exp_f32(-1e3), 0.0);
        assert_eq!(exp_f32(1e3), f32::INFINITY);
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(f32::NAN).is_nan());
        // Gradual underflow: e^-100 is a subnormal f32.
        let tiny = exp_f32(-100.0);
        assert!(tiny > 0.0 && tiny < f32::MIN_POSITIVE);
        assert!(ulps32(tiny, (-100.0_f64).exp() as f32) <= 2);
    }

    #[test]
    fn logarithm_sine_and_cosine_are_accurate() {
        let (mut ln_err, mut trig_err) = (0.0_f64, 0.0_f64);
        for i in 1..=100_000 {
            let x = i as f64 / 100_000.0;
            ln_err = ln_err.max((ln_f64(x) - x.ln()).abs() / x.ln().abs().max(1e-300));
            let u = (i - 1) as f64 / 100_000.0;
            let (s, c) = sincos_f64(u);
            let angle = std::f64::consts::TAU * u;
            trig_err = trig_err
                .max((s - angle.sin()).abs())
                .max((c - angle.cos()).abs());
            let (s32, c32) = sincos_f32(u as f32);
            let angle32 = std::f64::consts::TAU * (u as f32 as f64);
            assert!((f64::from(s32) - angle32.sin()).abs() < 3e-7, "sin 2π·{u}");
            assert!((f64::from(c32) - angle32.cos()).abs() < 3e-7, "cos 2π·{u}");
            assert!(
                (f64::from(ln_f32(x as f32)) - (x as f32 as f64).ln()).abs()
                    <= 2.0 * f64::from(f32::EPSILON) * (x as f32 as f64).ln().abs().max(1.0),
                "ln {x}"
            );
        }
        // f64: relative error of ln within 8 ulps (near x = 1, where ln x → 0, the division
        // in s = (m − 1)/(m + 1) dominates; the radius √(−2 ln u) needs no more), and sine and
        // cosine within a few ulps of 1 (the angle 2πu is rounded before libm sees it).
        assert!(ln_err < 8.0 * f64::EPSILON, "ln: {ln_err:e}");
        assert!(trig_err < 8.0 * f64::EPSILON, "sin/cos: {trig_err:e}");
    }

    /// Mean, variance, skewness, excess kurtosis and the fraction beyond ±1σ, ±2σ of a million
    /// draws, against the standard normal's 0, 1, 0, 0, 0.3173, 0.0455; tolerances are about
    /// five standard errors.
    fn check_moments(draws: &[f64]) {
        let n = draws.len() as f64;
        let mean = draws.iter().sum::<f64>() / n;
        let moment = |k: i32| draws.iter().map(|d| (d - mean).powi(k)).sum::<f64>() / n;
        let variance = moment(2);
        let skew = moment(3) / variance.powf(1.5);
        let kurtosis = moment(4) / (variance * variance) - 3.0;
        let beyond = |t: f64| draws.iter().filter(|d| d.abs() > t).count() as f64 / n;
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((variance - 1.0).abs() < 0.007, "variance {variance}");
        assert!(skew.abs() < 0.012, "skewness {skew}");
        assert!(kurtosis.abs() < 0.025, "excess kurtosis {kurtosis}");
        assert!(
            (beyond(1.0) - 0.317_31).abs() < 0.0025,
            "beyond 1σ {}",
            beyond(1.0)
        );
        assert!(
            (beyond(2.0) - 0.045_50).abs() < 0.0011,
            "beyond 2σ {}",
            beyond(2.0)
        );
        assert!(draws.iter().all(|d| d.is_finite()));
    }

    #[test]
    fn normal_draws_have_the_moments_of_a_standard_normal() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // An odd length, so that the last chunk is partial.
        let mut f32s = vec![0.0_f32; 1_000_003];
        standard_normals_f32(&mut rng, &mut f32s);
        check_moments(&f32s.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
        let mut f64s = vec![0.0_f64; 1_000_003];
        standard_normals_f64(&mut rng, &mut f64s);
        check_moments(&f64s);
        // Independent draws: consecutive values are uncorrelated (lag 1 and the Box–Muller
        // partners, which sit half a chunk apart).
        for lag in [1, 32] {
            let c = f64s.windows(lag + 1).map(|w| w[0] * w[lag]).sum::<f64>() / f64s.len() as f64;
            assert!(c.abs() < 0.005, "lag {lag} correlation {c}");
        }
    }

    #[test]
    fn normal_draws_are_reproducible() {
        let draw = |seed| {
            let mut v = vec![0.0_f32; 100];
            standard_normals_f32(&mut ChaCha8Rng::seed_from_u64(seed), &mut v);
            v
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }
}
