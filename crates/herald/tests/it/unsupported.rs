//! What Customer.io's clients can call that Herald does not have: a 404 that says so.

use crate::helpers::TestApp;

#[tokio::test]
async fn unsupported_customer_io_features_say_so() {
    let app = TestApp::spawn().await;
    for path in [
        "/v1/exports",
        "/v1/subscription_topics",
        "/v1/campaigns/1/actions",
        "/v1/broadcasts",
    ] {
        let (status, body) = app.app_get(path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["code"], "not_supported", "{path}: {body}");
        assert!(
            body["meta"]["error"]
                .as_str()
                .is_some_and(|message| message.contains("Herald does not support")),
            "{path}: {body}"
        );
    }
    let (status, body) = app.app_get("/v1/segmentz").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
}
