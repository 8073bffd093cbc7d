"""The SET dashboard of module 02 in a real browser: JupyterLab + Debian's Chromium via Playwright.

Runs the student copy of the 02 notebook top to bottom in JupyterLab at 1400 × 900, moves
the ε, ζ and dropout sliders, presses Train and checks that the degree histogram and the
input-connectivity frame change from epoch to epoch while it trains, that the first run stays
on the curves beside the second, that the dashboard fits the screen, that the frames can be
scrubbed after the run and that the number of connections shown is the Erdős–Rényi count for
the new ε. Screenshots go to ``tests/browser/artifacts/``. Without Chromium the
test is skipped; with ``SETCOURSE_REQUIRE_BROWSER=1`` (set by CI) that is a failure.
``SETCOURSE_BROWSER_NOTEBOOK`` may point at another notebook with a dashboard (debugging).
"""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from setcourse.nn.sparsity import erdos_renyi_density, n_connections

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
REQUIRE_BROWSER = os.environ.get("SETCOURSE_REQUIRE_BROWSER") == "1"
# JupyterLab settings for a quiet, fully rendered notebook: no news/update toasts (no network),
# no windowing, so that cells far below the viewport are in the DOM too, and the notebook's
# kernel starts without asking.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none", "autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}
SECONDS_TO_RUN_NOTEBOOK = 900
SECONDS_TO_TRAIN = 300


