//! The App API's customer calls beyond one profile, over real HTTP: the search
//! (`POST /v1/customers`), several profiles at once (`POST /v1/customers/attributes`), a
//! person's messages (`GET /v1/customers/{id}/messages`) and what uses a segment
//! (`GET /v1/segments/{id}/used_by`).

use reqwest::Method;
use serde_json::{Value, json};

use crate::delivery::{ALLOW_LOOPBACK, settled_deliveries, start_campaign};
use crate::helpers::{TestApp, event, identify};
use crate::receiver::Receiver;
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

/// Starts a webhook campaign on `ping` events to a receiver; returns its id and the receiver.
async fn ping_campaign(app: &TestApp) -> (i64, Receiver) {
    let receiver = Receiver::start().await;
    let campaign = start_campaign(
        app,
        json!({"name": "Pings", "trigger": {"event": {"name": "ping"}},
               "steps": [{"webhook": {"url": format!("{}/hook/{{{{ customer.id }}}}", receiver.base_url)}}]}),
    )
    .await;
    (campaign, receiver)
}

#[tokio::test]
async fn a_persons_messages_are_paged_newest_first_with_their_metrics() {
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let (campaign, receiver) = ping_campaign(&app).await;
    identify(&app, "ann", json!({"email": "ann@example.com"})).await;
    identify(&app, "bob", json!({})).await;
    for person in ["ann", "ann", "bob", "ann"] {
        event(&app, person, json!({"name": "ping"})).await;
    }
    receiver.wait_for(4).await;
    let sent = settled_deliveries(&app, campaign).await;
    assert_eq!(sent.len(), 4, "{sent:?}");
    let (status, listed) = app.app_get("/v1/deliveries?customer_id=ann").await;
    assert_eq!(status, 200, "{listed}");
    let anns: Vec<&str> = listed["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| d["id"].as_str().expect("an id"))
        .collect();
    assert_eq!(anns.len(), 3);
    let (status, body) = app
        .track(
            Method::POST,
            "/api/v1/metrics",
            Some(json!({"delivery_id": anns[0], "metric": "opened"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Pages of two, newest first, in the order of the deliveries list.
    let mut seen = Vec::new();
    let mut start = String::new();
    let mut pages = 0;
    loop {
        let (status, page) = app
            .app_get(&format!("/v1/customers/ann/messages?limit=2&start={start}"))
            .await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        for message in page["messages"].as_array().expect("messages") {
            seen.push(message.clone());
        }
        start = page["next"].as_str().expect("next").to_owned();
        if start.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 2);
    let ids: Vec<&str> = seen.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, anns);
    let newest = &seen[0];
    assert_eq!(newest["type"], "webhook");
    assert_eq!(newest["campaign_id"], campaign);
    assert_eq!(newest["action_id"], 0);
    assert_eq!(newest["customer_id"], "ann");
    assert_eq!(newest["customer_identifiers"]["email"], "ann@example.com");
    assert_eq!(
        newest["recipient"],
        format!("{}/hook/ann", receiver.base_url)
    );
    // A reported metric moves the delivery's status forward.
    assert_eq!(newest["status"], "opened");
    assert_eq!(seen[1]["status"], "sent");
    assert!(newest["created"].is_i64(), "{newest}");
    assert!(newest["metrics"]["sent"].is_i64(), "{newest}");
    assert!(newest["metrics"]["opened"].is_i64(), "{newest}");
    assert_eq!(seen[1]["metrics"].get("opened"), None, "{}", seen[1]);
    assert_eq!(newest["failure_message"], Value::Null);

    // By email, and within a window of creation times.
    let (status, by_email) = app
        .app_get("/v1/customers/ann@example.com/messages?id_type=email")
        .await;
    assert_eq!(status, 200, "{by_email}");
    assert_eq!(by_email["messages"].as_array().unwrap().len(), 3);
    let created = newest["created"].as_i64().unwrap();
    let window =
        |from: i64, to: i64| format!("/v1/customers/ann/messages?start_ts={from}&end_ts={to}");
    let (_, inside) = app.app_get(&window(created - 3600, created + 3600)).await;
    assert_eq!(inside["messages"].as_array().unwrap().len(), 3, "{inside}");
    let (_, later) = app.app_get(&window(created + 3600, created + 7200)).await;
    assert_eq!(later["messages"], json!([]), "{later}");
    assert_eq!(later["next"], "");

    identify(&app, "cy", json!({})).await;
    let (status, none) = app.app_get("/v1/customers/cy/messages").await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(none, json!({"messages": [], "next": ""}));
    let (status, missing) = app.app_get("/v1/customers/nobody/messages").await;
    assert_eq!(status, 404, "{missing}");
    for (query, expected) in [
        (
            "limit=0",
            "limit \"0\" must be a whole number from 1 to 1000",
        ),
        ("start=yesterday", "start \"yesterday\" is not a cursor"),
        (
            "start_ts=yesterday",
            "start_ts \"yesterday\" must be a unix timestamp",
        ),
        ("start_ts=20&end_ts=10", "start_ts 20 is after end_ts 10"),
        ("id_type=phone", "id_type \"phone\""),
    ] {
        let (status, answer) = app
            .app_get(&format!("/v1/customers/ann/messages?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {answer}");
        let message = answer["meta"]["error"].as_str().expect("a message");
        assert!(message.contains(expected), "{query}: {message}");
    }
}

/// Creates a campaign (a draft) with a webhook step; returns its id.
async fn draft_campaign(app: &TestApp, trigger: Value, filter: Option<Value>) -> i64 {
    let mut campaign = json!({"name": "uses", "trigger": trigger,
        "steps": [{"webhook": {"url": "https://example.com/hook"}}]});
    if let Some(filter) = filter {
        campaign["filter"] = filter;
    }
    let (status, created) = app
        .app_post("/v1/campaigns", json!({"campaign": campaign}))
        .await;
    assert_eq!(status, 200, "{created}");
    created["campaign"]["id"].as_i64().expect("an id")
}

#[tokio::test]
async fn a_segment_is_used_by_the_campaigns_whose_trigger_or_filter_names_it() {
    let app = TestApp::spawn().await;
    let vips = create_segment(&app, None).await;
    let buyers = create_segment(&app, Some(json!({"event": {"name": "purchased"}}))).await;
    let unused = create_segment(&app, None).await;
    let on_entry = draft_campaign(&app, json!({"segment": {"id": vips}}), None).await;
    let filtered = draft_campaign(
        &app,
        json!({"event": {"name": "ping"}}),
        Some(json!({"or": [{"segment": {"id": buyers}}, {"not": {"segment": {"id": vips}}}]})),
    )
    .await;
    let on_exit =
        draft_campaign(&app, json!({"segment": {"id": buyers, "on": "exit"}}), None).await;
    let archived = draft_campaign(&app, json!({"segment": {"id": vips}}), None).await;
    let (status, body) = app
        .app_post(&format!("/v1/campaigns/{archived}/archive"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    draft_campaign(&app, json!({"event": {"name": "ping"}}), None).await;

    let used_by = |segment: i64| {
        let app = &app;
        async move {
            let (status, body) = app
                .app_get(&format!("/v1/segments/{segment}/used_by"))
                .await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    assert_eq!(
        used_by(vips).await,
        json!({"segment_id": vips, "used_by": {"campaigns": [on_entry, filtered, archived],
            "sent_newsletters": [], "draft_newsletters": []}})
    );
    assert_eq!(
        used_by(buyers).await["used_by"]["campaigns"],
        json!([filtered, on_exit])
    );
    assert_eq!(used_by(unused).await["used_by"]["campaigns"], json!([]));

    // A segment a campaign uses is not deleted, archived campaigns included; once the last
    // campaign that used it is gone, it is.
    let (status, refused) = app.app_delete(&format!("/v1/segments/{buyers}")).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        refused["meta"]["error"],
        format!(
            "segment {buyers} is used by campaigns [{filtered}, {on_exit}] (their trigger or filter); change or delete them first"
        )
    );
    for campaign in [filtered, on_exit] {
        let (status, body) = app.app_delete(&format!("/v1/campaigns/{campaign}")).await;
        assert_eq!(status, 204, "{body}");
    }
    let (status, body) = app.app_delete(&format!("/v1/segments/{buyers}")).await;
    assert_eq!(status, 204, "{body}");
    let (status, refused) = app.app_delete(&format!("/v1/segments/{vips}")).await;
    assert_eq!(status, 400, "{refused}");

    let (status, missing) = app.app_get("/v1/segments/9999/used_by").await;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["meta"]["error"], "Segment not found");
    let (status, bad) = app.app_get("/v1/segments/vips/used_by").await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(
        bad["meta"]["error"],
        "/v1/segments/vips/used_by: \"vips\" is where a number (an id) is expected"
    );
}
