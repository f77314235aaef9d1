//! The crate's worker threads: one persistent pool that large matrix products and long
//! elementwise passes are divided over.
//!
//! Work is only ever divided between *outputs*: each part of a split product is an ordinary
//! one-thread product of a block of the output's columns, and each piece of an elementwise
//! pass is the same loop over fewer elements, so every output element is computed by one
//! thread, with the same operations in the same order as when nothing is split. The thread
//! count decides who computes a part, never what is added to what, so the results are the same
//! bits at any thread count and equal to those of one thread. (`crate::threads` is the public
//! side: the count, the environment variable and the guarantee.)
//!
//! The pool is the crate's own, not rayon's: a training step hands work to it a dozen times,
//! each for tens of microseconds, and a pool whose threads fall asleep between hand-offs pays a
//! wake-up (a system call and a context switch) every time. Its workers wait for the next
//! hand-off by spinning, then yielding, and only sleep after [`SPIN_TIME`] without work. The
//! calling thread computes parts too, so a pool for `n` threads has `n − 1` workers. With the
//! `gemm` feature the `gemm` crate's products run on a rayon pool instead, as that crate
//! divides its own work over rayon.

#![allow(unsafe_code)]

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The environment variable that sets the thread count for the whole process, read once, at
/// the first computation that could use the pool.
pub(crate) const VARIABLE: &str = "AUTOENCODERS_THREADS";

/// The most threads the pool is given.
pub(crate) const MAX_THREADS: usize = 256;

/// How long a worker waits for work before it sleeps (and how long a caller spins before it
/// yields while it waits for the workers).
const SPIN_TIME: Duration = Duration::from_micros(100);

/// The thread count, its pool and what was wrong with the environment variable, if anything.
struct State {
    threads: usize,
    /// `None` for one thread, or if the system refused to start the threads (then the work runs
    /// on the calling thread: the same results, only slower).
    pool: Option<Arc<Pool>>,
    #[cfg(feature = "gemm")]
    rayon: Option<Arc<rayon::ThreadPool>>,
    /// The variable's text, if it was set and is not a whole number in `1..=MAX_THREADS`.
    malformed: Option<String>,
}

impl State {
    fn new(threads: usize, malformed: Option<String>) -> Self {
        State {
            threads,
            pool: Pool::start(threads).map(Arc::new),
            #[cfg(feature = "gemm")]
            rayon: start_rayon(threads),
            malformed,
        }
    }
}

fn state() -> &'static RwLock<State> {
    static STATE: OnceLock<RwLock<State>> = OnceLock::new();
    STATE.get_or_init(|| {
        let (threads, malformed) = match std::env::var(VARIABLE) {
            Err(std::env::VarError::NotPresent) => (available(), None),
            Ok(text) => match text.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_THREADS).contains(&n) => (n, None),
                _ => (1, Some(text)),
            },
            Err(std::env::VarError::NotUnicode(text)) => {
                (1, Some(text.to_string_lossy().into_owned()))
            }
        };
        RwLock::new(State::new(threads, malformed))
    })
}

/// The machine's available parallelism, at most [`MAX_THREADS`].
pub(crate) fn available() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
}

#[cfg(feature = "gemm")]
fn start_rayon(threads: usize) -> Option<Arc<rayon::ThreadPool>> {
    if threads <= 1 {
        return None;
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("autoencoders-gemm-{i}"))
        .build()
        .ok()
        .map(Arc::new)
}

/// The current thread count.
pub(crate) fn threads() -> usize {
    state().read().map_or(1, |s| s.threads)
}

/// The environment variable's text, if it was set to something that is not a thread count.
pub(crate) fn malformed_variable() -> Option<String> {
    state().read().ok().and_then(|s| s.malformed.clone())
}

