//! The public site in headless Chromium, against the real binary serving the demo
//! campaign: every page at desktop and phone widths loads with no console error, makes
//! no request off the server's origin, fits a phone's width and has one heading; the
//! counts shown are the API's at the tree size the page states; tables sort; the chart
//! has one bar per period; links between pages lead where they say; hostile free text
//! is text; the verify form finds a demo signature. Screenshots go to
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

/// Every page of the demo's site, and what a reader would click between them.
fn site_pages(server: &Server) -> Vec<(String, &'static str)> {
    let petitions = server.get_json("/api/v1/petitions");
    let id = petitions["petitions"][0]["opened"]["petition_id"]
        .as_str()
        .expect("the demo has a petition")
        .to_string();
    vec![
        ("/".to_string(), "overview"),
        (format!("/petitions/{id}"), "petition"),
        ("/council-votes".to_string(), "council-votes"),
        ("/events".to_string(), "events"),
        ("/trust".to_string(), "trust"),
        ("/entries/5".to_string(), "entry"),
        ("/verify".to_string(), "verify"),
    ]
}

/// Waits (at most 5 s) until the browser shows `url`: a form's GET and the
/// redirect it answers may still be under way when the click returns.
fn arrives_at(browser: &Browser, url: &str) {
    arrives_where(browser, url, |at| at == url);
}

