//! A tenant's resource servers (APIs): the audiences access tokens are made for, named by an RFC
//! 8707 resource indicator, each with the scopes it owns, its token format (by value or by
//! reference), an optional lifetime and the clients allowed to introspect its tokens. Every change
//! is committed with its change-feed entry (see `TenantAdmin::commit`), so every node's snapshot
//! picks it up.

use tessera_core::{ClientId, ClientType, Clock, TokenFormat};
use tessera_store::{ResourceServerRecord, TenantRecord, clients, resource_servers};

use crate::admin::validate_name;
use crate::{TenantAdmin, TenantError};

/// The longest resource identifier accepted, in bytes.
pub const MAX_RESOURCE_IDENTIFIER: usize = 512;

/// Shortest and longest access-token lifetime a resource server may set, seconds (the bounds a
/// tenant's own lifetime has).
const TTL_RANGE: std::ops::RangeInclusive<i64> = 60..=86_400;

/// A resource server to create.
#[derive(Clone, Debug)]
pub struct NewResourceServer {
    /// Its identifier: an absolute `https` URI or a `urn`, without fragment (RFC 8707 §2).
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// Scopes it owns; each must be defined in the tenant.
    pub scopes: Vec<String>,
    /// Format of the access tokens made for it.
    pub token_format: TokenFormat,
    /// Access-token lifetime in seconds (60 s to 1 day); `None` means the tenant's.
    pub access_token_ttl: Option<i64>,
    /// Client ids of the tenant's confidential clients allowed to introspect its tokens.
    pub introspectors: Vec<String>,
}

/// Editable settings of a resource server; `None` leaves a value unchanged. The identifier is
/// fixed: tokens already issued carry it as their audience.
#[derive(Clone, Debug, Default)]
pub struct ResourceServerUpdate {
    /// Display name.
    pub name: Option<String>,
    /// Scopes it owns, replacing the current ones.
    pub scopes: Option<Vec<String>>,
    /// Access-token format.
    pub token_format: Option<TokenFormat>,
    /// `Some(None)` returns to the tenant's lifetime; `Some(Some(secs))` sets its own.
    pub access_token_ttl: Option<Option<i64>>,
    /// Introspecting clients, replacing the current ones.
    pub introspectors: Option<Vec<String>>,
}

/// Checks a resource identifier: an absolute URI without a fragment (RFC 8707 §2), here an
/// `https` URL with a host or a `urn:` name (RFC 8141), of at most
/// [`MAX_RESOURCE_IDENTIFIER`] bytes. It is kept exactly as given: clients send the same string
/// as `resource`, and it becomes the `aud` of the tokens (RFC 9068 §3).
pub fn check_resource_identifier(raw: &str) -> Result<(), TenantError> {
    let invalid = |why: &str| {
        Err(TenantError::Invalid(format!(
            "invalid resource server identifier: {why}"
        )))
    };
    if raw.is_empty() || raw.len() > MAX_RESOURCE_IDENTIFIER {
        return invalid("it needs 1 to 512 characters");
    }
    // The URL parser would silently drop surrounding or embedded whitespace; the identifier is
    // matched byte for byte, so refuse it instead.
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("it must not contain whitespace");
    }
    if raw.contains('#') {
        return invalid("it must not contain a fragment (RFC 8707 §2)");
    }
    let Ok(url) = url::Url::parse(raw) else {
        return invalid("it must be an absolute URI (RFC 8707 §2)");
    };
    // The scheme is compared as written (lowercase), since the identifier is never normalised.
    let https = raw.starts_with("https://") && !raw.starts_with("https:///");
    match url.scheme() {
        "https" if https && url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "urn" if raw.starts_with("urn:") => {
            // RFC 8141 §2: urn:<NID>:<NSS>.
            let mut parts = url.path().splitn(2, ':');
            let nid = parts.next().unwrap_or_default();
            let nss = parts.next().unwrap_or_default();
            if nid.is_empty() || nss.is_empty() {
                invalid("a URN has the form urn:<namespace>:<name> (RFC 8141 §2)")
            } else {
                Ok(())
            }
        }
        _ => invalid("it must be an https URL or a urn: name"),
    }
}

