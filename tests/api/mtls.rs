//! Mutual TLS (RFC 8705) over the server's TLS listener: client authentication (§2) and
//! certificate-bound access tokens (§3) for client-credentials and user tokens, userinfo and
//! introspection of bound tokens, and the discovery metadata (§3.3, §5). A PKI is made here with
//! openssl (server CA, client CA, CA-issued and self-signed client certificates); clients are
//! registered through the admin API with `options`.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder};
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};
use sha2::Digest;

use crate::agent::{SignIn, sign_in_fixture};
use crate::helpers::{TestApp, TestClient, spawn_app_with};
use crate::opaque::{jwt_claims, text};

/// PKCE verifier of the code flows.
const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyz-._~ABCDEFG";

/// The subject of the CA-issued client certificate, as registered (RFC 4514 order).
const CLIENT_DN: &str = "CN=payments.example.com,O=Example Bank,C=SE";

/// A key pair and its certificate.
struct Issued {
    key: PKey<Private>,
    cert: X509,
}

impl Issued {
    /// A P-256 key and a certificate for `subject` (DER order), signed by `issuer` or
    /// self-signed; `kind` picks the extensions.
    fn new(subject: &[(&str, &str)], issuer: Option<&Issued>, kind: Kind) -> Self {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        for (field, value) in subject {
            name.append_entry_by_text(field, value).unwrap();
        }
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let mut serial = BigNum::new().unwrap();
        serial
            .rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)
            .unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(issuer.map_or(&*name, |i| i.cert.subject_name()))
            .unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
            .unwrap();
        match kind {
            Kind::Ca => {
                b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                    .unwrap();
                b.append_extension(KeyUsage::new().key_cert_sign().crl_sign().build().unwrap())
                    .unwrap();
            }
            Kind::Server => {
                let san = SubjectAlternativeName::new()
                    .ip("127.0.0.1")
                    .dns("localhost")
                    .build(&b.x509v3_context(issuer.map(|i| &*i.cert), None))
                    .unwrap();
                b.append_extension(san).unwrap();
                b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
                    .unwrap();
            }
            Kind::Client => {
                b.append_extension(ExtendedKeyUsage::new().client_auth().build().unwrap())
                    .unwrap();
            }
        }
        b.sign(issuer.map_or(&key, |i| &i.key), MessageDigest::sha256())
            .unwrap();
        Issued {
            cert: b.build(),
            key,
        }
    }

    /// Certificate and PKCS#8 key in one PEM, as `reqwest::Identity::from_pem` takes them.
    fn identity(&self) -> reqwest::Identity {
        let mut pem = self.cert.to_pem().unwrap();
        pem.extend(self.key.private_key_to_pem_pkcs8().unwrap());
        reqwest::Identity::from_pem(&pem).unwrap()
    }

    /// `x5t#S256` of the certificate, computed here: base64url (no padding) of the SHA-256 of
    /// its DER (RFC 8705 §3.1).
    fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(self.cert.to_der().unwrap()))
    }

    /// The certificate as a JWK with `x5c` (standard base64 DER, RFC 7517 §4.7).
    fn jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "use": "sig",
               "x5c": [STANDARD.encode(self.cert.to_der().unwrap())]})
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Ca,
    Server,
    Client,
}

/// The server's PKI, the trusted client CA, and the TLS files the server reads.
struct Pki {
    server_ca: Issued,
    client_ca: Issued,
    _files: tempfile::TempDir,
}