/// Sets the thread count (`1..=MAX_THREADS`, checked by the caller) and replaces the pool;
/// returns whether its threads could be started (always true for one thread). A computation
/// running meanwhile finishes on the pool it started with.
pub(crate) fn set_threads(threads: usize) -> bool {
    let new = State::new(threads, None);
    #[cfg(feature = "gemm")]
    let started = threads <= 1 || (new.pool.is_some() && new.rayon.is_some());
    #[cfg(not(feature = "gemm"))]
    let started = threads <= 1 || new.pool.is_some();
    let old = state().write().map(|mut s| std::mem::replace(&mut *s, new));
    // The old pool's workers stop (and are joined) once no computation holds it any more.
    drop(old);
    started
}

/// The pool, if there is more than one thread.
fn pool() -> Option<Arc<Pool>> {
    state().read().ok()?.pool.clone()
}

/// Runs `work` on every item and returns when all are done: on the pool's workers and the
/// calling thread when there is a pool, more than one item and no other computation is using
/// the pool; on the calling thread alone, in order, otherwise. A panic in `work` is raised
/// again on the calling thread.
pub(crate) fn for_each<I: Send>(items: Vec<I>, work: impl Fn(I) + Sync) {
    let pool = if items.len() > 1 { pool() } else { None };
    match pool {
        None => items.into_iter().for_each(work),
        Some(pool) => {
            // Each item is taken out of its slot by the one task that runs it.
            let slots: Vec<Mutex<Option<I>>> =
                items.into_iter().map(|i| Mutex::new(Some(i))).collect();
            pool.run(slots.len(), &|i| {
                let item = slots[i].lock().ok().and_then(|mut slot| slot.take());
                if let Some(item) = item {
                    work(item);
                }
            });
        }
    }
}

/// What one hand-off asks: task `i` is `call(data, i)`.
struct Task {
    /// The caller's closure, behind its type-erased pointer.
    data: *const (),
    /// Calls the closure behind `data` (of the type it was erased from) with a task index.
    call: unsafe fn(*const (), usize),
}

/// Calls the `F` behind `data` with task `i`.
///
/// # Safety
/// `data` must point to a live `F`.
unsafe fn call<F: Fn(usize) + Sync>(data: *const (), i: usize) {
    // SAFETY: the caller's contract.
    let f = unsafe { &*data.cast::<F>() };
    f(i);
}

/// What the caller and the workers share.
struct Shared {
    /// `epoch << 32 | next task index`: a hand-off raises the epoch and resets the index; a
    /// thread claims task `i` of epoch `e` by moving the ticket from `(e, i)` to `(e, i + 1)`.
    ticket: AtomicU64,
    /// The current hand-off's task, valid while any of its tasks is unfinished: read only by a
    /// thread that has claimed one.
    task: AtomicPtr<Task>,
    /// The current hand-off's number of tasks.
    count: AtomicUsize,
    /// Tasks of the current hand-off not yet finished.
    pending: AtomicUsize,
    /// Whether a task of the current hand-off panicked.
    panicked: AtomicBool,
    /// Workers asleep, or about to be.
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
    stop: AtomicBool,
}

