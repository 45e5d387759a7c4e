# syntax=docker/dockerfile:1
# Tessera container image: a release build on the official Rust image, run on Debian slim.
# Build:  docker build -t tessera .      (docker-compose.yml builds it for you)
# Run:    see docker-compose.yml and the "Deployment" section of README.md.

FROM rust:1-bookworm AS build
# The openssl crate links the system OpenSSL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target dir between builds; the binary is copied out of
# the (mounted, hence not committed) target dir inside the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tessera \
 && install -m 0755 target/release/tessera /usr/local/bin/tessera

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/tessera --create-home \
        --shell /usr/sbin/nologin tessera
COPY --from=build /usr/local/bin/tessera /usr/local/bin/tessera
USER tessera
# The default --data-dir is ./data, i.e. /var/lib/tessera/data. With PostgreSQL and the master key
# from the environment (as in production) nothing of value is kept there.
WORKDIR /var/lib/tessera
EXPOSE 8080
# SIGTERM starts a graceful shutdown: in-flight requests finish, then the process exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["tessera"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
