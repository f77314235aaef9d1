//! Batch sources: training from any source gives what training from a matrix gives, a
//! streamed IDX file in its in-memory order trains to the same bits as the file in memory, every
//! shuffled order hands out each sample once per epoch, and sources that misbehave or files that
//! are broken give typed errors.

mod common;

use autoencoders::data::{FittedScaler, Scaler, Stream, StreamOrder, read_idx};
use autoencoders::source::{BatchSource, InMemory};
use autoencoders::{
    Activation, Adam, Classifier, DenseBuilder, DenseVae, Encoder, Error, Init, LayerSpec,
    LayerwisePretrainer, Likelihood, Masking, Sgd, TrainingConfig,
};
use common::{rng, uniform};
use nalgebra::DMatrix;
use rand::{Rng, RngExt};
use std::io::Write;
use std::path::{Path, PathBuf};

#[global_allocator]
static ALLOCATOR: common::allocation::Counting = common::allocation::Counting;

fn bits<T: Copy + Into<f64>>(parameters: Vec<&[T]>) -> Vec<u64> {
    parameters
        .iter()
        .flat_map(|p| p.iter().map(|&v| Into::<f64>::into(v).to_bits()))
        .collect()
}

/// A temporary folder, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("autoencoders-source-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Folder(path)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An IDX file of bytes with dimensions `dims` and the given body.
fn idx_bytes(type_code: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, type_code, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(body);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut out,
    )
    .unwrap();
    out
}

/// The bundled training digits as an uncompressed IDX file (and their labels) in `folder`.
fn digits_files(folder: &Folder) -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let images = folder.join("train-images-idx3-ubyte");
    let labels = folder.join("train-labels-idx1-ubyte");
    std::fs::write(&images, gunzip(&root.join("train-images-idx3-ubyte.gz"))).unwrap();
    std::fs::write(&labels, gunzip(&root.join("train-labels-idx1-ubyte.gz"))).unwrap();
    (images, labels)
}

/// The first `n` samples of `path` read into memory and scaled by 1/255 as a stream with the
/// `Bytes` scaler scales them.
fn in_memory(path: &Path, n: usize) -> DMatrix<f32> {
    let x = read_idx(path).unwrap().to_matrix::<f32>();
    let x = x.rows(0, n).into_owned();
    FittedScaler::bytes(784).transform(&x).unwrap()
}

/// Every sample of one epoch of `source`, as the values of feature 0, in the order handed out.
fn epoch_order<S: BatchSource<f64>>(
    source: &mut S,
    shuffle: bool,
    seed: u64,
    batch: usize,
) -> Vec<u64> {
    source.start_epoch(shuffle, &mut rng(seed)).unwrap();
    let (mut b, mut labels) = (DMatrix::zeros(0, 0), Vec::new());
    let mut seen = Vec::new();
    loop {
        let k = source.next_batch(batch, &mut b, &mut labels).unwrap();
        if k == 0 {
            return seen;
        }
        assert!(k <= batch);
        seen.extend(b.column(0).iter().map(|&v| v as u64));
    }
}

/// A file of `n` samples of 3 features `(i, 2i, 3i)` as `i32`.
fn numbered(path: &Path, n: u32) {
    let mut body = Vec::new();
    for i in 0..n as i32 {
        for m in 1..=3 {
            body.extend_from_slice(&(i * m).to_be_bytes());
        }
    }
    std::fs::write(path, idx_bytes(0x0C, &[n, 3], &body)).unwrap();
}

