//! `rapport serve`: the API and the dashboard until SIGTERM or Ctrl-C.

use std::net::SocketAddr;

use clap::Args;
use rapport::config::Settings;
use rapport::server::AppState;
use rapport::store::open_with;

use super::Output;

/// `rapport serve`. Each flag overrides its setting (see `rapport config show`).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on [setting server.bind, RAPPORT_BIND; default 127.0.0.1:7878].
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Mark the dashboard's cookies Secure on every response (they are whenever a proxy sends
    /// `X-Forwarded-Proto: https`); set this when users reach Rapport only over HTTPS [setting
    /// server.secure_cookies, RAPPORT_SECURE_COOKIES].
    #[arg(long)]
    pub secure_cookies: bool,
    /// Let webhooks go to loopback, private and other non-public addresses (receivers inside your
    /// network). Off, subscriptions to such addresses are refused and deliveries to host names
    /// that resolve to them are not sent [setting webhooks.allow_private,
    /// RAPPORT_ALLOW_PRIVATE_WEBHOOKS].
    #[arg(long)]
    pub allow_private_webhooks: bool,
    /// The business's time zone, an IANA name such as Europe/Berlin: the dashboard shows times
    /// and counts days and months in it [setting business.time_zone, RAPPORT_TIME_ZONE; default
    /// UTC].
    #[arg(long)]
    pub time_zone: Option<String>,
    #[command(flatten)]
    pub business: super::output::BusinessCurrency,
}

/// Serves the API until SIGTERM or Ctrl-C.
pub async fn run(settings: &Settings, out: Output) -> anyhow::Result<()> {
    let state = AppState::with_settings(open_with(&settings.database).await?, settings);
    rapport::server::serve(state, settings.server.bind, |address| {
        let _ = out.line(&format!(
            "serving on http://{address} (dashboard at /, API under /api/v1, reference at /api/docs); Ctrl-C stops"
        ));
    })
    .await
}
