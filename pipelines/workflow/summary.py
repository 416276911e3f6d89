#!/usr/bin/env python3
"""The summary of a many-slides run (rule summary of pipelines/workflow/Snakefile).

Reads the per-slide status files (OUT_DIR/status/NAME.json, written by slide.sh) and the
metrics they point at, and writes
  OUT_DIR/summary.tsv   one row per slide: name, status, seconds, the main figures, error
  OUT_DIR/summary.json  the same, with every metric
both atomically; rebuilds the report index (OUT_DIR/report/index.html) when the slides
have reports; and rewrites OUT_DIR/.tickets/NAME of every failed slide, so that the next
run redoes those slides (the Snakefile's header says why).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

COLUMNS = ["name", "status", "method", "seconds", "slide", "output",
           "seam_ratio_in", "seam_ratio_out", "fidelity_pct", "texture_in", "texture_out",
           "tissue_bg_in", "tissue_bg_out", "report", "error"]


def atomic_write(path, text):
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return str(v).replace("\t", " ").replace("\r", "").replace("\n", " | ")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--tsv", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--sscor", default="sscor")
    ap.add_argument("--report", default="auto", choices=["yes", "no", "auto"])
    ap.add_argument("status", nargs="+")
    a = ap.parse_args()

    rows = []
    for path in a.status:
        try:
            with open(path) as f:
                s = json.load(f)
        except (OSError, ValueError) as e:
            sys.exit(f"summary.py: {path}: cannot read the slide status: {e}")
        row = {k: s.get(k) for k in ("name", "status", "method", "seconds", "slide", "output", "error")}
        row["metrics"] = None
        page = os.path.join(a.out, "report", f"{s.get('name')}.html")
        row["report"] = page if os.path.exists(page) else None
        if s.get("status") == "ok" and s.get("metrics"):
            try:
                with open(s["metrics"]) as f:
                    m = json.load(f)
            except (OSError, ValueError) as e:
                sys.exit(f"summary.py: {s['metrics']}: cannot read the metrics of {s.get('name')}: {e}")
            row["metrics"] = m
            i, o = m.get("input_metrics") or {}, m.get("corrected_metrics") or {}
            row.update(seam_ratio_in=i.get("seam_ratio"), seam_ratio_out=o.get("seam_ratio"),
                       fidelity_pct=o.get("fidelity_pct"), texture_in=i.get("texture"),
                       texture_out=o.get("texture"), tissue_bg_in=i.get("tissue_bg"),
                       tissue_bg_out=o.get("tissue_bg"))
        rows.append(row)
    rows.sort(key=lambda r: r["name"] or "")
    failed = [r for r in rows if r["status"] != "ok"]

    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(cell(r.get(c)) for c in COLUMNS) for r in rows]
    atomic_write(a.tsv, "\n".join(lines) + "\n")
    doc = {"slides": len(rows), "ok": len(rows) - len(failed), "failed": len(failed),
           "failed_names": [r["name"] for r in failed], "rows": rows}
    atomic_write(a.json, json.dumps(doc, indent=1) + "\n")

    # the report index (sscor report-index), rebuilt from the per-slide pages there are
    report_dir = os.path.join(a.out, "report")
    if a.report != "no" and os.path.isdir(report_dir):
        r = subprocess.run([a.sscor, "report-index", report_dir], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"summary.py: the report index of {report_dir} failed: {r.stderr.strip()}")

    # failed slides: renew their tickets, so the next run retries them
    # (new content, not only a new time: Snakemake compares small inputs by checksum too)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S") + f".{time.time_ns() % 10**9:09d}"
    for r in failed:
        atomic_write(os.path.join(a.out, ".tickets", r["name"]), f"retry: failed at {stamp}\n")
    print(f"summary: {len(rows)} slides, {len(rows) - len(failed)} ok, {len(failed)} failed"
          + (": " + ", ".join(r["name"] for r in failed) if failed else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
