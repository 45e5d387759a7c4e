//! Request objects (RFC 9101, OIDC Core §6.1): an authorization request sent as a JWT, signed
//! with one of the client's registered keys (or unsigned, `alg: none`, only where the client
//! registered `request_object_signing_alg: none`). Verifies it and returns its claims as
//! authorization request parameters; the caller then ignores the outer ones (RFC 9101 §5).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use tessera_core::client::REQUEST_OBJECT_ALGS;
use tessera_keys::foreign;
use tessera_store::ClientRecord;

use crate::client_keys::{ClientKeyResolver, client_jwks, keys_of};

/// Longest request object accepted, in characters.
pub const MAX_REQUEST_OBJECT_LEN: usize = 16 * 1024;

/// Clock skew tolerated on `exp` and `nbf`, seconds.
const LEEWAY_SECS: i64 = 30;

/// JWT claims that describe the request object itself, not the authorization request.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

/// A request object that cannot be accepted (RFC 9101 §6.1 `invalid_request_object`). The
/// description is safe to show to the client.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRequestObject(pub String);

fn invalid(why: impl Into<String>) -> InvalidRequestObject {
    InvalidRequestObject(why.into())
}

/// A verified request object.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestObject {
    /// Its authorization request parameters, as form pairs: strings as they are, numbers and
    /// booleans in their JSON form, objects (`claims`) as JSON text; a `resource` array gives
    /// one pair per entry (RFC 8707 §2). The JWT claims (`iss`, `aud`, `exp`, …) are removed.
    pub params: Vec<(String, String)>,
    /// Whether it was signed (false only for `alg: none` where the client allows it).
    pub signed: bool,
}

/// Verifies the request object `jwt` of `client` for the authorization server `issuer` at
/// `now` (RFC 9101 §6):
/// - a JWE (five segments) is refused: encrypted request objects are not supported;
/// - `alg` must be `request_object_signing_alg` when the client registered one, else one of
///   [`REQUEST_OBJECT_ALGS`]; `none` only when the client registered `none` (RFC 9101 §10.2)
///   and never when it must send signed ones (§10.5); HMAC algorithms are refused, as client
///   secrets are stored hashed;
/// - the signature must verify with a key of the client's registered `jwks`, or of the set it
///   publishes at its `jwks_uri` (through `keys`, RFC 9101 §6.2); the one named by `kid`, when
///   the header has one;
/// - a `typ` header, if present, must be `oauth-authz-req+jwt` or `JWT` (RFC 9101 §10.8);
/// - `iss` must be the client id and `aud` the issuer (RFC 9101 §4; required when signed,
///   checked when present otherwise), `exp` and `nbf` are checked when present and `exp` is
///   required when the client must send signed request objects;
/// - a `client_id` claim must be the client's (RFC 9101 §5), and `request` or `request_uri`
///   inside are refused (§4).
pub async fn verify_request_object(
    jwt: &str,
    client: &ClientRecord,
    issuer: &str,
    now: i64,
    keys: &ClientKeyResolver,
) -> Result<RequestObject, InvalidRequestObject> {
    if jwt.len() > MAX_REQUEST_OBJECT_LEN {
        return Err(invalid("the request object is too long"));
    }
    let segments = jwt.split('.').count();
    if segments == 5 {
        return Err(invalid("encrypted request objects are not supported"));
    }
    if segments != 3 {
        return Err(invalid("the request object is not a compact JWS"));
    }
    let header = foreign::unverified_header(jwt)
        .map_err(|_| invalid("the request object header is malformed"))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the request object header has no alg"))?;
    if let Some(typ) = header.get("typ") {
        let typ = typ.as_str().unwrap_or_default().to_ascii_lowercase();
        let typ = typ.strip_prefix("application/").unwrap_or(&typ);
        if typ != "oauth-authz-req+jwt" && typ != "jwt" {
            return Err(invalid(
                "the request object typ must be oauth-authz-req+jwt",
            ));
        }
    }
    let options = &client.options;
    let registered = options.request_object_signing_alg.as_deref();
    let payload = if alg == "none" {
        // RFC 9101 §10.2: unsigned only where the client said so at registration.
        if registered != Some("none") || options.require_signed_request_object {
            return Err(invalid(
                "unsigned request objects are not accepted for this client",
            ));
        }
        let mut parts = jwt.split('.');
        let (Some(_), Some(payload_b64), Some("")) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("an unsigned request object has an empty signature"));
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| invalid("the request object payload is not base64url"))?;
        serde_json::from_slice::<Value>(&bytes)
            .map_err(|_| invalid("the request object payload is not JSON"))?
    } else {
        if alg.starts_with("HS") {
            return Err(invalid(
                "HMAC-signed request objects are not supported; sign with a registered key",
            ));
        }
        if !REQUEST_OBJECT_ALGS.contains(&alg) {
            return Err(invalid(format!(
                "request object alg `{}` is not supported",
                alg.chars().take(16).collect::<String>()
            )));
        }
        if registered.is_some_and(|r| r != alg) {
            return Err(invalid(
                "the request object alg is not the client's request_object_signing_alg",
            ));
        }
        let kid = header.get("kid").and_then(Value::as_str);
        let set = client_jwks(keys, client, kid)
            .await
            .map_err(|e| invalid(e.to_string()))?;
        verify_with_keys(jwt, &set, kid, alg)?
    };
    let Value::Object(mut claims) = payload else {
        return Err(invalid("the request object payload is not a JSON object"));
    };
    let signed = alg != "none";
    check_claims(&claims, client, issuer, now, signed)?;
    for name in JWT_CLAIMS {
        claims.remove(name);
    }
    Ok(RequestObject {
        params: to_params(claims)?,
        signed,
    })
}

