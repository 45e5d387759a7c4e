//! Signing and verification cost per algorithm: the hot path of every token response (an ES256
//! tenant signs its access tokens ES256 and its ID tokens RS256). Run with
//! `cargo bench -p tessera-keys`.

use std::hint::black_box;

use criterion::Criterion;
use tessera_core::{KeyState, SigningAlg, TenantId};
use tessera_keys::{KeySet, MasterKey, SigningKey, generate_key_pair};

/// A typical RFC 9068 access-token payload, about 300 bytes.
const PAYLOAD: &[u8] = br#"{"iss":"https://id.example.com/t/acme","sub":"0190f3c1-7d2e-7b8a-9c4d-5e6f7a8b9c0d","aud":"https://api.example.com/orders","client_id":"k3J9xQ2mPz8vT5wR7yN1bA","scope":"openid profile email read:orders write:orders","iat":1764259200,"exp":1764262800,"auth_time":1764259150,"jti":"Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA"}"#;

fn ring(master: &MasterKey, alg: SigningAlg) -> KeySet {
    let record = generate_key_pair(master, TenantId::new(), alg, KeyState::Active, 0)
        .expect("key generation");
    KeySet::build(master, &[record], alg, 0).expect("key set")
}

fn signer(keys: &KeySet) -> &SigningKey {
    keys.signer().expect("an active key")
}

fn signing(c: &mut Criterion) {
    let master = MasterKey::generate();
    let mut group = c.benchmark_group("sign");
    for &alg in SigningAlg::ALL {
        let keys = ring(&master, alg);
        let key = signer(&keys);
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| {
                key.sign_jws(black_box("at+jwt"), black_box(PAYLOAD))
                    .expect("signs")
            })
        });
    }
    group.finish();
}

fn verification(c: &mut Criterion) {
    let master = MasterKey::generate();
    let mut group = c.benchmark_group("verify");
    for alg in [SigningAlg::Es256, SigningAlg::Rs256] {
        let keys = ring(&master, alg);
        let jws = signer(&keys).sign_jws("at+jwt", PAYLOAD).expect("signs");
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| keys.verify(black_box(&jws)).expect("verifies"))
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    signing(&mut c);
    verification(&mut c);
    c.final_summary();
}
