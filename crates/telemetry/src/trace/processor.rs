//! A batch span processor with a bounded queue whose drops are counted in a Prometheus metric.
//!
//! Why not the SDK's `BatchSpanProcessor`: it drops spans silently when its queue is full (only
//! an internal log line at shutdown), and the contract here is "an unreachable collector never
//! slows a request, and every dropped span is counted". Requests only ever `try_send` into the
//! queue; a dedicated thread batches and exports, each export bounded by the exporter's timeout.
//! docs/ARCHITECTURE.md, "Our own batch span processor".
//!
//! What the queue holds is the exporter's choice ([`QueuedExporter`]): the OTLP/gRPC exporter has
//! each span encoded on the thread that ended it (`otlp::encode`), an SDK exporter takes the spans.

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use parking_lot::Mutex;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) const SPANS_DROPPED: &str = "otel_spans_dropped_total";
pub(crate) const SPANS_EXPORTED: &str = "otel_spans_exported_total";
pub(crate) const SPANS_EXPORT_FAILED: &str = "otel_spans_export_failed_total";

/// How the export futures are driven on the processor thread.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Executor {
    /// A single-threaded tokio runtime of the export thread's own (the gRPC exporter): its
    /// connection lives there, off the service's request workers.
    OwnRuntime,
    /// No runtime: the blocking HTTP client must not run inside one.
    Plain,
}

/// An [`Executor`] once started on the export thread.
enum Driver {
    Runtime(tokio::runtime::Runtime),
    Plain,
}

impl Driver {
    fn start(executor: Executor) -> std::io::Result<Self> {
        Ok(match executor {
            Executor::OwnRuntime => Driver::Runtime(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?,
            ),
            Executor::Plain => Driver::Plain,
        })
    }

    fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        match self {
            Driver::Runtime(runtime) => runtime.block_on(fut),
            Driver::Plain => futures::executor::block_on(fut),
        }
    }
}

enum Control {
    Flush(SyncSender<OTelSdkResult>),
    Shutdown(SyncSender<OTelSdkResult>),
    SetResource(Resource),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchSettings {
    pub max_queue_size: usize,
    pub max_export_batch_size: usize,
    pub schedule_delay: Duration,
    /// The attribute value length limit applied to every span as it is queued.
    pub value_length_limit: usize,
}

/// An exporter fed by the processor's queue.
pub(crate) trait QueuedExporter {
    /// What a finished span becomes in the queue.
    type Item: Send + 'static;
    /// Runs in `on_end`, on the thread that ended the span, with the attribute value length
    /// limit to apply.
    fn prepare(span: SpanData, value_length_limit: usize) -> Self::Item;
    fn export(&self, batch: Vec<Self::Item>) -> impl Future<Output = OTelSdkResult>;
    fn shutdown(&self) -> OTelSdkResult;
    fn set_resource(&mut self, resource: &Resource);
}

/// An SDK span exporter (opentelemetry-otlp's OTLP/HTTP one): the queue holds the spans.
#[derive(Debug)]
pub(crate) struct SdkExporter<E>(pub E);

impl<E: SpanExporter> QueuedExporter for SdkExporter<E> {
    type Item = SpanData;

    fn prepare(mut span: SpanData, value_length_limit: usize) -> SpanData {
        // The SDK has no attribute value length limit: apply it before the span is queued.
        crate::trace::attribute_limit::limit_span_to(&mut span, value_length_limit);
        span
    }

    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> {
        self.0.export(batch)
    }

