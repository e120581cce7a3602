"""Camera: runs benchmarks/camera_fps.py (the camera engineers' own benchmark) when it is there.

Its JSON goes into the report as it is; the table shows frames per second on 1280x720 per decoder
and the read rate on the hard pictures. --quick asks it for the fps part only, with fewer frames.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from common import BENCH, PYTHON, spawn, stop


def run(opts: Any, broker: Any) -> dict[str, Any]:
    script = BENCH / "camera_fps.py"
    if not script.exists():
        return {"skipped": "benchmarks/camera_fps.py is not there yet"}
    argv = [PYTHON, str(script)] + (["--part", "fps", "--frames", "10"] if opts.quick else [])
    proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = proc.communicate(timeout=280)
    except subprocess.TimeoutExpired:
        stop(proc)
        return {"error": "camera_fps.py ran over 280 s"}
    finally:
        stop(proc)
    if proc.returncode != 0:
        return {"error": f"camera_fps.py exited {proc.returncode}: {stderr.decode(errors='replace')[-500:]}"}
    report = json.loads(stdout)
    rows = []
    for scene, decoders in (report.get("fps", {}).get("results") or {}).items():
        rows.append((f"{scene}: fps zxing / zbar / both",
                     " / ".join(str(decoders.get(d, {}).get("fps", "-")) for d in ("zxing", "zbar", "both")),
                     "1280x720, " + " ".join(f"{d}={decoders[d]['frames_all_found']}" for d in decoders), None))
        # The camera's default as the driver runs it, beside every frame searched in full.
        rows.append((f"{scene}: CPU ms per frame, camera / both",
                     " / ".join(str(decoders.get(d, {}).get("cpu_ms_per_frame", "-")) for d in ("camera", "both")),
                     "fps " + " / ".join(str(decoders.get(d, {}).get("fps", "-")) for d in ("camera", "both")),
                     None))
    for decoder, summary in (report.get("accuracy", {}).get("summary") or {}).items():
        rows.append((f"hard pictures, {decoder}: read rate", summary.get("data_rate"),
                     f"{summary.get('ms_per_frame')} ms/frame", None))
    report["command"] = " ".join(["benchmarks/camera_fps.py", *argv[2:]])
    report["table"] = rows
    return report
