"""A soft limiter: the last stage of both synthesisers, so that a loud mix is compressed, never clipped.

:func:`soft_limit` is the identity below a knee and bends larger magnitudes smoothly towards 1. The additive
synthesiser (:func:`helpers.audio.render`) and the SoundFont renderer (:func:`helpers.soundfont.render_soundfont`) both
end with it; it lives below both, so neither has to import the other for it (``audio`` dispatches to ``soundfont``,
never the reverse).

Notebook: 00_welcome.ipynb and 01_representations.ipynb (every rendered piece passes through it).
Reference: the rational soft-knee curve ``knee + (1 - knee) u / (1 + u)``; on why hard clipping sounds harsh (odd
harmonics): Zölzer (ed.), *DAFX: Digital Audio Effects* (2nd ed. 2011), ch. 4 (nonlinear processing).
"""
from __future__ import annotations

import numpy as np


def soft_limit(x: np.ndarray, knee: float = 0.8) -> np.ndarray:
    """Identity below ``knee``; above it, bend ``|x|`` smoothly towards 1.

    With ``u = (|x| - knee) / (1 - knee)`` the output is ``knee + (1 - knee) u / (1 + u)``: the curve and
    its slope are continuous at the knee and it approaches 1 only as ``|x|`` grows without bound (a mix
    12 times too loud still peaks at 0.997). A loud passage is compressed instead of clipped (hard
    clipping adds harsh odd harmonics).
    """
    x = np.asarray(x)
    a = np.abs(x)
    over = a > knee
    if not over.any():
        return x
    out = x.copy()
    u = (a[over] - knee) / (1.0 - knee)
    out[over] = np.sign(x[over]) * (knee + (1.0 - knee) * u / (1.0 + u))
    return out
