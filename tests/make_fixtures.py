#!/usr/bin/python3
"""Builds the reference fixtures for tests/test_nets.c and tests/test_trainer.c.

Runs the SSCOR networks (ResNet generator, PatchGAN discriminator) and one
CycleGAN training iteration in PyTorch (CPU, float32) with small configs, and
writes weights, inputs and results to tests/fixtures/*.bin.

    /usr/bin/python3 tests/make_fixtures.py      (torch 1.13, numpy)

File format (little-endian), a sequence of records until end of file:
    u32 name_len, name bytes (ASCII), u32 dtype (0 = float32, 1 = float16),
    u32 ndim, u32 dims[ndim], data (prod(dims) values of dtype)
Weights are drawn N(0, 0.02) (biases too, so bias handling is tested) and
rounded to float16, so storing them as float16 loses nothing and keeps the
files small; the networks run on those exact values in float32. A network's
parameters are stored as one flat vector in PyTorch's parameters() order
(per layer: weight, then bias; conv OIHW, transposed conv IOHW), which is
the order core/nets.h uses. Records named "X@OFF" hold a slice of a flat
vector starting at element OFF.
"""
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")


# ---------------------------------------------------------------- networks
class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


class Generator(nn.Module):
    """resnet_Nblocks generator of the CycleGAN/SSCOR code (norm=instance,
    no dropout). residual=True is sscor's identity-start variant:
    out = x + tanh(last conv)."""

    def __init__(self, cin, cout, ngf, nblocks, residual=False):
        super().__init__()
        self.residual = residual
        L = [nn.ReflectionPad2d(3), nn.Conv2d(cin, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for i in range(2):
            m = 2 ** i
            L += [nn.Conv2d(ngf * m, ngf * m * 2, 3, stride=2, padding=1),
                  nn.InstanceNorm2d(ngf * m * 2), nn.ReLU(True)]
        for _ in range(nblocks):
            L += [ResBlock(ngf * 4)]
        for i in range(2):
            m = 2 ** (2 - i)
            L += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, stride=2, padding=1, output_padding=1),
                  nn.InstanceNorm2d(ngf * m // 2), nn.ReLU(True)]
        L += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, cout, 7), nn.Tanh()]
        self.model = nn.Sequential(*L)

    def forward(self, x):
        y = self.model(x)
        return x + y if self.residual else y


class Discriminator(nn.Module):
    """NLayerDiscriminator (70x70 PatchGAN for n_layers=3), norm=instance."""

    def __init__(self, cin, ndf, n_layers):
        super().__init__()
        L = [nn.Conv2d(cin, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            L += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1), nn.InstanceNorm2d(ndf * mult),
                  nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        L += [nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1), nn.InstanceNorm2d(ndf * mult),
              nn.LeakyReLU(0.2, True)]
        L += [nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
        self.model = nn.Sequential(*L)

    def forward(self, x):
        return self.model(x)


def init_f16(net, gen):
    with torch.no_grad():
        for p in net.parameters():
            v = torch.randn(p.shape, generator=gen) * 0.02
            p.copy_(v.half().float())


def flat(net):
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()])


def flat_grad(net):
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                      for p in net.parameters()])


def param_offsets(net):
    offs, o = [], 0
    for p in net.parameters():
        offs.append((o, p.numel()))
        o += p.numel()
    return offs


# ---------------------------------------------------------------- writing
class Writer:
    def __init__(self, path):
        self.path = path
        self.buf = bytearray()

    def add(self, name, arr, f16=False):
        a = np.ascontiguousarray(arr.detach().numpy() if torch.is_tensor(arr) else arr)
        a = a.astype("<f2" if f16 else "<f4")
        nb = name.encode("ascii")
        self.buf += struct.pack("<I", len(nb)) + nb
        self.buf += struct.pack("<II", 1 if f16 else 0, a.ndim)
        self.buf += struct.pack("<%dI" % a.ndim, *a.shape)
        self.buf += a.tobytes()

    def close(self):
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(self.buf)
        os.replace(tmp, self.path)
        print("%s: %d bytes" % (self.path, len(self.buf)))


def smooth_image(gen, c, h, w):
    """Tissue-like content in [-1, 1]: blurred noise."""
    x = torch.randn((1, c, h, w), generator=gen)
    k = torch.ones(c, 1, 5, 5) / 25.0
    x = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=c)
    return torch.tanh(2.0 * x)