/// Verifies `jwt` with the key of `set` that `kid` names, else with each key in turn.
fn verify_with_keys(
    jwt: &str,
    set: &Value,
    kid: Option<&str>,
    alg: &str,
) -> Result<Value, InvalidRequestObject> {
    let candidates =
        keys_of(set).filter(|k| kid.is_none() || k.get("kid").and_then(Value::as_str) == kid);
    for key in candidates {
        if let Ok(verified) = foreign::verify_with_jwk(jwt, key, &[alg]) {
            return Ok(verified.payload);
        }
    }
    Err(invalid(
        "the request object signature does not verify with the client's registered keys",
    ))
}

/// Checks `iss`, `aud`, `exp`, `nbf` and `client_id`, and refuses nested requests.
fn check_claims(
    claims: &Map<String, Value>,
    client: &ClientRecord,
    issuer: &str,
    now: i64,
    signed: bool,
) -> Result<(), InvalidRequestObject> {
    let client_id = client.client_id.as_ref();
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == client_id => {}
        None if !signed => {}
        _ => return Err(invalid("the request object iss must be the client_id")),
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == issuer,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(issuer)),
        None => !signed,
        _ => false,
    };
    if !audience_ok {
        return Err(invalid("the request object aud must be the issuer"));
    }
    match claims.get("exp") {
        Some(exp) => match exp.as_i64() {
            Some(exp) if exp + LEEWAY_SECS > now => {}
            Some(_) => return Err(invalid("the request object has expired")),
            None => return Err(invalid("the request object exp must be a number")),
        },
        None if client.options.require_signed_request_object => {
            return Err(invalid("the request object must carry exp"));
        }
        None => {}
    }
    if let Some(nbf) = claims.get("nbf") {
        match nbf.as_i64() {
            Some(nbf) if nbf <= now + LEEWAY_SECS => {}
            Some(_) => return Err(invalid("the request object is not valid yet (nbf)")),
            None => return Err(invalid("the request object nbf must be a number")),
        }
    }
    match claims.get("client_id") {
        None => {}
        Some(Value::String(id)) if id == client_id => {}
        Some(_) => {
            return Err(invalid(
                "the request object client_id is not the client_id of the request",
            ));
        }
    }
    if claims.contains_key("request") || claims.contains_key("request_uri") {
        return Err(invalid(
            "a request object must not contain request or request_uri",
        ));
    }
    Ok(())
}

