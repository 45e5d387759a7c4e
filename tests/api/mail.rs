//! The Mailer end to end: mail queued through the admin API (`POST …/mail/test`) leaves the real
//! server through lettre to a real SMTP server run by the test (or to a file), from the tenant's
//! sender and with the tenant's template overrides; it survives a restart while the SMTP server is
//! down, is retried with backoff, is delivered once by two nodes sharing PostgreSQL, and keeps no
//! body once delivered.

use std::net::TcpListener;
use std::time::Duration;

use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tessera::{Application, Overrides, Settings};
use tessera_mail::{SmtpTls, TransportKind};

use crate::helpers::{TestApp, fresh_database, spawn_app_with, within};
use crate::smtp::{SmtpServer, parse};

/// Settings sending to the test's SMTP server on `port`, polling fast, retrying after 2 s.
pub(crate) fn smtp_to(port: u16) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        s.mail.transport = TransportKind::Smtp;
        s.mail.smtp.host = "127.0.0.1".into();
        s.mail.smtp.port = Some(port);
        s.mail.smtp.tls = SmtpTls::None;
        s.mail.smtp.timeout_secs = 5;
        s.mail.poll_interval_ms = 100;
        s.mail.retry_base_secs = 2;
        s.mail.from = "Tessera <no-reply@tessera.test>".into();
    }
}

