//! The README's snippet, compiled in a crate whose own `rand` is not the one autoencoders uses.

fn readme_snippet() -> Result<(), autoencoders::Error> {
    include!(concat!(env!("OUT_DIR"), "/snippet.rs"))
}

fn main() {
    // Our own rand, of another version, is usable beside the crate's.
    let ours: u32 = rand::random();
    let _ = ours;
    match readme_snippet() {
        Ok(()) => println!("the README's snippet ran with rand 0.9 in the user's crate"),
        Err(error) => {
            eprintln!("the README's snippet failed: {error}");
            std::process::exit(1);
        }
    }
}
