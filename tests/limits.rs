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

    // A stream's buffers are tensors too: a shuffle buffer, a batch or a permutation beyond
    // the ceiling is a typed error, not an allocation.
    {
        use autoencoders::data::{Stream, StreamOrder};
        use autoencoders::source::BatchSource;
        use rand::SeedableRng;
        let mut body = vec![0u8, 0, 8, 2, 0, 0, 0, 100, 0, 0, 3, 16];
        body.extend(std::iter::repeat_n(7u8, 100 * 784));
        let file = dir.join("stream.idx");
        std::fs::write(&file, body).unwrap();
        let mut generator = rand::rngs::ChaCha8Rng::seed_from_u64(0);
        let (mut batch, mut labels) = (nalgebra::DMatrix::<f32>::zeros(0, 0), Vec::new());
        limits::set_max_elements(10_000);
        let mut buffered = Stream::<f32>::idx(&file, StreamOrder::Buffer { buffer: 8192 }).unwrap();
        assert!(matches!(
            buffered.start_epoch(true, &mut generator),
            Err(Error::TooLarge { .. })
        ));
        let mut plain = Stream::<f32>::idx(&file, StreamOrder::InMemory).unwrap();
        plain.start_epoch(false, &mut generator).unwrap();
        assert!(matches!(
            plain.next_batch(64, &mut batch, &mut labels),
            Err(Error::TooLarge { .. })
        ));
        assert_eq!(plain.next_batch(8, &mut batch, &mut labels).unwrap(), 8);
        limits::set_max_elements(50);
        assert!(matches!(
            plain.start_epoch(true, &mut generator),
            Err(Error::TooLarge { .. })
        ));
        limits::set_max_elements(limits::DEFAULT_MAX_ELEMENTS);
        assert!(buffered.start_epoch(true, &mut generator).is_ok());
    }

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
