//! `POST /mcp`: the Model Context Protocol over streamable HTTP, served by `rmcp`.
//!
//! It runs statelessly (no server-side MCP session), so any instance can answer any request
//! and nothing about a key lives in one process. The data-plane middleware has already
//! authenticated the request; its [`Principal`] reaches the tools through the HTTP parts rmcp
//! hands them. A read-only caller is shown only the read tools, and a write tool it names
//! anyway is refused.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyward_core::wire::{ErrorBody, ErrorDetail};
use utoipa::openapi::HttpMethod;

use keyward_core::Scope;
use keyward_core::wire::{NewBom, NewRawMaterial, RawMaterialChange};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData, Implementation, JsonObject,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ServerHandler;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;

use crate::auth::Principal;
use crate::catalog;
use crate::error::ApiError;
use crate::state::AppState;

/// One tool: its name, what it needs, and its JSON schema.
struct ToolSpec {
    name: &'static str,
    scope: Scope,
    description: &'static str,
    schema: fn() -> Value,
}

const TOOLS: &[ToolSpec] = &[
    ToolSpec { name: "list_raw_materials", scope: Scope::Read, description: "List the store's raw materials with their stock.", schema: || json!({"type": "object", "properties": {}}) },
    ToolSpec { name: "get_raw_material", scope: Scope::Read, description: "Get one raw material by id.", schema: id_schema },
    ToolSpec { name: "list_boms", scope: Scope::Read, description: "List the store's bills of materials (what each product is made of).", schema: || json!({"type": "object", "properties": {}}) },
    ToolSpec { name: "get_bom", scope: Scope::Read, description: "Get one bill of materials by id.", schema: id_schema },
    ToolSpec {
        name: "create_raw_material",
        scope: Scope::Write,
        description: "Add a raw material to the store.",
        schema: || json!({"type": "object", "required": ["name", "unit"], "properties": {
            "name": {"type": "string"}, "unit": {"type": "string", "description": "e.g. kg, m, pcs"}, "stock": {"type": "number", "minimum": 0}}}),
    },
    ToolSpec {
        name: "set_stock",
        scope: Scope::Write,
        description: "Set the stock of a raw material.",
        schema: || json!({"type": "object", "required": ["id", "stock"], "properties": {"id": {"type": "integer"}, "stock": {"type": "number", "minimum": 0}}}),
    },
    ToolSpec {
        name: "create_bom",
        scope: Scope::Write,
        description: "Create a bill of materials for a product.",
        schema: || json!({"type": "object", "required": ["product", "lines"], "properties": {
            "product": {"type": "string"},
            "lines": {"type": "array", "items": {"type": "object", "required": ["raw_material_id", "quantity"], "properties": {
                "raw_material_id": {"type": "integer"}, "quantity": {"type": "number", "exclusiveMinimum": 0}}}}}}),
    },
];

fn id_schema() -> Value {
    json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}})
}

fn to_tool(spec: &ToolSpec) -> Tool {
    let schema: JsonObject = match (spec.schema)() {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    };
    Tool::new(spec.name, spec.description, Arc::new(schema))
        .annotate(ToolAnnotations::new().read_only(spec.scope == Scope::Read))
}

/// The MCP server for one request.
#[derive(Clone)]
pub struct StoreTools {
    state: AppState,
}

fn principal(context: &RequestContext<RoleServer>) -> Result<Principal, ErrorData> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>())
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("The request reached MCP without authentication.", None))
}

fn arguments<T: for<'de> Deserialize<'de>>(args: Option<JsonObject>) -> Result<T, String> {
    serde_json::from_value(Value::Object(args.unwrap_or_default()))
        .map_err(|e| format!("The tool's arguments do not fit: {e}. Check them against the tool's input schema."))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdArgs {
    id: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetStockArgs {
    id: i64,
    stock: f64,
}

impl StoreTools {
    async fn run(&self, caller: &Principal, name: &str, args: Option<JsonObject>) -> Result<Value, ToolFailure> {
        let state = &self.state;
        let value = match name {
            "list_raw_materials" => json!(catalog::list_raw_materials(state, caller).await?),
            "get_raw_material" => json!(catalog::get_raw_material(state, caller, arguments::<IdArgs>(args)?.id).await?),
            "list_boms" => json!(catalog::list_boms(state, caller).await?),
            "get_bom" => json!(catalog::get_bom(state, caller, arguments::<IdArgs>(args)?.id).await?),
            "create_raw_material" => json!(catalog::create_raw_material(state, caller, arguments::<NewRawMaterial>(args)?).await?),
            "set_stock" => {
                let SetStockArgs { id, stock } = arguments(args)?;
                json!(catalog::update_raw_material(state, caller, id, RawMaterialChange { stock: Some(stock), ..Default::default() }).await?)
            }
            "create_bom" => json!(catalog::create_bom(state, caller, arguments::<NewBom>(args)?).await?),
            other => return Err(ToolFailure::Message(format!("There is no tool named {other}. Call tools/list to see the tools."))),
        };
        Ok(value)
    }
}

/// Why a tool call failed: a sentence for the assistant, or a fault of the service.
enum ToolFailure {
    Message(String),
    Internal(String),
}

impl From<String> for ToolFailure {
    fn from(message: String) -> Self {
        ToolFailure::Message(message)
    }
}

impl From<ApiError> for ToolFailure {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Internal(detail) => ToolFailure::Internal(detail),
            other => ToolFailure::Message(other.to_string()),
        }
    }
}

