"""Drives the sentinel's status page in Debian's chromium through Playwright, for
tests/status_page_e2e.rs. Opens the page once, waits for the live stream to draw the master,
prints "READY <address>", then waits for a line on stdin (the test starts a failover), waits
until the page (without a reload) shows the new master given on that line and the
+switch-master event, takes a
screenshot, and prints "SHOT <path> <address shown>".

    python3 status_page.py URL SCREENSHOT_PATH
"""
import sys

from playwright.sync_api import sync_playwright

url, shot = sys.argv[1], sys.argv[2]
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    page.wait_for_selector("#live.on", timeout=10000)
    addr = page.wait_for_selector("#master-addr-mymaster", timeout=10000).text_content()
    print("READY", addr, flush=True)
    new = sys.stdin.readline().strip()
    page.wait_for_function(
        "want => { const e = document.getElementById('master-addr-mymaster');"
        " return e && e.textContent === want"
        " && document.getElementById('timeline').textContent.includes('+switch-master'); }",
        arg=new,
        timeout=20000,
    )
    page.screenshot(path=shot)
    shown = page.text_content("#master-addr-mymaster")
    timeline = page.text_content("#timeline")
    print("SHOT", shot, shown, "switch" if "+switch-master" in timeline else "no-switch", flush=True)
    browser.close()
