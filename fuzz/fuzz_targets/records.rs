//! The other record kinds on arbitrary bytes: checkpoints, deep and stacked models, the
//! classifier, pretraining checkpoints and VAE parameters.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| autoencoders_fuzz::records(data));
