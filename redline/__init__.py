"""redline: lay bare how an article argues.

    >>> import redline
    >>> doc = redline.analyze(open("article.txt").read())
    >>> for span in doc.spans: print(span.technique, span.text)
"""

__version__ = "0.1.0"

from redline.doc import Actor, Claim, Document, Mention, Relation, Role, TechniqueSpan  # noqa: E402
from redline.errors import InputError, ModelError, RedlineError  # noqa: E402
from redline.pipeline import Pipeline, analyze  # noqa: E402

__all__ = ["analyze", "Pipeline", "Document", "TechniqueSpan", "Actor", "Mention", "Role", "Relation", "Claim",
           "RedlineError", "InputError", "ModelError", "__version__"]