fn check_ttl(ttl: Option<i64>) -> Result<(), TenantError> {
    match ttl {
        Some(secs) if !TTL_RANGE.contains(&secs) => Err(TenantError::Invalid(
            "access_token_ttl must be between 60 and 86400 seconds".into(),
        )),
        _ => Ok(()),
    }
}

impl TenantAdmin {
    /// Creates a resource server of the tenant `slug`. A taken identifier is
    /// `Conflict("resource server")`.
    pub async fn create_resource_server(
        &self,
        slug: &str,
        new: NewResourceServer,
    ) -> Result<ResourceServerRecord, TenantError> {
        let tenant = self.tenant(slug).await?;
        check_resource_identifier(&new.identifier)?;
        validate_name(&new.name)?;
        check_ttl(new.access_token_ttl)?;
        let scopes = self.allowed_scopes(&tenant, &new.scopes).await?;
        let introspectors = self.introspectors(&tenant, &new.introspectors).await?;
        let now = Clock.now();
        let record = ResourceServerRecord {
            tenant_id: tenant.id,
            identifier: new.identifier,
            name: new.name,
            scopes,
            token_format: new.token_format,
            access_token_ttl: new.access_token_ttl,
            introspectors,
            created_at: now,
            updated_at: now,
        };
        let txn = self.store().begin().await.map_err(rs_err)?;
        resource_servers::insert(&txn, &record)
            .await
            .map_err(rs_err)?;
        self.commit(txn, (tenant.id, slug), "resource_server", now)
            .await?;
        tracing::info!(tenant = %slug, resource = %record.identifier, "resource server created");
        Ok(record)
    }

    /// Every resource server of a tenant, by identifier.
    pub async fn list_resource_servers(
        &self,
        slug: &str,
    ) -> Result<Vec<ResourceServerRecord>, TenantError> {
        let tenant = self.tenant(slug).await?;
        resource_servers::list(self.store().conn(), tenant.id)
            .await
            .map_err(rs_err)
    }

    /// One resource server of a tenant.
    pub async fn resource_server(
        &self,
        slug: &str,
        identifier: &str,
    ) -> Result<ResourceServerRecord, TenantError> {
        let tenant = self.tenant(slug).await?;
        self.find_resource_server(&tenant, identifier).await
    }

    async fn find_resource_server(
        &self,
        tenant: &TenantRecord,
        identifier: &str,
    ) -> Result<ResourceServerRecord, TenantError> {
        resource_servers::find(self.store().conn(), tenant.id, identifier)
            .await
            .map_err(rs_err)?
            .ok_or(TenantError::NotFound("resource server"))
    }

    /// Changes a resource server's settings (PATCH semantics), validated as at creation.
    pub async fn update_resource_server(
        &self,
        slug: &str,
        identifier: &str,
        update: ResourceServerUpdate,
    ) -> Result<ResourceServerRecord, TenantError> {
        let tenant = self.tenant(slug).await?;
        let mut record = self.find_resource_server(&tenant, identifier).await?;
        if let Some(name) = update.name {
            validate_name(&name)?;
            record.name = name;
        }
        if let Some(scopes) = update.scopes {
            record.scopes = self.allowed_scopes(&tenant, &scopes).await?;
        }
        if let Some(format) = update.token_format {
            record.token_format = format;
        }
        if let Some(ttl) = update.access_token_ttl {
            check_ttl(ttl)?;
            record.access_token_ttl = ttl;
        }
        if let Some(introspectors) = update.introspectors {
            record.introspectors = self.introspectors(&tenant, &introspectors).await?;
        }
        let now = Clock.now();
        record.updated_at = now;
        let txn = self.store().begin().await.map_err(rs_err)?;
        resource_servers::update(&txn, &record)
            .await
            .map_err(rs_err)?;
        self.commit(txn, (tenant.id, slug), "resource_server", now)
            .await?;
        tracing::info!(tenant = %slug, resource = %record.identifier, "resource server updated");
        Ok(record)
    }

