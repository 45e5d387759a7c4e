//! Admin REST API for operators and tenant admins, with its OpenAPI document
