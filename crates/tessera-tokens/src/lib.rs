//! TokenIssuer: grant types, client authentication and access-token issuance
