"""PyTorch peer of `dim bench`: the same DIM(L) training step and the same encoder inference.

The encoders mirror the project's basic28x28 and basic32x32 (encoder/convnet.go, the reference's
cortex_DIM/configs/convnets.py): convolutions each with BatchNorm and ReLU, fc 1024 with BatchNorm
and ReLU, a linear Y of 64 units; the local map is the second convolution's output (7x7x128 and
8x8x128). The local and global MI networks are the reference's MI1x1ConvNet (a 1x1 conv block with
a linear shortcut and LayerNorm), the losses its JSD, infoNCE and DV.

Modes:
  time   median milliseconds per training step (forward, backward, Adam 1e-4) on random images;
         compare with `dim bench --arch ARCH --mi-units N`
  embed  images per second of the encoder's inference (eval mode, no gradients, batches of 500)
         on random images, all three taps (conv, fc, Y) computed; compare with
         `dim bench --embed --arch ARCH`
  gemm   GFLOP/s of float32 square matrix products (torch.mm) for each --n; compare with
         `go test -run XXX -bench 'Sgemm/n=(1024|2048)$' ./kernels`

Examples:
  python3 scripts/torch_peer.py time --arch basic32x32 --mi-units 512
  python3 scripts/torch_peer.py embed --arch basic28x28
  python3 scripts/torch_peer.py gemm --n 1024 2048

This project's machine pins OpenBLAS to its Haswell (AVX2) kernel in the environment
(OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE); on a Linux CPU with AVX-512 the script re-runs itself
(the same interpreter) without the pins and with PyTorch's AVX-512 kernels enabled, as on a
user's machine: the same as `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
ATEN_CPU_CAPABILITY=avx512`. Set TORCH_PEER_KEEP_ENV=1 to keep the environment as it is.
Threads: all cores by default, as the Go side (GOMAXPROCS). Needs PyTorch (Debian:
python3-torch, with libopenblas0-pthread).
"""
import os
import sys


def _has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512f" in f.read()
    except OSError:
        return False


if os.environ.get("TORCH_PEER_KEEP_ENV") != "1" and _has_avx512():
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.setdefault("ATEN_CPU_CAPABILITY", "avx512")
    env["TORCH_PEER_KEEP_ENV"] = "1"
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import argparse
import json
import math
import statistics
import time

try:
    import torch
except ImportError:
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        # Debian's PyTorch lives in the system interpreter; another python3 may be first on PATH.
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise SystemExit(f"PyTorch is missing from {sys.executable}: apt-get install python3-torch (or pip install torch)")
import torch.nn as nn
import torch.nn.functional as F

# name: (input channels, size, convs as (out, kernel, stride, pad), local layer index)
ARCHS = {
    "basic28x28": (1, 28, [(64, 5, 2, 2), (128, 5, 2, 2)], 1),
    "basic32x32": (3, 32, [(64, 4, 2, 1), (128, 4, 2, 1), (256, 4, 2, 1)], 1),
}


class Encoder(nn.Module):
    def __init__(self, arch, out=64):
        super().__init__()
        ch, size, convs, self.local = ARCHS[arch]
        layers = []
        for o, k, s, p in convs:
            layers.append(nn.Sequential(nn.Conv2d(ch, o, k, s, p), nn.BatchNorm2d(o), nn.ReLU()))
            size = (size + 2 * p - k) // s + 1
            ch = o
        self.convs = nn.ModuleList(layers)
        self.fc = nn.Sequential(nn.Linear(ch * size * size, 1024), nn.BatchNorm1d(1024), nn.ReLU())
        self.y = nn.Linear(1024, out)
        self.local_channels = convs[self.local][0]

    def forward(self, x):
        local = None
        for i, c in enumerate(self.convs):
            x = c(x)
            if i == self.local:
                local = x
        fc = self.fc(x.flatten(1))
        return local, x, fc, self.y(fc)


