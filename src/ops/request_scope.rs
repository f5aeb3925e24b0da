//! The request span, made only when something inside the request uses it (issue 9, item 3).
//!
//! Every request runs inside a `request` span (request id, method, client, scheme, and the
//! endpoint once routed), so that whatever a handler, the store or a middleware logs while
//! the request is handled carries those fields. Made for every request, the span cost about
//! a tenth of a `/health` request's CPU: the registry's slot, the fields formatted into a
//! `String` at creation and again when the endpoint is recorded, the filter's locks on
//! every enter, exit and close. Most requests log nothing but their own line, which
//! [`super::access_log`] writes without the span.
//!
//! So when `main` wraps its subscriber in [`LazyRequestSpans`], a request keeps its fields in
//! a [`RequestScope`] and the span is made the first time it is needed: when an event is
//! logged or a span is made on the request's thread while the request is being polled, or
//! `Span::current()` is asked. It is then entered for the rest of that poll and for every
//! later poll, exactly as an eagerly made span would be, so every line says what it said
//! before. Without the wrapper (tests in one process, a library user's own subscriber) the
//! span is made at once, as before.

use std::cell::{Cell, OnceCell, RefCell};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tracing::span;
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// What a [`LazyRequestSpans`] that makes spans lazily answers when asked whether it is one
/// (`Dispatch::is::<Lazy>()`).
struct Lazy;

static LAZY: Lazy = Lazy;

/// True when the subscriber in force makes request spans when first used.
fn lazy() -> bool {
    tracing::dispatcher::get_default(|dispatch| dispatch.is::<Lazy>())
}

thread_local! {
    /// The request being polled on this thread, if any.
    static CURRENT: Cell<*const RequestScope> = const { Cell::new(std::ptr::null()) };
}

/// A request's span fields, and its span once made.
pub struct RequestScope {
    request_id: String,
    method: actix_web::http::Method,
    client: Option<IpAddr>,
    https: bool,
    endpoint: RefCell<Option<std::borrow::Cow<'static, str>>>,
    span: OnceCell<tracing::Span>,
    /// Set while the span is being made (its own dispatch must not make it again).
    making: Cell<bool>,
    /// The span was made and entered inside the current poll: exit it when the poll ends.
    entered_in_poll: Cell<bool>,
    /// The span was made with the scope (see [`RequestScope::eager`]).
    eager: bool,
}

impl RequestScope {
    pub fn new(
        request_id: String,
        method: actix_web::http::Method,
        client: Option<IpAddr>,
        https: bool,
    ) -> RequestScope {
        let scope = RequestScope {
            request_id,
            method,
            client,
            https,
            endpoint: RefCell::new(None),
            span: OnceCell::new(),
            making: Cell::new(false),
            entered_in_poll: Cell::new(false),
            eager: !lazy(),
        };
        if scope.eager {
            scope.span();
        }
        scope
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    pub fn method(&self) -> &str {
        self.method.as_str()
    }

    pub fn client(&self) -> Option<IpAddr> {
        self.client
    }

    pub fn https(&self) -> bool {
        self.https
    }

    /// True when the span was made with the scope (no [`LazyRequestSpans`], or a `RUST_LOG`
    /// that filters by span fields): then whether the request's own line is logged depends
    /// on the span too, and is asked inside it.
    pub fn eager(&self) -> bool {
        self.eager
    }

    /// The span, made now if it was not yet.
    pub fn span(&self) -> &tracing::Span {
        self.span.get_or_init(|| {
            self.making.set(true);
            let span = super::request_span(
                &self.request_id,
                self.method.as_str(),
                self.client,
                self.https,
            );
            if let Some(endpoint) = self.endpoint.borrow().as_deref() {
                span.record("endpoint", tracing::field::display(endpoint));
            }
            self.making.set(false);
            span
        })
    }

    /// Records the endpoint, once the request is routed (on the span too, if made).
    pub fn set_endpoint(&self, endpoint: std::borrow::Cow<'static, str>) {
        if let Some(span) = self.span.get() {
            span.record("endpoint", tracing::field::display(&endpoint));
        }
        *self.endpoint.borrow_mut() = Some(endpoint);
    }

    /// `future`, polled inside this request.
    pub fn run<F: Future>(&self, future: F) -> InRequest<'_, F> {
        InRequest {
            scope: self,
            inner: future,
        }
    }

