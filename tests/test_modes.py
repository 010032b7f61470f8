"""helpers.modes.evaluating: the one way every module switches a model to eval mode for a while, exception-safe."""
from __future__ import annotations

import pytest
import torch

from helpers import classifier, codec, training, transformer, vqvae
from helpers.modes import evaluating


class Boom(RuntimeError):
    pass


def test_evaluating_restores_either_mode_even_after_an_error():
    for start in (True, False):
        model = torch.nn.Dropout(0.5).train(start)
        with pytest.raises(Boom):
            with evaluating(model) as inside:
                assert inside is model and not model.training
                raise Boom()
        assert model.training is start


def _explode(*args, **kwargs):
    raise Boom()


def _cases():
    """(name, model, call that runs in eval mode, attribute to break so that the call fails half-way)."""
    torch.manual_seed(0)
    vq, cd = vqvae.VQVAE(vqvae.VQVAEConfig.tiny()), codec.Codec(codec.CodecConfig.tiny())
    clf = classifier.AttributeClassifier(classifier.ClassifierConfig(n_mels=32, channels=(4, 8), embed_dim=16))
    lm = transformer.MusicTransformer(transformer.MusicTransformerConfig.tiny())
    audio = torch.randn(2, 1, 64) * 0.1
    return [
        ("VQVAE.encode", vq, lambda: vq.encode(audio, vq.config.sample_rate), (vq, "encoder")),
        ("VQVAE.decode", vq, lambda: vq.decode(torch.zeros(1, 4, dtype=torch.long)), (vq, "decoder")),
        ("Codec.encode", cd, lambda: cd.encode(audio, cd.config.sample_rate), (cd, "encoder")),
        ("Codec.decode", cd, lambda: cd.decode(torch.zeros(1, 1, 4, dtype=torch.long)), (cd, "decoder")),
        ("AttributeClassifier.embed", clf, lambda: clf.embed(torch.randn(1, 4000) * 0.1, 16000), (clf, "proj")),
        ("MusicTransformer.attention_maps", lm, lambda: lm.attention_maps(torch.zeros(1, 4, dtype=torch.long)),
         (lm, "ln_f")),
        ("training.evaluate", lm, lambda: training.evaluate(lm, lambda m, b: m.ln_f(b).sum(), [torch.zeros(16)],
                                                            torch.device("cpu")), (lm, "ln_f")),
    ]


@pytest.mark.parametrize("case", range(7))
def test_every_eval_mode_call_leaves_the_model_in_training_mode_after_an_error(case):
    """The seven hand-written copies of the mode dance left the model in eval mode when the call failed."""
    name, model, call, (owner, attr) = _cases()[case]
    model.train()
    call()  # works, and restores the mode
    assert model.training, name
    setattr(owner, attr, torch.nn.Module())  # a sub-module that cannot run: the call fails half-way
    getattr(owner, attr).forward = _explode
    with pytest.raises(Boom):
        call()
    assert model.training, f"{name} left the model in eval mode after an error"


def test_sampling_and_scoring_leave_the_model_in_the_mode_they_found_it_in():
    import torch

    from helpers import jukebox, musicgen
    from helpers.transformer import MusicTransformer, MusicTransformerConfig, generate, sequence_nll

    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    torch.manual_seed(0)
    m = MusicTransformer(MusicTransformerConfig.tiny(vocab_size=9)).train()
    generate(m, torch.tensor([[1, 2]]), 5, g())
    sequence_nll(m, [1, 2, 3, 4])
    assert m.training  # both ran in eval mode and handed the model back in training mode
    with pytest.raises(ValueError):
        generate(m, torch.tensor([[1, 2]]), 5, g(), x_add=torch.zeros(1, 2, 16))  # x_add too short
    assert m.training  # ... even after an error
    lm = MusicTransformer(musicgen.lm_config(n_codebooks=2, codebook_size=8, max_frames=6, d_text=4, n_layer=1,
                                             n_head=2, d_model=16, d_ff=32)).train()
    musicgen.sample_codes(lm, 4, g(), batch_size=1)
    assert lm.training
    up = jukebox.Upsampler(MusicTransformerConfig.tiny(vocab_size=9, max_len=8), 5, 2, seed=0).train()
    up.sample(torch.zeros(1, 3, dtype=torch.long), g())
    assert up.training
    m.eval()
    generate(m, torch.tensor([[1, 2]]), 3, g())
    assert not m.training  # an eval-mode model stays in eval mode
