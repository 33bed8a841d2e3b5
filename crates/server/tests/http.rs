//! The REST API against a real server on port 0.

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn put_get_patch_delete_round_trip() {
    let server = TestServer::memory().await;
    let http = reqwest::Client::new();
    let url = server.http("/v1/docs/users/u1");
    let put: serde_json::Value =
        http.put(&url).json(&json!({"name":"Ada"})).send().await.unwrap().json().await.unwrap();
    let patch = http.patch(&url).json(&json!({"age":36})).send().await.unwrap();
    assert_eq!(patch.status(), 200);
    let patched: serde_json::Value = patch.json().await.unwrap();
    assert!(patched["version"].as_u64() > put["version"].as_u64());
    assert_eq!(server.get("users/u1").await.1["data"], json!({"name":"Ada","age":36}));
    assert_eq!(http.delete(&url).send().await.unwrap().status(), 200);
    let (status, body) = server.get("users/u1").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not-found")));
}

#[tokio::test]
async fn a_collection_lists_its_documents_by_id() {
    let server = TestServer::memory().await;
    for id in ["b", "a", "c"] {
        server.put(&format!("items/{id}"), json!({"id": id})).await;
    }
    let (status, body) = server.get("items").await;
    assert_eq!(status, 200);
    let ids: Vec<_> = body["docs"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(body["version"], 3);
}

#[tokio::test]
async fn bad_bodies_and_paths_get_400_with_a_code_and_a_message() {
    let server = TestServer::memory().await;
    let http = reqwest::Client::new();
    for (path, body) in [("c/d", "[1,2]"), ("c/d", "{not json"), ("c", "{}"), ("c/a%01b", "{}")] {
        let response = http.put(server.http(&format!("/v1/docs/{path}"))).body(body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path} {body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["code"], "invalid-argument");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let response = http.patch(server.http("/v1/docs/c/missing")).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn healthz_answers_ok() {
    let server = TestServer::memory().await;
    let response = reqwest::get(server.http("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
}
