//! `data::parse_csv` on arbitrary text, with options chosen by the first byte.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| autoencoders_fuzz::csv(data));
