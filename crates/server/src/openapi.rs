//! The OpenAPI 3.1 document: info, tags and security schemes here; paths
//! and schemas come from the handlers' `#[utoipa::path]` annotations.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "dramatis",
        description = "Turns books into characters people can talk to. Upload a document, get its cast, chat with them.\n\n\
            Errors are RFC 9457 problem documents (`application/problem+json`) with a `detail`. \
            Lists take `skip` and `limit` (1–100) and answer `{items, total, skip, limit}`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "characters", description = "Personas to chat with; character cards (V2, V3, PNG) in and out"),
        (name = "chat", description = "Conversations with a character, grounded in its book, streamed or whole"),
        (name = "search", description = "Ranked passages and quotes of your books"),
        (name = "documents", description = "Uploaded books and their analysis"),
        (name = "jobs", description = "Background work: analysis progress, cancellation"),
        (name = "events", description = "Real-time events over WebSocket and Server-Sent Events"),
        (name = "users", description = "Administration"),
        (name = "health", description = "Liveness, readiness, dependencies"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "OAuth2PasswordBearer",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/api/v1/auth/login",
                Scopes::new(),
            ))])),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
