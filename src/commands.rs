//! The management commands (`tessera tenant|client|resource|scope|keys|user …`). They work on the same
//! database as the server through the same [`TenantAdmin`](tessera_tenants::TenantAdmin) operations,
//! so a running server sees their effect through the change feed within one poll interval. User
//! commands go through the [`Authenticator`](tessera_authn::Authenticator); users are read from the
//! database on every sign-in, so changes apply at once.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tessera_authn::{AuthnError, NewUser};
use tessera_core::{
    AuthMethod, ClientOptions, ClientType, ExchangePolicy, GrantType, SigningAlg, TenantSlug,
    TenantStatus, TokenFormat, UserId, UserStatus,
};
use tessera_store::{
    ClientRecord, KeyRecord, ResourceServerRecord, StandardClaims, TenantRecord, UserRecord,
};
use tessera_tenants::{
    ClientUpdate, NewClient, NewResourceServer, NewTenant, RegisteredClient, ResourceServerUpdate,
    TenantError,
};

use tessera_admin::lifecycle::CLI_ACTOR;

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
    Create(Box<ClientCreate>),
    /// List a tenant's clients (paginated by client_id).
    List {
        /// Tenant slug.
        tenant: String,
        /// Only clients whose client_id or name starts with this (case-insensitive).
        #[arg(long)]
        search: Option<String>,
        /// Start after this client_id.
        #[arg(long, allow_hyphen_values = true)]
        after: Option<String>,
        /// Page size (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Show one client.
    Show {
        /// Tenant slug.
        tenant: String,
        /// Client id. Generated ids may begin with '-', so a leading hyphen is part of the value.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Change a client's settings; what is not given stays unchanged.
    Update(ClientUpdateArgs),
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
    /// Allowed grant type (repeatable): client_credentials, authorization_code, refresh_token,
    /// device_code (short for urn:ietf:params:oauth:grant-type:device_code, RFC 8628), password
    /// (RFC 6749 §4.3; legacy apps only, RFC 9700 §2.4 advises against it).
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
    /// Let this confidential client skip PKCE (public clients always need it).
    #[arg(long)]
    pub no_pkce: bool,
    /// ID-token signing algorithm (id_token_signed_response_alg): RS256 (default) or the tenant's.
    #[arg(long)]
    pub id_token_alg: Option<String>,
    /// Scope the client may request (repeatable); must be defined in the tenant.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Access-token format: jwt or opaque.
    #[arg(long, default_value = "jwt")]
    pub token_format: String,
    /// For a client of the system tenant: make it a tenant admin of this tenant.
    #[arg(long)]
    pub admin_of: Option<String>,
    /// Authentication, holder-of-key, default resource and token-exchange options.
    #[command(flatten)]
    pub options: ClientOptionArgs,
}

/// The client options as `tessera client create` flags.
#[derive(Debug, Args)]
pub struct ClientOptionArgs {
    /// token_endpoint_auth_method: client_secret_basic, client_secret_post, none (public
    /// clients), tls_client_auth or self_signed_tls_client_auth (RFC 8705 §2),
    /// private_key_jwt or client_secret_jwt (RFC 7523 §2.2).
    #[arg(long)]
    pub auth_method: Option<String>,
    /// For tls_client_auth: the subject DN of the client's certificate (RFC 4514 form).
    #[arg(long)]
    pub tls_subject_dn: Option<String>,
    /// The client's public keys: a file holding a JWK Set {"keys": [...]}; for
    /// self_signed_tls_client_auth a key's first x5c certificate is the one accepted.
    #[arg(long)]
    pub jwks_file: Option<PathBuf>,
    /// For private_key_jwt: the HTTPS URL where the client publishes its JWK Set (instead of
    /// --jwks-file).
    #[arg(long)]
    pub jwks_uri: Option<String>,
    /// For private_key_jwt / client_secret_jwt: the one JWS alg the client's assertions use
    /// (token_endpoint_auth_signing_alg), e.g. ES256 or HS256.
    #[arg(long)]
    pub auth_signing_alg: Option<String>,
    /// Bind access tokens to the client's TLS certificate (RFC 8705 §3).
    #[arg(long)]
    pub cert_bound: bool,
    /// Require a DPoP proof on every token request (RFC 9449).
    #[arg(long)]
    pub require_dpop: bool,
    /// Resource server whose tokens the client gets when it names none (RFC 8707).
    #[arg(long)]
    pub default_resource: Option<String>,
    /// Resource server the client may exchange tokens for (repeatable; RFC 8693).
    #[arg(long = "exchange-audience")]
    pub exchange_audiences: Vec<String>,
    /// Accepted subject_token_type URN for token exchange (repeatable; RFC 8693 §3).
    #[arg(long = "exchange-subject-type")]
    pub exchange_subject_types: Vec<String>,
    /// Allow delegation in token exchange: an actor_token may be sent (RFC 8693 §1.1).
    #[arg(long)]
    pub allow_delegation: bool,
    /// Authorization requests must be pushed to /par first (RFC 9126
    /// require_pushed_authorization_requests).
    #[arg(long)]
    pub require_par: bool,
    /// The one JWS alg of the client's request objects (request_object_signing_alg), e.g.
    /// ES256; `none` allows unsigned request objects (and only those).
    #[arg(long)]
    pub request_object_alg: Option<String>,
    /// Authorization requests must come as a signed request object (RFC 9101 §10.5
    /// require_signed_request_object).
    #[arg(long)]
    pub require_signed_request_object: bool,
    /// Back-channel logout endpoint (Back-Channel Logout 1.0 `backchannel_logout_uri`).
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// Logout tokens carry `sid` (`backchannel_logout_session_required`).
    #[arg(long)]
    pub backchannel_logout_session_required: bool,
    /// Front-channel logout page (Front-Channel Logout 1.0 `frontchannel_logout_uri`).
    #[arg(long)]
    pub frontchannel_logout_uri: Option<String>,
    /// `iss` and `sid` are added to it (`frontchannel_logout_session_required`).
    #[arg(long)]
    pub frontchannel_logout_session_required: bool,
    /// `sub` values: public (the user id, default) or pairwise (one per sector, OIDC Core §8).
    #[arg(long)]
    pub subject_type: Option<String>,
    /// For pairwise subjects: an https URL serving a JSON array of the client's redirect
    /// URIs, whose host is the client's sector (OIDC Core §8.1 `sector_identifier_uri`).
    #[arg(long)]
    pub sector_identifier_uri: Option<String>,
    /// Sign userinfo responses with this alg (RS256, ES256 or EdDSA;
    /// `userinfo_signed_response_alg`).
    #[arg(long)]
    pub userinfo_signed_response_alg: Option<String>,
}

impl ClientOptionArgs {
    /// The options document the flags describe; token exchange is on when any of its flags is
    /// given.
    fn into_options(self) -> Result<ClientOptions, TenantError> {
        let token_endpoint_auth_method = match self.auth_method.as_deref() {
            None => None,
            Some(raw) => Some(AuthMethod::parse(raw).ok_or_else(|| {
                invalid(format!(
                    "unknown --auth-method `{raw}`; use client_secret_basic, client_secret_post, none, tls_client_auth, self_signed_tls_client_auth, private_key_jwt or client_secret_jwt"
                ))
            })?),
        };
        let jwks = self.jwks_file.as_deref().map(read_json_file).transpose()?;
        let exchange = !self.exchange_audiences.is_empty()
            || !self.exchange_subject_types.is_empty()
            || self.allow_delegation;
        Ok(ClientOptions {
            token_endpoint_auth_method,
            tls_client_auth_subject_dn: self.tls_subject_dn,
            jwks,
            jwks_uri: self.jwks_uri,
            token_endpoint_auth_signing_alg: self.auth_signing_alg,
            tls_client_certificate_bound_access_tokens: self.cert_bound,
            require_dpop: self.require_dpop,
            default_resource: self.default_resource,
            token_exchange: exchange.then_some(ExchangePolicy {
                audiences: self.exchange_audiences,
                subject_token_types: self.exchange_subject_types,
                allow_delegation: self.allow_delegation,
            }),
            require_pushed_authorization_requests: self.require_par,
            request_object_signing_alg: self.request_object_alg,
            require_signed_request_object: self.require_signed_request_object,
            backchannel_logout_uri: self.backchannel_logout_uri,
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            frontchannel_logout_uri: self.frontchannel_logout_uri,
            frontchannel_logout_session_required: self.frontchannel_logout_session_required,
            subject_type: match self.subject_type.as_deref() {
                None | Some("public") => tessera_core::SubjectType::Public,
                Some("pairwise") => tessera_core::SubjectType::Pairwise,
                Some(other) => {
                    return Err(invalid(format!(
                        "unknown --subject-type `{other}`; use public or pairwise"
                    )));
                }
            },
            sector_identifier_uri: self.sector_identifier_uri,
            userinfo_signed_response_alg: self
                .userinfo_signed_response_alg
                .as_deref()
                .map(|raw| {
                    raw.parse::<tessera_core::SigningAlg>().map_err(|_| {
                        invalid(format!(
                            "unknown --userinfo-signed-response-alg `{raw}`; use RS256, ES256 or EdDSA"
                        ))
                    })
                })
                .transpose()?,
            // Encrypted responses need the client's keys: registered through the admin API.
            id_token_encrypted_response_alg: None,
            id_token_encrypted_response_enc: None,
            userinfo_encrypted_response_alg: None,
            userinfo_encrypted_response_enc: None,
            // Set by the server for Client ID Metadata Document clients only.
            metadata_document: None,
        })
    }
}

/// Arguments of `tessera client update`.
#[derive(Debug, Args)]
pub struct ClientUpdateArgs {
    /// Tenant slug.
    pub tenant: String,
    /// Client id. Generated ids may begin with '-', so a leading hyphen is part of the value.
    #[arg(allow_hyphen_values = true)]
    pub client_id: String,
    /// New display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Redirect URI (repeatable); replaces the registered ones.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URI (repeatable); replaces the registered ones.
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Scope (repeatable); replaces the registered ones.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Access-token format: jwt or opaque.
    #[arg(long)]
    pub token_format: Option<String>,
    /// Whether the client skips the consent page: true or false.
    #[arg(long)]
    pub first_party: Option<bool>,
    /// A file holding the whole options document as JSON (the `options` object that
    /// `client show --json` prints); it replaces the registered one.
    #[arg(long)]
    pub options_file: Option<PathBuf>,
}

/// `tessera resource …`: a tenant's resource servers (APIs).
#[derive(Debug, Subcommand)]
pub enum ResourceCommand {
    /// Create a resource server.
    Create(ResourceCreate),
    /// List a tenant's resource servers.
    List {
        /// Tenant slug.
        tenant: String,
    },
    /// Show one resource server.
    Show {
        /// Tenant slug.
        tenant: String,
        /// Its identifier (https URL or urn).
        identifier: String,
    },
    /// Change a resource server's settings; what is not given stays unchanged.
    Update(ResourceUpdateArgs),
    /// Delete a resource server (refused while a client names it as default resource or
    /// token-exchange audience).
    Delete {
        /// Tenant slug.
        tenant: String,
        /// Its identifier (https URL or urn).
        identifier: String,
    },
}

/// Arguments of `tessera resource create`.
#[derive(Debug, Args)]
pub struct ResourceCreate {
    /// Tenant slug.
    pub tenant: String,
    /// Identifier: an absolute https URL or a urn:, without fragment (RFC 8707 §2). Clients send
    /// it as `resource`; it is the `aud` of its tokens.
    pub identifier: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Scope the API owns (repeatable); must be defined in the tenant.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Access-token format: jwt (by value) or opaque (by reference, introspected).
    #[arg(long, default_value = "jwt")]
    pub token_format: String,
    /// Access-token lifetime in seconds (60-86400); default: the tenant's.
    #[arg(long)]
    pub ttl: Option<i64>,
    /// Client id of a confidential client allowed to introspect its tokens (repeatable).
    #[arg(long = "introspector", allow_hyphen_values = true)]
    pub introspectors: Vec<String>,
}

/// Arguments of `tessera resource update`.
#[derive(Debug, Args)]
pub struct ResourceUpdateArgs {
    /// Tenant slug.
    pub tenant: String,
    /// Its identifier (fixed).
    pub identifier: String,
    /// New display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Scope (repeatable); replaces the current ones.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Access-token format: jwt or opaque.
    #[arg(long)]
    pub token_format: Option<String>,
    /// Access-token lifetime in seconds (60-86400).
    #[arg(long, conflicts_with = "tenant_ttl")]
    pub ttl: Option<i64>,
    /// Use the tenant's access-token lifetime again.
    #[arg(long)]
    pub tenant_ttl: bool,
    /// Introspecting client id (repeatable); replaces the current ones.
    #[arg(long = "introspector", allow_hyphen_values = true)]
    pub introspectors: Vec<String>,
    /// Remove every introspecting client.
    #[arg(long, conflicts_with = "introspectors")]
    pub no_introspectors: bool,
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

/// `tessera registration-token …`: initial access tokens for dynamic client registration
/// (RFC 7591 §3).
#[derive(Debug, Subcommand)]
pub enum RegistrationTokenCommand {
    /// Create a token; it is printed this once (only its SHA-256 hash is stored).
    Create {
        /// Tenant slug.
        tenant: String,
        /// What it is for.
        #[arg(long)]
        description: Option<String>,
        /// Lifetime in seconds (60 s to 1 year); default: no expiry.
        #[arg(long)]
        expires_in: Option<i64>,
        /// Registrations it allows; default: unlimited.
        #[arg(long)]
        max_uses: Option<i32>,
    },
    /// List a tenant's tokens (without the tokens).
    List {
        /// Tenant slug.
        tenant: String,
    },
    /// Delete a token.
    Delete {
        /// Tenant slug.
        tenant: String,
        /// The token's id.
        id: String,
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

/// Reads and parses a JSON file named on the command line.
fn read_json_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, TenantError> {
    let raw = std::fs::read_to_string(path)
        .map_err(|e| invalid(format!("reading {}: {e}", path.display())))?;
    serde_json::from_str(&raw).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

/// Non-empty repeated flags replace a list; none given leaves it unchanged.
fn replacing(values: Vec<String>) -> Option<Vec<String>> {
    (!values.is_empty()).then_some(values)
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
    // The snapshot's issuer: `https://{domain}` once a custom domain is verified.
    let issuer = match s.directory.resolve(record.slug.as_ref()).await {
        Ok(Some(snapshot)) => snapshot.issuer.clone(),
        _ => s.directory.issuer_for(record.slug.as_ref()),
    };
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
            let c = *c;
            let grant_types = c
                .grants
                .iter()
                // RFC 8628's URN is long to type: `device_code` stands for it.
                .map(|g| match g.as_str() {
                    "device_code" => Ok(GrantType::DeviceCode),
                    other => other.parse::<GrantType>(),
                })
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
                require_pkce: !c.no_pkce,
                id_token_alg: c
                    .id_token_alg
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(invalid)?,
                options: c.options.into_options()?,
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
        ClientCommand::List {
            tenant,
            search,
            after,
            limit,
        } => {
            let limit = limit.clamp(1, 1000);
            let items = s
                .admin
                .list_clients(&tenant, after.as_deref(), search.as_deref(), limit)
                .await?;
            let next = (items.len() as u64 == limit)
                .then(|| items.last().map(|c| c.client_id.to_string()))
                .flatten();
            let text = list_text(&items, |c| {
                let mut line = format!("{}\t{}\t{}", c.client_id, c.client_type, c.name);
                // Clients whose client_id is the URL of their metadata document.
                if c.options.metadata_document.is_some() {
                    line.push_str("\t(metadata document)");
                }
                line
            });
            Ok(Output {
                json: json!({ "items": items, "next": next }),
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
        ClientCommand::Update(u) => {
            let update = ClientUpdate {
                name: u.name,
                redirect_uris: replacing(u.redirect_uris),
                post_logout_redirect_uris: replacing(u.post_logout_redirect_uris),
                scopes: replacing(u.scopes),
                token_format: u
                    .token_format
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(invalid)?,
                first_party: u.first_party,
                grant_types: None,
                options: u.options_file.as_deref().map(read_json_file).transpose()?,
            };
            let c = s
                .admin
                .update_client(&u.tenant, &u.client_id, update)
                .await?;
            Ok(Output {
                text: format!("updated client {}", c.client_id),
                json: client_json(&c, None),
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

fn resource_text(r: &ResourceServerRecord) -> String {
    let ttl = r
        .access_token_ttl
        .map(|t| format!("{t} s"))
        .unwrap_or_else(|| "the tenant's".into());
    let introspectors = r
        .introspectors
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "resource server {}\n  name:          {}\n  token format:  {}\n  token ttl:     {ttl}\n  scopes:        {}\n  introspectors: {}",
        r.identifier,
        r.name,
        r.token_format,
        r.scopes.to_wire(),
        if introspectors.is_empty() {
            "-"
        } else {
            &introspectors
        }
    )
}

/// Runs a resource server command.
pub async fn resource(s: &Services, cmd: ResourceCommand) -> Result<Output, TenantError> {
    let record = match cmd {
        ResourceCommand::Create(c) => {
            let new = NewResourceServer {
                identifier: c.identifier,
                name: c.name,
                scopes: c.scopes,
                token_format: c.token_format.parse().map_err(invalid)?,
                access_token_ttl: c.ttl,
                introspectors: c.introspectors,
            };
            s.admin.create_resource_server(&c.tenant, new).await?
        }
        ResourceCommand::List { tenant } => {
            let items = s.admin.list_resource_servers(&tenant).await?;
            let text = list_text(&items, |r| {
                format!("{}\t{}\t{}", r.identifier, r.token_format, r.name)
            });
            return Ok(Output {
                json: json!({ "items": items }),
                text,
            });
        }
        ResourceCommand::Show { tenant, identifier } => {
            s.admin.resource_server(&tenant, &identifier).await?
        }
        ResourceCommand::Update(u) => {
            let update = ResourceServerUpdate {
                name: u.name,
                scopes: replacing(u.scopes),
                token_format: u
                    .token_format
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(invalid)?,
                access_token_ttl: if u.tenant_ttl {
                    Some(None)
                } else {
                    u.ttl.map(Some)
                },
                introspectors: if u.no_introspectors {
                    Some(vec![])
                } else {
                    replacing(u.introspectors)
                },
            };
            s.admin
                .update_resource_server(&u.tenant, &u.identifier, update)
                .await?
        }
        ResourceCommand::Delete { tenant, identifier } => {
            s.admin.delete_resource_server(&tenant, &identifier).await?;
            return Ok(Output {
                text: format!("deleted resource server {identifier}"),
                json: json!({ "deleted": identifier }),
            });
        }
    };
    Ok(Output {
        text: resource_text(&record),
        json: serde_json::to_value(&record).unwrap_or(Value::Null),
    })
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

/// Runs a registration-token command.
pub async fn registration_token(
    s: &Services,
    cmd: RegistrationTokenCommand,
) -> Result<Output, TenantError> {
    match cmd {
        RegistrationTokenCommand::Create {
            tenant,
            description,
            expires_in,
            max_uses,
        } => {
            let created = s
                .admin
                .create_initial_access_token(&tenant, description, expires_in, max_uses)
                .await?;
            let token = created.token.expose_secret();
            let mut json = serde_json::to_value(&created.record).unwrap_or(Value::Null);
            if let Some(map) = json.as_object_mut() {
                map.insert("token".into(), Value::from(token));
            }
            Ok(Output {
                text: format!(
                    "initial access token {} created in {tenant} (shown once):\n  {token}",
                    created.record.id
                ),
                json,
            })
        }
        RegistrationTokenCommand::List { tenant } => {
            let items = s.admin.list_initial_access_tokens(&tenant).await?;
            let text = list_text(&items, |t| {
                format!(
                    "{}\tuses {}/{}\texpires {}\t{}",
                    t.id,
                    t.uses,
                    t.max_uses.map_or("∞".to_owned(), |m| m.to_string()),
                    t.expires_at.map_or("never".to_owned(), |e| e.to_string()),
                    t.description.as_deref().unwrap_or("")
                )
            });
            Ok(Output {
                json: json!({ "items": items }),
                text,
            })
        }
        RegistrationTokenCommand::Delete { tenant, id } => {
            s.admin.delete_initial_access_token(&tenant, &id).await?;
            Ok(Output {
                text: format!("initial access token {id} deleted from {tenant}"),
                json: json!({ "deleted": id }),
            })
        }
    }
}

/// Runs a keys command.
pub async fn keys(s: &Services, cmd: KeysCommand) -> Result<Output, TenantError> {
    match cmd {
        KeysCommand::Rotate { tenant } => {
            let rotations = s.admin.rotate_keys(&tenant).await?.ok_or_else(|| {
                TenantError::Invalid(
                    "another rotation of this tenant ran at the same moment; try again".into(),
                )
            })?;
            let ring = |r: &tessera_keys::Rotation| json!({ "alg": r.alg, "retired": r.retired, "activated": r.activated, "next": r.next });
            // The tenant's own ring (access tokens) comes first and is also shown at the top
            // level, as before tenants kept an RS256 ring for ID tokens beside it.
            let mut json = rotations.first().map(ring).unwrap_or_else(|| json!({}));
            json["rings"] = rotations.iter().map(ring).collect();
            let mut text = format!("rotated keys of {tenant}");
            for r in &rotations {
                text.push_str(&format!(
                    "\n  {}\n    active:  {}\n    next:    {}\n    retired: {}",
                    r.alg,
                    r.activated,
                    r.next,
                    r.retired
                        .as_ref()
                        .map(|k| k.to_string())
                        .unwrap_or_else(|| "-".into())
                ));
            }
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

/// `tessera user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user of a tenant.
    Create(UserCreate),
    /// List a tenant's users, in creation order.
    List {
        /// Tenant slug.
        tenant: String,
        /// Start after the user with this id (the previous page's `next`).
        #[arg(long)]
        after: Option<String>,
        /// Page size (1-1000).
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Show one user.
    Show(UserRef),
    /// Disable a user: sign-in is refused and the user's sessions end.
    Disable(UserRef),
    /// Enable a disabled user.
    Enable(UserRef),
    /// Delete a user with its sessions, consent grants and tokens.
    Delete(UserRef),
    /// Remove a user's authenticator app and recovery codes (a lost phone).
    ResetMfa(UserRef),
    /// Invite a user: create it without a password and queue an invitation mail with a
    /// single-use link to set the password (which also confirms the address). The mail is
    /// delivered by a running server's Mailer (or written by the file transport); this command
    /// only queues it in the database's mail outbox. Links are built from `server.public_url`:
    /// run the command with the server's configuration.
    Invite(UserInvite),
    /// Queue a new e-mail verification link for a user with an unverified address (older links
    /// stop working). Delivered by a running server's Mailer.
    ResendVerification(UserRef),
    /// Force a password reset: remove the password (unless --keep-password), end the user's
    /// sessions, revoke its refresh tokens and queue a reset link mail (delivered by a running
    /// server's Mailer) when the user has an address.
    ForceReset {
        /// The user.
        #[command(flatten)]
        user: UserRef,
        /// Keep the current password working until the user resets it.
        #[arg(long)]
        keep_password: bool,
    },
    /// Unlock a user: a locked account becomes active and its failed sign-in counter is
    /// cleared. A disabled user is refused (use `enable`).
    Unlock(UserRef),
    /// Set a user's password, read from stdin; the user's sessions end.
    SetPassword {
        /// Tenant slug.
        tenant: String,
        /// Username (case-insensitive).
        #[arg(allow_hyphen_values = true)]
        username: String,
        /// Read the new password from stdin (one trailing newline is dropped).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

/// A user of a tenant, as named on the command line.
#[derive(Debug, Args)]
pub struct UserRef {
    /// Tenant slug.
    pub tenant: String,
    /// Username (case-insensitive).
    #[arg(allow_hyphen_values = true)]
    pub username: String,
}

/// The name claims `tessera user create` and `tessera user invite` take.
#[derive(Debug, Args)]
pub struct UserNames {
    /// Given name (`given_name` claim).
    #[arg(long)]
    pub given_name: Option<String>,
    /// Family name (`family_name` claim).
    #[arg(long)]
    pub family_name: Option<String>,
    /// Full name (`name` claim).
    #[arg(long)]
    pub name: Option<String>,
}

/// Arguments of `tessera user invite`.
#[derive(Debug, Args)]
pub struct UserInvite {
    /// Tenant slug.
    pub tenant: String,
    /// Sign-in name: no whitespace, stored lowercased.
    #[arg(allow_hyphen_values = true)]
    pub username: String,
    /// The address the invitation goes to.
    #[arg(long)]
    pub email: String,
    /// The user's names.
    #[command(flatten)]
    pub names: UserNames,
}

/// Arguments of `tessera user create`.
#[derive(Debug, Args)]
pub struct UserCreate {
    /// Tenant slug.
    pub tenant: String,
    /// Sign-in name: no whitespace, stored lowercased.
    #[arg(allow_hyphen_values = true)]
    pub username: String,
    /// E-mail address.
    #[arg(long)]
    pub email: Option<String>,
    /// Mark the e-mail address as verified.
    #[arg(long)]
    pub email_verified: bool,
    /// The user's names.
    #[command(flatten)]
    pub names: UserNames,
    /// Phone number (`phone_number` claim), E.164 recommended.
    #[arg(long)]
    pub phone: Option<String>,
    /// Read the initial password from stdin (one trailing newline is dropped); without it the
    /// user has no password.
    #[arg(long)]
    pub password_stdin: bool,
}

fn authn_error(err: AuthnError) -> TenantError {
    match err {
        AuthnError::NotFound => TenantError::NotFound("user"),
        AuthnError::Conflict => TenantError::Conflict("user"),
        AuthnError::Invalid(why) => TenantError::Invalid(why),
        AuthnError::Unavailable => TenantError::Unavailable,
        AuthnError::Unexpected(e) => TenantError::Unexpected(e),
    }
}

/// Reads a password from stdin, dropping one trailing line break.
fn password_from_stdin() -> Result<SecretString, TenantError> {
    use std::io::Read;
    let mut raw = String::new();
    std::io::stdin()
        .read_to_string(&mut raw)
        .map_err(|e| TenantError::Invalid(format!("reading the password from stdin: {e}")))?;
    let password = raw
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&raw);
    Ok(SecretString::from(password))
}

/// A user as the CLI prints it: never the password hash, only whether there is one.
fn user_json(u: &UserRecord) -> Value {
    let mut v = serde_json::to_value(u).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "has_password".into(),
            Value::Bool(u.password_hash.is_some()),
        );
    }
    v
}

fn user_text(u: &UserRecord) -> String {
    let email = match (&u.email, u.email_verified) {
        (Some(e), true) => format!("{e} (verified)"),
        (Some(e), false) => e.clone(),
        (None, _) => "-".into(),
    };
    format!(
        "user {}\n  id:       {}\n  email:    {}\n  status:   {}\n  password: {}",
        u.username,
        u.id,
        email,
        u.status,
        if u.password_hash.is_some() {
            "set"
        } else {
            "none"
        }
    )
}

/// The tenant and the user named on the command line.
async fn find_user(
    s: &Services,
    tenant: &str,
    username: &str,
) -> Result<(TenantRecord, UserRecord), TenantError> {
    let tenant = s.admin.tenant(tenant).await?;
    let user = s
        .authn
        .user_by_username(tenant.id, username)
        .await
        .map_err(authn_error)?
        .ok_or(TenantError::NotFound("user"))?;
    Ok((tenant, user))
}

/// The lifecycle actions (`tessera_admin::lifecycle`) on the command line's services.
fn lifecycle(s: &Services) -> tessera_admin::lifecycle::Lifecycle<'_> {
    tessera_admin::lifecycle::Lifecycle {
        store: &s.store,
        authn: &s.authn,
        outbox: &s.outbox,
    }
}

/// The tenant's snapshot (its settings, issuer and templates) for queuing its mail.
async fn snapshot_of(
    s: &Services,
    tenant: &str,
) -> Result<std::sync::Arc<tessera_tenants::TenantSnapshot>, TenantError> {
    s.directory
        .resolve(tenant)
        .await?
        .ok_or(TenantError::NotFound("tenant"))
}

/// The user named on the command line and its tenant's snapshot, for a lifecycle action.
async fn find_user_snapshot(
    s: &Services,
    r: &UserRef,
) -> Result<(std::sync::Arc<tessera_tenants::TenantSnapshot>, UserRecord), TenantError> {
    let (tenant, user) = find_user(s, &r.tenant, &r.username).await?;
    let snapshot = snapshot_of(s, tenant.slug.as_ref()).await?;
    Ok((snapshot, user))
}

/// An admin-layer refusal as a command error.
fn admin_error(err: tessera_admin::AdminError) -> TenantError {
    use tessera_admin::AdminError as E;
    match err {
        E::NotFound(what) => TenantError::NotFound(what),
        E::Conflict(why) => TenantError::InUse(why),
        E::InvalidRequest(why) => TenantError::Invalid(why),
        E::Unavailable => TenantError::Unavailable,
        E::Unexpected(e) => TenantError::Unexpected(e),
        other => TenantError::Unexpected(anyhow::anyhow!("{other}")),
    }
}

/// Runs a user command.
pub async fn user(s: &Services, cmd: UserCommand) -> Result<Output, TenantError> {
    let record = match cmd {
        UserCommand::Create(c) => {
            let tenant = s.admin.tenant(&c.tenant).await?;
            let password = if c.password_stdin {
                Some(password_from_stdin()?)
            } else {
                None
            };
            let new = NewUser {
                username: c.username,
                email: c.email,
                email_verified: c.email_verified,
                claims: StandardClaims {
                    name: c.names.name,
                    given_name: c.names.given_name,
                    family_name: c.names.family_name,
                    phone_number: c.phone,
                    ..Default::default()
                },
                password,
            };
            s.authn
                .create_user(&tenant, new)
                .await
                .map_err(authn_error)?
        }
        UserCommand::List {
            tenant,
            after,
            limit,
        } => {
            let tenant = s.admin.tenant(&tenant).await?;
            let after = after
                .as_deref()
                .map(str::parse::<UserId>)
                .transpose()
                .map_err(|_| invalid("--after must be a user id (a UUID)"))?;
            let limit = limit.clamp(1, 1000);
            let items = s
                .authn
                .list_users(tenant.id, after, None, limit)
                .await
                .map_err(authn_error)?;
            let next = (items.len() as u64 == limit)
                .then(|| items.last().map(|u| u.id))
                .flatten();
            let text = list_text(&items, |u| {
                format!(
                    "{}\t{}\t{}\t{}",
                    u.username,
                    u.status,
                    u.email.as_deref().unwrap_or("-"),
                    u.id
                )
            });
            return Ok(Output {
                json: json!({ "items": items.iter().map(user_json).collect::<Vec<_>>(), "next": next }),
                text,
            });
        }
        UserCommand::Show(r) => find_user(s, &r.tenant, &r.username).await?.1,
        UserCommand::Disable(r) => set_user_status(s, &r, UserStatus::Disabled).await?,
        UserCommand::Enable(r) => set_user_status(s, &r, UserStatus::Active).await?,
        UserCommand::Delete(r) => {
            let (tenant, user) = find_user(s, &r.tenant, &r.username).await?;
            s.authn
                .delete_user(tenant.id, user.id)
                .await
                .map_err(authn_error)?;
            return Ok(Output {
                json: json!({ "deleted": user.username, "id": user.id }),
                text: format!("deleted user {}", user.username),
            });
        }
        UserCommand::ResetMfa(r) => {
            let (snapshot, user) = find_user_snapshot(s, &r).await?;
            let removed = lifecycle(s)
                .reset_mfa(&snapshot, &user, CLI_ACTOR)
                .await
                .map_err(admin_error)?;
            return Ok(Output {
                json: json!({ "mfa_reset": user.username, "id": user.id, "removed": removed }),
                text: if removed {
                    format!("removed the second factors of {}", user.username)
                } else {
                    format!("{} had no second factors", user.username)
                },
            });
        }
        UserCommand::Invite(c) => {
            let snapshot = snapshot_of(s, &c.tenant).await?;
            let invite = tessera_admin::lifecycle::Invite {
                username: c.username,
                email: c.email,
                claims: StandardClaims {
                    name: c.names.name,
                    given_name: c.names.given_name,
                    family_name: c.names.family_name,
                    ..Default::default()
                },
            };
            lifecycle(s)
                .invite(&snapshot, invite, CLI_ACTOR, None)
                .await
                .map_err(admin_error)?
        }
        UserCommand::ResendVerification(r) => {
            let (snapshot, user) = find_user_snapshot(s, &r).await?;
            let sent = lifecycle(s)
                .resend_verification(&snapshot, &user, CLI_ACTOR)
                .await
                .map_err(admin_error)?;
            return Ok(Output {
                json: json!({ "verification_sent": user.username, "id": user.id, "mail_id": sent.mail_id, "expires_at": sent.expires_at }),
                text: format!(
                    "queued a new verification link for {} (mail {})",
                    user.username, sent.mail_id
                ),
            });
        }
        UserCommand::ForceReset {
            user: r,
            keep_password,
        } => {
            let (snapshot, user) = find_user_snapshot(s, &r).await?;
            let done = lifecycle(s)
                .force_reset(&snapshot, &user, !keep_password, CLI_ACTOR)
                .await
                .map_err(admin_error)?;
            let json = serde_json::to_value(&done).unwrap_or(Value::Null);
            let mailed = match &done.link {
                Some(link) => format!("queued a reset link (mail {})", link.mail_id),
                None => "no reset link: the user has no e-mail address".to_owned(),
            };
            return Ok(Output {
                json,
                text: format!(
                    "forced a password reset of {}: password {}, {} sessions ended, {} token families revoked, {mailed}",
                    user.username,
                    if done.password_revoked {
                        "removed"
                    } else {
                        "kept"
                    },
                    done.sessions_ended,
                    done.families_revoked,
                ),
            });
        }
        UserCommand::Unlock(r) => {
            let (snapshot, user) = find_user_snapshot(s, &r).await?;
            let done = lifecycle(s)
                .unlock(&snapshot, &user, CLI_ACTOR)
                .await
                .map_err(admin_error)?;
            let json = serde_json::to_value(&done).unwrap_or(Value::Null);
            return Ok(Output {
                json,
                text: if done.was_locked || done.counter_cleared {
                    format!("unlocked {}", user.username)
                } else {
                    format!("{} was not locked", user.username)
                },
            });
        }
        UserCommand::SetPassword {
            tenant, username, ..
        } => {
            let (tenant, user) = find_user(s, &tenant, &username).await?;
            let password = password_from_stdin()?;
            s.authn
                .set_password(&tenant, user.id, password)
                .await
                .map_err(authn_error)?;
            return Ok(Output {
                json: json!({ "password_set": user.username, "id": user.id }),
                text: format!("set the password of {}", user.username),
            });
        }
    };
    Ok(Output {
        json: user_json(&record),
        text: user_text(&record),
    })
}

async fn set_user_status(
    s: &Services,
    r: &UserRef,
    status: UserStatus,
) -> Result<UserRecord, TenantError> {
    let (tenant, user) = find_user(s, &r.tenant, &r.username).await?;
    s.authn
        .set_status(tenant.id, user.id, status)
        .await
        .map_err(authn_error)?;
    s.authn
        .user(tenant.id, user.id)
        .await
        .map_err(authn_error)?
        .ok_or(TenantError::NotFound("user"))
}

/// `tessera domain …`: a tenant's custom domain. The command line acts as an operator: it may
/// verify a domain, after checking its DNS TXT record out of band.
#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Set (or replace) the tenant's custom domain; it stays pending until verified.
    Set {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        /// Host name, e.g. login.acme.test.
        domain: String,
    },
    /// Mark the tenant's domain verified, once its `_tessera-challenge.{domain}` TXT record
    /// holds the value `domain show` prints: the tenant is then served there, as issuer
    /// `https://{domain}`.
    Verify {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
    },
    /// Show the tenant's domain, its status and its DNS challenge.
    Show {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
    },
    /// Remove the tenant's domain: routing and issuer revert to the path form.
    Remove {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
    },
}

/// Runs a domain command.
pub async fn domain(s: &Services, cmd: DomainCommand) -> Result<Output, TenantError> {
    let ops = tessera_admin::domains::Domains {
        store: &s.store,
        directory: &s.directory,
    };
    let (view, removed) = match cmd {
        DomainCommand::Set { tenant, domain } => {
            let record = s.admin.tenant(&tenant).await?;
            (ops.set(&record, &domain, CLI_ACTOR).await, false)
        }
        DomainCommand::Verify { tenant } => {
            let record = s.admin.tenant(&tenant).await?;
            (ops.verify(&record, CLI_ACTOR).await, false)
        }
        DomainCommand::Show { tenant } => {
            let record = s.admin.tenant(&tenant).await?;
            (ops.show(&record).await, false)
        }
        DomainCommand::Remove { tenant } => {
            let record = s.admin.tenant(&tenant).await?;
            (ops.remove(&record, CLI_ACTOR).await, true)
        }
    };
    let view = view.map_err(admin_error)?;
    if removed {
        return Ok(Output {
            json: json!({ "removed": view.domain }),
            text: format!("removed domain {}", view.domain),
        });
    }
    let text = format!(
        "domain {}\n  status:  {}\n  issuer:  {}\n  TXT:     {} = \"{}\"",
        view.domain,
        view.status,
        view.issuer
            .as_deref()
            .unwrap_or("(path form until verified)"),
        view.verification.name,
        view.verification.value
    );
    Ok(Output {
        json: serde_json::to_value(&view).unwrap_or(Value::Null),
        text,
    })
}
