//! The service as `paperboy serve` runs it: the web server, the scheduler's daily job, the
//! loop that sends subscription mails and the purge of expired sign-ups, over one
//! application context. The tests start it the
//! same way, so what runs in production is what is tested.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::bounces::mailbox::{MailboxError, Poller};
use crate::config::Config;
use crate::context::{Context, StartError};
use crate::scheduler::{Schedule, ScheduleError};
use crate::services::Services;
use crate::web::{self, AppState};

/// How often unconfirmed sign-ups past their link's expiry are removed.
const PURGE_EVERY: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("cannot listen on {bind}: {source}; is another process using it? set PAPERBOY_BIND")]
    Bind {
        bind: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Webhooks(#[from] crate::bounces::webhooks::KeyError),
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
    #[error(
        "cannot listen for bounces on {bind}: {source}; is another process using it? set PAPERBOY_INBOUND__BIND"
    )]
    InboundBind {
        bind: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    InboundTls(String),
    #[error(transparent)]
    Mailbox(#[from] MailboxError),
}

/// A built service, listening, not yet serving.
pub struct App {
    services: Services,
    listener: TcpListener,
    /// The SMTP listener for bounces, when `inbound.bind` is set, and its STARTTLS.
    inbound: Option<TcpListener>,
    inbound_tls: Option<tokio_rustls::TlsAcceptor>,
    /// The bounce mailbox's poller, when `mailbox.url` is set.
    mailbox: Option<Poller>,
    schedule: Option<Schedule>,
    /// The providers' webhooks that are configured.
    webhooks: crate::bounces::webhooks::Setup,
}

impl App {
    /// Build the service and listen on `config.bind`.
    pub async fn build(config: Config) -> Result<Self, AppError> {
        let bind = config.bind;
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|source| AppError::Bind { bind, source })?;
        Self::build_on(config, listener).await
    }

    /// Build the service on a listener already bound (a test binds port 0 first to learn
    /// the `base_url` its links must carry).
    pub async fn build_on(config: Config, listener: TcpListener) -> Result<Self, AppError> {
        // A wrong cron expression stops the start, before the database is touched.
        let schedule = if config.schedule.enabled {
            Some(Schedule::parse(&config.schedule.cron)?)
        } else {
            None
        };
        // A certificate that does not load stops the start, before anything listens.
        let inbound_tls = crate::bounces::listener::tls_acceptor(&config.inbound)
            .map_err(AppError::InboundTls)?;
        let inbound = match config.inbound.bind.trim() {
            "" => None,
            bind => {
                Some(
                    TcpListener::bind(bind)
                        .await
                        .map_err(|source| AppError::InboundBind {
                            bind: bind.to_string(),
                            source,
                        })?,
                )
            }
        };
        // Providers' keys that cannot be used stop the start too.
        let webhooks = crate::bounces::webhooks::Setup::from_config(&config.webhooks)?;
        let ctx = Context::start(config).await?;
        // A wrong mailbox URL or CA file stops the start too.
        let mailbox = Poller::from_config(&ctx)?;
        Ok(Self {
            services: Services::new(ctx),
            listener,
            inbound,
            inbound_tls,
            mailbox,
            schedule,
            webhooks,
        })
    }

    pub fn context(&self) -> &Context {
        &self.services.ctx
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where the SMTP listener for bounces listens, when it is on.
    pub fn inbound_addr(&self) -> Option<SocketAddr> {
        self.inbound.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Start the background loops and serve until ctrl-c or SIGTERM.
    pub async fn run(self) -> Result<(), AppError> {
        let services = self.services;
        let ctx = services.ctx.clone();
        tracing::info!(backend = ctx.store.backend(), "database ready");
        tracing::info!("{}", ctx.mailer.describe());
        tracing::info!(
            "listening on http://{} (public URL {})",
            self.listener.local_addr().map_err(AppError::Serve)?,
            ctx.config.base_url
        );
        match self.schedule {
            Some(schedule) => {
                // Alive from the start: the first request may come before the task runs.
                services.health.heartbeat().beat(crate::clock::now());
                if let Some(next) = schedule.next_after(crate::clock::now()) {
                    tracing::info!(next = %next, cron = %ctx.config.schedule.cron, "daily job scheduled");
                }
                tokio::spawn(crate::scheduler::run(services.clone(), schedule));
            }
            None => tracing::info!(
                "schedule.enabled is false: run `paperboy run-daily` from your own scheduler"
            ),
        }
        tokio::spawn(purge_expired(services.clone()));
        // Confirmation, "already subscribed" and welcome mails go out as they are queued.
        let mails = services.clone();
        tokio::spawn(async move { mails.subscriptions.keep_delivering_mails().await });
        if let Some(inbound) = self.inbound {
            tracing::info!(
                "listening for bounces and complaints on smtp://{}",
                inbound.local_addr().map_err(AppError::Serve)?
            );
            let tls = self.inbound_tls;
            tokio::spawn(crate::bounces::listener::serve(ctx.clone(), inbound, tls));
        }
        if let Some(poller) = self.mailbox {
            let every = Duration::from_secs(ctx.config.mailbox.poll_seconds.max(1));
            tokio::spawn(poller.run(every));
        }
        let providers = self.webhooks.enabled();
        if !providers.is_empty() {
            tracing::info!(
                "taking bounce and complaint events at {}/webhooks/{{{}}}",
                ctx.config.base_url,
                providers.join(",")
            );
        }
        let webhooks = crate::bounces::webhooks::Webhooks::new(ctx.clone(), self.webhooks);
        web::serve(self.listener, AppState::new(services, webhooks))
            .await
            .map_err(AppError::Serve)
    }
}

/// Remove unconfirmed sign-ups past their link's expiry, now and every [`PURGE_EVERY`].
async fn purge_expired(services: Services) {
    let subs = &services.subscriptions;
    let mut tick = tokio::time::interval(PURGE_EVERY);
    loop {
        tick.tick().await;
        match subs.purge_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                removed = n,
                "removed unconfirmed sign-ups past their link's expiry"
            ),
            Err(e) => tracing::warn!(error = %e, "could not remove expired sign-ups"),
        }
    }
}
