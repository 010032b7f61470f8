"""Helpers for the AI music generation course: one module per concept.

- ``helpers.paths``           where the shipped data and the cache are (``$MUSIC_COURSE_DATA``, ``$XDG_CACHE_HOME``)
- ``helpers.data``            notes, pieces, the shipped corpora
- ``helpers.midi``            MIDI files in and out (through pretty_midi), your own MIDI folder
- ``helpers.audio``           a small additive synthesiser, playback, WAV, log-mel spectrograms
- ``helpers.soundfont``       General MIDI SoundFont rendering (TinySoundFont, pip-only)
- ``helpers.limiter``         the soft limiter both synthesisers end with
- ``helpers.pitch``           chroma, pitch-class histograms, key finding (one definition each)
- ``helpers.audio_corpus``    clips rendered from the corpora, with attributes and captions, cached outside the repo
- ``helpers.other_music``     music outside the corpus (random melodies, chords, O'Neill's) played like the corpus
- ``helpers.classifier``      the course's ears: instrument family, tempo, mode, register; the FAD embedding
- ``helpers.plots``           piano rolls, spectrograms, waveforms
- ``helpers.diagrams``        drawn diagrams of the pipelines (Jukebox's hierarchy and top-down sampling, MusicGen)
- ``helpers.representations`` piano roll, performance events, REMI, the chorale grid
- ``helpers.markov``          smoothed n-gram melody models
- ``helpers.attention``       relative self-attention (plain and skewed), plain and SDPA softmax attention
- ``helpers.transformer``     the decoder (K streams, cross-attention, KV cache, sampling, guidance)
- ``helpers.chorale``         the chorale grid's data, NLL tables, baselines
- ``helpers.chorale_stats``   what a chorale sounds like in numbers: parallels, crossings, ranges, cadences, copying
- ``helpers.training``        one training loop for every model (progress bar, validation, resume files)
- ``helpers.checkpoints``     weights-only checkpoints, file hashes and the one integrity check, atomic writes
- ``helpers.modes``           ``evaluating(model)``: eval mode for a while, restored even after an error
- ``helpers.autoencoder``     the course's audio autoencoder: STFT encoder, residual VQ, iSTFT decoder, losses, discriminator
- ``helpers.vqvae``           Jukebox-style VQ-VAE on raw audio (time-domain): EMA codebook, restarts, levels
- ``helpers.jukebox``         Jukebox priors: a label-conditioned top prior, an upsampler (label optional), top-down sampling
- ``helpers.codec``           EnCodec-style time-domain codec with residual vector quantisation
- ``helpers.patterns``        codebook interleaving patterns (flatten, parallel, delay, VALL-E)
- ``helpers.text_encoder``    frozen pretrained text encoders (all-MiniLM-L6-v2 from a pinned wheel, offline, hash-checked)
- ``helpers.musicgen``        MusicGen: text-conditioned LM over the delayed codec codes, guided sampling, measured control
- ``helpers.audio_quality``   multi-resolution STFT, SI-SNR, log-mel distance, chroma similarity
- ``helpers.fad``             Fréchet Audio Distance (done right), FAD-inf, FAD's bootstrap interval
- ``helpers.symbolic_metrics`` symbolic metrics on a piece (MusPy's and the lesson's), distribution distances
- ``helpers.memorisation``    copied n-grams: how much of a generated sequence is in the training set
- ``helpers.intervals``       bootstrap and Wilson intervals, rank correlation between metrics
- ``helpers.audio_eval``      audio and symbolic generators (and the autoencoders) scored on one scale
- ``helpers.listening``       a listening test whose answers survive a crash
- ``helpers.export``          save a piece as MIDI and WAV with download links
- ``helpers.exercises``       the lesson's three exercises: reference solutions and the checks that run your answer
- ``helpers.solutions``       hidden reference solutions, shown on request (``show_solution``)
- ``helpers.widgets``         knobs for the notebooks (players, sliders, caption boxes)
- ``helpers.landscape``       the landscape of music generation systems (notebook 00)
- ``helpers.review``          solutions of the previous lesson's exercises

Modules are imported on demand (``from helpers import audio``) so that ``import helpers`` stays fast.
"""
__version__ = "0.1.0"
