//! Per-tenant signing key rings: generation, encryption at rest, rotation, JWKS, JWS signing
