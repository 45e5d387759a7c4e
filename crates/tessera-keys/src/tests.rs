//! End-to-end checks of the key ring: tokens we sign verify with the independent `jsonwebtoken`
//! crate and with [`KeySet::verify`], and every forgery we know of is refused.

use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tessera_core::{KeyState, Kid, SigningAlg, TenantId};
use tessera_store::KeyRecord;

use crate::b64::URL;
use crate::{
    DEFAULT_ID_TOKEN_ALG, KeyError, KeySet, MasterKey, SigningKey, generate_key_pair, ring_algs,
};

fn payload() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "iss": "https://id.example.com/t/acme",
        "sub": "user-123",
        "aud": "https://api.example.com",
        "client_id": "s6BhdRkqt3",
        "scope": "openid profile read:orders",
        "iat": 1_700_000_000,
        "exp": 1_700_000_600,
        "jti": "dbe39bf3a3ba4238a513f51d6e1691c4",
    }))
    .unwrap()
}

fn jsonwebtoken_alg(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::Rs256 => Algorithm::RS256,
        SigningAlg::Es256 => Algorithm::ES256,
        SigningAlg::EdDsa => Algorithm::EdDSA,
    }
}

struct Ring {
    master: MasterKey,
    record: KeyRecord,
    keys: KeySet,
}

fn ring(alg: SigningAlg) -> Ring {
    let master = MasterKey::generate();
    let record = generate_key_pair(&master, TenantId::new(), alg, KeyState::Active, 1_000).unwrap();
    let keys = KeySet::build(&master, std::slice::from_ref(&record), alg, 1_000).unwrap();
    Ring {
        master,
        record,
        keys,
    }
}

fn segments(jws: &str) -> Vec<String> {
    jws.split('.').map(str::to_owned).collect()
}

fn header_of(jws: &str) -> Value {
    serde_json::from_slice(&URL.decode(&segments(jws)[0]).unwrap()).unwrap()
}

fn with_header(jws: &str, header: &Value) -> String {
    let s = segments(jws);
    format!(
        "{}.{}.{}",
        URL.encode(serde_json::to_vec(header).unwrap()),
        s[1],
        s[2]
    )
}

#[test]
fn signed_tokens_verify_with_jsonwebtoken_and_with_the_key_set() {
    for &alg in SigningAlg::ALL {
        let Ring {
            master,
            record,
            keys,
        } = ring(alg);
        let signer = SigningKey::open(&master, &record).unwrap();
        assert_eq!(signer.kid(), &record.kid);
        assert_eq!(signer.alg(), alg);
        let jws = signer.sign_jws("at+jwt", &payload()).unwrap();

        assert_eq!(
            header_of(&jws),
            json!({ "alg": alg.as_str(), "typ": "at+jwt", "kid": record.kid.0 })
        );
        let expected: Value = serde_json::from_slice(&payload()).unwrap();

        let jwk: Jwk = serde_json::from_value(record.public_jwk.clone()).unwrap();
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = Validation::new(jsonwebtoken_alg(alg));
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        let decoded = jsonwebtoken::decode::<Value>(&jws, &key, &validation)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(decoded.claims, expected, "{alg}");
        assert_eq!(decoded.header.kid.as_deref(), Some(record.kid.0.as_str()));

        assert_eq!(keys.verify(&jws).unwrap(), expected, "{alg}");
        let via_keyset = keys.signer().unwrap().sign_jws("JWT", &payload()).unwrap();
        assert_eq!(header_of(&via_keyset)["typ"], "JWT");
        assert_eq!(keys.verify(&via_keyset).unwrap(), expected);
        let other_typ = signer.sign_jws("logout+jwt", b"{}").unwrap();
        assert_eq!(header_of(&other_typ)["typ"], "logout+jwt");
        assert_eq!(keys.verify(&other_typ).unwrap(), json!({}));
    }
}

