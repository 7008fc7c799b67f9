//! `GET /api/v1`: the API's endpoints for people, rendered from the same generated
//! OpenAPI document the machines read (`openapi`), so the two cannot disagree. No
//! script, no CDN: a page in the site's layout.

use askama::Template;
use axum::response::Html;
use utoipa::openapi::HttpMethod;
use utoipa::openapi::path::{Operation, ParameterIn};

use crate::web::AppError;
use crate::web::api::openapi::document_value;
use crate::web::auth::Nav;
use crate::web::pages::render;

pub struct Endpoint {
    pub method: &'static str,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub parameters: Vec<Param>,
    pub has_body: bool,
    pub statuses: String,
}

pub struct Param {
    pub name: String,
    pub place: &'static str,
    pub required: bool,
    pub description: String,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
pub struct DocsPage {
    pub nav: Nav,
    pub version: String,
    pub endpoints: Vec<Endpoint>,
}

fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Head => "HEAD",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Trace => "TRACE",
    }
}

fn place(at: &ParameterIn) -> &'static str {
    match at {
        ParameterIn::Path => "path",
        ParameterIn::Query | ParameterIn::QueryString => "query",
        ParameterIn::Header => "header",
        ParameterIn::Cookie => "cookie",
    }
}

fn endpoint(method: &'static str, path: &str, op: &Operation) -> Endpoint {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    Endpoint {
        method,
        path: path.to_string(),
        summary: text(&op.summary),
        description: text(&op.description),
        parameters: op
            .parameters
            .iter()
            .flatten()
            .filter_map(|p| match p {
                utoipa::openapi::RefOr::T(p) => Some(p),
                utoipa::openapi::RefOr::Ref(_) => None,
            })
            .map(|p| Param {
                name: p.name.clone(),
                place: place(&p.parameter_in),
                required: matches!(p.required, utoipa::openapi::Required::True),
                description: text(&p.description),
            })
            .collect(),
        has_body: op.request_body.is_some(),
        statuses: op
            .responses
            .responses
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Every operation of the document, by path then method.
pub fn endpoints() -> Vec<Endpoint> {
    let doc = document_value();
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        let operations = [
            (HttpMethod::Get, &item.get),
            (HttpMethod::Post, &item.post),
            (HttpMethod::Put, &item.put),
            (HttpMethod::Delete, &item.delete),
            (HttpMethod::Patch, &item.patch),
        ];
        for (method, op) in operations {
            if let Some(op) = op {
                out.push(endpoint(method_name(&method), path, op));
            }
        }
    }
    out
}

pub async fn page(nav: Nav) -> Result<Html<String>, AppError> {
    render(&DocsPage {
        nav,
        version: document_value().info.version.clone(),
        endpoints: endpoints(),
    })
}
