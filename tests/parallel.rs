//! Data-parallel training: any number of processes (here threads, with a communicator over
//! shared memory) gives the parameters of the single-process reference bit for bit, and the
//! sharded step is the full batch's step up to rounding.

mod common;

use autoencoders::parallel::{Communicator, SingleProcess};
use autoencoders::source::InMemory;
use autoencoders::{
    BuiltinCorruption, BuiltinLoss, BuiltinRegularizer, Contractive, DenseBuilder,
    DynamicAutoencoder, Error, History, KlSparsity, Masking, Sgd, TrainingConfig,
};
use common::{rng, uniform};
use std::sync::{Arc, Barrier, Mutex};

/// `size` ranks in threads of one process: an all-gather through a shared table of slots.
struct Threads {
    rank: usize,
    size: usize,
    slots: Arc<Mutex<Vec<Vec<f64>>>>,
    barrier: Arc<Barrier>,
}

impl Threads {
    fn group(size: usize) -> Vec<Threads> {
        let slots = Arc::new(Mutex::new(vec![Vec::new(); size]));
        let barrier = Arc::new(Barrier::new(size));
        (0..size)
            .map(|rank| Threads {
                rank,
                size,
                slots: slots.clone(),
                barrier: barrier.clone(),
            })
            .collect()
    }

    fn gather(&self, local: Vec<f64>) -> Vec<f64> {
        self.slots.lock().unwrap()[self.rank] = local;
        self.barrier.wait();
        let all = self.slots.lock().unwrap().concat();
        self.barrier.wait();
        all
    }
}

impl Communicator for Threads {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn all_gather_f32(&self, local: &[f32], all: &mut [f32]) -> autoencoders::Result<()> {
        let gathered = self.gather(local.iter().map(|&v| f64::from(v)).collect());
        for (a, g) in all.iter_mut().zip(gathered) {
            *a = g as f32;
        }
        Ok(())
    }
    fn all_gather_f64(&self, local: &[f64], all: &mut [f64]) -> autoencoders::Result<()> {
        all.copy_from_slice(&self.gather(local.to_vec()));
        Ok(())
    }
}

fn bits(model: &DynamicAutoencoder<f32>) -> Vec<u32> {
    model
        .parameters()
        .iter()
        .flat_map(|p| p.iter().map(|v| v.to_bits()))
        .collect()
}

