"""redline: lay bare how an article argues.

    >>> import redline
    >>> doc = redline.analyze(open("article.txt").read())
    >>> for span in doc.spans: print(span.technique, span.text)
"""

__version__ = "0.1.0"

import os as _os

# Idle OpenMP threads sleep instead of spinning. Why: the spaCy parse runs in a thread
# beside the PyTorch encoder (nlp.start_parse); with spinning, torch's idle worker burns
# the core the parse needs between two matrix products, and a full analysis on 2 cores
# ran 15-25% slower. Only a default: it must be set before torch loads, and an explicit
# OMP_WAIT_POLICY wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from redline.doc import Actor, Claim, Document, Mention, Relation, Role, TechniqueSpan  # noqa: E402
from redline.errors import InputError, ModelError, RedlineError  # noqa: E402
from redline.pipeline import Pipeline, analyze  # noqa: E402

__all__ = ["analyze", "Pipeline", "Document", "TechniqueSpan", "Actor", "Mention", "Role", "Relation", "Claim",
           "RedlineError", "InputError", "ModelError", "__version__"]
