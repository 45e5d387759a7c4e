//! The management commands (`tessera tenant|client|scope|keys …`). They work on the same database
//! as the server through the same [`TenantAdmin`](tessera_tenants::TenantAdmin) operations, so a
//! running server sees their effect through the change feed within one poll interval.

use clap::{Args, Subcommand};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tessera_core::{ClientType, GrantType, SigningAlg, TenantSlug, TenantStatus, TokenFormat};
use tessera_store::{ClientRecord, KeyRecord};
use tessera_tenants::{NewClient, NewTenant, RegisteredClient, TenantError};

use crate::startup::Services;

/// `tessera tenant …`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with fresh signing keys.
    Create {
        /// URL name: 2-63 lowercase letters, digits or '-'.
        slug: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Signing algorithm: RS256, ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        alg: String,
    },
    /// List tenants (paginated by slug).
    List {
        /// Only tenants whose slug or name contains this.
        #[arg(long)]
        search: Option<String>,
        /// Start after this slug.
        #[arg(long)]
        after: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Show one tenant.
    Show {
        /// Tenant slug.
        slug: String,
    },
    /// Disable a tenant: every protocol endpoint answers with an error.
    Disable {
        /// Tenant slug.
        slug: String,
    },
    /// Enable a disabled tenant.
    Enable {
        /// Tenant slug.
        slug: String,
    },
    /// Delete a tenant and everything it owns.
    Delete {
        /// Tenant slug.
        slug: String,
    },
}

/// `tessera client …`.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; a confidential client's secret is printed once.
    Create(ClientCreate),
    /// List a tenant's clients.
    List {
        /// Tenant slug.
        tenant: String,
    },
    /// Show one client.
    Show {
        /// Tenant slug.
        tenant: String,
        /// Client id. Generated ids may begin with '-', so a leading hyphen is part of the value.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Delete a client.
    Delete {
        /// Tenant slug.
        tenant: String,
        /// Client id. Generated ids may begin with '-', so a leading hyphen is part of the value.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

/// Arguments of `tessera client create`.
#[derive(Debug, Args)]
pub struct ClientCreate {
    /// Tenant slug.
    pub tenant: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// A public client (no secret).
    #[arg(long)]
    pub public: bool,
    /// Allowed grant type (repeatable): client_credentials, authorization_code, refresh_token.
    #[arg(long = "grant")]
    pub grants: Vec<String>,
    /// Registered redirect URI (repeatable), matched exactly.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Registered post-logout redirect URI (repeatable), matched exactly.
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// A first-party client: users are not asked for consent.
    #[arg(long)]
    pub first_party: bool,
    /// Scope the client may request (repeatable); must be defined in the tenant.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Access-token format: jwt or opaque.
    #[arg(long, default_value = "jwt")]
    pub token_format: String,
    /// For a client of the system tenant: make it a tenant admin of this tenant.
    #[arg(long)]
    pub admin_of: Option<String>,
}

/// `tessera scope …`.
#[derive(Debug, Subcommand)]
pub enum ScopeCommand {
    /// Define a scope.
    Create {
        /// Tenant slug.
        tenant: String,
        /// Scope name.
        name: String,
        /// Text shown on the consent page.
        #[arg(long)]
        description: String,
        /// Claim the scope releases (repeatable).
        #[arg(long = "claim")]
        claims: Vec<String>,
    },
    /// List a tenant's scopes.
    List {
        /// Tenant slug.
        tenant: String,
    },
}

/// `tessera keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Rotate now: next → active, active → retired, new next.
    Rotate {
        /// Tenant slug.
        tenant: String,
    },
    /// List the key ring.
    List {
        /// Tenant slug.
        tenant: String,
    },
}

/// What a command produced: a JSON object, and its human rendering.
pub struct Output {
    /// The `--json` form.
    pub json: Value,
    /// The human form.
    pub text: String,
}

fn invalid(e: impl std::fmt::Display) -> TenantError {
    TenantError::Invalid(e.to_string())
}

fn client_json(c: &ClientRecord, secret: Option<&str>) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let (Some(secret), Some(obj)) = (secret, v.as_object_mut()) {
        obj.insert("client_secret".into(), Value::String(secret.to_owned()));
    }
    v
}

fn key_json(k: &KeyRecord) -> Value {
    json!({
        "kid": k.kid, "alg": k.alg, "state": k.state, "created_at": k.created_at,
        "activated_at": k.activated_at, "retired_at": k.retired_at, "expires_at": k.expires_at,
    })
}

fn list_text<T>(items: &[T], line: impl Fn(&T) -> String) -> String {
    if items.is_empty() {
        return "(none)".into();
    }
    items.iter().map(line).collect::<Vec<_>>().join("\n")
}

