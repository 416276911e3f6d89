#!/usr/bin/python3
"""Quality benchmark: every degradation kind at two strengths on real and
procedural content, corrected by `sscor correct` (or any command given) and by
peers when installed; one table of PSNR, SSIM, stripe %, tile %, seam ratio,
fidelity and time next to the input's figures. Plus the real wsi_brain
stitched image (no ground truth: seam step/ratio, texture, ICV).

usage: bench/quality.sh [--corrector "CMD"] [--peers-python PY] [--out DIR]
                        [--only SUBSTRING] [--no-wsi]
  CMD is run as `CMD IN.tif OUT.tif` (default: "<build>/pipelines/sscor correct").
  When the corrector is missing the table holds the input's figures only and says so.
All images and metric JSON land in DIR (default bench-out/quality).
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("SSCOR_DATA", os.path.join(ROOT, "..", "shared", "data"))

# kind: (low strength, high strength, extra parameters)
KINDS = [
    ("stripes-regular", 0.15, 0.45, ""),
    ("stripes-gaussian", 0.2, 0.6, ""),
    ("stripes-angled", 0.2, 0.6, ",angle=10"),
    ("tile-uniform", 0.2, 0.5, ",tile=128,additive=0.05"),
    ("tile-varying", 0.2, 0.5, ",tile=128"),
    ("oblique", 0.2, 0.5, ",tile=128,angle=3"),
    ("seams", 0.15, 0.4, ",tile=128,width=0.05"),
    ("defocus", 0.3, 0.9, ",count=2"),
    ("bubble", 0.5, 0.9, ",count=2"),
    ("fringe", 0.08, 0.25, ""),
]
# Which residual a kind is judged by: stripe % (striped error along the
# stripe direction) for stripes and fringes, tile % (low-frequency error) for
# tile shading, seams and local artifacts. The other is shown as "-": its
# input error is tiny, so its percentage says nothing.
STRIPE_KINDS = ("stripes-regular", "stripes-gaussian", "stripes-angled", "fringe")

# Procedural content for the high-strength cases, rotating over types/channels.
PROCEDURAL = [("u8", 1), ("u8", 3), ("u16", 1)]
REAL_TILE = "C3-BrainSection0025.tif"  # a 512x512 uint16 tile full of tissue


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def metrics(sscor, inp, out=None, truth=None, geo=None, tiles=None, plot=None):
    cmd = [sscor, "metrics", inp] + ([out] if out else []) + ["--json"]
    if truth:
        cmd += ["-t", truth]
    if geo:
        cmd += ["-g", geo]
    if tiles:
        cmd += ["--tiles", tiles, "--tile-size", "512"]
    if plot:
        cmd += ["-p", plot]
    r = run(cmd)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def fmt(v, nd=2):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    return f"{v:.{nd}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("SSCOR_BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--corrector", default=None)
    ap.add_argument("--peers-python", default=None)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-out", "quality"))
    ap.add_argument("--only", default="")
    ap.add_argument("--no-wsi", action="store_true")
    a = ap.parse_args()
    sscor = os.path.join(a.build, "pipelines", "sscor")
    if not os.access(sscor, os.X_OK):
        sys.exit(f"quality: {sscor} not built (bash tests/run.sh first)")
    os.makedirs(a.out, exist_ok=True)

    correctors = []  # (label, argv prefix, needs geometry)
    corr = shlex.split(a.corrector) if a.corrector else [sscor, "correct"]
    probe = run(corr + ["--help"]) if os.access(corr[0], os.X_OK) or shutil.which(corr[0]) else None
    notes = []
    if probe is not None and probe.returncode == 0:
        correctors.append(("sscor" if not a.corrector else "corrector", corr, False))
    else:
        shown = " ".join([os.path.relpath(corr[0], ROOT) if os.path.isabs(corr[0]) else corr[0]] + corr[1:])
        notes.append(f"corrector `{shown}` is not available "
                     f"({(probe.stderr.strip().splitlines() or ['not found'])[0] if probe else 'not found'}): "
                     "input figures only")
    peers_py = a.peers_python or os.path.join(ROOT, "bench-out", "peers-venv", "bin", "python")
    if os.access(peers_py, os.X_OK):
        ok = run([peers_py, "-c", "import pystripe"]).returncode == 0
        if ok:
            correctors.append(("pystripe", [peers_py, os.path.join(ROOT, "bench", "peers", "pystripe_correct.py")], False))
        else:
            notes.append("pystripe not importable in the peers venv")
        ok = run([peers_py, "-c", "import basicpy"]).returncode == 0
        if ok:
            correctors.append(("BaSiC", [peers_py, os.path.join(ROOT, "bench", "peers", "basic_correct.py")], True))
        else:
            notes.append("basicpy not importable in the peers venv")
    else:
        notes.append(f"no peers venv at {peers_py} (bash bench/peers/setup.sh): peers skipped")

    cases = []
    real = os.path.join(DATA, "wsi_brain", "tiles", REAL_TILE)
    for i, (kind, lo, hi, extra) in enumerate(KINDS):
        for level, s in (("low", lo), ("high", hi)):
            name = f"{kind}-{level}"
            if a.only and a.only not in name:
                continue
            spec = f"{kind}:strength={s},seed={i + 1}{extra}"
            if level == "low" and os.path.exists(real):
                content, args = "real u16", ["-i", real]
            else:
                t, c = PROCEDURAL[i % len(PROCEDURAL)]
                content = f"synth {t}{' rgb' if c == 3 else ''}"
                args = ["-s", "512x512", "-T", t, "-c", str(c), "--seed", str(100 + i)]
            cases.append((name, content, spec, args, kind in STRIPE_KINDS))

    rows = []
    for name, content, spec, args, striped in cases:
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        inp, truth, geo = (os.path.join(d, f) for f in ("input.tif", "input.truth.tif", "input.truth.txt"))
        r = run([sscor, "synth", "-d", spec, *args, inp])
        if r.returncode:
            sys.exit(f"quality: synth {name}: {r.stderr.strip()}")
        m = metrics(sscor, inp, truth=truth, geo=geo)["input_metrics"]
        rows.append([name, content, "input", m.get("psnr"), m.get("ssim"), 100.0 if striped else "-",
                     "-" if striped else 100.0, m.get("seam_ratio"), None, None])
        for label, argv, needs_geo in correctors:
            out = os.path.join(d, f"{label}.tif")
            cmd = argv + [inp, out] + ([geo] if needs_geo else [])
            t0 = time.perf_counter()
            r = run(cmd)
            dt = time.perf_counter() - t0
            with open(os.path.join(d, f"{label}.log"), "w") as f:
                f.write(r.stderr)
            if r.returncode == 3 and needs_geo:
                rows.append([name, content, label, "n/a (needs an axis-aligned tile grid)", None, None, None, None, None, None])
                continue
            if r.returncode or not os.path.exists(out):
                msg = (r.stderr.strip().splitlines() or ['?'])[-1]
                # a refusal (nothing safe to correct) is not a failure: show its reason
                for why in ("no stripes found", "no reliable correction found"):
                    if why in msg:
                        msg = f"refused: {why}"  # the reason in full: DIR/CASE/sscor.log
                        break
                else:
                    msg = f"failed: {msg[:60]}"
                rows.append([name, content, label, msg, None, None, None, None, None, dt])
                continue
            mm = metrics(sscor, inp, out, truth=truth, geo=geo, plot=os.path.join(d, f"{label}.png"))
            c = mm["corrected_metrics"]
            rows.append([name, content, label, c.get("psnr"), c.get("ssim"),
                         c.get("stripe_pct") if striped else "-", "-" if striped else c.get("tile_pct"),
                         c.get("seam_ratio"), c.get("fidelity_pct"), dt])

    lines = []
    lines.append("| case | content | method | PSNR dB | SSIM | stripe % | tile % | seam ratio | fidelity % | time s |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        lines.append("| " + " | ".join([r[0], r[1], r[2], fmt(r[3]), fmt(r[4], 4), fmt(r[5], 1), fmt(r[6], 1),
                                         fmt(r[7]), fmt(r[8], 3), fmt(r[9], 2)]) + " |")

    if not a.no_wsi:
        st = os.path.join(DATA, "wsi_brain", "stitched.tif")
        tp = os.path.join(DATA, "wsi_brain", "tile_positions.txt")
        if os.path.exists(st):
            lines.append("")
            lines.append("wsi_brain stitched.tif (real, no ground truth; tile edges from tile_positions.txt):")
            lines.append("")
            lines.append("| method | seam step | seam ratio | texture | tissue/bg | ICV | fidelity % | time s |")
            lines.append("|---|---|---|---|---|---|---|---|")
            m = metrics(sscor, st, tiles=tp)["input_metrics"]
            lines.append(f"| input | {fmt(m['seam_step'], 4)} | {fmt(m['seam_ratio'])} | {fmt(m['texture'], 1)} | "
                         f"{fmt(m['tissue_bg'])} | {fmt(m['icv'], 3)} | - | - |")
            for label, argv, needs_geo in correctors:
                if needs_geo:
                    lines.append(f"| {label} | n/a: needs the raw tiles and a re-stitch | | | | | | |")
                    continue
                out = os.path.join(a.out, f"wsi_brain-{label}.tif")
                t0 = time.perf_counter()
                r = run(argv + [st, out])
                dt = time.perf_counter() - t0
                if r.returncode or not os.path.exists(out):
                    lines.append(f"| {label} | failed: {(r.stderr.strip().splitlines() or ['?'])[-1][:60]} | | | | | | |")
                    continue
                c = metrics(sscor, st, out, tiles=tp)["corrected_metrics"]
                lines.append(f"| {label} | {fmt(c['seam_step'], 4)} | {fmt(c['seam_ratio'])} | {fmt(c['texture'], 1)} | "
                             f"{fmt(c['tissue_bg'])} | {fmt(c['icv'], 3)} | {fmt(c['fidelity_pct'], 3)} | {dt:.1f} |")
    if notes:
        lines.append("")
        lines += [f"note: {n}" for n in notes]
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
