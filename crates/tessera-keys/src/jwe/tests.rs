//! Known-answer tests from RFC 7516 and RFC 7518, and round trips through a decryption written
//! here from the RFC steps (the server itself never decrypts).

use openssl::ec::EcKey;
use openssl::encrypt::Decrypter;
use openssl::pkey::Private;
use serde_json::json;

use super::*;

fn b64(s: &str) -> Vec<u8> {
    base64::Engine::decode(&b64::URL, s).unwrap()
}

fn rsa_private(bits: u32) -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
}

fn ec_private(nid: Nid) -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap()
}

fn rsa_jwk(key: &PKey<Private>) -> Value {
    let rsa = key.rsa().unwrap();
    json!({"kty": "RSA", "n": b64::url(&rsa.n().to_vec()), "e": b64::url(&rsa.e().to_vec())})
}

fn ec_jwk(key: &PKey<Private>) -> Value {
    let nid = key.ec_key().unwrap().group().curve_name().unwrap();
    let curve = CURVES.into_iter().find(|c| c.nid == nid).unwrap();
    ec_public_jwk(key, curve).unwrap()
}

const RSA_OAEP_256_A256GCM: Encryption = Encryption {
    alg: JweAlg::RsaOaep256,
    enc: JweEnc::A256Gcm,
};
const ECDH_ES_CBC: Encryption = Encryption {
    alg: JweAlg::EcdhEs,
    enc: JweEnc::A128CbcHs256,
};

/// Decrypts a compact JWE with the recipient's private key, following RFC 7516 §5.2.
fn decrypt(jwe: &str, key: &PKey<Private>) -> (Value, Vec<u8>) {
    try_decrypt(jwe, key).unwrap()
}

/// [`decrypt`], failing when the key agreement, key decryption or tag check fails.
fn try_decrypt(jwe: &str, key: &PKey<Private>) -> Result<(Value, Vec<u8>), String> {
    let parts: Vec<&str> = jwe.split('.').collect();
    assert_eq!(parts.len(), 5, "five segments");
    let header: Value = serde_json::from_slice(&b64(parts[0])).unwrap();
    let (encrypted_key, iv, ciphertext, tag) =
        (b64(parts[1]), b64(parts[2]), b64(parts[3]), b64(parts[4]));
    let enc = header["enc"].as_str().unwrap();
    let cek = match header["alg"].as_str().unwrap() {
        "RSA-OAEP-256" => {
            let mut d = Decrypter::new(key).unwrap();
            d.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
            d.set_rsa_oaep_md(MessageDigest::sha256()).unwrap();
            d.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
            let mut out = vec![0u8; d.decrypt_len(&encrypted_key).unwrap()];
            let n = d
                .decrypt(&encrypted_key, &mut out)
                .map_err(|e| e.to_string())?;
            out.truncate(n);
            out
        }
        "ECDH-ES" => {
            assert!(
                encrypted_key.is_empty(),
                "direct key agreement has no encrypted key"
            );
            let epk = &header["epk"];
            assert_eq!(epk.as_object().unwrap().len(), 4, "epk is public: {epk}");
            let nid = key.ec_key().unwrap().group().curve_name().unwrap();
            let curve = CURVES.into_iter().find(|c| c.nid == nid).unwrap();
            let RecipientKey::Ec(peer, c) = Recipient::from_jwk(epk, ECDH_ES_CBC).unwrap().key
            else {
                panic!("epk is not an EC key");
            };
            assert_eq!(c.crv, curve.crv);
            let z = agree(key, &peer).unwrap();
            concat_kdf(&z, enc, b"", b"", 32).to_vec()
        }
        other => panic!("unexpected alg {other}"),
    };
    let aad = parts[0].as_bytes();
    let plaintext = match enc {
        "A256GCM" => openssl::symm::decrypt_aead(
            Cipher::aes_256_gcm(),
            &cek,
            Some(&iv),
            aad,
            &ciphertext,
            &tag,
        )
        .map_err(|e| e.to_string())?,
        "A128CBC-HS256" => {
            // RFC 7518 §5.2.2.2: check the tag over the received ciphertext first.
            let mac_key = PKey::hmac(&cek[..16]).unwrap();
            let mut signer = Signer::new(MessageDigest::sha256(), &mac_key).unwrap();
            signer.update(aad).unwrap();
            signer.update(&iv).unwrap();
            signer.update(&ciphertext).unwrap();
            signer
                .update(&((aad.len() as u64) * 8).to_be_bytes())
                .unwrap();
            if signer.sign_to_vec().unwrap()[..16] != tag[..] {
                return Err("tag mismatch".into());
            }
            openssl::symm::decrypt(Cipher::aes_128_cbc(), &cek[16..], Some(&iv), &ciphertext)
                .map_err(|e| e.to_string())?
        }
        other => panic!("unexpected enc {other}"),
    };
    Ok((header, plaintext))
}

