//! Authentication of a tenant's users: user accounts, argon2id passwords hashed off the reactor,
//! failed-login throttling and lockout, and server-side SSO sessions.
