"""Check what `make lab` promises, without a browser: no news question, and notebooks saved with their paired .py.

    .venv/bin/python scripts/check_lab.py

Runs the Makefile's overrides rule into a scratch venv folder (its app folder links this Python's JupyterLab assets),
starts `jupyter lab --no-browser` on a free port with a random token in a temporary root holding a copy of
pyproject.toml, then asks the server (1) for the notification settings JupyterLab's front end will use (it asks
"Would you like to get notified about official Jupyter news?" only while fetchNews is "none") and (2) to save a
notebook, and lists the files written: the paired py:percent file must appear. Stops the server and removes the folder.
Exits non-zero if either check fails.
"""
import json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

WT = Path(__file__).resolve().parents[1]; MAIN_VENV = Path(sys.prefix)
tmp = Path(tempfile.mkdtemp(prefix="bk-lab-"))
venv = tmp / "venv"
venv.mkdir()
(venv / ".installed").touch()  # make: the venv is "installed"; only the overrides rule runs
target = venv / "share/jupyter/lab/settings/overrides.json"
subprocess.run(["make", "-s", "-C", str(WT), f"VENV={venv}", str(target)], check=True)
print("Makefile wrote", target, "->", target.read_text().strip())
app = venv / "share/jupyter/lab"
for sub in ("static", "schemas", "themes"):
    (app / sub).symlink_to(MAIN_VENV / "share/jupyter/lab" / sub)
root = tmp / "repo"; (root / "notebooks").mkdir(parents=True)
shutil.copy(WT / "pyproject.toml", root / "pyproject.toml")
with socket.socket() as s:
    s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
tok = os.urandom(8).hex()
env = dict(os.environ, JUPYTERLAB_DIR=str(app))
log = open(tmp / "server.log", "w")
proc = subprocess.Popen([str(MAIN_VENV / "bin/jupyter"), "lab", "--no-browser", "--allow-root", f"--port={port}",
                         "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={tok}",
                         f"--ServerApp.root_dir={root}"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
base = f"http://127.0.0.1:{port}"
def api(path, method="GET", body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"token {tok}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")
try:
    for _ in range(120):
        try:
            api("/api/status"); break
        except Exception:
            time.sleep(0.5)
    s = api("/lab/api/settings/@jupyterlab/apputils-extension:notification")
    props = s["schema"]["properties"]  # overrides.json replaces the schema's defaults; user settings come on top
    print("user settings:", s.get("raw"), "| defaults served:", {k: props[k]["default"] for k in ("fetchNews", "checkForUpdates")})
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# hello"},
                    {"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": [], "execution_count": None}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    api("/api/contents/notebooks/pair_check.ipynb", "PUT", {"type": "notebook", "format": "json", "content": nb})
    files = sorted(p.name for p in (root / "notebooks").iterdir())
    print("files after saving pair_check.ipynb through the server:", files)
    py = root / "notebooks/pair_check.py"
    print(py.read_text() if py.exists() else "NO PAIRED .py WRITTEN")
    ok = props["fetchNews"]["default"] == "false" and py.exists()
finally:
    proc.terminate(); proc.wait(timeout=20); log.close()
    print("server log lines mentioning jupytext / news / overrides:")
    for line in (tmp / "server.log").read_text().splitlines():
        if any(k in line.lower() for k in ("jupytext", "news", "override", "error")):
            print("  ", line[:200])
    shutil.rmtree(tmp)
print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
