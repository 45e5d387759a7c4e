//! `dpop_proofs`: writes pre-signed DPoP proofs (RFC 9449 §4.2) for a load test of the token
//! endpoint, one compact JWS per line, because a load generator such as wrk cannot sign.
//!
//! Every proof is signed with the same ES256 (P-256) key, so the access tokens a run obtains are
//! all bound to one `jkt` (RFC 9449 §6.1), as they would be for one real client. Each proof has
//! its own `jti` (the server refuses a replayed one, RFC 9449 §11.1), `htm` = `POST`, `htu` = the
//! given token endpoint URL, and `iat` = the time of generation, so the proofs must be used
//! within the server's `iat` window (300 s, RFC 9449 §11.1) after this program ends.
//!
//! With `--parts N` the proofs are split over N files `{out}.0` … `{out}.{N-1}`, one per wrk
//! thread, written by N threads in parallel. The key is read from `--key` (a PEM EC private key)
//! when that file exists, else generated and stored there (mode 0600), so successive batches of
//! one benchmark run share it. Nothing secret is printed; the summary line goes to stderr.
//!
//! ```sh
//! cargo run --release --example dpop_proofs -- --htu http://127.0.0.1:8080/t/acme/token \
//!     --count 60000 --parts 2 --key /tmp/dpop.pem --out /tmp/proofs
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Private;
use openssl::sha::sha256;
use serde_json::json;

/// Length in bytes of one P-256 coordinate and of each of `r` and `s` (RFC 7518 §3.4, §6.2.1.2).
const P256_LEN: i32 = 32;

/// Pre-signs DPoP proofs for the token endpoint, one per line.
#[derive(Debug, Parser)]
#[command(name = "dpop_proofs")]
struct Cli {
    /// The token endpoint URL exactly as the server checks it (`{issuer}/token`).
    #[arg(long)]
    htu: String,
    /// How many proofs in all.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    count: u64,
    /// Split the proofs over this many files (one per wrk thread), written in parallel.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    parts: u64,
    /// PEM file of the ES256 private key: read when it exists, else created (mode 0600).
    #[arg(long)]
    key: PathBuf,
    /// Output path prefix: the proofs go to `{out}.0` … `{out}.{parts-1}`.
    #[arg(long)]
    out: PathBuf,
    /// The HTTP method (`htm`).
    #[arg(long, default_value = "POST")]
    method: String,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dpop_proofs: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let started = Instant::now();
    let key = load_or_create_key(&cli.key)?;
    let header = protected_header(&key)?;
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    // A random prefix per batch keeps `jti`s unique across batches and runs.
    let mut nonce = [0u8; 12];
    openssl::rand::rand_bytes(&mut nonce).context("drawing the jti prefix")?;
    let prefix = URL_SAFE_NO_PAD.encode(nonce);

    let per_part = cli.count.div_ceil(cli.parts);
    let results: Vec<anyhow::Result<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cli.parts)
            .map(|part| {
                let first = part * per_part;
                let n = per_part.min(cli.count.saturating_sub(first));
                let path = part_path(&cli.out, part);
                let (key, header, prefix, htu, method) =
                    (&key, &header, &prefix, &cli.htu, &cli.method);
                scope.spawn(move || {
                    let claims = Claims {
                        htu,
                        method,
                        iat,
                        jti_prefix: prefix,
                    };
                    write_part(&path, key, header, &claims, first, n)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a writer thread panicked")))
            })
            .collect()
    });
    let mut written = 0;
    for r in results {
        written += r?;
    }
    eprintln!(
        "dpop_proofs: {written} proofs in {} file(s), iat {iat}, {:.2}s",
        cli.parts,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The claims every proof of a batch shares, and the `jti` prefix.
struct Claims<'a> {
    htu: &'a str,
    method: &'a str,
    iat: u64,
    jti_prefix: &'a str,
}

/// `{out}.{part}`.
fn part_path(out: &Path, part: u64) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(format!(".{part}"));
    PathBuf::from(name)
}

