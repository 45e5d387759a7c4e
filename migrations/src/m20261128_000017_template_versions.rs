//! Template drafts and version history: every published version of a tenant's template is kept
//! (`template_versions`, numbered per tenant and template from 1, append-only), and a tenant may
//! hold one unpublished draft per template (`template_drafts`). The live source stays in
//! `tenant_templates`, where the page engine reads it. Upgrades in place: each existing override
//! becomes version 1 of its template. Additive: older nodes ignore both tables.

use sea_orm_migration::prelude::*;

/// Creates `template_versions` and `template_drafts`, and records existing overrides as version 1.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum TenantTemplates {
    Table,
    TenantId,
    Name,
    Source,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TemplateVersions {
    Table,
    TenantId,
    Name,
    Version,
    Source,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum TemplateDrafts {
    Table,
    TenantId,
    Name,
    Source,
    UpdatedAt,
    UpdatedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TemplateVersions::Table)
                    .col(ColumnDef::new(TemplateVersions::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(TemplateVersions::Name)
                            .string_len(64)
                            .not_null(),
                    )
                    // 1, 2, … per (tenant, name); the primary key refuses a duplicate number
                    // when two publishes race, and the loser retries.
                    .col(
                        ColumnDef::new(TemplateVersions::Version)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(TemplateVersions::Source).text().not_null())
                    // Unix seconds.
                    .col(
                        ColumnDef::new(TemplateVersions::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    // The audit actor who published it; NULL for versions from before history.
                    .col(
                        ColumnDef::new(TemplateVersions::CreatedBy)
                            .string_len(200)
                            .null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(TemplateVersions::TenantId)
                            .col(TemplateVersions::Name)
                            .col(TemplateVersions::Version),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TemplateVersions::Table, TemplateVersions::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TemplateDrafts::Table)
                    .col(ColumnDef::new(TemplateDrafts::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(TemplateDrafts::Name)
                            .string_len(64)
                            .not_null(),
                    )
                    // Any text: a draft may be broken while it is edited.
                    .col(ColumnDef::new(TemplateDrafts::Source).text().not_null())
                    .col(
                        ColumnDef::new(TemplateDrafts::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TemplateDrafts::UpdatedBy)
                            .string_len(200)
                            .null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(TemplateDrafts::TenantId)
                            .col(TemplateDrafts::Name),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TemplateDrafts::Table, TemplateDrafts::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Every override stored before history existed is version 1, published when it was
        // last stored, by an unknown actor.
        let existing = Query::select()
            .column(TenantTemplates::TenantId)
            .column(TenantTemplates::Name)
            .expr(Expr::val(1i32))
            .column(TenantTemplates::Source)
            .column(TenantTemplates::UpdatedAt)
            .from(TenantTemplates::Table)
            .to_owned();
        let insert = Query::insert()
            .into_table(TemplateVersions::Table)
            .columns([
                TemplateVersions::TenantId,
                TemplateVersions::Name,
                TemplateVersions::Version,
                TemplateVersions::Source,
                TemplateVersions::CreatedAt,
            ])
            .select_from(existing)
            .map_err(|e| DbErr::Migration(format!("copying template overrides: {e}")))?
            .to_owned();
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TemplateDrafts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(TemplateVersions::Table).to_owned())
            .await
    }
}