/// Runs a tenant command.
pub async fn tenant(s: &Services, cmd: TenantCommand) -> Result<Output, TenantError> {
    let record = match cmd {
        TenantCommand::Create { slug, name, alg } => {
            let slug = TenantSlug::parse(&slug).map_err(invalid)?;
            let alg: SigningAlg = alg.parse().map_err(invalid)?;
            s.admin.create_tenant(NewTenant { slug, name, alg }).await?
        }
        TenantCommand::List {
            search,
            after,
            limit,
        } => {
            let items = s
                .admin
                .list_tenants(after.as_deref(), search.as_deref(), limit)
                .await?;
            let next = (items.len() as u64 == limit.clamp(1, 1000))
                .then(|| items.last().map(|t| t.slug.to_string()))
                .flatten();
            let text = list_text(&items, |t| {
                format!("{}\t{}\t{}\t{}", t.slug, t.status, t.signing_alg, t.name)
            });
            return Ok(Output {
                json: json!({ "items": items, "next": next }),
                text,
            });
        }
        TenantCommand::Show { slug } => s.admin.tenant(&slug).await?,
        TenantCommand::Disable { slug } => {
            s.admin.set_status(&slug, TenantStatus::Disabled).await?
        }
        TenantCommand::Enable { slug } => s.admin.set_status(&slug, TenantStatus::Active).await?,
        TenantCommand::Delete { slug } => {
            s.admin.delete_tenant(&slug).await?;
            return Ok(Output {
                json: json!({ "deleted": slug }),
                text: format!("deleted tenant {slug}"),
            });
        }
    };
    let issuer = s.directory.issuer_for(record.slug.as_ref());
    let text = format!(
        "tenant {}\n  name:    {}\n  status:  {}\n  alg:     {}\n  issuer:  {}",
        record.slug, record.name, record.status, record.signing_alg, issuer
    );
    let mut json = serde_json::to_value(&record).unwrap_or(Value::Null);
    if let Some(obj) = json.as_object_mut() {
        obj.insert("issuer".into(), Value::String(issuer));
    }
    Ok(Output { json, text })
}

/// Runs a client command.
pub async fn client(s: &Services, cmd: ClientCommand) -> Result<Output, TenantError> {
    match cmd {
        ClientCommand::Create(c) => {
            let grant_types = c
                .grants
                .iter()
                .map(|g| g.parse::<GrantType>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(invalid)?;
            let token_format: TokenFormat = c.token_format.parse().map_err(invalid)?;
            let admin_of = c
                .admin_of
                .as_deref()
                .map(TenantSlug::parse)
                .transpose()
                .map_err(invalid)?;
            let new = NewClient {
                name: c.name,
                client_type: if c.public {
                    ClientType::Public
                } else {
                    ClientType::Confidential
                },
                grant_types,
                redirect_uris: c.redirect_uris,
                scopes: if admin_of.is_some() && c.scopes.is_empty() {
                    vec!["admin".into()]
                } else {
                    c.scopes
                },
                token_format,
                admin_role: None,
                admin_of,
                post_logout_redirect_uris: c.post_logout_redirect_uris,
                first_party: c.first_party,
            };
            let RegisteredClient {
                client,
                client_secret,
            } = s.admin.register_client(&c.tenant, new).await?;
            let secret = client_secret.as_ref().map(|x| x.expose_secret());
            let mut text = format!(
                "client {}\n  name:   {}\n  type:   {}",
                client.client_id, client.name, client.client_type
            );
            if let Some(secret) = secret {
                text.push_str(&format!(
                    "\n  secret: {secret}\n  (shown once: store it now)"
                ));
            }
            Ok(Output {
                json: client_json(&client, secret),
                text,
            })
        }
        ClientCommand::List { tenant } => {
            let items = s.admin.list_clients(&tenant).await?;
            let text = list_text(&items, |c| {
                format!("{}\t{}\t{}", c.client_id, c.client_type, c.name)
            });
            Ok(Output {
                json: json!({ "items": items }),
                text,
            })
        }
        ClientCommand::Show { tenant, client_id } => {
            let c = s.admin.client(&tenant, &client_id).await?;
            let text = format!(
                "client {}\n  name:   {}\n  type:   {}\n  grants: {:?}\n  scopes: {}",
                c.client_id,
                c.name,
                c.client_type,
                c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
                c.scopes.to_wire()
            );
            Ok(Output {
                json: client_json(&c, None),
                text,
            })
        }
        ClientCommand::Delete { tenant, client_id } => {
            s.admin.delete_client(&tenant, &client_id).await?;
            Ok(Output {
                json: json!({ "deleted": client_id }),
                text: format!("deleted client {client_id}"),
            })
        }
    }
}

/// Runs a scope command.
pub async fn scope(s: &Services, cmd: ScopeCommand) -> Result<Output, TenantError> {
    match cmd {
        ScopeCommand::Create {
            tenant,
            name,
            description,
            claims,
        } => {
            let scope = s
                .admin
                .define_scope(&tenant, &name, &description, claims)
                .await?;
            Ok(Output {
                text: format!("scope {} defined in {tenant}", scope.name),
                json: serde_json::to_value(&scope).unwrap_or(Value::Null),
            })
        }
        ScopeCommand::List { tenant } => {
            let items = s.admin.list_scopes(&tenant).await?;
            let text = list_text(&items, |sc| format!("{}\t{}", sc.name, sc.description));
            Ok(Output {
                json: json!({ "items": items }),
                text,
            })
        }
    }
}

/// Runs a keys command.
pub async fn keys(s: &Services, cmd: KeysCommand) -> Result<Output, TenantError> {
    match cmd {
        KeysCommand::Rotate { tenant } => {
            let rotation = s.admin.rotate_keys(&tenant).await?.ok_or_else(|| {
                TenantError::Invalid(
                    "another rotation of this tenant ran at the same moment; try again".into(),
                )
            })?;
            let json = json!({ "retired": rotation.retired, "activated": rotation.activated, "next": rotation.next });
            let text = format!(
                "rotated keys of {tenant}\n  active:  {}\n  next:    {}\n  retired: {}",
                rotation.activated,
                rotation.next,
                rotation
                    .retired
                    .as_ref()
                    .map(|k| k.to_string())
                    .unwrap_or_else(|| "-".into())
            );
            Ok(Output { json, text })
        }
        KeysCommand::List { tenant } => {
            let items = s.admin.list_keys(&tenant).await?;
            let text = list_text(&items, |k| format!("{}\t{}\t{}", k.kid, k.alg, k.state));
            Ok(Output {
                json: json!({ "items": items.iter().map(key_json).collect::<Vec<_>>() }),
                text,
            })
        }
    }
}
