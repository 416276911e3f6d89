#!/usr/bin/python3
"""PyTorch side of the engine benchmark: the identical networks (built by
tests/make_fixtures.py's Generator / Discriminator / CycleGAN) with 2 threads,
timed the same way as bench/bench_engine.c (median of several runs after a
warm-up), then the combined table with the engine's results.

    /usr/bin/python3 bench/bench_torch.py --engine results.tsv [--dump DIR]
        [--threads 2] [--reps 5] [--train-reps 3]

--dump DIR: the paper generator's weights, input and output written by
bench_engine --dump; PyTorch runs the same weights on the same input and the
maximum absolute difference of the outputs is printed (the "same output"
condition of the comparison).
"""
import argparse
import os
import random
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from make_fixtures import CycleGAN, Discriminator, Generator  # noqa: E402

# Presets as core/trainer.c defines them (paper: RGB, cpu: gray).
PAPER = dict(ngf=64, blocks=9, residual=False, ndf=64, layers=3, ch=3)
CPU = dict(ngf=8, blocks=2, residual=False, ndf=8, layers=3, ch=1, patch=64)


class GainGenerator(Generator):
    """sscor's identity-start gain output: y = (x + 1) * (1 + tanh(conv)) - 1."""

    def forward(self, x):
        return (x + 1.0) * (1.0 + self.model(x)) - 1.0


def make_gen(p, gain=False):
    cls = GainGenerator if gain else Generator
    return cls(p["ch"], p["ch"], p["ngf"], p["blocks"])


def gen_flops(g, h, w):
    """2 x multiply-adds of the convolutions of one forward pass (as the engine counts)."""
    total = 0
    hooks = []

    def conv_hook(m, inp, out):
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1]
        if isinstance(m, torch.nn.ConvTranspose2d):
            total += 2 * inp[0].numel() * m.out_channels * k
        else:
            total += 2 * out.numel() * m.in_channels * k

    for m in g.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            hooks.append(m.register_forward_hook(conv_hook))
    with torch.no_grad():
        g(torch.zeros(1, next(g.parameters()).shape[1] if False else g_in(g), h, w))
    for hk in hooks:
        hk.remove()
    return total


def g_in(g):
    for m in g.modules():
        if isinstance(m, torch.nn.Conv2d):
            return m.in_channels
    raise ValueError


def time_median(fn, reps):
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def bench_forward(g, ch, P, reps):
    x = torch.rand(1, ch, P, P) * 2 - 1
    g.eval()

    def run():
        with torch.no_grad():
            g(x)

    return time_median(run, reps)


def bench_train(p, P, reps, gain=False):
    torch.manual_seed(0)
    nets = [make_gen(p, gain), make_gen(p, gain), Discriminator(p["ch"], p["ndf"], p["layers"]),
            Discriminator(p["ch"], p["ndf"], p["layers"])]
    for n in nets:
        for q in n.parameters():
            torch.nn.init.normal_(q, 0.0, 0.02)
    gan = CycleGAN(*nets, rng=random.Random(0))
    a = torch.rand(1, p["ch"], P, P) * 2 - 1
    b = torch.rand(1, p["ch"], P, P) * 2 - 1
    return time_median(lambda: gan.step(a, b), reps)


def check_same_output(dump):
    cfg = open(os.path.join(dump, "gen_config.txt")).read().split()
    cin, cout, ngf, blocks, output, P = map(int, cfg)
    g = GainGenerator(cin, cout, ngf, blocks) if output == 2 else Generator(cin, cout, ngf, blocks, output == 1)
    flat = torch.from_numpy(np.fromfile(os.path.join(dump, "gen_params.f32"), dtype="<f4"))
    off = 0
    with torch.no_grad():
        for q in g.parameters():
            q.copy_(flat[off:off + q.numel()].view_as(q))
            off += q.numel()
    assert off == flat.numel(), "parameter count differs"
    x = torch.from_numpy(np.fromfile(os.path.join(dump, "gen_x.f32"), dtype="<f4")).view(1, cin, P, P)
    y = np.fromfile(os.path.join(dump, "gen_y.f32"), dtype="<f4").reshape(1, cout, P, P)
    with torch.no_grad():
        yt = g(x).numpy()
    return float(np.abs(yt - y).max()), float(np.abs(yt).max()), P


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True, help="TSV written by bench_engine --out")
    ap.add_argument("--dump", help="folder written by bench_engine --dump")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--train-reps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)  # PyTorch defaults to 1 thread here
    eng = {}
    peak = None
    for line in open(a.engine):
        name, what, sec, mpix, gflop = line.rstrip("\n").split("\t")
        if what == "peak":
            peak = float(gflop) / float(sec)
        else:
            eng[(name, what)] = (float(sec), float(mpix), float(gflop))

    torch_t = {}
    for (name, what) in eng:
        parts = name.split()
        p = PAPER if parts[0] == "paper" else CPU
        P = int(parts[-1])
        if what == "forward":
            g = make_gen(p, gain=parts[0] == "cpu")
            torch_t[(name, what)] = bench_forward(g, p["ch"], P, a.reps)
        else:
            torch_t[(name, what)] = bench_train(p, P, a.train_reps, gain=parts[0] == "cpu")
        print("torch %-18s %-10s %8.1f ms" % (name, what, torch_t[(name, what)] * 1e3), file=sys.stderr)

    print()
    print("fp32 peak (oneDNN sgemm 2048^3, %d threads): %.0f GFLOP/s" % (a.threads, peak or 0))
    print()
    hdr = "| network | pass | sscor ms | PyTorch ms | speed-up | sscor MP/s | PyTorch MP/s | sscor GFLOP/s (% peak) | PyTorch GFLOP/s |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for key in eng:
        sec, mpix, gflop = eng[key]
        tt = torch_t[key]
        mp_s = "%.3f" % (mpix / sec) if mpix else "-"
        mp_t = "%.3f" % (mpix / tt) if mpix else "-"
        approx = ""
        print("| %s | %s | %.1f | %.1f | %.2fx | %s | %s | %s%.0f (%.0f %%) | %s%.0f |" % (
            key[0], key[1], sec * 1e3, tt * 1e3, tt / sec, mp_s, mp_t, approx, gflop / sec,
            100 * gflop / sec / peak if peak else 0, approx, gflop / tt))
    if a.dump:
        d, m, P = check_same_output(a.dump)
        print()
        print("same output: paper generator %dx%d, same weights and input: max |sscor - PyTorch| = %.2e "
              "(outputs up to %.2f)" % (P, P, d, m))


if __name__ == "__main__":
    main()
