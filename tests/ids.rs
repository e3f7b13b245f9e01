//! Activity ids, request ids and the id policies (§8.5). §12.9: requestId dedupe comes first and
//! also finds a closed run; a conflict is a 409 that names the run in the way.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

fn started_again(id: &str, run_id: &Value) -> Reply {
    let link = json!({"activity": {"namespace": "default", "activityId": id, "runId": run_id}});
    ok(json!({"runId": run_id, "link": link}))
}

// §12.9
#[tokio::test]
async fn an_activity_id_in_use_conflicts_unless_the_request_repeats() {
    let s = Server::start().await;
    let id = unique("dup");
    let first = s.start_activity(&id, json!({"requestId": "r1"})).await;
    let run_id = first["runId"].clone();
    assert_eq!(first["started"], true);

    let conflict = s.try_start(&id, json!({"requestId": "r2"})).await;
    let expected = json!({
        "code": 6,
        "message": "activity execution already started",
        "details": [{
            "@type": "type.googleapis.com/temporal.api.errordetails.v1.ActivityExecutionAlreadyStartedFailure",
            "startRequestId": "r1",
            "runId": run_id,
        }],
    });
    assert_eq!(conflict, (StatusCode::CONFLICT, expected));

    // The same request again: the same run, `started` omitted.
    assert_eq!(
        s.try_start(&id, json!({"requestId": "r1"})).await,
        started_again(&id, &run_id)
    );
    let use_existing =
        json!({"requestId": "r3", "idConflictPolicy": "ACTIVITY_ID_CONFLICT_POLICY_USE_EXISTING"});
    assert_eq!(
        s.try_start(&id, use_existing).await,
        started_again(&id, &run_id)
    );
}

// §12.9: the request id finds even a closed run.
#[tokio::test]
async fn a_closed_activity_id_is_reused_as_its_reuse_policy_says() {
    let s = Server::start().await;
    let id = unique("reuse");
    let first = s.start_activity(&id, json!({"requestId": "r1"})).await;
    let first_run = first["runId"].clone();
    assert_eq!(
        s.by_id(&id, "terminate", json!({"reason": "done"})).await,
        ok(json!({}))
    );

    // The request id still finds the closed run.
    assert_eq!(
        s.try_start(&id, json!({"requestId": "r1"})).await,
        started_again(&id, &first_run)
    );
    let rejected = s.try_start(&id, json!({"requestId": "r2", "idReusePolicy": "ACTIVITY_ID_REUSE_POLICY_REJECT_DUPLICATE"})).await;
    assert_eq!(
        (rejected.0, rejected.1["code"].clone()),
        (StatusCode::CONFLICT, json!(6)),
        "{rejected:?}"
    );

    let second = s.start_activity(&id, json!({"requestId": "r3"})).await;
    assert_eq!(second["started"], true);
    assert_ne!(second["runId"], first_run);
    assert_eq!(
        s.describe(&id).await["runId"],
        second["runId"],
        "describe without runId shows the latest run"
    );
    let old = s
        .get(&format!(
            "activities/{id}?runId={}",
            first_run.as_str().unwrap()
        ))
        .await;
    assert_eq!(
        old.1["info"]["status"], "ACTIVITY_EXECUTION_STATUS_TERMINATED",
        "{old:?}"
    );
}
