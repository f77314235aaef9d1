//! The workspace member that holds the `train` and `experiments` examples, the criterion
//! benches and the property tests of `autoencoders`: the targets whose dependencies (clap,
//! criterion, proptest) a user who only wants the library, or its quickstart, need not compile.
//!
//! Their files live in the repository's `examples/`, `benches/` and `tests/` folders; this
//! library is empty.