#[test]
fn es256_signatures_are_raw_r_and_s_of_64_bytes() {
    let Ring { keys, .. } = ring(SigningAlg::Es256);
    for _ in 0..20 {
        let jws = keys.signer().unwrap().sign_jws("JWT", b"{}").unwrap();
        assert_eq!(URL.decode(&segments(&jws)[2]).unwrap().len(), 64);
    }
}

#[test]
fn tampered_payload_or_signature_is_a_bad_signature() {
    for &alg in SigningAlg::ALL {
        let Ring { keys, .. } = ring(alg);
        let jws = keys
            .signer()
            .unwrap()
            .sign_jws("at+jwt", &payload())
            .unwrap();
        let s = segments(&jws);

        let forged = URL.encode(br#"{"sub":"admin"}"#);
        let tampered = format!("{}.{forged}.{}", s[0], s[2]);
        assert!(
            matches!(keys.verify(&tampered), Err(KeyError::BadSignature)),
            "{alg}"
        );

        let mut sig = URL.decode(&s[2]).unwrap();
        sig[5] ^= 0x01;
        let tampered = format!("{}.{}.{}", s[0], s[1], URL.encode(&sig));
        assert!(
            matches!(keys.verify(&tampered), Err(KeyError::BadSignature)),
            "{alg}"
        );

        let truncated = format!("{}.{}.{}", s[0], s[1], URL.encode(&sig[..sig.len() - 1]));
        assert!(
            matches!(keys.verify(&truncated), Err(KeyError::BadSignature)),
            "{alg}"
        );

        let empty = format!("{}.{}.", s[0], s[1]);
        assert!(
            matches!(keys.verify(&empty), Err(KeyError::BadSignature)),
            "{alg}"
        );
    }
}

#[test]
fn header_alg_none_hs256_or_another_alg_is_refused() {
    for &alg in SigningAlg::ALL {
        let Ring { keys, record, .. } = ring(alg);
        let jws = keys
            .signer()
            .unwrap()
            .sign_jws("at+jwt", &payload())
            .unwrap();
        for forged_alg in ["none", "HS256", "RS256", "ES256", "EdDSA", "PS256"] {
            if forged_alg == alg.as_str() {
                continue;
            }
            let mut header = header_of(&jws);
            header["alg"] = json!(forged_alg);
            let forged = with_header(&jws, &header);
            assert!(
                matches!(keys.verify(&forged), Err(KeyError::BadSignature)),
                "{alg}→{forged_alg}"
            );
            let s = segments(&forged);
            let unsigned = format!("{}.{}.", s[0], s[1]);
            assert!(
                matches!(keys.verify(&unsigned), Err(KeyError::BadSignature)),
                "{alg}→{forged_alg}"
            );
        }

        // Classic alg confusion: HMAC keyed with the public key the attacker can read.
        let mut header = header_of(&jws);
        header["alg"] = json!("HS256");
        let s = segments(&with_header(&jws, &header));
        let input = format!("{}.{}", s[0], s[1]);
        let mac_key = openssl::pkey::PKey::hmac(record.public_jwk.to_string().as_bytes()).unwrap();
        let mut mac =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &mac_key).unwrap();
        let tag = mac.sign_oneshot_to_vec(input.as_bytes()).unwrap();
        let forged = format!("{input}.{}", URL.encode(tag));
        assert!(
            matches!(keys.verify(&forged), Err(KeyError::BadSignature)),
            "{alg}"
        );
    }
}

#[test]
fn unknown_or_missing_kid_is_refused() {
    let Ring { keys, .. } = ring(SigningAlg::Es256);
    let jws = keys
        .signer()
        .unwrap()
        .sign_jws("at+jwt", &payload())
        .unwrap();
    let mut header = header_of(&jws);
    header["kid"] = json!("no-such-key");
    assert!(matches!(
        keys.verify(&with_header(&jws, &header)),
        Err(KeyError::UnknownKid)
    ));
    header.as_object_mut().unwrap().remove("kid");
    assert!(matches!(
        keys.verify(&with_header(&jws, &header)),
        Err(KeyError::UnknownKid)
    ));

    // A token from another tenant's ring names a kid this ring does not publish.
    let other = ring(SigningAlg::Es256)
        .keys
        .signer()
        .unwrap()
        .sign_jws("JWT", b"{}")
        .unwrap();
    assert!(matches!(keys.verify(&other), Err(KeyError::UnknownKid)));
}

