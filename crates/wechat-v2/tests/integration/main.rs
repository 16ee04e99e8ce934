//! One integration-test binary (link time on two cores): known-answer vectors, XML safety,
//! property tests, the client against local HTTP/TLS stubs, credentials.

mod client;
mod common;
mod credentials;
mod mtls;
mod notify;
mod props;
mod vectors;
mod xml_safety;
