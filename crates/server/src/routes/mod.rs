//! Routes by resource; handlers stay thin (parse, authorise, call, answer).

pub mod auth;
pub mod cards;
pub mod characters;
pub mod chat;
pub mod docs;
pub mod documents;
pub mod events;
pub mod health;
pub mod jobs;
pub mod search;
pub mod users;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The client's address as the socket saw it (proxies' forwarding headers
/// are not trusted: they are trivially forged).
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}
