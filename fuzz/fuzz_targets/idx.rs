//! `data::parse_idx` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| autoencoders_fuzz::idx(data));