class MI1x1(nn.Module):
    """The reference's MI1x1ConvNet: a 1x1 conv block plus a linear shortcut, then LayerNorm."""

    def __init__(self, n_in, n_units):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(n_in, n_units, 1, bias=False), nn.BatchNorm2d(n_units), nn.ReLU(),
                                   nn.Conv2d(n_units, n_units, 1))
        self.short = nn.Conv2d(n_in, n_units, 1, bias=False)
        self.ln = nn.LayerNorm(n_units)
        if n_units >= n_in:
            with torch.no_grad():
                self.short.weight.uniform_(-0.01, 0.01)
                for i in range(n_in):
                    self.short.weight[i, i] = 1.0

    def forward(self, x):
        h = self.block(x) + self.short(x)
        return self.ln(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def scores(l, m):
    """u[i, j, k]: global vector of image i against location k of image j's local map."""
    n, units, nl = l.shape
    u = torch.mm(m.permute(0, 2, 1).reshape(-1, units), l.permute(0, 2, 1).reshape(-1, units).t())
    return u.reshape(n, n, nl)


def jsd_loss(l, m):
    u = scores(l, m)
    mask = torch.eye(len(u))
    e_pos = (math.log(2.) - F.softplus(-u)).mean(2)
    e_neg = (F.softplus(-u) + u - math.log(2.)).mean(2)
    return (e_neg * (1 - mask)).sum() / (1 - mask).sum() - (e_pos * mask).sum() / mask.sum()


def nce_loss(l, m):
    n, units, nl = l.shape
    u_p = torch.matmul(l.permute(0, 2, 1), m).unsqueeze(2)  # n, nl, 1, 1
    u_n = scores(l, m).unsqueeze(3)  # n, n, nl, 1
    mask = torch.eye(n)[:, :, None, None]
    u_n = ((1 - mask) * u_n) - 10.0 * mask
    u_n = u_n.reshape(n, n * nl, 1).unsqueeze(1).expand(-1, nl, -1, -1)
    return -F.log_softmax(torch.cat([u_p, u_n], 2), 2)[:, :, 0].mean()


def dv_loss(l, m):
    # log of the sum of e^u over every negative score over N(N-1) (as mi.donskerVaradhan and the
    # reference) minus the mean positive score
    u = scores(l, m)
    n = len(u)
    mask = torch.eye(n)
    e_pos = (u.mean(2) * mask).sum() / n
    neg = u[(1 - mask).bool()]  # [N(N-1), L]
    return torch.logsumexp(neg.flatten(), 0) - math.log(n * (n - 1)) - e_pos


LOSSES = dict(jsd=jsd_loss, nce=nce_loss, dv=dv_loss)


class DIM(nn.Module):
    def __init__(self, arch, mi_units):
        super().__init__()
        self.enc = Encoder(arch)
        self.lnet = MI1x1(self.enc.local_channels, mi_units)
        self.gnet = MI1x1(64, mi_units)

    def loss(self, x, measure):
        local, _, _, y = self.enc(x)
        L = self.lnet(local).flatten(2)
        G = self.gnet(y[:, :, None, None]).flatten(2)
        return LOSSES[measure](L, G)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["time", "embed", "gemm"])
    p.add_argument("--n", type=int, nargs="+", default=[1024, 2048], help="gemm: the sizes of the square products")
    p.add_argument("--arch", default="basic28x28", choices=list(ARCHS))
    p.add_argument("--measure", default="jsd", choices=list(LOSSES))
    p.add_argument("--batch", type=int, default=0, help="64 for time, 500 for embed (default)")
    p.add_argument("--steps", type=int, default=20, help="timed steps (time) or batches (embed)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="default: all cores, as the Go side")
    p.add_argument("--mi-units", type=int, default=512)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ch, size, _, _ = ARCHS[a.arch]
    times = []
    if a.mode == "gemm":
        for n in a.n:
            x, y = torch.randn(n, n), torch.randn(n, n)
            times = []
            for i in range(a.warmup + a.steps):
                t = time.perf_counter()
                torch.mm(x, y)
                if i >= a.warmup:
                    times.append(time.perf_counter() - t)
            gflops = 2 * n ** 3 / statistics.median(times) / 1e9
            res = dict(peer="torch", mode="gemm", torch=torch.__version__, n=n, threads=a.threads, gflops=round(gflops, 1))
            print(json.dumps(res) if a.json else f"torch {torch.__version__} mm n={n} threads={a.threads}: {gflops:.1f} GFLOP/s (median of {a.steps})")
        return
    if a.mode == "time":
        batch = a.batch or 64
        model = DIM(a.arch, a.mi_units)
        opt = torch.optim.Adam(model.parameters(), 1e-4)
        x = torch.randn(batch, ch, size, size)
        for i in range(a.warmup + a.steps):
            t = time.perf_counter()
            opt.zero_grad()
            model.loss(x, a.measure).backward()
            opt.step()
            if i >= a.warmup:
                times.append(time.perf_counter() - t)
        ms = 1000 * statistics.median(times)
        res = dict(peer="torch", mode="time", torch=torch.__version__, arch=a.arch, batch=batch, measure=a.measure,
                   mi_units=a.mi_units, threads=a.threads, median_ms=round(ms, 2))
        text = (f"torch {torch.__version__} {a.arch} batch={batch} measure={a.measure} mi_units={a.mi_units} "
                f"threads={a.threads}: median {ms:.1f} ms/step")
    else:
        batch = a.batch or 500
        enc = Encoder(a.arch).eval()
        # 8-bit images, converted and normalised per batch as dim embed does
        pix = torch.randint(0, 256, (batch, ch, size, size), dtype=torch.uint8)
        with torch.no_grad():
            for i in range(a.warmup + a.steps):
                t = time.perf_counter()
                x = (pix.float() / 255 - 0.5) / 0.5
                local, conv, fc, y = enc(x)
                # what dim embed hands out: the conv, fc and Y features as contiguous rows
                conv.flatten(1).contiguous(), fc.contiguous(), y.contiguous()
                if i >= a.warmup:
                    times.append(time.perf_counter() - t)
        per_s = batch / statistics.median(times)
        res = dict(peer="torch", mode="embed", torch=torch.__version__, arch=a.arch, batch=batch, threads=a.threads,
                   images_per_s=round(per_s, 1))
        text = (f"torch {torch.__version__} {a.arch} inference batch={batch} threads={a.threads}: "
                f"{per_s:.0f} images/s (median of {a.steps} batches)")
    print(json.dumps(res) if a.json else text)


if __name__ == "__main__":
    main()
