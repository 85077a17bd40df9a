//! The App API's customer calls beyond one profile, over real HTTP: the search
//! (`POST /v1/customers`), several profiles at once (`POST /v1/customers/attributes`), a
//! person's messages (`GET /v1/customers/{id}/messages`) and what uses a segment
//! (`GET /v1/segments/{id}/used_by`).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, event, identify};
use crate::segments::create_segment;

/// Every page of a search, `limit` people each, following `next`: the ids of each page (a
/// person without an id shows as their email).
async fn search_pages(app: &TestApp, filter: Value, limit: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut start = String::new();
    loop {
        let (status, page) = app
            .app_post(
                &format!("/v1/customers?limit={limit}&start={start}"),
                json!({"filter": filter}),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        let identifiers = page["identifiers"].as_array().expect("identifiers");
        let ids = page["ids"].as_array().expect("ids");
        assert_eq!(identifiers.len(), ids.len(), "{page}");
        assert!(identifiers.len() <= limit, "{page}");
        pages.push(
            identifiers
                .iter()
                .map(|person| {
                    person["id"]
                        .as_str()
                        .or(person["email"].as_str())
                        .expect("an id or an email")
                        .to_owned()
                })
                .collect(),
        );
        start = page["next"].as_str().expect("next is a string").to_owned();
        if start.is_empty() {
            return pages;
        }
    }
}

/// Five people with plans, one known only by email, and one deleted.
async fn people(app: &TestApp) {
    identify(
        app,
        "ann",
        json!({"email": "ann@example.com", "plan": "pro"}),
    )
    .await;
    identify(app, "bob", json!({"plan": "free", "vip": true})).await;
    identify(app, "cy", json!({"plan": "pro", "age": 30})).await;
    identify(app, "dee@example.com", json!({"plan": "pro"})).await;
    identify(app, "gone", json!({"plan": "pro"})).await;
    identify(app, "eve", json!({})).await;
    let (status, body) = app
        .track(Method::DELETE, "/api/v1/customers/gone", None)
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_search_pages_through_the_people_an_attribute_filter_matches() {
    let app = TestApp::spawn().await;
    people(&app).await;
    let pro = json!({"attribute": {"field": "plan", "operator": "eq", "value": "pro"}});
    assert_eq!(
        search_pages(&app, pro.clone(), 2).await,
        vec![vec!["ann", "cy"], vec!["dee@example.com"]]
    );
    assert_eq!(
        search_pages(&app, pro.clone(), 50).await,
        vec![vec!["ann", "cy", "dee@example.com"]]
    );

    // The answer's shape: identifiers with nulls, and an empty string in ids for a person
    // without an id.
    let (status, page) = app
        .app_post(
            "/v1/customers?start=&limit=",
            json!({"filter": {"attribute": {"field": "email", "operator": "eq", "value": "DEE@example.com"}}}),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["ids"], json!([""]));
    assert_eq!(page["identifiers"][0]["id"], Value::Null);
    assert_eq!(page["identifiers"][0]["email"], "dee@example.com");
    assert!(page["identifiers"][0]["cio_id"].is_string(), "{page}");
    assert_eq!(page["next"], "");

    // Attributes are compared as Customer.io keeps them, as text.
    let vip = json!({"attribute": {"field": "vip", "operator": "eq", "value": "true"}});
    assert_eq!(search_pages(&app, vip, 50).await, vec![vec!["bob"]]);
    let thirty = json!({"attribute": {"field": "age", "operator": "eq", "value": "30"}});
    assert_eq!(search_pages(&app, thirty, 50).await, vec![vec!["cy"]]);
    let no_plan = json!({"not": {"attribute": {"field": "plan", "operator": "exists"}}});
    assert_eq!(search_pages(&app, no_plan, 50).await, vec![vec!["eve"]]);
    let pro_with_email =
        json!({"and": [pro, {"attribute": {"field": "email", "operator": "exists"}}]});
    assert_eq!(
        search_pages(&app, pro_with_email, 1).await,
        vec![vec!["ann"], vec!["dee@example.com"]]
    );
}

#[tokio::test]
async fn a_search_combines_segment_memberships_with_attributes() {
    let app = TestApp::spawn().await;
    people(&app).await;
    for person in ["bob", "cy", "eve"] {
        event(&app, person, json!({"name": "purchased"})).await;
    }
    let buyers = create_segment(&app, Some(json!({"event": {"name": "purchased"}}))).await;
    let manual = create_segment(&app, None).await;
    let (status, body) = app
        .track(
            Method::POST,
            &format!("/api/v1/segments/{manual}/add_customers"),
            Some(json!({"ids": ["ann", "cy"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let in_buyers = json!({"segment": {"id": buyers}});
    assert_eq!(
        search_pages(&app, in_buyers.clone(), 2).await,
        vec![vec!["bob", "cy"], vec!["eve"]]
    );
    let pro_buyers = json!({"and": [in_buyers.clone(),
        {"attribute": {"field": "plan", "operator": "eq", "value": "pro"}}]});
    assert_eq!(search_pages(&app, pro_buyers, 50).await, vec![vec!["cy"]]);
    let either = json!({"or": [in_buyers.clone(), {"segment": {"id": manual}}]});
    assert_eq!(
        search_pages(&app, either, 3).await,
        vec![vec!["ann", "bob", "cy"], vec!["eve"]]
    );
    let neither = json!({"and": [{"not": in_buyers}, {"not": {"segment": {"id": manual}}}]});
    assert_eq!(
        search_pages(&app, neither, 50).await,
        vec![vec!["dee@example.com"]]
    );
}

/// Sends an App API POST with a raw body.
async fn post_raw(app: &TestApp, path: &str, body: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(&app.workspace.app_api_key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

#[tokio::test]
async fn bad_searches_are_400s_that_say_what_to_change() {
    let app = TestApp::spawn().await;
    people(&app).await;
    let segment = json!({"segment": {"id": 1}});
    let cases = [
        ("/v1/customers", json!({}), "filter is required"),
        (
            "/v1/customers",
            json!({"filter": []}),
            "filter must be an object",
        ),
        (
            "/v1/customers",
            json!({"filter": {"and": [{"attribute": {"field": "plan", "operator": "gt", "value": 1}}]}}),
            "filter.and[0].attribute.operator \"gt\" is not supported; use eq or exists",
        ),
        (
            "/v1/customers",
            json!({"filter": {"attribute": {"field": "plan", "operator": "eq"}}}),
            "filter.attribute.value is required",
        ),
        (
            "/v1/customers",
            json!({"filter": {"not": [segment.clone()]}}),
            "filter.not takes one filter object",
        ),
        (
            "/v1/customers",
            json!({"filter": {"segment": {"id": 12345}}}),
            "segment 12345, which does not exist",
        ),
        (
            "/v1/customers",
            json!({"filter": {"or": [segment.clone()], "not": segment.clone()}}),
            "filter has or, not: a filter object takes exactly one of",
        ),
        (
            "/v1/customers?limit=0",
            json!({"filter": segment.clone()}),
            "limit \"0\" must be a whole number from 1 to 1000",
        ),
        (
            "/v1/customers?limit=1001",
            json!({"filter": segment.clone()}),
            "from 1 to 1000",
        ),
        (
            "/v1/customers?start=MDox",
            json!({"filter": segment}),
            "start \"MDox\" is not a cursor",
        ),
    ];
    for (path, body, expected) in cases {
        let (status, answer) = app.app_post(path, body.clone()).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        let message = answer["meta"]["error"].as_str().expect("a message");
        assert!(message.contains(expected), "{path} {body}: {message}");
    }
    let (status, answer) = post_raw(&app, "/v1/customers", "{\"filter\":").await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = post_raw(&app, "/v1/customers", "[1]").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["meta"]["error"], "the body must be a JSON object");
}

#[tokio::test]
async fn several_profiles_are_read_at_once_as_one_is() {
    let app = TestApp::spawn().await;
    people(&app).await;
    let (status, body) = app
        .track(
            Method::PUT,
            "/api/v1/customers/ann/devices",
            Some(json!({"device": {"id": "ann-phone", "platform": "ios"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, found) = app
        .app_post(
            "/v1/customers/attributes",
            json!({"ids": ["cy", "nobody", "ann", "cy", "gone"]}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let customers = found["customers"].as_array().expect("customers");
    // In the order asked, each person once; ids that name nobody (or a deleted person) are left
    // out, as at Customer.io.
    let ids: Vec<&str> = customers
        .iter()
        .map(|c| c["customer"]["id"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids, ["cy", "ann"]);
    for customer in customers {
        let id = customer["customer"]["id"].as_str().expect("an id");
        let (status, one) = app.app_get(&format!("/v1/customers/{id}/attributes")).await;
        assert_eq!(status, 200, "{one}");
        assert_eq!(
            customer["customer"], one["customer"],
            "{id} reads as it does alone"
        );
    }
    assert_eq!(customers[1]["customer"]["devices"][0]["token"], "ann-phone");
    assert_eq!(customers[1]["customer"]["attributes"]["plan"], "pro");
    assert_eq!(
        customers[1]["customer"]["attributes"]["email"],
        "ann@example.com"
    );

    let (status, by_email) = app
        .app_post(
            "/v1/customers/attributes?id_type=email",
            json!({"ids": ["DEE@example.com"]}),
        )
        .await;
    assert_eq!(status, 200, "{by_email}");
    let dee = &by_email["customers"][0]["customer"];
    assert_eq!(dee["id"], Value::Null);
    assert_eq!(dee["identifiers"]["email"], "dee@example.com");
    let cio_id = dee["identifiers"]["cio_id"].as_str().expect("a cio_id");
    let (status, by_cio_id) = app
        .app_post(
            "/v1/customers/attributes?id_type=cio_id",
            json!({"ids": [format!("cio_{cio_id}")]}),
        )
        .await;
    assert_eq!(status, 200, "{by_cio_id}");
    assert_eq!(by_cio_id["customers"][0]["customer"], *dee);

    let many: Vec<String> = (0..101).map(|n| format!("p{n}")).collect();
    for (path, body, expected) in [
        (
            "/v1/customers/attributes",
            json!({}),
            "1 to 100 identifiers",
        ),
        (
            "/v1/customers/attributes",
            json!({"ids": []}),
            "1 to 100 identifiers",
        ),
        (
            "/v1/customers/attributes",
            json!({"ids": many}),
            "1 to 100 identifiers",
        ),
        (
            "/v1/customers/attributes",
            json!({"ids": ["ann", {"id": 1}]}),
            "ids[1] must be a string",
        ),
        (
            "/v1/customers/attributes?id_type=phone",
            json!({"ids": ["ann"]}),
            "id_type \"phone\"",
        ),
    ] {
        let (status, answer) = app.app_post(path, body.clone()).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        let message = answer["meta"]["error"].as_str().expect("a message");
        assert!(message.contains(expected), "{path} {body}: {message}");
    }
}