# ---------------------------------------------------------------- fixtures
def forward_fixtures(gen):
    """Other shapes than the training fixture: 3 channels, non-square input,
    one residual block, the identity-start (residual) output, 2-layer D."""
    w = Writer(os.path.join(OUT, "nets_forward.bin"))
    cases = [
        # name, generator args, input shape
        ("g2", dict(cin=3, cout=3, ngf=4, nblocks=1, residual=True), (1, 3, 28, 36)),
    ]
    for name, args, shape in cases:
        net = Generator(args["cin"], args["cout"], args["ngf"], args["nblocks"], args["residual"])
        init_f16(net, gen)
        x = smooth_image(gen, shape[1], shape[2], shape[3])
        with torch.no_grad():
            y = net(x)
        w.add(name + ".config", np.array([args["cin"], args["cout"], args["ngf"], args["nblocks"],
                                          int(args["residual"])], np.float32))
        w.add(name + ".params", flat(net), f16=True)
        w.add(name + ".x", x)
        w.add(name + ".y", y)
    dcases = [
        ("d2", dict(cin=3, ndf=4, n_layers=2), (1, 3, 28, 36)),
    ]
    for name, args, shape in dcases:
        net = Discriminator(args["cin"], args["ndf"], args["n_layers"])
        init_f16(net, gen)
        x = smooth_image(gen, shape[1], shape[2], shape[3])
        with torch.no_grad():
            y = net(x)
        w.add(name + ".config", np.array([args["cin"], args["ndf"], args["n_layers"]], np.float32))
        w.add(name + ".params", flat(net), f16=True)
        w.add(name + ".x", x)
        w.add(name + ".y", y)
    w.close()


class ImagePool:
    """CycleGAN's history of generated images: while filling, store and
    return the new image; then with p=0.5 return a random stored one and
    keep the new one in its place."""

    def __init__(self, size, rng=None):
        self.size, self.images, self.rng = size, [], rng

    def query(self, img):
        if self.size == 0:
            return img
        if len(self.images) < self.size:
            self.images.append(img.detach().clone())
            return img
        if self.rng.random() > 0.5:
            i = self.rng.randrange(self.size)
            old = self.images[i]
            self.images[i] = img.detach().clone()
            return old
        return img


class CycleGAN:
    """One training iteration (batch 1): a G step, then a D step, as the
    CycleGAN/SSCOR code's optimize_parameters(): LSGAN, cycle L1 lambda,
    identity L1 lambda * lam_idt, Adam(lr, 0.5, 0.999), history pools.
    A = X = artifact (stripe) domain, B = Y = clean domain."""

    def __init__(self, G_C, G_S, D_X, D_Y, lr=2e-4, lam=10.0, lam_idt=0.5, pool=50, rng=None):
        self.G_C, self.G_S, self.D_X, self.D_Y = G_C, G_S, D_X, D_Y
        self.lam, self.lam_idt = lam, lam_idt
        self.opt_G = torch.optim.Adam(list(G_C.parameters()) + list(G_S.parameters()), lr=lr, betas=(0.5, 0.999))
        self.opt_D = torch.optim.Adam(list(D_X.parameters()) + list(D_Y.parameters()), lr=lr, betas=(0.5, 0.999))
        self.pool_X, self.pool_Y = ImagePool(pool, rng), ImagePool(pool, rng)

    def step(self, real_A, real_B, keep_grads=False):
        mse, l1 = nn.MSELoss(), nn.L1Loss()
        G_C, G_S, D_X, D_Y, lam = self.G_C, self.G_S, self.D_X, self.D_Y, self.lam
        out = {}
        fake_B = G_C(real_A)
        rec_A = G_S(fake_B)
        fake_A = G_S(real_B)
        rec_B = G_C(fake_A)
        # G step (discriminators frozen)
        for d in (D_X, D_Y):
            for p in d.parameters():
                p.requires_grad_(False)
        self.opt_G.zero_grad()
        loss_idt_A = l1(G_C(real_B), real_B) * lam * self.lam_idt
        loss_idt_B = l1(G_S(real_A), real_A) * lam * self.lam_idt
        pa = D_Y(fake_B)
        loss_G_A = mse(pa, torch.ones_like(pa))
        pb = D_X(fake_A)
        loss_G_B = mse(pb, torch.ones_like(pb))
        loss_cyc_A = l1(rec_A, real_A) * lam
        loss_cyc_B = l1(rec_B, real_B) * lam
        loss_G = loss_G_A + loss_G_B + loss_cyc_A + loss_cyc_B + loss_idt_A + loss_idt_B
        loss_G.backward()
        if keep_grads:
            out["gG"] = {"G_C": flat_grad(G_C).clone(), "G_S": flat_grad(G_S).clone()}
        self.opt_G.step()
        # D step
        for d in (D_X, D_Y):
            for p in d.parameters():
                p.requires_grad_(True)
        self.opt_D.zero_grad()

        def backward_D(D, real, fake):
            pr = D(real)
            pf = D(fake.detach())
            loss = (mse(pr, torch.ones_like(pr)) + mse(pf, torch.zeros_like(pf))) * 0.5
            loss.backward()
            return loss

        loss_D_Y = backward_D(D_Y, real_B, self.pool_Y.query(fake_B))
        loss_D_X = backward_D(D_X, real_A, self.pool_X.query(fake_A))
        if keep_grads:
            out["gD"] = {"D_X": flat_grad(D_X).clone(), "D_Y": flat_grad(D_Y).clone()}
        self.opt_D.step()
        # order: G_C adv, G_S adv, cycle X, cycle Y, idt (G_C on Y), idt (G_S on X), D_Y, D_X
        out["losses"] = [loss_G_A, loss_G_B, loss_cyc_A, loss_cyc_B, loss_idt_A, loss_idt_B, loss_D_Y, loss_D_X]
        out.update(fake_B=fake_B, rec_A=rec_A, fake_A=fake_A, rec_B=rec_B)
        return out