/// The claims as form pairs (see [`RequestObject::params`]); `null` counts as absent.
fn to_params(claims: Map<String, Value>) -> Result<Vec<(String, String)>, InvalidRequestObject> {
    let mut params = Vec::with_capacity(claims.len());
    for (name, value) in claims {
        match value {
            Value::Null => {}
            Value::String(s) => params.push((name, s)),
            Value::Array(items) if name == "resource" => {
                for item in items {
                    let Value::String(s) = item else {
                        return Err(invalid("each resource must be a string"));
                    };
                    params.push((name.clone(), s));
                }
            }
            other => params.push((name, other.to_string())),
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::ecdsa::EcdsaSig;
    use openssl::nid::Nid;
    use serde_json::json;
    use tessera_core::{
        ClientId, ClientOptions, ClientType, ScopeSet, SigningAlg, TenantId, TokenFormat,
    };

    const ISSUER: &str = "https://id.example.com/t/acme";

    /// [`verify_request_object`] at [`NOW`], run to completion.
    fn verify(jwt: &str, client: &ClientRecord) -> Result<RequestObject, InvalidRequestObject> {
        let keys = ClientKeyResolver::new(false).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(verify_request_object(jwt, client, ISSUER, NOW, &keys))
    }
    const NOW: i64 = 1_800_000_000;

    struct Signer {
        key: EcKey<openssl::pkey::Private>,
        jwk: Value,
    }

    impl Signer {
        fn new(kid: &str) -> Self {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
            let key = EcKey::generate(&group).unwrap();
            let mut ctx = openssl::bn::BigNumContext::new().unwrap();
            let mut x = openssl::bn::BigNum::new().unwrap();
            let mut y = openssl::bn::BigNum::new().unwrap();
            key.public_key()
                .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
                .unwrap();
            let pad =
                |b: &openssl::bn::BigNum| URL_SAFE_NO_PAD.encode(b.to_vec_padded(32).unwrap());
            let jwk = json!({"kty": "EC", "crv": "P-256", "x": pad(&x), "y": pad(&y), "kid": kid});
            Self { key, jwk }
        }

        fn sign(&self, header: Value, claims: Value) -> String {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let digest = openssl::sha::sha256(input.as_bytes());
            let sig = EcdsaSig::sign(&digest, &self.key).unwrap();
            let mut raw = sig.r().to_vec_padded(32).unwrap();
            raw.extend(sig.s().to_vec_padded(32).unwrap());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw))
        }
    }

    fn client(options: ClientOptions) -> ClientRecord {
        ClientRecord {
            tenant_id: TenantId::new(),
            client_id: ClientId::parse("rp").unwrap(),
            name: "RP".to_owned(),
            client_type: ClientType::Confidential,
            secret_hash: None,
            grant_types: vec![],
            redirect_uris: vec![],
            scopes: ScopeSet::default(),
            token_format: TokenFormat::Jwt,
            admin_role: None,
            admin_tenant_id: None,
            post_logout_redirect_uris: vec![],
            first_party: false,
            require_pkce: true,
            id_token_alg: SigningAlg::Rs256,
            options,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn keyed(signer: &Signer) -> ClientRecord {
        client(ClientOptions {
            jwks: Some(json!({"keys": [signer.jwk]})),
            ..ClientOptions::default()
        })
    }

    fn claims() -> Value {
        json!({"iss": "rp", "aud": ISSUER, "exp": NOW + 60, "client_id": "rp",
               "response_type": "code", "scope": "openid", "max_age": 0,
               "redirect_uri": "https://rp.example.com/cb",
               "claims": {"id_token": {"acr": null}},
               "resource": ["https://api.example.com", "https://b.example.com"]})
    }

    #[test]
    fn a_signed_request_object_yields_its_parameters() {
        let s = Signer::new("k1");
        let jwt = s.sign(
            json!({"alg": "ES256", "kid": "k1", "typ": "oauth-authz-req+jwt"}),
            claims(),
        );
        let ro = verify(&jwt, &keyed(&s)).unwrap();
        assert!(ro.signed);
        let get = |n: &str| {
            ro.params
                .iter()
                .filter(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("redirect_uri"), ["https://rp.example.com/cb"]);
        assert_eq!(get("max_age"), ["0"]);
        assert_eq!(get("resource").len(), 2);
        assert_eq!(get("claims"), [r#"{"id_token":{"acr":null}}"#]);
        assert!(get("iss").is_empty() && get("aud").is_empty() && get("exp").is_empty());
    }

    #[test]
    fn bad_signatures_claims_and_algorithms_are_refused() {
        let s = Signer::new("k1");
        let other = Signer::new("k1");
        let c = keyed(&s);
        let h = json!({"alg": "ES256"});
        let refused = |jwt: &str| verify(jwt, &c).is_err();
        assert!(refused(&other.sign(h.clone(), claims())), "another key");
        let with = |k: &str, v: Value| {
            let mut c = claims();
            c[k] = v;
            s.sign(h.clone(), c)
        };
        assert!(refused(&with("iss", json!("someone"))));
        assert!(refused(&with("aud", json!("https://other"))));
        assert!(!refused(&with("aud", json!(["https://other", ISSUER]))));
        assert!(refused(&with("exp", json!(NOW - 120))));
        assert!(refused(&with("nbf", json!(NOW + 120))));
        assert!(refused(&with("client_id", json!("other"))));
        assert!(refused(&with("request_uri", json!("urn:x"))));
        let mut no_iss = claims();
        no_iss.as_object_mut().unwrap().remove("iss");
        assert!(refused(&s.sign(h.clone(), no_iss)), "signed needs iss");
        assert!(refused(
            &s.sign(json!({"alg": "ES256", "typ": "dpop+jwt"}), claims())
        ));
        assert!(refused(&s.sign(json!({"alg": "HS256"}), claims())));
        let body = URL_SAFE_NO_PAD.encode(claims().to_string());
        let unsigned = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
        assert!(refused(&unsigned), "alg none by default");
        let mut es384 = c.clone();
        es384.options.request_object_signing_alg = Some("ES384".into());
        assert!(verify(&s.sign(h.clone(), claims()), &es384).is_err());
        assert!(refused(&format!("{unsigned}.a.b")), "JWE");
    }

    #[test]
    fn unsigned_request_objects_need_the_client_to_allow_them() {
        let body =
            URL_SAFE_NO_PAD.encode(json!({"response_type": "code", "scope": "openid"}).to_string());
        let unsigned = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
        let allowed = client(ClientOptions {
            request_object_signing_alg: Some("none".into()),
            ..ClientOptions::default()
        });
        let ro = verify(&unsigned, &allowed).unwrap();
        assert!(!ro.signed);
        assert!(verify(&unsigned, &client(ClientOptions::default())).is_err());
        let strict = client(ClientOptions {
            request_object_signing_alg: Some("none".into()),
            require_signed_request_object: true,
            ..ClientOptions::default()
        });
        assert!(verify(&unsigned, &strict).is_err());
    }

    #[test]
    fn a_client_that_must_sign_must_also_send_exp() {
        let s = Signer::new("k1");
        let mut c = keyed(&s);
        c.options.require_signed_request_object = true;
        let mut no_exp = claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        let jwt = s.sign(json!({"alg": "ES256"}), no_exp);
        assert!(verify(&jwt, &c).is_err());
        assert!(verify(&jwt, &keyed(&s)).is_ok());
    }
}
