"""The first screen of ``make lab``: the student start page, rendered, and no news prompt.

Starts JupyterLab with the exact command of the Makefile's ``lab`` target (read with
``make -n``) plus a free port and no token, opens the server's root URL in Debian's Chromium
(Playwright, 1400 × 900) and checks that ``course/START_HERE.md`` opens by itself as rendered
Markdown, not in the text editor, and that JupyterLab asks nothing about news. The screenshot
goes to ``tests/browser/artifacts/first-screen.png``.
"""
import os
import shlex
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from browser.test_dashboard import (ARTIFACTS, CHROMIUM_FLAGS, ROOT, free_port, stop_server,
                                    unavailable, wait_until)
from browser.test_dashboard import chromium  # noqa: F401  (fixture)


def lab_command():
    """The Makefile's ``lab`` recipe as an argument list (continuation lines joined)."""
    if shutil.which("make") is None:
        unavailable("make is not installed")
    text = subprocess.run(["make", "-n", "-s", "lab", "LAB_FLAGS="], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout
    lines = text.replace("\\\n", " ").splitlines()
    line = next(line for line in lines if "jupyter lab" in line)
    return shlex.split(line)


def test_make_lab_target_names_the_start_page_and_its_settings():
    command = " ".join(lab_command())
    assert "--LabApp.default_url=/lab/tree/START_HERE.md" in command
    assert (ROOT / "course" / "START_HERE.md").exists()
    overrides = ROOT / "course" / ".jupyterlab-settings" / "overrides.json"
    assert f"--LabApp.app_settings_dir={overrides.parent}" in command
    import json
    settings = json.loads(overrides.read_text())
    assert settings["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert (settings["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]["markdown"]
            == "Markdown Preview")


@pytest.mark.slow
def test_first_screen_is_the_rendered_start_page(tmp_path, chromium):  # noqa: F811
    from playwright.sync_api import sync_playwright

    command = lab_command()
    command[0] = str(ROOT / command[0]) if not os.path.isabs(command[0]) else command[0]
    port = free_port()
    command += ["--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
                "--IdentityProvider.token=", "--ServerApp.password="]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in command:
        command.append("--allow-root")
    # A fresh user: no user settings or workspaces of the machine's own JupyterLab.
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "user-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    log = open(tmp_path / "jupyter.log", "w")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        def answering():
            if server.poll() is not None:
                pytest.fail("JupyterLab exited:\n" + (tmp_path / "jupyter.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(f"{base}/api/status", timeout=5) as response:
                    return response.status == 200
            except OSError:
                return False
        wait_until(answering, 120, "JupyterLab to answer")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS,
                                                 headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            try:
                page.goto(f"{base}/", wait_until="domcontentloaded")
                heading = page.locator(".jp-RenderedMarkdown h1").first
                heading.wait_for(timeout=120_000)
                assert "Start here" in heading.inner_text()
                page.wait_for_timeout(5000)  # a news toast would have appeared by now
                body = page.locator("body").inner_text()
                assert "news" not in body.lower(), "JupyterLab asks about news"
                assert page.locator(".jp-FileEditor").count() == 0, "opened in the text editor"
                assert "/lab/tree/START_HERE.md" in page.url
                page.screenshot(path=str(ARTIFACTS / "first-screen.png"))
            finally:
                browser.close()
    finally:
        stop_server(server)
        log.close()
