//! Claims release: which of a user's claims the granted scopes (and a `claims` request, OIDC
//! Core §5.5) release to a client, for the ID token and the userinfo endpoint.