#[test]
fn malformed_tokens_and_critical_headers_are_refused() {
    let Ring { keys, .. } = ring(SigningAlg::EdDsa);
    let jws = keys.signer().unwrap().sign_jws("JWT", b"{}").unwrap();
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        "!!.e30.",
        &format!("{jws}.x"),
        &format!("{jws}="),
    ] {
        assert!(keys.verify(bad).is_err(), "{bad}");
    }
    let mut header = header_of(&jws);
    header["crit"] = json!(["exp"]);
    header["exp"] = json!(0);
    assert!(matches!(
        keys.verify(&with_header(&jws, &header)),
        Err(KeyError::Malformed(_))
    ));
    let huge = format!("{jws}{}", "A".repeat(70_000));
    assert!(matches!(keys.verify(&huge), Err(KeyError::Malformed(_))));
    // Valid signature over a payload that is not JSON.
    let not_json = keys.signer().unwrap().sign_jws("JWT", b"hello").unwrap();
    assert!(matches!(
        keys.verify(&not_json),
        Err(KeyError::Malformed(_))
    ));
}

#[test]
fn sealed_keys_open_only_with_their_master_key_and_row() {
    let Ring { master, record, .. } = ring(SigningAlg::Es256);
    assert!(matches!(
        SigningKey::open(&MasterKey::generate(), &record),
        Err(KeyError::WrongMasterKey)
    ));
    // A wrong key that claims the right kek_id still fails authentication.
    let mut lying = record.clone();
    let other = MasterKey::generate();
    lying.kek_id = other.kek_id().to_owned();
    assert!(matches!(
        SigningKey::open(&other, &lying),
        Err(KeyError::WrongMasterKey)
    ));

    let mut moved = record.clone();
    moved.kid = Kid("another-kid".to_owned());
    assert!(matches!(
        SigningKey::open(&master, &moved),
        Err(KeyError::WrongMasterKey)
    ));
    let mut moved = record.clone();
    moved.tenant_id = TenantId::new();
    assert!(matches!(
        SigningKey::open(&master, &moved),
        Err(KeyError::WrongMasterKey)
    ));

    let mut tampered = record.clone();
    let last = tampered.sealed_private_key.len() - 1;
    tampered.sealed_private_key[last] ^= 1;
    assert!(matches!(
        SigningKey::open(&master, &tampered),
        Err(KeyError::WrongMasterKey)
    ));

    // The record's public JWK must be the private key's.
    let mut swapped = record.clone();
    swapped.public_jwk = ring(SigningAlg::Es256).record.public_jwk;
    assert!(matches!(
        SigningKey::open(&master, &swapped),
        Err(KeyError::Malformed(_))
    ));
    let mut wrong_alg = record;
    wrong_alg.alg = SigningAlg::EdDsa;
    assert!(matches!(
        SigningKey::open(&master, &wrong_alg),
        Err(KeyError::Malformed(_))
    ));
}