#[test]
fn every_trainer_gives_the_same_bits_from_an_in_memory_source_as_from_the_matrix() {
    let x = uniform(70, 6, 0.0, 1.0, &mut rng(1));
    let config = TrainingConfig::default().with_epochs(3).with_batch_size(16);
    let base = DenseBuilder::new(6, 4)
        .build::<f64, _>(&mut rng(2))
        .unwrap()
        .with_corruption(Masking::new(0.3).unwrap());

    let mut a = base.clone();
    let ha = a
        .fit_with(
            &x,
            None,
            &config,
            &mut Adam::new(0.01).unwrap(),
            &mut rng(3),
            &mut (),
        )
        .unwrap();
    let mut b = base.clone();
    let hb = b
        .fit_source(
            &mut InMemory::new(&x),
            None,
            &config,
            &mut Adam::new(0.01).unwrap(),
            &mut rng(3),
            &mut (),
        )
        .unwrap();
    assert_eq!(bits(a.parameters()), bits(b.parameters()));
    assert_eq!(ha.epochs, hb.epochs);

    // The VAE, whose batches also draw the reparameterisation noise.
    let vae = DenseVae::<f64>::dense(
        6,
        &[5],
        2,
        Activation::Tanh,
        Likelihood::Bernoulli,
        &mut rng(4),
    )
    .unwrap()
    .with_corruption(Masking::new(0.2).unwrap());
    let (mut va, mut vb) = (vae.clone(), vae);
    va.fit_with(
        &x,
        None,
        &config,
        &mut Adam::new(0.01).unwrap(),
        &mut rng(5),
        &mut (),
    )
    .unwrap();
    vb.fit_source(
        &mut InMemory::new(&x),
        None,
        &config,
        &mut Adam::new(0.01).unwrap(),
        &mut rng(5),
        &mut (),
    )
    .unwrap();
    assert_eq!(bits(va.parameters()), bits(vb.parameters()));

    // The classifier, on labelled samples.
    let labels: Vec<usize> = (0..70).map(|i| i % 3).collect();
    let encoder = base.into_parts().0;
    let classifier = Classifier::new(encoder, 3, Init::GlorotUniform, &mut rng(6)).unwrap();
    let (mut ca, mut cb) = (classifier.clone(), classifier.clone());
    ca.fit(
        &x,
        &labels,
        &config,
        &mut Sgd::new(0.1).unwrap(),
        &mut rng(7),
    )
    .unwrap();
    cb.fit_source(
        &mut InMemory::with_labels(&x, &labels).unwrap(),
        None,
        &config,
        &mut Sgd::new(0.1).unwrap(),
        &mut rng(7),
        &mut (),
    )
    .unwrap();
    assert_eq!(bits(ca.parameters()), bits(cb.parameters()));

    // Without labels, a classifier refuses the source.
    let mut cc = classifier;
    assert!(matches!(
        cc.fit_source(
            &mut InMemory::new(&x),
            None,
            &config,
            &mut Sgd::new(0.1).unwrap(),
            &mut rng(7),
            &mut ()
        ),
        Err(Error::SourceMismatch { .. })
    ));
}

