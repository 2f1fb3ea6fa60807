//! The public site over HTTP, black-box (the browser tests, `browser.rs`, look at the
//! same pages in headless Chromium): every page answers with its content type, caching
//! headers and Content-Security-Policy; what organisers typed is text, never markup;
//! the counts shown are the API's; a static copy holds the same pages.

mod support;

use support::*;

const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
                   img-src 'self' data:; form-action 'self'; base-uri 'none'; \
                   frame-ancestors 'none'";

/// Every page of the demo campaign, with the content type it answers.
fn pages(server: &Server) -> Vec<(String, &'static str)> {
    let petitions = server.get_json("/api/v1/petitions");
    let mut pages: Vec<(String, &'static str)> = [
        "/",
        "/council-votes",
        "/events",
        "/trust",
        "/verify",
        "/entries/0",
    ]
    .into_iter()
    .map(|p| (p.to_string(), "text/html; charset=utf-8"))
    .collect();
    for petition in petitions["petitions"].as_array().unwrap() {
        let id = petition["opened"]["petition_id"].as_str().unwrap();
        pages.push((format!("/petitions/{id}"), "text/html; charset=utf-8"));
        pages.push((
            format!("/petitions/{id}/counts.csv"),
            "text/csv; charset=utf-8",
        ));
    }
    pages
}

#[test]
fn every_page_answers_with_its_type_caching_and_csp() {
    let dir = TestDir::new();
    let server = Server::start_with(&dir, &["--demo"]);
    let size = server.tree_size();
    for (path, content_type) in pages(&server) {
        let response = server.get(&path);
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type, "{path}");
        if path != "/verify" {
            assert_eq!(headers["content-security-policy"], CSP, "{path}");
            assert_eq!(headers["cache-control"], "no-cache", "{path}");
            assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        } else {
            assert!(headers.contains_key("content-security-policy"));
        }
        let body = response.text().unwrap();
        if content_type.starts_with("text/html") {
            assert!(body.starts_with("<!DOCTYPE html>"), "{path}");
            assert!(body.contains("<main"), "{path}: a main landmark");
            assert!(body.contains("<h1"), "{path}: a heading");
            assert!(
                body.contains(&format!("tree size {size}"))
                    || body.contains(&format!("data-tree-size=\"{size}\"")),
                "{path} states the tree size it shows"
            );
            // Nothing is loaded from another origin.
            for attribute in ["src=\"http", "href=\"http://", "src=\"//", "href=\"//"] {
                assert!(!body.contains(attribute), "{path}: {attribute}");
            }
        }
        // A revalidation with the page's ETag is a 304 until the log grows.
        if let Some(etag) = headers.get("etag") {
            let again = server
                .client
                .get(server.url(&path))
                .header("if-none-match", etag.clone())
                .send()
                .unwrap();
            assert_eq!(again.status(), 304, "{path}");
        }
    }
    for (path, content_type) in [
        ("/static/site.css", "text/css; charset=utf-8"),
        ("/static/site.js", "text/javascript; charset=utf-8"),
    ] {
        let response = server.get(path);
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], content_type);
        assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    }
    // Unknown pages are the site's 404 page; the entry form redirects to the entry.
    for path in ["/petitions/nope", "/entries/99999999", "/entries/x"] {
        let response = server.get(path);
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
    }
    let form = server.get("/entries?index=007");
    assert_eq!(form.url().path(), "/entries/7");
}

