#![cfg_attr(doc, doc = include_str!("../README.md"))]
#![cfg_attr(not(doc), doc = "tokio transport for DCE/RPC associations.")]

pub mod client;
pub mod epm;
pub mod kdc;
pub mod server;

pub use client::{ConnectOptions, Connection};
pub use server::{CallContext, Handler, HandlerFuture, Limits, RunningServer, ServerBuilder};
