//! Headless Chromium, for what a browser does with ringway's answers.

use std::process::Command;

/// The Chromium binary, or None when there is none (`RINGWAY_STATUS_BROWSER=require`, set by
/// `.ci/run`, which installs it, makes that a failure).
pub fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        assert!(
            std::env::var("RINGWAY_STATUS_BROWSER").as_deref() != Ok("require"),
            "RINGWAY_STATUS_BROWSER=require but no Chromium here (apt-get install chromium)"
        );
        eprintln!("SKIPPED: no Chromium (apt-get install chromium)");
    }
    found
}