    /// Deletes a resource server. Refused while a client names it as its `default_resource` or
    /// as a token-exchange audience: those clients would otherwise ask for tokens of an API that
    /// no longer exists.
    pub async fn delete_resource_server(
        &self,
        slug: &str,
        identifier: &str,
    ) -> Result<(), TenantError> {
        let tenant = self.tenant(slug).await?;
        let now = Clock.now();
        let txn = self.store().begin().await.map_err(rs_err)?;
        let in_use = clients::list(&txn, tenant.id)
            .await
            .map_err(|e| TenantError::from_store("client", e))?
            .into_iter()
            .find(|c| {
                c.options.default_resource.as_deref() == Some(identifier)
                    || c.options
                        .token_exchange
                        .as_ref()
                        .is_some_and(|x| x.audiences.iter().any(|a| a == identifier))
            })
            .map(|c| c.client_id);
        if let Some(client) = in_use {
            return Err(TenantError::InUse(format!(
                "the resource server is still the default_resource or a token-exchange audience of client `{client}`; change that client first"
            )));
        }
        resource_servers::delete(&txn, tenant.id, identifier)
            .await
            .map_err(rs_err)?;
        self.commit(txn, (tenant.id, slug), "resource_server", now)
            .await?;
        tracing::info!(tenant = %slug, resource = %identifier, "resource server deleted");
        Ok(())
    }