/// Starts the server with a TLS listener on a random port that trusts `client_ca`.
async fn spawn_mtls_app() -> (TestApp, Pki) {
    let server_ca = Issued::new(&[("CN", "Test Server CA")], None, Kind::Ca);
    let server = Issued::new(&[("CN", "localhost")], Some(&server_ca), Kind::Server);
    let client_ca = Issued::new(&[("CN", "Test Client CA")], None, Kind::Ca);
    let files = tempfile::tempdir().unwrap();
    let cert_file = files.path().join("server.crt");
    let key_file = files.path().join("server.key");
    let ca_file = files.path().join("client-cas.pem");
    std::fs::write(&cert_file, server.cert.to_pem().unwrap()).unwrap();
    std::fs::write(&key_file, server.key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    std::fs::write(&ca_file, client_ca.cert.to_pem().unwrap()).unwrap();
    let app = spawn_app_with(|settings| {
        settings.server.tls.listen = "127.0.0.1:0".into();
        settings.server.tls.cert_file = Some(cert_file);
        settings.server.tls.key_file = Some(key_file);
        settings.server.tls.client_ca_file = Some(ca_file);
    })
    .await;
    assert!(app.tls_port.is_some(), "the TLS listener is bound");
    (
        app,
        Pki {
            server_ca,
            client_ca,
            _files: files,
        },
    )
}

impl Pki {
    /// An HTTPS client trusting the server CA, presenting `identity` if any.
    fn https(&self, identity: Option<&Issued>) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(
                reqwest::Certificate::from_pem(&self.server_ca.cert.to_pem().unwrap()).unwrap(),
            );
        if let Some(identity) = identity {
            builder = builder.identity(identity.identity());
        }
        builder.build().unwrap()
    }

    /// A certificate issued by the trusted client CA.
    fn issue(&self, subject: &[(&str, &str)]) -> Issued {
        Issued::new(subject, Some(&self.client_ca), Kind::Client)
    }
}

/// Registers a client-credentials client whose `options` are `options`.
async fn register(app: &TestApp, tenant: &str, options: Value) -> TestClient {
    let token = app.admin_token().await;
    let (status, body) = app
        .admin(
            &token,
            reqwest::Method::POST,
            &format!("/tenants/{tenant}/clients"),
            Some(
                json!({"name": "mtls client", "grant_types": ["client_credentials"],
                        "options": options}),
            ),
        )
        .await;
    assert_eq!(status, 201, "create client with options: {body}");
    TestClient {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// A client-credentials request over the TLS listener that names the client in the body
/// (RFC 8705 §2: the certificate is the credential).
async fn token_over_tls(
    app: &TestApp,
    http: &reqwest::Client,
    tenant: &str,
    client_id: &str,
) -> reqwest::Response {
    let port = app.tls_port.unwrap();
    http.post(format!("https://127.0.0.1:{port}/t/{tenant}/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
        ])
        .send()
        .await
        .expect("token request over TLS")
}

async fn assert_invalid_client(resp: reqwest::Response, case: &str) {
    assert_eq!(resp.status().as_u16(), 401, "{case}");
    assert_eq!(TestApp::oauth_error(resp).await, "invalid_client", "{case}");
}

async fn assert_token(resp: reqwest::Response, case: &str) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "{case}: {body}");
    assert!(body["access_token"].is_string(), "{case}: {body}");
}

