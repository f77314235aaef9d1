//! Data-parallel training: any number of processes (here threads, with a communicator over
//! shared memory) gives the parameters of the single-process reference bit for bit, and the
//! sharded step is the full batch's step up to rounding.

mod common;

use autoencoders::parallel::{Communicator, DataParallel, SingleProcess};
use autoencoders::source::InMemory;
use autoencoders::{
    BuiltinCorruption, BuiltinRegularizer, Contractive, DenseBuilder, DynamicAutoencoder, Error,
    History, KlSparsity, Masking, Sgd, TrainingConfig,
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
    shard: usize,
    config: TrainingConfig,
) -> Vec<(Vec<u32>, History)> {
    let x = uniform(101, 12, 0.0, 1.0, &mut rng(1)).map(|v| v as f32);
    let handles: Vec<_> = Threads::group(size)
        .into_iter()
        .map(|communicator| {
            let (mut model, x) = (model.clone(), x.clone());
            std::thread::spawn(move || {
                let parallel = DataParallel::new(&communicator, shard).unwrap();
                let history = model
                    .fit_parallel(
                        &mut InMemory::new(&x),
                        Some(&x),
                        &config,
                        &parallel,
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
    let config = TrainingConfig::default().with_epochs(3).with_batch_size(30);
    for model in models {
        let reference = on_threads(&model, 1, 7, config).remove(0);
        let mut single = model.clone();
        let x = uniform(101, 12, 0.0, 1.0, &mut rng(1)).map(|v| v as f32);
        single
            .fit_parallel(
                &mut InMemory::new(&x),
                Some(&x),
                &config,
                &DataParallel::new(&SingleProcess, 7).unwrap(),
                &mut Sgd::new(0.05).unwrap().with_momentum(0.9).unwrap(),
                &mut rng(7),
                &mut (),
            )
            .unwrap();
        assert_eq!(bits(&single), reference.0);
        for size in [2, 3, 4] {
            for (rank, (parameters, history)) in
                on_threads(&model, size, 7, config).into_iter().enumerate()
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
            &config,
            &DataParallel::new(&SingleProcess, 9).unwrap(),
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
fn a_communicator_that_lies_about_its_rank_is_refused() {
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
    assert!(matches!(
        DataParallel::new(&Liar, 4),
        Err(Error::InvalidHyperParameter { .. })
    ));
    assert!(matches!(
        DataParallel::new(&SingleProcess, 0),
        Err(Error::ZeroDimension { .. })
    ));
}
