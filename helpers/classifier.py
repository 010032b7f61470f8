"""The course's ears: a small CNN that hears instrument family, tempo band, mode and register in a clip.

Trained on the audio corpus (:mod:`helpers.audio_corpus`), it answers two questions about generated audio:
does it follow its prompt (the MusicGen notebook compares the predicted attributes with the caption's), and how
far is its distribution from real audio (its penultimate layer, :meth:`AttributeClassifier.embed`, is the
offline embedding of the evaluation notebook's Fréchet Audio Distance).

::

    audio (B, T) at 16 kHz
      -> LogMel: |STFT|^2 (Hann 1024, hop 512) -> Slaney mel (96 bands) -> log       (B, 1, M, F)
      -> BatchNorm on the input, then 4 blocks [conv 3x3 -> BN -> ReLU -> max-pool 2x2] (B, C, M/16, F/16)
      -> flatten channels x frequency, mean and max over time                        (B, 2 C M/16)
      -> Linear -> ReLU = embedding                                                  (B, D)
      -> one Linear head per attribute                                               (B, n_classes)
    audio -> chroma (STFT 4096, 12 pitch classes) -> mean over time -> for each of the 12 candidate tonics,
      rotate and score (major, minor) with a small MLP -> logsumexp over tonics  = the mode logits

A mode head on the CNN embedding stayed at chance level on held-out pieces (see ``data/checkpoints/README.md``):
mode is a relation between pitch classes, the same in every key. The chroma branch is built to be transposition
invariant, so it only has to learn what a major or a minor profile is. The embedding (FAD) is the CNN's.

The frequency axis is flattened, not pooled, so the heads know *where* energy lies (register, pitch); time is
pooled, so any clip length works. ``LogMel`` is the batched torch twin of
:func:`helpers.audio.log_mel_spectrogram` (same filterbank, same STFT; a test holds them equal).

Notebook: 05_musicgen.ipynb (does the audio follow the prompt?), 06_evaluation.ipynb (FAD embedding).
Reference: CNN audio tagging on log-mel spectrograms: Choi, Fazekas & Sandler, "Automatic tagging using deep
convolutional neural networks" (ISMIR 2016), Sec. 3; Kong et al., "PANNs" (2020), Sec. 2 (CNN blocks, mean+max
pooling over time); Fréchet Audio Distance: Kilgour et al. (Interspeech 2019), Sec. 2 (the embedding's role).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .audio_corpus import ATTRIBUTE_CLASSES
from .autoencoder import check_audio
from .checkpoints import check_sha256, load_weights, read_checkpoint
from .modes import evaluating
from .paths import SHIPPED_CHECKPOINTS, shipped_file
from .pitch import chroma_filterbank

CHECKPOINT = SHIPPED_CHECKPOINTS / "classifier.pt"


def _default_heads() -> tuple:
    return tuple((name, tuple(classes)) for name, classes in ATTRIBUTE_CLASSES.items())


@dataclass(frozen=True)
class ClassifierConfig:
    """Shape of the classifier (saved with its weights; loading refuses a checkpoint of another config)."""

    sr: int = 16000
    n_mels: int = 96
    n_fft: int = 1024
    hop_length: int = 512
    channels: tuple = (16, 32, 64, 128)
    embed_dim: int = 128
    dropout: float = 0.2
    chroma_fft: int = 4096  # STFT size of the chroma branch (0.26 s at 16 kHz: semitones apart down to ~100 Hz)
    chroma_hidden: int = 32
    heads: tuple = field(default_factory=_default_heads)  # ((attribute, (class, ...)), ...)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        d["heads"] = [[name, list(classes)] for name, classes in self.heads]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ClassifierConfig":
        d = dict(d)
        d["channels"] = tuple(d["channels"])
        d["heads"] = tuple((name, tuple(classes)) for name, classes in d["heads"])
        return cls(**d)

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.heads)


class LogMel(nn.Module):
    """Batched natural-log mel power spectrogram, equal to :func:`helpers.audio.log_mel_spectrogram` per clip.

    (B, T) float audio -> (B, n_mels, 1 + T // hop_length).
    """

    def __init__(self, sr: int, n_mels: int, n_fft: int, hop_length: int, floor: float = 1e-5):
        super().__init__()
        from .audio import mel_filterbank

        self.n_fft, self.hop_length, self.floor = n_fft, hop_length, floor
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        fb = torch.from_numpy(mel_filterbank(sr, n_fft, n_mels)).float()  # (M, F)
        self.register_buffer("fb", fb, persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(audio, n_fft=self.n_fft, hop_length=self.hop_length, window=self.window, center=True,
                          pad_mode="constant", return_complex=True)  # (B, F, frames)
        power = spec.real**2 + spec.imag**2
        return torch.log(torch.clamp(self.fb @ power, min=self.floor))  # (B, M, frames)


class Chroma(nn.Module):
    """Chromagram: STFT magnitude folded onto the 12 pitch classes (C = 0), 60 Hz - 4 kHz: the batched float32 torch
    twin of :func:`helpers.pitch.chroma` with ``kernel='triangle'``, ``power=1`` (a test holds them equal).

    (B, T) audio -> (B, 12, 1 + T // hop_length). Bin ``f`` adds to pitch class ``k`` with the triangular weight
    ``max(0, 1 - d)``, ``d`` its distance in semitones from the nearest pitch of class ``k``
    (:func:`helpers.pitch.chroma_filterbank`).

    Reference: Müller, *Fundamentals of Music Processing* (2nd ed. 2021), Sec. 3.1.2 (chroma features).
    """

    def __init__(self, sr: int, n_fft: int, hop_length: int, f_min: float = 60.0, f_max: float = 4000.0):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        weights = chroma_filterbank(sr, n_fft, f_min, f_max, kernel="triangle")  # (12, F)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("fb", torch.from_numpy(weights).float(), persistent=False)  # (12, F)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(audio, n_fft=self.n_fft, hop_length=self.hop_length, window=self.window, center=True,
                          pad_mode="constant", return_complex=True).abs()  # (B, F, frames)
        return self.fb @ spec  # (B, 12, frames)


class TranspositionInvariantMode(nn.Module):
    """Mode logits from a chroma profile, the same whatever the key: ``logsumexp_r g(roll(profile, -r))``.

    For each candidate tonic ``r`` the profile is rotated so that ``r`` comes first and a small MLP ``g`` scores
    (major, minor); the scores are pooled over the 12 candidates. Rotating the input chroma leaves the output
    unchanged (tested), so the branch cannot confuse a key with a mode. This is a learned
    Krumhansl-Schmuckler key finder (Krumhansl 1990, *Cognitive Foundations of Musical Pitch*, ch. 4).
    """

    def __init__(self, hidden: int, n_modes: int):
        super().__init__()
        self.g = nn.Sequential(nn.Linear(12, hidden), nn.ReLU(), nn.Linear(hidden, n_modes))
        idx = (torch.arange(12)[None, :] + torch.arange(12)[:, None]) % 12  # (12 tonics, 12): row r = r, r+1, ...
        self.register_buffer("rotations", idx, persistent=False)

    def forward(self, chroma: torch.Tensor) -> torch.Tensor:
        """(B, 12, frames) chroma -> (B, n_modes) logits."""
        profile = torch.log1p(chroma.mean(dim=2))  # (B, 12)
        # Standardised like the Pearson correlation of Krumhansl-Schmuckler: loudness and spread do not matter,
        # and the MLP sees inputs of unit scale (a profile divided by its sum, ~1/12 each, did not train).
        profile = (profile - profile.mean(dim=1, keepdim=True)) / profile.std(dim=1, keepdim=True).clamp_min(1e-6)
        rotated = profile[:, self.rotations]  # (B, 12 tonics, 12)
        return torch.logsumexp(self.g(rotated), dim=1)  # (B, n_modes)


class AttributeClassifier(nn.Module):
    """Log-mel CNN with one head per attribute; ``embed`` gives the penultimate layer (the FAD embedding)."""

    def __init__(self, config: ClassifierConfig | None = None):
        super().__init__()
        self.config = cfg = config or ClassifierConfig()
        if cfg.n_mels % 2 ** len(cfg.channels):
            raise ValueError(f"n_mels={cfg.n_mels} must be divisible by 2**{len(cfg.channels)} (one pooling per block)")
        self.logmel = LogMel(cfg.sr, cfg.n_mels, cfg.n_fft, cfg.hop_length)
        self.input_norm = nn.BatchNorm2d(1)
        blocks, c_in = [], 1
        for c in cfg.channels:
            blocks += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c
        self.blocks = nn.Sequential(*blocks)
        flat = cfg.channels[-1] * (cfg.n_mels // 2 ** len(cfg.channels))
        self.proj = nn.Linear(2 * flat, cfg.embed_dim)
        self.dropout = nn.Dropout(cfg.dropout)
        # Every attribute but mode is read from the embedding; mode from the chroma branch alone.
        self.heads = nn.ModuleDict({name: nn.Linear(cfg.embed_dim, len(classes))
                                    for name, classes in cfg.heads if name != "mode"})
        self.chroma = Chroma(cfg.sr, cfg.chroma_fft, cfg.hop_length)
        modes = dict(cfg.heads).get("mode")
        self.mode_from_chroma = TranspositionInvariantMode(cfg.chroma_hidden, len(modes)) if modes else None

    def embed_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, M, frames) log-mel -> (B, D) embedding (after the ReLU of the projection)."""
        x = self.input_norm(mel[:, None])  # (B, 1, M, F)
        x = self.blocks(x)  # (B, C, M/16, F/16)
        B, C, M, Fr = x.shape
        x = x.reshape(B, C * M, Fr)  # (B, C*M/16, F/16): frequency kept, time to be pooled
        x = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)  # (B, 2*C*M/16)
        return F.relu(self.proj(x))  # (B, D)

    def features(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) audio -> log-mel (B, M, frames) and chroma (B, 12, frames)."""
        return self.logmel(audio), self.chroma(audio)

    def forward_features(self, mel: torch.Tensor, chroma: torch.Tensor) -> dict[str, torch.Tensor]:
        """Log-mel (B, M, frames) and chroma (B, 12, frames) -> ``{attribute: logits (B, n_classes)}``.

        Instrument family, tempo band and register are read from the embedding; mode from the
        transposition-invariant chroma branch.
        """
        e = self.dropout(self.embed_mel(mel))
        out = {name: head(e) for name, head in self.heads.items()}
        if self.mode_from_chroma is not None:
            out["mode"] = self.mode_from_chroma(chroma)
        return {name: out[name] for name in self.config.attributes}

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, T) audio at ``config.sr`` -> ``{attribute: logits (B, n_classes)}``."""
        return self.forward_features(*self.features(audio))

    @torch.no_grad()
    def embed(self, audio, sr: int, batch_size: int = 64) -> torch.Tensor:
        """Embeddings (N, D) of N clips at ``sr`` Hz ((N, T), (N, 1, T) or (T,) array/tensor; two clips as
        (2, 1, T), since (2, T) is refused as stereo), in eval mode, batch by batch.

        Raises:
            ValueError: ``sr`` is not the rate the classifier was trained at; stereo, int16-scale, non-finite audio,
                or clips shorter than one STFT window (see :func:`helpers.autoencoder.check_audio`).
        """
        return self._batched(audio, sr, batch_size, lambda x: self.embed_mel(self.logmel(x)))

    @torch.no_grad()
    def predict(self, audio, sr: int, batch_size: int = 64) -> dict[str, list[str]]:
        """Predicted class names per attribute for N clips at ``sr`` Hz: ``{'family': ['organ', ...], ...}``."""
        names = self.config.attributes
        logits = self._batched(audio, sr, batch_size, lambda x: torch.cat([self(x)[n] for n in names], 1))
        out, start = {}, 0
        for name, classes in self.config.heads:
            idx = logits[:, start : start + len(classes)].argmax(1)
            out[name] = [classes[i] for i in idx.tolist()]
            start += len(classes)
        return out

    def _batched(self, audio, sr, batch_size, fn) -> torch.Tensor:
        # silence is allowed: a generated clip may be silent, and the classifier still has an answer for it
        x = check_audio(audio, self.config.sr, sr, min_length=1, allow_silence=True)  # (N, T) float32
        if x.shape[1] < self.config.n_fft:
            raise ValueError(f"audio must be (N, T) or (T,) with T >= {self.config.n_fft} samples (one STFT window), "
                             f"got {tuple(x.shape)}")
        device = next(self.parameters()).device
        with evaluating(self):
            outs = [fn(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
        return torch.cat(outs)


# --- training pieces ----------------------------------------------------------------------------------------
def classifier_loss(model: AttributeClassifier, batch: dict) -> tuple[torch.Tensor, dict]:
    """Sum over attributes of the cross-entropy; metrics: each attribute's loss and accuracy on the batch.

    ``batch`` holds ``'mel'`` (B, M, frames) and ``'chroma'`` (B, 12, frames) (precomputed features) or
    ``'audio'`` (B, T), and one (B,) class-index tensor per attribute.
    """
    net = model.module if hasattr(model, "module") else model
    logits = net.forward_features(batch["mel"], batch["chroma"]) if "mel" in batch else net(batch["audio"])
    total, metrics = 0.0, {}
    for name, lg in logits.items():
        loss = F.cross_entropy(lg, batch[name])
        total = total + loss
        metrics[f"{name}_loss"] = float(loss.detach())
        metrics[f"{name}_acc"] = float((lg.argmax(1) == batch[name]).float().mean())
    return total, metrics


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: row = true class, column = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(true), np.asarray(pred)), 1)
    return cm


@torch.no_grad()
def evaluate(model: AttributeClassifier, audio, sr: int, labels: dict[str, np.ndarray], batch_size: int = 64) -> dict:
    """Accuracy and confusion matrix per attribute on clips with known labels (e.g. the corpus's test split).

    Args:
        audio: (N, T) clips at ``sr`` Hz (``model.config.sr``).
        labels: ``{attribute: (N,) class indices}`` as from ``AudioCorpus.labels(split)``.

    Returns:
        ``{attribute: {'accuracy': float, 'confusion': (K, K) list of lists, 'classes': [...], 'n': N}}``.
    """
    return evaluate_predictions(model.predict(audio, sr, batch_size=batch_size), labels, model.config.heads)


def evaluate_predictions(pred: dict[str, list[str]], labels: dict[str, np.ndarray], heads) -> dict:
    """:func:`evaluate` from predictions already made (``model.predict``): accuracy and confusion per attribute."""
    out = {}
    for name, classes in heads:
        true = np.asarray(labels[name])
        p = np.array([classes.index(c) for c in pred[name]])
        cm = confusion_matrix(true, p, len(classes))
        out[name] = {"accuracy": float((true == p).mean()), "confusion": cm.tolist(), "classes": list(classes),
                     "n": int(len(true))}
    return out


def format_confusion(result: dict) -> str:
    """A confusion matrix of :func:`evaluate`'s result for one attribute as a text table."""
    classes, cm = result["classes"], np.asarray(result["confusion"])
    w = max(6, max(len(c) for c in classes) + 1)
    lines = [" " * w + "".join(f"{c[:w - 1]:>{w}}" for c in classes) + "   <- predicted"]
    for c, row in zip(classes, cm):
        lines.append(f"{c:<{w}}" + "".join(f"{v:>{w}d}" for v in row))
    return "\n".join(lines)


# --- the shipped checkpoint -------------------------------------------------------------------------------------
def load_classifier(path: str | Path | None = None, config: ClassifierConfig | None = None,
                    check_hash: bool = True) -> AttributeClassifier:
    """Load the shipped classifier (or another checkpoint), in eval mode, weights in float32.

    The checkpoint is read with ``torch.load(weights_only=True)``. When a ``.json`` lies beside it with a
    ``sha256`` field (the shipped one does), the file's SHA-256 must match it.

    Args:
        path: the ``.pt`` file (None: ``data/checkpoints/classifier.pt``).
        config: the config the caller expects; a checkpoint saved with another config is refused (ValueError
            naming both). None: build the model from the saved config.

    Raises:
        FileNotFoundError, ValueError (another config, a hash mismatch).
    """
    path = shipped_file("checkpoints", CHECKPOINT.name) if path is None else Path(path)
    ckpt = read_checkpoint(path)
    meta = path.with_suffix(".json")
    if check_hash and meta.is_file():
        expected = json.loads(meta.read_text()).get("sha256")
        if expected:
            check_sha256(path, expected, f"{meta} lists another hash: the file is damaged or was replaced")
    saved = ClassifierConfig.from_dict(ckpt["config"])
    model = AttributeClassifier(config or saved)
    load_weights(model, path, config=(config or saved).to_dict(), ckpt=ckpt)
    return model.eval()


# --- hearing through the decoders -------------------------------------------------------------------------------
def load_decoder(path):
    """The decoder of a checkpoint, in eval mode, by its saved config's kind: the ISTFT codec
    (:mod:`helpers.autoencoder`, ``AutoencoderConfig``), the codec (:mod:`helpers.codec`) or a VQ-VAE level
    (:mod:`helpers.vqvae`). Each has ``reconstruct(audio (B, T), sr, n_q)``."""
    from . import autoencoder, codec as codec_mod, vqvae

    kind = read_checkpoint(path)["config"].get("kind")
    if kind == "AutoencoderConfig":
        return autoencoder.load_checkpoint(path).eval()
    return (codec_mod.load_checkpoint(path) if kind == "CodecConfig" else vqvae.load_checkpoint(path)).eval()


def decoder_codebooks(path) -> int | None:
    """How many codebooks :func:`reconstructions` uses for a decoder: all of a codec's (``n_codebooks``; the ISTFT
    codec passes it explicitly), None for a VQ-VAE level (one codebook)."""
    config = read_checkpoint(path)["config"]
    return int(config["n_codebooks"]) if config.get("kind") == "AutoencoderConfig" else None


@torch.no_grad()
def reconstructions(path, audio: np.ndarray, sr: int, cache: Path | None, batch: int = 32,
                    verbose: bool = True) -> np.ndarray:
    """(N, T) clips at ``sr`` Hz -> their reconstructions (N, T) float32 by the decoder in ``path``
    (:func:`load_decoder`, all its codebooks), cached in the folder ``cache`` (None: no cache) under a name made of
    the checkpoint's SHA-256 and a hash of the clips, written atomically.

    What ``scripts/train_classifier.py --augment`` trains the judges on and ``scripts/measure_judges.py`` measures
    them on.
    """
    import hashlib
    import time

    from .checkpoints import atomic_write, file_sha256, load_file

    n_q = decoder_codebooks(path)
    content = hashlib.sha256(np.ascontiguousarray(audio[:: max(1, len(audio) // 16)]).tobytes()).hexdigest()[:12]
    tag = "" if n_q is None else f"_q{n_q}"
    name = f"recon_{Path(path).stem}_{file_sha256(path)[:12]}{tag}_{len(audio)}x{audio.shape[1]}_{content}.npy"
    if cache is not None and (Path(cache) / name).exists():
        return load_file(Path(cache) / name, "reconstruction cache", np.load)
    model = load_decoder(path)
    kw = {} if n_q is None else {"n_q": n_q}
    t0 = time.time()
    out = np.concatenate([model.reconstruct(torch.from_numpy(np.ascontiguousarray(audio[i : i + batch, None])), sr,
                                            **kw).cpu().numpy().reshape(-1, audio.shape[1])
                          for i in range(0, len(audio), batch)]).astype(np.float32)
    if verbose:
        print(f"reconstructed {len(audio)} clips with {Path(path).name} in {time.time() - t0:.0f} s", flush=True)
    if cache is not None:
        Path(cache).mkdir(parents=True, exist_ok=True)

        def write(tmp):
            with open(tmp, "wb") as f:  # a file object: np.save would add ".npy" to the temporary name
                np.save(f, out)

        atomic_write(Path(cache) / name, write)  # a killed run leaves no half-written cache
    return out
