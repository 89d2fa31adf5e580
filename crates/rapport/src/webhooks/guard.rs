//! The delivery-time half of the target check (`domain::webhook::target` is the other): a host
//! name is resolved here, and refused when any of its addresses is not allowed. reqwest connects
//! only to the addresses this resolver returns, so the address checked is the address connected
//! to: a name re-pointed between a check and the connection (DNS rebinding) cannot slip through.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::webhook::target::{Targets, host_address};

/// Resolves delivery hosts, refusing names with an address the targets do not allow.
pub struct CheckedResolver {
    /// Which addresses are allowed.
    pub targets: Targets,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (targets, host) = (self.targets, name.as_str().to_owned());
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            // Any address refused refuses the name: a resolver may hand out the bad one next time.
            if let Some(refused) = addresses.iter().find(|a| !targets.allows(a.ip())) {
                let reason = format!(
                    "the host {host} resolves to {}, which is not a public address: nothing was sent",
                    refused.ip()
                );
                return Err(reason.into());
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// `Err` with the reason when the URL's host is an address (no name to resolve, so the resolver
/// never sees it) that the targets do not allow.
pub fn check_literal(url: &str, targets: Targets) -> Result<(), String> {
    let address = reqwest::Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().and_then(host_address));
    match address {
        Some(address) if !targets.allows(address) => Err(format!(
            "the url's host {address} is not a public address: nothing was sent"
        )),
        _ => Ok(()),
    }
}