    /// The clients named by `raw`, deduplicated: each must be a confidential client of `tenant`,
    /// since introspection needs client authentication (RFC 7662 §2.1).
    async fn introspectors(
        &self,
        tenant: &TenantRecord,
        raw: &[String],
    ) -> Result<Vec<ClientId>, TenantError> {
        let mut ids: Vec<ClientId> = Vec::with_capacity(raw.len());
        for raw in raw {
            let unknown = || {
                TenantError::Invalid(format!(
                    "introspector `{}` is not a client of tenant `{}`",
                    raw.chars().take(255).collect::<String>(),
                    tenant.slug
                ))
            };
            let id = ClientId::parse(raw).ok_or_else(unknown)?;
            let client = clients::find(self.store().conn(), tenant.id, &id)
                .await
                .map_err(|e| TenantError::from_store("client", e))?
                .ok_or_else(unknown)?;
            if client.client_type != ClientType::Confidential {
                return Err(TenantError::Invalid(format!(
                    "introspector `{id}` is a public client; introspection needs an authenticated (confidential) client (RFC 7662 §2.1)"
                )));
            }
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

fn rs_err(e: tessera_store::StoreError) -> TenantError {
    TenantError::from_store("resource server", e)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tessera_core::{SigningAlg, TokenFormat};

    use super::*;
    use crate::admin::tests::{admin, tenant};
    use crate::{ClientUpdate, NewClient};

    fn api(identifier: &str) -> NewResourceServer {
        NewResourceServer {
            identifier: identifier.to_owned(),
            name: "Orders API".into(),
            scopes: vec!["openid".into()],
            token_format: TokenFormat::Opaque,
            access_token_ttl: Some(300),
            introspectors: vec![],
        }
    }

    fn invalid(err: TenantError) -> String {
        match err {
            TenantError::Invalid(why) => why,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[actix::test]
    async fn resource_servers_are_created_listed_updated_and_deleted_through_the_feed() {
        let admin = admin().await;
        tenant(&admin, "acme", SigningAlg::Es256).await;
        let gateway = admin
            .register_client("acme", NewClient::confidential("gateway"))
            .await
            .unwrap()
            .client;
        let feed_before = tessera_store::feed::head(admin.store().conn())
            .await
            .unwrap();
        let before = admin.directory().resolve("acme").await.unwrap().unwrap();
        assert!(
            before
                .resource_server("https://api.example.com/orders")
                .is_none()
        );

        let created = admin
            .create_resource_server(
                "acme",
                NewResourceServer {
                    introspectors: vec![
                        gateway.client_id.to_string(),
                        gateway.client_id.to_string(),
                    ],
                    ..api("https://api.example.com/orders")
                },
            )
            .await
            .unwrap();
        assert_eq!(created.introspectors, vec![gateway.client_id.clone()]);
        assert_eq!(created.token_format, TokenFormat::Opaque);
        assert_eq!(created.access_token_ttl, Some(300));
        let feed = tessera_store::feed::since(admin.store().conn(), feed_before, 10)
            .await
            .unwrap();
        assert_eq!(feed.len(), 1);
        assert_eq!(feed[0].what, "resource_server");
        let snapshot = admin.directory().resolve("acme").await.unwrap().unwrap();
        assert_eq!(
            snapshot
                .resource_server("https://api.example.com/orders")
                .unwrap()
                .name,
            "Orders API"
        );

        // A taken identifier is a conflict.
        assert!(matches!(
            admin
                .create_resource_server("acme", api("https://api.example.com/orders"))
                .await,
            Err(TenantError::Conflict("resource server"))
        ));
        admin
            .create_resource_server("acme", api("urn:example:billing"))
            .await
            .unwrap();
        let listed: Vec<String> = admin
            .list_resource_servers("acme")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.identifier)
            .collect();
        assert_eq!(
            listed,
            ["https://api.example.com/orders", "urn:example:billing"]
        );

        let updated = admin
            .update_resource_server(
                "acme",
                "urn:example:billing",
                ResourceServerUpdate {
                    name: Some("Billing".into()),
                    scopes: Some(vec!["email".into(), "profile".into()]),
                    token_format: Some(TokenFormat::Jwt),
                    access_token_ttl: Some(None),
                    introspectors: Some(vec![gateway.client_id.to_string()]),
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.name, "Billing");
        assert_eq!(updated.token_format, TokenFormat::Jwt);
        assert_eq!(updated.access_token_ttl, None);
        assert_eq!(updated.scopes.to_wire(), "email profile");
        assert_eq!(
            admin
                .resource_server("acme", "urn:example:billing")
                .await
                .unwrap(),
            updated
        );
        let snapshot = admin.directory().resolve("acme").await.unwrap().unwrap();
        assert_eq!(
            snapshot
                .resource_server("urn:example:billing")
                .unwrap()
                .name,
            "Billing"
        );

        // Deleting the gateway client drops it from every introspector list.
        admin
            .delete_client("acme", gateway.client_id.as_ref())
            .await
            .unwrap();
        for r in admin.list_resource_servers("acme").await.unwrap() {
            assert!(r.introspectors.is_empty(), "{}", r.identifier);
        }

        admin
            .delete_resource_server("acme", "urn:example:billing")
            .await
            .unwrap();
        assert!(matches!(
            admin.resource_server("acme", "urn:example:billing").await,
            Err(TenantError::NotFound("resource server"))
        ));
        assert!(matches!(
            admin
                .delete_resource_server("acme", "urn:example:billing")
                .await,
            Err(TenantError::NotFound("resource server"))
        ));
        let snapshot = admin.directory().resolve("acme").await.unwrap().unwrap();
        assert!(snapshot.resource_server("urn:example:billing").is_none());
    }

    #[actix::test]
    async fn invalid_resource_servers_are_refused() {
        let admin = admin().await;
        tenant(&admin, "acme", SigningAlg::Es256).await;
        tenant(&admin, "other", SigningAlg::Es256).await;
        let public = admin
            .register_client(
                "acme",
                NewClient {
                    client_type: ClientType::Public,
                    redirect_uris: vec!["https://app.example.com/cb".into()],
                    ..NewClient::confidential("spa")
                },
            )
            .await
            .unwrap()
            .client;
        let foreign = admin
            .register_client("other", NewClient::confidential("theirs"))
            .await
            .unwrap()
            .client;
        let cases = [
            (api("orders"), "absolute URI"),
            (api("https://api.example.com/#x"), "fragment"),
            (
                NewResourceServer {
                    scopes: vec!["undefined".into()],
                    ..api("urn:example:a")
                },
                "not defined",
            ),
            (
                NewResourceServer {
                    introspectors: vec!["nobody".into()],
                    ..api("urn:example:a")
                },
                "not a client",
            ),
            (
                NewResourceServer {
                    introspectors: vec![foreign.client_id.to_string()],
                    ..api("urn:example:a")
                },
                "not a client",
            ),
            (
                NewResourceServer {
                    introspectors: vec![public.client_id.to_string()],
                    ..api("urn:example:a")
                },
                "public client",
            ),
            (
                NewResourceServer {
                    access_token_ttl: Some(59),
                    ..api("urn:example:a")
                },
                "between 60 and 86400",
            ),
            (
                NewResourceServer {
                    access_token_ttl: Some(86_401),
                    ..api("urn:example:a")
                },
                "between 60 and 86400",
            ),
            (
                NewResourceServer {
                    name: String::new(),
                    ..api("urn:example:a")
                },
                "name",
            ),
        ];
        for (new, says) in cases {
            let why = invalid(admin.create_resource_server("acme", new).await.unwrap_err());
            assert!(why.contains(says), "{why}");
        }
        assert!(
            admin
                .list_resource_servers("acme")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            admin
                .create_resource_server("nope", api("urn:example:a"))
                .await,
            Err(TenantError::NotFound("tenant"))
        ));
        admin
            .create_resource_server("acme", api("urn:example:a"))
            .await
            .unwrap();
        let why = invalid(
            admin
                .update_resource_server(
                    "acme",
                    "urn:example:a",
                    ResourceServerUpdate {
                        access_token_ttl: Some(Some(10)),
                        ..Default::default()
                    },
                )
                .await
                .unwrap_err(),
        );
        assert!(why.contains("between"), "{why}");
        assert!(matches!(
            admin
                .update_resource_server("acme", "urn:example:b", ResourceServerUpdate::default())
                .await,
            Err(TenantError::NotFound("resource server"))
        ));
    }

    #[actix::test]
    async fn a_resource_server_in_use_by_a_client_cannot_be_deleted() {
        let admin = admin().await;
        tenant(&admin, "acme", SigningAlg::Es256).await;
        admin
            .create_resource_server("acme", api("urn:example:a"))
            .await
            .unwrap();
        admin
            .create_resource_server("acme", api("urn:example:b"))
            .await
            .unwrap();
        let client = admin
            .register_client(
                "acme",
                NewClient {
                    options: serde_json::from_value(serde_json::json!({
                        "default_resource": "urn:example:a",
                        "token_exchange": {"audiences": ["urn:example:b"]},
                    }))
                    .unwrap(),
                    ..NewClient::confidential("svc")
                },
            )
            .await
            .unwrap()
            .client;
        for id in ["urn:example:a", "urn:example:b"] {
            assert!(matches!(
                admin.delete_resource_server("acme", id).await,
                Err(TenantError::InUse(why)) if why.contains("default_resource")
            ));
        }
        admin
            .update_client(
                "acme",
                client.client_id.as_ref(),
                ClientUpdate {
                    options: Some(Default::default()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        for id in ["urn:example:a", "urn:example:b"] {
            admin.delete_resource_server("acme", id).await.unwrap();
        }
    }

    #[test]
    fn resource_identifiers_are_https_urls_or_urns_without_fragment() {
        for good in [
            "https://api.example.com",
            "https://api.example.com/orders",
            "https://api.example.com:8443/v1?tier=gold",
            "urn:example:orders",
            "urn:ietf:params:oauth:whatever",
        ] {
            assert!(check_resource_identifier(good).is_ok(), "{good}");
        }
        let long = format!("https://api.example.com/{}", "a".repeat(500));
        for bad in [
            "",
            "orders",
            "/orders",
            "api.example.com",
            "http://api.example.com",
            "ftp://api.example.com",
            "https://api.example.com/#frag",
            "https://api.example.com/x#",
            " https://api.example.com",
            "https://api.example.com/a b",
            "https://api.example.com/\n",
            "urn:",
            "urn:example",
            "urn::x",
            "https:///nohost",
            "HTTPS://api.example.com",
            "URN:example:orders",
            long.as_str(),
        ] {
            assert!(check_resource_identifier(bad).is_err(), "{bad:?}");
        }
    }
}