def train_step_fixture(gen):
    """One CycleGAN iteration with LSGAN, lambda 10, identity 0.5,
    Adam(2e-4, 0.5, 0.999); the pool is still filling, so it returns the
    new fakes."""
    w = Writer(os.path.join(OUT, "train_step.bin"))
    G_C = Generator(1, 1, 8, 2)   # corrects: stripe (X, "A") -> clean (Y, "B")
    G_S = Generator(1, 1, 8, 2)   # synthesises: clean -> stripe
    D_X = Discriminator(1, 8, 3)  # judges stripe images
    D_Y = Discriminator(1, 8, 3)  # judges clean images
    nets = dict(G_C=G_C, G_S=G_S, D_X=D_X, D_Y=D_Y)
    for k, n in nets.items():
        init_f16(n, gen)
        w.add(k + ".params", flat(n), f16=True)

    H = W = 32
    clean = smooth_image(gen, 1, H, W)
    # A stripe image: a different patch with a vertical seam of lowered gain.
    other = smooth_image(gen, 1, H, W)
    gain = torch.ones(1, 1, H, W)
    gain[..., 14:18] = 0.6
    real_A = ((other + 1.0) * gain - 1.0).clamp(-1, 1)
    real_B = clean
    w.add("real_x", real_A)
    w.add("real_y", real_B)
    with torch.no_grad():  # whole-network forward checks for the paper-shaped configs
        w.add("dy_real", D_Y(real_B))
        w.add("dx_real", D_X(real_A))

    r = CycleGAN(G_C, G_S, D_X, D_Y).step(real_A, real_B, keep_grads=True)
    w.add("losses", np.array([float(v) for v in r["losses"]], np.float32))
    w.add("fake_y", r["fake_B"])
    w.add("rec_x", r["rec_A"])
    w.add("fake_x", r["fake_A"])
    w.add("rec_y", r["rec_B"])
    grads = dict(r["gG"], **r["gD"])
    for k, n in nets.items():
        offs = param_offsets(n)
        after = flat(n)
        # first layer weight + bias, and the last layer's weight + bias
        pick = [offs[0], offs[1], offs[-2], offs[-1]]
        for (o, cnt) in pick:
            w.add("%s.grad@%d" % (k, o), grads[k][o:o + cnt])
            w.add("%s.after@%d" % (k, o), after[o:o + cnt])
        w.add(k + ".grad_abs_sum", np.array([float(grads[k].abs().sum())], np.float32))
    w.close()


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20230911)
    forward_fixtures(gen)
    train_step_fixture(gen)


if __name__ == "__main__":
    main()
