//! The public pages in headless Chromium, against the real binary serving the demo
//! campaign: `/` and `/verify` at desktop and phone widths load with no console error,
//! make no request off the server's origin, fit a phone's width, show what the API
//! says, and the verify form finds a demo signature. Screenshots go to
//! `target/browser-artifacts/<test>/`. Needs Chromium (see `support/browser.rs`).

#[path = "support/browser.rs"]
mod browser;
mod support;

use browser::Browser;
use support::{Server, TestDir, Value};

/// The widths every page is checked at: a laptop and a phone.
const SIZES: [(&str, u32, u32); 2] = [("desktop", 1280, 800), ("phone", 390, 844)];

/// Loads `path` at every size and checks what every page must hold: a heading, no
/// console error, no request off the origin, no horizontal scrolling. Screenshots
/// are named `<name>-<size>`.
fn check_page(browser: &Browser, server: &Server, path: &str, name: &str) {
    for (size, width, height) in SIZES {
        browser.set_window(width, height);
        browser.open(&server.url(path));
        // A phone widens its layout viewport to fit a page wider than the screen.
        let inner = browser.execute("return window.innerWidth;");
        let wide = browser.execute(&format!(
            "return [...document.querySelectorAll('body *')]\
               .filter(e => e.getBoundingClientRect().right > {width})\
               .map(e => e.tagName.toLowerCase() + ' ' + Math.round(e.getBoundingClientRect().right));"
        ));
        assert_eq!(
            inner, width,
            "{path} at {size}: the page is wider than the screen; these reach past it: {wide}"
        );
        assert_eq!(browser.count("h1"), 1, "{path} at {size}: one <h1>");
        assert!(
            !browser.text("h1").trim().is_empty(),
            "{path}: an empty <h1>"
        );
        let overflow =
            browser.execute("return [document.documentElement.scrollWidth, window.innerWidth];");
        assert!(
            overflow[0].as_u64() <= overflow[1].as_u64(),
            "{path} at {size}: the page is wider than the screen (scrollWidth, innerWidth) = {overflow}"
        );
        browser.screenshot(&format!("{name}-{size}"));
        let url = server.url(path);
        assert!(
            browser.requested_urls().contains(&url),
            "the network log shows no request for {url}"
        );
        assert_clean(browser, server, &format!("{path} at {size}"));
    }
}

/// No console error and no request off the server's origin so far.
fn assert_clean(browser: &Browser, server: &Server, what: &str) {
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "{what}: console errors: {errors:#?}");
    browser.assert_same_origin(&server.base);
}

/// The tree size a page states in "… tree size N …".
fn stated_tree_size(text: &str) -> u64 {
    let (_, after) = text
        .split_once("tree size ")
        .unwrap_or_else(|| panic!("the page states no tree size: {text}"));
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("not a tree size: {after}"))
}

/// A browser and a `serve --demo` server; `None` (skipped) without Chromium.
fn demo() -> Option<(Browser, Server, TestDir)> {
    let browser = Browser::start()?;
    let dir = TestDir::new();
    let server = Server::start_with(&dir, &["--demo"]);
    Some((browser, server, dir))
}