    /// Makes the span of the request polled on this thread, if it has none yet, and enters
    /// it until that poll ends (called by [`LazyRequestSpans`] before an event or a span).
    fn make_current(dispatch_enter: impl FnOnce(&span::Id)) {
        let scope = CURRENT.with(Cell::get);
        if scope.is_null() {
            return;
        }
        // SAFETY: `CURRENT` points at a scope only while `InRequest::poll` borrows it, on
        // this thread.
        let scope = unsafe { &*scope };
        if scope.span.get().is_some() || scope.making.get() {
            return;
        }
        let span = scope.span();
        if let Some(id) = span.id() {
            dispatch_enter(&id);
            scope.entered_in_poll.set(true);
        }
    }
}

/// A future polled inside a request: the request is this thread's current one while it is
/// polled, and its span, once made, is entered (as `tracing::Instrument` would).
pub struct InRequest<'a, F> {
    scope: &'a RequestScope,
    inner: F,
}

impl<F: Future> Future for InRequest<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is never moved out of the pinned `self`.
        let this = unsafe { self.get_unchecked_mut() };
        let scope = this.scope;
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        // Undone when the poll ends, a panic's unwinding included: `CURRENT` never outlives
        // the borrow of `scope`.
        let _current = Current {
            scope,
            previous: CURRENT.with(|c| c.replace(scope as *const RequestScope)),
            was_entered: scope.entered_in_poll.replace(false),
        };
        let _entered = scope.span.get().map(tracing::Span::enter);
        inner.poll(cx)
    }
}

/// The request polled on this thread, until the poll ends.
struct Current<'a> {
    scope: &'a RequestScope,
    previous: *const RequestScope,
    was_entered: bool,
}

