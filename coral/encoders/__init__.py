"""Encoders trained on weak labels, all behind one ``Encoder`` interface.

``make_encoder("coral", **params)`` builds one by name (``coral``, ``gnn``, ``lda``,
``word2vec``, ``bert``, ``context``); ``load_encoder(model_dir)`` loads any saved one. Encoder modules are imported
lazily, so importing this package does not pull in torch or gensim.
"""

from coral.encoders.base import ENCODERS, Encoder, encoder_class, is_encoder_dir, load_encoder, make_encoder

__all__ = ["ENCODERS", "Encoder", "encoder_class", "is_encoder_dir", "load_encoder", "make_encoder"]