#[test]
fn dashboard_shows_the_apis_counts_on_desktop_and_phone() {
    let Some((browser, server, _dir)) = demo() else {
        return;
    };
    check_page(&browser, &server, "/", "dashboard");

    // The counts as of the tree size the page states are the API's at that size.
    let api = server.get_json("/api/v1/petitions");
    let stated = stated_tree_size(&browser.text("body"));
    assert_eq!(
        api["tree_size"], stated,
        "the demo log stands still: the API and the page are at the same size"
    );
    let petitions = api["petitions"].as_array().expect("petitions");
    assert!(!petitions.is_empty(), "the demo has petitions");
    let titles = browser.texts("table:first-of-type tbody tr td:first-child");
    let totals = browser.texts("table:first-of-type tbody tr td.n");
    assert_eq!(titles.len(), petitions.len(), "one row per petition");
    assert_eq!(totals.len(), petitions.len(), "one count per petition");
    for ((petition, title), total) in petitions.iter().zip(&titles).zip(&totals) {
        assert_eq!(title, petition["opened"]["title"].as_str().expect("title"));
        assert_eq!(
            total.parse::<u64>().ok(),
            petition["total"].as_u64(),
            "{title}: the page shows {total}"
        );
    }

    // A petition's link leads to the API's answer about it.
    let href = browser
        .attribute("table:first-of-type tbody tr td:first-child a", "href")
        .expect("a petition links somewhere");
    let id = petitions[0]["opened"]["petition_id"].as_str().expect("id");
    assert_eq!(href, format!("/api/v1/petitions/{id}"));
    browser.click("table:first-of-type tbody tr td:first-child a");
    assert_eq!(browser.current_url(), server.url(&href));
    let shown: Value =
        serde_json::from_str(&browser.text("body")).expect("the petition link shows JSON");
    assert_eq!(shown["total"], petitions[0]["total"]);
    assert_clean(&browser, &server, "the petition's page");
}

#[test]
fn verify_page_finds_a_demo_signature_on_desktop_and_phone() {
    let Some((browser, server, _dir)) = demo() else {
        return;
    };
    check_page(&browser, &server, "/verify", "verify");

    // The demo's last entries are signatures: the latest one is counted.
    let size = server.tree_size();
    let index = (0..size)
        .rev()
        .find(|i| {
            let entry = server.get_json(&format!("/api/v1/entries/{i}"));
            matches!(
                entry["record"]["type"].as_str(),
                Some("signature.committed" | "signature.recorded")
            )
        })
        .expect("the demo log holds a signature");

    for (size, width, height) in SIZES {
        browser.set_window(width, height);
        browser.open(&server.url("/verify"));
        let stated = stated_tree_size(&browser.text("main > p"));
        assert_eq!(stated, server.tree_size(), "/verify states the log's size");
        browser.execute(&format!(
            "document.getElementById('index').value = '{index}'; return null;"
        ));
        browser.click("form button[type=submit]");
        assert!(
            browser.current_url().contains(&format!("index={index}")),
            "the form is sent by GET: {}",
            browser.current_url()
        );
        assert_eq!(
            browser.text("section .ok h2"),
            "Your signature is in the log and counted"
        );
        let lines = browser.texts("section .ok p").join("\n");
        assert!(
            lines.contains(&format!("Entry {index} is a signature of the petition")),
            "{lines}"
        );
        browser.screenshot(&format!("verify-found-{size}"));
        assert_clean(&browser, &server, &format!("/verify at {size}"));
    }

    // An index past the log's end is refused, in words.
    browser.open(&server.url(&format!("/verify?index={}", size + 10)));
    assert_eq!(browser.text("section .bad h2"), "No such entry");
    browser.screenshot("verify-no-such-entry");
}

/// The harness itself: a request off the origin and a console error are seen.
#[test]
fn the_harness_sees_foreign_requests_and_console_errors() {
    let Some((browser, server, _dir)) = demo() else {
        return;
    };
    browser.open(&server.url("/"));
    assert_clean(&browser, &server, "/");
    // `/` has no CSP: an image from another origin (nothing listens there) loads, and
    // a script error, both logged.
    browser.execute(
        "const img = new Image(); img.src = 'http://127.0.0.2:9/foreign.png';\
         setTimeout(() => { throw new Error('harness check'); }, 0); return null;",
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(browser
        .requested_urls()
        .contains(&"http://127.0.0.2:9/foreign.png".to_owned()));
    let errors = browser.console_errors().join("\n");
    assert!(errors.contains("harness check"), "{errors}");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        browser.assert_same_origin(&server.base)
    }));
    let message = caught.expect_err("a foreign request fails assert_same_origin");
    let message = message
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(
        message.contains("http://127.0.0.2:9/foreign.png"),
        "{message}"
    );
    browser.clear_logs();
    assert_clean(&browser, &server, "after clear_logs");
}