impl Drop for Current<'_> {
    fn drop(&mut self) {
        // A span made during the poll was entered by `make_current`: exit it.
        if self.scope.entered_in_poll.replace(self.was_entered) {
            if let Some(span) = self.scope.span.get() {
                span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
            }
        }
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// The process's subscriber, with request spans made when first used (see the module's
/// documentation). `main` installs it; a `RUST_LOG` that filters by span fields
/// (`[request{...}]`) keeps spans made eagerly, since the filter must see them from the
/// start.
pub struct LazyRequestSpans<S> {
    inner: S,
    lazy: bool,
}

impl<S> LazyRequestSpans<S> {
    /// Wraps `subscriber`, whose filter was read from `directives` (`RUST_LOG`).
    pub fn new(subscriber: S, directives: &str) -> LazyRequestSpans<S> {
        LazyRequestSpans {
            inner: subscriber,
            lazy: !directives.contains('['),
        }
    }
}

impl<S: Subscriber> Subscriber for LazyRequestSpans<S> {
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber)
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.inner.max_level_hint()
    }

    fn new_span(&self, span: &span::Attributes<'_>) -> span::Id {
        if span.is_contextual() {
            RequestScope::make_current(|id| self.inner.enter(id));
        }
        self.inner.new_span(span)
    }

    fn record(&self, span: &span::Id, values: &span::Record<'_>) {
        self.inner.record(span, values)
    }

    fn record_follows_from(&self, span: &span::Id, follows: &span::Id) {
        self.inner.record_follows_from(span, follows)
    }

    fn event_enabled(&self, event: &Event<'_>) -> bool {
        self.inner.event_enabled(event)
    }

    fn event(&self, event: &Event<'_>) {
        if event.is_contextual() {
            RequestScope::make_current(|id| self.inner.enter(id));
        }
        self.inner.event(event)
    }

    fn enter(&self, span: &span::Id) {
        self.inner.enter(span)
    }

    fn exit(&self, span: &span::Id) {
        self.inner.exit(span)
    }

    fn clone_span(&self, id: &span::Id) -> span::Id {
        self.inner.clone_span(id)
    }

    #[allow(deprecated)]
    fn drop_span(&self, id: span::Id) {
        self.inner.drop_span(id)
    }

    fn try_close(&self, id: span::Id) -> bool {
        self.inner.try_close(id)
    }

    fn current_span(&self) -> tracing_core::span::Current {
        RequestScope::make_current(|id| self.inner.enter(id));
        self.inner.current_span()
    }

    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        if id == std::any::TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        if self.lazy && id == std::any::TypeId::of::<Lazy>() {
            return Some(&LAZY as *const Lazy as *const ());
        }
        // SAFETY: as the wrapped subscriber's own.
        unsafe { self.inner.downcast_raw(id) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_support::Captured;

    /// Polls `future` to its end on this thread.
    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    /// A future that logs, yields once, logs again.
    struct TwoPolls(bool);

    impl Future for TwoPolls {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if !self.0 {
                tracing::warn!(step = 1, "inside");
                self.0 = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let _child = tracing::info_span!("child", n = 7).entered();
            tracing::warn!(step = 2, "inside");
            Poll::Ready(())
        }
    }

    /// The lines a request that logs in two polls writes, and whether a first request, which
    /// logs nothing, made a span. The span made inside an event's dispatch needs the
    /// process's global subscriber (a scoped one refuses nested dispatches), so in this test
    /// process only the eager spans are compared line by line; the lazy ones are compared
    /// with them in `tests/api/ops.rs`, on the real binary.
    fn lines(lazy: bool) -> (Vec<String>, bool) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(move || writer.clone())
            .finish();
        let directives = if lazy { "info" } else { "[request]=info" };
        let made = tracing::subscriber::with_default(
            LazyRequestSpans::new(subscriber, directives),
            || {
                let quiet =
                    RequestScope::new("q".into(), actix_web::http::Method::GET, None, false);
                block_on(quiet.run(async {}));
                let made = quiet.span.get().is_some();
                if lazy {
                    return made;
                }
                let scope = RequestScope::new(
                    "id-1".into(),
                    actix_web::http::Method::POST,
                    Some("10.0.0.1".parse().unwrap()),
                    true,
                );
                tracing::warn!("outside");
                block_on(scope.run(async {
                    tracing::info!("before routing");
                }));
                scope.set_endpoint("getObject".into());
                block_on(scope.run(TwoPolls(false)));
                tracing::warn!("outside again");
                made
            },
        );
        let text = String::from_utf8(captured.bytes()).unwrap();
        (text.lines().map(str::to_owned).collect(), made)
    }

    #[test]
    fn a_panic_inside_a_request_leaves_no_request_current() {
        let scope = RequestScope::new("p".into(), actix_web::http::Method::GET, None, false);
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            block_on(scope.run(async {
                assert!(!CURRENT.with(Cell::get).is_null());
                panic!("a handler's bug");
            }))
        }));
        assert!(polled.is_err());
        assert!(CURRENT.with(Cell::get).is_null());
    }

    #[test]
    fn a_request_that_logs_nothing_makes_no_span_and_one_that_logs_has_its_fields() {
        let (_, lazy_made) = lines(true);
        assert!(!lazy_made, "a request that logs nothing makes no span");
        let (text, eager_made) = lines(false);
        assert!(eager_made);
        assert_eq!(
            text,
            [
                " WARN datastore::ops::request_scope::tests: outside",
                r#" INFO request{request_id=id-1 method=POST client=10.0.0.1 scheme="https"}: datastore::ops::request_scope::tests: before routing"#,
                r#" WARN request{request_id=id-1 method=POST client=10.0.0.1 scheme="https" endpoint=getObject}: datastore::ops::request_scope::tests: inside step=1"#,
                r#" WARN request{request_id=id-1 method=POST client=10.0.0.1 scheme="https" endpoint=getObject}:child{n=7}: datastore::ops::request_scope::tests: inside step=2"#,
                " WARN datastore::ops::request_scope::tests: outside again",
            ]
        );
    }
}
