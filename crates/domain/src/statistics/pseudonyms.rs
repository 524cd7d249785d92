//! Making each person's pseudonym while the extract is still being read. The keyed HMAC
//! is most of an extract's work, so batches of subject ids go to worker threads (one per
//! core) as they fill, and the thread reading records keeps reading meanwhile.

use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

/// Turns a subject id into the project's pseudonym; shared with the worker threads.
pub type Pseudonymise = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Subject ids per batch: large enough that handing one over costs nothing measurable.
const BATCH: usize = 8192;

/// Subject ids of one batch: one buffer and where each id ends, not a String per person.
#[derive(Default)]
struct Batch {
    text: String,
    ends: Vec<usize>,
}

impl Batch {
    fn pseudonyms(&self, pseudonymise: &(dyn Fn(&str) -> String + Send + Sync)) -> Vec<String> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let p = pseudonymise(&self.text[start..end]);
                start = end;
                p
            })
            .collect()
    }
}

/// The pseudonyms being made, in the order the people were first seen.
pub(crate) struct Pseudonymiser {
    pseudonymise: Pseudonymise,
    pending: Batch,
    sent: usize,
    jobs: Option<mpsc::Sender<(usize, Batch)>>,
    results: Option<mpsc::Receiver<(usize, Vec<String>)>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pseudonymiser {
    pub(crate) fn new(pseudonymise: Pseudonymise) -> Pseudonymiser {
        Pseudonymiser {
            pseudonymise,
            pending: Batch::default(),
            sent: 0,
            jobs: None,
            results: None,
            workers: Vec::new(),
        }
    }

    /// Queues the next person's subject id.
    pub(crate) fn add(&mut self, subject: &str) {
        self.pending.text.push_str(subject);
        self.pending.ends.push(self.pending.text.len());
        if self.pending.ends.len() == BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        if self.jobs.is_none() {
            self.start();
        }
        let batch = std::mem::take(&mut self.pending);
        let index = self.sent;
        self.sent += 1;
        let lost = self
            .jobs
            .as_ref()
            .is_none_or(|jobs| jobs.send((index, batch)).is_err());
        if lost {
            // Every worker is gone (one panicked); `finish` reports it.
            self.jobs = None;
        }
    }

    /// Starts one worker per core, on the first full batch: small extracts start none.
    fn start(&mut self) {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (jobs, queue) = mpsc::channel::<(usize, Batch)>();
        let queue = Arc::new(Mutex::new(queue));
        let (done, results) = mpsc::channel();
        for _ in 0..threads {
            let queue = Arc::clone(&queue);
            let done = done.clone();
            let pseudonymise = Arc::clone(&self.pseudonymise);
            self.workers.push(std::thread::spawn(move || {
                loop {
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok((index, batch)) = job else { return };
                    if done
                        .send((index, batch.pseudonyms(&*pseudonymise)))
                        .is_err()
                    {
                        return;
                    }
                }
            }));
        }
        self.jobs = Some(jobs);
        self.results = Some(results);
    }

    /// Every pseudonym, in order. The last, partial batch is made here while the workers
    /// finish theirs.
    pub(crate) fn finish(mut self) -> Vec<String> {
        let last = self.pending.pseudonyms(&*self.pseudonymise);
        drop(self.jobs.take());
        let mut parts: Vec<Option<Vec<String>>> = (0..self.sent).map(|_| None).collect();
        if let Some(results) = self.results.take() {
            for (index, pseudonyms) in results {
                parts[index] = Some(pseudonyms);
            }
        }
        for worker in self.workers.drain(..) {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        let mut all = Vec::with_capacity(self.sent * BATCH + last.len());
        for part in parts {
            all.extend(part.expect("every batch is made by a worker that did not panic"));
        }
        all.extend(last);
        all
    }
}
