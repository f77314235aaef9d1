//! `DynamicAutoencoder::from_safetensors` on arbitrary bytes, as f32 and as f64.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| autoencoders_fuzz::model_file(data));