#[test]
fn key_set_publishes_active_next_and_unexpired_retired_keys_active_first() {
    let master = MasterKey::generate();
    let tenant = TenantId::new();
    let now = 10_000;
    let key = |alg, state| generate_key_pair(&master, tenant, alg, state, now - 500).unwrap();
    let next = key(SigningAlg::Es256, KeyState::Next);
    let active = key(SigningAlg::Es256, KeyState::Active);
    let mut live = key(SigningAlg::Rs256, KeyState::Retired);
    live.retired_at = Some(now - 100);
    live.expires_at = Some(now + 100);
    let mut expired = key(SigningAlg::EdDsa, KeyState::Retired);
    expired.retired_at = Some(now - 400);
    expired.expires_at = Some(now - 1);
    let mut no_expiry = key(SigningAlg::EdDsa, KeyState::Retired);
    no_expiry.expires_at = None;

    let records = [
        next.clone(),
        expired.clone(),
        live.clone(),
        active.clone(),
        no_expiry,
    ];
    let keys = KeySet::build(&master, &records, SigningAlg::Es256, now).unwrap();
    let kids: Vec<&str> = keys.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids,
        [active.kid.as_ref(), next.kid.as_ref(), live.kid.as_ref()]
    );
    assert_eq!(keys.signer().unwrap().kid(), &active.kid);
    assert_eq!(keys.algs(), [SigningAlg::Es256, SigningAlg::Rs256]);
    let reparsed: Value = serde_json::from_slice(keys.jwks_bytes()).unwrap();
    assert_eq!(&reparsed, keys.jwks());
    for k in keys.jwks()["keys"].as_array().unwrap() {
        assert_eq!(k["use"], "sig");
        assert!(k.get("d").is_none());
    }

    // Tokens of the retired-but-live key still verify; of the expired one, no longer.
    let old = SigningKey::open(&master, &live)
        .unwrap()
        .sign_jws("at+jwt", b"{}")
        .unwrap();
    assert_eq!(keys.verify(&old).unwrap(), json!({}));
    let gone = SigningKey::open(&master, &expired)
        .unwrap()
        .sign_jws("at+jwt", b"{}")
        .unwrap();
    assert!(matches!(keys.verify(&gone), Err(KeyError::UnknownKid)));
}

#[test]
fn key_set_without_an_active_key_has_no_signer_but_publishes_next() {
    let master = MasterKey::generate();
    let next = generate_key_pair(
        &master,
        TenantId::new(),
        SigningAlg::EdDsa,
        KeyState::Next,
        0,
    )
    .unwrap();
    let keys = KeySet::build(&master, std::slice::from_ref(&next), SigningAlg::EdDsa, 0).unwrap();
    assert!(keys.signer().is_none());
    assert!(keys.signer_for(SigningAlg::EdDsa).is_none());
    assert!(keys.signing_algs().is_empty());
    assert_eq!(keys.algs(), [SigningAlg::EdDsa]);
    assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 1);
    let empty = KeySet::build(&master, &[], SigningAlg::Rs256, 0).unwrap();
    assert!(empty.signer().is_none());
    assert_eq!(empty.jwks_bytes(), br#"{"keys":[]}"#);
    assert!(empty.algs().is_empty());
}

#[test]
fn key_set_refuses_an_active_key_sealed_under_another_master_key() {
    let record = generate_key_pair(
        &MasterKey::generate(),
        TenantId::new(),
        SigningAlg::Es256,
        KeyState::Active,
        0,
    )
    .unwrap();
    assert!(matches!(
        KeySet::build(&MasterKey::generate(), &[record], SigningAlg::Es256, 0),
        Err(KeyError::WrongMasterKey)
    ));
}

#[test]
fn signing_keys_and_key_sets_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<SigningKey>();
    shareable::<KeySet>();
    shareable::<MasterKey>();
}

/// The key records of a tenant of `primary`: an Active and a Next key in every ring it keeps.
fn rings(master: &MasterKey, primary: SigningAlg) -> Vec<KeyRecord> {
    let tenant = TenantId::new();
    ring_algs(primary)
        .into_iter()
        .flat_map(|alg| {
            [KeyState::Next, KeyState::Active]
                .map(|state| generate_key_pair(master, tenant, alg, state, 1_000).unwrap())
        })
        .collect()
}

fn kid_of(records: &[KeyRecord], alg: SigningAlg, state: KeyState) -> Kid {
    records
        .iter()
        .find(|r| r.alg == alg && r.state == state)
        .unwrap()
        .kid
        .clone()
}

#[test]
fn every_tenant_keeps_its_own_ring_and_an_rs256_ring() {
    assert_eq!(DEFAULT_ID_TOKEN_ALG, SigningAlg::Rs256);
    assert_eq!(ring_algs(SigningAlg::Rs256), [SigningAlg::Rs256]);
    assert_eq!(
        ring_algs(SigningAlg::Es256),
        [SigningAlg::Es256, SigningAlg::Rs256]
    );
    assert_eq!(
        ring_algs(SigningAlg::EdDsa),
        [SigningAlg::EdDsa, SigningAlg::Rs256]
    );
}