def unavailable(reason):
    """Skip, or fail when CI requires the browser test to run."""
    if REQUIRE_BROWSER:
        pytest.fail(f"SETCOURSE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def chromium_executable():
    return next((path for path in CHROMIUM_CANDIDATES if os.access(path, os.X_OK)), None)


def dashboard_notebook():
    """The 02 student notebook that shows the SET dashboard."""
    chosen = os.environ.get("SETCOURSE_BROWSER_NOTEBOOK")
    if chosen:
        return Path(chosen)
    candidates = sorted((ROOT / "course" / "02_set").glob("*.ipynb"))
    for path in candidates:
        if "SETDashboard" in path.read_text(encoding="utf-8"):
            return path
    pytest.fail(f"no notebook in {ROOT / 'course' / '02_set'} shows SETDashboard "
                f"(found: {[p.name for p in candidates]})")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def expected_nnz(layers, epsilon):
    """Connections of an Erdős–Rényi SET-MLP with these layer sizes (dense where p >= 1)."""
    return sum(n_connections(erdos_renyi_density(epsilon, n_in, n_out), n_in, n_out)
               for n_in, n_out in zip(layers[:-1], layers[1:]))


@pytest.fixture(scope="module")
def chromium():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install playwright)")
    path = chromium_executable()
    if path is None:
        unavailable("Chromium is not installed (Debian: apt-get install chromium); looked for "
                    + ", ".join(CHROMIUM_CANDIDATES))
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory, chromium):
    """JupyterLab serving a temporary copy of the 02 folder; yields (base URL, notebook path)."""
    notebook = dashboard_notebook()
    home = tmp_path_factory.mktemp("lab")
    served = home / "work"
    shutil.copytree(notebook.parent, served / notebook.parent.name,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.bak"))
    settings = home / "settings"
    for name, values in LAB_SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    port = free_port()
    env = dict(os.environ, SETCOURSE_FAST="1", JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
               "--ServerApp.password=", f"--ServerApp.root_dir={served}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class="
               "jupyterlab.handlers.announcements.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(home / "jupyter.log", "w")
    server = subprocess.Popen(command, cwd=served, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # its own process group: kernels go too
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n"
                            + (home / "jupyter.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(f"{base}/api/status", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("JupyterLab did not answer within 120 s:\n"
                            + (home / "jupyter.log").read_text()[-3000:])
            time.sleep(0.5)
        yield base, Path(notebook.parent.name) / notebook.name
    finally:
        stop_server(server)
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(home / "jupyter.log", ARTIFACTS / "jupyter.log")  # for a failing CI run


def stop_server(server):
    """Stop JupyterLab (SIGTERM to its process group, SIGKILL if it lingers) and its kernels.

    Kernels run in process groups of their own, so any that outlive the server's shutdown
    are killed by PID.
    """
    try:
        children = psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    if server.poll() is None:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


def image_digest(page, selector):
    """SHA-1 of the PNG shown by the ipywidgets Image with CSS class ``selector``."""
    data = page.evaluate(
        """async (selector) => {
            const img = document.querySelector(selector);
            if (!img || !img.src) return "";
            const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
            let text = "";
            for (const b of bytes) text += String.fromCharCode(b);
            return btoa(text);
        }""", selector)
    return hashlib.sha1(data.encode()).hexdigest() if data else ""


def wait_until(condition, seconds, what, page=None, poll=0.5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if page is not None:
            page.wait_for_timeout(poll * 1000)
        else:
            time.sleep(poll)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def execution_counts(page):
    """Execution count of every code cell of the open notebook (None: not run yet).

    Read from the notebook model (the server runs with ``expose_app_in_browser``): cells
    with hidden source show no prompt in the DOM.
    """
    return page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
        .filter(cell => cell.model.type === 'code')
        .map(cell => cell.model.executionCount)""")


def kernel_indicator_idle(page):
    return page.evaluate("() => document.querySelector('.jp-Notebook-ExecutionIndicator')"
                         "?.getAttribute('data-status') === 'idle'")


def run_state(page, seen_idle):
    """``"done"`` when every code cell ran and the kernel is idle, ``"stopped"`` when the run
    ended early (Run All stops at the first error), else ``""``; ``seen_idle`` counts polls."""
    counts = execution_counts(page)
    if not kernel_indicator_idle(page):
        seen_idle.clear()
        return ""
    if counts and all(count is not None for count in counts):
        return "done"
    seen_idle.append(True)  # idle with cells not run: stopped, once it stays so for 5 polls
    return "stopped" if len(seen_idle) >= 5 else ""


def error_texts(page):
    """Texts of the tracebacks shown in the notebook (JupyterLab renders errors as stderr)."""
    outputs = page.locator(".jp-OutputArea-output[data-mime-type="
                           "'application/vnd.jupyter.stderr']").all_inner_texts()
    return [text for text in outputs
            if "Traceback" in text or re.search(r"^\w*(Error|Exception)\b", text, re.M)]


def kernel_idle(base, notebook):
    """True once the server reports the notebook's kernel as started and idle."""
    with urllib.request.urlopen(f"{base}/api/sessions", timeout=5) as response:
        sessions = json.load(response)
    return any(s["path"] == notebook.as_posix() and s.get("kernel", {}).get("execution_state")
               == "idle" for s in sessions)


def run_all_cells(page):
    """Run ▸ Run All Cells from the menu bar, as a student would; True once cells started."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    try:
        return wait_until(lambda: not kernel_indicator_idle(page)
                          or any(count is not None for count in execution_counts(page)),
                          20, "cells to start", page)
    except AssertionError:
        return False


def drag_slider(page, css, fraction):
    """Drag the handle of the ipywidgets slider with class ``css`` by ``fraction`` of its track;
    returns (value before, value after) read from its readout."""
    slider = page.locator(f".{css}").first
    slider.scroll_into_view_if_needed()
    readout = slider.locator(".widget-readout")
    before = float(readout.inner_text())
    handle = slider.locator(".noUi-handle").first
    track = slider.locator(".noUi-target, .slider-container").first
    box, track_box = handle.bounding_box(), track.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + fraction * track_box["width"], y, steps=8)
    page.mouse.up()
    after = wait_until(lambda: (float(readout.inner_text()) != before
                                and float(readout.inner_text())), 10, f"the {css} readout to change",
                       page)
    return before, after


def watch_images(page, selectors, until, seconds, poll=0.05):
    """Digests of the images seen while ``until()`` is false: {selector: [distinct digests]}."""
    seen = {selector: [] for selector in selectors}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for selector in selectors:
            digest = image_digest(page, selector)
            if digest and (not seen[selector] or seen[selector][-1] != digest):
                seen[selector].append(digest)
        if until():
            break
        page.wait_for_timeout(poll * 1000)
    return seen


@pytest.mark.slow
def test_dashboard_trains_with_a_new_epsilon(lab, chromium):
    from playwright.sync_api import sync_playwright

    base, notebook = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS,
                                             headless=True)
        # The screen of the room's laptops and projector.
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(f"{base}/lab/tree/{notebook.as_posix()}", wait_until="domcontentloaded")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            wait_until(lambda: kernel_idle(base, notebook), 120, "the kernel to start", page)
            # The front end may still be connecting to the kernel; a run request sent before
            # then is dropped, so ask again until the cells start.
            assert any(run_all_cells(page) for _ in range(3)), "Run All Cells did not start"
            seen_idle = []
            state = wait_until(lambda: run_state(page, seen_idle), SECONDS_TO_RUN_NOTEBOOK,
                               "all cells to run and the kernel to be idle", page, poll=1)
            tracebacks = error_texts(page)
            assert state == "done" and not tracebacks, (
                f"the notebook did not run to the end without errors (execution counts: "
                f"{execution_counts(page)}):\n" + "\n---\n".join(tracebacks)[:3000])

            dashboard = page.locator(".setcourse-dashboard").first
            dashboard.wait_for(timeout=60_000)
            status = page.locator(".setcourse-status").first
            wait_until(lambda: "Finished" in status.inner_text(), 60,
                       "the headless run of the dashboard to finish", page)
            status_before = status.inner_text()
            curves_before = image_digest(page, "img.setcourse-curves")
            assert curves_before, "the learning-curve image is empty after the first run"

            # Move ε, ζ and dropout, as a student would.
            epsilon_before, epsilon = drag_slider(page, "setcourse-epsilon", 0.15)
            _, zeta = drag_slider(page, "setcourse-zeta", -0.2)
            _, dropout = drag_slider(page, "setcourse-dropout", -0.2)

            # The top of the dashboard at the top of the screen: everything must fit 1400 x 900.
            dashboard.evaluate("element => element.scrollIntoView({block: 'start'})")
            box = dashboard.bounding_box()
            page.locator(".setcourse-train").first.click()
            clicked = time.monotonic()

            def new_run_finished():
                text = status.inner_text()
                return text if "Finished" in text and text != status_before else ""

            seen = watch_images(page, ["img.setcourse-degrees", "img.setcourse-connectivity",
                                       "img.setcourse-curves"], new_run_finished, SECONDS_TO_TRAIN)
            status_after = wait_until(new_run_finished, SECONDS_TO_TRAIN, "the new run to finish",
                                      page)
            run_seconds = time.monotonic() - clicked
            curves_after = wait_until(lambda: image_digest(page, "img.setcourse-curves"), 10,
                                      "the learning curves", page)
            runs_text = page.locator(".setcourse-runs").first.inner_text()
            screenshot = ARTIFACTS / "dashboard.png"
            page.screenshot(path=str(screenshot), full_page=False)
            dashboard.screenshot(path=str(ARTIFACTS / "dashboard-widget.png"))
            # After the run: scrub from the first frame through every epoch's frame with the
            # keyboard; each epoch's connectivity must differ from the one before.
            frame_before = image_digest(page, "img.setcourse-connectivity")
            page.locator(".setcourse-frame .noUi-handle, .setcourse-frame input").first.focus()
            page.keyboard.press("Home")
            scrubbed = [wait_until(lambda: (lambda d: d if d != frame_before else "")(
                image_digest(page, "img.setcourse-connectivity")), 10, "the first frame", page)]
            n_frames = int(re.search(r"Finished (\d+) epoch", status_after).group(1)) + 1
            for _ in range(min(n_frames - 1, 8)):
                page.keyboard.press("ArrowRight")
                scrubbed.append(wait_until(lambda: (lambda d: d if d != scrubbed[-1] else "")(
                    image_digest(page, "img.setcourse-connectivity")), 10, "the next frame", page))
        except Exception:
            # What the browser showed when it went wrong, for whoever reads the CI log.
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()

    (ARTIFACTS / "timings.json").write_text(json.dumps(
        {"train_click_to_finished_s": run_seconds, "status": status_after,
         "distinct_images": {k: len(v) for k, v in seen.items()}}, indent=1))
    assert curves_after != curves_before, "the learning-curve image did not change"
    # Redrawn while it trained (the drawing thread skips epochs that end while it draws, so
    # in fast mode not every epoch is shown live) ...
    assert len(seen["img.setcourse-degrees"]) >= 2, seen
    assert len(seen["img.setcourse-connectivity"]) >= 2, seen
    # ... and every epoch's frame kept: consecutive frames differ when scrubbed.
    assert len(scrubbed) >= 3 and all(a != b for a, b in zip(scrubbed, scrubbed[1:])), scrubbed
    assert "2 runs" in runs_text and "run 1" in runs_text and "run 2" in runs_text, runs_text
    assert f"ζ {zeta:.2f}" in runs_text and f"dropout {dropout:.2f}" in runs_text, runs_text
    assert box["height"] <= 900 - 60 and box["width"] <= 1400, f"dashboard is {box}"
    nnz = re.search(r"nnz=(\d+)", status_after)
    layers = re.search(r"layers=(\d+(?:-\d+)+)", status_after)
    assert nnz and layers, f"status line lacks nnz=... or layers=...: {status_after!r}"
    sizes = [int(size) for size in layers.group(1).split("-")]
    assert int(nnz.group(1)) == expected_nnz(sizes, epsilon), (
        f"status {status_after!r}: nnz should be {expected_nnz(sizes, epsilon)} for ε = {epsilon}")
    assert int(nnz.group(1)) != expected_nnz(sizes, epsilon_before)
    assert screenshot.stat().st_size > 10_000
