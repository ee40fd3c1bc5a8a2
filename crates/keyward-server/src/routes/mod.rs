//! The HTTP routes, one module per resource. Handlers read like the API they serve: extract,
//! call the database, answer. Their `#[utoipa::path]` annotations generate `/openapi.json`,
//! so the document cannot drift from the code.

mod audit;
mod connections;
mod data;
mod devices;
mod health;
mod keys;
mod me;
pub use me::MIN_PASSWORD_CHARS;
pub mod mcp;
mod mirror;
mod oauth;
mod oauth_authorize;
mod oauth_register;
mod session;
mod staff;
mod store;
pub mod well_known;

use axum::middleware;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::require_principal;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Keyward key service",
        description = "Issues scoped API keys to a merchant's store, verifies and revokes them, and serves the store's data to them over REST and MCP. Every error is {\"error\": {\"code\", \"message\"}}."
    ),
    modifiers(&Security),
    components(schemas(keyward_core::wire::ErrorBody))
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("A dashboard session token from POST /api/session.")).build()),
        );
        components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    }
}

pub fn api_router(state: AppState) -> OpenApiRouter<AppState> {
    let management = OpenApiRouter::new()
        .routes(routes!(session::sign_in, session::sign_out))
        .routes(routes!(devices::list_devices))
        .routes(routes!(devices::sign_out_device))
        .routes(routes!(keys::list_keys, keys::create_key))
        .routes(routes!(keys::get_key, keys::update_key, keys::revoke_key))
        .routes(routes!(keys::rotate_key))
        .routes(routes!(audit::audit))
        .routes(routes!(connections::list_connections))
        .routes(routes!(connections::revoke_connection))
        .routes(routes!(connections::create_code))
        .routes(routes!(mirror::mirror))
        .routes(routes!(store::uninstall))
        .routes(routes!(me::change_password))
        .routes(routes!(staff::list_staff, staff::add_staff))
        .routes(routes!(staff::remove_staff))
        .routes(routes!(oauth_authorize::authorize_page, oauth_authorize::authorize_decision))
        .routes(routes!(oauth::token))
        .routes(routes!(oauth::revoke))
        .routes(routes!(oauth_register::register))
        .routes(routes!(well_known::protected_resource))
        .routes(routes!(well_known::protected_resource_mcp))
        .routes(routes!(well_known::authorization_server))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz));
    let data_plane = OpenApiRouter::new()
        .routes(routes!(data::whoami))
        .routes(routes!(data::list_raw_materials, data::create_raw_material))
        .routes(routes!(data::get_raw_material, data::update_raw_material))
        .routes(routes!(data::list_boms, data::create_bom))
        .routes(routes!(data::get_bom))
        .merge(mcp::router(state.clone()))
        .route_layer(middleware::from_fn_with_state(state, require_principal));
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(management).merge(data_plane)
}