#[test]
fn a_streamed_file_in_the_in_memory_order_trains_to_the_bits_of_the_file_in_memory() {
    let folder = Folder::new("same-bits");
    let (images, labels) = digits_files(&folder);
    let x = in_memory(&images, 8000);
    let config = TrainingConfig::default().with_epochs(2).with_batch_size(64);
    let base = DenseBuilder::new(784, 16)
        .with_encoder_activation(Activation::Relu)
        .build::<f32, _>(&mut rng(11))
        .unwrap()
        .with_corruption(Masking::new(0.25).unwrap());

    let mut memory = base.clone();
    memory
        .fit_with(
            &x,
            None,
            &config,
            &mut Adam::new(1e-3).unwrap(),
            &mut rng(12),
            &mut (),
        )
        .unwrap();
    let mut stream = Stream::<f32>::idx(&images, StreamOrder::InMemory)
        .unwrap()
        .with_scaler(FittedScaler::bytes(784))
        .unwrap();
    let mut streamed = base.clone();
    streamed
        .fit_source(
            &mut stream,
            None,
            &config,
            &mut Adam::new(1e-3).unwrap(),
            &mut rng(12),
            &mut (),
        )
        .unwrap();
    assert_eq!(bits(memory.parameters()), bits(streamed.parameters()));

    // The same from the gzip-compressed file in file order (no shuffling).
    let unshuffled = config.with_shuffle(false).with_epochs(1);
    let gz = folder.join("train-images.gz");
    std::fs::write(&gz, gzip(&std::fs::read(&images).unwrap())).unwrap();
    let mut memory = base.clone();
    memory
        .fit_with(
            &x,
            None,
            &unshuffled,
            &mut Sgd::new(0.05).unwrap(),
            &mut rng(13),
            &mut (),
        )
        .unwrap();
    let mut stream = Stream::<f32>::idx(&gz, StreamOrder::Buffer { buffer: 100 })
        .unwrap()
        .with_scaler(FittedScaler::bytes(784))
        .unwrap();
    let mut streamed = base.clone();
    streamed
        .fit_source(
            &mut stream,
            None,
            &unshuffled,
            &mut Sgd::new(0.05).unwrap(),
            &mut rng(13),
            &mut (),
        )
        .unwrap();
    assert_eq!(bits(memory.parameters()), bits(streamed.parameters()));

    // A classifier on the streamed file and its labels, against the file in memory.
    let y = read_idx(&labels).unwrap().to_labels("labels").unwrap();
    let n = 2000;
    let classifier =
        Classifier::new(base.into_parts().0, 10, Init::GlorotUniform, &mut rng(14)).unwrap();
    let (mut ca, mut cb) = (classifier.clone(), classifier);
    let short = TrainingConfig::default().with_epochs(1).with_batch_size(50);
    let x_small = x.rows(0, n).into_owned();
    ca.fit(
        &x_small,
        &y[..n],
        &short.with_shuffle(false),
        &mut Sgd::new(0.1).unwrap(),
        &mut rng(15),
    )
    .unwrap();
    let small = folder.join("small-images");
    let small_labels = folder.join("small-labels");
    let bytes = std::fs::read(&images).unwrap();
    let mut head = idx_bytes(0x08, &[n as u32, 28, 28], &bytes[16..16 + n * 784]);
    std::fs::write(&small, &head).unwrap();
    head = idx_bytes(
        0x08,
        &[n as u32],
        &std::fs::read(&labels).unwrap()[8..8 + n],
    );
    std::fs::write(&small_labels, &head).unwrap();
    let mut stream = Stream::<f32>::idx(&small, StreamOrder::default())
        .unwrap()
        .with_labels(&small_labels)
        .unwrap()
        .with_scaler(FittedScaler::bytes(784))
        .unwrap();
    cb.fit_source(
        &mut stream,
        None,
        &short.with_shuffle(false),
        &mut Sgd::new(0.1).unwrap(),
        &mut rng(15),
        &mut (),
    )
    .unwrap();
    assert_eq!(bits(ca.parameters()), bits(cb.parameters()));
}

