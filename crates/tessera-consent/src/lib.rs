//! The consent ledger: which scopes each user granted each client of a tenant, partial consent,
//! and the decision whether the consent page must be shown.
