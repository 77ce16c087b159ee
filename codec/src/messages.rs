//! The messages nodes exchange: chat messages, RPC requests and responses.
//!
//! Each derives serde (for JSON) and rkyv (for archives); the archived forms
//! (`ArchivedChatMessage`, ...) are read zero-copy through
//! [`RkyvCodec::access`](crate::RkyvCodec::access) and friends.

use rkyv::{Archive, Deserialize, Serialize};

use crate::JsonValue;

/// A chat message.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    serde::Serialize,
    serde::Deserialize,
    Debug,
    Clone,
    PartialEq,
    Eq,
    Hash,
)]
#[rkyv(derive(Debug))]
pub struct ChatMessage {
    /// The message id.
    pub id: String,
    /// The text.
    pub content: String,
    /// When it was sent, in milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// The sender's user id.
    pub sender: String,
    /// The room it was sent to.
    pub room_id: String,
}

impl ChatMessage {
    /// Builds a message from borrowed fields.
    pub fn new(
        id: &str,
        content: &str,
        timestamp: u64,
        sender: &str,
        room_id: &str,
    ) -> ChatMessage {
        ChatMessage {
            id: id.to_owned(),
            content: content.to_owned(),
            timestamp,
            sender: sender.to_owned(),
            room_id: room_id.to_owned(),
        }
    }
}

/// How an RPC is answered.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    serde::Serialize,
    serde::Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub enum RpcMethodType {
    /// Reads state; answered with a result.
    Query,
    /// Changes state; answered with a result.
    Command,
    /// Fire and forget: no response.
    Notification,
}

/// A request from one node to another.
#[derive(
    Archive, Serialize, Deserialize, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq,
)]
pub struct RpcRequest {
    /// The request id, echoed by the response.
    pub id: String,
    /// The method name.
    pub method: String,
    /// The parameters: any JSON value.
    pub params: JsonValue,
    /// How the request is answered.
    pub method_type: RpcMethodType,
}

/// The error half of an [`RpcResponse`].
#[derive(
    Archive,
    Serialize,
    Deserialize,
    serde::Serialize,
    serde::Deserialize,
    Debug,
    Clone,
    PartialEq,
    Eq,
)]
#[rkyv(derive(Debug))]
pub struct RpcError {
    /// A numeric error code (JSON-RPC's codes where they apply).
    pub code: i32,
    /// A human-readable description.
    pub message: String,
}

/// The answer to an [`RpcRequest`]: exactly one of `result` and `error` is
/// set.
#[derive(
    Archive, Serialize, Deserialize, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq,
)]
pub struct RpcResponse {
    /// The id of the request this answers.
    pub id: String,
    /// The result, on success.
    pub result: Option<JsonValue>,
    /// The error, on failure.
    pub error: Option<RpcError>,
}