#[test]
fn every_shuffled_order_hands_out_each_sample_once_and_a_seed_fixes_it() {
    let folder = Folder::new("orders");
    let path = folder.join("numbered");
    let n = 1000;
    numbered(&path, n);
    let gz = folder.join("numbered.gz");
    std::fs::write(&gz, gzip(&std::fs::read(&path).unwrap())).unwrap();
    let everything: Vec<u64> = (0..n as u64).collect();
    let orders = [
        (path.clone(), StreamOrder::InMemory),
        (
            path.clone(),
            StreamOrder::Blocks {
                block: 64,
                buffer: 100,
            },
        ),
        (
            path.clone(),
            StreamOrder::Blocks {
                block: 1,
                buffer: 1,
            },
        ),
        (
            path.clone(),
            StreamOrder::Blocks {
                block: 5000,
                buffer: 5000,
            },
        ),
        (path.clone(), StreamOrder::Buffer { buffer: 7 }),
        (gz.clone(), StreamOrder::Buffer { buffer: 300 }),
    ];
    for (file, order) in orders {
        let mut stream = Stream::<f64>::idx(&file, order).unwrap();
        assert_eq!((stream.samples(), stream.features()), (n as usize, 3));
        assert_eq!(
            epoch_order(&mut stream, false, 0, 33),
            everything,
            "{order:?} unshuffled"
        );
        let first = epoch_order(&mut stream, true, 1, 33);
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, everything, "{order:?}: each sample once");
        assert_ne!(first, everything, "{order:?} shuffles");
        assert_eq!(
            epoch_order(&mut stream, true, 1, 33),
            first,
            "{order:?}: a seed fixes it"
        );
        // The batch size does not change the order.
        assert_eq!(
            epoch_order(&mut stream, true, 1, 100),
            first,
            "{order:?}: batch-independent"
        );
        assert_ne!(
            epoch_order(&mut stream, true, 2, 33),
            first,
            "{order:?}: another seed"
        );
    }

    // The in-memory order is the in-memory source's, bit for bit.
    let x = DMatrix::from_fn(n as usize, 3, |i, j| (i * (j + 1)) as f64);
    let mut memory = InMemory::new(&x);
    let mut stream = Stream::<f64>::idx(&path, StreamOrder::InMemory).unwrap();
    assert_eq!(
        epoch_order(&mut memory, true, 9, 32),
        epoch_order(&mut stream, true, 9, 32)
    );

    // A buffer of one sample with blocks of one sample is the block permutation alone; in
    // blocks of 64 through a small buffer, no sample moves far from its block.
    let mut stream = Stream::<f64>::idx(
        &path,
        StreamOrder::Blocks {
            block: 64,
            buffer: 4,
        },
    )
    .unwrap();
    let order = epoch_order(&mut stream, true, 3, 10);
    let runs = order.windows(2).filter(|w| w[1] / 64 == w[0] / 64).count();
    assert!(
        runs > 800,
        "mostly within blocks: {runs} of 999 neighbours share a block"
    );

    // A gzip file cannot be read out of order.
    for order in [StreamOrder::InMemory, StreamOrder::default()] {
        assert!(matches!(
            Stream::<f64>::idx(&gz, order),
            Err(Error::UnseekableStream { .. })
        ));
    }
    for order in [
        StreamOrder::Buffer { buffer: 0 },
        StreamOrder::Blocks {
            block: 0,
            buffer: 3,
        },
    ] {
        assert!(matches!(
            Stream::<f64>::idx(&path, order),
            Err(Error::InvalidHyperParameter { .. })
        ));
    }
}

#[test]
fn scalers_fitted_on_a_stream_are_those_fitted_on_the_matrix() {
    let mut g = rng(21);
    let x = DMatrix::from_fn(3001, 5, |_, j| g.random_range(-1e3..1e3) * (j as f64 + 0.5));
    let mut constant = x.clone();
    constant.column_mut(2).fill(0.1);
    for x in [x, constant] {
        let folder = Folder::new("scalers");
        let path = folder.join("values");
        let mut body = Vec::new();
        for i in 0..x.nrows() {
            for j in 0..5 {
                body.extend_from_slice(&x[(i, j)].to_be_bytes());
            }
        }
        std::fs::write(&path, idx_bytes(0x0E, &[x.nrows() as u32, 5], &body)).unwrap();
        for scaler in [
            Scaler::Identity,
            Scaler::Bytes,
            Scaler::MinMax,
            Scaler::Standard,
        ] {
            let mut stream = Stream::<f64>::idx(&path, StreamOrder::default()).unwrap();
            let streamed = scaler.fit_source(&mut stream).unwrap();
            assert_eq!(streamed, scaler.fit(&x).unwrap(), "{scaler:?}");
            assert_eq!(streamed, scaler.fit_source(&mut InMemory::new(&x)).unwrap());
            // The stream scales as `transform` does.
            let mut stream = stream.with_scaler(streamed.clone()).unwrap();
            stream.start_epoch(false, &mut rng(0)).unwrap();
            let (mut batch, mut labels) = (DMatrix::zeros(0, 0), Vec::new());
            stream
                .next_batch(x.nrows(), &mut batch, &mut labels)
                .unwrap();
            assert_eq!(batch, streamed.transform(&x).unwrap());
        }
    }
}