impl Shared {
    /// Claims and runs tasks of hand-off `epoch` until none is left to claim.
    fn work_on(&self, epoch: u64) {
        loop {
            let ticket = self.ticket.load(Ordering::Acquire);
            if ticket >> 32 != epoch {
                return;
            }
            let index = (ticket & 0xffff_ffff) as usize;
            // A later hand-off's count if the epoch has moved on meanwhile; then the claim
            // below fails, as the ticket has moved too.
            let count = self.count.load(Ordering::Acquire);
            if index >= count {
                return;
            }
            if self
                .ticket
                .compare_exchange_weak(ticket, ticket + 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            // SAFETY: task `index` of `epoch` is claimed and not finished, so the caller of
            // `epoch` is still waiting and its task and closure are alive.
            let task = unsafe { &*self.task.load(Ordering::Acquire) };
            // SAFETY: `task.data` points to the closure `task.call` was made for.
            let result = catch_unwind(AssertUnwindSafe(|| unsafe {
                (task.call)(task.data, index)
            }));
            if result.is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// A worker's life: wait for a hand-off, work on it, again, until told to stop.
    fn worker(&self) {
        let mut seen = self.ticket.load(Ordering::Acquire) >> 32;
        loop {
            let waited = Instant::now();
            let mut spins = 0_u32;
            loop {
                if self.stop.load(Ordering::Acquire) {
                    return;
                }
                let epoch = self.ticket.load(Ordering::Acquire) >> 32;
                if epoch != seen {
                    seen = epoch;
                    break;
                }
                spins = spins.wrapping_add(1);
                if spins < 1 << 10 {
                    std::hint::spin_loop();
                } else if waited.elapsed() < SPIN_TIME {
                    std::thread::yield_now();
                } else {
                    self.sleep_until_woken(seen);
                    spins = 0;
                }
            }
            self.work_on(seen);
        }
    }

    /// Sleeps until the epoch moves past `seen` or the pool stops.
    fn sleep_until_woken(&self, seen: u64) {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut guard) = self.sleep.lock() {
            while self.ticket.load(Ordering::SeqCst) >> 32 == seen
                && !self.stop.load(Ordering::SeqCst)
            {
                match self.wake.wait(guard) {
                    Ok(g) => guard = g,
                    Err(_) => break,
                }
            }
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Persistent workers and the lock that lets one computation at a time hand work to them.
struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    busy: Mutex<()>,
}

impl Pool {
    /// A pool for `threads` threads (`threads − 1` workers), or `None` for one thread or if a
    /// worker could not be started.
    fn start(threads: usize) -> Option<Pool> {
        if threads <= 1 {
            return None;
        }
        let shared = Arc::new(Shared {
            ticket: AtomicU64::new(0),
            task: AtomicPtr::new(std::ptr::null_mut()),
            count: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let mut pool = Pool {
            shared: Arc::clone(&shared),
            workers: Vec::with_capacity(threads - 1),
            busy: Mutex::new(()),
        };
        for i in 1..threads {
            let shared = Arc::clone(&shared);
            let worker = std::thread::Builder::new()
                .name(format!("autoencoders-{i}"))
                .spawn(move || shared.worker())
                .ok()?; // dropping `pool` stops the workers already started
            pool.workers.push(worker);
        }
        Some(pool)
    }

    /// Runs `f(0)`, …, `f(count − 1)` on the workers and the calling thread; on the calling
    /// thread alone if another computation is using the pool.
    fn run<F: Fn(usize) + Sync>(&self, count: usize, f: &F) {
        let guard = match self.busy.try_lock() {
            Ok(guard) if count > 1 && count <= u32::MAX as usize => guard,
            _ => return (0..count).for_each(f),
        };
        let shared = &*self.shared;
        let task = Task {
            data: std::ptr::from_ref(f).cast(),
            call: call::<F>,
        };
        shared.panicked.store(false, Ordering::Relaxed);
        shared.pending.store(count, Ordering::Relaxed);
        shared.count.store(count, Ordering::Relaxed);
        shared
            .task
            .store(std::ptr::from_ref(&task).cast_mut(), Ordering::Relaxed);
        let epoch = (shared.ticket.load(Ordering::Relaxed) >> 32).wrapping_add(1) & 0xffff_ffff;
        // Publishes the task, the count and the reset index together.
        shared.ticket.store(epoch << 32, Ordering::SeqCst);
        if shared.sleepers.load(Ordering::SeqCst) > 0 {
            let _lock = shared.sleep.lock();
            shared.wake.notify_all();
        }
        shared.work_on(epoch);
        // `task` and `f` must outlive every task: wait until the workers have finished theirs.
        let waited = Instant::now();
        let mut spins = 0_u32;
        while shared.pending.load(Ordering::Acquire) != 0 {
            spins = spins.wrapping_add(1);
            // The clock is read every 64 spins only: it costs more than a spin.
            if !spins.is_multiple_of(64) || waited.elapsed() < SPIN_TIME {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        let panicked = shared.panicked.load(Ordering::Relaxed);
        drop(guard);
        if panicked {
            resume_unwind(Box::new("a task of the crate's thread pool panicked"));
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _lock = self.shared.sleep.lock();
            self.shared.wake.notify_all();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// How many parts a product whose output has `columns` columns and whose work is `flops`
/// multiply-adds should be split into: one unless it is large enough to pay for the hand-off
/// (about a million multiply-adds per extra part) and each part keeps at least `min_columns`
/// columns.
pub(crate) fn parts(columns: usize, flops: usize, min_columns: usize) -> usize {
    /// Multiply-adds that one more part must bring: tens of microseconds of work, well above
    /// the microseconds a hand-off to a pool thread costs.
    const FLOPS_PER_PART: usize = 1 << 19;
    let threads = threads();
    if threads <= 1 {
        return 1;
    }
    threads
        .min(flops / FLOPS_PER_PART)
        .min(columns / min_columns.max(1))
        .max(1)
}

/// Runs `f` on the rayon pool when there is more than one thread (so that a kernel that splits
/// its own work over the current rayon pool, as the `gemm` crate does, uses the crate's thread
/// count), on the calling thread otherwise; with the thread count.
#[cfg(feature = "gemm")]
pub(crate) fn install<R: Send>(f: impl FnOnce(usize) -> R + Send) -> R {
    let rayon = state()
        .read()
        .ok()
        .and_then(|s| s.rayon.clone().map(|pool| (s.threads, pool)));
    match rayon {
        None => f(1),
        Some((threads, pool)) => pool.install(|| f(threads)),
    }
}

/// The length of the pieces that an elementwise pass over `total` elements (of one or more
/// tensors) is cut into for [`for_each_piece`]: `usize::MAX` (no cut) on one thread or when the
/// pass is too short to pay for a hand-off, else a few pieces per thread.
pub(crate) fn piece_len(total: usize) -> usize {
    /// Passes shorter than this stay on the calling thread (microseconds of work, a few times
    /// what a hand-off to a spinning worker costs).
    const MIN_SPLIT: usize = 1 << 14;
    /// The shortest piece.
    const MIN_PIECE: usize = 1 << 12;
    let threads = threads();
    if threads <= 1 || total < MIN_SPLIT {
        return usize::MAX;
    }
    (total / (threads * 4)).max(MIN_PIECE).next_multiple_of(64)
}

/// Runs `work` on every piece (each with its length), the pieces divided into at most one
/// contiguous group per thread of about equal total length, each group on one thread in order.
/// Every piece is computed by one call, so the results do not depend on the grouping.
pub(crate) fn for_each_piece<I: Send>(
    pieces: impl IntoIterator<Item = (usize, I)>,
    work: impl Fn(I) + Sync,
) {
    let mut pieces = pieces.into_iter();
    // The common case, a pass too short to cut (one piece), allocates nothing.
    let Some(first) = pieces.next() else { return };
    let Some(second) = pieces.next() else {
        return work(first.1);
    };
    let pieces: Vec<(usize, I)> = [first, second].into_iter().chain(pieces).collect();
    let threads = threads().min(pieces.len()).max(1);
    if threads == 1 {
        return pieces.into_iter().for_each(|(_, piece)| work(piece));
    }
    let total: usize = pieces.iter().map(|(len, _)| len).sum();
    let mut groups: Vec<Vec<I>> = (0..threads).map(|_| Vec::new()).collect();
    let mut done = 0;
    for (len, piece) in pieces {
        // The group whose share of `total` the piece starts in.
        let group = (done * threads / total.max(1)).min(threads - 1);
        groups[group].push(piece);
        done += len;
    }
    groups.retain(|g| !g.is_empty());
    for_each(groups, |group| group.into_iter().for_each(&work));
}
