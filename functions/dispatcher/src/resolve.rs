//! Host names to addresses, behind a trait so that tests stand in for DNS (a public-looking
//! name that answers with a private address) and the client checks what it is given.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;

/// The addresses a resolution answered, in its order.
pub type Resolved<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Resolves a host name to its addresses. The delivery client checks every address it gets and
/// connects only to those, so an implementation needs no policy of its own.
pub trait Resolve: Send + Sync {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolved<'a>;
}

/// The system's resolver (`getaddrinfo` through `tokio::net::lookup_host`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolved<'a> {
        Box::pin(async move {
            let mut ips: Vec<IpAddr> = Vec::new();
            // The port is the caller's; 0 only satisfies the lookup's signature.
            for addr in tokio::net::lookup_host((host, 0)).await? {
                if !ips.contains(&addr.ip()) {
                    ips.push(addr.ip());
                }
            }
            Ok(ips)
        })
    }
}