impl ServerHandler for StoreTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("keyward", env!("CARGO_PKG_VERSION")))
            .with_instructions("Tools over one store's raw materials and bills of materials. A read-only key sees only the read tools.")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = principal(&context)?;
        let tools = TOOLS.iter().filter(|t| caller.scopes.allows(t.scope)).map(to_tool).collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = principal(&context)?;
        if let Some(spec) = TOOLS.iter().find(|t| t.name == request.name && !caller.scopes.allows(t.scope)) {
            return Err(ErrorData::invalid_params(
                format!(
                    "The tool {} changes data and needs a read & write key; {} is read only. Change the key's scope in Keyward.",
                    spec.name, caller.label
                ),
                None,
            ));
        }
        match self.run(&caller, &request.name, request.arguments).await {
            Ok(value) => {
                let text = serde_json::to_string_pretty(&value).unwrap_or_default();
                let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
                result.structured_content = Some(json!({ "result": value }));
                Ok(result.into())
            }
            Err(ToolFailure::Message(message)) => Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into()),
            Err(ToolFailure::Internal(detail)) => {
                tracing::error!(%detail, tool = %request.name, "tool failed");
                Err(ErrorData::internal_error("The key service failed to run the tool. Try again.", None))
            }
        }
    }
}

/// rmcp answers transport-level refusals (wrong content type, bad JSON, wrong method) in
/// plain text; this gives them the JSON error body every other route has.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::BAD_REQUEST => (
            "invalid_mcp_request",
            "The body is not a JSON-RPC 2.0 message. POST one JSON-RPC request as JSON with Content-Type: application/json.",
        ),
        StatusCode::NOT_ACCEPTABLE => (
            "not_acceptable",
            "Send Accept: application/json, text/event-stream, as MCP's streamable HTTP transport requires.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "The MCP endpoint takes POST only: this service runs MCP without server-side sessions or streams.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The MCP request is too large. Send at most 64 KiB."),
        _ => ("mcp_transport_error", "The MCP request could not be handled. Check it against the MCP streamable HTTP transport."),
    };
    let mut out = (status, axum::Json(ErrorBody { error: ErrorDetail { code: code.into(), message: message.into() } })).into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

/// A `tools/call` of a write tool by a read-only caller is refused at the HTTP level, 403 with
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope="read write"`, as the MCP
/// authorization specification asks: an OAuth client can then send the merchant back to
/// consent for more. (`call_tool` refuses it too, for any path around this.)
async fn refuse_write_calls_to_readers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let Some(caller) = request.extensions().get::<Principal>().cloned() else { return next.run(request).await };
    if caller.scopes.allows(Scope::Write) || request.method() != http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // The body limit in front of every route has already bounded it.
    let bytes = match axum::body::to_bytes(body, crate::error::BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::PayloadTooLarge(crate::error::BODY_LIMIT).into_response(),
    };
    #[derive(Deserialize)]
    struct Call {
        method: Option<String>,
        params: Option<CallParams>,
    }
    #[derive(Deserialize)]
    struct CallParams {
        name: Option<String>,
    }
    if let Ok(Call { method: Some(method), params: Some(CallParams { name: Some(name) }) }) = serde_json::from_slice::<Call>(&bytes)
        && method == "tools/call"
        && let Some(spec) = TOOLS.iter().find(|t| t.name == name && !caller.scopes.allows(t.scope))
    {
        return ApiError::forbidden(
            "insufficient_scope",
            format!("The tool {} changes data and needs the write scope; {} is read only. Use a read & write key, or connect the app again and approve Read & write.", spec.name, caller.label),
        )
        .into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

/// `/mcp`, behind the data-plane authentication that [`super::api_router`] puts in front.
pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let mut config = StreamableHttpServerConfig::default();
    config.legacy_session_mode = false;
    config.json_response = true;
    config.max_request_body_bytes = crate::error::BODY_LIMIT;
    // The Host header is checked for every route in one place, `crate::host_check`.
    config = config.disable_allowed_hosts();
    let tools = StoreTools { state };
    let service = StreamableHttpService::new(move || Ok(tools.clone()), Arc::new(LocalSessionManager::default()), config);
    let mut router = OpenApiRouter::new()
        .route_service("/mcp", service)
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn(refuse_write_calls_to_readers));
    router.get_openapi_mut().paths.add_path_operation("/mcp", vec![HttpMethod::Post], openapi_operation());
    router
}

/// `/mcp` in the OpenAPI document: one JSON-RPC 2.0 message in, its response out.
fn openapi_operation() -> utoipa::openapi::path::Operation {
    use utoipa::openapi::path::OperationBuilder;
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder};
    let json_rpc = || ContentBuilder::new().schema(Some(ObjectBuilder::new().description(Some("A JSON-RPC 2.0 message")).build())).build();
    OperationBuilder::new()
        .tag("mcp")
        .summary(Some("Model Context Protocol (streamable HTTP, stateless)"))
        .description(Some(
            "JSON-RPC 2.0: initialize, tools/list, tools/call. Send Accept: application/json, text/event-stream. A read-only key sees and may call only the read tools.",
        ))
        .request_body(Some(RequestBodyBuilder::new().content("application/json", json_rpc()).build()))
        .response("200", ResponseBuilder::new().description("The JSON-RPC response").content("application/json", json_rpc()).build())
        .response("202", ResponseBuilder::new().description("A notification was accepted").build())
        .response("401", ResponseBuilder::new().description("Missing, malformed, unknown, revoked, expired or deactivated key").build())
        .response("403", ResponseBuilder::new().description("Subscription inactive").build())
        .response("429", ResponseBuilder::new().description("Rate limited; see Retry-After").build())
        .security(utoipa::openapi::security::SecurityRequirement::new("api_key", Vec::<String>::new()))
        .build()
}
