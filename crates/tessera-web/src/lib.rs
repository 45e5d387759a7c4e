//! actix-web protocol endpoints: tenant routing, OAuth error rendering, discovery, JWKS, token, operations