#[test]
fn layerwise_pretraining_over_a_stream_trains_every_layer_on_the_codes_below() {
    let folder = Folder::new("pretrain");
    let (images, _) = digits_files(&folder);
    let x = in_memory(&images, 8000);
    let quick = TrainingConfig::default().with_epochs(2).with_batch_size(64);
    let pretrainer = || {
        LayerwisePretrainer::<f32>::new()
            .with_layer(
                LayerSpec::new(32)
                    .with_activation(Activation::Relu)
                    .with_training(quick),
            )
            .with_layer(
                LayerSpec::new(8)
                    .with_decoder_activation(Activation::Linear)
                    .with_training(quick),
            )
    };
    let mut stream = Stream::<f32>::idx(&images, StreamOrder::InMemory)
        .unwrap()
        .with_scaler(FittedScaler::bytes(784))
        .unwrap();
    let streamed = pretrainer()
        .pretrain_source(&mut stream, &mut rng(31), &mut |_, _| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    let memory = pretrainer().pretrain(&x, &mut rng(31)).unwrap();
    // The first layer saw the same batches: the same bits.
    assert_eq!(
        bits(streamed.encoder.layers()[0].parameters()),
        bits(memory.encoder.layers()[0].parameters())
    );
    assert_eq!(streamed.encoder.layers()[1].input_dim(), 32);
    for history in &streamed.histories {
        let (first, last) = (
            history.epochs[0].objective,
            history.last().unwrap().objective,
        );
        assert!(last < first, "each layer learns: {first} → {last}");
    }
    // The second layer learned on codes computed batch by batch: the same losses as on the
    // codes of the whole matrix, up to rounding.
    let (a, b) = (
        memory.histories[1].last().unwrap().objective,
        streamed.histories[1].last().unwrap().objective,
    );
    assert!((a - b).abs() <= 1e-3 * a.abs(), "{a} vs {b}");
}

/// A source that hands out what it is told to, for the contract's checks.
struct Rogue {
    samples: usize,
    features: usize,
    rows: usize,
    columns: usize,
    epoch_end: usize,
    given: usize,
    nan: bool,
}

impl BatchSource<f64> for Rogue {
    fn samples(&self) -> usize {
        self.samples
    }
    fn features(&self) -> usize {
        self.features
    }
    fn start_epoch(&mut self, _: bool, _: &mut dyn Rng) -> autoencoders::Result<()> {
        self.given = 0;
        Ok(())
    }
    fn next_batch(
        &mut self,
        max: usize,
        batch: &mut DMatrix<f64>,
        _: &mut Vec<usize>,
    ) -> autoencoders::Result<usize> {
        if self.given >= self.epoch_end {
            return Ok(0);
        }
        let k = self.rows.min(max + 5);
        *batch = DMatrix::from_element(k, self.columns, if self.nan { f64::NAN } else { 0.5 });
        self.given += k;
        Ok(k.min(max))
    }
}

#[test]
fn a_source_that_breaks_the_contract_gets_a_typed_error() {
    let model = DenseBuilder::new(4, 2)
        .build::<f64, _>(&mut rng(41))
        .unwrap();
    let config = TrainingConfig::default().with_epochs(2).with_batch_size(8);
    let good = Rogue {
        samples: 16,
        features: 4,
        rows: 8,
        columns: 4,
        epoch_end: 16,
        given: 0,
        nan: false,
    };
    let train = |source: &mut Rogue| {
        model.clone().fit_source(
            source,
            None,
            &config,
            &mut Sgd::new(0.1).unwrap(),
            &mut rng(42),
            &mut (),
        )
    };
    assert!(train(&mut Rogue { ..good }).is_ok());
    let cases = [
        ("a batch wider than declared", Rogue { columns: 5, ..good }),
        ("more rows than asked for", Rogue { rows: 12, ..good }),
        (
            "an epoch that ends early",
            Rogue {
                epoch_end: 8,
                ..good
            },
        ),
        (
            "an epoch that runs on",
            Rogue {
                epoch_end: 24,
                ..good
            },
        ),
    ];
    for (what, mut source) in cases {
        assert!(
            matches!(train(&mut source), Err(Error::SourceMismatch { .. })),
            "{what}: {:?}",
            train(&mut source)
        );
    }
    assert!(matches!(
        train(&mut Rogue { nan: true, ..good }),
        Err(Error::NonFiniteData { .. })
    ));
    assert!(matches!(
        train(&mut Rogue { samples: 0, ..good }),
        Err(Error::EmptyData { .. })
    ));
    assert!(matches!(
        train(&mut Rogue {
            features: 3,
            columns: 3,
            ..good
        }),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn broken_files_give_typed_errors_when_opened_or_when_an_epoch_reaches_them() {
    let folder = Folder::new("broken");
    let path = folder.join("numbered");
    numbered(&path, 100);
    let good = std::fs::read(&path).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = folder.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let open = |p: &Path| Stream::<f64>::idx(p, StreamOrder::default());
    let malformed =
        |r: autoencoders::Result<Stream<f64>>| matches!(r, Err(Error::MalformedFile { .. }));
    assert!(malformed(open(&write("short", &good[..good.len() - 1]))));
    assert!(malformed(open(&write("long", &[&good[..], &[0]].concat()))));
    assert!(malformed(open(&write(
        "magic",
        &[&[1u8][..], &good[1..]].concat()
    ))));
    assert!(malformed(open(&write("tiny", &good[..3]))));
    assert!(malformed(open(&write(
        "overflow",
        &idx_bytes(0x08, &[u32::MAX, u32::MAX, u32::MAX], &[])
    ))));
    assert!(matches!(
        open(&write("empty", &idx_bytes(0x08, &[0, 4], &[]))),
        Err(Error::EmptyData { .. })
    ));
    assert!(matches!(
        open(&folder.0),
        Err(Error::NotARegularFile { .. })
    ));
    assert!(matches!(
        open(&folder.join("missing")),
        Err(Error::Io { .. })
    ));

    // Problems inside the samples surface when an epoch reaches them, naming the byte.
    let read_all = |p: &Path, order| -> autoencoders::Result<()> {
        let mut s = Stream::<f32>::idx(p, order)?;
        s.start_epoch(false, &mut rng(0))?;
        let (mut b, mut l) = (DMatrix::zeros(0, 0), Vec::new());
        while s.next_batch(16, &mut b, &mut l)? > 0 {}
        Ok(())
    };
    let mut nan = idx_bytes(0x0D, &[10, 2], &[0u8; 80]);
    nan[16 + 4 * 7..16 + 4 * 8].copy_from_slice(&f32::NAN.to_be_bytes());
    assert!(matches!(
        read_all(&write("nan", &nan), StreamOrder::default()),
        Err(Error::MalformedFile { offset: 44, .. })
    ));
    let huge = idx_bytes(0x0E, &[1, 1], &1e300f64.to_be_bytes());
    assert!(matches!(
        read_all(&write("huge", &huge), StreamOrder::default()),
        Err(Error::MalformedFile { .. })
    ));
    let buffer = StreamOrder::Buffer { buffer: 4 };
    let trailing = write("trailing.gz", &gzip(&[&good[..], &[7]].concat()));
    assert!(matches!(
        read_all(&trailing, buffer),
        Err(Error::MalformedFile { .. })
    ));
    let truncated = write("truncated.gz", &gzip(&good[..good.len() - 10]));
    assert!(matches!(
        read_all(&truncated, buffer),
        Err(Error::MalformedFile { .. })
    ));
    let whole = gzip(&good);
    let cut = write("cut.gz", &whole[..whole.len() - 20]);
    assert!(matches!(
        read_all(&cut, buffer),
        Err(Error::MalformedFile { .. })
    ));
    assert!(read_all(&write("fine.gz", &whole), buffer).is_ok());

    // Labels that do not fit.
    let labels = write("labels", &idx_bytes(0x08, &[99], &[0; 99]));
    assert!(matches!(
        open(&path).unwrap().with_labels(&labels),
        Err(Error::SampleCountMismatch { .. })
    ));
    assert!(matches!(
        open(&path).unwrap().with_scaler(FittedScaler::identity(4)),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn a_stream_allocates_what_its_order_needs_not_what_the_file_holds() {
    let folder = Folder::new("memory");
    let path = folder.join("big");
    // 20,000 samples of 784 bytes: 15.7 MB on disk, 62.7 MB as f32 in memory.
    let n = 20_000u32;
    let mut body = vec![0u8; n as usize * 784];
    for (i, b) in body.iter_mut().enumerate() {
        *b = (i * 31 % 251) as u8;
    }
    std::fs::write(&path, idx_bytes(0x08, &[n, 28, 28], &body)).unwrap();
    drop(body);
    let model = DenseBuilder::new(784, 8)
        .build::<f32, _>(&mut rng(51))
        .unwrap();
    let config = TrainingConfig::default()
        .with_epochs(1)
        .with_batch_size(128);
    // What the run needs whatever the file's size: the shuffle buffer (3.2 MB of f32), a chunk
    // of 64 samples (0.2 MB) and its bytes, a few batch-sized buffers of the model (0.4 MB
    // each), the permutation of the in-memory order (0.16 MB). The data in memory would be
    // 62.7 MB, twice that with the in-memory source's copy.
    for (order, bound) in [
        (
            StreamOrder::Blocks {
                block: 512,
                buffer: 1024,
            },
            8 << 20,
        ),
        (StreamOrder::Buffer { buffer: 1024 }, 8 << 20),
        (StreamOrder::InMemory, 5 << 20),
    ] {
        let (result, peak) = common::allocation::peak_during(|| {
            let mut stream =
                Stream::<f32>::idx(&path, order)?.with_scaler(FittedScaler::bytes(784))?;
            model.clone().fit_source(
                &mut stream,
                None,
                &config,
                &mut Sgd::new(0.01).unwrap(),
                &mut rng(52),
                &mut (),
            )
        });
        result.unwrap();
        eprintln!("{order:?}: {peak} bytes at the peak");
        assert!(peak < bound, "{order:?}: {peak} bytes at the peak");
    }
}

/// CSV text of `n` rows `i/8, 2i, -3i, i % 10` (the last a label) under a header whose first
/// name is quoted and holds a newline and a comma.
fn numbered_csv(n: usize) -> String {
    let mut text = String::from("\"first,\nname\",b,c,class\n");
    for i in 0..n {
        text.push_str(&format!(
            "{},{},{},{}\n",
            i as f64 / 8.0,
            2 * i,
            -3 * (i as i64),
            i % 10
        ));
        if i % 1000 == 999 {
            text.push('\n'); // blank lines are skipped
        }
    }
    text
}

#[test]
fn a_streamed_csv_file_holds_what_read_csv_reads_with_the_same_errors() {
    use autoencoders::data::{CsvOptions, LabelColumn, read_csv};
    let folder = Folder::new("csv");
    let options = CsvOptions::default().with_label_column(LabelColumn::Last);
    // 60,000 rows, 1.6 MB of text: more than one chunk of a megabyte.
    let text = numbered_csv(60_000);
    assert!(text.len() > 1 << 20);
    let path = folder.join("numbered.csv");
    std::fs::write(&path, &text).unwrap();
    let gz = folder.join("numbered.csv.gz");
    std::fs::write(&gz, gzip(text.as_bytes())).unwrap();
    let table = read_csv::<f64>(&path, &options).unwrap();
    for file in [&path, &gz] {
        let mut stream =
            Stream::<f64>::csv(file, &options, StreamOrder::Buffer { buffer: 500 }).unwrap();
        assert_eq!((stream.samples(), stream.features()), (60_000, 3));
        assert!(stream.labelled());
        for _ in 0..2 {
            stream.start_epoch(false, &mut rng(0)).unwrap();
            let (mut batch, mut labels) = (DMatrix::zeros(0, 0), Vec::new());
            let (mut rows, mut all_labels) = (Vec::new(), Vec::new());
            while stream.next_batch(999, &mut batch, &mut labels).unwrap() > 0 {
                rows.push(batch.clone());
                all_labels.extend_from_slice(&labels);
            }
            let refs: Vec<_> = rows.iter().map(|m| m.rows(0, m.nrows())).collect();
            assert_eq!(
                DMatrix::from_rows(&refs.iter().flat_map(|m| m.row_iter()).collect::<Vec<_>>()),
                table.features
            );
            assert_eq!(Some(all_labels), table.labels);
        }
        let order = epoch_order(&mut stream, true, 5, 64);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        let expected: Vec<u64> = (0..60_000u64)
            .map(|i| (i as f64 / 8.0) as u64)
            .collect::<Vec<_>>();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort_unstable();
        assert_eq!(sorted, expected_sorted);
        assert_ne!(order, expected);
    }
    assert!(matches!(
        Stream::<f64>::csv(&path, &options, StreamOrder::InMemory),
        Err(Error::UnseekableStream { .. })
    ));

    // Errors deep in the file, past the first chunk, name the line read_csv names.
    let bad_field = text.replacen("90000,-135000", "90000,x", 1);
    let ragged = text.replacen("90000,-135000", "90000", 1);
    for (name, broken) in [("field", bad_field), ("ragged", ragged)] {
        let p = folder.join(name);
        std::fs::write(&p, &broken).unwrap();
        let whole = read_csv::<f64>(&p, &options).unwrap_err().to_string();
        let streamed = Stream::<f64>::csv(&p, &options, StreamOrder::Buffer { buffer: 8 })
            .err()
            .unwrap()
            .to_string();
        assert!(whole.contains("line 450"), "{whole}"); // past the first megabyte
        assert_eq!(streamed, whole);
    }
    let p = folder.join("header-only");
    std::fs::write(&p, "a,b\n\n").unwrap();
    assert!(matches!(
        Stream::<f64>::csv(
            &p,
            &CsvOptions::default(),
            StreamOrder::Buffer { buffer: 8 }
        ),
        Err(Error::NoDataRows { .. })
    ));
}

#[test]
fn a_scaled_value_that_overflows_names_its_sample_and_column_in_every_order() {
    let folder = Folder::new("overflow");
    let path = folder.join("wide-values");
    // 150 samples of 3 f32 values; sample 130's third value scales past f32's range (3e38
    // divided by 1e-3), two chunks of 64 samples in.
    let (n, d, row, column) = (150usize, 3usize, 130usize, 2usize);
    let mut body = Vec::new();
    for i in 0..n * d {
        let v: f32 = if i == row * d + column { 3e38 } else { 0.5 };
        body.extend_from_slice(&v.to_be_bytes());
    }
    std::fs::write(&path, idx_bytes(0x0D, &[n as u32, d as u32], &body)).unwrap();
    let scaler = FittedScaler::standard(vec![0.0; d], vec![1e-3; d]).unwrap();
    for order in [
        StreamOrder::InMemory,
        StreamOrder::Buffer { buffer: 16 },
        StreamOrder::Blocks {
            block: 32,
            buffer: 8,
        },
    ] {
        let mut stream = Stream::<f32>::idx(&path, order)
            .unwrap()
            .with_scaler(scaler.clone())
            .unwrap();
        let (mut batch, mut labels) = (DMatrix::zeros(0, 0), Vec::new());
        let epoch = |stream: &mut Stream<f32>, batch: &mut _, labels: &mut _| {
            stream.start_epoch(false, &mut rng(0))?;
            while stream.next_batch(7, batch, labels)? > 0 {}
            Ok::<_, Error>(())
        };
        match epoch(&mut stream, &mut batch, &mut labels) {
            Err(Error::NonFiniteData {
                row: r, column: c, ..
            }) => assert_eq!((r, c), (row, column), "{order:?}"),
            other => panic!("{order:?}: {other:?}"),
        }
    }
}
