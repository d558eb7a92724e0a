//! `metav1.Status` failures, shaped and worded like the API server's.

use serde_json::{Value, json};

use crate::resources::ResourceType;

/// A failed request: the HTTP status and the Status object to send.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// `message`.
    pub message: String,
    /// `details`, when the server sends them.
    pub details: Option<Value>,
}

impl ApiError {
    fn about(
        code: u16,
        reason: &'static str,
        message: String,
        resource: &ResourceType,
        name: &str,
    ) -> Self {
        let mut details = json!({ "name": name, "kind": resource.plural });
        if !resource.group.is_empty() {
            details["group"] = json!(resource.group);
        }
        Self {
            code,
            reason,
            message,
            details: Some(details),
        }
    }

    /// 404 NotFound.
    pub fn not_found(resource: &ResourceType, name: &str) -> Self {
        Self::about(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", resource.qualified()),
            resource,
            name,
        )
    }

    /// 409 AlreadyExists.
    pub fn already_exists(resource: &ResourceType, name: &str) -> Self {
        Self::about(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", resource.qualified()),
            resource,
            name,
        )
    }

    /// 409 Conflict on a stale resourceVersion.
    pub fn conflict(resource: &ResourceType, name: &str) -> Self {
        Self::about(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                resource.qualified()
            ),
            resource,
            name,
        )
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    /// 410 Gone (`Expired`), for a compacted resourceVersion or continue token.
    pub fn expired(message: impl Into<String>) -> Self {
        Self {
            code: 410,
            reason: "Expired",
            message: message.into(),
            details: None,
        }
    }

    /// 404 for a path that names no resource.
    pub fn no_route(path: &str) -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: format!("the server could not find the requested resource ({path})"),
            details: None,
        }
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(method: &str) -> Self {
        Self {
            code: 405,
            reason: "MethodNotAllowed",
            message: format!(
                "the server does not allow this method on the requested resource ({method})"
            ),
            details: None,
        }
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media(content_type: &str) -> Self {
        Self {
            code: 415,
            reason: "UnsupportedMediaType",
            message: format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml ({content_type})"
            ),
            details: None,
        }
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}