#[test]
fn rfc_7518_appendix_c_ecdh_es_agreement_and_concat_kdf() {
    // Alice's ephemeral key and Bob's static key, RFC 7518 Appendix C.
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let point = |x: &str, y: &str| {
        let (x, y) = (
            BigNum::from_slice(&b64(x)).unwrap(),
            BigNum::from_slice(&b64(y)).unwrap(),
        );
        EcKey::from_public_key_affine_coordinates(&group, &x, &y).unwrap()
    };
    let alice_public = point(
        "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
        "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps",
    );
    let alice_d = BigNum::from_slice(&b64("0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo")).unwrap();
    let alice =
        EcKey::from_private_components(&group, &alice_d, alice_public.public_key()).unwrap();
    let alice = PKey::from_ec_key(alice).unwrap();
    let bob = json!({
        "kty": "EC", "crv": "P-256",
        "x": "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
        "y": "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
    });
    let RecipientKey::Ec(bob, _) = Recipient::from_jwk(&bob, ECDH_ES_CBC).unwrap().key else {
        panic!("EC key expected");
    };
    let z = agree(&alice, &bob).unwrap();
    assert_eq!(
        &z[..],
        &[
            158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49,
            110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196
        ][..]
    );
    // enc A128GCM, apu "Alice", apv "Bob", 128-bit key.
    let derived = concat_kdf(&z, "A128GCM", b"Alice", b"Bob", 16);
    assert_eq!(b64::url(&derived), "VqqN6vgjbSBcIijNcacQGg");
    // Longer keys take more rounds and begin with the same 16 bytes only if the key length
    // (part of OtherInfo) were the same: it is not, so they differ.
    let long = concat_kdf(&z, "A128GCM", b"Alice", b"Bob", 48);
    assert_eq!(long.len(), 48);
    assert_ne!(&long[..16], &derived[..]);
}

/// The content-encryption key of RFC 7516 Appendix A.2, A.3 and B.
const CBC_CEK: [u8; 32] = [
    4, 211, 31, 197, 84, 157, 252, 254, 11, 100, 157, 250, 63, 170, 106, 206, 107, 124, 212, 45,
    111, 107, 9, 219, 200, 177, 0, 240, 143, 156, 44, 207,
];

#[test]
fn rfc_7516_appendix_b_a128cbc_hs256() {
    let iv = b64("AxY8DCtDaGlsbGljb3RoZQ");
    // Appendix B (with the Appendix A.3 header) and Appendix A.2.
    for (aad, tag) in [
        (
            "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0",
            "U0m_YmjN04DJvceFICbCVQ",
        ),
        (
            "eyJhbGciOiJSU0ExXzUiLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0",
            "9hH0vgRfYgPnAHOd8stkvw",
        ),
    ] {
        let (ciphertext, t) = encrypt_content(
            JweEnc::A128CbcHs256,
            &CBC_CEK,
            &iv,
            aad.as_bytes(),
            b"Live long and prosper.",
        )
        .unwrap();
        assert_eq!(
            b64::url(&ciphertext),
            "KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY"
        );
        assert_eq!(b64::url(&t), tag);
    }
}

#[test]
fn rfc_7516_appendix_a_1_a256gcm() {
    let cek = [
        177, 161, 244, 128, 84, 143, 225, 115, 63, 180, 3, 255, 107, 154, 212, 246, 138, 7, 110,
        91, 112, 46, 34, 105, 47, 130, 203, 46, 122, 234, 64, 252,
    ];
    let (ciphertext, tag) = encrypt_content(
        JweEnc::A256Gcm,
        &cek,
        &b64("48V1_ALb6US04U3b"),
        b"eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ",
        b"The true sign of intelligence is not knowledge but imagination.",
    )
    .unwrap();
    assert_eq!(
        b64::url(&ciphertext),
        "5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A"
    );
    assert_eq!(b64::url(&tag), "XFBoMYUZodetZdvTiFvSkQ");
}

#[test]
fn rsa_oaep_256_round_trips_with_both_encs() {
    let key = rsa_private(2048);
    let mut jwk = rsa_jwk(&key);
    jwk["kid"] = "enc-1".into();
    jwk["use"] = "enc".into();
    for enc in [JweEnc::A256Gcm, JweEnc::A128CbcHs256] {
        let recipient = Recipient::from_jwk(
            &jwk,
            Encryption {
                alg: JweAlg::RsaOaep256,
                enc,
            },
        )
        .unwrap();
        assert_eq!(recipient.kid(), Some("enc-1"));
        let jwe = recipient.encrypt(b"a.b.c", Some("JWT")).unwrap();
        let (header, plaintext) = decrypt(&jwe, &key);
        assert_eq!(plaintext, b"a.b.c");
        assert_eq!(
            header,
            json!({"alg": "RSA-OAEP-256", "enc": enc.as_str(), "kid": "enc-1", "cty": "JWT"})
        );
        // Fresh CEK and IV every time.
        assert_ne!(recipient.encrypt(b"a.b.c", None).unwrap(), jwe);
    }
}

