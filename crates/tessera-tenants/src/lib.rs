//! TenantDirectory actor: tenant lifecycle, clients, scopes, published snapshots and the change feed
