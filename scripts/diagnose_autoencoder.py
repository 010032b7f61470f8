"""Where does an iSTFT autoencoder lose the notes? The measurements behind data/checkpoints/README.md's "Where the
notes are lost" (notebook 05's codec, `helpers.autoencoder`).

    .venv/bin/python scripts/diagnose_autoencoder.py --model data/checkpoints/codec_istft.pt

Prints, on held-out chorale clips (the one scale's held-out half, `helpers.audio_eval.chorale_halves`, seed 0):

1. frame chroma (power of the model's own STFT frames folded onto 12 pitch classes) of the decoder's predicted
   magnitudes and of the re-analysed output, and the energy each holds relative to the clip;
2. quality (chroma, log-mel, SI-SNR) of four mixes: model or true magnitude with model or true phase;
3. a linear probe (ridge, five neighbouring frames, fitted on train clips) of frame chroma from the encoder's latents,
   the quantised latents (1 and all codebooks), the decoder's last hidden layer, and the log-spectrum;
4. the chroma kept by the best rank-r linear subspace of the clips' log-magnitude frames (true phase).

Runs on one thread in a few minutes. Seeds fixed; no file is written.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers import audio_eval  # noqa: E402
from helpers import autoencoder as ae  # noqa: E402
from helpers.audio_corpus import AudioCorpus  # noqa: E402
from helpers.pitch import chroma_filterbank  # noqa: E402


def frame_chroma(mag: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
    """|STFT| (B, F, N) -> unit chroma rows (B*N, 12) of its power (a silent frame stays zero)."""
    c = fb @ mag.pow(2)  # (B, 12, N)
    c = c / c.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return c.permute(0, 2, 1).reshape(-1, 12)


def with_context(f: torch.Tensor, k: int = 2) -> torch.Tensor:
    """(B, D, L) -> rows (B*L, (2k+1) D): each frame with its k neighbours on each side (zeros past the ends)."""
    p = torch.nn.functional.pad(f, (k, k))
    return torch.cat([p[:, :, i : i + f.shape[-1]] for i in range(2 * k + 1)], 1).permute(0, 2, 1).reshape(-1, (2 * k + 1) * f.shape[1])


def ridge_cosine(xtr, ytr, xte, yte, lam: float = 10.0) -> float:
    """Mean cosine between held-out unit targets and a ridge regression's (clamped, renormalised) predictions."""
    keep_tr, keep_te = ytr.norm(dim=1) > 0, yte.norm(dim=1) > 0
    a = xtr[keep_tr]
    mu, sd = a.mean(0), a.std(0) + 1e-6
    a = torch.cat([(a - mu) / sd, torch.ones(len(a), 1)], 1)
    w = torch.linalg.solve(a.T @ a + lam * torch.eye(a.shape[1]), a.T @ ytr[keep_tr])
    b = torch.cat([(xte[keep_te] - mu) / sd, torch.ones(int(keep_te.sum()), 1)], 1)
    p = (b @ w).clamp_min(0)
    p = p / p.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return float((p * yte[keep_te]).sum(1).mean())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "data" / "checkpoints" / "codec_istft.pt"))
    p.add_argument("--n-held", type=int, default=24, help="held-out clips for measures 1, 2 and 4 (the probe: twice)")
    p.add_argument("--n-train", type=int, default=400, help="train clips the probe and the subspace are fitted on")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = AudioCorpus.build(verbose=False)
    sr = corpus.recipe.sr
    attrs = corpus.attributes("valid") + corpus.attributes("test")
    pool = np.concatenate([corpus.clips("valid"), corpus.clips("test")]).astype(np.float32)
    _, held = audio_eval.chorale_halves(attrs, np.random.default_rng(0))
    x = torch.from_numpy(pool[held[: args.n_held]])
    x_probe = torch.from_numpy(pool[held[: 2 * args.n_held]])
    x_train = torch.from_numpy(corpus.clips("train")[: args.n_train].astype(np.float32))
    m = ae.load_checkpoint(args.model).eval()
    c = m.config
    n_fft, hop = c.n_fft, c.synthesis_hop
    fb = torch.from_numpy(chroma_filterbank(sr, n_fft, 55.0, 5000.0, kernel="nearest")).float()

    with torch.no_grad():
        out = m(x)
    S = ae.stft_same(x, n_fft, hop)
    P = out.spectrum
    R = ae.stft_same(out.audio, n_fft, hop)
    true_c = frame_chroma(S.abs(), fb)
    sounding = true_c.norm(dim=1) > 0
    cos = lambda a, b: float((a * b).sum(1)[sounding].mean())  # noqa: E731
    energy = lambda a: float(a.abs().pow(2).sum() / S.abs().pow(2).sum())  # noqa: E731
    print(f"1. frame chroma: predicted magnitudes {cos(true_c, frame_chroma(P.abs(), fb)):.3f}, re-analysed output "
          f"{cos(true_c, frame_chroma(R.abs(), fb)):.3f}; energy: predicted frames {energy(P):.3f}, output {energy(R):.3f}")

    def quality(mag, phase):
        y = ae.istft_same(torch.polar(mag, phase), n_fft, hop)[:, : x.shape[-1]].numpy()
        q = audio_eval.quality_means(x.numpy(), y, sr)
        return f"chroma {q['chroma']:.3f}, log-mel {q['log_mel']:.3f}, SI-SNR {q['si_snr']:.1f} dB"

    for name, mag, ph in (("model magnitude + model phase", P.abs(), P.angle()), ("model magnitude + true phase", P.abs(), S.angle()),
                          ("true magnitude + model phase", S.abs(), P.angle())):
        print(f"2. {name}: {quality(mag, ph)}")

    def features(a):
        with torch.no_grad():
            z = m.encoder(a)
            feats = {"encoder latents (before the quantiser)": with_context(z),
                     "quantised, 1 codebook": with_context(m.quantizer(z, 1).z_q),
                     f"quantised, {m.n_codebooks} codebooks": with_context(m.quantizer(z, m.n_codebooks).z_q)}
            d = m.decoder
            h = d.final_norm(d.blocks(d.norm(d.up(d.inp(m.quantizer(z, m.n_codebooks).z_q)))))
            feats["decoder's last hidden layer"] = with_context(h)
            spec = torch.log(ae.stft_same(a, n_fft, hop).abs().clamp_min(1e-5))
            feats["log-spectrum"] = spec.permute(0, 2, 1).reshape(-1, spec.shape[1])
        return feats

    ftr, fte = features(x_train), features(x_probe)
    ytr, yte = frame_chroma(ae.stft_same(x_train, n_fft, hop).abs(), fb), frame_chroma(ae.stft_same(x_probe, n_fft, hop).abs(), fb)
    if c.hop == c.synthesis_hop:  # the probe pairs code frames with STFT frames one to one
        for name in ftr:
            print(f"3. probe of frame chroma from the {name}: cosine {ridge_cosine(ftr[name], ytr, fte[name], yte):.3f}")

    frames = torch.log(ae.stft_same(x_train, n_fft, hop).abs().clamp_min(1e-5)).permute(0, 2, 1).reshape(-1, c.n_bins)
    mu = frames.mean(0)
    _, _, v = torch.linalg.svd(frames - mu, full_matrices=False)
    lx = torch.log(S.abs().clamp_min(1e-5)).permute(0, 2, 1)
    for r in (64, 128, 256):
        lr_ = (lx - mu) @ v[:r].T @ v[:r] + mu
        print(f"4. best rank-{r} subspace of log-magnitudes, true phase: {quality(torch.exp(lr_).permute(0, 2, 1), S.angle())}")


if __name__ == "__main__":
    main()