#[test]
fn ecdh_es_round_trips_on_every_curve() {
    for nid in [Nid::X9_62_PRIME256V1, Nid::SECP384R1, Nid::SECP521R1] {
        let key = ec_private(nid);
        for enc in [JweEnc::A128CbcHs256, JweEnc::A256Gcm] {
            let encryption = Encryption {
                alg: JweAlg::EcdhEs,
                enc,
            };
            let recipient = Recipient::from_jwk(&ec_jwk(&key), encryption).unwrap();
            assert_eq!(recipient.kid(), None);
            let payload = br#"{"sub":"someone","email":"a@example.com"}"#;
            let jwe = recipient.encrypt(payload, None).unwrap();
            let (header, plaintext) = decrypt(&jwe, &key);
            assert_eq!(plaintext, payload);
            assert_eq!(header["alg"], "ECDH-ES");
            assert_eq!(header["enc"], enc.as_str());
            assert!(header.get("cty").is_none() && header.get("kid").is_none());
            assert!(header.get("apu").is_none() && header.get("apv").is_none());
            // Another key of the curve cannot derive the same CEK.
            assert!(
                try_decrypt(&jwe, &ec_private(nid)).is_err(),
                "decrypts with the wrong key"
            );
        }
    }
}

#[test]
fn unsuitable_keys_are_refused() {
    let rsa = rsa_jwk(&rsa_private(2048));
    let ec = ec_jwk(&ec_private(Nid::X9_62_PRIME256V1));
    let refused = |jwk: &Value, e: Encryption| Recipient::from_jwk(jwk, e).is_err();
    // Wrong key type for the algorithm.
    assert!(refused(&ec, RSA_OAEP_256_A256GCM));
    assert!(refused(&rsa, ECDH_ES_CBC));
    // A signing key, or one pinned to another algorithm.
    let mut sig = rsa.clone();
    sig["use"] = "sig".into();
    assert!(refused(&sig, RSA_OAEP_256_A256GCM));
    let mut pinned = rsa.clone();
    pinned["alg"] = "RSA-OAEP".into();
    assert!(refused(&pinned, RSA_OAEP_256_A256GCM));
    pinned["alg"] = "RSA-OAEP-256".into();
    assert!(!refused(&pinned, RSA_OAEP_256_A256GCM));
    // key_ops that do not allow it.
    let mut ops = ec.clone();
    ops["key_ops"] = json!(["verify"]);
    assert!(refused(&ops, ECDH_ES_CBC));
    ops["key_ops"] = json!(["deriveKey"]);
    assert!(!refused(&ops, ECDH_ES_CBC));
    // Private material.
    let mut private = ec.clone();
    private["d"] = "AAAA".into();
    assert!(refused(&private, ECDH_ES_CBC));
    // RSA below 2048 bits (RFC 7518 §4.3 via §4.2).
    assert!(refused(&rsa_jwk(&rsa_private(1024)), RSA_OAEP_256_A256GCM));
    // An unsupported curve, short coordinates, and a point off the curve.
    let mut k1_jwk = ec_jwk(&ec_private(Nid::X9_62_PRIME256V1));
    k1_jwk["crv"] = "secp256k1".into();
    assert!(refused(&k1_jwk, ECDH_ES_CBC));
    let mut short = ec.clone();
    short["x"] = b64::url(&[1u8; 31]).into();
    assert!(refused(&short, ECDH_ES_CBC));
    let mut off = ec.clone();
    off["y"] = b64::url(&[1u8; 32]).into();
    assert!(refused(&off, ECDH_ES_CBC));
    assert!(refused(&json!("not a key"), ECDH_ES_CBC));
}

#[test]
fn selection_prefers_enc_keys_and_fails_without_a_suitable_one() {
    let signing = rsa_private(2048);
    let encrypting = rsa_private(2048);
    let mut sig = rsa_jwk(&signing);
    sig["use"] = "sig".into();
    sig["kid"] = "s".into();
    let mut plain = rsa_jwk(&signing);
    plain["kid"] = "p".into();
    let mut enc = rsa_jwk(&encrypting);
    enc["use"] = "enc".into();
    enc["kid"] = "e".into();
    let ec = ec_jwk(&ec_private(Nid::X9_62_PRIME256V1));

    let set = json!({"keys": [sig, ec, plain, enc]});
    let chosen = Recipient::select(&set, RSA_OAEP_256_A256GCM).unwrap();
    assert_eq!(chosen.kid(), Some("e"));
    let (_, plaintext) = decrypt(&chosen.encrypt(b"x", None).unwrap(), &encrypting);
    assert_eq!(plaintext, b"x");

    // Without the enc key, a key without `use` serves; a `sig` key never does.
    let set = json!({"keys": [sig, plain]});
    assert_eq!(
        Recipient::select(&set, RSA_OAEP_256_A256GCM).unwrap().kid(),
        Some("p")
    );
    let set = json!({"keys": [sig]});
    let err = Recipient::select(&set, RSA_OAEP_256_A256GCM).unwrap_err();
    assert!(err.to_string().contains("no RSA public key"), "{err}");
    assert!(Recipient::select(&json!({"keys": [ec]}), ECDH_ES_CBC).is_ok());
    assert!(Recipient::select(&json!({}), ECDH_ES_CBC).is_err());
}
