"""Training code, apart from the pipeline: one module per model.

* `technique` — the technique model (`redline train`);
* `claims` — the check-worthiness head (`redline train-claims`);
* `roles` — the portrayal network (`redline train-roles`);
* `attribution` — the cue lexicon and source scorer (`python -m redline.training.attribution`).

Each writes a model folder under `redline/models/` with its config.json; each model's
MODEL_CARD.md gives the command, the data and the measured scores. Nothing here is
imported when redline analyses text.
"""