#[test]
fn signer_for_picks_the_active_key_of_each_alg_and_signer_the_primary() {
    let master = MasterKey::generate();
    for primary in [SigningAlg::Es256, SigningAlg::EdDsa] {
        let records = rings(&master, primary);
        let keys = KeySet::build(&master, &records, primary, 1_000).unwrap();
        assert_eq!(keys.primary_alg(), primary);
        let signer = keys.signer().unwrap();
        assert_eq!(signer.alg(), primary);
        assert_eq!(signer.kid(), &kid_of(&records, primary, KeyState::Active));
        let rs = keys.signer_for(SigningAlg::Rs256).unwrap();
        assert_eq!(rs.alg(), SigningAlg::Rs256);
        assert_eq!(
            rs.kid(),
            &kid_of(&records, SigningAlg::Rs256, KeyState::Active)
        );
        assert_eq!(
            keys.signer_for(primary).unwrap().kid(),
            signer.kid(),
            "signer() is signer_for(primary)"
        );
        let absent = SigningAlg::ALL
            .iter()
            .find(|a| !ring_algs(primary).contains(a))
            .unwrap();
        assert!(keys.signer_for(*absent).is_none(), "{absent}");
        assert_eq!(keys.signing_algs(), [primary, SigningAlg::Rs256]);
        assert_eq!(keys.algs(), [primary, SigningAlg::Rs256]);
    }

    // An RS256 tenant has one ring: its signer is also the ID-token signer.
    let records = rings(&master, SigningAlg::Rs256);
    assert_eq!(records.len(), 2);
    let keys = KeySet::build(&master, &records, SigningAlg::Rs256, 1_000).unwrap();
    assert_eq!(
        keys.signer().unwrap().kid(),
        keys.signer_for(SigningAlg::Rs256).unwrap().kid()
    );
    assert_eq!(keys.signing_algs(), [SigningAlg::Rs256]);
}

#[test]
fn a_tenant_without_an_rs256_ring_still_signs_with_its_own_alg() {
    let master = MasterKey::generate();
    let tenant = TenantId::new();
    let active =
        generate_key_pair(&master, tenant, SigningAlg::Es256, KeyState::Active, 0).unwrap();
    let keys = KeySet::build(&master, std::slice::from_ref(&active), SigningAlg::Es256, 0).unwrap();
    assert_eq!(keys.signer().unwrap().kid(), &active.kid);
    assert!(keys.signer_for(SigningAlg::Rs256).is_none());

    // The primary is what the tenant says, not whichever ring happens to exist.
    let rs = generate_key_pair(&master, tenant, SigningAlg::Rs256, KeyState::Active, 0).unwrap();
    let keys = KeySet::build(&master, std::slice::from_ref(&rs), SigningAlg::Es256, 0).unwrap();
    assert!(keys.signer().is_none());
    assert_eq!(keys.signer_for(SigningAlg::Rs256).unwrap().kid(), &rs.kid);
}