/// Writes `n` proofs numbered from `first` to `path`; returns `n`.
fn write_part(
    path: &Path,
    key: &EcKey<Private>,
    header: &str,
    claims: &Claims,
    first: u64,
    n: u64,
) -> anyhow::Result<u64> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for i in first..first + n {
        // RFC 9449 §4.2: jti, htm, htu, iat.
        let payload = json!({
            "jti": format!("{}-{i}", claims.jti_prefix),
            "htm": claims.method,
            "htu": claims.htu,
            "iat": claims.iat,
        });
        let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload.to_string()));
        let signature = es256_sign(key, signing_input.as_bytes())?;
        out.write_all(signing_input.as_bytes())?;
        out.write_all(b".")?;
        out.write_all(URL_SAFE_NO_PAD.encode(signature).as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(n)
}

/// The base64url protected header: `typ` dpop+jwt, `alg` ES256 and the public key as `jwk`
/// (RFC 9449 §4.2).
fn protected_header(key: &EcKey<Private>) -> anyhow::Result<String> {
    let mut ctx = BigNumContext::new()?;
    let mut x = openssl::bn::BigNum::new()?;
    let mut y = openssl::bn::BigNum::new()?;
    key.public_key()
        .affine_coordinates(key.group(), &mut x, &mut y, &mut ctx)?;
    let header = json!({
        "typ": "dpop+jwt",
        "alg": "ES256",
        "jwk": {
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(x.to_vec_padded(P256_LEN)?),
            "y": URL_SAFE_NO_PAD.encode(y.to_vec_padded(P256_LEN)?),
        },
    });
    Ok(URL_SAFE_NO_PAD.encode(header.to_string()))
}

/// ES256: ECDSA P-256 over SHA-256, the signature as `r || s`, 32 bytes each (RFC 7518 §3.4).
fn es256_sign(key: &EcKey<Private>, input: &[u8]) -> anyhow::Result<Vec<u8>> {
    let sig = EcdsaSig::sign(&sha256(input), key)?;
    let mut raw = sig.r().to_vec_padded(P256_LEN)?;
    raw.extend(sig.s().to_vec_padded(P256_LEN)?);
    Ok(raw)
}

/// Reads the P-256 key at `path`, or generates one and stores it there readable by the owner only.
fn load_or_create_key(path: &Path) -> anyhow::Result<EcKey<Private>> {
    if path.exists() {
        let pem = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let key = EcKey::private_key_from_pem(&pem).context("parsing the EC key")?;
        if key.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
            bail!("{} is not a P-256 key", path.display());
        }
        return Ok(key);
    }
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = EcKey::generate(&group)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(&key.private_key_to_pem()?)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_verify_with_their_jwk_and_have_distinct_jtis() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = load_or_create_key(&dir.path().join("k.pem")).expect("key");
        let header = protected_header(&key).expect("header");
        let claims = Claims {
            htu: "http://127.0.0.1:1/t/a/token",
            method: "POST",
            iat: 1_700_000_000,
            jti_prefix: "p",
        };
        let path = dir.path().join("out.0");
        assert_eq!(
            write_part(&path, &key, &header, &claims, 5, 3).expect("write"),
            3
        );
        let text = fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let mut jtis = Vec::new();
        for line in &lines {
            let parts: Vec<&str> = line.split('.').collect();
            assert_eq!(parts.len(), 3);
            let head: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64"))
                    .expect("json");
            assert_eq!(head["typ"], "dpop+jwt");
            assert_eq!(head["jwk"]["crv"], "P-256");
            let body: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64"))
                    .expect("json");
            assert_eq!(body["htu"], claims.htu);
            assert_eq!(body["iat"], claims.iat);
            jtis.push(body["jti"].as_str().expect("jti").to_owned());
            // The signature verifies with the public key in the header.
            let raw = URL_SAFE_NO_PAD.decode(parts[2]).expect("b64");
            assert_eq!(raw.len(), 64);
            let sig = EcdsaSig::from_private_components(
                openssl::bn::BigNum::from_slice(&raw[..32]).expect("r"),
                openssl::bn::BigNum::from_slice(&raw[32..]).expect("s"),
            )
            .expect("sig");
            let input = format!("{}.{}", parts[0], parts[1]);
            assert!(sig.verify(&sha256(input.as_bytes()), &key).expect("verify"));
        }
        assert_eq!(jtis, ["p-5", "p-6", "p-7"]);
        // A second batch reuses the stored key.
        let again = load_or_create_key(&dir.path().join("k.pem")).expect("key again");
        assert_eq!(protected_header(&again).expect("header"), header);
    }
}