/// Trains `model` data-parallel on `size` threads; every rank's parameters and history.
fn on_threads(
    model: &DynamicAutoencoder<f32>,
    size: usize,
    config: TrainingConfig,
) -> Vec<(Vec<u32>, History)> {
    let x = uniform(101, 12, 0.0, 1.0, &mut rng(1)).map(|v| v as f32);
    let handles: Vec<_> = Threads::group(size)
        .into_iter()
        .map(|communicator| {
            let (mut model, x) = (model.clone(), x.clone());
            std::thread::spawn(move || {
                let history = model
                    .fit_parallel(
                        &mut InMemory::new(&x),
                        Some(&x),
                        &config,
                        &communicator,
                        &mut Sgd::new(0.05).unwrap().with_momentum(0.9).unwrap(),
                        &mut rng(7),
                        &mut (),
                    )
                    .unwrap();
                (bits(&model), history)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn one_two_three_and_four_ranks_give_the_single_process_bits() {
    let base = DenseBuilder::new(12, 5)
        .build::<f32, _>(&mut rng(2))
        .unwrap();
    let model = |regularizers: Vec<BuiltinRegularizer>, corruption: BuiltinCorruption| {
        base.clone()
            .with_regularizer(regularizers)
            .with_corruption(corruption)
            .with_loss(BuiltinLoss::default())
    };
    let models: [DynamicAutoencoder<f32>; 3] = [
        model(vec![], Masking::new(0.3).unwrap().into()),
        model(
            vec![Contractive::new(0.1).unwrap().into()],
            BuiltinCorruption::None,
        ),
        model(
            vec![KlSparsity::new(0.1, 0.5).unwrap().into()],
            Masking::new(0.1).unwrap().into(),
        ),
    ];
    // 101 samples in batches of 30 (the last of 11) and shards of 7: shards of 7, 7, 7, 7, 2
    // and 7, 4, unevenly spread over the ranks.
    let config = TrainingConfig::default()
        .with_epochs(3)
        .with_batch_size(30)
        .with_shards(7);
    for model in models {
        let reference = on_threads(&model, 1, config).remove(0);
        // The reference in one process without a communicator: `fit_with` of the sharded
        // configuration.
        let mut single = model.clone();
        let x = uniform(101, 12, 0.0, 1.0, &mut rng(1)).map(|v| v as f32);
        single
            .fit_with(
                &x,
                Some(&x),
                &config,
                &mut Sgd::new(0.05).unwrap().with_momentum(0.9).unwrap(),
                &mut rng(7),
                &mut (),
            )
            .unwrap();
        assert_eq!(bits(&single), reference.0);
        for size in [2, 3, 4] {
            for (rank, (parameters, history)) in
                on_threads(&model, size, config).into_iter().enumerate()
            {
                assert_eq!(parameters, reference.0, "{size} ranks, rank {rank}");
                assert_eq!(
                    history.epochs, reference.1.epochs,
                    "{size} ranks, rank {rank}"
                );
            }
        }
        let history = &reference.1;
        assert!(history.last().unwrap().objective < history.epochs[0].objective);
    }
}

#[test]
fn the_sharded_gradient_is_the_batch_gradient_up_to_rounding() {
    // Without corruption or batch-level penalties, one sharded step from the same point is
    // the full batch's step: shards weighted by their sizes.
    let x = uniform(40, 6, 0.0, 1.0, &mut rng(3));
    let model = DenseBuilder::new(6, 3)
        .build::<f64, _>(&mut rng(4))
        .unwrap()
        .with_regularizer(Contractive::new(0.2).unwrap());
    let config = TrainingConfig::default()
        .with_epochs(1)
        .with_batch_size(40)
        .with_shuffle(false);
    let mut full = model.clone();
    full.fit(&x, &config, &mut Sgd::new(0.5).unwrap(), &mut rng(5))
        .unwrap();
    let mut sharded = model.clone();
    sharded
        .fit_parallel(
            &mut InMemory::new(&x),
            None,
            &config.with_shards(9),
            &SingleProcess,
            &mut Sgd::new(0.5).unwrap(),
            &mut rng(5),
            &mut (),
        )
        .unwrap();
    let start: Vec<f64> = model.parameters().concat();
    let (a, b): (Vec<f64>, Vec<f64>) = (full.parameters().concat(), sharded.parameters().concat());
    let step: f64 = a
        .iter()
        .zip(&start)
        .map(|(p, s)| (p - s).powi(2))
        .sum::<f64>()
        .sqrt();
    let difference: f64 = a
        .iter()
        .zip(&b)
        .map(|(p, q)| (p - q).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(step > 1e-3, "the step moved the parameters: {step}");
    assert!(
        difference <= 1e-12 * step,
        "{difference} against a step of {step}"
    );
}

#[test]
fn a_communicator_that_lies_about_its_rank_and_an_unsharded_configuration_are_refused() {
    struct Liar;
    impl Communicator for Liar {
        fn rank(&self) -> usize {
            2
        }
        fn size(&self) -> usize {
            2
        }
        fn all_gather_f32(&self, _: &[f32], _: &mut [f32]) -> autoencoders::Result<()> {
            Ok(())
        }
        fn all_gather_f64(&self, _: &[f64], _: &mut [f64]) -> autoencoders::Result<()> {
            Ok(())
        }
    }
    let x = uniform(10, 3, 0.0, 1.0, &mut rng(8));
    let train = |config: TrainingConfig, communicator: &dyn Communicator| {
        DenseBuilder::new(3, 2)
            .build::<f64, _>(&mut rng(9))
            .unwrap()
            .fit_parallel(
                &mut InMemory::new(&x),
                None,
                &config,
                communicator,
                &mut Sgd::new(0.1).unwrap(),
                &mut rng(10),
                &mut (),
            )
    };
    let sharded = TrainingConfig::default().with_shards(4);
    assert!(train(sharded, &SingleProcess).is_ok());
    assert!(matches!(
        train(sharded, &Liar),
        Err(Error::InvalidHyperParameter { name: "rank", .. })
    ));
    assert!(matches!(
        train(TrainingConfig::default(), &SingleProcess),
        Err(Error::InvalidHyperParameter { name: "shard", .. })
    ));
    assert!(matches!(
        train(TrainingConfig::default().with_shards(0), &SingleProcess),
        Err(Error::ZeroDimension { .. })
    ));
}

#[test]
fn a_checkpoint_of_two_ranks_resumes_on_three_or_on_one_with_the_bits_of_a_run_without_a_break() {
    use autoencoders::{Checkpoint, Checkpointing, TrainingRun};
    use rand::SeedableRng;
    use rand::rngs::ChaCha8Rng;
    use std::ops::ControlFlow;
    let folder = std::env::temp_dir().join(format!("autoencoders-parallel-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("checkpoint.safetensors");
    let x = uniform(101, 12, 0.0, 1.0, &mut rng(1)).map(|v| v as f32);
    let model: DynamicAutoencoder<f32> = DenseBuilder::new(12, 5)
        .build::<f32, _>(&mut rng(2))
        .unwrap()
        .with_regularizer(vec![])
        .with_corruption(Masking::new(0.3).unwrap().into())
        .with_loss(BuiltinLoss::default());
    let config = TrainingConfig::default()
        .with_epochs(4)
        .with_batch_size(30)
        .with_shards(7);
    let sgd = || Sgd::new(0.05).unwrap().with_momentum(0.9).unwrap();

    // Without a break, in one process.
    let mut whole = model.clone();
    let mut run = TrainingRun::new(config, sgd(), ChaCha8Rng::seed_from_u64(3));
    whole.fit_resumable(&x, None, &mut run, &mut ()).unwrap();

    // Two ranks, stopped after two epochs (rank 0 wrote the checkpoint of each).
    let handles: Vec<_> = Threads::group(2)
        .into_iter()
        .map(|communicator| {
            let (mut model, x, path) = (model.clone(), x.clone(), path.clone());
            std::thread::spawn(move || {
                let mut run = TrainingRun::new(config, sgd(), ChaCha8Rng::seed_from_u64(3))
                    .with_checkpoints(Checkpointing::new(&path));
                let mut stop = |r: &autoencoders::EpochReport| {
                    if r.epoch == 1 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                };
                model
                    .fit_resumable_parallel(&x, None, &mut run, &communicator, &mut stop)
                    .unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(Checkpoint::<f32>::load(&path).unwrap().epochs_done(), 2);

    // Resumed on three ranks, and in one process.
    let handles: Vec<_> = Threads::group(3)
        .into_iter()
        .map(|communicator| {
            let (mut model, x, path) = (model.clone(), x.clone(), path.clone());
            std::thread::spawn(move || {
                let mut run = Checkpoint::<f32>::load(&path)
                    .unwrap()
                    .resume(&mut model, sgd())
                    .unwrap();
                assert_eq!(run.config().shard(), Some(7));
                model
                    .fit_resumable_parallel(&x, None, &mut run, &communicator, &mut ())
                    .unwrap();
                bits(&model)
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), bits(&whole));
    }
    let mut single = model.clone();
    let mut run = Checkpoint::<f32>::load(&path)
        .unwrap()
        .resume(&mut single, sgd())
        .unwrap();
    single.fit_resumable(&x, None, &mut run, &mut ()).unwrap();
    assert_eq!(bits(&single), bits(&whole));
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn the_vae_and_the_classifier_with_and_without_dropout_give_the_single_process_bits_on_three_ranks()
{
    use autoencoders::{Activation, Classifier, DenseVae, Init, Likelihood};
    let x = uniform(101, 12, 0.0, 1.0, &mut rng(1));
    let labels: Vec<usize> = (0..101).map(|i| i % 3).collect();
    let config = TrainingConfig::default()
        .with_epochs(2)
        .with_batch_size(30)
        .with_shards(7);
    let vae = DenseVae::<f64>::dense(
        12,
        &[6],
        2,
        Activation::Tanh,
        Likelihood::Bernoulli,
        &mut rng(2),
    )
    .unwrap()
    .with_corruption(Masking::new(0.2).unwrap());
    let encoder = DenseBuilder::new(12, 5)
        .build::<f64, _>(&mut rng(3))
        .unwrap()
        .into_parts()
        .0;
    let classifier = Classifier::new(encoder, 3, Init::GlorotUniform, &mut rng(4)).unwrap();
    let flat = |p: Vec<&[f64]>| -> Vec<u64> {
        p.iter()
            .flat_map(|s| s.iter().map(|v| v.to_bits()))
            .collect()
    };

    let mut reference_vae = vae.clone();
    reference_vae
        .fit_with(
            &x,
            None,
            &config,
            &mut Sgd::new(0.05).unwrap(),
            &mut rng(5),
            &mut (),
        )
        .unwrap();
    // Without dropout and with it: dropout masks come from each shard's own generator, so they
    // too are the same on any number of ranks.
    let classifiers = [
        classifier.clone(),
        classifier.with_dropout(0.2, 0.3).unwrap(),
    ];
    let reference_classifiers: Vec<Vec<u64>> = classifiers
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.fit(
                &x,
                &labels,
                &config,
                &mut Sgd::new(0.05).unwrap(),
                &mut rng(6),
            )
            .unwrap();
            flat(c.parameters())
        })
        .collect();
    assert_ne!(reference_classifiers[0], reference_classifiers[1]);
    let handles: Vec<_> = Threads::group(3)
        .into_iter()
        .map(|communicator| {
            let (mut vae, classifiers, x, labels) =
                (vae.clone(), classifiers.clone(), x.clone(), labels.clone());
            std::thread::spawn(move || {
                vae.fit_parallel(
                    &mut InMemory::new(&x),
                    None,
                    &config,
                    &communicator,
                    &mut Sgd::new(0.05).unwrap(),
                    &mut rng(5),
                    &mut (),
                )
                .unwrap();
                let trained: Vec<Vec<u64>> = classifiers
                    .into_iter()
                    .map(|mut c| {
                        c.fit_parallel(
                            &mut InMemory::with_labels(&x, &labels).unwrap(),
                            None,
                            &config,
                            &communicator,
                            &mut Sgd::new(0.05).unwrap(),
                            &mut rng(6),
                            &mut (),
                        )
                        .unwrap();
                        flat(c.parameters())
                    })
                    .collect();
                (flat(vae.parameters()), trained)
            })
        })
        .collect();
    for h in handles {
        let (v, c) = h.join().unwrap();
        assert_eq!(v, flat(reference_vae.parameters()));
        assert_eq!(c, reference_classifiers);
    }
}