#[test]
fn jwks_lists_both_algs_active_first_primary_first_within_a_state() {
    let master = MasterKey::generate();
    let now = 10_000;
    let mut records = rings(&master, SigningAlg::Es256);
    let tenant = records[0].tenant_id;
    let mut retired_rs =
        generate_key_pair(&master, tenant, SigningAlg::Rs256, KeyState::Retired, 500).unwrap();
    retired_rs.expires_at = Some(now + 1);
    let mut retired_es =
        generate_key_pair(&master, tenant, SigningAlg::Es256, KeyState::Retired, 400).unwrap();
    retired_es.expires_at = Some(now + 1);
    // The store lists newest first; put the RS256 ring first to show the order is not the input's.
    records.reverse();
    records.insert(0, retired_rs.clone());
    records.push(retired_es.clone());

    let keys = KeySet::build(&master, &records, SigningAlg::Es256, now).unwrap();
    let listed: Vec<(String, String)> = keys.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_owned(),
                k["alg"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        (
            kid_of(&records, SigningAlg::Es256, KeyState::Active),
            "ES256",
        ),
        (
            kid_of(&records, SigningAlg::Rs256, KeyState::Active),
            "RS256",
        ),
        (kid_of(&records, SigningAlg::Es256, KeyState::Next), "ES256"),
        (kid_of(&records, SigningAlg::Rs256, KeyState::Next), "RS256"),
        (retired_es.kid.clone(), "ES256"),
        (retired_rs.kid.clone(), "RS256"),
    ]
    .into_iter()
    .map(|(k, a)| (k.0, a.to_owned()))
    .collect();
    assert_eq!(listed, expected);
    for k in keys.jwks()["keys"].as_array().unwrap() {
        let kty = if k["alg"] == "RS256" { "RSA" } else { "EC" };
        assert_eq!(k["kty"], kty, "{k}");
        assert_eq!(k["use"], "sig");
        assert!(k.get("d").is_none());
    }
    // The published document parses as a JWK set for an independent library.
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(keys.jwks_bytes()).unwrap();
    assert_eq!(set.keys.len(), 6);
}

#[test]
fn tokens_of_either_ring_verify_and_only_with_their_own_key() {
    let master = MasterKey::generate();
    let records = rings(&master, SigningAlg::Es256);
    let keys = KeySet::build(&master, &records, SigningAlg::Es256, 1_000).unwrap();
    let expected: Value = serde_json::from_slice(&payload()).unwrap();

    let access = keys
        .signer()
        .unwrap()
        .sign_jws("at+jwt", &payload())
        .unwrap();
    let id = keys
        .signer_for(SigningAlg::Rs256)
        .unwrap()
        .sign_jws("JWT", &payload())
        .unwrap();
    assert_eq!(header_of(&access)["alg"], "ES256");
    assert_eq!(header_of(&id)["alg"], "RS256");
    assert_eq!(keys.verify(&access).unwrap(), expected);
    assert_eq!(keys.verify(&id).unwrap(), expected);

    // A Next key of either ring is published, so its tokens verify before it becomes Active.
    for alg in [SigningAlg::Es256, SigningAlg::Rs256] {
        let next = records
            .iter()
            .find(|r| r.alg == alg && r.state == KeyState::Next)
            .unwrap();
        let early = SigningKey::open(&master, next)
            .unwrap()
            .sign_jws("JWT", b"{}")
            .unwrap();
        assert_eq!(keys.verify(&early).unwrap(), json!({}), "{alg}");
    }

    // Pointing a token's kid at the other ring's key (with or without its alg) fails.
    let es_kid = kid_of(&records, SigningAlg::Es256, KeyState::Active);
    let rs_kid = kid_of(&records, SigningAlg::Rs256, KeyState::Active);
    for (jws, other_kid, other_alg) in [(&id, &es_kid, "ES256"), (&access, &rs_kid, "RS256")] {
        let mut header = header_of(jws);
        header["kid"] = json!(other_kid.0);
        assert!(matches!(
            keys.verify(&with_header(jws, &header)),
            Err(KeyError::BadSignature)
        ));
        header["alg"] = json!(other_alg);
        assert!(matches!(
            keys.verify(&with_header(jws, &header)),
            Err(KeyError::BadSignature)
        ));
    }

    // Both verify with jsonwebtoken against the published JWKS too.
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(keys.jwks_bytes()).unwrap();
    for (jws, alg) in [(&access, Algorithm::ES256), (&id, Algorithm::RS256)] {
        let kid = jsonwebtoken::decode_header(jws).unwrap().kid.unwrap();
        let key = DecodingKey::from_jwk(set.find(&kid).unwrap()).unwrap();
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        let decoded = jsonwebtoken::decode::<Value>(jws, &key, &validation).unwrap();
        assert_eq!(decoded.claims, expected);
    }
}