#[actix_web::test]
async fn tls_client_auth_accepts_a_trusted_certificate_with_the_registered_subject_only() {
    let (app, pki) = spawn_mtls_app().await;
    app.create_tenant("bank", "ES256").await;
    let client = register(
        &app,
        "bank",
        json!({"token_endpoint_auth_method": "tls_client_auth",
               "tls_client_auth_subject_dn": CLIENT_DN}),
    )
    .await;
    let subject = [
        ("C", "SE"),
        ("O", "Example Bank"),
        ("CN", "payments.example.com"),
    ];

    let right = pki.issue(&subject);
    let resp = token_over_tls(&app, &pki.https(Some(&right)), "bank", &client.id).await;
    assert_token(resp, "trusted certificate, registered subject").await;

    let wrong_dn = pki.issue(&[
        ("C", "SE"),
        ("O", "Example Bank"),
        ("CN", "other.example.com"),
    ]);
    let resp = token_over_tls(&app, &pki.https(Some(&wrong_dn)), "bank", &client.id).await;
    assert_invalid_client(resp, "trusted certificate, another subject").await;

    let rogue_ca = Issued::new(&[("CN", "Rogue CA")], None, Kind::Ca);
    let untrusted = Issued::new(&subject, Some(&rogue_ca), Kind::Client);
    let resp = token_over_tls(&app, &pki.https(Some(&untrusted)), "bank", &client.id).await;
    assert_invalid_client(resp, "registered subject from an untrusted CA").await;

    let self_signed = Issued::new(&subject, None, Kind::Client);
    let resp = token_over_tls(&app, &pki.https(Some(&self_signed)), "bank", &client.id).await;
    assert_invalid_client(resp, "self-signed certificate with the registered subject").await;

    let resp = token_over_tls(&app, &pki.https(None), "bank", &client.id).await;
    assert_invalid_client(resp, "no certificate").await;

    // The plain listener never sees a certificate.
    let resp = app
        .post_token(
            "bank",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client.id),
            ],
        )
        .await;
    assert_invalid_client(resp, "plain HTTP").await;

    // Nor is the secret an alternative, even with the right certificate.
    if !client.secret.is_empty() {
        let port = app.tls_port.unwrap();
        let resp = pki
            .https(Some(&right))
            .post(format!("https://127.0.0.1:{port}/t/bank/token"))
            .basic_auth(&client.id, Some(&client.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_invalid_client(resp, "client secret instead of the certificate").await;
    }
}

#[actix_web::test]
async fn self_signed_tls_client_auth_accepts_the_registered_certificate_only() {
    let (app, pki) = spawn_mtls_app().await;
    app.create_tenant("fintech", "ES256").await;
    let registered = Issued::new(&[("CN", "rp.fintech.example")], None, Kind::Client);
    let spare = Issued::new(&[("CN", "spare")], None, Kind::Client);
    let client = register(
        &app,
        "fintech",
        json!({"token_endpoint_auth_method": "self_signed_tls_client_auth",
               "jwks": {"keys": [spare.jwk(), registered.jwk()]}}),
    )
    .await;

    let resp = token_over_tls(&app, &pki.https(Some(&registered)), "fintech", &client.id).await;
    assert_token(resp, "registered self-signed certificate").await;

    // Same subject, another key: a different certificate.
    let other = Issued::new(&[("CN", "rp.fintech.example")], None, Kind::Client);
    let resp = token_over_tls(&app, &pki.https(Some(&other)), "fintech", &client.id).await;
    assert_invalid_client(resp, "another self-signed certificate").await;

    // A certificate from the trusted CA is not a registered one either.
    let issued = pki.issue(&[("CN", "rp.fintech.example")]);
    let resp = token_over_tls(&app, &pki.https(Some(&issued)), "fintech", &client.id).await;
    assert_invalid_client(resp, "CA-issued certificate").await;

    let resp = token_over_tls(&app, &pki.https(None), "fintech", &client.id).await;
    assert_invalid_client(resp, "no certificate").await;
}

#[actix_web::test]
async fn secret_clients_keep_working_on_both_listeners() {
    let (app, pki) = spawn_mtls_app().await;
    app.create_tenant("shop", "ES256").await;
    let client = app.create_client("shop", &[]).await;
    let port = app.tls_port.unwrap();
    for http in [pki.https(None), pki.https(Some(&pki.issue(&[("CN", "x")])))] {
        let resp = http
            .post(format!("https://127.0.0.1:{port}/t/shop/token"))
            .basic_auth(&client.id, Some(&client.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_token(resp, "client_secret_basic over TLS").await;
    }
    let resp = app
        .post_token(
            "shop",
            Some((&client.id, &client.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_token(resp, "client_secret_basic over plain HTTP").await;
}

/// `https://127.0.0.1:{tls port}/t/{tenant}/{endpoint}`.
fn tls_url(app: &TestApp, tenant: &str, endpoint: &str) -> String {
    format!(
        "https://127.0.0.1:{}/t/{tenant}/{endpoint}",
        app.tls_port.unwrap()
    )
}

/// Registers a client from a full admin API body (`name` is filled in).
async fn register_client(app: &TestApp, tenant: &str, mut body: Value) -> TestClient {
    body["name"] = json!("mtls client");
    let token = app.admin_token().await;
    let (status, created) = app
        .admin(
            &token,
            reqwest::Method::POST,
            &format!("/tenants/{tenant}/clients"),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "create client: {created}");
    TestClient {
        id: text(&created, "client_id").to_owned(),
        secret: created["client_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// A successful token response's JSON body; panics naming the case otherwise.
async fn token_body(resp: reqwest::Response, case: &str) -> Value {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "{case}: {body}");
    assert!(body["access_token"].is_string(), "{case}: {body}");
    body
}

/// The `cnf` claim of a JWT access token (`Null` when unbound).
fn cnf(access_token: &str) -> Value {
    jwt_claims(access_token)["cnf"].clone()
}

/// Calls userinfo with `token` as a bearer token through `http` at `url`; the status and the
/// `WWW-Authenticate` challenge, if any.
async fn userinfo(http: &reqwest::Client, url: &str, token: &str) -> (u16, String, Value) {
    let resp = http.get(url).bearer_auth(token).send().await.unwrap();
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, challenge, resp.json().await.unwrap_or(Value::Null))
}

/// Asserts that userinfo refuses the token as RFC 6750 §3.1 `invalid_token`.
async fn assert_userinfo_refused(http: &reqwest::Client, url: &str, token: &str, case: &str) {
    let (status, challenge, body) = userinfo(http, url, token).await;
    assert_eq!(status, 401, "{case}: {body}");
    assert!(challenge.starts_with("Bearer "), "{case}: {challenge}");
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{case}: {challenge}"
    );
}

#[actix_web::test]
async fn client_credentials_tokens_of_tls_clients_are_bound_to_the_presented_certificate() {
    let (app, pki) = spawn_mtls_app().await;
    app.create_tenant("bank", "ES256").await;
    let client = register(
        &app,
        "bank",
        json!({"token_endpoint_auth_method": "tls_client_auth",
               "tls_client_auth_subject_dn": CLIENT_DN}),
    )
    .await;
    let subject = [
        ("C", "SE"),
        ("O", "Example Bank"),
        ("CN", "payments.example.com"),
    ];
    let cert = pki.issue(&subject);
    let resp = token_over_tls(&app, &pki.https(Some(&cert)), "bank", &client.id).await;
    let body = token_body(resp, "tls_client_auth").await;
    // RFC 8705 §3: a certificate-bound token is still presented as a bearer token.
    assert_eq!(text(&body, "token_type"), "Bearer", "{body}");
    let access = text(&body, "access_token");
    assert_eq!(cnf(access), json!({"x5t#S256": cert.x5t()}), "{body}");
    assert_eq!(cert.x5t().len(), 43);

    // Another certificate with the registered subject (a renewal) authenticates the client
    // too, and binds its own tokens to itself.
    let renewed = pki.issue(&subject);
    assert_ne!(renewed.x5t(), cert.x5t());
    let resp = token_over_tls(&app, &pki.https(Some(&renewed)), "bank", &client.id).await;
    let body = token_body(resp, "renewed certificate").await;
    assert_eq!(
        cnf(text(&body, "access_token")),
        json!({"x5t#S256": renewed.x5t()})
    );

    // self_signed_tls_client_auth binds the same way (RFC 8705 §3.1).
    let own = Issued::new(&[("CN", "rp.bank.example")], None, Kind::Client);
    let self_signed = register(
        &app,
        "bank",
        json!({"token_endpoint_auth_method": "self_signed_tls_client_auth",
               "jwks": {"keys": [own.jwk()]}}),
    )
    .await;
    let resp = token_over_tls(&app, &pki.https(Some(&own)), "bank", &self_signed.id).await;
    let body = token_body(resp, "self_signed_tls_client_auth").await;
    assert_eq!(text(&body, "token_type"), "Bearer");
    assert_eq!(
        cnf(text(&body, "access_token")),
        json!({"x5t#S256": own.x5t()})
    );
}

/// A tenant with the sign-in user, a confidential `tls_client_auth` code+refresh client issuing
/// `format` tokens, and the certificate it authenticates with.
async fn tls_sign_in(app: &TestApp, pki: &Pki, slug: &str, format: &str) -> (SignIn, Issued) {
    let mut f = sign_in_fixture(app, slug, true).await;
    let client = register_client(
        app,
        slug,
        json!({
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [f.redirect_uri],
            "scopes": ["openid", "profile", "email", "offline_access"],
            "first_party": true,
            "token_format": format,
            "options": {"token_endpoint_auth_method": "tls_client_auth",
                        "tls_client_auth_subject_dn": CLIENT_DN},
        }),
    )
    .await;
    f.client_id = client.id;
    f.client_secret = String::new();
    let cert = pki.issue(&[
        ("C", "SE"),
        ("O", "Example Bank"),
        ("CN", "payments.example.com"),
    ]);
    (f, cert)
}

/// A token request over TLS authenticated by the certificate of `http` (`client_id` in the
/// body, RFC 8705 §2).
async fn post_tls_token(
    app: &TestApp,
    http: &reqwest::Client,
    f: &SignIn,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = form.to_vec();
    form.push(("client_id", &f.client_id));
    http.post(tls_url(app, &f.tenant, "token"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Introspects `token` over TLS, authenticated as the fixture's `tls_client_auth` client.
async fn introspect_over_tls(
    app: &TestApp,
    http: &reqwest::Client,
    f: &SignIn,
    token: &str,
) -> Value {
    let resp = http
        .post(tls_url(app, &f.tenant, "introspect"))
        .form(&[("token", token), ("client_id", &f.client_id)])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "introspection: {body}");
    body
}

/// The whole user flow of a `tls_client_auth` client whose tokens are `format`: sign-in on the
/// plain listener, code and refresh redeemed over TLS, bound access tokens used at userinfo.
async fn user_tokens_are_bound_and_userinfo_demands_the_certificate(format: &str) {
    let (app, pki) = spawn_mtls_app().await;
    let (f, cert) = tls_sign_in(&app, &pki, "bank", format).await;
    let x5t = json!({"x5t#S256": cert.x5t()});
    let with_cert = pki.https(Some(&cert));
    let (_, code) = f.code(&app, "openid email offline_access", VERIFIER).await;

    // The certificate is the credential: without it (plain HTTP) the code is not redeemed.
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", f.redirect_uri.as_str()),
        ("code_verifier", VERIFIER),
    ];
    let mut plain_form = redeem.to_vec();
    plain_form.push(("client_id", &f.client_id));
    let resp = app.post_token(&f.tenant, None, &plain_form).await;
    assert_invalid_client(resp, "code redeemed over plain HTTP").await;

    let resp = post_tls_token(&app, &with_cert, &f, &redeem).await;
    let body = token_body(resp, "code redeemed over TLS").await;
    assert_eq!(text(&body, "token_type"), "Bearer", "{body}");
    let access = text(&body, "access_token").to_owned();
    let refresh = text(&body, "refresh_token").to_owned();
    if format == "jwt" {
        assert_eq!(cnf(&access), x5t, "{body}");
    } else {
        assert!(!access.contains('.'), "an opaque handle: {access}");
    }

    // RFC 8705 §3: the resource (userinfo) accepts the token only over a TLS connection with
    // that certificate.
    let tls_userinfo = tls_url(&app, &f.tenant, "userinfo");
    let (status, _, claims) = userinfo(&with_cert, &tls_userinfo, &access).await;
    assert_eq!(
        status, 200,
        "userinfo over TLS with the certificate: {claims}"
    );
    assert!(claims["sub"].is_string(), "{claims}");
    assert_eq!(claims["email"], "alice@example.com", "{claims}");
    let plain_userinfo = format!("{}/userinfo", app.issuer(&f.tenant));
    assert_userinfo_refused(&app.http, &plain_userinfo, &access, "plain HTTP").await;
    let another = pki.issue(&[
        ("C", "SE"),
        ("O", "Example Bank"),
        ("CN", "payments.example.com"),
    ]);
    assert_userinfo_refused(
        &pki.https(Some(&another)),
        &tls_userinfo,
        &access,
        "TLS with another certificate of the same subject",
    )
    .await;
    let stranger = Issued::new(&[("CN", "stranger")], None, Kind::Client);
    assert_userinfo_refused(
        &pki.https(Some(&stranger)),
        &tls_userinfo,
        &access,
        "TLS with a self-signed certificate",
    )
    .await;
    assert_userinfo_refused(
        &pki.https(None),
        &tls_userinfo,
        &access,
        "TLS without a certificate",
    )
    .await;

    // RFC 7662 §2.2 / RFC 8705 §3.2: introspection states the binding.
    let described = introspect_over_tls(&app, &with_cert, &f, &access).await;
    assert_eq!(described["active"], true, "{described}");
    assert_eq!(described["cnf"], x5t, "{described}");
    assert_eq!(described["token_type"], "Bearer", "{described}");

    // The refresh grant over TLS authenticates the client with its certificate and binds the
    // new access token to it; over plain HTTP the client cannot authenticate.
    let resp = app
        .post_token(
            &f.tenant,
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &f.client_id),
            ],
        )
        .await;
    assert_invalid_client(resp, "refresh over plain HTTP").await;
    let resp = post_tls_token(
        &app,
        &with_cert,
        &f,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    let body = token_body(resp, "refresh over TLS").await;
    assert_eq!(text(&body, "token_type"), "Bearer", "{body}");
    let refreshed = text(&body, "access_token").to_owned();
    let next_refresh = text(&body, "refresh_token").to_owned();
    if format == "jwt" {
        assert_eq!(cnf(&refreshed), x5t, "{body}");
    }
    let described = introspect_over_tls(&app, &with_cert, &f, &refreshed).await;
    assert_eq!(described["cnf"], x5t, "{described}");
    let (status, _, claims) = userinfo(&with_cert, &tls_userinfo, &refreshed).await;
    assert_eq!(status, 200, "refreshed token over TLS: {claims}");
    assert_userinfo_refused(
        &app.http,
        &plain_userinfo,
        &refreshed,
        "refreshed, plain HTTP",
    )
    .await;

    // The refresh token is bound to the client, not to one certificate (RFC 8705 §3): after a
    // renewal the client refreshes with its new certificate, and the new access token is bound
    // to that one.
    let renewed = pki.https(Some(&another));
    let resp = post_tls_token(
        &app,
        &renewed,
        &f,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &next_refresh),
        ],
    )
    .await;
    let body = token_body(resp, "refresh with the renewed certificate").await;
    let rebound = text(&body, "access_token").to_owned();
    let described = introspect_over_tls(&app, &renewed, &f, &rebound).await;
    assert_eq!(
        described["cnf"],
        json!({"x5t#S256": another.x5t()}),
        "{described}"
    );
    let (status, _, claims) = userinfo(&renewed, &tls_userinfo, &rebound).await;
    assert_eq!(status, 200, "renewed certificate: {claims}");
    assert_userinfo_refused(&with_cert, &tls_userinfo, &rebound, "the old certificate").await;
}

#[actix_web::test]
async fn jwt_user_tokens_redeemed_over_tls_are_bound_to_the_client_certificate() {
    user_tokens_are_bound_and_userinfo_demands_the_certificate("jwt").await;
}

#[actix_web::test]
async fn opaque_user_tokens_redeemed_over_tls_are_bound_to_the_client_certificate() {
    user_tokens_are_bound_and_userinfo_demands_the_certificate("opaque").await;
}

#[actix_web::test]
async fn discovery_names_the_mtls_aliases_and_they_are_served_over_tls() {
    let (app, pki) = spawn_mtls_app().await;
    app.create_tenant("bank", "ES256").await;
    let port = app.tls_port.unwrap();
    let oidc = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("bank")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(oidc.status().as_u16(), 200);
    let oidc: Value = oidc.json().await.unwrap();
    let oauth = app
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server/t/bank",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(oauth.status().as_u16(), 200);
    let oauth: Value = oauth.json().await.unwrap();

    for doc in [&oidc, &oauth] {
        // RFC 8705 §3.3 and §2.1.1 / §2.2.1.
        assert_eq!(
            doc["tls_client_certificate_bound_access_tokens"], true,
            "{doc}"
        );
        let methods: Vec<&str> = doc["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap_or_else(|| panic!("{doc}"))
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        for method in [
            "tls_client_auth",
            "self_signed_tls_client_auth",
            "client_secret_basic",
        ] {
            assert!(methods.contains(&method), "{method}: {doc}");
        }
        // RFC 8705 §5: the same endpoints on the listener that asks for certificates.
        let aliases = &doc["mtls_endpoint_aliases"];
        let base = format!("https://127.0.0.1:{port}/t/bank");
        for (name, endpoint) in [
            ("token_endpoint", "token"),
            ("introspection_endpoint", "introspect"),
            ("revocation_endpoint", "revoke"),
            ("userinfo_endpoint", "userinfo"),
            ("device_authorization_endpoint", "device_authorization"),
            ("pushed_authorization_request_endpoint", "par"),
        ] {
            assert_eq!(aliases[name], format!("{base}/{endpoint}"), "{name}: {doc}");
        }
        // The plain endpoints stay where they were.
        assert_eq!(
            doc["token_endpoint"],
            format!("{}/token", app.issuer("bank")),
            "{doc}"
        );
    }

    // Each alias is served: an OAuth error in JSON, never a 404.
    let http = pki.https(None);
    let aliases = &oidc["mtls_endpoint_aliases"];
    let resp = http
        .post(text(aliases, "token_endpoint"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
        ])
        .send()
        .await
        .unwrap();
    assert_invalid_client(resp, "token alias, unknown client").await;
    let resp = http
        .post(text(aliases, "token_endpoint"))
        .form(&[("client_id", "nobody")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        400,
        "token alias without grant_type"
    );
    assert_eq!(TestApp::oauth_error(resp).await, "invalid_request");
    for name in [
        "introspection_endpoint",
        "revocation_endpoint",
        "device_authorization_endpoint",
        "pushed_authorization_request_endpoint",
    ] {
        let resp = http
            .post(text(aliases, name))
            .form(&[("token", "x"), ("client_id", "nobody")])
            .send()
            .await
            .unwrap();
        assert_invalid_client(resp, name).await;
    }
    assert_userinfo_refused(
        &http,
        text(aliases, "userinfo_endpoint"),
        "not-a-token",
        "userinfo alias",
    )
    .await;
}

#[actix_web::test]
async fn secret_clients_registered_for_bound_tokens_bind_them_only_when_a_certificate_is_presented()
{
    let (app, pki) = spawn_mtls_app().await;
    app.create_tenant("shop", "ES256").await;
    let bound = register(
        &app,
        "shop",
        json!({"token_endpoint_auth_method": "client_secret_basic",
               "tls_client_certificate_bound_access_tokens": true}),
    )
    .await;
    assert!(!bound.secret.is_empty(), "a confidential client");
    // Any certificate will do: it authenticates nothing, it only binds (RFC 8705 §3).
    let ca_issued = pki.issue(&[("CN", "shop-backend")]);
    let self_signed = Issued::new(&[("CN", "shop-backend")], None, Kind::Client);
    let secret_over_tls = |http: reqwest::Client, client: &TestClient| {
        let req = http
            .post(tls_url(&app, "shop", "token"))
            .basic_auth(&client.id, Some(&client.secret))
            .form(&[("grant_type", "client_credentials")]);
        async move { req.send().await.unwrap() }
    };

    for cert in [&ca_issued, &self_signed] {
        let resp = secret_over_tls(pki.https(Some(cert)), &bound).await;
        let body = token_body(resp, "secret over TLS with a certificate").await;
        assert_eq!(text(&body, "token_type"), "Bearer");
        let access = text(&body, "access_token");
        assert_eq!(cnf(access), json!({"x5t#S256": cert.x5t()}), "{body}");
        // Introspection (here over plain HTTP, with the secret) states the binding.
        let described =
            crate::introspection::introspect(&app, "shop", (&bound.id, &bound.secret), access, &[])
                .await;
        assert_eq!(
            described["cnf"],
            json!({"x5t#S256": cert.x5t()}),
            "{described}"
        );
    }

    let resp = secret_over_tls(pki.https(None), &bound).await;
    let body = token_body(resp, "secret over TLS without a certificate").await;
    assert_eq!(cnf(text(&body, "access_token")), Value::Null, "{body}");

    let resp = app
        .post_token(
            "shop",
            Some((&bound.id, &bound.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let body = token_body(resp, "secret over plain HTTP").await;
    assert_eq!(text(&body, "token_type"), "Bearer");
    let access = text(&body, "access_token");
    assert_eq!(cnf(access), Value::Null, "{body}");
    let described =
        crate::introspection::introspect(&app, "shop", (&bound.id, &bound.secret), access, &[])
            .await;
    assert_eq!(described["active"], true, "{described}");
    assert!(described.get("cnf").is_none(), "{described}");

    // A secret client not registered for bound tokens ignores the certificate.
    let plain = app.create_client("shop", &[]).await;
    let resp = secret_over_tls(pki.https(Some(&ca_issued)), &plain).await;
    let body = token_body(resp, "unregistered client with a certificate").await;
    assert_eq!(cnf(text(&body, "access_token")), Value::Null, "{body}");
}