#[test]
fn counts_on_the_pages_are_the_apis_and_text_is_never_markup() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let admin = server.admin.clone();
    let hostile = "<script>alert(1)</script> \"quoted\" & 'single'";
    let long_word = "w".repeat(500);
    server.append(
        &admin,
        &json!({"type": "petition.opened", "petition_id": "p", "title": hostile,
                "text": format!("{hostile}\n\n{long_word}"), "target": "Leeds <b>City</b> Council",
                "thresholds": [2, 100]}),
    );
    for n in 0..3 {
        server.append(&admin, &signature("p", &format!("s{n}@example.org")));
    }
    server.append(
        &admin,
        &json!({"type": "twin_link.registered", "link_id": "l", "city": "Leeds <i>x</i>",
                "country": "GB", "partner_city": "Dalian\"onmouseover=\"x", "partner_country": "CN",
                "kind": "sister"}),
    );
    server.append(
        &admin,
        &json!({"type": "event.scheduled", "event_id": "e", "kind": "stall", "title": hostile,
                "city": "Leeds", "starts_at": "2030-01-01T12:00:00Z"}),
    );
    // Bidi controls never get in, so they cannot reorder what a page shows.
    let bidi = server.post(
        &admin,
        &json!({"type": "petition.opened", "petition_id": "q", "title": "abc\u{202e}def",
                "text": "x", "target": "UK Parliament"}),
    );
    expect_problem(bidi, 422, "invalid_value");

    for path in [
        "/",
        "/petitions/p",
        "/council-votes",
        "/events",
        "/entries/0",
    ] {
        let html = server.get_text(path);
        assert!(!html.contains("<script>alert"), "{path}: a script element");
        assert!(!html.contains("<b>City"), "{path}");
        assert!(!html.contains("<i>x"), "{path}");
        assert!(
            !html.contains("\"onmouseover"),
            "{path}: an attribute broken out of"
        );
        if path != "/council-votes" {
            assert!(
                html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
                "{path}: the title as text"
            );
        }
    }
    // The petition page's counts are the API's.
    let api = server.get_json("/api/v1/petitions/p");
    let html = server.get_text("/petitions/p");
    assert!(html.contains(&format!(
        "<span class=\"big\" id=\"petition-total\">{}</span>",
        api["total"]
    )));
    assert!(
        html.contains("href=\"/entries/"),
        "the crossed threshold links its entry"
    );
    let csv = server.get_text("/petitions/p/counts.csv");
    let tally = server.get_json("/api/v1/tally");
    let size = tally["tree_size"].as_u64().unwrap();
    let mut rows = 0;
    for line in csv.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], size.to_string());
        assert!(
            tally["text"]
                .as_str()
                .unwrap()
                .contains(&format!("{} {}\n", fields[1], fields[2])),
            "{line} is a counter of the signed tally"
        );
        rows += 1;
    }
    assert!(rows > 5, "{csv}");
    assert!(csv.starts_with("tree_size,counter,count\r\n"));
}

#[test]
fn a_static_copy_holds_the_site() {
    let dir = TestDir::new();
    let site = dir.path("site");
    let server = Server::start_with(&dir, &["--demo", "--publish", site.to_str().unwrap()]);
    let size = server.tree_size();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let published = |path: &str| std::fs::read_to_string(site.join(path)).ok();
    // The checkpoint follows each commit; the pages, at most every 2 s.
    let stated = format!("data-tree-size=\"{size}\"");
    while !published("checkpoint").is_some_and(|c| c.contains(&format!("\n{size}\n")))
        || !published("index.html").is_some_and(|page| page.contains(&stated))
    {
        assert!(std::time::Instant::now() < deadline, "never published");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for (file, path) in [
        ("index.html", "/"),
        ("council-votes/index.html", "/council-votes"),
        ("events/index.html", "/events"),
        ("trust/index.html", "/trust"),
        (
            "petitions/uk-city-diplomacy/index.html",
            "/petitions/uk-city-diplomacy",
        ),
        (
            "petitions/uk-city-diplomacy/counts.csv",
            "/petitions/uk-city-diplomacy/counts.csv",
        ),
        ("static/site.css", "/static/site.css"),
    ] {
        let copied = published(file).unwrap_or_else(|| panic!("{file} is not in the copy"));
        assert_eq!(
            copied,
            server.get_text(path),
            "{file} is the page as served"
        );
    }
}
