//! The resource policy, in a test binary of its own since its ceilings are process-wide: a gzip
//! bomb stops at the decompression limit with an error that says so, a FIFO is refused without
//! blocking, and oversized layers get a typed error.

use autoencoders::data::{CsvOptions, read_bytes, read_csv, read_idx};
use autoencoders::{Checkpoint, DenseBuilder, DynamicAutoencoder, Error, limits};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("autoencoders-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_policy_holds() {
    let dir = scratch("limits");

    // A gzip stream of 8 MiB of zeros behind a valid IDX header, under a 1 MiB limit.
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(&[0, 0, 8, 1, 0, 0x80, 0, 0]).unwrap();
    encoder.write_all(&vec![0u8; 8 << 20]).unwrap();
    let bomb = dir.join("bomb.idx.gz");
    std::fs::write(&bomb, encoder.finish().unwrap()).unwrap();
    assert!(read_idx(&bomb).is_ok(), "within the default limit it reads");
    limits::set_max_decompressed_bytes(1 << 20);
    for result in [
        read_idx(&bomb).map(|_| ()),
        read_bytes(&bomb).map(|_| ()),
        read_csv::<f32>(&bomb, &CsvOptions::default()).map(|_| ()),
    ] {
        assert!(
            matches!(&result, Err(Error::DecompressionLimit { limit, .. }) if *limit == 1 << 20),
            "{result:?}"
        );
    }
    limits::set_max_decompressed_bytes(limits::DEFAULT_MAX_DECOMPRESSED_BYTES);

    // Layers past the ceiling, or whose size overflows.
    let mut rng = autoencoders::rand::SeedableRng::seed_from_u64(1);
    let rng: &mut autoencoders::rand::rngs::ChaCha8Rng = &mut rng;
    for (input, code) in [(784, 1 << 30), (usize::MAX, 2), (2, usize::MAX)] {
        let built = DenseBuilder::new(input, code).build::<f32, _>(rng);
        assert!(
            matches!(built, Err(Error::TooLarge { .. })),
            "{input} × {code}"
        );
    }
    limits::set_max_elements(100);
    assert!(matches!(
        DenseBuilder::new(20, 10).build::<f64, _>(rng),
        Err(Error::TooLarge { .. })
    ));
    limits::set_max_elements(limits::DEFAULT_MAX_ELEMENTS);
    assert!(DenseBuilder::new(20, 10).build::<f64, _>(rng).is_ok());

    // Folders, and FIFOs with no writer, are refused before they are opened.
    refused_quickly(&dir);
    let fifo = dir.join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        refused_quickly(&fifo);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every reader refuses `path` as not a regular file, within a few seconds.
fn refused_quickly(path: &Path) {
    let (send, receive) = mpsc::channel();
    let owned = path.to_path_buf();
    std::thread::spawn(move || {
        let p = owned.as_path();
        let results = [
            read_idx(p).err(),
            read_csv::<f64>(p, &CsvOptions::default()).err(),
            read_bytes(p).err(),
            DynamicAutoencoder::<f32>::load(p).err(),
            Checkpoint::<f32>::load(p).err(),
        ];
        send.send(results.map(|e| matches!(e, Some(Error::NotARegularFile { .. }))))
            .unwrap();
    });
    let refused = receive
        .recv_timeout(Duration::from_secs(10))
        .expect("a reader blocked on a file that is not regular");
    assert_eq!(refused, [true; 5], "{}", path.display());
}