/// A tenant whose mail comes from "Acme Support <support@acme.test>".
async fn tenant_with_sender(app: &TestApp, slug: &str) -> String {
    app.create_tenant(slug, "ES256").await;
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            Method::PATCH,
            &format!("/tenants/{slug}/settings"),
            Some(json!({"mail": {"from": "support@acme.test", "from_name": "Acme Support"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    token
}

/// Queues the test mail to `to`; returns its outbox id.
async fn send_test(app: &TestApp, token: &str, slug: &str, to: &str) -> String {
    let (status, body) = app
        .admin(
            token,
            Method::POST,
            &format!("/tenants/{slug}/mail/test"),
            Some(json!({"to": to})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "pending");
    body["id"].as_str().unwrap().to_owned()
}

/// The outbox entry `id` of tenant `slug`.
async fn outbox_entry(app: &TestApp, token: &str, slug: &str, id: &str) -> Value {
    let (status, body) = app
        .admin(
            token,
            Method::GET,
            &format!("/tenants/{slug}/mail/outbox?limit=500"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn wait_for_messages(smtp: &SmtpServer, n: usize) {
    let arrived = within(Duration::from_secs(15), || async {
        smtp.received().len() >= n
    })
    .await;
    assert!(
        arrived.is_some(),
        "expected {n} messages, got {}",
        smtp.received().len()
    );
}

#[actix_web::test]
async fn test_mail_reaches_a_real_smtp_server_from_the_tenant_sender_with_its_template() {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(smtp_to(smtp.port)).await;
    let token = tenant_with_sender(&app, "mail-acme").await;
    // The tenant's own text body; the HTML body and subject stay the defaults.
    let (status, body) = app
        .admin(
            &token,
            Method::PUT,
            "/tenants/mail-acme/templates/email.test.txt",
            Some(json!({"source": "Acme says hello to {{to}} & <friends>.\n"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let id = send_test(&app, &token, "mail-acme", "alice@example.com").await;
    wait_for_messages(&smtp, 1).await;
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.mail_from, "support@acme.test");
    assert_eq!(message.rcpt_to, vec!["alice@example.com".to_owned()]);

    let parsed = parse(&message.data);
    let from = parsed.header("From").unwrap();
    assert!(
        from.contains("Acme Support") && from.contains("<support@acme.test>"),
        "{from}"
    );
    assert_eq!(parsed.header("To"), Some("alice@example.com"));
    assert_eq!(
        parsed.header("Subject"),
        Some("Test message from mail-acme")
    );
    assert!(
        parsed.header("Message-ID").unwrap().contains(&id),
        "the Message-ID carries the outbox id"
    );
    assert!(
        parsed
            .header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    // The override, not HTML-escaped in the text part.
    let text = parsed.part("text/plain").unwrap();
    assert!(
        text.contains("Acme says hello to alice@example.com & <friends>."),
        "{text}"
    );
    let html = parsed.part("text/html").unwrap();
    assert!(html.contains("E-mail works"), "{html}");
    assert!(html.contains("alice@example.com"), "{html}");

    // Delivered once, and the body is gone from the outbox.
    let settled = within(Duration::from_secs(5), || async {
        outbox_entry(&app, &token, "mail-acme", &id).await["status"] == "delivered"
    })
    .await;
    assert!(settled.is_some());
    let entry = outbox_entry(&app, &token, "mail-acme", &id).await;
    assert_eq!(entry["attempts"], 1, "{entry}");
    assert_eq!(entry["has_body"], false, "{entry}");
    assert_eq!(entry["subject"], "Test message from mail-acme");
    assert!(entry.get("text_body").is_none() && entry.get("html_body").is_none());
    assert!(entry["settled_at"].is_i64());
}

#[actix_web::test]
async fn a_refused_recipient_or_a_stranger_is_a_clean_error() {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(smtp_to(smtp.port)).await;
    let token = tenant_with_sender(&app, "mail-errors").await;
    for to in [
        "not-an-address",
        "alice@example.com\r\nBcc: eve@example.com",
        "Alice <alice@example.com>",
    ] {
        let (status, body) = app
            .admin(
                &token,
                Method::POST,
                "/tenants/mail-errors/mail/test",
                Some(json!({"to": to})),
            )
            .await;
        assert_eq!(status, 400, "{to}: {body}");
        assert_eq!(body["error"], "invalid_request");
    }
    let (status, _) = app
        .admin(
            &token,
            Method::POST,
            "/tenants/no-such-tenant/mail/test",
            Some(json!({"to": "alice@example.com"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .admin(
            &token,
            Method::PATCH,
            "/tenants/mail-errors/settings",
            Some(json!({"mail": {"from": "not an address"}})),
        )
        .await;
    assert_eq!(status, 400);
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert!(smtp.received().is_empty());
}

#[actix_web::test]
async fn file_transport_writes_the_eml_under_the_data_directory_and_nothing_goes_to_smtp() {
    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    let app = spawn_app_with(move |s| {
        smtp_to(port)(s);
        s.mail.transport = TransportKind::File;
    })
    .await;
    let token = tenant_with_sender(&app, "mail-file").await;
    let id = send_test(&app, &token, "mail-file", "bob@example.com").await;
    let path = app.data_dir.path().join("mail").join(format!("{id}.eml"));
    let written = within(Duration::from_secs(10), || async { path.exists() }).await;
    assert!(written.is_some(), "{} was not written", path.display());
    let parsed = parse(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(parsed.header("To"), Some("bob@example.com"));
    assert!(
        parsed
            .header("From")
            .unwrap()
            .contains("<support@acme.test>")
    );
    assert!(
        parsed
            .part("text/plain")
            .unwrap()
            .contains("bob@example.com")
    );
    assert!(parsed.part("text/html").is_some());
    let delivered = within(Duration::from_secs(5), || async {
        outbox_entry(&app, &token, "mail-file", &id).await["status"] == "delivered"
    })
    .await;
    assert!(delivered.is_some());
    assert!(
        smtp.received().is_empty(),
        "the file transport sent nothing over SMTP"
    );
}

#[actix_web::test]
async fn a_transient_refusal_is_retried_after_a_backoff() {
    // The first transaction is refused with 451 (RFC 5321 §4.2.2: try again later).
    let smtp = SmtpServer::start_on(0, 1).await;
    let app = spawn_app_with(smtp_to(smtp.port)).await;
    let token = tenant_with_sender(&app, "mail-retry").await;
    let id = send_test(&app, &token, "mail-retry", "carol@example.com").await;

    let failed = within(Duration::from_secs(10), || async {
        outbox_entry(&app, &token, "mail-retry", &id).await["attempts"] == 1
    })
    .await;
    assert!(failed.is_some());
    let entry = outbox_entry(&app, &token, "mail-retry", &id).await;
    assert_eq!(entry["status"], "pending", "{entry}");
    assert_eq!(entry["has_body"], true, "kept for the retry");
    assert!(
        entry["last_error"].as_str().unwrap().contains("451"),
        "{entry}"
    );

    wait_for_messages(&smtp, 1).await;
    let refused = smtp.refused();
    assert_eq!(refused.len(), 1);
    let waited = smtp.received()[0].at.duration_since(refused[0]);
    // retry_base_secs = 2 on whole seconds: at least a second later, not the next 100 ms poll.
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    let delivered = within(Duration::from_secs(5), || async {
        outbox_entry(&app, &token, "mail-retry", &id).await["status"] == "delivered"
    })
    .await;
    assert!(delivered.is_some());
    let entry = outbox_entry(&app, &token, "mail-retry", &id).await;
    assert_eq!(entry["attempts"], 2, "{entry}");
    assert_eq!(entry["last_error"], Value::Null);
    assert_eq!(smtp.received().len(), 1);
}

/// A node that can be stopped: the real `Application` on `data_dir` and `database_url`.
struct Node {
    app: TestApp,
    handle: actix_web::dev::ServerHandle,
}

async fn start_node(
    data_dir: &std::path::Path,
    database_url: &str,
    configure: impl FnOnce(&mut Settings),
    operator: Option<(String, String)>,
) -> Node {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let overrides = Overrides {
        data_dir: Some(data_dir.to_path_buf()),
        database_url: Some(database_url.to_owned()),
        listen: Some(listener.local_addr().unwrap().to_string()),
        public_url: Some(address.clone()),
    };
    let mut settings = Settings::load(None, &overrides).unwrap();
    settings.server.workers = 2;
    configure(&mut settings);
    let mut app = Application::build_on(settings, listener).await.unwrap();
    let (operator_id, operator_secret) = match (app.take_operator_credentials(), operator) {
        (Some(op), _) => (op.client_id, op.client_secret.expose_secret().to_owned()),
        (None, Some(op)) => op,
        (None, None) => (String::new(), String::new()),
    };
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    let app = TestApp {
        address,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        operator_id,
        operator_secret,
        // Not this node's data directory (the test owns that one): nothing reads it.
        data_dir: tempfile::tempdir().unwrap(),
        database_url: database_url.to_owned(),
        tls_port: None,
    };
    Node { app, handle }
}

#[actix_web::test]
async fn the_outbox_survives_a_restart_while_the_smtp_server_is_down() {
    // A port with no server behind it yet.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data_dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(data_dir.path()).await;
    let first = start_node(data_dir.path(), &database_url, smtp_to(port), None).await;
    let token = tenant_with_sender(&first.app, "mail-restart").await;
    let id = send_test(&first.app, &token, "mail-restart", "dave@example.com").await;
    // The first attempt fails: connection refused.
    let failed = within(Duration::from_secs(10), || async {
        outbox_entry(&first.app, &token, "mail-restart", &id).await["attempts"] == 1
    })
    .await;
    assert!(failed.is_some());
    let operator = (
        first.app.operator_id.clone(),
        first.app.operator_secret.clone(),
    );
    first.handle.stop(true).await;
    // Let the stopped node's mailer finish.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;

    let smtp = SmtpServer::start_on(port, 0).await;
    let second = start_node(
        data_dir.path(),
        &database_url,
        smtp_to(port),
        Some(operator),
    )
    .await;
    wait_for_messages(&smtp, 1).await;
    let token = second.app.admin_token().await;
    let delivered = within(Duration::from_secs(5), || async {
        outbox_entry(&second.app, &token, "mail-restart", &id).await["status"] == "delivered"
    })
    .await;
    assert!(delivered.is_some());
    // Exactly once, even a while later.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].rcpt_to, vec!["dave@example.com".to_owned()]);
    assert!(
        parse(&received[0].data)
            .header("Message-ID")
            .unwrap()
            .contains(&id)
    );
    let entry = outbox_entry(&second.app, &token, "mail-restart", &id).await;
    // One refused connection on the first node (perhaps two), then the delivery.
    assert!(entry["attempts"].as_i64().unwrap() >= 2, "{entry}");
    assert_eq!(entry["has_body"], false);
    second.handle.stop(true).await;
}

#[actix_web::test]
async fn two_nodes_on_postgresql_deliver_every_mail_exactly_once() {
    // Two nodes share one database in production only on PostgreSQL, where the workers claim
    // rows `FOR UPDATE SKIP LOCKED`; the embedded SQLite file serves a single node, so there is
    // nothing to race on SQLite.
    if !std::env::var("TESSERA_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        return;
    }
    const MAILS: usize = 12;
    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    let fast = move |s: &mut Settings| {
        smtp_to(port)(s);
        s.mail.poll_interval_ms = 20;
    };
    let node1 = spawn_app_with(fast).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        node1.data_dir.path().join("master.key"),
        dir.path().join("master.key"),
    )
    .unwrap();
    let node2 = start_node(
        dir.path(),
        &node1.database_url,
        fast,
        Some((node1.operator_id.clone(), node1.operator_secret.clone())),
    )
    .await;
    let token = tenant_with_sender(&node1, "mail-nodes").await;
    let mut ids = Vec::new();
    for i in 0..MAILS {
        ids.push(
            send_test(
                &node1,
                &token,
                "mail-nodes",
                &format!("user{i}@example.com"),
            )
            .await,
        );
    }
    wait_for_messages(&smtp, MAILS).await;
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let received = smtp.received();
    assert_eq!(received.len(), MAILS, "each mail once");
    for id in &ids {
        let copies = received
            .iter()
            .filter(|m| parse(&m.data).header("Message-ID").unwrap().contains(id))
            .count();
        assert_eq!(copies, 1, "mail {id}");
        let entry = outbox_entry(&node1, &token, "mail-nodes", id).await;
        assert_eq!(entry["status"], "delivered", "{entry}");
        assert_eq!(entry["attempts"], 1, "{entry}");
    }
    node2.handle.stop(true).await;
}

#[actix_web::test]
async fn email_templates_are_checked_and_previewed_through_the_template_api() {
    let app = spawn_app_with(|_| {}).await;
    let token = tenant_with_sender(&app, "mail-preview").await;
    // A variable the kind does not have is refused in strict mode, with its position.
    let (status, body) = app
        .admin(
            &token,
            Method::PUT,
            "/tenants/mail-preview/templates/email.password_reset.txt",
            Some(json!({"source": "Hello {{username}},\n{{password}}\n"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_template");
    assert_eq!(body["line"], 2, "{body}");
    // A subject may include no partial; an HTML body may not write script.
    for (name, source) in [
        ("email.test.subject", "{{> layout}}"),
        (
            "email.test.html",
            "{{#> layout}}<script>alert(1)</script>{{/layout}}",
        ),
    ] {
        let (status, body) = app
            .admin(
                &token,
                Method::PUT,
                &format!("/tenants/mail-preview/templates/{name}"),
                Some(json!({ "source": source })),
            )
            .await;
        assert_eq!(status, 400, "{name}: {body}");
    }
    // The preview renders the sample mail with the tenant's branding.
    let preview = |name: &str, source: &str| {
        app.http
            .post(format!(
                "{}/admin/v1/tenants/mail-preview/templates/{name}/preview",
                app.address
            ))
            .bearer_auth(&token)
            .json(&json!({ "source": source }))
            .send()
    };
    let html = preview(
        "email.password_reset.html",
        "{{#> layout}}<p>Reset for {{username}}: <a href=\"{{link}}\">go</a></p>{{/layout}}",
    )
    .await
    .unwrap();
    assert_eq!(html.status(), 200);
    let html = html.text().await.unwrap();
    assert!(html.contains("Reset for alice"), "{html}");
    assert!(html.contains("mail-preview"), "the tenant's name: {html}");
    let text = preview("email.password_reset.txt", "Hi {{username}} <{{link}}>")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("Hi alice &lt;https://"),
        "shown escaped: {text}"
    );
}
