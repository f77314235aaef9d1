//! `Serialize` and `Deserialize` for the configuration and hyper-parameter types (feature
//! `serde`), deserialisation validating exactly as the constructors do.
//!
//! A type whose values have limits derives serde's code with `#[serde(remote = "Self")]`,
//! which writes it as inherent functions; [`validated!`] then implements the traits, the
//! deserialiser running the derived code and then the type's constructor or `validate`, so a
//! value the constructors refuse (`{"weight": -1}` for [`L1Sparsity`]) is refused with the
//! constructor's error message. Types without limits derive the traits directly.
//! No type that holds a nalgebra matrix implements them (nalgebra#982).

use crate::data::CsvOptions;
use crate::{
    Checkpointing, Contractive, Correntropy, DenseBuilder, GaussianNoise, Init, KlSparsity,
    L1Sparsity, L2Sparsity, LearningRateSchedule, Masking, SaltAndPepper, TrainingConfig,
    WeightDecay,
};

/// The deserialised `value` if `check` accepts it, else the check's error as serde's.
fn checked<T, U, E: serde::de::Error>(
    value: T,
    check: impl FnOnce(&T) -> crate::Result<U>,
) -> Result<T, E> {
    check(&value).map_err(E::custom)?;
    Ok(value)
}

/// `Serialize` and `Deserialize` for types that derive serde's code with `remote = "Self"`,
/// each with the check its deserialised values must pass.
macro_rules! validated {
    ($($ty:ty => $check:expr;)+) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                <$ty>::serialize(self, serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                checked(<$ty>::deserialize(deserializer)?, $check)
            }
        }
    )+};
}

validated! {
    L1Sparsity => |r: &L1Sparsity| L1Sparsity::new(r.weight());
    L2Sparsity => |r: &L2Sparsity| L2Sparsity::new(r.weight());
    WeightDecay => |r: &WeightDecay| WeightDecay::new(r.weight());
    Contractive => |r: &Contractive| Contractive::new(r.weight());
    KlSparsity => |r: &KlSparsity| KlSparsity::new(r.target(), r.weight());
    GaussianNoise => |c: &GaussianNoise| GaussianNoise::new(c.std_dev());
    Masking => |c: &Masking| Masking::new(c.probability());
    SaltAndPepper => |c: &SaltAndPepper| SaltAndPepper::new(c.probability());
    Correntropy => |l: &Correntropy| Correntropy::new(l.sigma());
    Init => Init::validate;
    DenseBuilder => DenseBuilder::validate;
    LearningRateSchedule => LearningRateSchedule::validate;
    TrainingConfig => TrainingConfig::validate;
    Checkpointing => Checkpointing::validate;
    CsvOptions => CsvOptions::validate;
}
