//! A test's end of an ARI WebSocket, client or server side: reads events and sends
//! `RESTRequest` frames, matching the `RESTResponse` by `request_id`. Used by the REST over
//! WebSocket and outbound WebSocket tests (where the test plays the remote application).

#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::EVENT_TIMEOUT;

/// One ARI WebSocket seen from the test.
pub(crate) struct AriSocket<S> {
    pub stream: WebSocketStream<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> AriSocket<S> {
    pub(crate) fn new(stream: WebSocketStream<S>) -> AriSocket<S> {
        AriSocket { stream }
    }

    /// The next JSON text frame (panics after [`EVENT_TIMEOUT`] or when the socket closes).
    pub(crate) async fn next(&mut self) -> Value {
        self.try_next()
            .await
            .expect("an ARI frame within the timeout")
    }

    /// The next JSON text frame, `None` when the socket closes or nothing arrives in time.
    pub(crate) async fn try_next(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(EVENT_TIMEOUT, self.stream.next())
                .await
                .ok()??
                .ok()?;
            match message {
                Message::Text(text) => {
                    return Some(serde_json::from_str(text.as_str()).expect("frame is JSON"));
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// Reads until the other side closes the socket; false if it is still open after
    /// [`EVENT_TIMEOUT`]. Returns the JSON frames read meanwhile through `seen`.
    pub(crate) async fn closed_by_peer(&mut self, seen: &mut Vec<Value>) -> bool {
        tokio::time::timeout(EVENT_TIMEOUT, async {
            loop {
                match self.stream.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Text(text))) => {
                        if let Ok(frame) = serde_json::from_str(text.as_str()) {
                            seen.push(frame);
                        }
                    }
                    Some(Ok(_)) => {}
                }
            }
        })
        .await
        .is_ok()
    }

    /// Skips frames until one of type `kind` arrives.
    pub(crate) async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Sends a text frame.
    pub(crate) async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// Sends a RESTRequest and returns the RESTResponse with its `request_id`; frames in
    /// between are collected into `skipped`.
    pub(crate) async fn rest_collecting(
        &mut self,
        request: Value,
        skipped: &mut Vec<Value>,
    ) -> Value {
        let id = request["request_id"].clone();
        self.send_text(&request.to_string()).await;
        loop {
            let frame = self.next().await;
            if frame["type"] == "RESTResponse" && frame["request_id"] == id {
                return frame;
            }
            skipped.push(frame);
        }
    }

    /// Sends a RESTRequest and returns its RESTResponse (other frames are dropped).
    pub(crate) async fn rest(&mut self, request: Value) -> Value {
        self.rest_collecting(request, &mut Vec::new()).await
    }

    /// Closes and waits for the other side's close.
    pub(crate) async fn close(mut self) {
        let _ = self.stream.close(None).await;
        let _ = tokio::time::timeout(EVENT_TIMEOUT, async {
            while let Some(Ok(_)) = self.stream.next().await {}
        })
        .await;
    }
}

/// A RESTRequest frame.
pub(crate) fn request(id: &str, method: &str, uri: &str) -> Value {
    json!({"type": "RESTRequest", "request_id": id, "transaction_id": "t", "method": method, "uri": uri})
}

/// The JSON inside a response's `message_body` (`Null` without one).
pub(crate) fn body(response: &Value) -> Value {
    response["message_body"]
        .as_str()
        .map(|b| serde_json::from_str(b).expect("message_body is JSON"))
        .unwrap_or(Value::Null)
}
