//! Namespaces: listed, registered, described, and separate from each other.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

async fn namespace_names(api: &Client) -> Vec<String> {
    let (status, body) = api.get("namespaces").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .map(|n| n["namespaceInfo"]["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn register(api: &Client, name: &str) -> Reply {
    let body = json!({"namespace": name, "description": "a team's namespace", "workflowExecutionRetentionPeriod": "86400s"});
    api.post("namespaces", body).await
}

#[tokio::test]
async fn namespaces_are_listed_registered_and_described() {
    let s = Server::start().await;
    let api = s.at("/api/v1");
    assert!(namespace_names(&api).await.contains(&"default".to_owned()));

    let name = unique("team");
    assert_eq!(register(&api, &name).await, ok(json!({})));
    let (status, described) = api.get(&format!("namespaces/{name}")).await;
    assert_eq!(status, StatusCode::OK, "{described}");
    let info = &described["namespaceInfo"];
    assert_eq!(info["name"], json!(name));
    assert_eq!(info["state"], "NAMESPACE_STATE_REGISTERED");
    assert_eq!(info["description"], "a team's namespace");
    assert_eq!(info["capabilities"]["standaloneActivities"], true);
    assert_eq!(
        described["config"]["workflowExecutionRetentionTtl"],
        "86400s"
    );
    assert!(namespace_names(&api).await.contains(&name));

    let (status, body) = register(&api, &name).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::CONFLICT, json!(6)),
        "{body}"
    );
}

#[tokio::test]
async fn an_update_changes_what_it_gives_and_keeps_the_rest() {
    let s = Server::start().await;
    let api = s.at("/api/v1");
    let name = unique("team");
    assert_eq!(register(&api, &name).await, ok(json!({})));
    let update = |body: Value| {
        let api = api.clone();
        let path = format!("namespaces/{name}/update");
        async move { api.post(&path, body).await }
    };
    let (status, updated) = update(json!({
        "updateInfo": {"ownerEmail": "ops@example.com", "data": {"team": "billing"}},
        "config": {"workflowExecutionRetentionTtl": "172800s"},
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let info = &updated["namespaceInfo"];
    assert_eq!(
        info["description"], "a team's namespace",
        "an empty description keeps it"
    );
    assert_eq!(info["ownerEmail"], "ops@example.com");
    assert_eq!(info["data"], json!({"team": "billing"}));
    assert_eq!(
        updated["config"]["workflowExecutionRetentionTtl"],
        "172800s"
    );
    let (_, merged) = update(json!({"updateInfo": {"data": {"tier": "1"}}})).await;
    assert_eq!(
        merged["namespaceInfo"]["data"],
        json!({"team": "billing", "tier": "1"})
    );
    let (status, described) = api.get(&format!("namespaces/{name}")).await;
    assert_eq!(
        (status, &described),
        (StatusCode::OK, &merged),
        "describe shows the update"
    );

    // As Temporal 1.32's dev server answers the same requests.
    for retention in ["-1s", "0s"] {
        let body = json!({"config": {"workflowExecutionRetentionTtl": retention}});
        let invalid =
            json!({"code": 3, "message": "A valid retention period is not set on request."});
        assert_eq!(
            update(body).await,
            (StatusCode::BAD_REQUEST, invalid),
            "{retention}"
        );
    }
    let (status, body) =
        update(json!({"namespace": "other", "updateInfo": {"description": "d"}})).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the path names the namespace: {body}"
    );
    assert_eq!(body["namespaceInfo"]["name"], json!(name));
    let (status, body) = api
        .post(
            &format!("namespaces/{}/update", unique("missing")),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::NOT_FOUND, json!(5)),
        "{body}"
    );
}

#[tokio::test]
async fn the_same_activity_id_lives_separately_in_two_namespaces() {
    let s = Server::start().await;
    let name = unique("team");
    assert_eq!(register(&s.at("/api/v1"), &name).await, ok(json!({})));
    let team = s.at(&format!("/api/v1/namespaces/{name}"));

    let id = unique("shared-id");
    let in_default = s.start_activity(&id, json!({"input": ["default"]})).await;
    let in_team = team.start_activity(&id, json!({"input": ["team"]})).await;
    assert_eq!(
        (in_default["started"].clone(), in_team["started"].clone()),
        (json!(true), json!(true))
    );
    assert_ne!(in_default["runId"], in_team["runId"]);

    let task = team.poll_task(&id).await;
    assert_eq!(
        (task["input"].clone(), task["workflowNamespace"].clone()),
        (json!(["team"]), json!(name))
    );
    team.complete(&task, json!(["team done"])).await;
    assert_eq!(team.outcome(&id).await, json!({"result": ["team done"]}));
    let default_info: Value = s.info(&id).await;
    assert_eq!(
        default_info["runState"], "PENDING_ACTIVITY_STATE_SCHEDULED",
        "the default one is untouched"
    );
}