    fn shutdown(&self) -> OTelSdkResult {
        self.0.shutdown()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

pub(crate) struct BoundedBatchProcessor<T> {
    queue: Arc<SpanQueue<T>>,
    prepare: fn(SpanData, usize) -> T,
    value_length_limit: usize,
    control: Mutex<Sender<Control>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    shut_down: AtomicBool,
}

/// The sending side of the queue: what a thread that ends a span needs to hand it over. Shared
/// with spans that are queued without going through the SDK (`ClientSpan`'s direct spans).
pub(crate) struct SpanQueue<T> {
    spans: SyncSender<T>,
    /// To wake the worker: it sleeps between exports, so a request never pays for a wake-up
    /// (a syscall) except the one that fills the queue to `wake_at`.
    worker_thread: std::thread::Thread,
    /// Spans handed to the queue and not yet taken by the worker.
    queued: Arc<AtomicUsize>,
    wake_at: usize,
}

impl<T> std::fmt::Debug for SpanQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanQueue")
            .field("queued", &self.queued.load(Ordering::Relaxed))
            .field("wake_at", &self.wake_at)
            .finish()
    }
}

impl<T> SpanQueue<T> {
    /// A queue onto `spans` with no worker behind it.
    #[cfg(test)]
    pub(crate) fn for_test(spans: SyncSender<T>) -> Self {
        Self {
            spans,
            worker_thread: std::thread::current(),
            queued: Arc::default(),
            wake_at: usize::MAX,
        }
    }

    /// Queues a finished span, or counts it in `otel_spans_dropped_total` when it cannot be
    /// (the queue is full, or the worker has ended).
    pub(crate) fn push(&self, span: T) {
        // Counted before the send, so the worker never takes more than was counted.
        let queued = self.queued.fetch_add(1, Ordering::AcqRel) + 1;
        match self.spans.try_send(span) {
            Ok(()) => {
                if queued == self.wake_at {
                    self.worker_thread.unpark();
                }
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(1, Ordering::AcqRel);
                metrics::counter!(SPANS_DROPPED).increment(1);
            }
        }
    }
}

/// When a request wakes the worker: at a quarter of the queue, so that room is left for the
/// spans that arrive while it wakes up and exports, or at a full batch if that comes first.
fn wake_at(settings: BatchSettings) -> usize {
    (settings.max_queue_size / 4).clamp(1, settings.max_export_batch_size)
}

/// How long a flush waits for the worker before giving up (the worker itself is bounded by the
/// exporter timeout; this bounds the caller). A shutdown waits the timeout it is given.
const CONTROL_WAIT: Duration = Duration::from_secs(5);
/// How often the worker looks at control messages while the queue is quiet.
const POLL: Duration = Duration::from_millis(50);

impl<T> std::fmt::Debug for BoundedBatchProcessor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedBatchProcessor")
            .field("queue", &self.queue)
            .finish()
    }
}