/// Waits (at most 5 s) until the browser's URL satisfies `there` (`what` names it).
fn arrives_where(browser: &Browser, what: &str, there: impl Fn(&str) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !there(&browser.current_url()) {
        assert!(
            std::time::Instant::now() < deadline,
            "never reached {what}; at {}",
            browser.current_url()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The page there has loaded before its elements are read.
    let loaded = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while browser.execute("return document.readyState;") != "complete" {
        assert!(
            std::time::Instant::now() < loaded,
            "{what} never finished loading"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The numbers of a page's text: `2,400` is 2400.
fn number(text: &str) -> u64 {
    text.trim()
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

#[test]
fn every_page_loads_cleanly_on_desktop_and_phone_and_links_lead_where_they_say() {
    let Some((browser, server, _dir)) = demo() else {
        return;
    };
    for (path, name) in site_pages(&server) {
        check_page(&browser, &server, &path, name);
    }
    // An unknown page is the site's own (Chromium logs the 404 status as an error).
    browser.open(&server.url("/petitions/no-such-petition"));
    assert_eq!(browser.text("h1"), "Not found");
    browser.screenshot("not-found");
    browser.clear_logs();
    // The navigation, from the overview: each link opens its page, marked current.
    browser.set_window(1280, 800);
    browser.open(&server.url("/"));
    let links: Vec<String> = browser
        .execute("return [...document.querySelectorAll('nav[aria-label=Site] a')].map(a => a.getAttribute('href'));")
        .as_array()
        .expect("nav links")
        .iter()
        .map(|v| v.as_str().expect("an href").to_string())
        .collect();
    assert_eq!(
        links,
        ["/", "/council-votes", "/events", "/trust", "/verify"]
    );
    for href in &links {
        browser.open(&server.url("/"));
        browser.click(&format!("nav[aria-label=Site] a[href='{href}']"));
        arrives_at(&browser, &server.url(href));
        if href != "/verify" {
            assert_eq!(
                browser.attribute(&format!("nav a[href='{href}']"), "aria-current"),
                Some("page".to_string()),
                "{href} is marked as the current page"
            );
        }
    }
    // The overview's petition leads to its page; a crossed-or-not threshold, the
    // trust page's entry form and an entry's neighbours lead where they say.
    browser.open(&server.url("/"));
    browser.click("#petition-table tbody tr td:first-child a");
    arrives_where(&browser, "a petition's page", |at| {
        at.contains("/petitions/")
    });
    browser.open(&server.url("/trust"));
    browser.execute("document.getElementById('entry-index').value = '7'; return null;");
    browser.click("form.inline button[type=submit]");
    arrives_at(&browser, &server.url("/entries/7"));
    assert!(browser.text("h1").starts_with("Entry 7"));
    browser.click("a[rel=next]");
    arrives_at(&browser, &server.url("/entries/8"));
    assert_clean(&browser, &server, "after following links");
}

#[test]
fn pages_show_the_apis_counts_at_the_size_they_state() {
    let Some((browser, server, _dir)) = demo() else {
        return;
    };
    browser.set_window(1280, 800);
    browser.open(&server.url("/"));
    let api = server.get_json("/api/v1/petitions");
    let stated = number(
        &browser
            .attribute("[data-tree-size]", "data-tree-size")
            .unwrap(),
    );
    assert_eq!(api["tree_size"], stated, "the demo log stands still");
    assert_eq!(stated_tree_size(&browser.text("main")), stated);
    let petitions = api["petitions"].as_array().expect("petitions");
    assert_eq!(browser.count("#petition-table tbody tr"), petitions.len());
    for petition in petitions {
        let id = petition["opened"]["petition_id"].as_str().unwrap();
        let shown = browser.text(&format!("td.petition-total[data-petition='{id}']"));
        assert_eq!(Some(number(&shown)), petition["total"].as_u64(), "{id}");
    }
    // Twin links by status are the API's.
    let links = server.get_json("/api/v1/twin-links");
    for status in ["active", "suspended", "severed"] {
        let expected = links["twin_links"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["status"] == status)
            .count() as u64;
        let shown = browser.text(&format!(".link-count[data-status='{status}']"));
        assert_eq!(number(&shown), expected, "{status} links");
    }

    // The petition page: the count, the areas and their shares.
    let id = petitions[0]["opened"]["petition_id"].as_str().unwrap();
    let petition = server.get_json(&format!("/api/v1/petitions/{id}"));
    browser.open(&server.url(&format!("/petitions/{id}")));
    assert_eq!(
        Some(number(&browser.text("#petition-total"))),
        petition["total"].as_u64()
    );
    for kind in ["country", "constituency", "council"] {
        let counts = petition[format!("by_{kind}")].as_object().unwrap();
        let rows = browser.count(&format!("table.area-table[data-kind={kind}] tbody tr"));
        assert_eq!(rows, counts.len().min(100), "{kind} rows");
        // Every row's count is the API's for that area.
        let table: Vec<Value> = browser
            .execute(&format!(
                "return [...document.querySelectorAll('table.area-table[data-kind={kind}] tbody tr')]\
                   .map(r => [r.cells[0].textContent, r.cells[1].textContent]);"
            ))
            .as_array()
            .unwrap()
            .clone();
        for row in table {
            let name = row[0].as_str().unwrap();
            assert_eq!(
                Some(number(row[1].as_str().unwrap())),
                counts[name].as_u64(),
                "{kind} {name}"
            );
        }
    }
    assert_clean(&browser, &server, "the petition page");
}

#[test]
fn tables_sort_and_the_chart_has_one_bar_per_period() {
    let Some((browser, server, _dir)) = demo() else {
        return;
    };
    let api = server.get_json("/api/v1/petitions");
    let id = api["petitions"][0]["opened"]["petition_id"]
        .as_str()
        .unwrap()
        .to_string();
    let petition = server.get_json(&format!("/api/v1/petitions/{id}"));
    browser.set_window(1280, 800);
    browser.open(&server.url(&format!("/petitions/{id}")));
    browser
        .execute("document.querySelectorAll('details').forEach(d => d.open = true); return null;");
    let table = "table.area-table[data-kind=constituency]";
    let column = |n: usize| -> Vec<String> {
        browser
            .execute(&format!(
                "return [...document.querySelectorAll('{table} tbody tr')].map(r => r.cells[{n}].textContent);"
            ))
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    // By name, ascending; then by count, ascending and descending.
    browser.click(&format!("{table} thead th:nth-child(1) button"));
    let names = column(0);
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted);
    assert_eq!(
        browser.attribute(&format!("{table} thead th:nth-child(1)"), "aria-sort"),
        Some("ascending".to_string())
    );
    browser.click(&format!("{table} thead th:nth-child(2) button"));
    let counts: Vec<u64> = column(1).iter().map(|c| number(c)).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    browser.click(&format!("{table} thead th:nth-child(2) button"));
    let counts: Vec<u64> = column(1).iter().map(|c| number(c)).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert_eq!(
        browser.attribute(&format!("{table} thead th:nth-child(2)"), "aria-sort"),
        Some("descending".to_string())
    );
    assert_eq!(
        browser.attribute(&format!("{table} thead th:nth-child(1)"), "aria-sort"),
        None
    );

    // The chart: one bar per hour (or day) from the first signature's to the last's,
    // each the API's count for its period, zero where none was added.
    let hourly = petition["hourly"].as_array().unwrap();
    let first = hourly.first().unwrap()[0].as_u64().unwrap();
    let last = hourly.last().unwrap()[0].as_u64().unwrap();
    let hours = (last - first) / 3_600_000 + 1;
    assert_eq!(
        browser.attribute("figure.chart svg", "data-period"),
        Some("hour".into())
    );
    assert_eq!(browser.count("figure.chart svg rect.bar") as u64, hours);
    let drawn: u64 = browser
        .execute("return [...document.querySelectorAll('figure.chart rect.bar')].map(r => +r.dataset.count);")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(drawn, petition["added"].as_u64().unwrap());
    browser.screenshot("petition-sorted");
    assert_clean(&browser, &server, "sorting");
}

#[test]
fn hostile_free_text_renders_as_text_and_keeps_the_layout() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let admin = server.admin.clone();
    let hostile = "<script>alert('x')</script> \"quoted\" <img src=x onerror=alert(1)>";
    let long_word = "Llanfairpwllgwyngyll".repeat(20);
    server.append(
        &admin,
        &support::json!({"type": "petition.opened", "petition_id": "p", "title": hostile,
                "text": format!("{hostile}\n\n{long_word}"), "target": &long_word[..120]}),
    );
    server.append(&admin, &support::signature("p", "one@example.org"));
    server.append(
        &admin,
        &support::json!({"type": "event.scheduled", "event_id": "e", "kind": "rally",
                "title": long_word, "city": hostile, "starts_at": "2030-01-01T12:00:00Z"}),
    );
    for (path, name) in [
        ("/", "hostile-overview"),
        ("/petitions/p", "hostile-petition"),
        ("/events", "hostile-events"),
    ] {
        check_page(&browser, &server, path, name);
        assert_eq!(
            browser.count("script"),
            1,
            "{path}: only the site's own script"
        );
        assert_eq!(
            browser.count("main img"),
            0,
            "{path}: no element from the text"
        );
    }
    browser.open(&server.url("/petitions/p"));
    assert_eq!(browser.text("h1"), hostile);
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
        let sent = format!("index={index}");
        arrives_where(&browser, "the form sent by GET", |at| at.contains(&sent));
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
    browser.open(&server.url("/api/v1/log"));
    assert_clean(&browser, &server, "/api/v1/log");
    // A JSON answer has no CSP: an image from another origin (nothing listens there)
    // loads, and a script error, both logged.
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
