//! Between the two wire formats: a protobuf message and the API type of the same Temporal
//! message convert through protojson, the JSON both already speak, so the gRPC door adds no
//! rules of its own. Errors become gRPC statuses with Temporal's error details attached.

use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tonic::Status;
use waymark_api::ApiError;
use waymark_api::payload::canonical;
use waymark_proto::google::rpc;

use crate::guard;
use waymark_proto::temporal::api::errordetails::v1 as details;

/// A request message as the API type the HTTP door decodes into.
pub fn to_api<T: DeserializeOwned>(message: &impl Serialize) -> Result<T, Status> {
    let json = serde_json::to_value(message).map_err(|e| {
        tracing::error!(error = %e, "a protobuf message did not print as JSON");
        Status::internal("internal error")
    })?;
    waymark_core::text::validate_json_no_nul(&json).map_err(Status::invalid_argument)?;
    guard::note_target(|| target_of(&json));
    guard::decode(|| serde_json::from_value(json))
        .map_err(|e| Status::invalid_argument(waymark_api::decode::describe(&[], &e)))
}

/// What a request acts on, for the audit log: `<namespace>/<workflow or activity id>`, or the
/// namespace alone.
fn target_of(request: &Value) -> String {
    let field = |path: &[&str]| {
        let value = path.iter().try_fold(request, |v, name| v.get(name))?;
        value.as_str().filter(|s| !s.is_empty())
    };
    let namespace = field(&["namespace"]).unwrap_or_default();
    let id = field(&["workflowId"])
        .or_else(|| field(&["workflowExecution", "workflowId"]))
        .or_else(|| field(&["execution", "workflowId"]))
        .or_else(|| field(&["activityId"]))
        .or_else(|| field(&["taskQueue", "name"]));
    match id {
        Some(id) => format!("{namespace}/{id}"),
        None => namespace.to_owned(),
    }
}

/// An API answer as the protobuf message of the same name.
pub fn from_api<P: DeserializeOwned>(answer: &impl Serialize) -> Result<P, Status> {
    let json = canonical(|| serde_json::to_value(answer));
    json.and_then(serde_json::from_value).map_err(|e| {
        tracing::error!(error = %e, "an answer does not read as its protobuf message");
        Status::internal("internal error")
    })
}

/// The gRPC status of an API error: the same code and message, and its details (each
/// `{"@type": ..}` object) as `google.rpc.Status` details, where the SDKs look for them.
pub fn status(error: ApiError) -> Status {
    let code = tonic::Code::from_i32(error.code.as_i32());
    let details: Vec<pbjson_types::Any> = error.details.iter().filter_map(detail).collect();
    if details.is_empty() {
        return Status::new(code, error.message);
    }
    let body = rpc::Status {
        code: error.code.as_i32(),
        message: error.message.clone(),
        details,
    };
    Status::with_details(code, error.message, body.encode_to_vec().into())
}

/// One `{"@type": "type.googleapis.com/temporal.api.errordetails.v1.X", ...}` detail as an
/// `Any` holding the encoded `X`.
fn detail(json: &Value) -> Option<pbjson_types::Any> {
    let type_url = json.get("@type")?.as_str()?;
    let name = type_url.rsplit('.').next()?;
    let mut fields = json.as_object()?.clone();
    fields.remove("@type");
    let fields = Value::Object(fields);
    fn encode<M: Message + DeserializeOwned>(fields: Value) -> Option<Vec<u8>> {
        serde_json::from_value::<M>(fields)
            .ok()
            .map(|m| m.encode_to_vec())
    }
    let value = match name {
        "NotFoundFailure" => encode::<details::NotFoundFailure>(fields),
        "NamespaceNotFoundFailure" => encode::<details::NamespaceNotFoundFailure>(fields),
        "NamespaceAlreadyExistsFailure" => encode::<details::NamespaceAlreadyExistsFailure>(fields),
        "WorkflowExecutionAlreadyStartedFailure" => {
            encode::<details::WorkflowExecutionAlreadyStartedFailure>(fields)
        }
        "ActivityExecutionAlreadyStartedFailure" => {
            encode::<details::ActivityExecutionAlreadyStartedFailure>(fields)
        }
        "QueryFailedFailure" => encode::<details::QueryFailedFailure>(fields),
        "WorkflowNotReadyFailure" => encode::<details::WorkflowNotReadyFailure>(fields),
        _ => None,
    };
    value.map(|value| pbjson_types::Any {
        type_url: type_url.to_owned(),
        value: value.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use waymark_api::{Code, Payload, Payloads};
    use waymark_proto::temporal::api::common::v1 as common;

    #[test]
    fn payloads_cross_in_both_directions_unchanged() {
        let api = Payloads(vec![
            Payload::Json(json!({"a": [1, 2.5, "ü"]})),
            Payload::null(),
        ]);
        let proto: common::Payloads = from_api(&api).unwrap();
        assert_eq!(proto.payloads.len(), 2);
        assert_eq!(proto.payloads[0].data, r#"{"a":[1,2.5,"ü"]}"#.as_bytes());
        assert_eq!(
            proto.payloads[1].metadata["encoding"],
            b"binary/null".to_vec()
        );
        assert_eq!(to_api::<Payloads>(&proto).unwrap(), api);
    }

    #[test]
    fn a_nul_in_a_request_is_refused_as_on_the_http_door() {
        let proto = common::WorkflowExecution {
            workflow_id: "a\0b".into(),
            run_id: String::new(),
        };
        let refused = to_api::<waymark_api::WorkflowExecution>(&proto).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            refused.message(),
            "workflowId must not contain the NUL character (\\u0000)"
        );
    }

    #[test]
    fn an_error_keeps_its_code_message_and_typed_detail() {
        let status = status(ApiError::namespace_not_found("nope"));
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert_eq!(status.message(), "Namespace nope is not found.");
        let body = rpc::Status::decode(status.details()).unwrap();
        assert_eq!(body.details.len(), 1);
        assert!(
            body.details[0]
                .type_url
                .ends_with("NamespaceNotFoundFailure")
        );
        let detail = details::NamespaceNotFoundFailure::decode(&*body.details[0].value).unwrap();
        assert_eq!(detail.namespace, "nope");
        // Without a detail, only the code and message.
        let plain = super::status(ApiError::new(Code::InvalidArgument, "bad"));
        assert!(plain.details().is_empty());
    }
}