impl<T: Send + 'static> BoundedBatchProcessor<T> {
    /// Starts the export thread, builds the exporter there with `make_exporter` (inside the
    /// thread's runtime, for [`Executor::OwnRuntime`]) and returns once it is built.
    pub(crate) fn new<E, F>(
        make_exporter: F,
        settings: BatchSettings,
        executor: Executor,
    ) -> Result<Self, String>
    where
        E: QueuedExporter<Item = T> + 'static,
        F: FnOnce() -> Result<E, String> + Send + 'static,
    {
        let (spans, span_rx) = mpsc::sync_channel(settings.max_queue_size);
        let (control, control_rx) = mpsc::channel();
        let (built, built_rx) = mpsc::sync_channel::<Result<(), String>>(1);
        let queued = Arc::new(AtomicUsize::new(0));
        let worker = std::thread::Builder::new()
            .name("otel-span-export".into())
            .spawn({
                let queued = queued.clone();
                move || {
                    let driver = match Driver::start(executor) {
                        Ok(driver) => driver,
                        Err(e) => {
                            let _ = built.send(Err(format!("cannot start its runtime: {e}")));
                            return;
                        }
                    };
                    let exporter = match &driver {
                        Driver::Runtime(runtime) => {
                            let _entered = runtime.enter();
                            make_exporter()
                        }
                        Driver::Plain => make_exporter(),
                    };
                    match exporter {
                        Ok(exporter) => {
                            let _ = built.send(Ok(()));
                            Worker::new(exporter, settings, driver, queued)
                                .run(&span_rx, &control_rx);
                        }
                        Err(e) => {
                            let _ = built.send(Err(e));
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start the export thread: {e}"))?;
        built_rx
            .recv()
            .map_err(|_| "the export thread ended while starting".to_owned())??;
        let wake_at = wake_at(settings);
        Ok(Self {
            queue: Arc::new(SpanQueue {
                spans,
                worker_thread: worker.thread().clone(),
                queued,
                wake_at,
            }),
            prepare: E::prepare,
            value_length_limit: settings.value_length_limit,
            control: Mutex::new(control),
            worker: Mutex::new(Some(worker)),
            shut_down: AtomicBool::new(false),
        })
    }

    /// The queue, for spans that are queued without the SDK.
    pub(crate) fn queue(&self) -> Arc<SpanQueue<T>> {
        self.queue.clone()
    }

    fn request(
        &self,
        make: impl FnOnce(SyncSender<OTelSdkResult>) -> Control,
        wait: Duration,
    ) -> OTelSdkResult {
        let (reply, reply_rx) = mpsc::sync_channel(1);
        let sent = self.control.lock().send(make(reply));
        if sent.is_err() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.queue.worker_thread.unpark();
        reply_rx
            .recv_timeout(wait)
            .map_err(|_| OTelSdkError::Timeout(wait))?
    }
}

impl<T: Send + 'static> SpanProcessor for BoundedBatchProcessor<T> {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        self.queue
            .push((self.prepare)(span, self.value_length_limit));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.request(Control::Flush, CONTROL_WAIT)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::SeqCst) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let result = self.request(Control::Shutdown, timeout);
        if result.is_ok()
            && let Some(worker) = self.worker.lock().take()
        {
            let _ = worker.join();
        }
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        let _ = self
            .control
            .lock()
            .send(Control::SetResource(resource.clone()));
    }
}

struct Worker<E: QueuedExporter> {
    exporter: E,
    settings: BatchSettings,
    driver: Driver,
    batch: Vec<E::Item>,
    queued: Arc<AtomicUsize>,
    failing: bool,
}

impl<E: QueuedExporter> Worker<E> {
    fn new(exporter: E, settings: BatchSettings, driver: Driver, queued: Arc<AtomicUsize>) -> Self {
        Self {
            exporter,
            batch: Vec::with_capacity(settings.max_export_batch_size),
            settings,
            driver,
            queued,
            failing: false,
        }
    }

    fn run(mut self, spans: &Receiver<E::Item>, control: &Receiver<Control>) {
        // The exporter's own HTTP/gRPC calls must not produce spans of their own.
        let _suppressed = Context::enter_telemetry_suppressed_scope();
        let mut next_export = Instant::now() + self.settings.schedule_delay;
        loop {
            // Sleep (not a blocking receive): senders then never make a syscall to wake us, except
            // the one that fills the queue to the wake-up mark, and flush/shutdown requests.
            std::thread::park_timeout(
                next_export
                    .saturating_duration_since(Instant::now())
                    .min(POLL),
            );
            match self.take_queued(spans) {
                Ok(Some(_)) => next_export = Instant::now() + self.settings.schedule_delay,
                Ok(None) => {}
                Err(()) => {
                    let _ = self.export();
                    return;
                }
            }
            while let Ok(message) = control.try_recv() {
                match message {
                    Control::Flush(reply) => {
                        let result = self.drain(spans);
                        let _ = reply.send(result);
                    }
                    Control::Shutdown(reply) => {
                        let result = self.drain(spans);
                        let _ = self.exporter.shutdown();
                        let _ = reply.send(result);
                        return;
                    }
                    Control::SetResource(resource) => self.exporter.set_resource(&resource),
                }
            }
            if Instant::now() >= next_export {
                let _ = self.export();
                next_export = Instant::now() + self.settings.schedule_delay;
            }
        }
    }

    /// Moves every queued span into the batch, exporting each batch that fills up: `Some` with
    /// the combined result if it exported any; `Err` once every sender is gone.
    fn take_queued(&mut self, spans: &Receiver<E::Item>) -> Result<Option<OTelSdkResult>, ()> {
        let mut exported: Option<OTelSdkResult> = None;
        loop {
            match spans.try_recv() {
                Ok(span) => {
                    self.queued.fetch_sub(1, Ordering::AcqRel);
                    self.batch.push(span);
                    if self.batch.len() >= self.settings.max_export_batch_size {
                        let result = self.export();
                        exported = Some(exported.unwrap_or(Ok(())).and(result));
                    }
                }
                Err(TryRecvError::Empty) => return Ok(exported),
                Err(TryRecvError::Disconnected) => return Err(()),
            }
        }
    }

    /// Exports everything queued so far (flush and shutdown).
    fn drain(&mut self, spans: &Receiver<E::Item>) -> OTelSdkResult {
        let earlier = self.take_queued(spans).ok().flatten().unwrap_or(Ok(()));
        let last = self.export();
        earlier.and(last)
    }

    fn export(&mut self) -> OTelSdkResult {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(
            &mut self.batch,
            Vec::with_capacity(self.settings.max_export_batch_size),
        );
        let count = batch.len() as u64;
        let result = self.driver.block_on(self.exporter.export(batch));
        match &result {
            Ok(()) => {
                metrics::counter!(SPANS_EXPORTED).increment(count);
                if std::mem::replace(&mut self.failing, false) {
                    tracing::info!(target: "telemetry", "span export recovered");
                }
            }
            Err(error) => {
                metrics::counter!(SPANS_EXPORT_FAILED).increment(count);
                // Log the transition only, not every failed batch: a dead collector must not flood logs.
                if !std::mem::replace(&mut self.failing, true) {
                    tracing::warn!(target: "telemetry", %error, "span export failing; spans are counted in otel_spans_export_failed_total");
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

    fn dropped(recorder: &PrometheusRecorder) -> Option<u64> {
        let text = recorder.handle().render();
        text.lines()
            .find_map(|line| line.strip_prefix("otel_spans_dropped_total "))
            .map(|value| value.parse().expect("a count"))
    }

    fn settings(max_queue_size: usize, max_export_batch_size: usize) -> BatchSettings {
        BatchSettings {
            max_queue_size,
            max_export_batch_size,
            schedule_delay: Duration::from_secs(3600),
            value_length_limit: crate::config::DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT,
        }
    }

    /// A full queue turns a span away at once and counts it; so does a queue whose worker is
    /// gone. Neither is left counted as queued.
    #[test]
    fn a_full_queue_drops_and_counts_each_span() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let (spans, received) = mpsc::sync_channel(2);
        let queue = SpanQueue::for_test(spans);
        metrics::with_local_recorder(&recorder, || {
            for span in 0..5u32 {
                queue.push(span);
            }
        });
        assert_eq!(dropped(&recorder), Some(3));
        assert_eq!(queue.queued.load(Ordering::Relaxed), 2);
        assert_eq!(received.try_iter().collect::<Vec<_>>(), [0, 1]);
        drop(received);
        metrics::with_local_recorder(&recorder, || queue.push(5));
        assert_eq!(dropped(&recorder), Some(4), "the worker has ended");
        assert_eq!(
            queue.queued.load(Ordering::Relaxed),
            2,
            "only what a worker would take counts as queued"
        );
    }

    #[test]
    fn the_wake_up_mark_is_a_quarter_of_the_queue_at_most_a_batch() {
        assert_eq!(wake_at(settings(16, 512)), 4);
        assert_eq!(wake_at(settings(2048, 512)), 512);
        assert_eq!(wake_at(settings(8192, 512)), 512, "a full batch first");
        assert_eq!(wake_at(settings(2, 512)), 1);
    }

    /// Requests wake the sleeping worker once, with the span that fills the queue to the mark,
    /// not with every span (a syscall each).
    #[test]
    fn the_span_that_reaches_the_mark_wakes_the_worker_and_no_other() {
        let (woken, wakes) = mpsc::channel();
        let worker = std::thread::spawn(move || {
            for _ in 0..2 {
                std::thread::park();
                if woken.send(()).is_err() {
                    return;
                }
            }
        });
        let (spans, _received) = mpsc::sync_channel(16);
        let queue = SpanQueue {
            spans,
            worker_thread: worker.thread().clone(),
            queued: Arc::default(),
            wake_at: wake_at(settings(16, 512)),
        };
        let quiet = Duration::from_millis(200);
        for span in 0..3u32 {
            queue.push(span);
        }
        assert!(wakes.recv_timeout(quiet).is_err(), "woken before the mark");
        queue.push(3);
        wakes
            .recv_timeout(Duration::from_secs(5))
            .expect("woken at a quarter of 16");
        for span in 4..8u32 {
            queue.push(span);
        }
        assert!(wakes.recv_timeout(quiet).is_err(), "woken past the mark");
        worker.thread().unpark();
        worker.join().unwrap();
    }

    /// An exporter whose export does not return until it is released.
    struct Stuck {
        release: Arc<Mutex<Receiver<()>>>,
        exported: Arc<AtomicUsize>,
    }

    impl QueuedExporter for Stuck {
        type Item = u32;
        fn prepare(_span: SpanData, _value_length_limit: usize) -> u32 {
            0
        }
        async fn export(&self, batch: Vec<u32>) -> OTelSdkResult {
            let _ = self.release.lock().recv();
            self.exported.fetch_add(batch.len(), Ordering::Relaxed);
            Ok(())
        }
        fn shutdown(&self) -> OTelSdkResult {
            Ok(())
        }
        fn set_resource(&mut self, _resource: &Resource) {}
    }

    /// An export that hangs (a collector that accepts and never answers) holds neither a flush
    /// past its bound nor a request: spans past the queue's room are dropped and counted at once.
    #[test]
    fn a_hanging_export_bounds_the_flush_and_never_blocks_a_request() {
        let (release, released) = mpsc::channel();
        let exported = Arc::new(AtomicUsize::new(0));
        let processor = BoundedBatchProcessor::new(
            {
                let exported = exported.clone();
                move || {
                    Ok(Stuck {
                        release: Arc::new(Mutex::new(released)),
                        exported,
                    })
                }
            },
            settings(8, 4),
            Executor::Plain,
        )
        .expect("the export thread starts");
        let queue = processor.queue();
        for span in 0..4 {
            queue.push(span);
        }
        let started = Instant::now();
        assert!(
            matches!(processor.force_flush(), Err(OTelSdkError::Timeout(wait)) if wait == CONTROL_WAIT),
            "the flush gives up"
        );
        assert!(started.elapsed() >= CONTROL_WAIT);
        // The export is still stuck: the queue fills (8) and the rest is dropped, counted.
        let recorder = PrometheusBuilder::new().build_recorder();
        let pushing = Instant::now();
        metrics::with_local_recorder(&recorder, || {
            for span in 4..24 {
                queue.push(span);
            }
        });
        assert!(
            pushing.elapsed() < Duration::from_secs(1),
            "no request waits"
        );
        assert_eq!(dropped(&recorder), Some(12));
        // Released, everything queued is exported and the processor shuts down.
        for _ in 0..8 {
            let _ = release.send(());
        }
        processor.shutdown().expect("shut down");
        assert_eq!(exported.load(Ordering::Relaxed), 12);
    }

    /// Shutting down waits the timeout it is given (the guard's), not the flush's bound.
    #[test]
    fn a_hanging_export_bounds_the_shutdown_by_its_timeout() {
        let (release, released) = mpsc::channel();
        let processor = BoundedBatchProcessor::new(
            move || {
                Ok(Stuck {
                    release: Arc::new(Mutex::new(released)),
                    exported: Arc::new(AtomicUsize::new(0)),
                })
            },
            settings(8, 4),
            Executor::Plain,
        )
        .expect("the export thread starts");
        for span in 0..4 {
            processor.queue().push(span);
        }
        let timeout = Duration::from_millis(200);
        assert!(
            matches!(processor.shutdown_with_timeout(timeout), Err(OTelSdkError::Timeout(wait)) if wait == timeout),
            "the shutdown gives up after its own timeout"
        );
        let _ = release.send(());
    }
}
